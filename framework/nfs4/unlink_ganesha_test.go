package nfs4_test

import (
	"context"
	"io"
	"testing"

	"github.com/rwxchaos/rwxchaos/framework/nfs4"
	"github.com/rwxchaos/rwxchaos/framework/nfs4/internal/ganeshatest"
)

// An open file removed by name stays usable through the open (this
// client does no "silly rename"; ganesha keeps the file while it is open).
func TestGaneshaRemoveWhileOpen(t *testing.T) {
	srv := ganeshatest.Start(t, ganeshatest.Config{})
	c := dial(t, srv, "a", nil)
	ctx := context.Background()
	f, _, _, err := c.Create(ctx, nfs4.Root, c.Root(), "f", nfs4.CreateUnchecked, nil, nfs4.AccessReadWrite)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(ctx, []byte("data"), 0); err != nil {
		t.Fatal(err)
	}
	if err := c.Remove(ctx, nfs4.Root, c.Root(), "f"); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4)
	n, rerr := f.ReadAt(ctx, buf, 0)
	_, werr := f.WriteAt(ctx, []byte("more"), 4)
	// ganesha keeps a removed file while it is open: the opener reads
	// and writes on, as on a local file system.
	if string(buf[:n]) != "data" || (rerr != nil && rerr != io.EOF) || werr != nil {
		t.Fatalf("after remove: read %q %v, write %v", buf[:n], rerr, werr)
	}
}
