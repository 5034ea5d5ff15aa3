#!/usr/bin/env bash
# crictl (not packaged by Debian) from sigs.k8s.io/cri-tools. The checksum
# database does not know this version, so go.sum is seeded with pinned hashes.
. "$HERE/steps/lib.sh"
m=sigs.k8s.io/cri-tools
scratch_dir=$WORK/m
mkdir -p "$scratch_dir"
sums="$m $CRI_TOOLS_VERSION $CRI_TOOLS_SUM
$m $CRI_TOOLS_VERSION/go.mod $CRI_TOOLS_GOMOD_SUM
"
# Download with the pinned sums in place so verification uses them.
rm -rf "$scratch_dir" && mkdir -p "$scratch_dir" && cd "$scratch_dir"
printf 'module rwxchaos.local/scratch\n\ngo 1.24\n\nrequire %s %s\n' "$m" "$CRI_TOOLS_VERSION" > go.mod
# cri-tools pins k8s.io/* release candidates the checksum database does not
# serve; use the released staging versions of the same minor instead.
printf '%s' "$sums" > go.sum
gomod=$(go mod download -json "$m" | jq -r .GoMod)
for dep in $(grep -o 'k8s\.io/[a-z-]* v[0-9.]*-rc\.[0-9]*' "$gomod" | awk '{print $1}' | sort -u); do
  echo "replace $dep => $dep $STAGING_VERSION" >> go.mod
done
GOFLAGS=-mod=mod go list -deps "$m/cmd/crictl" >/dev/null
grep -qF "$m $CRI_TOOLS_VERSION $CRI_TOOLS_SUM" go.sum
CGO_ENABLED=0 go build -p 2 -trimpath -ldflags "-s -w -X $m/pkg/version.Version=$CRI_TOOLS_VERSION" -o "$OUT/crictl" "$m/cmd/crictl"
"$OUT/crictl" --version
