#!/usr/bin/env bash
# Debian rootfs of a kind node: the packages kind's base image installs, with
# Debian's containerd, runc and CNI plugins instead of upstream builds.
. "$HERE/steps/lib.sh"
debootstrap_tar systemd systemd-sysv dbus conntrack iptables nftables iproute2 ethtool util-linux mount kmod \
  libseccomp2 pigz nfs-common e2fsprogs bash ca-certificates curl jq procps \
  containerd runc containernetworking-plugins socat ebtables
