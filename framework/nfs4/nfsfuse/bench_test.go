package nfsfuse_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// BenchmarkThroughput compares, in one run, the userspace NFS client's
// mount (a mount process talking to ganesha on loopback), a go-fuse
// loopback mount like cmd/rwxchaos-fuse (no passthrough, no caching), and
// the local disk the other two store on:
//
//	go test -run '^$' -bench Throughput -benchtime 3x ./framework/nfs4/nfsfuse/
//
// seq-write-fsync writes 32 MiB in 1 MiB writes and fsyncs (MB/s);
// small-files creates a file, writes 4 KiB, closes it and renames it
// (files/s).
func BenchmarkThroughput(b *testing.B) {
	needFUSE(b)
	srv := startServer(b)
	nfs := startMount(b, srv, "bench")
	targets := []struct{ name, dir string }{
		{"nfs", nfs.path("")},
		{"fuse-loopback", loopbackMount(b)},
		{"local", b.TempDir()},
	}
	for _, tg := range targets {
		b.Run("seq-write-fsync/"+tg.name, func(b *testing.B) { seqWriteFsync(b, tg.dir) })
	}
	for _, tg := range targets {
		b.Run("small-files/"+tg.name, func(b *testing.B) { smallFiles(b, tg.dir) })
	}
	b.Logf("nfs client counters after the run: %+v", nfs.clientStats())
}

func seqWriteFsync(b *testing.B, dir string) {
	const total, chunk = 32 << 20, 1 << 20
	buf := make([]byte, chunk)
	for i := range buf {
		buf[i] = byte(i)
	}
	b.SetBytes(total)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		p := filepath.Join(dir, fmt.Sprintf("seq-%d", i))
		f, err := os.Create(p)
		if err != nil {
			b.Fatal(err)
		}
		for off := 0; off < total; off += chunk {
			if _, err := f.Write(buf); err != nil {
				b.Fatal(err)
			}
		}
		if err := f.Sync(); err != nil {
			b.Fatal(err)
		}
		if err := f.Close(); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		_ = os.Remove(p)
		b.StartTimer()
	}
}

func smallFiles(b *testing.B, dir string) {
	d := filepath.Join(dir, fmt.Sprintf("small-%d", time.Now().UnixNano()))
	if err := os.Mkdir(d, 0o755); err != nil {
		b.Fatal(err)
	}
	data := make([]byte, 4096)
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		tmp := filepath.Join(d, fmt.Sprintf(".tmp-%d", i))
		f, err := os.Create(tmp)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := f.Write(data); err != nil {
			b.Fatal(err)
		}
		if err := f.Close(); err != nil {
			b.Fatal(err)
		}
		if err := os.Rename(tmp, filepath.Join(d, fmt.Sprintf("file-%d", i))); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "files/s")
}

// loopbackMount mounts a go-fuse loopback of a temporary directory the way
// cmd/rwxchaos-fuse does (kernel caching off, locks forwarded, every call
// through the server: no passthrough).
func loopbackMount(b *testing.B) string {
	backing := b.TempDir()
	mnt := b.TempDir()
	var st syscall.Stat_t
	if err := syscall.Stat(backing, &st); err != nil {
		b.Fatal(err)
	}
	r := &fs.LoopbackRoot{Path: backing, Dev: uint64(st.Dev)}
	r.NewNode = func(rd *fs.LoopbackRoot, _ *fs.Inode, _ string, _ *syscall.Stat_t) fs.InodeEmbedder {
		return &noPassthroughNode{LoopbackNode: fs.LoopbackNode{RootData: rd}}
	}
	r.RootNode = r.NewNode(r, nil, "", &st)
	zero := time.Duration(0)
	srv, err := fs.Mount(mnt, r.RootNode, &fs.Options{EntryTimeout: &zero, AttrTimeout: &zero, NegativeTimeout: &zero,
		MountOptions: fuse.MountOptions{AllowOther: true, EnableLocks: true, DirectMountStrict: true, Name: "rwxchaos", FsName: "bench-loopback"}})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		if err := srv.Unmount(); err != nil {
			_ = syscall.Unmount(mnt, syscall.MNT_DETACH)
		}
	})
	return mnt
}

type noPassthroughNode struct{ fs.LoopbackNode }

type loopbackFile interface {
	fs.FileReleaser
	fs.FileGetattrer
	fs.FileReader
	fs.FileWriter
	fs.FileFlusher
	fs.FileFsyncer
	fs.FileSetattrer
}

type noPassthroughFile struct{ loopbackFile }

func hide(fh fs.FileHandle) fs.FileHandle {
	if lf, ok := fh.(loopbackFile); ok {
		return &noPassthroughFile{lf}
	}
	return fh
}

func (n *noPassthroughNode) Open(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	fh, fl, errno := n.LoopbackNode.Open(ctx, flags)
	return hide(fh), fl, errno
}

func (n *noPassthroughNode) Create(ctx context.Context, name string, flags, mode uint32, out *fuse.EntryOut) (*fs.Inode, fs.FileHandle, uint32, syscall.Errno) {
	in, fh, fl, errno := n.LoopbackNode.Create(ctx, name, flags, mode, out)
	return in, hide(fh), fl, errno
}
