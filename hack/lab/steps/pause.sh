#!/usr/bin/env bash
# The pause binary from the C source inside the kubernetes module zip.
. "$HERE/steps/lib.sh"
dir=$(cd "$WORK" && go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | jq -r .Dir)
gcc -Os -static -Wall -Werror -DVERSION="v$PAUSE_IMAGE_TAG" -o "$OUT/pause" "$dir/build/pause/linux/pause.c"
strip "$OUT/pause"
"$OUT/pause" -v
