#!/usr/bin/env bash
# host.sh prepares this machine for the lab: Debian packages, a running dockerd,
# and (only where the kernel withholds CAP_SYS_RESOURCE) the runc wrapper as
# docker's default runtime. Idempotent: every action is skipped when done.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=versions.env
. "$here/versions.env"
CACHE=${RWXCHAOS_CACHE:-/var/cache/rwxchaos}
log() { printf '%s host: %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }

[ "$(id -u)" = 0 ] || { log "must run as root (needs apt, dockerd, debootstrap, chroot)"; exit 1; }

# Debian packages the lab needs on the host. Binary -> package.
need=()
declare -A pkg_for=(
  [dockerd]=docker.io [debootstrap]=debootstrap [jq]=jq [gcc]=gcc
  [zstd]=zstd [nfs-ls]=libnfs-utils [ip]=iproute2 [iptables]=iptables
)
for bin in "${!pkg_for[@]}"; do
  command -v "$bin" >/dev/null 2>&1 || need+=("${pkg_for[$bin]}")
done
# gcc -static needs the static libc.
[ -f /usr/lib/x86_64-linux-gnu/libc.a ] || need+=(libc6-dev)
if [ ${#need[@]} -gt 0 ]; then
  log "installing: ${need[*]}"
  # Unreachable third-party sources only warn; the Debian ones must work.
  apt-get update -qq || log "apt-get update reported errors (continuing; install will tell)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# The runc wrapper: only when CAP_SYS_RESOURCE (bit 24) is missing from the
# bounding set, because then every privileged container (every kind node)
# fails in runc with "unable to apply caps".
capbnd=$(awk '/^CapBnd:/ {print $2}' /proc/self/status)
daemon_json=/etc/docker/daemon.json
want_runtime=""
if (( (16#$capbnd >> 24 & 1) == 0 )); then
  wrapper=/usr/local/libexec/rwxchaos/runc-wrapper
  real_runc=$(command -v runc || true)
  [ -n "$real_runc" ] || { log "runc not found after installing docker.io"; exit 1; }
  src_sum=$(cat "$here/runc-wrapper/main.go" | sha256sum | cut -c1-16)
  if [ ! -x "$wrapper" ] || [ "$(cat "$wrapper.sum" 2>/dev/null)" != "$src_sum" ]; then
    log "CAP_SYS_RESOURCE missing from CapBnd ($capbnd): building runc wrapper"
    mkdir -p "$(dirname "$wrapper")"
    (cd "$here/runc-wrapper" && CGO_ENABLED=0 GOCACHE="$CACHE/go-build" go build -trimpath \
      -ldflags "-X main.realRunc=$real_runc" -o "$wrapper.tmp" .)
    mv "$wrapper.tmp" "$wrapper"
    echo "$src_sum" > "$wrapper.sum"
  fi
  want_runtime=rwxchaos-runc
  mkdir -p /etc/docker
  cur='{}'; [ -s "$daemon_json" ] && cur=$(cat "$daemon_json")
  new=$(jq --arg p "$wrapper" '.runtimes["rwxchaos-runc"] = {path: $p} | .["default-runtime"] = "rwxchaos-runc"' <<<"$cur")
  if [ "$new" != "$cur" ]; then
    log "registering $wrapper as docker's default runtime in $daemon_json"
    printf '%s\n' "$new" > "$daemon_json"
    if pid=$(pidof dockerd); then kill -HUP "$pid"; sleep 1; fi
  fi
fi

if ! timeout 10 docker info >/dev/null 2>&1; then
  if ! pidof dockerd >/dev/null; then
    log "starting dockerd (log: /var/log/dockerd.log)"
    # No systemd on these machines: dockerd runs detached from this shell,
    # with none of its other file descriptors: a daemon that inherits a
    # lock (flock) or a CI step's pipe would hold it for as long as it runs.
    close=()
    for fd in /proc/$$/fd/*; do
      fd=${fd##*/}
      [ "$fd" -gt 2 ] && [ "$fd" != 255 ] && close+=("$fd>&-")
    done
    eval "setsid dockerd >/var/log/dockerd.log 2>&1 < /dev/null ${close[*]} &"
  fi
  for _ in $(seq 1 60); do
    timeout 5 docker info >/dev/null 2>&1 && break
    sleep 1
  done
  timeout 10 docker info >/dev/null 2>&1 || { log "dockerd did not come up; see /var/log/dockerd.log"; tail -20 /var/log/dockerd.log >&2; exit 1; }
fi
if [ -n "$want_runtime" ]; then
  got=$(docker info --format '{{.DefaultRuntime}}')
  [ "$got" = "$want_runtime" ] || { log "docker default runtime is $got, want $want_runtime"; exit 1; }
fi
log "docker $(docker version --format '{{.Server.Version}}') ready (default runtime: $(docker info --format '{{.DefaultRuntime}}'))"
