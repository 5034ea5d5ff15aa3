#!/usr/bin/env bash
# rwxchaos/cni-agent: the route agent on the slim rootfs (it calls `ip`).
. "$HERE/steps/lib.sh"
root=$WORK/root
mkdir -p "$root"
tar -C "$root" -xf "$DEP_ROOTFS_SLIM/rootfs.tar"
install -m 0755 "$DEP_CNI_AGENT/rwxchaos-cni" "$root/usr/local/bin/rwxchaos-cni"
import_dir "$root" "$IMAGE" --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENTRYPOINT ["/usr/local/bin/rwxchaos-cni"]'
docker run --rm --network none --entrypoint ip "$IMAGE" -V
docker save -o "$OUT/image.tar" "$IMAGE"
