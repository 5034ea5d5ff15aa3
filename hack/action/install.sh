#!/usr/bin/env bash
# Installs rwxchaos for the GitHub Action (action.yml) into $INSTALL_DIR:
#   BINARY=path        a binary you built (e.g. from this checkout); copied
#   VERSION=vX.Y.Z     that release's archive, checksum verified
#   VERSION=latest     the newest release's archive, checksum verified
# Archives come from $BASE_URL (default the project's GitHub releases; a
# mirror works the same). Prints the installed `rwxchaos version`.
set -euo pipefail
: "${INSTALL_DIR:?INSTALL_DIR is required}"
BASE_URL=${BASE_URL:-https://github.com/rwxchaos/rwxchaos/releases}
VERSION=${VERSION:-latest}
mkdir -p "$INSTALL_DIR"
if [ -n "${BINARY:-}" ]; then
  [ -x "$BINARY" ] || { echo "install: BINARY=$BINARY is not an executable file" >&2; exit 1; }
  install -m 0755 "$BINARY" "$INSTALL_DIR/rwxchaos"
else
  case "$(uname -m)" in
    x86_64 | amd64) arch=amd64 ;;
    aarch64 | arm64) arch=arm64 ;;
    *) echo "install: no rwxchaos release for $(uname -m): build it (go install github.com/rwxchaos/rwxchaos/cmd/rwxchaos@$VERSION) and pass binary" >&2; exit 1 ;;
  esac
  case "$VERSION" in
    latest) url="$BASE_URL/latest/download" ;;
    v*) url="$BASE_URL/download/$VERSION" ;;
    *) echo "install: version '$VERSION' is neither vX.Y.Z nor latest" >&2; exit 1 ;;
  esac
  archive="rwxchaos_linux_${arch}.tar.gz"
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  for f in "$archive" checksums.txt; do
    if ! curl -fsSL --retry 3 -o "$tmp/$f" "$url/$f"; then
      echo "install: cannot download $url/$f: check the version, or pass binary" >&2
      exit 1
    fi
  done
  want=$(awk -v f="$archive" '$2 == f {print $1}' "$tmp/checksums.txt")
  got=$(sha256sum "$tmp/$archive" | awk '{print $1}')
  if [ -z "$want" ] || [ "$want" != "$got" ]; then
    echo "install: checksum mismatch for $archive (checksums.txt says '${want:-nothing}', file is $got): not installing" >&2
    exit 1
  fi
  tar -xzf "$tmp/$archive" -C "$tmp" rwxchaos
  install -m 0755 "$tmp/rwxchaos" "$INSTALL_DIR/rwxchaos"
fi
"$INSTALL_DIR/rwxchaos" version
