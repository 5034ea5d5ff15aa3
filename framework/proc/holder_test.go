package proc

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rwxchaos/rwxchaos/framework/history"
)

func TestLeaseHolder(t *testing.T) {
	r := newRig(t, Config{Webservers: 1, LeaseTTL: time.Second, Heartbeat: 100 * time.Millisecond})
	if _, err := r.c.LeaseHolder(); err == nil || !strings.Contains(err.Error(), "no lease") {
		t.Errorf("before any engine: %v", err)
	}
	uploadAll(t, r, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	a, err := r.c.RunEngine(ctx, "--step-delay", "300ms")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := waitEvent(ctx, r.jdir, a, history.EvClaim); err != nil {
		t.Fatal(err)
	}
	h, err := r.c.LeaseHolder()
	if err != nil {
		t.Fatal(err)
	}
	if h.Run != a || h.PID != a.Info().PID || h.Epoch != 1 || !strings.HasPrefix(h.Proc, "engine-test-") {
		t.Errorf("holder %+v, want engine run %s", h, a.Info().Target())
	}
	if _, err := r.c.Kill(ctx, RoleEngine, a.Info().Index); err != nil {
		t.Fatal(err)
	}
	if _, err := r.c.LeaseHolder(); err == nil || !strings.Contains(err.Error(), "died holding the lock") {
		t.Errorf("after the holder died: %v", err)
	}
	if _, err := r.c.Drain(ctx, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if _, err := r.c.LeaseHolder(); err == nil || !strings.Contains(err.Error(), "released") {
		t.Errorf("after a clean run: %v", err)
	}
	if _, err := os.Stat(filepath.Join(r.root, history.LeaseFile)); err != nil {
		t.Error(err)
	}
}
