package storage

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/rwxchaos/rwxchaos/framework/fault"
)

// Storage fault actions (the scenario's action names).
const (
	ActionPause   = "storage-pause"
	ActionKill    = "storage-kill"
	ActionRestart = "storage-restart"
	ActionCutoff  = "storage-cutoff"
)

// StallWindow is how long a probe must stay unanswered for a pause or cutoff
// to count as in effect.
const StallWindow = 500 * time.Millisecond

// HealedProbe bounds the probe that proves a healed server serves again.
const HealedProbe = 2 * time.Second

// Fault is one storage fault against a Server, for fault.Injector:
//
//   - storage-pause: SIGSTOP every server process. Verify: a probe write
//     does not complete within StallWindow. Heal: SIGCONT. VerifyHealed:
//     a probe completes within HealedProbe.
//   - storage-cutoff: the same, on one client's server only (Client).
//   - storage-kill: SIGKILL. Verify: a probe fails (ENOTCONN) or stalls.
//     Heal: Restart (detach the stale mount, mount a new server).
//   - storage-restart: graceful stop (SIGTERM: unmount) in Inject, start
//     again in Heal.
//
// Undo describes the heal as data for `rwxchaos cleanup`: SIGCONT to the
// stopped server processes, or a lazy unmount of a dead server's mount.
type Fault struct {
	FaultName string
	Act       string // one of the Action* constants
	Server    Server
	// Client is the client cut off (storage-cutoff); "" is the whole storage.
	Client string
	// Stalled, when set, must also return nil before a pause or cutoff
	// counts as in effect: the service shows the stall (e.g. every
	// webserver's /readyz fails). Verify is polled, so it may fail until
	// the service notices.
	Stalled func(ctx context.Context) error
	// Healed, when set, is polled after the storage serves again, until the
	// service is whole again (e.g. every webserver ready).
	Healed func(ctx context.Context) error

	pids []int // the processes acted on, filled by Inject
}

// NewFault returns the fault for action against srv. A cutoff needs a client
// with a server of its own.
func NewFault(name, action string, srv Server, client string) (*Fault, error) {
	switch action {
	case ActionPause, ActionKill, ActionRestart:
	case ActionCutoff:
		if client == "" || srv.MountFor(client) == "" || !containsStr(srv.Clients(), client) {
			return nil, fmt.Errorf("storage: %s needs a client with its own server; %s has clients %q: start the server with one client per node", action, srv.Backend(), srv.Clients())
		}
	default:
		return nil, fmt.Errorf("storage: %q is not a storage action (want %s, %s, %s or %s)", action, ActionPause, ActionKill, ActionRestart, ActionCutoff)
	}
	if srv == nil {
		return nil, errors.New("storage: no server to fault")
	}
	return &Fault{FaultName: name, Act: action, Server: srv, Client: client}, nil
}

func containsStr(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// Name implements fault.Fault.
func (f *Fault) Name() string { return f.FaultName }

// Action implements fault.Fault.
func (f *Fault) Action() string { return f.Act }

// Target implements fault.Fault.
func (f *Fault) Target() string {
	who := f.Server.Backend() + " server"
	if f.Client != "" {
		who += " of " + f.Client
	}
	pids := f.pids
	if pids == nil {
		pids = f.Server.Pids(f.Client)
	}
	if len(pids) > 0 {
		s := make([]string, len(pids))
		for i, p := range pids {
			s[i] = strconv.Itoa(p)
		}
		who += " pid " + strings.Join(s, ",")
	}
	return who
}

// Inject implements fault.Fault.
func (f *Fault) Inject(ctx context.Context) error {
	f.pids = f.Server.Pids(f.Client)
	if len(f.pids) == 0 {
		return fmt.Errorf("no %s server process is running for %q: start or restart the storage first", f.Server.Backend(), f.Client)
	}
	switch f.Act {
	case ActionPause, ActionCutoff:
		return f.Server.Pause(ctx, f.Client)
	case ActionKill:
		return f.Server.Kill(ctx, f.Client)
	case ActionRestart:
		return f.Server.Shutdown(ctx, f.Client)
	}
	return fmt.Errorf("unknown storage action %q", f.Act)
}

// Verify implements fault.Fault: the effect must be seen by a client.
func (f *Fault) Verify(ctx context.Context) error {
	switch f.Act {
	case ActionPause, ActionCutoff:
		for _, pid := range f.pids {
			if st := fault.ProcState(pid); st != 'T' && st != 't' {
				return fmt.Errorf("server pid %d is in state %q, not stopped", pid, st)
			}
		}
		pctx, cancel := context.WithTimeout(ctx, StallWindow)
		defer cancel()
		err := f.Server.Healthy(pctx, f.Client)
		if err == nil {
			return fmt.Errorf("a probe through the paused %s still completed within %s: the clients do not go through the stopped process", f.Target(), StallWindow)
		}
		if !errors.Is(err, ErrStalled) {
			return fmt.Errorf("a probe failed instead of stalling (want a hang, like a hard-mounted NFS server): %w", err)
		}
		if f.Stalled != nil {
			if err := f.Stalled(ctx); err != nil {
				return fmt.Errorf("storage stalled, but the service does not show it yet: %w", err)
			}
		}
		return nil
	case ActionKill, ActionRestart:
		for _, pid := range f.pids {
			if st := fault.ProcState(pid); st != 0 && st != 'Z' {
				return fmt.Errorf("server pid %d still alive (state %q)", pid, st)
			}
		}
		if f.Act == ActionRestart {
			return nil
		}
		pctx, cancel := context.WithTimeout(ctx, StallWindow)
		defer cancel()
		if err := f.Server.Healthy(pctx, f.Client); err == nil {
			return fmt.Errorf("a probe through the killed %s still succeeded", f.Target())
		}
		return nil
	}
	return nil
}

// Heal implements fault.Fault. Idempotent; works after a partial Inject.
func (f *Fault) Heal(ctx context.Context) error {
	switch f.Act {
	case ActionPause, ActionCutoff:
		return f.Server.Resume(ctx, f.Client)
	case ActionKill, ActionRestart:
		if len(f.Server.Pids(f.Client)) == len(f.pids) && !f.anyDead() {
			return nil // nothing was done (or already healed)
		}
		return f.Server.Restart(ctx, f.Client)
	}
	return nil
}

func (f *Fault) anyDead() bool {
	for _, pid := range f.pids {
		if st := fault.ProcState(pid); st == 0 || st == 'Z' {
			return true
		}
	}
	return false
}

// VerifyHealed implements fault.Fault: a probe completes in time.
func (f *Fault) VerifyHealed(ctx context.Context) error {
	pctx, cancel := context.WithTimeout(ctx, HealedProbe)
	defer cancel()
	if err := f.Server.Healthy(pctx, f.Client); err != nil {
		return err
	}
	if f.Healed != nil {
		return f.Healed(ctx)
	}
	return nil
}

// Undo implements fault.Fault: SIGCONT to stopped servers; a lazy unmount
// of a dead server's mount (the run is over; `rwxchaos cleanup` then removes
// the rest with Cleanup).
func (f *Fault) Undo() *fault.Undo {
	switch f.Act {
	case ActionPause, ActionCutoff:
		pids := f.pids
		if pids == nil {
			pids = f.Server.Pids(f.Client)
		}
		if len(pids) == 1 {
			return &fault.Undo{Kind: "signal", Pid: pids[0], Sig: int(syscall.SIGCONT)}
		}
		if len(pids) > 1 {
			s := make([]string, len(pids))
			for i, p := range pids {
				s[i] = strconv.Itoa(p)
			}
			return &fault.Undo{Kind: "exec", Args: []string{"sh", "-c", "kill -CONT " + strings.Join(s, " ") + " 2>/dev/null; true"}}
		}
	case ActionKill:
		if m := f.Server.MountFor(f.Client); m != "" && f.Server.Backend() == BackendFuse {
			var mounts []string
			if f.Client == "" && len(f.Server.Clients()) > 0 {
				for _, c := range f.Server.Clients() {
					mounts = append(mounts, shellQuote(f.Server.MountFor(c)))
				}
			} else {
				mounts = []string{shellQuote(m)}
			}
			return &fault.Undo{Kind: "exec", Args: []string{"sh", "-c", "for m in " + strings.Join(mounts, " ") + "; do umount -l \"$m\" 2>/dev/null; done; true"}}
		}
	}
	return nil
}

func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

var _ fault.Fault = (*Fault)(nil)
