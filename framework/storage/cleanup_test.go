package storage

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rwxchaos/rwxchaos/framework/procid"
)

// Cleanup signals a recorded server only while its pid still names the
// process that wrote the record: a reused pid is left alone, the recorded
// process is stopped.
func TestCleanupChecksStartTime(t *testing.T) {
	cmd := exec.Command("sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() { _ = cmd.Process.Kill(); <-exited })
	id, err := procid.Of(cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	write := func(dir string, start uint64) {
		os.MkdirAll(filepath.Join(dir, "run"), 0o755)
		b, _ := json.Marshal(map[string]any{"pid": id.Pid, "startTicks": start, "mount": filepath.Join(dir, "mnt-none")})
		os.WriteFile(filepath.Join(dir, "run", "srv.json"), b, 0o644)
	}

	stale := t.TempDir()
	write(stale, id.Start+1) // the same pid, another process
	did, err := Cleanup(context.Background(), stale)
	if err != nil {
		t.Fatal(err)
	}
	if !id.Alive() {
		t.Fatal("Cleanup signalled a pid that names another process")
	}
	if !strings.Contains(strings.Join(did, "\n"), "left alone") {
		t.Errorf("Cleanup did not say it left the pid alone: %v", did)
	}

	mine := t.TempDir()
	write(mine, id.Start)
	if did, err = Cleanup(context.Background(), mine); err != nil {
		t.Fatal(err)
	}
	<-exited // stopped: SIGTERM ends sleep
	if !strings.Contains(strings.Join(did, "\n"), "stopped fuse server pid") {
		t.Errorf("Cleanup: %v", did)
	}
}
