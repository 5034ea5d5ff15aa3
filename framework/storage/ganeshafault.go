package storage

import (
	"context"
	"errors"
	"fmt"

	"github.com/rwxchaos/rwxchaos/framework/fault"
)

// ServerFault is storage-pause, storage-kill or storage-restart against a
// GaneshaContainer, for fault.Injector:
//
//   - storage-pause: docker pause. Verify: the container is paused, an NFS
//     NULL call gets no answer within StallWindow, and Stalled (a probe
//     through a node's mount) is stuck. Heal: docker unpause.
//   - storage-kill: docker kill. Verify: the container is not running and
//     nothing answers NULL calls. Heal: docker start.
//   - storage-restart: docker stop (SIGTERM: ganesha shuts down cleanly) in
//     Inject, docker start in Heal: the new server reads its recovery
//     directory and, with clients to wait for, enters its grace period.
//
// VerifyHealed: the server answers NULL calls again, then Healed (a probe
// through a node's mount, which stays stuck during the grace period) must
// pass. Undo (for `rwxchaos cleanup`) unpauses or starts the container.
type ServerFault struct {
	FaultName string
	Act       string // ActionPause, ActionKill or ActionRestart
	Server    *GaneshaContainer
	// Stalled, when set, must also return nil before a pause counts as in
	// effect (polled).
	Stalled func(ctx context.Context) error
	// Healed, when set, is polled after the server answers again, until
	// the clients are served again.
	Healed func(ctx context.Context) error
}

// NewServerFault returns the fault for action against srv.
func NewServerFault(name, action string, srv *GaneshaContainer) (*ServerFault, error) {
	if srv == nil {
		return nil, errors.New("storage: no NFS server to fault")
	}
	switch action {
	case ActionPause, ActionKill, ActionRestart:
	default:
		return nil, fmt.Errorf("storage: %q is not a server action (want %s, %s or %s; %s is done at the node)", action, ActionPause, ActionKill, ActionRestart, ActionCutoff)
	}
	return &ServerFault{FaultName: name, Act: action, Server: srv}, nil
}

// Name implements fault.Fault.
func (f *ServerFault) Name() string { return f.FaultName }

// Action implements fault.Fault.
func (f *ServerFault) Action() string { return f.Act }

// Target implements fault.Fault.
func (f *ServerFault) Target() string {
	return "nfs-ganesha container " + f.Server.Name() + " (" + f.Server.IP() + ")"
}

// Inject implements fault.Fault.
func (f *ServerFault) Inject(ctx context.Context) error {
	st, err := f.Server.State(ctx)
	if err != nil {
		return err
	}
	if !st.Running || st.Paused {
		return fmt.Errorf("%s is not serving (status %s) before the fault: a previous fault did not heal", f.Server.Name(), st.Status)
	}
	switch f.Act {
	case ActionPause:
		return f.Server.Pause(ctx, "")
	case ActionKill:
		return f.Server.Kill(ctx, "")
	case ActionRestart:
		return f.Server.Shutdown(ctx, "")
	}
	return fmt.Errorf("unknown storage action %q", f.Act)
}

// Verify implements fault.Fault: the container state and what a client
// sees must both show the fault.
func (f *ServerFault) Verify(ctx context.Context) error {
	st, err := f.Server.State(ctx)
	if err != nil {
		return err
	}
	switch f.Act {
	case ActionPause:
		if !st.Paused {
			return fmt.Errorf("%s is not paused (status %s)", f.Server.Name(), st.Status)
		}
	default:
		if st.Running {
			return fmt.Errorf("%s is still running", f.Server.Name())
		}
	}
	pctx, cancel := context.WithTimeout(ctx, StallWindow)
	defer cancel()
	err = f.Server.Healthy(pctx, "")
	switch {
	case err == nil:
		return fmt.Errorf("%s still answers NFS calls", f.Server.Name())
	case f.Act == ActionPause && !errors.Is(err, ErrStalled):
		return fmt.Errorf("the paused server refused instead of hanging (a frozen server keeps its connections): %w", err)
	}
	if f.Act == ActionPause && f.Stalled != nil {
		if err := f.Stalled(ctx); err != nil {
			return fmt.Errorf("server frozen, but the clients do not show it yet: %w", err)
		}
	}
	return nil
}

// Heal implements fault.Fault: unpause or start the container and wait
// until ganesha answers. Idempotent.
func (f *ServerFault) Heal(ctx context.Context) error {
	return f.Server.Restart(ctx, "")
}

// VerifyHealed implements fault.Fault.
func (f *ServerFault) VerifyHealed(ctx context.Context) error {
	pctx, cancel := context.WithTimeout(ctx, HealedProbe)
	defer cancel()
	if err := f.Server.Healthy(pctx, ""); err != nil {
		return err
	}
	if f.Healed != nil {
		return f.Healed(ctx)
	}
	return nil
}

// Undo implements fault.Fault.
func (f *ServerFault) Undo() *fault.Undo {
	if f.Act == ActionPause {
		return &fault.Undo{Kind: "docker", Args: []string{"unpause", f.Server.Name()}}
	}
	return &fault.Undo{Kind: "docker", Args: []string{"start", f.Server.Name()}}
}

var _ fault.Fault = (*ServerFault)(nil)
