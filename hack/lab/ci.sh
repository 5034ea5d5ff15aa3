#!/usr/bin/env bash
# ci.sh: what CI runs before the tests. Builds (or reuses) the lab, fails if
# it is not usable, and removes rwxchaos kind clusters left by earlier runs.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
"$here/lab.sh"
cache=${RWXCHAOS_CACHE:-/var/cache/rwxchaos}
node=$(jq -r '.images.node' "$cache/lab.json")
docker image inspect "$node" >/dev/null
# Leftover clusters from an interrupted run hold RAM and ports. Only under
# CI: on a shared dev machine they may be someone's live cluster.
if [ "${CI:-}" = true ]; then
  for c in $(docker ps -a --filter label=io.x-k8s.kind.cluster --format '{{.Label "io.x-k8s.kind.cluster"}}' | sort -u | grep '^rwxchaos-' || true); do
    echo "ci: removing leftover kind cluster $c" >&2
    docker rm -f $(docker ps -aq --filter "label=io.x-k8s.kind.cluster=$c") >/dev/null
  done
  # And the NFS servers that ran beside them.
  for s in $(docker ps -aq --filter label=rwxchaos.dev/nfs-server); do
    echo "ci: removing leftover nfs-ganesha container $s" >&2
    docker rm -f "$s" >/dev/null
  done
fi
echo "ci: lab ready: $node" >&2
