package proc

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rwxchaos/rwxchaos/fixtures/pipeline/defect"
	"github.com/rwxchaos/rwxchaos/framework/check"
	"github.com/rwxchaos/rwxchaos/framework/history"
	"github.com/rwxchaos/rwxchaos/framework/traffic"
)

// TestBugZoo proves the checkers catch each defect of the pipeline's bug
// zoo: every case runs one fault shape twice, on a correct pipeline (the
// verdict must pass) and with the defect on (the verdict must fail with the
// anomaly class the defect causes). Crash points and step delays make the
// exposure deterministic instead of hoping a random kill lands in the window.
func TestBugZoo(t *testing.T) {
	cases := []struct {
		defect string
		want   string // anomaly class the defect must produce
		shape  func(t *testing.T, r *rig)
	}{
		// The input is only deleted when the run ends; a crash after the
		// output leaves input and work behind, and outputs are named per run.
		{defect.RemoveAfterCopy, check.ClassDuplicated, crashShape("after-output")},
		// The output is written in place; a crash mid-write leaves it torn
		// and recovery takes any output as done.
		{defect.NonAtomicOutput, check.ClassCorrupt, crashShape("mid-output")},
		// Recovery re-processes a work file whose output exists and appends.
		{defect.AppendOutput, check.ClassDuplicated, crashShape("after-output")},
		// Two engines at once, neither taking the lock.
		{defect.NoLock, check.ClassUnfenced, overlapShape},
		// A second engine takes the lease from a live (frozen) holder: the
		// takeover of a lease younger than its TTL is two holders at once.
		{defect.StealLiveLock, check.ClassStolenLease, stealShape},
		// The webserver dies right after acking, before its delayed write.
		{defect.AckBeforeFsync, check.ClassLost, ackKillShape},
	}
	for _, tc := range cases {
		t.Run(tc.defect, func(t *testing.T) {
			for _, on := range []bool{false, true} {
				name := "clean"
				if on {
					name = "defect"
				}
				t.Run(name, func(t *testing.T) {
					cfg := Config{Webservers: 1, LeaseTTL: time.Second, Heartbeat: 100 * time.Millisecond}
					if on {
						cfg.Defects = []string{tc.defect}
					}
					r := newRig(t, cfg)
					tc.shape(t, r)
					res := r.verdict(30 * time.Second)
					t.Log(describe(res))
					if h := res.Check(check.CheckHistory); h == nil || h.Status != check.Pass {
						t.Fatalf("the run's own assumptions failed: %+v", h)
					}
					n := anomalies(res, tc.want)
					switch {
					case !on && res.Status != check.Pass:
						t.Errorf("correct pipeline under the %s shape: verdict %s, want pass", tc.defect, res.Status)
					case on && res.Status != check.Fail:
						t.Errorf("defect %s: verdict %s, want fail", tc.defect, res.Status)
					case on && n == 0:
						t.Errorf("defect %s: no %s anomaly found", tc.defect, tc.want)
					}
				})
			}
		})
	}
}

// uploadAll uploads n interchanges and requires every one acked.
func uploadAll(t *testing.T, r *rig, n int) {
	t.Helper()
	d := r.driver(traffic.Options{Count: n, Concurrency: 4, Seed: 1, MinSize: 300, MaxSize: 1500, Routes: []string{"orders", "invoices"}})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := d.Run(ctx); err != nil {
		t.Fatal(err)
	}
	if st := d.Stats(); st.OK != int64(n) {
		t.Fatalf("uploads: %+v, want all %d acked", st, n)
	}
}

// crashShape uploads a few interchanges and runs one engine that exits (as
// if SIGKILLed) at step the first time it gets there; the drain recovers.
func crashShape(step string) func(t *testing.T, r *rig) {
	return func(t *testing.T, r *rig) {
		uploadAll(t, r, 6)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		p, err := r.c.RunEngine(ctx, "--crash-at", step)
		if err != nil {
			t.Fatal(err)
		}
		info, err := p.Wait(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if info.Code != 137 {
			t.Fatalf("engine with --crash-at %s ended %q, want exit status 137 (see %s)", step, info.Status, info.Log)
		}
		r.fault("process-kill", info.Target(), info.Exited, info.Exited)
	}
}

// overlapShape runs two slowed-down engines at the same time.
func overlapShape(t *testing.T, r *rig) {
	uploadAll(t, r, 10)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var ps []*Process
	for range 2 {
		p, err := r.c.RunEngine(ctx, "--step-delay", "20ms", "--lock-wait", "5s")
		if err != nil {
			t.Fatal(err)
		}
		ps = append(ps, p)
	}
	for _, p := range ps {
		if _, err := p.Wait(ctx); err != nil {
			t.Fatal(err)
		}
	}
}

// stealShape: engine A (every step slowed to d, lease TTL 5s) processes one
// interchange and would crash right after removing its work file. Between
// the fence before that removal and the removal A sleeps d; the test
// SIGSTOPs A inside that window (its output event tells when: it then
// sleeps d, fences, sleeps d, removes) and starts engine B. A correct B
// sees A's live lease and gives up ("lock busy") within its lock-wait; with
// steal-live-lock it takes the lease over from the live holder. Then A is
// resumed and its removal lands under the superseded epoch: a stale write.
// A fences after that sleep, so it stops without writing; the theft itself
// (a takeover of a lease younger than its TTL) is what the checker flags.
func stealShape(t *testing.T, r *rig) {
	// The window to pause A in is 0.7 d wide: 1.4 s, which a loaded CI
	// machine's scheduling delays do not use up (0.7 s could be).
	const d = 2 * time.Second
	uploadAll(t, r, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	a, err := r.c.RunEngine(ctx, "--step-delay", d.String(), "--crash-at", "after-done", "--heartbeat", "1s", "--lease-ttl", "5s")
	if err != nil {
		t.Fatal(err)
	}
	out, err := waitEvent(ctx, r.jdir, a, history.EvOutput)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Until(time.Unix(0, out.End()).Add(d + d/5)))
	paused := time.Now()
	if _, err := r.c.Pause(RoleEngine, a.Info().Index); err != nil {
		t.Fatal(err)
	}
	if late := time.Since(time.Unix(0, out.End())); late > 2*d-d/10 {
		t.Fatalf("paused A %v after its output, past the window (load?): rerun", late)
	}
	b, err := r.c.RunEngine(ctx, "--step-delay", "0s", "--lock-wait", "500ms")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := r.c.Resume(RoleEngine, a.Info().Index); err != nil {
		t.Fatal(err)
	}
	r.fault("process-pause", a.Info().Target(), paused, time.Now())
	// Unharmed, A reaches its crash point (137); robbed, it fences itself
	// at its next mutation (3, lock lost).
	if ai, err := a.Wait(ctx); err != nil || (ai.Code != 137 && ai.Code != 3) {
		t.Fatalf("engine A ended %q (%v), neither at its crash point nor fenced (see %s)", ai.Status, err, ai.Log)
	}
}

// ackKillShape SIGKILLs the only webserver the moment the client sees the
// first ack; the client goes on against the restarted webserver.
func ackKillShape(t *testing.T, r *rig) {
	var once sync.Once
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	d := r.driver(traffic.Options{Count: 20, Concurrency: 4, Seed: 2, MinSize: 300, MaxSize: 1500, Timeout: 5 * time.Second,
		Observe: func(a traffic.Attempt) {
			if a.Outcome != history.OK {
				return
			}
			once.Do(func() {
				at := time.Now()
				info, err := r.c.Kill(ctx, RoleWebserver, 0)
				if err != nil {
					t.Errorf("kill webserver: %v", err)
					return
				}
				r.fault("process-kill", info.Target(), at, at)
			})
		}})
	if err := d.Run(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("uploads: %+v", d.Stats())
}

// waitEvent polls p's journal until it holds an event of type typ.
func waitEvent(ctx context.Context, jdir string, p *Process, typ string) (*history.Event, error) {
	prefix := fmt.Sprintf("%s-test-%d-", p.Info().Role, p.Info().PID)
	for {
		ents, _ := os.ReadDir(jdir)
		for _, e := range ents {
			if !strings.HasPrefix(e.Name(), prefix) {
				continue
			}
			evs, _, _ := history.ReadJournalFile(filepath.Join(jdir, e.Name()), history.ReadOptions{})
			for i := range evs {
				if evs[i].Type == typ {
					return &evs[i], nil
				}
			}
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("no %s event from %s: %w (log %s)", typ, p.Info().Target(), ctx.Err(), p.Info().Log)
		case <-p.Done():
			return nil, fmt.Errorf("%s exited (%s) before a %s event (log %s)", p.Info().Target(), p.Info().Status, typ, p.Info().Log)
		case <-time.After(10 * time.Millisecond):
		}
	}
}
