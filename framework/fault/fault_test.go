package fault

import (
	"context"
	"errors"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/rwxchaos/rwxchaos/framework/history"
)

func startSleeper(t *testing.T) *exec.Cmd {
	t.Helper()
	cmd := exec.Command("sleep", "60")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _, _ = cmd.Process.Wait() })
	return cmd
}

// waitState polls the process state until ok, or fails.
func waitState(t *testing.T, pid int, what string, ok func(byte) bool) {
	t.Helper()
	err := wait.PollUntilContextTimeout(context.Background(), 5*time.Millisecond, 10*time.Second, true, func(context.Context) (bool, error) {
		return ok(ProcState(pid)), nil
	})
	if err != nil {
		t.Fatalf("pid %d never %s (state %q)", pid, what, ProcState(pid))
	}
}

func stopped(st byte) bool { return st == 'T' || st == 't' }

// verified wraps a fault and says (once) when its effect was verified: the
// test looks at the target while the fault is known to be in place.
type verified struct {
	Fault
	once sync.Once
	ch   chan struct{}
}

func notify(f Fault) *verified { return &verified{Fault: f, ch: make(chan struct{})} }

func (v *verified) Verify(ctx context.Context) error {
	err := v.Fault.Verify(ctx)
	if err == nil {
		v.once.Do(func() { close(v.ch) })
	}
	return err
}

func TestPauseIsHealedAndRecorded(t *testing.T) {
	cmd := startSleeper(t)
	dir := t.TempDir()
	j, err := history.OpenJournal(filepath.Join(dir, "runner.ndjson"), history.JournalOptions{Proc: "runner", Role: history.RoleRunner})
	if err != nil {
		t.Fatal(err)
	}
	in := NewInjector(Options{Journal: j, StateDir: filepath.Join(dir, "state"), RunID: "r1", Poll: 10 * time.Millisecond})
	f := notify(&Signal{FaultName: "p", Act: "process-pause", Desc: "sleep", Pid: cmd.Process.Pid})
	done := make(chan Record)
	go func() {
		rec, err := in.Run(context.Background(), f, 300*time.Millisecond)
		if err != nil {
			t.Error(err)
		}
		done <- rec
	}()
	<-f.ch // verified: the fault is in place, and stays for 300ms
	if st := ProcState(cmd.Process.Pid); !stopped(st) {
		t.Fatalf("state during fault %q", st)
	}
	sts, _, err := LoadStates(filepath.Join(dir, "state"))
	if err != nil || len(sts) != 1 || sts[0].Active[0].Undo == nil {
		t.Fatalf("active state not persisted: %+v %v", sts, err)
	}
	rec := <-done
	if st := ProcState(cmd.Process.Pid); st == 'T' {
		t.Fatal("still paused after heal")
	}
	if !(rec.Injected < rec.Verified && rec.Verified <= rec.Healed && rec.Healed <= rec.HealVerified) {
		t.Fatalf("timestamps out of order: %+v", rec)
	}
	if d := time.Duration(rec.Healed - rec.Injected); d < 300*time.Millisecond {
		t.Fatalf("held for %s, want 300ms", d)
	}
	if sts, _, _ := LoadStates(filepath.Join(dir, "state")); len(sts) != 0 {
		t.Fatalf("state left after heal: %+v", sts)
	}
	evs, _, err := history.ReadJournalFile(filepath.Join(dir, "runner.ndjson"), history.ReadOptions{})
	if err != nil || len(evs) != 1 || evs[0].Type != history.EvFault || evs[0].Return == 0 {
		t.Fatalf("fault event: %+v %v", evs, err)
	}
}

func TestCancelledRunStillHeals(t *testing.T) {
	cmd := startSleeper(t)
	in := NewInjector(Options{Poll: 10 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	f := notify(&Signal{FaultName: "p", Act: "process-pause", Desc: "sleep", Pid: cmd.Process.Pid})
	go func() { <-f.ch; cancel() }() // cancel while the fault holds
	start := time.Now()
	_, err := in.Run(ctx, f, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if time.Since(start) > 5*time.Second {
		t.Fatal("cancel did not cut the hold short")
	}
	if st := ProcState(cmd.Process.Pid); st == 'T' {
		t.Fatal("paused process left behind after cancel")
	}
}

type failing struct{ Signal }

func (f *failing) Verify(context.Context) error { return errors.New("never") }

func TestUnverifiedFaultIsHealedAndReported(t *testing.T) {
	cmd := startSleeper(t)
	in := NewInjector(Options{Poll: 10 * time.Millisecond, VerifyTimeout: 100 * time.Millisecond})
	f := &failing{Signal{FaultName: "p", Act: "process-pause", Desc: "sleep", Pid: cmd.Process.Pid}}
	rec, err := in.Run(context.Background(), f, time.Second)
	if err == nil || rec.Err == "" {
		t.Fatalf("want error, got %v %+v", err, rec)
	}
	// Run returns after VerifyHealed saw it running again.
	if st := ProcState(cmd.Process.Pid); st == 'T' {
		t.Fatal("fault not healed after failed verification")
	}
}

func TestKillVerifiesDeath(t *testing.T) {
	cmd := startSleeper(t)
	go func() { _, _ = cmd.Process.Wait() }()
	in := NewInjector(Options{Poll: 10 * time.Millisecond})
	rec, err := in.Run(context.Background(), &Signal{FaultName: "k", Act: "process-kill", Desc: "sleep", Pid: cmd.Process.Pid}, 0)
	if err != nil || rec.Verified == 0 {
		t.Fatalf("%v %+v", err, rec)
	}
}

func TestUndoApplyResumes(t *testing.T) {
	cmd := startSleeper(t)
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGSTOP)
	waitState(t, cmd.Process.Pid, "stopped", stopped)
	u := (&Signal{Act: "process-pause", Pid: cmd.Process.Pid}).Undo()
	if err := u.Apply(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitState(t, cmd.Process.Pid, "resumed", func(st byte) bool { return !stopped(st) })
}

// panicky panics in Inject after the fault took effect (half done).
type panicky struct {
	Signal
}

func (p *panicky) Inject(ctx context.Context) error {
	_ = p.Signal.Inject(ctx)
	panic("provider bug")
}

// A panic in a fault is an error like any other: the fault is healed (the
// paused process resumed) and the record says what happened.
func TestPanickingFaultIsHealed(t *testing.T) {
	cmd := startSleeper(t)
	dir := t.TempDir()
	in := NewInjector(Options{Poll: 10 * time.Millisecond, StateDir: dir, RunID: "r"})
	rec, err := in.Run(context.Background(), &panicky{Signal{FaultName: "p", Act: "process-pause", Desc: "sleep", Pid: cmd.Process.Pid}}, time.Hour)
	if err == nil || rec.Err == "" {
		t.Fatalf("want the panic as an error, got %v %+v", err, rec)
	}
	if st := ProcState(cmd.Process.Pid); stopped(st) {
		t.Fatal("panicking fault left its process paused")
	}
	if sts, _, _ := LoadStates(dir); len(sts) != 0 {
		t.Fatalf("state left: %+v", sts)
	}
}

// A persisted undo names the process by pid and start time; once the pid
// belongs to another process, cleanup must not signal it.
func TestUndoRefusesAReusedPid(t *testing.T) {
	cmd := startSleeper(t)
	f := &Signal{FaultName: "p", Act: "process-pause", Desc: "sleep", Pid: cmd.Process.Pid}
	if err := f.Inject(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitState(t, cmd.Process.Pid, "stopped", stopped)
	u := f.Undo()
	if u.Start == 0 {
		t.Fatalf("undo has no start time: %+v", u)
	}
	// The same pid with another start time stands for a reused pid.
	reused := *u
	reused.Start++
	if err := reused.Apply(context.Background()); err != nil {
		t.Fatalf("Apply to a reused pid: %v (want nil: nothing of ours to heal)", err)
	}
	if st := ProcState(cmd.Process.Pid); !stopped(st) {
		t.Fatalf("a reused pid was signalled (state %q)", st)
	}
	if err := u.Apply(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitState(t, cmd.Process.Pid, "resumed", func(st byte) bool { return !stopped(st) })
}
