#!/usr/bin/env bash
# The kind node image, assembled offline: the node rootfs, kind's base files
# (taken from the kind module at build time), Kubernetes binaries, crictl,
# our CNI manifest, and every image kubeadm and the lab need preloaded into
# containerd's k8s.io namespace.
. "$HERE/steps/lib.sh"
root=$WORK/root
mkdir -p "$root"
tar -C "$root" -xf "$DEP_ROOTFS_NODE/rootfs.tar"

# kind's base files, with the modes kind's base Dockerfile gives them.
kind_dir=$(cd "$WORK" && go mod download -json "sigs.k8s.io/kind@$KIND_VERSION" | jq -r .Dir)
files=$kind_dir/images/base/files
[ -f "$files/usr/local/bin/entrypoint" ] || { echo "kind base files not found in $files"; exit 1; }
cp -rT "$files" "$root/"
find "$root/kind" "$root/etc/containerd" "$root/etc/systemd/system" "$root/etc/sysctl.d" \
  "$root/etc/default/kubelet" "$root/etc/crictl.yaml" "$root/LICENSES" -type f -exec chmod 0644 {} +
chmod 0755 "$root/kind" "$root/kind/bin" "$root"/kind/bin/* "$root"/usr/local/bin/*

# Debian ships containerd in /usr/bin; kind's unit starts /usr/local/bin/containerd.
ln -sf /usr/bin/containerd "$root/usr/local/bin/containerd"
install -m 0755 "$DEP_CRICTL/crictl" "$root/usr/local/bin/crictl"
for b in kubelet kubeadm kubectl; do install -m 0755 "$DEP_K8S_BINS/$b" "$root/usr/bin/$b"; done
mkdir -p "$root/opt/cni/bin"
cp -a "$root"/usr/lib/cni/. "$root/opt/cni/bin/"

# containerd: the lab's pause tag; restrict_oom_score_adj because writing
# oom_score_adj below the node's own value is refused on these hosts.
cfg=$root/etc/containerd/config.toml
sed -i -e "s#sandbox_image = .*#sandbox_image = \"registry.k8s.io/pause:$PAUSE_IMAGE_TAG\"#" \
  -e 's#restrict_oom_score_adj = false#restrict_oom_score_adj = true#' "$cfg"
grep -q "pause:$PAUSE_IMAGE_TAG" "$cfg" && grep -q 'restrict_oom_score_adj = true' "$cfg"

# The same systemd trimming and units kind's base image does.
mount_chroot() { for d in proc sys dev; do mount --bind "/$d" "$root/$d"; done; }
umount_chroot() { for d in dev sys proc; do umount -l "$root/$d" 2>/dev/null || true; done; }
trap umount_chroot EXIT
mount_chroot
chroot "$root" /bin/bash -euc '
  find /lib/systemd/system/sysinit.target.wants/ -name "systemd-tmpfiles-setup.service" -delete
  rm -f /lib/systemd/system/multi-user.target.wants/* /etc/systemd/system/*.wants/* \
    /lib/systemd/system/local-fs.target.wants/* /lib/systemd/system/sockets.target.wants/*udev* \
    /lib/systemd/system/sockets.target.wants/*initctl* /lib/systemd/system/basic.target.wants/*
  echo "ReadKMsg=no" >> /etc/systemd/journald.conf
  ln -sf /usr/lib/systemd/systemd /sbin/init
  systemctl enable kubelet.service containerd.service undo-mount-hacks.service
  systemctl mask systemd-binfmt.service
  mkdir -p /etc/kubernetes/manifests
  ctr oci spec \
    | jq ".hooks.createContainer[.hooks.createContainer| length] |= . + {\"path\": \"/kind/bin/mount-product-files.sh\"}" \
    | jq "del(.process.rlimits)" > /etc/containerd/cri-base.json
  containerd --version; runc --version | head -1; kubelet --version; crictl --version
'
umount_chroot
trap - EXIT
rm -f "$root/etc/machine-id" && touch "$root/etc/machine-id"

echo "$K8S_VERSION" > "$root/kind/version"
mkdir -p "$root/kind/manifests"
sed "s#__CNI_IMAGE__#$IMAGE_IMG_CNI#" "$HERE/node/default-cni.yaml" > "$root/kind/manifests/default-cni.yaml"
grep -q "$IMAGE_IMG_CNI" "$root/kind/manifests/default-cni.yaml"

# (docker import/commit cannot set STOPSIGNAL; a one-line build adds it last.)
changes=(--change 'ENV container=docker'
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
  --change 'ENTRYPOINT ["/usr/local/bin/entrypoint", "/sbin/init"]' --change 'CMD []')
base=$IMAGE-base
import_dir "$root" "$base" "${changes[@]}"
rm -rf "$root"

# Preload images the way kind's node-image build does: run the image with a
# plain containerd and import the archives (unpacked later, per node).
cid=rwxchaos-nodebuild-$$
cleanup() { docker rm -f "$cid" >/dev/null 2>&1 || true; docker rmi "$base" "$IMAGE-committed" >/dev/null 2>&1 || true; }
trap cleanup EXIT
docker run -d --name "$cid" --privileged --network none --entrypoint sleep "$base" infinity >/dev/null
docker exec "$cid" bash -c 'nohup containerd >/tmp/containerd.log 2>&1 &'
for _ in $(seq 1 30); do docker exec "$cid" ctr version >/dev/null 2>&1 && break; sleep 1; done
for tarball in "$DEP_IMAGES_K8S/images.tar" "$DEP_IMG_CNI/image.tar" "$DEP_IMG_TOOLBOX/image.tar"; do
  docker exec -i "$cid" ctr --namespace=k8s.io images import --label=io.cri-containerd.pinned=pinned \
    --all-platforms --no-unpack --digests - < "$tarball"
done
docker exec "$cid" ctr --namespace=k8s.io images list -q | sort | tee "$OUT/images.txt"
for want in $(cat "$DEP_IMAGES_K8S/images.txt") "docker.io/$IMAGE_IMG_CNI" "docker.io/$IMAGE_IMG_TOOLBOX"; do
  grep -qxF "$want" "$OUT/images.txt" || { echo "image $want missing from the node's containerd"; exit 1; }
done
# PID 1 here is sleep, which never reaps: a stopped containerd stays a zombie.
docker exec "$cid" bash -c 'pkill -x containerd; for i in $(seq 1 20); do ps -o stat= -C containerd | grep -qv Z || exit 0; sleep 0.5; done; echo containerd did not stop; exit 1'
docker exec "$cid" rm -rf /tmp/containerd.log /run/containerd
docker commit "${changes[@]}" "$cid" "$IMAGE-committed" >/dev/null
# systemd as PID 1 stops cleanly on SIGRTMIN+3 (docker stop / restart of a node).
printf 'FROM %s\nSTOPSIGNAL SIGRTMIN+3\n' "$IMAGE-committed" | DOCKER_BUILDKIT=0 docker build -q -t "$IMAGE" - >/dev/null
[ "$(docker inspect --format '{{.Config.StopSignal}}' "$IMAGE")" = "SIGRTMIN+3" ]
echo "$IMAGE" > "$OUT/image"
