// Command rwxchaos-nfs mounts an NFSv4.1 export through FUSE with the
// userspace client of framework/nfs4, for machines and sandboxes whose
// kernel has no NFS client. It is meant to run inside a kind node
// container, so that killing, pausing or cutting off the node kills,
// freezes or cuts off its NFS client too. Build it static:
//
//	CGO_ENABLED=0 go build ./cmd/rwxchaos-nfs
//
// Usage (as root):
//
//	rwxchaos-nfs --server HOST:PORT --mount DIR [--export /export] [--name NODE]
//	             [--actimeo DUR] [--recover-lost-locks] [--timeo DUR]
//	             [--ready FILE] [--stats FILE] [--shared] [--no-guard]
//	             [--allow-nonempty] [--debug] [--trigger SOCKET]
//
// The work is done by nfsfuse.Main; the rwxchaos binary carries the same
// client as the hidden subcommand `rwxchaos __nfs-mount` (framework/selfexec),
// which is what runs in kind nodes; this standalone build is for
// development (RWXCHAOS_NFS_BINARY).
package main

import (
	"os"

	"github.com/rwxchaos/rwxchaos/framework/nfs4/nfsfuse"
)

func main() {
	os.Exit(nfsfuse.Main(os.Args[1:]))
}
