#!/bin/sh
# Entrypoint of the rwxchaos/nfs-ganesha image. Env: NFS_PORT (2049),
# BIND_ADDR (0.0.0.0), EXPORT_DIR (/export, served as nfs://HOST/export).
# Run with --cap-add DAC_READ_SEARCH --security-opt seccomp=unconfined and an
# EXPORT_DIR that is not overlayfs (the image declares VOLUME /export): the
# VFS backend works on file handles.
set -eu
: "${NFS_PORT:=2049}" "${BIND_ADDR:=0.0.0.0}" "${EXPORT_DIR:=/export}"
mkdir -p "$EXPORT_DIR" /var/run/ganesha /var/lib/nfs/ganesha
sed -e "s#@NFS_PORT@#$NFS_PORT#" -e "s#@BIND_ADDR@#$BIND_ADDR#" -e "s#@EXPORT_DIR@#$EXPORT_DIR#" \
  /etc/ganesha/rwxchaos.conf.in > /etc/ganesha/ganesha.conf
exec ganesha.nfsd -F -f /etc/ganesha/ganesha.conf -L /dev/stdout -p /var/run/ganesha/ganesha.pid
