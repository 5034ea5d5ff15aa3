package nfsfuse_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The mount refuses a non-empty mountpoint, and a dead client's mount,
// once detached, shows the read-only guard (EROFS), never the local
// directory taking writes silently.
func TestMountGuardNeverFallsBackToLocalDisk(t *testing.T) {
	srv := startServer(t)
	dir := t.TempDir()
	full := filepath.Join(dir, "full")
	if err := os.MkdirAll(filepath.Join(full, "stale"), 0o755); err != nil {
		t.Fatal(err)
	}
	m := &mountProc{t: t, name: "refused", dir: full, log: filepath.Join(dir, "refused.log"), exited: make(chan struct{})}
	m.start([]string{"--server", srv.Addr(), "--mount", full, "--name", "refused"})
	t.Cleanup(m.cleanup)
	select {
	case <-m.exited:
	case <-time.After(30 * time.Second):
		t.Fatal("mount on a non-empty directory did not exit")
	}
	if m.code != 1 || !strings.Contains(m.logText(), "not empty") {
		t.Fatalf("mount on a non-empty directory: exit %d, log:\n%s", m.code, m.logText())
	}

	a := startMount(t, srv, "node-a")
	if err := os.WriteFile(a.path("f"), []byte("on nfs"), 0o644); err != nil {
		t.Fatal(err)
	}
	a.signal(syscall.SIGKILL)
	<-a.exited
	if _, err := os.Stat(a.dir); !errors.Is(err, syscall.ENOTCONN) {
		t.Fatalf("dead client's mount: %v, want ENOTCONN", err)
	}
	if err := syscall.Unmount(a.dir, syscall.MNT_DETACH); err != nil {
		t.Fatal(err)
	}
	err := os.WriteFile(a.path("f"), []byte("on local disk"), 0o644)
	if !errors.Is(err, syscall.EROFS) {
		t.Fatalf("write after the dead mount was detached: %v, want EROFS (guard)", err)
	}
	mounts, _ := os.ReadFile("/proc/self/mounts")
	if !bytes.Contains(mounts, []byte("rwxchaos-nfs-guard "+a.dir)) {
		t.Fatalf("guard not mounted on %s", a.dir)
	}
}
