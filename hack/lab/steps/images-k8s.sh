#!/usr/bin/env bash
# The images kubeadm runs (control plane, kube-proxy, etcd, coredns, pause),
# tagged exactly as this kubeadm expects, saved as one archive for containerd.
. "$HERE/steps/lib.sh"
path='ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
bins=$DEP_K8S_BINS
reg=registry.k8s.io
tags=()
one() { # one BINARY SRC IMAGE [--change ...]: a rootfs with a single static binary
  local bin=$1 src=$2 image=$3; shift 3
  local root=$WORK/$bin
  mkdir -p "$root/usr/local/bin" "$root/tmp" "$root/etc"
  chmod 1777 "$root/tmp"
  install -m 0755 "$src" "$root/usr/local/bin/$bin"
  printf 'root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/:/sbin/nologin\n' > "$root/etc/passwd"
  import_dir "$root" "$image" --change "$path" "$@"
  tags+=("$image")
}
for c in kube-apiserver kube-controller-manager kube-scheduler; do
  one "$c" "$bins/$c" "$reg/$c:$K8S_VERSION"
done
one etcd "$DEP_ETCD/etcd" "$reg/etcd:$ETCD_IMAGE_TAG"
one coredns "$DEP_COREDNS/coredns" "$reg/coredns/coredns:$COREDNS_VERSION" --change 'ENTRYPOINT ["/usr/local/bin/coredns"]'
one pause "$DEP_PAUSE/pause" "$reg/pause:$PAUSE_IMAGE_TAG" --change 'ENTRYPOINT ["/usr/local/bin/pause"]'
# kube-proxy programs iptables: Debian's netfilter tools underneath.
root=$WORK/kube-proxy
mkdir -p "$root"
tar -C "$root" -xf "$DEP_ROOTFS_SLIM/rootfs.tar"
install -m 0755 "$bins/kube-proxy" "$root/usr/local/bin/kube-proxy"
import_dir "$root" "$reg/kube-proxy:$K8S_VERSION" --change "$path"
tags+=("$reg/kube-proxy:$K8S_VERSION")

# Refuse to ship a set that differs from what kubeadm will ask for.
want=$("$bins/kubeadm" config images list --kubernetes-version "$K8S_VERSION" 2>/dev/null | sort)
got=$(printf '%s\n' "${tags[@]}" | sort)
if [ "$want" != "$got" ]; then
  echo "image set mismatch; kubeadm wants:"; echo "$want"; echo "built:"; echo "$got"; exit 1
fi
docker save -o "$OUT/images.tar" "${tags[@]}"
printf '%s\n' "${tags[@]}" > "$OUT/images.txt"
# The host daemon does not need these tags; the archive is the output.
docker rmi "${tags[@]}" >/dev/null
