// Package fuseserver is the userspace file server behind storage backend
// `fuse`: a go-fuse loopback of a backing directory, mounted at a mountpoint
// with allow_other and kernel lock forwarding (flock and POSIX locks taken
// through it exclude across processes, and across several rwxchaos-fuse
// servers over the same backing directory).
//
// It is a separate process on purpose, so that the framework can fail it like
// a real file server:
//
//   - SIGSTOP: every call on the mount blocks (like a hung hard-mounted NFS
//     server) until SIGCONT;
//   - SIGKILL: the FUSE connection aborts and every call on the mount fails
//     with ENOTCONN until the stale mount is detached (umount -l) and a new
//     server is mounted;
//   - SIGTERM, SIGINT or SIGHUP: a clean unmount (a lazy one if files are
//     still open) and exit 0. SIGHUP is what the kernel sends (with SIGCONT)
//     to a stopped server whose parent died (an orphaned process group):
//     when the runner dies mid-pause, the server unmounts instead of leaving
//     a frozen or dead mount behind.
//
// It runs as the hidden subcommand `rwxchaos __fuse` (framework/selfexec)
// or as the standalone cmd/rwxchaos-fuse. Usage, as root (it mounts with
// mount(2) directly; there is no fusermount):
//
//	rwxchaos __fuse --backing DIR --mount DIR [--name N] [--ready FILE] [--shared]
//
// With --ready FILE, once the mount serves it writes FILE with a JSON record
// {pid, name, mount, backing, started} and removes it again on a clean exit.
package fuseserver

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// Ready is the record written to --ready once the mount serves.
type Ready struct {
	Pid     int    `json:"pid"`
	Name    string `json:"name"`
	Mount   string `json:"mount"`
	Backing string `json:"backing"`
	Started int64  `json:"started"` // Unix ns
}

// Main runs the server with args (without the program name) until it is
// signalled or unmounted, and returns the exit status (1 on error).
func Main(args []string) int {
	log.SetFlags(log.LstdFlags | log.Lmicroseconds)
	log.SetPrefix("rwxchaos-fuse: ")
	if err := Run(args); err != nil {
		log.Print(err)
		return 1
	}
	return 0
}

// Run is Main returning the error.
func Run(args []string) error {
	fl := flag.NewFlagSet("rwxchaos-fuse", flag.ContinueOnError)
	backing := fl.String("backing", "", "directory whose contents are served (required)")
	mnt := fl.String("mount", "", "directory to mount the file system on (required)")
	name := fl.String("name", "rwxchaos", "name of this server (shown as the mount source rwxchaos-fuse:NAME)")
	ready := fl.String("ready", "", "write a JSON ready record (pid, mount) here once the mount serves; removed on clean exit")
	shared := fl.Bool("shared", false, "make the mount shared (mount --make-shared), so bind mounts with HostToContainer propagation see it")
	cache := fl.Duration("cache", 0, "kernel entry/attribute cache timeout; keep 0 when several servers share one backing directory")
	debug := fl.Bool("debug", false, "log every FUSE request")
	if err := fl.Parse(args); err != nil {
		return err
	}
	if *backing == "" || *mnt == "" {
		return errors.New("--backing and --mount are required: rwxchaos-fuse --backing DIR --mount DIR")
	}
	if os.Geteuid() != 0 {
		return errors.New("must run as root: it mounts with mount(2) directly (no fusermount)")
	}
	b, err := filepath.Abs(*backing)
	if err != nil {
		return err
	}
	m, err := filepath.Abs(*mnt)
	if err != nil {
		return err
	}
	if st, err := os.Stat(b); err != nil || !st.IsDir() {
		return fmt.Errorf("backing %s is not a directory (%v): create it first", b, err)
	}
	var st syscall.Stat_t
	if err := syscall.Stat(m, &st); err != nil {
		if errors.Is(err, syscall.ENOTCONN) {
			return fmt.Errorf("mountpoint %s holds a dead FUSE mount: detach it first (umount -l %s)", m, m)
		}
		return fmt.Errorf("mountpoint %s: %w: create it first", m, err)
	}

	root, err := newRoot(b)
	if err != nil {
		return fmt.Errorf("loopback of %s: %w", b, err)
	}
	to := *cache
	opts := &fs.Options{
		EntryTimeout:    &to,
		AttrTimeout:     &to,
		NegativeTimeout: &to,
		MountOptions: fuse.MountOptions{
			AllowOther:        true,
			EnableLocks:       true,
			DirectMountStrict: true,
			Name:              "rwxchaos",
			FsName:            "rwxchaos-fuse:" + *name,
			Debug:             *debug,
		},
	}
	srv, err := fs.Mount(m, root, opts)
	if err != nil {
		return fmt.Errorf("mount %s on %s: %w (needs root and /dev/fuse)", b, m, err)
	}
	if *shared {
		if err := syscall.Mount("", m, "", syscall.MS_SHARED, ""); err != nil {
			_ = unmount(srv, m)
			return fmt.Errorf("make %s shared: %w", m, err)
		}
	}
	if *ready != "" {
		rec := Ready{Pid: os.Getpid(), Name: *name, Mount: m, Backing: b, Started: time.Now().UnixNano()}
		data, _ := json.Marshal(rec)
		tmp := *ready + ".tmp"
		if err := os.WriteFile(tmp, data, 0o644); err == nil {
			err = os.Rename(tmp, *ready)
		}
		if err != nil {
			_ = unmount(srv, m)
			return fmt.Errorf("write ready file %s: %w", *ready, err)
		}
		defer os.Remove(*ready)
	}
	log.Printf("serving %s on %s (pid %d)", b, m, os.Getpid())

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	served := make(chan struct{})
	go func() { srv.Wait(); close(served) }()
	select {
	case s := <-sigs:
		log.Printf("%s: unmounting %s", s, m)
		if err := unmount(srv, m); err != nil {
			return err
		}
	case <-served:
		// Someone unmounted it (umount, or umount -l with nothing open).
		log.Printf("%s was unmounted", m)
	}
	return nil
}

// unmount tries a clean unmount; if files are still open it detaches the
// mount (umount -l) so the mountpoint is free at once, and exits anyway:
// whoever still holds a file open sees ENOTCONN, as after a server crash.
func unmount(srv *fuse.Server, m string) error {
	done := make(chan error, 1)
	go func() { done <- srv.Unmount() }()
	select {
	case err := <-done:
		if err == nil {
			return nil
		}
		log.Printf("unmount %s: %v; detaching it (umount -l)", m, err)
	case <-time.After(2 * time.Second):
		log.Printf("unmount %s is slow; detaching it (umount -l)", m)
	}
	if err := syscall.Unmount(m, syscall.MNT_DETACH); err != nil && !errors.Is(err, syscall.EINVAL) {
		return fmt.Errorf("detach %s: %w: run umount -l %s", m, err, m)
	}
	return nil
}

// newRoot is fs.NewLoopbackRoot with file handles that never use FUSE
// passthrough. With passthrough (kernel 6.9+, as root) the kernel reads and
// writes the backing file itself, so a stopped server would not stall I/O on
// open files, and the kernel's reference to the first opener's backing file
// keeps that opener's flock alive after it closed the file (a second flock
// then waits forever). Every call must go through this process.
func newRoot(backing string) (fs.InodeEmbedder, error) {
	var st syscall.Stat_t
	if err := syscall.Stat(backing, &st); err != nil {
		return nil, err
	}
	r := &fs.LoopbackRoot{Path: backing, Dev: uint64(st.Dev)}
	r.NewNode = func(rd *fs.LoopbackRoot, _ *fs.Inode, _ string, _ *syscall.Stat_t) fs.InodeEmbedder {
		return &node{LoopbackNode: fs.LoopbackNode{RootData: rd}}
	}
	r.RootNode = r.NewNode(r, nil, "", &st)
	return r.RootNode, nil
}

// node is a loopback node whose open files hide PassthroughFd.
type node struct {
	fs.LoopbackNode
}

var (
	_ fs.NodeOpener  = (*node)(nil)
	_ fs.NodeCreater = (*node)(nil)
)

func (n *node) Open(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	fh, fl, errno := n.LoopbackNode.Open(ctx, flags)
	return wrap(fh), fl, errno
}

func (n *node) Create(ctx context.Context, name string, flags, mode uint32, out *fuse.EntryOut) (*fs.Inode, fs.FileHandle, uint32, syscall.Errno) {
	in, fh, fl, errno := n.LoopbackNode.Create(ctx, name, flags, mode, out)
	return in, wrap(fh), fl, errno
}

// loopbackFile is every interface fs.LoopbackFile implements except
// fs.FilePassthroughFder.
type loopbackFile interface {
	fs.FileReleaser
	fs.FileGetattrer
	fs.FileReader
	fs.FileWriter
	fs.FileGetlker
	fs.FileSetlker
	fs.FileSetlkwer
	fs.FileLseeker
	fs.FileFlusher
	fs.FileFsyncer
	fs.FileSetattrer
	fs.FileAllocater
}

type file struct{ loopbackFile }

func wrap(fh fs.FileHandle) fs.FileHandle {
	if lf, ok := fh.(loopbackFile); ok {
		return &file{lf}
	}
	return fh
}
