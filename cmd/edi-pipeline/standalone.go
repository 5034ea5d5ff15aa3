package main

import (
	"io"
	"os"

	"github.com/rwxchaos/rwxchaos/fixtures/pipeline/cli"
)

// The rwxchaos binary carries the same command line as `rwxchaos
// __pipeline`; this standalone binary is for running the app alone.
func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

const exitLockLost = cli.ExitLockLost

func run(args []string, stdout, stderr io.Writer) int {
	return cli.Main(nil, args, stdout, stderr)
}
