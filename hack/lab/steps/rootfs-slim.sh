#!/usr/bin/env bash
# Small Debian rootfs for images that need netfilter tools (kube-proxy, the
# CNI agent) and the source of the static busybox.
. "$HERE/steps/lib.sh"
debootstrap_tar iptables nftables conntrack iproute2 busybox-static ca-certificates
