package nfsfuse_test

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"
)

var (
	fsxOps  = flag.Int("nfs.fsx.ops", 400, "operations of the fsx-style random test (e.g. -nfs.fsx.ops=20000 for a long run)")
	fsxSeed = flag.Int64("nfs.fsx.seed", 0, "seed of the fsx-style random test (0: from the clock; printed on failure)")
)

// fsx runs the same random operations on the FUSE mount and on a local
// reference directory and compares every result (data, sizes, names,
// errors); every few operations a second client reads a closed file back
// (close-to-open). On failure it prints the seed and the operation log.
type fsx struct {
	t        *testing.T
	rng      *rand.Rand
	seed     int64
	nfs, ref string
	other    string // the same directory through the second client
	log      []string
	open     map[string]*fsxFile // by relative path
}

type fsxFile struct {
	nfs, ref *os.File
}

func TestFsxRandomOperationsMatchLocalReference(t *testing.T) {
	srv := startServer(t)
	a := startMount(t, srv, "fsx-a")
	b := startMount(t, srv, "fsx-b")
	seed := *fsxSeed
	if seed == 0 {
		seed = time.Now().UnixNano()
	}
	x := &fsx{t: t, rng: rand.New(rand.NewSource(seed)), seed: seed,
		nfs: a.path("fsx"), ref: filepath.Join(t.TempDir(), "fsx"), other: b.path("fsx"), open: map[string]*fsxFile{}}
	for _, d := range []string{x.nfs, x.ref} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	defer x.closeAll()
	start := time.Now()
	for i := 0; i < *fsxOps; i++ {
		x.step(i)
	}
	x.closeAll()
	x.compareTree()
	t.Logf("fsx: %d operations with seed %d in %s (longer: -nfs.fsx.ops=N, replay: -nfs.fsx.seed=%d)", *fsxOps, seed, time.Since(start).Round(time.Millisecond), seed)
}

var fsxNames = []string{"f0", "f1", "f2", "f3", "d0/f4", "d0/f5", "d1/f6", "d0/d2/f7"}
var fsxDirs = []string{"d0", "d1", "d0/d2", "d3"}

func (x *fsx) fail(format string, args ...any) {
	x.t.Helper()
	n := len(x.log)
	from := max(0, n-40)
	x.t.Fatalf("fsx FAILED (seed %d, replay with -nfs.fsx.seed=%d -nfs.fsx.ops=%d): %s\nlast operations:\n%s",
		x.seed, x.seed, *fsxOps, fmt.Sprintf(format, args...), strings.Join(x.log[from:], "\n"))
}

func errName(err error) string {
	if err == nil {
		return "ok"
	}
	var en syscall.Errno
	if errors.As(err, &en) {
		return en.Error()
	}
	if errors.Is(err, io.EOF) {
		return "EOF"
	}
	return err.Error()
}

// same checks that both sides failed (or not) alike.
func (x *fsx) same(op string, nerr, rerr error) bool {
	x.t.Helper()
	if errName(nerr) != errName(rerr) {
		x.fail("%s: nfs %s, local %s", op, errName(nerr), errName(rerr))
	}
	return nerr == nil
}

func (x *fsx) pick(list []string) string { return list[x.rng.Intn(len(list))] }

func (x *fsx) step(i int) {
	p := x.pick(fsxNames)
	switch op := x.rng.Intn(100); {
	case op < 25:
		x.write(i, p)
	case op < 40:
		x.read(i, p)
	case op < 48:
		x.truncate(i, p)
	case op < 55:
		x.stat(i, p)
	case op < 62:
		q := x.pick(fsxNames)
		if x.rng.Intn(4) == 0 {
			q = x.pick(fsxDirs) + "/moved"
		}
		x.rename(i, p, q)
	case op < 67:
		x.unlink(i, p)
	case op < 73:
		d := x.pick(fsxDirs)
		x.log = append(x.log, fmt.Sprintf("%d mkdir %s", i, d))
		x.same("mkdir "+d, os.Mkdir(filepath.Join(x.nfs, d), 0o755), os.Mkdir(filepath.Join(x.ref, d), 0o755))
	case op < 76:
		d := x.pick(fsxDirs)
		x.log = append(x.log, fmt.Sprintf("%d rmdir %s", i, d))
		x.same("rmdir "+d, syscall.Rmdir(filepath.Join(x.nfs, d)), syscall.Rmdir(filepath.Join(x.ref, d)))
	case op < 82:
		x.readdir(i, x.pick(append([]string{"."}, fsxDirs...)))
	case op < 90:
		x.openClose(i, p)
	case op < 94:
		if f := x.open[p]; f != nil {
			x.log = append(x.log, fmt.Sprintf("%d fsync %s", i, p))
			x.same("fsync "+p, f.nfs.Sync(), f.ref.Sync())
		}
	default:
		x.crossRead(i, p)
	}
}

// handle returns an open pair for p, opening it (O_RDWR|O_CREAT) unless
// one is open already or (sometimes) using a one-off open.
func (x *fsx) handle(p string) (*fsxFile, func(), error) {
	if f := x.open[p]; f != nil {
		return f, func() {}, nil
	}
	nf, nerr := os.OpenFile(filepath.Join(x.nfs, p), os.O_RDWR|os.O_CREATE, 0o644)
	rf, rerr := os.OpenFile(filepath.Join(x.ref, p), os.O_RDWR|os.O_CREATE, 0o644)
	if !x.same("open "+p, nerr, rerr) {
		return nil, nil, nerr
	}
	f := &fsxFile{nfs: nf, ref: rf}
	return f, func() {
		x.same("close "+p, nf.Close(), rf.Close())
	}, nil
}

func (x *fsx) write(i int, p string) {
	off := int64(x.rng.Intn(2 << 20))
	n := 1 + x.rng.Intn(256<<10)
	if x.rng.Intn(10) == 0 {
		n = 1 + x.rng.Intn(3<<19)
	}
	data := make([]byte, n)
	x.rng.Read(data)
	x.log = append(x.log, fmt.Sprintf("%d write %s off=%d len=%d", i, p, off, n))
	f, done, err := x.handle(p)
	if err != nil {
		return
	}
	defer done()
	_, nerr := f.nfs.WriteAt(data, off)
	_, rerr := f.ref.WriteAt(data, off)
	x.same("write "+p, nerr, rerr)
}

func (x *fsx) read(i int, p string) {
	off := int64(x.rng.Intn(3 << 20))
	n := 1 + x.rng.Intn(512<<10)
	x.log = append(x.log, fmt.Sprintf("%d read %s off=%d len=%d", i, p, off, n))
	f, done, err := x.handle(p)
	if err != nil {
		return
	}
	defer done()
	nb, rb := make([]byte, n), make([]byte, n)
	nn, nerr := f.nfs.ReadAt(nb, off)
	rn, rerr := f.ref.ReadAt(rb, off)
	x.same("read "+p, nerr, rerr)
	if nn != rn || !bytes.Equal(nb[:nn], rb[:rn]) {
		x.fail("read %s off=%d: nfs %d bytes, local %d, first difference at %d", p, off, nn, rn, firstDiff(nb[:nn], rb[:rn]))
	}
}

func (x *fsx) truncate(i int, p string) {
	size := int64(x.rng.Intn(3 << 20))
	if x.rng.Intn(3) == 0 {
		size = 0
	}
	x.log = append(x.log, fmt.Sprintf("%d truncate %s %d", i, p, size))
	if f := x.open[p]; f != nil && x.rng.Intn(2) == 0 {
		x.same("ftruncate "+p, f.nfs.Truncate(size), f.ref.Truncate(size))
		return
	}
	x.same("truncate "+p, os.Truncate(filepath.Join(x.nfs, p), size), os.Truncate(filepath.Join(x.ref, p), size))
}

func (x *fsx) stat(i int, p string) {
	x.log = append(x.log, fmt.Sprintf("%d stat %s", i, p))
	ns, nerr := os.Stat(filepath.Join(x.nfs, p))
	rs, rerr := os.Stat(filepath.Join(x.ref, p))
	if x.same("stat "+p, nerr, rerr) {
		if ns.Size() != rs.Size() || ns.IsDir() != rs.IsDir() || ns.Mode().Perm() != rs.Mode().Perm() {
			x.fail("stat %s: nfs size %d dir %v mode %v, local size %d dir %v mode %v", p, ns.Size(), ns.IsDir(), ns.Mode(), rs.Size(), rs.IsDir(), rs.Mode())
		}
	}
}

func (x *fsx) rename(i int, p, q string) {
	x.log = append(x.log, fmt.Sprintf("%d rename %s %s", i, p, q))
	if x.same("rename "+p+" "+q, os.Rename(filepath.Join(x.nfs, p), filepath.Join(x.nfs, q)),
		os.Rename(filepath.Join(x.ref, p), filepath.Join(x.ref, q))) && p != q {
		// An open handle follows its file.
		if f := x.open[q]; f != nil {
			x.same("close replaced "+q, f.nfs.Close(), f.ref.Close())
			delete(x.open, q)
		}
		if f := x.open[p]; f != nil {
			x.open[q] = f
			delete(x.open, p)
		}
	}
}

func (x *fsx) unlink(i int, p string) {
	x.log = append(x.log, fmt.Sprintf("%d unlink %s", i, p))
	// Close first: NFS has no "unlinked but open" files without the
	// kernel's silly rename, which this client does not do (documented).
	if f := x.open[p]; f != nil {
		x.same("close "+p, f.nfs.Close(), f.ref.Close())
		delete(x.open, p)
	}
	x.same("unlink "+p, syscall.Unlink(filepath.Join(x.nfs, p)), syscall.Unlink(filepath.Join(x.ref, p)))
}

func (x *fsx) readdir(i int, d string) {
	x.log = append(x.log, fmt.Sprintf("%d readdir %s", i, d))
	nn, nerr := dirNames(filepath.Join(x.nfs, d))
	rn, rerr := dirNames(filepath.Join(x.ref, d))
	if x.same("readdir "+d, nerr, rerr) && strings.Join(nn, ",") != strings.Join(rn, ",") {
		x.fail("readdir %s: nfs %v, local %v", d, nn, rn)
	}
}

func dirNames(d string) ([]string, error) {
	ents, err := os.ReadDir(d)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	return names, err
}

func (x *fsx) openClose(i int, p string) {
	if f := x.open[p]; f != nil {
		x.log = append(x.log, fmt.Sprintf("%d close %s", i, p))
		x.same("close "+p, f.nfs.Close(), f.ref.Close())
		delete(x.open, p)
		return
	}
	x.log = append(x.log, fmt.Sprintf("%d open %s", i, p))
	nf, nerr := os.OpenFile(filepath.Join(x.nfs, p), os.O_RDWR|os.O_CREATE, 0o644)
	rf, rerr := os.OpenFile(filepath.Join(x.ref, p), os.O_RDWR|os.O_CREATE, 0o644)
	if x.same("open "+p, nerr, rerr) {
		x.open[p] = &fsxFile{nfs: nf, ref: rf}
	}
}

// crossRead reads a file that no handle holds open through the second
// client: after close, its data must be there (close-to-open).
func (x *fsx) crossRead(i int, p string) {
	if x.open[p] != nil {
		return
	}
	x.log = append(x.log, fmt.Sprintf("%d cross-read %s", i, p))
	nb, nerr := os.ReadFile(filepath.Join(x.other, p))
	rb, rerr := os.ReadFile(filepath.Join(x.ref, p))
	if x.same("cross-read "+p, nerr, rerr) && !bytes.Equal(nb, rb) {
		x.fail("cross-read %s on the second client: %d bytes, local %d, first difference at %d", p, len(nb), len(rb), firstDiff(nb, rb))
	}
}

func (x *fsx) closeAll() {
	for p, f := range x.open {
		_ = f.nfs.Close()
		_ = f.ref.Close()
		delete(x.open, p)
	}
}

// compareTree compares the whole tree at the end, through both clients.
func (x *fsx) compareTree() {
	for _, root := range []string{x.nfs, x.other} {
		err := filepath.WalkDir(x.ref, func(path string, d os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(x.ref, path)
			st, err := os.Stat(filepath.Join(root, rel))
			if err != nil {
				x.fail("final tree: %s missing on %s: %v", rel, root, err)
			}
			if d.IsDir() != st.IsDir() {
				x.fail("final tree: %s type differs", rel)
			}
			if !d.IsDir() {
				want, _ := os.ReadFile(path)
				got, err := os.ReadFile(filepath.Join(root, rel))
				if err != nil || !bytes.Equal(got, want) {
					x.fail("final tree: %s differs on %s (%v)", rel, root, err)
				}
			}
			return nil
		})
		if err != nil {
			x.fail("final tree: %v", err)
		}
	}
}
