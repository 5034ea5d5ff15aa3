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

// An engine that dies holding the lock after its last move (no input or
// work left) is not the end of the settle phase: Drain runs passes until
// one takes the stale lease over and releases it. (engine-killed-mid-run
// once ended with "the lease of epoch 11 was never recovered or released":
// its kill landed 3 ms after the grant, with nothing left to move.)
func TestDrainRecoversALockWithNoWorkLeft(t *testing.T) {
	r := newRig(t, Config{Webservers: 1, LeaseTTL: time.Second, Heartbeat: 100 * time.Millisecond})
	uploadAll(t, r, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	a, err := r.c.RunEngine(ctx, "--crash-at", "before-release")
	if err != nil {
		t.Fatal(err)
	}
	if info, err := a.Wait(ctx); err != nil || info.Code == 0 {
		t.Fatalf("engine with --crash-at before-release: %+v %v", info, err)
	}
	if in, wk := r.c.pending(); in+wk != 0 {
		t.Fatalf("%d input and %d work files left; the dead holder should have moved everything", in, wk)
	}
	if held := r.c.lockHeld(); !strings.Contains(held, "epoch 1") {
		t.Fatalf("after the holder died: lock %q, want epoch 1 held", held)
	}
	res, err := r.c.Drain(ctx, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if res.Passes < 1 {
		t.Errorf("drain %+v: no pass ran, so nothing took the dead holder's lease over", res)
	}
	if _, err := r.c.LeaseHolder(); err == nil || !strings.Contains(err.Error(), "released") {
		t.Errorf("after Drain: %v; want the lock released by the pass that took it over", err)
	}
}
