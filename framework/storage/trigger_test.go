package storage

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/rwxchaos/rwxchaos/framework/fault"
	"github.com/rwxchaos/rwxchaos/framework/trigger"
)

// triggerRig is a fuse server dialing a trigger controller in this test.
type triggerRig struct {
	s     *FuseServer
	c     *trigger.Controller
	calls chan *trigger.Call
	m     string
}

func startTriggered(t *testing.T, rules ...trigger.Rule) *triggerRig {
	t.Helper()
	needFuse(t)
	r := &triggerRig{calls: make(chan *trigger.Call, 16)}
	sock := filepath.Join(t.TempDir(), "trigger.sock")
	c, err := trigger.Listen(sock, func(call *trigger.Call) { r.calls <- call }, t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.SetRules("", rules); err != nil {
		t.Fatal(err)
	}
	r.s = startFuseWith(t, FuseConfig{Trigger: sock})
	// Registered after the server's cleanup, so it runs first: every held
	// call is released before the server is stopped.
	t.Cleanup(func() { _ = c.Close() })
	r.c, r.m = c, r.s.MountFor("")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.WaitServers(ctx, 1); err != nil {
		t.Fatal(err)
	}
	return r
}

// child runs a shell script in the mount as its own process group, killed
// at cleanup.
func (r *triggerRig) child(t *testing.T, script string) (*exec.Cmd, <-chan error) {
	t.Helper()
	cmd := exec.Command("sh", "-c", script)
	cmd.Dir = r.m
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGCONT)
	})
	return cmd, done
}

func (r *triggerRig) next(t *testing.T) *trigger.Call {
	t.Helper()
	select {
	case c := <-r.calls:
		return c
	case <-time.After(10 * time.Second):
		t.Fatal("no call reported within 10s")
		return nil
	}
}

func exists(p string) bool { _, err := os.Stat(p); return err == nil }

// TestTriggerKillLandsInsideTheWindow is the exactness the triggered faults
// rely on, on a real FUSE mount: a process whose rename is held cannot run
// past it; a SIGKILL sent meanwhile stays pending (Doomed), the process
// stays blocked until the release, and dies on the way back without
// running its next command.
func TestTriggerKillLandsInsideTheWindow(t *testing.T) {
	r := startTriggered(t, trigger.Rule{Name: "kill", Op: trigger.OpRename, Path: "out/*.json", When: trigger.After})
	if err := os.MkdirAll(filepath.Join(r.m, "out"), 0o755); err != nil {
		t.Fatal(err)
	}
	cmd, done := r.child(t, "echo data > out/.a.tmp && mv out/.a.tmp out/a.json && touch after-rename")
	call := r.next(t)
	if call.Op != trigger.OpRename || call.Path != "out/.a.tmp" || call.To != "out/a.json" || call.When != trigger.After {
		t.Fatalf("reported %+v", call.Report)
	}
	if call.Comm != "mv" || call.Pid == cmd.Process.Pid || call.Pid == 0 {
		t.Fatalf("caller %q pid %d: want mv, a child of the shell (pid %d)", call.Comm, call.Pid, cmd.Process.Pid)
	}
	// The rename is done on the backing directory; its reply is withheld.
	if !exists(filepath.Join(r.s.Backing(), "out", "a.json")) {
		t.Fatal("after: the rename was not performed before the hold")
	}
	if err := syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for !trigger.Doomed(call.Pid, call.Tid) {
		if time.Now().After(deadline) {
			t.Fatalf("mv (pid %d) does not show SIGKILL pending", call.Pid)
		}
		time.Sleep(time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond)
	if st := fault.ProcState(call.Pid); st == 0 || st == 'Z' {
		t.Fatalf("mv died (state %q) before its held rename was released: the hold does not withhold the reply", st)
	}
	if err := call.Release(0); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the script did not end after the release")
	}
	if d := <-call.Done(); !d.Performed || d.Expired || d.LostController {
		t.Fatalf("done = %+v", d)
	}
	if exists(filepath.Join(r.s.Backing(), "after-rename")) {
		t.Fatal("the killed script ran past the held rename")
	}
}

// TestTriggerKillBefore: with when before and a release with EINTR the
// operation never happens.
func TestTriggerKillBefore(t *testing.T) {
	r := startTriggered(t, trigger.Rule{Name: "kill", Op: trigger.OpUnlink, Path: "in/**", When: trigger.Before})
	if err := os.MkdirAll(filepath.Join(r.m, "in", "x"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(r.m, "in", "x", "f"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd, done := r.child(t, "rm in/x/f; touch after-rm")
	call := r.next(t)
	if call.Op != trigger.OpUnlink || call.Path != "in/x/f" || call.When != trigger.Before {
		t.Fatalf("reported %+v", call.Report)
	}
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	for !trigger.Doomed(call.Pid, call.Tid) {
		time.Sleep(time.Millisecond)
	}
	_ = call.Release(syscall.EINTR)
	<-done
	if d := <-call.Done(); d.Performed {
		t.Fatalf("done = %+v, want not performed", d)
	}
	if !exists(filepath.Join(r.s.Backing(), "in", "x", "f")) {
		t.Fatal("the unlink was performed although the kill came before it")
	}
	if exists(filepath.Join(r.s.Backing(), "after-rm")) {
		t.Fatal("the killed script ran on")
	}
}

// TestTriggerPauseAfterCloseWrite: SIGSTOP while the close of a written
// file is held; on release the process stops before its next command, and
// continues after SIGCONT. Also: a storage-level errno on fsync.
func TestTriggerPauseAfterCloseWrite(t *testing.T) {
	r := startTriggered(t,
		trigger.Rule{Name: "freeze", Op: trigger.OpCloseWrite, Path: "w/*", When: trigger.After},
		trigger.Rule{Name: "eio", Op: trigger.OpFsync, Path: "s/*", When: trigger.Before})
	for _, d := range []string{"w", "s"} {
		if err := os.MkdirAll(filepath.Join(r.m, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	cmd, done := r.child(t, "echo x > w/f && touch next")
	call := r.next(t)
	if call.Op != trigger.OpCloseWrite || call.Path != "w/f" {
		t.Fatalf("reported %+v", call.Report)
	}
	_ = syscall.Kill(call.Pid, syscall.SIGSTOP)
	deadline := time.Now().Add(5 * time.Second)
	for !trigger.Stopping(call.Pid, call.Tid) {
		if time.Now().After(deadline) {
			t.Fatal("the writer does not show SIGSTOP pending")
		}
		time.Sleep(time.Millisecond)
	}
	_ = call.Release(0)
	for fault.ProcState(call.Pid) != 'T' {
		if time.Now().After(deadline) {
			t.Fatalf("the writer is in state %q after the release, want T", fault.ProcState(call.Pid))
		}
		time.Sleep(time.Millisecond)
	}
	if exists(filepath.Join(r.s.Backing(), "next")) {
		t.Fatal("the frozen writer ran its next command")
	}
	// The shell closes w/f again (its saved stdout): the rule names every
	// close of a writable descriptor; let those through.
	stop := make(chan struct{})
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		for {
			select {
			case c := <-r.calls:
				_ = c.Release(0)
			case <-stop:
				return
			}
		}
	}()
	_ = syscall.Kill(call.Pid, syscall.SIGCONT)
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("script after SIGCONT: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the writer did not finish after SIGCONT")
	}
	if !exists(filepath.Join(r.s.Backing(), "next")) {
		t.Fatal("the writer did not continue after SIGCONT")
	}

	close(stop)
	<-drained

	// fsync failing with EIO, from a Go caller (this test process).
	errc := make(chan error, 1)
	go func() {
		f, err := os.Create(filepath.Join(r.m, "s", "g"))
		if err != nil {
			errc <- err
			return
		}
		defer f.Close()
		errc <- f.Sync()
	}()
	call = r.next(t)
	if call.Pid != os.Getpid() {
		t.Fatalf("fsync reported for pid %d, want this test (%d)", call.Pid, os.Getpid())
	}
	_ = call.Release(syscall.EIO)
	if err := <-errc; err == nil || !errorsIs(err, syscall.EIO) {
		t.Fatalf("fsync after a release with EIO: %v", err)
	}
	_ = cmd
}

// TestTriggerServerOutlivesTheRunner: when the controller disappears with
// a call held, the call proceeds and the mount keeps serving.
func TestTriggerServerOutlivesTheRunner(t *testing.T) {
	r := startTriggered(t, trigger.Rule{Name: "k", Op: trigger.OpUnlink, Path: "**", When: trigger.Before})
	if err := os.WriteFile(filepath.Join(r.m, "f"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	_, done := r.child(t, "rm f")
	r.next(t)
	_ = r.c.Close() // the runner goes away
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("rm after the controller left: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the held unlink did not proceed after the controller left")
	}
	if err := r.s.Healthy(context.Background(), ""); err != nil {
		t.Fatal(err)
	}
}

func errorsIs(err error, target error) bool {
	for err != nil {
		if err == target {
			return true
		}
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return false
		}
		err = u.Unwrap()
	}
	return false
}
