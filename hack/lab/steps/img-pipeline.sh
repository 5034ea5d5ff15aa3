#!/usr/bin/env bash
# rwxchaos/edi-pipeline: the pipeline binary (static) on the busybox toolbox,
# so pods running it also have a shell.
. "$HERE/steps/lib.sh"
root=$WORK/root
busybox_root "$root"
mkdir -p "$root/usr/local/bin"
(cd "$REPO" && CGO_ENABLED=0 go build -p 2 -trimpath -ldflags "-s -w" -o "$root/usr/local/bin/edi-pipeline" ./cmd/edi-pipeline)
import_dir "$root" "$IMAGE" --change 'ENV PATH=/usr/local/bin:/bin' --change 'CMD ["/usr/local/bin/edi-pipeline"]'
docker save -o "$OUT/image.tar" "$IMAGE"
