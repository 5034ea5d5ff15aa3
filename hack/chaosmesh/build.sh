#!/usr/bin/env bash
# Builds the Chaos Mesh images for the lab, offline (Go module proxy and
# Debian's apt only), into $RWXCHAOS_CACHE/chaosmesh, and helm:
#   rwxchaos/chaos-mesh:<tag>     chaos-controller-manager (static)
#   rwxchaos/chaos-daemon:<tag>   chaos-daemon (cgo) + cdh + pause on Debian
#                                 with iptables(legacy)/ipset/iproute2/util-linux/procps;
#                                 /usr/local/bin/nsexec is an nsenter shim
#   $OUT/bin/helm
# A step is skipped when its output exists (delete $OUT to rebuild).
# Not buildable here (crates.io unreachable): toda (IOChaos), tproxy
# (HTTPChaos), memStress; the daemon image has none of them.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$HERE/versions.env"
CACHE=${RWXCHAOS_CACHE:-/var/cache/rwxchaos}
OUT=$CACHE/chaosmesh
WORK=$OUT/work
# Outputs are reused only while the pinned inputs are unchanged.
stamp=$(cat "$HERE/versions.env" "$HERE/build.sh" "$HERE/nsexec.sh" | sha256sum | cut -c1-16)
if [ "$(cat "$OUT/stamp" 2>/dev/null)" != "$stamp" ]; then
  rm -rf "$OUT/bin" "$OUT/work" "$OUT/daemon-rootfs.tar" "$OUT/images.json"
fi
mkdir -p "$OUT/bin" "$WORK"
echo "$stamp" > "$OUT/stamp"
export GOCACHE=${GOCACHE:-$CACHE/go-build} GOFLAGS=-mod=mod
# fx-logr v0.1.0 is on the proxy but not in the checksum database; its hash
# comes from chaos-mesh's own go.sum, seeded below.
export GONOSUMDB=github.com/chaos-mesh/fx-logr
P=${BUILD_P:-2}
TAG=${CM_VERSION##*-}
TAG=${TAG:0:12}-${stamp:0:6}
CM_IMAGE=rwxchaos/chaos-mesh:$TAG
DAEMON_IMAGE=rwxchaos/chaos-daemon:$TAG
log() { echo "chaosmesh: $(date -u +%T) $*"; }
# timed NAME CMD...: runs CMD under /usr/bin/time, logging seconds and peak RSS.
timed() {
  local name=$1; shift
  local t0; t0=$(date +%s)
  /usr/bin/time -f "%M" -o "$WORK/$name.rss" "$@"
  log "$name: $(( $(date +%s) - t0 ))s, peak RSS $(( $(cat "$WORK/$name.rss") / 1024 )) MiB" | tee -a "$OUT/timings.log"
}

src=$(cd "$WORK" && GOFLAGS= go mod download -json "$CM_MODULE@$CM_VERSION" | jq -r .Dir)
[ -d "$src" ] || { echo "go mod download $CM_MODULE@$CM_VERSION gave no directory: is the Go module proxy reachable?" >&2; exit 1; }
echo "$src" > "$OUT/src"

# Scratch module: require the root module, copy its replace directives (the
# ./api one pointed at the proxy's api version), seed go.sum from its own.
mod=$WORK/mod
if [ ! -f "$mod/go.mod" ]; then
  mkdir -p "$mod"
  {
    echo "module rwxchaos.local/chaosmesh"
    echo
    grep -m1 '^go ' "$src/go.mod"
    echo
    echo "require $CM_MODULE $CM_VERSION"
    echo "require $CM_MODULE/api $CM_API_VERSION"
    echo
    awk '/^replace \(/{on=1; next} on&&/^\)/{on=0; next} on{print "replace " $0} /^replace [^(]/{print}' "$src/go.mod" \
      | sed -E "s#=> \./api#=> $CM_MODULE/api $CM_API_VERSION#"
  } > "$mod/go.mod"
  cp "$src/go.sum" "$mod/go.sum"
  chmod u+w "$mod/go.sum"
  echo 'package main' > "$mod/tools.go"
fi

build() { # build NAME CGO PKG
  local name=$1 cgo=$2 pkg=$3
  [ -x "$OUT/bin/$name" ] && { log "$name: cached"; return; }
  (cd "$mod" && timed "$name" env CGO_ENABLED=$cgo go build -p "$P" -trimpath -ldflags "-s -w" -o "$OUT/bin/$name.tmp" "$CM_MODULE/$pkg")
  mv "$OUT/bin/$name.tmp" "$OUT/bin/$name"
}
build chaos-controller-manager 0 cmd/chaos-controller-manager
build chaos-daemon 1 cmd/chaos-daemon
build cdh 0 cmd/chaos-daemon-helper

if [ ! -x "$OUT/bin/pause" ]; then
  gcc -O2 -static -o "$OUT/bin/pause" "$src/hack/pause.c"
fi

if [ ! -x "$OUT/bin/helm" ]; then
  hm=$WORK/helm
  mkdir -p "$hm"
  printf 'module rwxchaos.local/helm\n\ngo 1.25\n\nrequire helm.sh/helm/v3 %s\n' "$HELM_VERSION" > "$hm/go.mod"
  echo 'package main' > "$hm/tools.go"
  (cd "$hm" && timed helm env CGO_ENABLED=0 go build -p "$P" -trimpath -ldflags "-s -w" -o "$OUT/bin/helm" helm.sh/helm/v3/cmd/helm)
fi

have() { docker image inspect "$1" >/dev/null 2>&1; }

if ! have "$CM_IMAGE"; then
  root=$WORK/cm-root
  rm -rf "$root" && mkdir -p "$root/usr/local/bin" "$root/tmp" "$root/etc"
  chmod 1777 "$root/tmp"
  install -m 0755 "$OUT/bin/chaos-controller-manager" "$root/usr/local/bin/"
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' > "$root/etc/passwd"
  [ -f /etc/ssl/certs/ca-certificates.crt ] && install -D -m 0644 /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt"
  tar -C "$root" --numeric-owner -cf - . | docker import --change 'ENV PATH=/usr/local/bin' - "$CM_IMAGE" >/dev/null
  rm -rf "$root"
  log "image $CM_IMAGE"
fi

if ! have "$DAEMON_IMAGE"; then
  rootfs=$OUT/daemon-rootfs.tar
  if [ ! -f "$rootfs" ]; then
    root=$WORK/daemon-root
    rm -rf "$root"
    mkdir -p "$CACHE/debs"
    timed debootstrap debootstrap --variant=minbase --include=iptables,ipset,iproute2,util-linux,procps,tzdata \
      --cache-dir="$CACHE/debs" "$DEBIAN_SUITE" "$root" "$DEBIAN_MIRROR" >"$WORK/debootstrap.log" 2>&1 \
      || { tail -20 "$WORK/debootstrap.log"; exit 1; }
    chroot "$root" update-alternatives --set iptables /usr/sbin/iptables-legacy
    chroot "$root" update-alternatives --set ip6tables /usr/sbin/ip6tables-legacy
    chroot "$root" apt-get clean
    rm -rf "$root"/var/lib/apt/lists/* "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/locale/*
    tar -C "$root" --numeric-owner -cf "$rootfs.tmp" . && mv "$rootfs.tmp" "$rootfs"
    rm -rf "$root"
  fi
  root=$WORK/daemon-img
  rm -rf "$root" && mkdir -p "$root"
  tar -C "$root" -xf "$rootfs"
  install -m 0755 "$OUT/bin/chaos-daemon" "$OUT/bin/cdh" "$OUT/bin/pause" "$root/usr/local/bin/"
  install -m 0755 "$HERE/nsexec.sh" "$root/usr/local/bin/nsexec"
  tar -C "$root" --numeric-owner -cf - . | docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' - "$DAEMON_IMAGE" >/dev/null
  rm -rf "$root"
  log "image $DAEMON_IMAGE"
fi

jq -n --arg cm "$CM_IMAGE" --arg d "$DAEMON_IMAGE" --arg helm "$OUT/bin/helm" --arg src "$src" \
  --arg ver "$CM_VERSION" --arg api "$CM_API_VERSION" \
  '{controllerManager:$cm, daemon:$d, helm:$helm, source:$src, version:$ver, apiVersion:$api}' > "$OUT/images.json"
log "done: $OUT/images.json"
