package nfsfuse_test

import (
	"errors"
	"os"
	"testing"
	"time"
)

// With --actimeo a client trusts cached attributes and lookups for that
// long, as the kernel does: another client's change shows up late on a
// stat, but at once on open (close-to-open); without it, at once.
func TestActimeoDelaysCrossClientVisibilityButNotOpen(t *testing.T) {
	srv := startServer(t)
	a := startMount(t, srv, "node-a")
	b := startMount(t, srv, "node-b", "--actimeo", "2s")
	c := startMount(t, srv, "node-c")
	if err := os.WriteFile(a.path("f"), []byte("1"), 0o644); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(b.path("f")); err != nil || st.Size() != 1 {
		t.Fatalf("first stat on the caching client: %v %v", st, err)
	}
	cached := time.Now()
	if err := os.WriteFile(a.path("f"), make([]byte, 100), 0o644); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(c.path("f")); err != nil || st.Size() != 100 {
		t.Fatalf("client without cache sees size %v (%v) at once, want 100", st.Size(), err)
	}
	if st, _ := os.Stat(b.path("f")); st.Size() != 1 {
		t.Fatalf("caching client sees the new size %d at once: its attribute cache is off", st.Size())
	}
	var lag time.Duration
	for {
		st, err := os.Stat(b.path("f"))
		if err != nil {
			t.Fatal(err)
		}
		if st.Size() == 100 {
			lag = time.Since(cached)
			break
		}
		if time.Since(cached) > 10*time.Second {
			t.Fatal("caching client never saw the change")
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("MEASURED: with actimeo=2s another client's size change was visible to stat after %s", lag.Round(10*time.Millisecond))
	if lag < time.Second || lag > 5*time.Second {
		t.Errorf("visibility lag %s, want about the 2 s cache time", lag)
	}
	// Close-to-open: an open revalidates at once.
	if err := os.WriteFile(a.path("f"), make([]byte, 7), 0o644); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(b.path("f"))
	if err != nil || len(data) != 7 {
		t.Fatalf("open+read on the caching client after the other's close: %d bytes (%v), want 7 (close-to-open)", len(data), err)
	}
	// Negative lookups are trusted while the directory's attributes are
	// (kernel dentry revalidation against the parent's change attribute).
	if _, err := os.Stat(b.path("")); err != nil { // refresh the directory's attributes
		t.Fatal(err)
	}
	if _, err := os.Stat(b.path("new")); !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	if err := os.WriteFile(a.path("new"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(b.path("new")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("caching client sees another client's new file at once (%v): negative lookups are not cached", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Stat(b.path("new")); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("caching client never saw the new file")
		}
		time.Sleep(50 * time.Millisecond)
	}
}
