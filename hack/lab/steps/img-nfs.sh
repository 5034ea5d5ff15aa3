#!/usr/bin/env bash
# rwxchaos/nfs-ganesha: a userspace NFSv4 server, for hosts whose kernel can
# mount NFS. Checked here at the protocol level with libnfs's nfs-ls/nfs-cat
# (no kernel client needed): over loopback inside the server container, and
# from a second container across a docker network created for the check.
. "$HERE/steps/lib.sh"
root=$WORK/root
mkdir -p "$root"
tar -C "$root" -xf "$DEP_ROOTFS_NFS/rootfs.tar"
install -m 0644 "$HERE/nfs/ganesha.conf" "$root/etc/ganesha/rwxchaos.conf.in"
install -m 0755 "$HERE/nfs/start.sh" "$root/usr/local/bin/nfs-start"
import_dir "$root" "$IMAGE" --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENTRYPOINT ["/usr/local/bin/nfs-start"]' --change 'EXPOSE 2049/tcp' \
  --change 'VOLUME ["/export"]'
rm -rf "$root"

run=rwxchaos-nfscheck-$$
cleanup() { docker rm -f "$run-srv" "$run-cli" >/dev/null 2>&1 || true; docker network rm "$run" >/dev/null 2>&1 || true; }
trap cleanup EXIT
docker network create "$run" >/dev/null
# The VFS backend needs file handles (name_to_handle_at/open_by_handle_at):
# CAP_DAC_READ_SEARCH, a seccomp profile that allows them (docker's default
# refuses them), and an export dir that is not overlayfs (VOLUME /export).
docker run -d --name "$run-srv" --network "$run" --cap-add DAC_READ_SEARCH \
  --security-opt seccomp=unconfined "$IMAGE" >/dev/null
docker exec "$run-srv" sh -c 'mkdir -p /export/dir && echo rwxchaos-nfs-ok > /export/dir/hello.txt'
ok=""
for _ in $(seq 1 30); do
  if docker exec "$run-srv" nfs-ls "nfs://127.0.0.1/export/dir?version=4" 2>/dev/null | grep -q hello.txt; then ok=1; break; fi
  sleep 1
done
[ -n "$ok" ] || { echo "ganesha did not serve /export on loopback"; docker logs "$run-srv" | tail -30; exit 1; }
got=$(docker run --rm --name "$run-cli" --network "$run" --entrypoint nfs-cat "$IMAGE" "nfs://$run-srv/export/dir/hello.txt?version=4")
[ "$got" = rwxchaos-nfs-ok ] || { echo "nfs-cat over the docker network returned: $got"; exit 1; }
echo "nfs check passed: nfs-ls on loopback, nfs-cat across docker network $run"
echo "$IMAGE" > "$OUT/image"
