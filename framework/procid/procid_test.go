package procid

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

func TestSelfAndCheck(t *testing.T) {
	me := Self()
	if me.Pid != os.Getpid() || me.Start == 0 {
		t.Fatalf("Self = %+v", me)
	}
	if err := me.Check(); err != nil {
		t.Fatalf("Check of self: %v", err)
	}
	other := ID{Pid: me.Pid, Start: me.Start + 1}
	if err := other.Check(); !errors.Is(err, ErrReused) {
		t.Fatalf("a different start time: %v, want ErrReused", err)
	}
}

// A pid that now names another process is never signalled: this is the
// reused-pid case, faked by a record with the wrong start time for a live
// child that would die of the signal.
func TestSignalRefusesAReusedPid(t *testing.T) {
	cmd := exec.Command("sleep", "60")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _, _ = cmd.Process.Wait() }()
	real, err := Of(cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	stale := ID{Pid: real.Pid, Start: real.Start - 1}
	if err := stale.Signal(syscall.SIGKILL); !errors.Is(err, ErrReused) {
		t.Fatalf("Signal with a stale start time: %v, want ErrReused", err)
	}
	if err := stale.SignalGroup(syscall.SIGKILL); !errors.Is(err, ErrReused) {
		t.Fatalf("SignalGroup with a stale start time: %v, want ErrReused", err)
	}
	if err := real.Check(); err != nil {
		t.Fatalf("the process was signalled anyway: %v", err)
	}
	if err := real.Signal(syscall.SIGKILL); err != nil {
		t.Fatalf("Signal of the real process: %v", err)
	}
	_, _ = cmd.Process.Wait()
	if err := real.Check(); !errors.Is(err, ErrGone) {
		t.Fatalf("after kill: %v, want ErrGone", err)
	}
}

// Field 22 is read after the last ')' so a command name with spaces and
// parentheses cannot shift it.
func TestStatParsesOddNames(t *testing.T) {
	dir := t.TempDir()
	saved := procRoot
	defer func() { procRoot = saved }()
	procRoot = dir
	os.MkdirAll(filepath.Join(dir, "42"), 0o755)
	stat := "42 (we ird) (name) S 1 42 42 0 -1 4194560 100 0 0 0 0 0 0 0 20 0 1 0 987654 1000 10 18446744073709551615"
	os.WriteFile(filepath.Join(dir, "42", "stat"), []byte(stat), 0o644)
	st, err := StartTime(42)
	if err != nil || st != 987654 {
		t.Fatalf("StartTime = %d, %v; want 987654", st, err)
	}
	if err := (ID{Pid: 42, Start: 987654}).Check(); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "42", "stat"), []byte(stat[:len("42 (we ird) (name) ")]+"Z"+stat[len("42 (we ird) (name) S"):]), 0o644)
	if err := (ID{Pid: 42, Start: 987654}).Check(); !errors.Is(err, ErrGone) {
		t.Fatalf("zombie: %v, want ErrGone", err)
	}
}

func TestWaitStopped(t *testing.T) {
	cmd := exec.Command("sleep", "30")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	if err := WaitStopped(cmd.Process.Pid, 100*time.Millisecond); err == nil {
		t.Fatal("a running process counted as stopped")
	}
	if err := cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	if err := WaitStopped(cmd.Process.Pid, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := WaitStopped(1<<22+7, 50*time.Millisecond); err == nil {
		t.Error("a pid with no process counted as stopped")
	}
}
