package nfsfuse_test

import (
	"bytes"
	"errors"
	"math/rand"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// File data written on one client is read back byte-identical on the
// other (random sizes up to 3 MiB, random offsets, overwrites and
// truncation), and on the server's disk.
func TestDataWrittenOnOneClientReadBackOnTheOther(t *testing.T) {
	srv := startServer(t)
	a := startMount(t, srv, "node-a")
	b := startMount(t, srv, "node-b")
	seed := time.Now().UnixNano()
	rng := rand.New(rand.NewSource(seed))
	t.Logf("seed %d", seed)
	sizes := []int{0, 1, 4095, 4096, 4097, 128 << 10, 1<<20 - 1, 1 << 20, 1<<20 + 1, 3<<20 + 12345}
	for i := 0; i < 6; i++ {
		sizes = append(sizes, rng.Intn(3<<20))
	}
	for i, size := range sizes {
		name := filepath.Join("data", "f"+string(rune('a'+i)))
		if i == 0 {
			if err := os.Mkdir(a.path("data"), 0o755); err != nil {
				t.Fatal(err)
			}
		}
		want := make([]byte, size)
		rng.Read(want)
		f, err := os.OpenFile(a.path(name), os.O_CREATE|os.O_RDWR|os.O_TRUNC, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		// Written in random chunks at their offsets, out of order.
		type chunk struct{ off, n int }
		var chunks []chunk
		for off := 0; off < size; {
			n := 1 + rng.Intn(1<<20)
			if off+n > size {
				n = size - off
			}
			chunks = append(chunks, chunk{off, n})
			off += n
		}
		rng.Shuffle(len(chunks), func(i, j int) { chunks[i], chunks[j] = chunks[j], chunks[i] })
		for _, c := range chunks {
			if _, err := f.WriteAt(want[c.off:c.off+c.n], int64(c.off)); err != nil {
				t.Fatal(err)
			}
		}
		// An overwrite in the middle and, sometimes, a truncation.
		if size > 10 {
			off := rng.Intn(size - 5)
			patch := []byte("PATCH")
			copy(want[off:], patch)
			if _, err := f.WriteAt(patch[:min(5, size-off)], int64(off)); err != nil {
				t.Fatal(err)
			}
			if rng.Intn(3) == 0 {
				n := rng.Intn(size)
				want = want[:n]
				if err := f.Truncate(int64(n)); err != nil {
					t.Fatal(err)
				}
			}
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(b.path(name))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("%s (seed %d): other client reads %d bytes, first difference at %d; wrote %d", name, seed, len(got), firstDiff(got, want), len(want))
		}
		disk, err := os.ReadFile(filepath.Join(srv.ExportDir(), name))
		if err != nil || !bytes.Equal(disk, want) {
			t.Fatalf("%s on the server's disk: %d bytes (%v), want %d", name, len(disk), err, len(want))
		}
		// Random reads at offsets on the other client.
		g, err := os.Open(b.path(name))
		if err != nil {
			t.Fatal(err)
		}
		for k := 0; k < 5 && len(want) > 0; k++ {
			off := rng.Intn(len(want))
			n := 1 + rng.Intn(len(want)-off)
			buf := make([]byte, n)
			if _, err := g.ReadAt(buf, int64(off)); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(buf, want[off:off+n]) {
				t.Fatalf("%s: read at %d+%d differs (seed %d)", name, off, n, seed)
			}
		}
		g.Close()
	}
	// Namespace changes are seen at once on the other client (no caches).
	if err := os.Rename(a.path("data/fa"), a.path("data/renamed")); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(b.path("data/fa")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("renamed file still visible on the other client: %v", err)
	}
	if _, err := os.Stat(b.path("data/renamed")); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(b.path("data")); !errors.Is(err, syscall.ENOTEMPTY) {
		t.Fatalf("rmdir of a non-empty dir: %v, want ENOTEMPTY", err)
	}
}

func firstDiff(a, b []byte) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// fsync of a directory succeeds, as on a kernel NFS mount: a rename made
// durable by syncing its directory is the pattern the pipeline uses.
func TestDirectoryFsyncSucceeds(t *testing.T) {
	srv := startServer(t)
	a := startMount(t, srv, "node-a")
	if err := os.Mkdir(a.path("d"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(a.path("d/tmp"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(a.path("d/tmp"), a.path("d/final")); err != nil {
		t.Fatal(err)
	}
	d, err := os.Open(a.path("d"))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		t.Fatalf("fsync of a directory on the NFS mount: %v (a kernel NFS mount answers success)", err)
	}
}
