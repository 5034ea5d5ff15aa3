#!/usr/bin/env bash
# CoreDNS from the proxy with its default plugin set.
. "$HERE/steps/lib.sh"
scratch_module "$WORK/m" github.com/coredns/coredns "$COREDNS_VERSION"
cd "$WORK/m"
GOFLAGS=-mod=mod go list -deps github.com/coredns/coredns >/dev/null
CGO_ENABLED=0 go build -p 2 -trimpath -ldflags "-s -w" -o "$OUT/coredns" github.com/coredns/coredns
"$OUT/coredns" -version
# Every plugin of kubeadm's default Corefile must be linked in.
have=$("$OUT/coredns" -plugins)
for p in errors health ready kubernetes prometheus forward cache loop reload loadbalance; do
  grep -qxE "\s*(dns\.)?$p" <<<"$have" || { echo "plugin $p missing:"; echo "$have"; exit 1; }
done
