#!/usr/bin/env bash
# Test dependencies beyond Go that are not part of the lab: Debian's
# chromium renders report.html for the screenshot test; gcc for -race.
set -euo pipefail
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
# fonts-liberation is only a Recommends of chromium: name it.
[ -d /usr/share/fonts/truetype/liberation ] || need+=(fonts-liberation)
[ -d /usr/share/fonts/truetype/dejavu ] || need+=(fonts-dejavu-core)
command -v make >/dev/null 2>&1 || need+=(make)
# make test runs under the race detector, which needs cgo and a C compiler.
command -v gcc >/dev/null 2>&1 || need+=(gcc libc6-dev)
# The NFS server fixture is proven at the protocol level with a userspace
# server and client (the kernel here has no NFS).
command -v ganesha.nfsd >/dev/null 2>&1 || need+=(nfs-ganesha nfs-ganesha-vfs)
command -v nfs-ls >/dev/null 2>&1 || need+=(libnfs-utils)
if [ ${#need[@]} -gt 0 ]; then
  echo "ci-deps: installing ${need[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
# goreleaser validates .goreleaser.yaml (`goreleaser check` in
# hack/release's test). It builds from the Go module proxy (~4 min cold on
# 2 cores, cached afterwards). Best effort: without it the test still checks
# the config structurally.
if ! command -v goreleaser >/dev/null 2>&1; then
  echo "ci-deps: installing goreleaser v2.17.0 from the Go module proxy" >&2
  go install github.com/goreleaser/goreleaser/v2@v2.17.0 ||
    echo "ci-deps: goreleaser could not be installed; \`goreleaser check\` will be skipped" >&2
fi
