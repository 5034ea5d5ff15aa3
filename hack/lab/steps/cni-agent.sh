#!/usr/bin/env bash
# The route agent (our kindnetd stand-in), static.
. "$HERE/steps/lib.sh"
cd "$REPO"
CGO_ENABLED=0 go build -p 2 -trimpath -ldflags "-s -w" -o "$OUT/rwxchaos-cni" ./hack/lab/cni
