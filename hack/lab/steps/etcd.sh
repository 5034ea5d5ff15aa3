#!/usr/bin/env bash
# etcd server from the proxy (the server module's own go.mod has replaces, so
# it cannot be `go install`ed; a scratch module requiring it can build it).
. "$HERE/steps/lib.sh"
scratch_module "$WORK/m" go.etcd.io/etcd/server/v3 "$ETCD_VERSION"
cd "$WORK/m"
GOFLAGS=-mod=mod go list -deps go.etcd.io/etcd/server/v3 >/dev/null
CGO_ENABLED=0 go build -p 2 -trimpath -ldflags "-s -w" -o "$OUT/etcd" go.etcd.io/etcd/server/v3
"$OUT/etcd" --version
