#!/usr/bin/env bash
# Builds the Kubernetes binaries from the Go module proxy: a scratch module
# requires k8s.io/kubernetes and replaces every staging module (which the
# kubernetes go.mod points at ./staging) with its published version.
# Env: OUT, WORK, K8S_VERSION, STAGING_VERSION.
set -euo pipefail
mod=$WORK/k8s
rm -rf "$mod" && mkdir -p "$mod" "$OUT"
gomod=$(go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | jq -r .GoMod)
{
  echo "module rwxchaos.local/k8s-build"
  echo
  grep -m1 '^go ' "$gomod"
  grep '^godebug ' "$gomod" || true
  echo
  echo "require k8s.io/kubernetes $K8S_VERSION"
  echo
  echo "replace ("
  sed -n 's#^\s*\(k8s.io/[a-z0-9-]*\) => ./staging/src/k8s.io/.*#\t\1 => \1 '"$STAGING_VERSION"'#p' "$gomod"
  echo ")"
} > "$mod/go.mod"
cd "$mod"
# Resolve the full graph (and go.sum) once; builds below then read only.
cmds=(kubelet kubeadm kubectl kube-apiserver kube-controller-manager kube-scheduler kube-proxy)
pkgs=(); for c in "${cmds[@]}"; do pkgs+=("k8s.io/kubernetes/cmd/$c"); done
GOFLAGS=-mod=mod go list -deps "${pkgs[@]}" >/dev/null
major=${K8S_VERSION#v}; major=${major%%.*}
minor=${K8S_VERSION#v*.}; minor=${minor%%.*}
ldflags="-s -w -X k8s.io/component-base/version.gitVersion=$K8S_VERSION -X k8s.io/component-base/version.gitMajor=$major -X k8s.io/component-base/version.gitMinor=$minor -X k8s.io/component-base/version.gitTreeState=clean -X k8s.io/client-go/pkg/version.gitVersion=$K8S_VERSION -X k8s.io/client-go/pkg/version.gitMajor=$major -X k8s.io/client-go/pkg/version.gitMinor=$minor"
# One binary at a time, 2 compile jobs: kubelet alone peaks at several GB.
for c in "${cmds[@]}"; do
  start=$(date +%s)
  CGO_ENABLED=0 go build -p 2 -trimpath -ldflags "$ldflags" -o "$OUT/$c" "k8s.io/kubernetes/cmd/$c"
  echo "built $c in $(( $(date +%s) - start ))s"
done
"$OUT/kubeadm" version -o short
