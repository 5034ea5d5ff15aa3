package local

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rwxchaos/rwxchaos/framework/check"
	"github.com/rwxchaos/rwxchaos/framework/traffic"
)

// TestProofCrashSafety is the end-to-end proof with no cluster: real
// edi-pipeline processes (webserver ×3, jobqueue, engine runs every 100ms)
// on one directory, ≥1000 uploads, and meanwhile engine runs SIGKILLed and
// SIGSTOPped (some past their lease) at seeded random moments, plus the odd
// jobqueue or webserver kill. After a drain the checkers must find nothing
// lost, duplicated, corrupt or stuck, and the lock exclusive.
func TestProofCrashSafety(t *testing.T) {
	if testing.Short() {
		t.Log("-short: 300 uploads instead of 1000")
	}
	seed := testSeed(t)
	count, rate := 1000, 150.0
	if testing.Short() {
		count = 300
	}
	r := newRig(t, Config{Webservers: 3, Jobqueue: true, JobqueueEvery: 700 * time.Millisecond,
		EngineEvery: 100 * time.Millisecond, LeaseTTL: time.Second, Heartbeat: 200 * time.Millisecond,
		EngineArgs: []string{"--lock-wait", "2s"}})
	d := r.driver(traffic.Options{Count: count, Rate: rate, Concurrency: 8, Seed: seed, MinSize: 256, MaxSize: 4096,
		Routes: []string{"orders", "invoices", "asn"}})

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	chaosCtx, stopChaos := context.WithCancel(ctx)
	var wg sync.WaitGroup
	counts := map[string]int{}
	wg.Add(1)
	go func() {
		defer wg.Done()
		rng := rand.New(rand.NewPCG(uint64(seed), 0xC4A05))
		for chaosCtx.Err() == nil {
			select {
			case <-chaosCtx.Done():
				return
			case <-time.After(time.Duration(50+rng.IntN(250)) * time.Millisecond):
			}
			if act := r.chaos(chaosCtx, rng); act != "" {
				counts[act]++
			}
		}
	}()
	start := time.Now()
	err := d.Run(ctx)
	stopChaos()
	wg.Wait()
	if err != nil {
		t.Fatalf("traffic: %v", err)
	}
	st := d.Stats()
	t.Logf("traffic: %d uploads in %v: %d ok, %d fail, %d unknown; faults %v", st.Done(), time.Since(start).Round(time.Millisecond),
		st.OK, st.Fail, st.Unknown, counts)

	res := r.verdict(time.Minute)
	t.Log(describe(res))
	if st.OK < int64(count)*8/10 {
		t.Errorf("only %d of %d uploads acked: the run tested too little", st.OK, count)
	}
	if counts["kill-engine"] == 0 || counts["pause-engine"] == 0 {
		t.Errorf("faults %v: no engine run was killed or paused; the proof proves nothing", counts)
	}
	for _, cls := range []string{check.ClassLost, check.ClassDuplicated, check.ClassCorrupt, check.ClassStuck, check.ClassUnexpected} {
		if n := res.Classes[cls]; n != 0 {
			t.Errorf("%d interchanges %s", n, cls)
		}
	}
	if ls := res.Check(check.CheckLockSafety); ls == nil || ls.Status != check.Pass {
		t.Errorf("lock safety did not hold: %+v", ls)
	}
	if res.Status != check.Pass {
		t.Errorf("verdict %s, want pass", res.Status)
	}
}

// chaos injects one seeded fault and returns its name ("" when there was
// nothing to hit). Pauses are healed before it returns.
func (r *rig) chaos(ctx context.Context, rng *rand.Rand) string {
	roll := rng.IntN(100)
	switch {
	case roll < 45:
		p, err := r.c.Process(RoleEngine, CurrentRun)
		if err != nil {
			return ""
		}
		at := time.Now()
		info, err := r.c.Kill(ctx, RoleEngine, p.Info().Index)
		if err != nil {
			return ""
		}
		r.fault("process-kill", info.Target(), at, at)
		return "kill-engine"
	case roll < 80:
		p, err := r.c.Process(RoleEngine, CurrentRun)
		if err != nil {
			return ""
		}
		// 100ms..2.5s: the longer ones outlast the 1s lease, so another
		// engine breaks it while the holder is frozen.
		hold := time.Duration(100+rng.IntN(2400)) * time.Millisecond
		at := time.Now()
		info, err := r.c.Pause(RoleEngine, p.Info().Index)
		if err != nil {
			return ""
		}
		select {
		case <-time.After(hold):
		case <-ctx.Done():
		}
		_, err = r.c.Resume(RoleEngine, info.Index)
		if err != nil && !errors.Is(err, context.Canceled) {
			// The run may have been killed meanwhile; SIGCONT to a dead
			// group is not an error, a missing process is.
			_ = p.signal(syscall.SIGCONT)
		}
		r.fault("process-pause", info.Target(), at, time.Now())
		return "pause-engine"
	case roll < 88:
		at := time.Now()
		info, err := r.c.Kill(ctx, RoleJobqueue, 0)
		if err != nil {
			return ""
		}
		r.fault("process-kill", info.Target(), at, at)
		return "kill-jobqueue"
	default:
		idx := rng.IntN(len(r.c.WebserverURLs()))
		at := time.Now()
		info, err := r.c.Kill(ctx, RoleWebserver, idx)
		if err != nil {
			return ""
		}
		r.fault("process-kill", info.Target(), at, at)
		return "kill-webserver"
	}
}
