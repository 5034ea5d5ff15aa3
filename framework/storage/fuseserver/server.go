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
//	                [--trigger SOCKET]
//
// With --ready FILE, once the mount serves it writes FILE with a JSON record
// {pid, name, mount, backing, started} and removes it again on a clean exit.
//
// With --trigger SOCKET it dials the runner's trigger controller (package
// framework/trigger) and holds the close-write, rename, unlink, fsync, lock
// and unlock calls its rules name until the runner releases them: faults
// aimed at what the application does on the volume. Without a controller
// (not there yet, or gone) every call is served at once.
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

	"github.com/rwxchaos/rwxchaos/framework/procid"
	"github.com/rwxchaos/rwxchaos/framework/trigger"
)

// Ready is the record written to --ready once the mount serves.
type Ready struct {
	Pid int `json:"pid"`
	// StartTicks is this process's start time (procid): cleanup signals
	// Pid only while it still matches.
	StartTicks uint64 `json:"startTicks"`
	Name       string `json:"name"`
	Mount      string `json:"mount"`
	Backing    string `json:"backing"`
	Started    int64  `json:"started"` // Unix ns
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
	trig := fl.String("trigger", "", "unix socket of the runner's trigger controller: hold the calls its rules name until released")
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

	var hook *trigger.Hook
	if *trig != "" {
		if hook, err = trigger.NewHook(trigger.HookConfig{Socket: *trig, Server: *name, Logf: log.Printf}); err != nil {
			return err
		}
		// After the unmount: held calls are released, nothing waits on us.
		defer hook.Close()
	}
	root, err := newRoot(b, hook)
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
		me := procid.Self()
		rec := Ready{Pid: me.Pid, StartTicks: me.Start, Name: *name, Mount: m, Backing: b, Started: time.Now().UnixNano()}
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
//
// hook (nil: none) sees the calls a trigger rule can name.
func newRoot(backing string, hook *trigger.Hook) (fs.InodeEmbedder, error) {
	var st syscall.Stat_t
	if err := syscall.Stat(backing, &st); err != nil {
		return nil, err
	}
	r := &fs.LoopbackRoot{Path: backing, Dev: uint64(st.Dev)}
	r.NewNode = func(rd *fs.LoopbackRoot, _ *fs.Inode, _ string, _ *syscall.Stat_t) fs.InodeEmbedder {
		return &node{LoopbackNode: fs.LoopbackNode{RootData: rd}, hook: hook}
	}
	r.RootNode = r.NewNode(r, nil, "", &st)
	return r.RootNode, nil
}

// node is a loopback node whose open files hide PassthroughFd and whose
// triggerable calls go through the hook.
type node struct {
	fs.LoopbackNode
	hook *trigger.Hook
}

var (
	_ fs.NodeOpener         = (*node)(nil)
	_ fs.NodeCreater        = (*node)(nil)
	_ fs.NodeRenamer        = (*node)(nil)
	_ fs.NodeUnlinker       = (*node)(nil)
	_ fs.NodeOpendirHandler = (*node)(nil)
)

// tid is the calling thread as the kernel reports it (0 when unknown).
func tid(ctx context.Context) uint32 {
	if c, ok := fuse.FromContext(ctx); ok {
		return c.Pid
	}
	return 0
}

// pathOf is the path of in relative to the served root.
func pathOf(in *fs.Inode) string { return in.Path(in.Root()) }

func (n *node) child(name string) string {
	if p := pathOf(n.EmbeddedInode()); p != "" {
		return p + "/" + name
	}
	return name
}

func (n *node) Open(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	fh, fl, errno := n.LoopbackNode.Open(ctx, flags)
	return n.wrap(fh, flags), fl, errno
}

func (n *node) Create(ctx context.Context, name string, flags, mode uint32, out *fuse.EntryOut) (*fs.Inode, fs.FileHandle, uint32, syscall.Errno) {
	in, fh, fl, errno := n.LoopbackNode.Create(ctx, name, flags, mode, out)
	return in, wrapIn(fh, in, flags, n.hook), fl, errno
}

func (n *node) Rename(ctx context.Context, name string, newParent fs.InodeEmbedder, newName string, flags uint32) syscall.Errno {
	if !n.hook.Wants(trigger.OpRename) {
		return n.LoopbackNode.Rename(ctx, name, newParent, newName, flags)
	}
	to := newName
	if p := pathOf(newParent.EmbeddedInode()); p != "" {
		to = p + "/" + newName
	}
	return n.hook.Do(trigger.OpRename, n.child(name), to, tid(ctx), func() syscall.Errno {
		return n.LoopbackNode.Rename(ctx, name, newParent, newName, flags)
	})
}

func (n *node) Unlink(ctx context.Context, name string) syscall.Errno {
	if !n.hook.Wants(trigger.OpUnlink) {
		return n.LoopbackNode.Unlink(ctx, name)
	}
	return n.hook.Do(trigger.OpUnlink, n.child(name), "", tid(ctx), func() syscall.Errno {
		return n.LoopbackNode.Unlink(ctx, name)
	})
}

func (n *node) OpendirHandle(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	fh, fl, errno := n.LoopbackNode.OpendirHandle(ctx, flags)
	if d, ok := fh.(loopbackDir); ok && n.hook != nil {
		return &dir{loopbackDir: d, in: n.EmbeddedInode(), hook: n.hook}, fl, errno
	}
	return fh, fl, errno
}

func (n *node) wrap(fh fs.FileHandle, flags uint32) fs.FileHandle {
	return wrapIn(fh, n.EmbeddedInode(), flags, n.hook)
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

// file is an open file: the loopback's, with the triggerable calls
// (close-write, fsync, lock, unlock) going through the hook. The path is
// the inode's at the time of the call (it follows renames).
type file struct {
	loopbackFile
	in       *fs.Inode
	writable bool
	hook     *trigger.Hook
}

func wrapIn(fh fs.FileHandle, in *fs.Inode, flags uint32, hook *trigger.Hook) fs.FileHandle {
	if lf, ok := fh.(loopbackFile); ok {
		return &file{loopbackFile: lf, in: in, writable: flags&syscall.O_ACCMODE != syscall.O_RDONLY, hook: hook}
	}
	return fh
}

func (f *file) path() string {
	if f.in == nil {
		return ""
	}
	return pathOf(f.in)
}

// Flush is sent on every close(2) of a descriptor; for one opened for
// writing it is the close-write the application waits for.
func (f *file) Flush(ctx context.Context) syscall.Errno {
	if !f.writable || !f.hook.Wants(trigger.OpCloseWrite) {
		return f.loopbackFile.Flush(ctx)
	}
	return f.hook.Do(trigger.OpCloseWrite, f.path(), "", tid(ctx), func() syscall.Errno { return f.loopbackFile.Flush(ctx) })
}

func (f *file) Fsync(ctx context.Context, flags uint32) syscall.Errno {
	if !f.hook.Wants(trigger.OpFsync) {
		return f.loopbackFile.Fsync(ctx, flags)
	}
	return f.hook.Do(trigger.OpFsync, f.path(), "", tid(ctx), func() syscall.Errno { return f.loopbackFile.Fsync(ctx, flags) })
}

func lockOp(lk *fuse.FileLock) trigger.Op {
	if lk.Typ == syscall.F_UNLCK {
		return trigger.OpUnlock
	}
	return trigger.OpLock
}

func (f *file) Setlk(ctx context.Context, owner uint64, lk *fuse.FileLock, flags uint32) syscall.Errno {
	if !f.hook.Wants(lockOp(lk)) {
		return f.loopbackFile.Setlk(ctx, owner, lk, flags)
	}
	return f.hook.Do(lockOp(lk), f.path(), "", tid(ctx), func() syscall.Errno { return f.loopbackFile.Setlk(ctx, owner, lk, flags) })
}

func (f *file) Setlkw(ctx context.Context, owner uint64, lk *fuse.FileLock, flags uint32) syscall.Errno {
	if !f.hook.Wants(lockOp(lk)) {
		return f.loopbackFile.Setlkw(ctx, owner, lk, flags)
	}
	return f.hook.Do(lockOp(lk), f.path(), "", tid(ctx), func() syscall.Errno { return f.loopbackFile.Setlkw(ctx, owner, lk, flags) })
}

// loopbackDir is every interface the loopback's directory handle implements.
type loopbackDir interface {
	fs.DirStream
	fs.FileReleasedirer
	fs.FileSeekdirer
	fs.FileFsyncdirer
	fs.FileReaddirenter
	fs.FileIoctler
}

// dir is an open directory whose fsync goes through the hook.
type dir struct {
	loopbackDir
	in   *fs.Inode
	hook *trigger.Hook
}

func (d *dir) Fsyncdir(ctx context.Context, flags uint32) syscall.Errno {
	if !d.hook.Wants(trigger.OpFsync) {
		return d.loopbackDir.Fsyncdir(ctx, flags)
	}
	return d.hook.Do(trigger.OpFsync, pathOf(d.in), "", tid(ctx), func() syscall.Errno { return d.loopbackDir.Fsyncdir(ctx, flags) })
}
