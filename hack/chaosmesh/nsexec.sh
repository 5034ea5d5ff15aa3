#!/bin/sh
# Stand-in for chaos-mesh's Rust nsexec (not buildable offline): translates
#   nsexec [-l] [-m P] [-i P] [-n P] [-p P] -- CMD ARGS...
# into util-linux nsenter. -l (keep the local mount namespace for CMD) is
# what nsenter does when no --mount is given, so it is dropped.
set -e
args=""
while [ $# -gt 0 ]; do
  case "$1" in
    -l) shift ;;
    -m) args="$args --mount=$2"; shift 2 ;;
    -i) args="$args --ipc=$2"; shift 2 ;;
    -n) args="$args --net=$2"; shift 2 ;;
    -p) args="$args --pid=$2"; shift 2 ;;
    --) shift; break ;;
    *) echo "nsexec shim: unknown option $1" >&2; exit 2 ;;
  esac
done
# shellcheck disable=SC2086
exec nsenter $args -- "$@"
