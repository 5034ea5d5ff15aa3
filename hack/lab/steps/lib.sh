# Helpers shared by the step scripts (sourced). The driver (hack/lab/build)
# provides CACHE, OUT, WORK, HERE, REPO, IMAGE, DEP_*, IMAGE_* and versions.env.
set -euo pipefail

# scratch_module DIR MODULE VERSION [GOSUM_LINES]: a throwaway module that
# requires MODULE@VERSION, so its main packages build with the proxy's
# (verified) sources and their own go.mod requirements.
scratch_module() {
  local dir=$1 mod=$2 ver=$3 sums=${4:-}
  rm -rf "$dir" && mkdir -p "$dir"
  local gomod; gomod=$(cd "$dir" && go mod download -json "$mod@$ver" | jq -r '.GoMod // empty')
  {
    echo "module rwxchaos.local/scratch"
    echo
    if [ -n "$gomod" ]; then grep -m1 '^go ' "$gomod"; else echo "go 1.24"; fi
    echo
    echo "require $mod $ver"
  } > "$dir/go.mod"
  printf '%s' "$sums" > "$dir/go.sum"
}

# debootstrap_tar PKGS...: a Debian minbase rootfs with PKGS, as $OUT/rootfs.tar.
debootstrap_tar() {
  local pkgs; pkgs=$(IFS=,; echo "$*")
  local root=$WORK/rootfs
  mkdir -p "$CACHE/debs"
  debootstrap --variant=minbase --include="$pkgs" --cache-dir="$CACHE/debs" \
    "$DEBIAN_SUITE" "$root" "$DEBIAN_MIRROR"
  # Trim what no container needs.
  chroot "$root" apt-get clean
  rm -rf "$root"/var/lib/apt/lists/* "$root"/usr/share/doc/* "$root"/usr/share/man/* \
    "$root"/usr/share/info/* "$root"/usr/share/locale/* "$root"/var/log/* "$root"/var/cache/debconf/*-old
  tar -C "$root" --numeric-owner -cf "$OUT/rootfs.tar" .
  rm -rf "$root"
}

# busybox_root DIR: a rootfs holding only Debian's static busybox and its applets.
busybox_root() {
  local dir=$1
  mkdir -p "$dir/bin" "$dir/tmp" "$dir/etc" "$dir/root"
  chmod 1777 "$dir/tmp"
  tar -xOf "$DEP_ROOTFS_SLIM/rootfs.tar" ./usr/bin/busybox > "$dir/bin/busybox"
  chmod 755 "$dir/bin/busybox"
  local a
  for a in $("$dir/bin/busybox" --list); do
    [ "$a" = busybox ] || ln -sf busybox "$dir/bin/$a"
  done
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' > "$dir/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' > "$dir/etc/group"
}

# import_dir DIR IMAGE [--change ...]: docker import of a directory tree.
import_dir() {
  local dir=$1 image=$2; shift 2
  tar -C "$dir" --numeric-owner -cf - . | docker import "$@" - "$image" >/dev/null
}

# import_tar TAR IMAGE [--change ...]
import_tar() {
  local tar=$1 image=$2; shift 2
  docker import "$@" "$tar" "$image" >/dev/null
}
