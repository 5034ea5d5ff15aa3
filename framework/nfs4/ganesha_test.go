package nfs4_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/rwxchaos/rwxchaos/framework/nfs4"
	"github.com/rwxchaos/rwxchaos/framework/nfs4/internal/ganeshatest"
)

func dial(t *testing.T, srv *ganeshatest.Server, name string, mod func(*nfs4.Config)) *nfs4.Client {
	t.Helper()
	cfg := nfs4.Config{Server: srv.Addr(), Export: "/export", Name: name, CallTimeout: 5 * time.Second,
		Logf: func(f string, a ...any) { t.Logf(name+": "+f, a...) }}
	if mod != nil {
		mod(&cfg)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := nfs4.Dial(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		_ = c.Close(ctx)
	})
	return c
}

func TestGaneshaNamespaceAndData(t *testing.T) {
	srv := ganeshatest.Start(t, ganeshatest.Config{})
	c := dial(t, srv, "a", nil)
	ctx := context.Background()
	cr := nfs4.Root
	root := c.Root()
	dir, da, err := c.Mkdir(ctx, cr, root, "d", 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if da.Type != nfs4.TypeDir || da.Mode != 0o755 {
		t.Fatalf("mkdir attrs %+v", da)
	}
	if _, _, err := c.Mkdir(ctx, cr, root, "d", 0o755); !errors.Is(err, syscall.EEXIST) {
		t.Fatalf("second mkdir: %v, want EEXIST", err)
	}
	f, fh, a, err := c.Create(ctx, cr, dir, "f", nfs4.CreateGuarded, &nfs4.SetAttr{Mode: ptr(uint32(0o640))}, nfs4.AccessReadWrite)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("created fh %x attrs %+v", fh, a)
	data := bytes.Repeat([]byte("0123456789abcdef"), 200000) // 3.2 MB
	if n, err := f.WriteAt(ctx, data, 0); err != nil || n != len(data) {
		t.Fatalf("write: %d %v", n, err)
	}
	if err := f.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len(data)+10)
	n, err := f.ReadAt(ctx, got, 0)
	if err != io.EOF || n != len(data) || !bytes.Equal(got[:n], data) {
		t.Fatalf("read: %d %v equal=%v", n, err, bytes.Equal(got[:n], data))
	}
	disk, err := os.ReadFile(filepath.Join(srv.ExportDir(), "d", "f"))
	if err != nil || !bytes.Equal(disk, data) {
		t.Fatalf("on disk: %d bytes, %v", len(disk), err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := c.Create(ctx, cr, dir, "f", nfs4.CreateGuarded, nil, nfs4.AccessReadWrite); !errors.Is(err, syscall.EEXIST) {
		t.Fatalf("guarded create of existing: %v", err)
	}
	lfh, la, err := c.Lookup(ctx, cr, dir, "f")
	if err != nil || lfh != fh || la.Size != uint64(len(data)) || la.Mode != 0o640 {
		t.Fatalf("lookup: %x %+v %v", lfh, la, err)
	}
	if _, _, err := c.Lookup(ctx, cr, dir, "nope"); !errors.Is(err, syscall.ENOENT) {
		t.Fatalf("lookup nope: %v", err)
	}
	sz := uint64(10)
	if a, err := c.Setattr(ctx, cr, fh, &nfs4.SetAttr{Size: &sz}); err != nil || a.Size != 10 {
		t.Fatalf("truncate: %+v %v", a, err)
	}
	if err := c.Rename(ctx, cr, dir, "f", root, "g"); err != nil {
		t.Fatal(err)
	}
	ents, err := c.ReadDir(ctx, cr, root)
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, e := range ents {
		names[e.Name] = true
	}
	if !names["g"] || !names["d"] || len(ents) != 2 {
		t.Fatalf("readdir: %+v", ents)
	}
	if err := c.Remove(ctx, cr, root, "d"); err != nil {
		t.Fatal(err)
	}
	if err := c.Remove(ctx, cr, root, "g"); err != nil {
		t.Fatal(err)
	}
	st, err := c.Statfs(ctx, cr)
	if err != nil || st.SpaceTotal == 0 {
		t.Fatalf("statfs %+v %v", st, err)
	}
	t.Logf("stats %+v", c.Stats())
}

func ptr[T any](v T) *T { return &v }

var _ = fmt.Sprint
