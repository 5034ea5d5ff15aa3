package nfsfuse

import (
	"context"
	"errors"
	"hash/fnv"
	"io"
	"math"
	"sync"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/rwxchaos/rwxchaos/framework/nfs4"
	"github.com/rwxchaos/rwxchaos/framework/trigger"
)

// Config configures a mount.
type Config struct {
	// Client is the NFSv4 client to serve. Required.
	Client *nfs4.Client
	// MountPoint is the directory to mount on. Required.
	MountPoint string
	// Name is shown as the mount source rwxchaos-nfs:NAME.
	Name string
	// Debug logs every FUSE request.
	Debug bool
	// Logf receives notices. Default: discarded.
	Logf func(string, ...any)
	// Trigger, when set, holds the close-write, rename, unlink, fsync,
	// lock and unlock calls the runner's trigger rules name
	// (framework/trigger).
	Trigger *trigger.Hook
}

// Mount is a mounted file system.
type Mount struct {
	Server *fuse.Server
	raw    *rawFS
	dir    string
}

// New mounts the client's export on cfg.MountPoint (as root, with
// mount(2) directly: there is no fusermount). Kernel entry and attribute
// caching are off: every lookup and stat reaches the client, whose own
// attribute cache (nfs4.Config.AcRegMin...) decides, as the kernel NFS
// client would.
func New(cfg Config) (*Mount, error) {
	if cfg.Client == nil || cfg.MountPoint == "" {
		return nil, errors.New("nfsfuse: Config.Client and Config.MountPoint are required")
	}
	if cfg.Logf == nil {
		cfg.Logf = func(string, ...any) {}
	}
	fsys := &fileSystem{c: cfg.Client, logf: cfg.Logf, hook: cfg.Trigger}
	root := &node{fsys: fsys, fh: cfg.Client.Root()}
	zero := time.Duration(0)
	opts := &fs.Options{
		EntryTimeout:    &zero,
		AttrTimeout:     &zero,
		NegativeTimeout: &zero,
		MountOptions: fuse.MountOptions{
			AllowOther:        true,
			EnableLocks:       true,
			DirectMount:       true,
			DirectMountStrict: true,
			Name:              "rwxchaos-nfs",
			FsName:            "rwxchaos-nfs:" + cfg.Name,
			MaxWrite:          1 << 20,
			MaxReadAhead:      1 << 20,
			Debug:             cfg.Debug,
			// Without READDIRPLUS the kernel looks names up only when
			// it needs them (an ls does not stat every entry).
			DisableReadDirPlus: true,
		},
	}
	raw := &rawFS{RawFileSystem: fs.NewNodeFS(root, opts)}
	fsys.raw = raw
	srv, err := fuse.NewServer(raw, cfg.MountPoint, &opts.MountOptions)
	if err != nil {
		return nil, err
	}
	go srv.Serve()
	if err := srv.WaitMount(); err != nil {
		return nil, err
	}
	return &Mount{Server: srv, raw: raw, dir: cfg.MountPoint}, nil
}

// Unmount unmounts; if files are still open it detaches the mount
// (umount -l) so the mountpoint is free at once.
func (m *Mount) Unmount() error {
	done := make(chan error, 1)
	go func() { done <- m.Server.Unmount() }()
	select {
	case err := <-done:
		if err == nil {
			return nil
		}
	case <-time.After(2 * time.Second):
	}
	if err := syscall.Unmount(m.dir, syscall.MNT_DETACH); err != nil && !errors.Is(err, syscall.EINVAL) {
		return err
	}
	return nil
}

// rawFS wraps the node file system to hand the lock owner of FLUSH and
// RELEASE to the file handle: go-fuse's high-level Flush and Release
// callbacks do not carry it, but the kernel releases POSIX locks with the
// owner of FLUSH and flocks with the owner of RELEASE
// (FUSE_RELEASE_FLOCK_UNLOCK). The owner is keyed by the request's
// cancel channel, which go-fuse passes on unchanged in fuse.Context and
// which is unique among requests in flight.
type rawFS struct {
	fuse.RawFileSystem
	reqs sync.Map // <-chan struct{} -> reqOwner
}

type reqOwner struct {
	owner        uint64
	releaseFlags uint32
}

func (r *rawFS) Flush(cancel <-chan struct{}, in *fuse.FlushIn) fuse.Status {
	if cancel != nil {
		r.reqs.Store(cancel, reqOwner{owner: in.LockOwner})
		defer r.reqs.Delete(cancel)
	}
	return r.RawFileSystem.Flush(cancel, in)
}

func (r *rawFS) Release(cancel <-chan struct{}, in *fuse.ReleaseIn) {
	if cancel != nil {
		r.reqs.Store(cancel, reqOwner{owner: in.LockOwner, releaseFlags: in.ReleaseFlags})
		defer r.reqs.Delete(cancel)
	}
	r.RawFileSystem.Release(cancel, in)
}

func (r *rawFS) owner(ctx context.Context) (reqOwner, bool) {
	fc, ok := ctx.(*fuse.Context)
	if !ok || fc.Cancel == nil {
		return reqOwner{}, false
	}
	v, ok := r.reqs.Load(fc.Cancel)
	if !ok {
		return reqOwner{}, false
	}
	return v.(reqOwner), true
}

type fileSystem struct {
	hook *trigger.Hook
	c    *nfs4.Client
	raw  *rawFS
	logf func(string, ...any)
}

// node is a file or directory, named by its NFS file handle.
type node struct {
	fs.Inode
	fsys *fileSystem
	fh   nfs4.FH
}

var (
	_ fs.NodeLookuper   = (*node)(nil)
	_ fs.NodeGetattrer  = (*node)(nil)
	_ fs.NodeSetattrer  = (*node)(nil)
	_ fs.NodeOpener     = (*node)(nil)
	_ fs.NodeCreater    = (*node)(nil)
	_ fs.NodeMkdirer    = (*node)(nil)
	_ fs.NodeUnlinker   = (*node)(nil)
	_ fs.NodeRmdirer    = (*node)(nil)
	_ fs.NodeRenamer    = (*node)(nil)
	_ fs.NodeReaddirer  = (*node)(nil)
	_ fs.NodeStatfser   = (*node)(nil)
	_ fs.NodeSymlinker  = (*node)(nil)
	_ fs.NodeReadlinker = (*node)(nil)
	_ fs.NodeLinker     = (*node)(nil)
	_ fs.NodeGetlker    = (*node)(nil)
	_ fs.NodeSetlker    = (*node)(nil)
	_ fs.NodeSetlkwer   = (*node)(nil)
	_ fs.NodeFsyncer    = (*node)(nil)
)

// cred is the caller's identity, sent as AUTH_SYS (without supplementary
// groups: FUSE does not pass them).
func cred(ctx context.Context) nfs4.Cred {
	if fc, ok := ctx.(*fuse.Context); ok {
		return nfs4.Cred{Uid: fc.Caller.Uid, Gid: fc.Caller.Gid}
	}
	return nfs4.Root
}

func errno(err error) syscall.Errno {
	if err == nil {
		return 0
	}
	return nfs4.Errno(err)
}

// ioErrno is errno for data operations, logging why an EIO happened: the
// application sees only EIO.
func (h *handle) ioErrno(op string, err error) syscall.Errno {
	e := errno(err)
	if e == syscall.EIO {
		h.n.fsys.logf("%s on file %x: EIO: %v", op, []byte(h.f.FH()), err)
	}
	return e
}

// stable gives go-fuse the identity of a file: its fileid as inode
// number, and a hash of its handle as generation, so a new file that
// reuses a deleted file's fileid gets a new inode.
func stable(a nfs4.Attr, fh nfs4.FH) fs.StableAttr {
	h := fnv.New64a()
	_, _ = h.Write([]byte(fh))
	return fs.StableAttr{Mode: a.StatMode() & syscall.S_IFMT, Ino: a.FileID, Gen: h.Sum64()}
}

func fillAttr(a nfs4.Attr, out *fuse.Attr) {
	out.Ino = a.FileID
	out.Size = a.Size
	out.Blocks = (a.Used + 511) / 512
	out.Mode = a.StatMode()
	out.Nlink = a.Nlink
	out.Owner = fuse.Owner{Uid: a.Uid, Gid: a.Gid}
	out.Rdev = uint32(a.Rdev)
	out.Blksize = 4096
	out.SetTimes(&a.Atime, &a.Mtime, &a.Ctime)
}

func (n *node) newChild(ctx context.Context, fh nfs4.FH, a nfs4.Attr, out *fuse.EntryOut) *fs.Inode {
	fillAttr(a, &out.Attr)
	child := &node{fsys: n.fsys, fh: fh}
	return n.NewInode(ctx, child, stable(a, fh))
}

func (n *node) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	cr := cred(ctx)
	ctx, done := killable(ctx)
	defer done()
	fh, a, err := n.fsys.c.Lookup(ctx, cr, n.fh, name)
	if err != nil {
		return nil, errno(err)
	}
	return n.newChild(ctx, fh, a, out), 0
}

func (n *node) Getattr(ctx context.Context, f fs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	cr := cred(ctx)
	ctx, done := killable(ctx)
	defer done()
	// The kernel revalidates attributes through the open file before a
	// read from its page cache: failing here makes a read of a file
	// whose state was lost fail with EIO even when its pages are cached.
	if h, ok := f.(*handle); ok && h.f.Lost() {
		return syscall.EIO
	}
	a, err := n.fsys.c.Getattr(ctx, cr, n.fh)
	if err != nil {
		return errno(err)
	}
	fillAttr(a, &out.Attr)
	return 0
}

func (n *node) Setattr(ctx context.Context, f fs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	cr := cred(ctx)
	ctx, done := killable(ctx)
	defer done()
	var s nfs4.SetAttr
	if m, ok := in.GetMode(); ok {
		m &= 07777
		s.Mode = &m
	}
	if u, ok := in.GetUID(); ok {
		s.Uid = &u
	}
	if g, ok := in.GetGID(); ok {
		s.Gid = &g
	}
	if sz, ok := in.GetSize(); ok {
		s.Size = &sz
	}
	if in.Valid&fuse.FATTR_ATIME_NOW != 0 {
		s.AtimeNow = true
	} else if t, ok := in.GetATime(); ok {
		s.Atime = &t
	}
	if in.Valid&fuse.FATTR_MTIME_NOW != 0 {
		s.MtimeNow = true
	} else if t, ok := in.GetMTime(); ok {
		s.Mtime = &t
	}
	var a nfs4.Attr
	var err error
	if h, ok := f.(*handle); ok && s.Size != nil {
		a, err = h.f.Setattr(ctx, &s)
	} else {
		a, err = n.fsys.c.Setattr(ctx, cr, n.fh, &s)
	}
	if err != nil {
		return errno(err)
	}
	fillAttr(a, &out.Attr)
	return 0
}

func accessOf(flags uint32) uint32 {
	switch flags & syscall.O_ACCMODE {
	case syscall.O_WRONLY:
		return nfs4.AccessWrite
	case syscall.O_RDWR:
		return nfs4.AccessReadWrite
	}
	return nfs4.AccessRead
}

func (n *node) Open(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	cr := cred(ctx)
	ctx, done := killable(ctx)
	defer done()
	f, _, err := n.fsys.c.Open(ctx, cr, n.fh, accessOf(flags))
	if err != nil {
		return nil, 0, errno(err)
	}
	// No FOPEN_KEEP_CACHE: the kernel drops this file's cached pages at
	// every open (close-to-open consistency).
	return &handle{n: n, f: f, writable: flags&syscall.O_ACCMODE != syscall.O_RDONLY}, 0, 0
}

func (n *node) Create(ctx context.Context, name string, flags uint32, mode uint32, out *fuse.EntryOut) (*fs.Inode, fs.FileHandle, uint32, syscall.Errno) {
	cr := cred(ctx)
	ctx, done := killable(ctx)
	defer done()
	how := nfs4.CreateUnchecked
	if flags&syscall.O_EXCL != 0 {
		how = nfs4.CreateGuarded
	}
	m := mode & 07777
	f, fh, a, err := n.fsys.c.Create(ctx, cr, n.fh, name, how, &nfs4.SetAttr{Mode: &m}, accessOf(flags))
	if err != nil {
		return nil, nil, 0, errno(err)
	}
	child := n.newChild(ctx, fh, a, out)
	return child, &handle{n: child.Operations().(*node), f: f, writable: flags&syscall.O_ACCMODE != syscall.O_RDONLY}, 0, 0
}

func (n *node) Mkdir(ctx context.Context, name string, mode uint32, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	cr := cred(ctx)
	ctx, done := killable(ctx)
	defer done()
	fh, a, err := n.fsys.c.Mkdir(ctx, cr, n.fh, name, mode)
	if err != nil {
		return nil, errno(err)
	}
	return n.newChild(ctx, fh, a, out), 0
}

func (n *node) Symlink(ctx context.Context, target, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	cr := cred(ctx)
	ctx, done := killable(ctx)
	defer done()
	fh, a, err := n.fsys.c.Symlink(ctx, cr, n.fh, name, target)
	if err != nil {
		return nil, errno(err)
	}
	return n.newChild(ctx, fh, a, out), 0
}

func (n *node) Readlink(ctx context.Context) ([]byte, syscall.Errno) {
	cr := cred(ctx)
	ctx, done := killable(ctx)
	defer done()
	s, err := n.fsys.c.Readlink(ctx, cr, n.fh)
	if err != nil {
		return nil, errno(err)
	}
	return []byte(s), 0
}

func (n *node) Link(ctx context.Context, target fs.InodeEmbedder, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	cr := cred(ctx)
	ctx, done := killable(ctx)
	defer done()
	t, ok := target.(*node)
	if !ok {
		return nil, syscall.EXDEV
	}
	a, err := n.fsys.c.Link(ctx, cr, t.fh, n.fh, name)
	if err != nil {
		return nil, errno(err)
	}
	return n.newChild(ctx, t.fh, a, out), 0
}

func (n *node) Unlink(ctx context.Context, name string) syscall.Errno {
	if h := n.fsys.hook; h.Wants(trigger.OpUnlink) {
		return h.Do(trigger.OpUnlink, n.child(name), "", callerTid(ctx), func() syscall.Errno { return n.unlink(ctx, name) })
	}
	return n.unlink(ctx, name)
}

func (n *node) unlink(ctx context.Context, name string) syscall.Errno {
	cr := cred(ctx)
	ctx, done := killable(ctx)
	defer done()
	return errno(n.fsys.c.Remove(ctx, cr, n.fh, name))
}

func (n *node) Rmdir(ctx context.Context, name string) syscall.Errno {
	cr := cred(ctx)
	ctx, done := killable(ctx)
	defer done()
	return errno(n.fsys.c.Remove(ctx, cr, n.fh, name))
}

func (n *node) Rename(ctx context.Context, name string, newParent fs.InodeEmbedder, newName string, flags uint32) syscall.Errno {
	if h := n.fsys.hook; h.Wants(trigger.OpRename) {
		to := newName
		if p := newParent.EmbeddedInode().Path(n.Root()); p != "" {
			to = p + "/" + newName
		}
		return h.Do(trigger.OpRename, n.child(name), to, callerTid(ctx), func() syscall.Errno { return n.rename(ctx, name, newParent, newName, flags) })
	}
	return n.rename(ctx, name, newParent, newName, flags)
}

func (n *node) rename(ctx context.Context, name string, newParent fs.InodeEmbedder, newName string, flags uint32) syscall.Errno {
	cr := cred(ctx)
	ctx, done := killable(ctx)
	defer done()
	if flags != 0 {
		return syscall.EINVAL // no RENAME_NOREPLACE/EXCHANGE over NFSv4, as on Linux
	}
	np, ok := newParent.(*node)
	if !ok {
		return syscall.EXDEV
	}
	return errno(n.fsys.c.Rename(ctx, cr, n.fh, name, np.fh, newName))
}

func (n *node) Readdir(ctx context.Context) (fs.DirStream, syscall.Errno) {
	cr := cred(ctx)
	ctx, done := killable(ctx)
	defer done()
	ents, err := n.fsys.c.ReadDir(ctx, cr, n.fh)
	if err != nil {
		return nil, errno(err)
	}
	// NFSv4 READDIR has no "." and ".."; the kernel client adds them.
	list := make([]fuse.DirEntry, 0, len(ents)+2)
	list = append(list, fuse.DirEntry{Name: ".", Ino: n.StableAttr().Ino, Mode: syscall.S_IFDIR},
		fuse.DirEntry{Name: "..", Mode: syscall.S_IFDIR})
	for _, e := range ents {
		list = append(list, fuse.DirEntry{Name: e.Name, Ino: e.Attr.FileID, Mode: e.Attr.StatMode() & syscall.S_IFMT})
	}
	return fs.NewListDirStream(list), 0
}

func (n *node) Statfs(ctx context.Context, out *fuse.StatfsOut) syscall.Errno {
	cr := cred(ctx)
	ctx, done := killable(ctx)
	defer done()
	s, err := n.fsys.c.Statfs(ctx, cr)
	if err != nil {
		return errno(err)
	}
	const bs = 4096
	out.Bsize = bs
	out.Frsize = bs
	out.Blocks = s.SpaceTotal / bs
	out.Bfree = s.SpaceFree / bs
	out.Bavail = s.SpaceAvail / bs
	out.Files = s.FilesTotal
	out.Ffree = s.FilesFree
	out.NameLen = 255
	return 0
}

// lockRange turns a FUSE lock (inclusive end, OFFSET_MAX for "to EOF")
// into an NFSv4 offset and length.
func lockRange(lk *fuse.FileLock) (uint64, uint64) {
	if lk.End >= math.MaxInt64 || lk.End < lk.Start {
		return lk.Start, nfs4.ToEOF
	}
	return lk.Start, lk.End - lk.Start + 1
}

func (n *node) Getlk(ctx context.Context, f fs.FileHandle, owner uint64, lk *fuse.FileLock, flags uint32, out *fuse.FileLock) syscall.Errno {
	ctx, done := killable(ctx)
	defer done()
	h, ok := f.(*handle)
	if !ok {
		return syscall.EBADF
	}
	start, length := lockRange(lk)
	c, err := h.f.TestLock(ctx, owner, lk.Typ == syscall.F_WRLCK, start, length)
	if err != nil {
		return errno(err)
	}
	if c == nil {
		*out = fuse.FileLock{Typ: syscall.F_UNLCK}
		return 0
	}
	end := uint64(math.MaxInt64)
	if c.Length != nfs4.ToEOF && c.Start+c.Length-1 < math.MaxInt64 {
		end = c.Start + c.Length - 1
	}
	typ := uint32(syscall.F_RDLCK)
	if c.Write {
		typ = syscall.F_WRLCK
	}
	*out = fuse.FileLock{Start: c.Start, End: end, Typ: typ}
	return 0
}

func (n *node) Setlk(ctx context.Context, f fs.FileHandle, owner uint64, lk *fuse.FileLock, flags uint32) syscall.Errno {
	return n.setlk(ctx, f, owner, lk, false)
}

func (n *node) Setlkw(ctx context.Context, f fs.FileHandle, owner uint64, lk *fuse.FileLock, flags uint32) syscall.Errno {
	return n.setlk(ctx, f, owner, lk, true)
}

// setlk maps flock and POSIX locks to NFSv4 byte-range locks, one NFSv4
// lock-owner per FUSE lock owner (a flock's open file, a POSIX lock's
// process). Like Linux's NFS client, flock locks are whole-file NFSv4
// locks, so flock and POSIX locks conflict with each other over NFS.
func (n *node) setlk(ctx context.Context, f fs.FileHandle, owner uint64, lk *fuse.FileLock, wait bool) syscall.Errno {
	op := trigger.OpLock
	if lk.Typ == syscall.F_UNLCK {
		op = trigger.OpUnlock
	}
	if hk := n.fsys.hook; hk.Wants(op) {
		return hk.Do(op, n.Path(n.Root()), "", callerTid(ctx), func() syscall.Errno { return n.setlk1(ctx, f, owner, lk, wait) })
	}
	return n.setlk1(ctx, f, owner, lk, wait)
}

func (n *node) setlk1(ctx context.Context, f fs.FileHandle, owner uint64, lk *fuse.FileLock, wait bool) syscall.Errno {
	h, ok := f.(*handle)
	if !ok {
		return syscall.EBADF
	}
	start, length := lockRange(lk)
	var err error
	switch lk.Typ {
	case syscall.F_UNLCK:
		err = h.f.Unlock(ctx, owner, start, length)
	case syscall.F_RDLCK, syscall.F_WRLCK:
		err = h.f.Lock(ctx, owner, lk.Typ == syscall.F_WRLCK, start, length, wait)
	default:
		return syscall.EINVAL
	}
	return errno(err)
}

// handle is an open file.
type handle struct {
	n        *node
	f        *nfs4.File
	writable bool // opened for writing: its close is a close-write
}

var (
	_ fs.FileReader   = (*handle)(nil)
	_ fs.FileWriter   = (*handle)(nil)
	_ fs.FileFlusher  = (*handle)(nil)
	_ fs.FileFsyncer  = (*handle)(nil)
	_ fs.FileReleaser = (*handle)(nil)
)

func (h *handle) Read(ctx context.Context, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	ctx, done := killable(ctx)
	defer done()
	n, err := h.f.ReadAt(ctx, dest, off)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, h.ioErrno("read", err)
	}
	return fuse.ReadResultData(dest[:n]), 0
}

func (h *handle) Write(ctx context.Context, data []byte, off int64) (uint32, syscall.Errno) {
	ctx, done := killable(ctx)
	defer done()
	n, err := h.f.WriteAt(ctx, data, off)
	if err != nil {
		return uint32(n), h.ioErrno("write", err)
	}
	return uint32(n), 0
}

// Flush runs at every close(2) of a descriptor of this open file: the
// closing process's POSIX locks on the file are released (the kernel's
// lock owner of FLUSH) and written data is committed, as the NFS client
// does on close (close-to-open).
func (h *handle) Flush(ctx context.Context) syscall.Errno {
	if hk := h.n.fsys.hook; h.writable && hk.Wants(trigger.OpCloseWrite) {
		return hk.Do(trigger.OpCloseWrite, h.n.Path(h.n.Root()), "", callerTid(ctx), func() syscall.Errno { return h.flush(ctx) })
	}
	return h.flush(ctx)
}

func (h *handle) flush(ctx context.Context) syscall.Errno {
	o, ok := h.n.fsys.raw.owner(ctx) // before ctx is replaced
	ctx, done := killable(ctx)
	defer done()
	if ok {
		if err := h.f.ReleaseOwner(ctx, o.owner); err != nil {
			h.n.fsys.logf("flush: release POSIX locks of owner %x: %v", o.owner, err)
		}
	} else {
		h.n.fsys.logf("flush: lock owner unknown (go-fuse internals changed?): POSIX locks of the closing process stay held")
	}
	return h.ioErrno("flush", h.f.Flush(ctx))
}

// Fsync of a node without one of our open-file handles: a directory
// (FSYNCDIR) or a file synced through another path. NFS servers make
// CREATE, REMOVE, RENAME and the other directory operations stable before
// they reply, so there is nothing to send, and Linux's NFS client answers
// fsync on a directory with success too (nfs_fsync_dir). Programs that fsync
// a directory after a rename (the pipeline does) rely on that: EOPNOTSUPP
// would fail them where a kernel mount would not.
func (n *node) Fsync(ctx context.Context, f fs.FileHandle, flags uint32) syscall.Errno {
	if h, ok := f.(*handle); ok {
		return h.Fsync(ctx, flags)
	}
	return 0
}

func (h *handle) Fsync(ctx context.Context, flags uint32) syscall.Errno {
	if hk := h.n.fsys.hook; hk.Wants(trigger.OpFsync) {
		return hk.Do(trigger.OpFsync, h.n.Path(h.n.Root()), "", callerTid(ctx), func() syscall.Errno { return h.fsync(ctx) })
	}
	return h.fsync(ctx)
}

func (h *handle) fsync(ctx context.Context) syscall.Errno {
	ctx, done := killable(ctx)
	defer done()
	return h.ioErrno("fsync", h.f.Sync(ctx))
}

// Release runs when the last descriptor of the open file is gone: its
// flock is released (FUSE_RELEASE_FLOCK_UNLOCK with the flock's owner)
// and the open is closed.
func (h *handle) Release(ctx context.Context) syscall.Errno {
	if o, ok := h.n.fsys.raw.owner(ctx); ok && o.releaseFlags&fuse.FUSE_RELEASE_FLOCK_UNLOCK != 0 {
		if err := h.f.ReleaseOwner(context.Background(), o.owner); err != nil {
			h.n.fsys.logf("release: flock of owner %x: %v", o.owner, err)
		}
	}
	return errno(h.f.Close())
}

// NFSv4.1 has no extended attributes: ENOSYS tells the kernel so once
// (it then answers EOPNOTSUPP itself, as Linux's NFSv4.1 client does)
// instead of asking at every write for security.capability.
func (n *node) Getxattr(ctx context.Context, attr string, dest []byte) (uint32, syscall.Errno) {
	return 0, syscall.ENOSYS
}

func (n *node) Setxattr(ctx context.Context, attr string, data []byte, flags uint32) syscall.Errno {
	return syscall.ENOSYS
}

func (n *node) Listxattr(ctx context.Context, dest []byte) (uint32, syscall.Errno) {
	return 0, syscall.ENOSYS
}

func (n *node) Removexattr(ctx context.Context, attr string) syscall.Errno {
	return syscall.ENOSYS
}

// callerTid is the calling thread as the kernel names it (0 unknown).
func callerTid(ctx context.Context) uint32 {
	if c, ok := fuse.FromContext(ctx); ok {
		return c.Pid
	}
	return 0
}

// child is the path of name in directory n, relative to the mount root.
func (n *node) child(name string) string {
	if p := n.Path(n.Root()); p != "" {
		return p + "/" + name
	}
	return name
}
