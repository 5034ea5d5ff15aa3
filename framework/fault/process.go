package fault

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
)

// Signal is a process-level fault: kill (SIGKILL), pause (SIGSTOP until
// healed with SIGCONT) or terminate (SIGTERM, a graceful restart). It signals
// the whole process group, as a container runtime would.
type Signal struct {
	FaultName string
	Act       string // process-kill | process-pause | process-restart
	Desc      string // e.g. "engine/0 pid 1234"
	Pid       int
	// Healed, when set, is polled after Heal until the service is whole again
	// (e.g. a replacement process is running and ready).
	Healed func(ctx context.Context) error
}

func (s *Signal) Name() string   { return s.FaultName }
func (s *Signal) Action() string { return s.Act }
func (s *Signal) Target() string { return s.Desc }

func (s *Signal) sig() syscall.Signal {
	switch s.Act {
	case "process-pause":
		return syscall.SIGSTOP
	case "process-restart":
		return syscall.SIGTERM
	}
	return syscall.SIGKILL
}

// Inject signals the process group.
func (s *Signal) Inject(context.Context) error {
	if s.Pid <= 0 {
		return fmt.Errorf("no process to signal for %s", s.Desc)
	}
	if err := syscall.Kill(-s.Pid, s.sig()); err != nil {
		if err := syscall.Kill(s.Pid, s.sig()); err != nil {
			return fmt.Errorf("signal %s: %w", s.Desc, err)
		}
	}
	return nil
}

// Verify: a paused process is in state T; a killed one is gone or a zombie.
func (s *Signal) Verify(context.Context) error {
	st := ProcState(s.Pid)
	switch s.Act {
	case "process-pause":
		if st != 'T' && st != 't' {
			return fmt.Errorf("%s is in state %q, not stopped", s.Desc, st)
		}
	default:
		if st != 0 && st != 'Z' && st != 'X' {
			return fmt.Errorf("%s still alive (state %q)", s.Desc, st)
		}
	}
	return nil
}

// Heal resumes a paused process; kills need no undo.
func (s *Signal) Heal(context.Context) error {
	if s.Act != "process-pause" {
		return nil
	}
	if err := syscall.Kill(-s.Pid, syscall.SIGCONT); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("resume %s: %w", s.Desc, err)
	}
	_ = syscall.Kill(s.Pid, syscall.SIGCONT)
	return nil
}

// VerifyHealed: a resumed process runs again; then the service hook.
func (s *Signal) VerifyHealed(ctx context.Context) error {
	if s.Act == "process-pause" {
		if st := ProcState(s.Pid); st == 'T' || st == 't' {
			return fmt.Errorf("%s still stopped", s.Desc)
		}
	}
	if s.Healed != nil {
		return s.Healed(ctx)
	}
	return nil
}

// Undo: a paused process group must be resumed.
func (s *Signal) Undo() *Undo {
	if s.Act != "process-pause" {
		return nil
	}
	return &Undo{Kind: "signal", Pid: -s.Pid, Sig: int(syscall.SIGCONT)}
}

// ProcState returns the state letter of /proc/<pid>/stat, or 0 if there is
// no such process.
func ProcState(pid int) byte {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 || i+2 >= len(s) {
		return 0
	}
	return s[i+2]
}

// Apply replays an Undo. Targets that no longer exist count as healed.
func (u *Undo) Apply(ctx context.Context) error {
	switch u.Kind {
	case "signal":
		if err := syscall.Kill(u.Pid, syscall.Signal(u.Sig)); err != nil && !errors.Is(err, syscall.ESRCH) {
			return fmt.Errorf("signal %d to %d: %w", u.Sig, u.Pid, err)
		}
		return nil
	case "docker", "exec":
		argv := u.Args
		if u.Kind == "docker" {
			argv = append([]string{"docker"}, argv...)
		}
		if len(argv) == 0 {
			return errors.New("empty undo command")
		}
		out, err := exec.CommandContext(ctx, argv[0], argv[1:]...).CombinedOutput()
		if err != nil {
			msg := strings.TrimSpace(string(out))
			if strings.Contains(msg, "No such container") || strings.Contains(msg, "is not paused") || strings.Contains(msg, "does a matching rule exist") {
				return nil
			}
			return fmt.Errorf("%s: %w: %s", strings.Join(argv, " "), err, msg)
		}
		return nil
	}
	return fmt.Errorf("undo kind %q is not handled here", u.Kind)
}
