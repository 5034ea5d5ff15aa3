#!/usr/bin/env bash
# lab.sh: `make lab`. Prepares the host (packages, dockerd, runc wrapper) and
# builds the hermetic kind lab into ${RWXCHAOS_CACHE:-/var/cache/rwxchaos}.
# Extra arguments go to the builder (e.g. -force img-node, -only etcd).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
export RWXCHAOS_CACHE=${RWXCHAOS_CACHE:-/var/cache/rwxchaos}
export PATH=$PATH:/usr/local/go/bin
start=$(date +%s)
echo "$(date -u +%H:%M:%S) lab: cache $RWXCHAOS_CACHE" >&2
"$here/host.sh"
mkdir -p "$RWXCHAOS_CACHE/go-build"
cd "$repo"
GOCACHE="$RWXCHAOS_CACHE/go-build" go build -o "$RWXCHAOS_CACHE/lab-build" ./hack/lab/build
"$RWXCHAOS_CACHE/lab-build" -cache "$RWXCHAOS_CACHE" "$@"
echo "$(date -u +%H:%M:%S) lab: ready in $(( $(date +%s) - start ))s; manifest $RWXCHAOS_CACHE/lab.json" >&2
