package nfs4_test

import (
	"context"
	"errors"
	"io"
	"syscall"
	"testing"
	"time"

	"github.com/rwxchaos/rwxchaos/framework/nfs4"
	"github.com/rwxchaos/rwxchaos/framework/nfs4/internal/ganeshatest"
)

// A file renamed over by another client leaves its old handle stale on
// the server. The caching client still serves the old handle from its
// lookup cache until it uses it; the NFS4ERR_STALE that use gets makes it
// forget the handle, so the next lookup (the VFS's retry with
// LOOKUP_REVAL) asks the server and finds the new file.
func TestGaneshaStaleHandleLeavesTheCache(t *testing.T) {
	srv := ganeshatest.Start(t, ganeshatest.Config{})
	a := dial(t, srv, "a", func(c *nfs4.Config) { c.SetActimeo(time.Minute) })
	b := dial(t, srv, "b", nil)
	ctx := context.Background()
	cr := nfs4.Root
	root := a.Root()
	write := func(name, data string) {
		t.Helper()
		f, _, _, err := b.Create(ctx, cr, b.Root(), name, nfs4.CreateUnchecked, nil, nfs4.AccessWrite)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.WriteAt(ctx, []byte(data), 0); err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
	}
	read := func(fh nfs4.FH) (string, error) {
		f, _, err := a.Open(ctx, cr, fh, nfs4.AccessRead)
		if err != nil {
			return "", err
		}
		defer f.Close()
		buf := make([]byte, 16)
		n, err := f.ReadAt(ctx, buf, 0)
		if err != nil && err != io.EOF {
			return "", err
		}
		return string(buf[:n]), nil
	}
	write("f", "v0")
	if _, err := a.Getattr(ctx, cr, root); err != nil { // names are cached under fresh directory attributes
		t.Fatal(err)
	}
	old, _, err := a.Lookup(ctx, cr, root, "f")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := read(old); err != nil || got != "v0" {
		t.Fatalf("first read %q %v", got, err)
	}
	write(".f.tmp", "v1")
	if err := b.Rename(ctx, cr, b.Root(), ".f.tmp", b.Root(), "f"); err != nil {
		t.Fatal(err)
	}
	if fh, _, err := a.Lookup(ctx, cr, root, "f"); err != nil || fh != old {
		t.Fatalf("lookup within actimeo: %x %v, want the cached old handle %x (is the cache on?)", fh, err, old)
	}
	if _, err := read(old); !errors.Is(err, syscall.ESTALE) {
		t.Fatalf("open of the renamed-over file's handle: %v, want ESTALE", err)
	}
	fh, _, err := a.Lookup(ctx, cr, root, "f")
	if err != nil {
		t.Fatal(err)
	}
	if fh == old {
		t.Fatal("lookup after ESTALE served the stale handle again from the cache")
	}
	if got, err := read(fh); err != nil || got != "v1" {
		t.Fatalf("read of the new file: %q %v, want v1", got, err)
	}
	// The old handle's attributes are gone too.
	if _, err := a.Getattr(ctx, cr, old); !errors.Is(err, syscall.ESTALE) {
		t.Fatalf("getattr of the stale handle: %v, want ESTALE (served from the cache?)", err)
	}
}
