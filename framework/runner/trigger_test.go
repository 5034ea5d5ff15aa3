package runner

import (
	"context"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/rwxchaos/rwxchaos/framework/fault"
	"github.com/rwxchaos/rwxchaos/framework/scenario"
	"github.com/rwxchaos/rwxchaos/framework/trigger"
)

// heldRig holds one call in this process (a Hook.Do in a goroutine, as a
// file server would) on behalf of a real caller process (sleep).
type heldRig struct {
	call   *trigger.Call
	ret    chan syscall.Errno
	ran    chan struct{}
	pid    int
	exited chan struct{}
	caller trigger.Caller
}

func holdCall(t *testing.T, when trigger.When) *heldRig {
	t.Helper()
	r := &heldRig{ret: make(chan syscall.Errno, 1), ran: make(chan struct{}), exited: make(chan struct{})}
	calls := make(chan *trigger.Call, 1)
	ctl, err := trigger.Listen(filepath.Join(t.TempDir(), "s"), func(c *trigger.Call) { calls <- c }, t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ctl.Close() })
	if err := ctl.SetRules("", []trigger.Rule{{Name: "f", Op: trigger.OpRename, Path: "**", When: when}}); err != nil {
		t.Fatal(err)
	}
	hook, err := trigger.NewHook(trigger.HookConfig{Socket: ctl.Path()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(hook.Close)
	cmd := exec.Command("sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Skipf("no sleep: %v", err)
	}
	r.pid = cmd.Process.Pid
	go func() { _ = cmd.Wait(); close(r.exited) }()
	t.Cleanup(func() { _ = syscall.Kill(r.pid, syscall.SIGKILL); _ = syscall.Kill(r.pid, syscall.SIGCONT); <-r.exited })
	deadline := time.Now().Add(5 * time.Second)
	for !hook.Connected() {
		if time.Now().After(deadline) {
			t.Fatal("hook not connected")
		}
		time.Sleep(time.Millisecond)
	}
	go func() {
		r.ret <- hook.Do(trigger.OpRename, "a", "b", uint32(r.pid), func() syscall.Errno { close(r.ran); return 0 })
	}()
	select {
	case r.call = <-calls:
	case <-time.After(5 * time.Second):
		t.Fatal("no call reported")
	}
	r.caller = trigger.Caller{Pid: r.pid, Tid: r.pid, Role: "engine", Desc: "sleep"}
	return r
}

func (r *heldRig) returned(t *testing.T, within time.Duration) (syscall.Errno, bool) {
	t.Helper()
	select {
	case e := <-r.ret:
		return e, true
	case <-time.After(within):
		return 0, false
	}
}

func spec(action scenario.Action, when scenario.When, sel scenario.Selector) scenario.FaultSpec {
	return scenario.FaultSpec{Name: "f", Action: action, Target: scenario.TargetSpec{Select: sel},
		Schedule: scenario.ScheduleSpec{On: &scenario.OnSpec{Op: scenario.FileOpRename, Path: "**", When: when}}}
}

func TestHeldKillReleasesOnlyOnceTheCallerIsDoomed(t *testing.T) {
	r := holdCall(t, trigger.Before)
	sig := &fault.Signal{FaultName: "f", Act: "process-kill", Desc: "sleep", Pid: r.pid}
	h := newHeld(sig, spec(scenario.ActionProcessKill, scenario.WhenBefore, scenario.SelectCaller), r.call, r.caller, "rename a")
	if _, ok := r.returned(t, 20*time.Millisecond); ok {
		t.Fatal("the call returned before any fault")
	}
	if err := h.Inject(context.Background()); err != nil {
		t.Fatal(err)
	}
	e, ok := r.returned(t, 5*time.Second)
	if !ok {
		t.Fatal("the call was not released after the kill")
	}
	if !trigger.Doomed(r.pid, r.pid) {
		t.Fatal("released while the caller could still run")
	}
	if e != syscall.EINTR {
		t.Fatalf("a kill before the operation answers EINTR, got %v", e)
	}
	select {
	case <-r.ran:
		t.Fatal("the operation was performed although the caller was killed before it")
	default:
	}
	// Verified as the injector does: polled until the kill took effect.
	deadline := time.Now().Add(5 * time.Second)
	for err := h.Verify(context.Background()); err != nil; err = h.Verify(context.Background()) {
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestHeldPauseBeforeKeepsTheCallUntilHeal(t *testing.T) {
	r := holdCall(t, trigger.Before)
	sig := &fault.Signal{FaultName: "f", Act: "process-pause", Desc: "sleep", Pid: r.pid}
	h := newHeld(sig, spec(scenario.ActionProcessPause, scenario.WhenBefore, scenario.SelectCaller), r.call, r.caller, "rename a")
	ctx := context.Background()
	if err := h.Inject(ctx); err != nil {
		t.Fatal(err)
	}
	if err := h.Verify(ctx); err != nil {
		t.Fatal(err)
	}
	if _, ok := r.returned(t, 100*time.Millisecond); ok {
		t.Fatal("a pause before the operation let the call go before the heal")
	}
	if err := h.Heal(ctx); err != nil {
		t.Fatal(err)
	}
	if e, ok := r.returned(t, 5*time.Second); !ok || e != 0 {
		t.Fatalf("after the heal: returned %v, errno %v", ok, e)
	}
	<-r.ran
	if err := h.VerifyHealed(ctx); err != nil {
		t.Fatal(err)
	}
	if s := fault.ProcState(r.pid); s == 'T' {
		t.Fatal("the caller is still stopped after the heal")
	}
}

func TestHeldStorageErrorAndDelay(t *testing.T) {
	r := holdCall(t, trigger.Before)
	s := spec(scenario.ActionStorageError, scenario.WhenBefore, "")
	s.Errno = int(syscall.EIO)
	h := newHeld(nil, s, r.call, r.caller, "rename a")
	if err := h.Inject(context.Background()); err != nil {
		t.Fatal(err)
	}
	if e, ok := r.returned(t, 5*time.Second); !ok || e != syscall.EIO {
		t.Fatalf("storage-error: returned %v, errno %v", ok, e)
	}
	if err := h.Verify(context.Background()); err != nil {
		t.Fatal(err)
	}

	r = holdCall(t, trigger.After)
	h = newHeld(nil, spec(scenario.ActionStorageDelay, scenario.WhenAfter, ""), r.call, r.caller, "rename a")
	if err := h.Inject(context.Background()); err != nil {
		t.Fatal(err)
	}
	<-r.ran
	if _, ok := r.returned(t, 100*time.Millisecond); ok {
		t.Fatal("storage-delay released the call before the heal")
	}
	if err := h.Heal(context.Background()); err != nil {
		t.Fatal(err)
	}
	if e, ok := r.returned(t, 5*time.Second); !ok || e != 0 {
		t.Fatalf("storage-delay after heal: returned %v, errno %v", ok, e)
	}
}

// noop is a fault whose injection does nothing.
type noop struct{}

func (noop) Name() string                       { return "f" }
func (noop) Action() string                     { return "process-kill" }
func (noop) Target() string                     { return "nothing" }
func (noop) Inject(context.Context) error       { return nil }
func (noop) Verify(context.Context) error       { return nil }
func (noop) Heal(context.Context) error         { return nil }
func (noop) VerifyHealed(context.Context) error { return nil }
func (noop) Undo() *fault.Undo                  { return nil }

// A fault that does not reach the caller does not hold it forever: the
// call is released after triggerLand and the injection reports it.
func TestHeldGivesUpWhenTheFaultMissesTheCaller(t *testing.T) {
	old := triggerLand
	triggerLand = 200 * time.Millisecond
	defer func() { triggerLand = old }()
	r := holdCall(t, trigger.After)
	h := newHeld(noop{}, spec(scenario.ActionProcessKill, scenario.WhenAfter, scenario.SelectCaller), r.call, r.caller, "rename a")
	if err := h.Inject(context.Background()); err == nil {
		t.Fatal("Inject succeeded although the caller never became unable to run")
	}
	if e, ok := r.returned(t, 5*time.Second); !ok || e != 0 {
		t.Fatalf("returned %v errno %v: the call must proceed untouched", ok, e)
	}
}
