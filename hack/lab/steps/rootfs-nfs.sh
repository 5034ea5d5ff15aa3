#!/usr/bin/env bash
# Debian rootfs with the userspace NFS server (nfs-ganesha, VFS backend) and
# the userspace NFS client tools (libnfs-utils) for checks.
. "$HERE/steps/lib.sh"
debootstrap_tar nfs-ganesha nfs-ganesha-vfs libnfs-utils busybox-static procps
