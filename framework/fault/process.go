package fault

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"

	"github.com/rwxchaos/rwxchaos/framework/procid"
)

// Signal is a process-level fault: kill (SIGKILL), pause (SIGSTOP until
// healed with SIGCONT) or terminate (SIGTERM, a graceful restart). It signals
// the whole process group, as a container runtime would.
type Signal struct {
	FaultName string
	Act       string // process-kill | process-pause | process-restart
	Desc      string // e.g. "engine/0 pid 1234"
	Pid       int
	// Start is the target's start time (procid), read at Inject when 0:
	// heal and cleanup then refuse to signal the pid once it names another
	// process.
	Start uint64
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

// Inject signals the process group (or, if the target is not a group
// leader, the process).
func (s *Signal) Inject(context.Context) error {
	if s.Pid <= 0 {
		return fmt.Errorf("no process to signal for %s", s.Desc)
	}
	id := procid.ID{Pid: s.Pid, Start: s.Start}
	if id.Start == 0 {
		var err error
		if id, err = procid.Of(s.Pid); err != nil {
			return fmt.Errorf("signal %s: %w", s.Desc, err)
		}
		s.Start = id.Start
	}
	if err := id.SignalGroup(s.sig()); err != nil {
		if err := id.Signal(s.sig()); err != nil {
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

// Heal resumes a paused process; kills need no undo. A target that is
// gone, or whose pid now names another process, needs no resuming.
func (s *Signal) Heal(context.Context) error {
	if s.Act != "process-pause" {
		return nil
	}
	id := procid.ID{Pid: s.Pid, Start: s.Start}
	err := id.SignalGroup(syscall.SIGCONT)
	if err != nil && !errors.Is(err, procid.ErrGone) && !errors.Is(err, procid.ErrReused) {
		return fmt.Errorf("resume %s: %w", s.Desc, err)
	}
	_ = id.Signal(syscall.SIGCONT) // a target that leads no group
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
	return &Undo{Kind: "signal", Pid: -s.Pid, Start: s.Start, Sig: int(syscall.SIGCONT)}
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
		// Only the process recorded: a pid reused since is not ours.
		id := procid.ID{Pid: u.Pid, Start: u.Start}
		send := id.Signal
		if u.Pid < 0 {
			id.Pid = -u.Pid
			send = id.SignalGroup
		}
		if err := send(syscall.Signal(u.Sig)); err != nil && !errors.Is(err, procid.ErrGone) && !errors.Is(err, procid.ErrReused) {
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
