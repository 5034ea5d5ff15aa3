// Package selfexec decides which program acts as each role that rwxchaos
// starts as a separate process — the pipeline's services, the fuse file
// server, the userspace NFS client — and runs that role when this process
// was started as one.
//
// The rwxchaos binary carries every role as a hidden subcommand and starts
// them by re-executing itself (`rwxchaos __pipeline webserver ...`,
// `rwxchaos __fuse ...`), so an installed binary needs no Go toolchain, no
// module cache and no checkout at run time. For development, an environment
// variable per role names a standalone program instead
// (RWXCHAOS_PIPELINE_BINARY=/path/edi-pipeline).
//
// Any program that links this package can be re-executed as a role: the
// package's init runs the role named by os.Args[1] and exits, before main
// (or a test binary's TestMain) runs. Go initialises packages in import-path
// order once their imports are (spec, "Package initialization"), and this
// package imports only the roles' code, so a role starts without paying for
// the initialisation of the rest of the binary (client-go's scheme and the
// like cost tens of milliseconds, and the engine starts every second).
package selfexec

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	pipelinecli "github.com/rwxchaos/rwxchaos/fixtures/pipeline/cli"
	"github.com/rwxchaos/rwxchaos/framework/nfs4/nfsfuse"
	"github.com/rwxchaos/rwxchaos/framework/storage/fuseserver"
	"github.com/rwxchaos/rwxchaos/framework/volhelper"
)

// Role is a program rwxchaos runs as a separate process.
type Role struct {
	// Name is the role; its hidden subcommand is "__" + Name.
	Name string
	// Env names a standalone program for the role (development override).
	Env string
	// Standalone is the name of the role's standalone command, if any.
	Standalone string
	// main runs the role in this process; nil when this build does not
	// carry it. self is the command that starts the role again.
	main func(self, args []string, stdout, stderr io.Writer) int
}

// The roles. A role declared with a nil main is not carried by this build:
// Command then says so instead of starting something else.
var (
	// Pipeline is the app under test: `__pipeline webserver|engine|jobqueue`.
	Pipeline = &Role{Name: "pipeline", Env: "RWXCHAOS_PIPELINE_BINARY", Standalone: "edi-pipeline", main: pipelinecli.Main}
	// Fuse is the go-fuse file server of storage backend fuse.
	Fuse = &Role{Name: "fuse", Env: "RWXCHAOS_FUSE_BINARY", Standalone: "rwxchaos-fuse",
		main: func(_, args []string, _, _ io.Writer) int { return fuseserver.Main(args) }}
	// NFSMount is the userspace NFSv4.1 client (framework/nfs4) mounting an
	// export through FUSE, inside a kind node: `rwxchaos __nfs-mount
	// --server HOST:PORT --mount DIR ...` (binimage.Bundle puts the binary
	// into the nodes).
	NFSMount = &Role{Name: "nfs-mount", Env: "RWXCHAOS_NFS_BINARY", Standalone: "rwxchaos-nfs",
		main: func(_, args []string, _, _ io.Writer) int { return nfsfuse.Main(args) }}
	// Volume reads and writes the shared volume inside provider existing's
	// helper pod (`rwxchaos __volume list|write|tar|idle`), instead of a
	// busybox shell: the helper runs the app's rwxchaos image.
	Volume = &Role{Name: "volume",
		main: func(_, args []string, stdout, stderr io.Writer) int {
			return volhelper.Main(args, os.Stdin, stdout, stderr)
		}}
)

// Roles lists every declared role.
func Roles() []*Role { return []*Role{Pipeline, Fuse, NFSMount, Volume} }

// Subcommand is the hidden subcommand that runs the role.
func (r *Role) Subcommand() string { return "__" + r.Name }

// ImageCommand runs the role in an image that has rwxchaos on its PATH (the
// release image, or one that binimage assembled from this binary).
func (r *Role) ImageCommand() []string { return []string{"rwxchaos", r.Subcommand()} }

// Carried reports whether this build can run the role itself.
func (r *Role) Carried() bool { return r.main != nil }

func init() { dispatch(os.Args) }

// dispatch runs the role whose hidden subcommand is args[1], and exits
// with its status; otherwise it returns.
func dispatch(args []string) {
	if len(args) < 2 {
		return
	}
	for _, r := range Roles() {
		if args[1] != r.Subcommand() {
			continue
		}
		if !r.Carried() {
			fmt.Fprintf(os.Stderr, "rwxchaos: this build does not carry %s: use a newer rwxchaos, or set %s to a standalone %s\n",
				r.Subcommand(), r.Env, r.Standalone)
			os.Exit(2)
		}
		self, err := r.selfCommand()
		if err != nil {
			fmt.Fprintf(os.Stderr, "rwxchaos %s: %v\n", r.Subcommand(), err)
			os.Exit(1)
		}
		os.Exit(r.main(self, args[2:], os.Stdout, os.Stderr))
	}
}

// Command is the argv prefix that starts the role; append the role's own
// arguments. In order: the program named by the role's environment
// variable; else this executable with the hidden subcommand, when this
// build carries the role. Otherwise an error says what to do.
func (r *Role) Command() ([]string, error) {
	if p := os.Getenv(r.Env); p != "" {
		abs, err := filepath.Abs(p)
		if err != nil {
			return nil, fmt.Errorf("%s=%s: %w", r.Env, p, err)
		}
		if err := executable(abs); err != nil {
			return nil, fmt.Errorf("%s=%s: %w: unset it to use this rwxchaos binary's own %s", r.Env, p, err, r.Subcommand())
		}
		return []string{abs}, nil
	}
	if !r.Carried() {
		return nil, fmt.Errorf("the %s role is not carried by this build of rwxchaos: set %s to a standalone %s", r.Name, r.Env, r.Standalone)
	}
	return r.selfCommand()
}

func (r *Role) selfCommand() ([]string, error) {
	exe, err := Executable()
	if err != nil {
		return nil, err
	}
	return []string{exe, r.Subcommand()}, nil
}

// Executable is the running binary's path with symlinks resolved, as the
// kernel reports it to children (/proc/PID/exe).
func Executable() (string, error) {
	exe, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("find the running rwxchaos binary: %w", err)
	}
	if r, err := filepath.EvalSymlinks(exe); err == nil {
		exe = r
	}
	return exe, nil
}

// Runs reports whether a process with this argv runs the role (how cleanup
// recognises leftovers after pids were reused): the hidden subcommand, or
// the standalone command.
func (r *Role) Runs(argv []string) bool {
	if len(argv) == 0 {
		return false
	}
	if len(argv) > 1 && argv[1] == r.Subcommand() {
		return true
	}
	return r.Standalone != "" && filepath.Base(argv[0]) == r.Standalone
}

func executable(p string) error {
	st, err := os.Stat(p)
	if err != nil {
		return err
	}
	if st.IsDir() || st.Mode()&0o111 == 0 {
		return fmt.Errorf("%s is not an executable file", p)
	}
	return nil
}
