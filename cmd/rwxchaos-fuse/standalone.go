// Command rwxchaos-fuse is the userspace file server of storage backend
// fuse, standalone (see framework/storage/fuseserver). The rwxchaos binary
// carries the same server as `rwxchaos __fuse`; this one is for development
// (RWXCHAOS_FUSE_BINARY).
package main

import (
	"os"

	"github.com/rwxchaos/rwxchaos/framework/storage/fuseserver"
)

func main() { os.Exit(fuseserver.Main(os.Args[1:])) }
