package lab

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A second taker waits while the lock is held and gets it once released.
func TestLockFileExcludes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "l.lock")
	release, _, err := lockFile(context.Background(), path, "test lock")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 700*time.Millisecond)
	defer cancel()
	if _, _, err := lockFile(ctx, path, "test lock"); err == nil || !strings.Contains(err.Error(), "still held") {
		t.Fatalf("second taker while held: err %v, want still held", err)
	}
	release()
	again, _, err := lockFile(context.Background(), path, "test lock")
	if err != nil {
		t.Fatalf("after release: %v", err)
	}
	again()
}
