package proc

import (
	"context"
	"maps"
	"math/rand/v2"
	"sync"
	"sync/atomic"
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
		count, rate = 300, 75 // still 4s of faults
	}
	r := newRig(t, Config{Webservers: 3, Jobqueue: true, JobqueueEvery: 700 * time.Millisecond,
		EngineEvery: 100 * time.Millisecond, LeaseTTL: time.Second, Heartbeat: 200 * time.Millisecond,
		EngineArgs: []string{"--lock-wait", "2s"}})
	d := r.driver(traffic.Options{Count: count, Rate: rate, Concurrency: 8, Seed: seed, MinSize: 256, MaxSize: 4096,
		Routes: []string{"orders", "invoices", "asn"}})

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	chaosCtx, stopChaos := context.WithCancel(ctx)
	ch := &chaos{r: r, rng: rand.New(rand.NewPCG(uint64(seed), 0xC4A05)), counts: map[string]int{}}
	chaosDone := make(chan struct{})
	go func() { defer close(chaosDone); ch.run(chaosCtx) }()
	start := time.Now()
	err := d.Run(ctx)
	stopChaos()
	<-chaosDone // every pause is healed by now
	counts := ch.snapshot()
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
	if counts["kill-engine"]+counts["kill-holder"] < 3 || counts["pause-engine"]+counts["pause-jobqueue"] < 2 {
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

// chaos is the proof test's nemesis: seeded random faults, one decision
// every 20-120ms, with pauses held in the background so kills go on
// meanwhile. Every pause is healed before run returns.
type chaos struct {
	r      *rig
	rng    *rand.Rand
	mu     sync.Mutex
	counts map[string]int
	pauses sync.WaitGroup
	paused atomic.Bool // at most one pause at a time
}

func (ch *chaos) snapshot() map[string]int {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	return maps.Clone(ch.counts)
}

func (ch *chaos) count(name string) {
	ch.mu.Lock()
	ch.counts[name]++
	ch.mu.Unlock()
}

func (ch *chaos) run(ctx context.Context) {
	defer ch.pauses.Wait()
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Duration(20+ch.rng.IntN(100)) * time.Millisecond):
		}
		roll := ch.rng.IntN(100)
		// Decide the hold time now so the sequence depends on the seed only.
		hold := time.Duration(100+ch.rng.IntN(2400)) * time.Millisecond
		switch {
		case roll < 25:
			ch.kill(ctx, RoleEngine, CurrentRun, "kill-engine")
		case roll < 45:
			ch.killHolder("kill-holder")
		case roll < 75:
			// 100ms..2.5s: the longer pauses outlast the 1s lease, so
			// another engine breaks it while the holder is frozen.
			ch.pause(ctx, RoleEngine, hold, "pause-engine")
		case roll < 82:
			ch.pause(ctx, RoleJobqueue, hold, "pause-jobqueue") // freezes its engine child too
		case roll < 90:
			ch.kill(ctx, RoleJobqueue, 0, "kill-jobqueue")
		default:
			ch.kill(ctx, RoleWebserver, ch.rng.IntN(len(ch.r.c.WebserverURLs())), "kill-webserver")
		}
	}
}

// target waits briefly for a live process (engine runs come and go).
func (ch *chaos) target(ctx context.Context, role string, idx int) *Process {
	for range 20 {
		if p, err := ch.r.c.Process(role, idx); err == nil {
			return p
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(10 * time.Millisecond):
		}
	}
	return nil
}

func (ch *chaos) kill(ctx context.Context, role string, idx int, name string) {
	p := ch.target(ctx, role, idx)
	if p == nil {
		return
	}
	at := time.Now()
	if err := p.signal(syscall.SIGKILL); err != nil {
		return
	}
	info, err := p.Wait(ctx)
	if err != nil {
		return
	}
	ch.r.fault("process-kill", info.Target(), at, at)
	ch.count(name)
}

func (ch *chaos) pause(ctx context.Context, role string, hold time.Duration, name string) {
	if ch.paused.Load() {
		return
	}
	idx := 0
	if role == RoleEngine {
		idx = CurrentRun
	}
	p := ch.target(ctx, role, idx)
	if p == nil {
		return
	}
	at := time.Now()
	if err := p.signal(syscall.SIGSTOP); err != nil {
		return
	}
	p.setPaused(true)
	ch.paused.Store(true)
	ch.count(name)
	ch.pauses.Add(1)
	go func() {
		defer ch.pauses.Done()
		select {
		case <-time.After(hold):
		case <-ctx.Done():
		}
		_ = p.signal(syscall.SIGCONT)
		p.setPaused(false)
		ch.paused.Store(false)
		ch.r.fault("process-pause", p.Info().Target(), at, time.Now())
	}()
}

// killHolder SIGKILLs the engine named by the lease, wherever it runs (a
// scheduled run or the jobqueue's child), so kills hit a run mid-work
// rather than one waiting for the lock.
func (ch *chaos) killHolder(name string) {
	h, err := ch.r.c.LeaseHolder()
	if err != nil {
		return
	}
	at := time.Now()
	if syscall.Kill(h.PID, syscall.SIGKILL) != nil {
		return
	}
	ch.r.fault("process-kill", h.Proc, at, at)
	ch.count(name)
}
