#!/usr/bin/env bash
# Installs the lab's Chaos Mesh (built by build.sh) into a cluster whose
# nodes already have its images (kind: load rwxchaos/chaos-mesh:* and
# rwxchaos/chaos-daemon:* first; `install.sh --kind NAME` does it with the
# kind binary when one is on PATH).
#   KUBECONFIG=... hack/chaosmesh/install.sh [--kind CLUSTER]
# What it does:
#   - CRDs from the module's manifests/crd.yaml with partitionBehavior added
#     (crdpatch), created with `kubectl create` (three exceed the
#     last-applied annotation limit of `apply`); existing CRDs are replaced.
#   - the chart from the module's helm/chaos-mesh rendered by helm template:
#     containerd runtime and socket, dashboard and DNS server off, leader
#     election off, one controller replica, pull policy Never, pod-failure's
#     pause image = the lab's pause image.
#   - annotates the chaos-daemon DaemonSet with the chaos kinds it cannot
#     inject (framework/chaosmesh.Check reads it) and waits for the rollout.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
CACHE=${RWXCHAOS_CACHE:-/var/cache/rwxchaos}
OUT=$CACHE/chaosmesh
NS=${CHAOS_NAMESPACE:-chaos-mesh}
PAUSE_IMAGE=${PAUSE_IMAGE:-registry.k8s.io/pause:3.10.1}
KUBECTL=${KUBECTL:-kubectl}
kind_cluster=""
[ "${1:-}" = --kind ] && kind_cluster=${2:?--kind needs a cluster name}
[ -f "$OUT/images.json" ] || { echo "no $OUT/images.json: run hack/chaosmesh/build.sh first" >&2; exit 1; }
# CHAOS_MESH_IMAGE / CHAOS_DAEMON_IMAGE override (the images you loaded).
cm=${CHAOS_MESH_IMAGE:-$(jq -r .controllerManager "$OUT/images.json")}
daemon=${CHAOS_DAEMON_IMAGE:-$(jq -r .daemon "$OUT/images.json")}
helm=$(jq -r .helm "$OUT/images.json")
src=$(jq -r .source "$OUT/images.json")
log() { echo "chaosmesh-install: $(date -u +%T) $*"; }

if [ -n "$kind_cluster" ]; then
  kind load docker-image --name "$kind_cluster" "$cm" "$daemon"
fi

crd=$OUT/crd-patched.yaml
if [ ! -s "$crd" ] || [ "$crd" -ot "$HERE/crdpatch/main.go" ]; then
  (cd "$REPO" && go run ./hack/chaosmesh/crdpatch) < "$src/manifests/crd.yaml" > "$crd.tmp"
  mv "$crd.tmp" "$crd"
fi
if ! $KUBECTL create -f "$crd" >/dev/null 2>"$OUT/crd.err"; then
  if grep -q AlreadyExists "$OUT/crd.err"; then
    $KUBECTL replace -f "$crd" >/dev/null
  else
    cat "$OUT/crd.err" >&2; exit 1
  fi
fi
$KUBECTL wait --for condition=Established --timeout 60s -f "$crd" >/dev/null
log "CRDs established (partitionBehavior added)"

reg=${cm%%/*}; repo_cm=${cm#*/}; repo_cm=${repo_cm%%:*}; tag_cm=${cm##*:}
repo_d=${daemon#*/}; repo_d=${repo_d%%:*}; tag_d=${daemon##*:}
rendered=$OUT/rendered.yaml
"$helm" template chaos-mesh "$src/helm/chaos-mesh" --namespace "$NS" \
  --set images.registry=docker.io \
  --set controllerManager.image.repository="$reg/$repo_cm" --set controllerManager.image.tag="$tag_cm" \
  --set controllerManager.imagePullPolicy=Never --set controllerManager.replicaCount=1 \
  --set controllerManager.leaderElection.enabled=false \
  --set controllerManager.podChaos.podFailure.pauseImage="$PAUSE_IMAGE" \
  --set chaosDaemon.image.repository="$reg/$repo_d" --set chaosDaemon.image.tag="$tag_d" \
  --set chaosDaemon.imagePullPolicy=Never \
  --set chaosDaemon.runtime=containerd --set chaosDaemon.socketPath=/run/containerd/containerd.sock \
  --set dashboard.create=false --set dnsServer.create=false \
  > "$rendered"
$KUBECTL create namespace "$NS" --dry-run=client -o yaml | $KUBECTL apply -f - >/dev/null
$KUBECTL apply -n "$NS" -f "$rendered" >/dev/null
$KUBECTL -n "$NS" annotate --overwrite daemonset chaos-daemon \
  rwxchaos.dev/unsupported-chaos="IOChaos,HTTPChaos,StressChaos" \
  rwxchaos.dev/unsupported-reason="the lab's chaos-daemon image has no toda, tproxy or memStress (Rust, crates.io unreachable), and the host kernel has no sch_netem" >/dev/null
diag() {
  echo "chaosmesh-install: Chaos Mesh did not become ready; its pods:" >&2
  $KUBECTL -n "$NS" get pods -o wide >&2 || true
  $KUBECTL -n "$NS" get events --field-selector type=Warning >&2 || true
  echo "check that $cm and $daemon are loaded into every node (kind load docker-image, or the test's LoadImage)" >&2
  exit 1
}
$KUBECTL -n "$NS" rollout status deploy/chaos-controller-manager --timeout 180s || diag
$KUBECTL -n "$NS" rollout status ds/chaos-daemon --timeout 180s || diag
log "Chaos Mesh running in namespace $NS ($cm, $daemon)"
