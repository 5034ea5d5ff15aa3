package local

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"

	"github.com/rwxchaos/rwxchaos/framework/fault"
	"github.com/rwxchaos/rwxchaos/framework/proc"
	"github.com/rwxchaos/rwxchaos/framework/provider"
	"github.com/rwxchaos/rwxchaos/framework/scenario"
	"github.com/rwxchaos/rwxchaos/framework/support"
	"github.com/rwxchaos/rwxchaos/framework/trigger"
)

var _ provider.Triggers = (*Env)(nil)

// TriggerServers implements provider.Triggers: with backend fuse, the one
// file server serving the volume itself.
func (e *Env) TriggerServers() (int, string) {
	if e.s.Storage.Backend != scenario.BackendFuse {
		return 0, ""
	}
	return 1, ""
}

// Caller implements provider.Triggers: a supervised process by its pid, or
// an engine the jobqueue started (a process of the pipeline's command
// followed by its role).
func (e *Env) Caller(_ context.Context, r *trigger.Report) (trigger.Caller, error) {
	c := trigger.Caller{Pid: r.Pid, Tid: r.Tid, Node: e.node}
	if e.c != nil {
		for _, pi := range e.c.Processes() {
			if pi.PID == r.Pid {
				c.Role, c.Desc = pi.Role, pi.Target()
				return c, nil
			}
		}
	}
	// The pipeline's command is e.binary ([rwxchaos __pipeline], or a
	// standalone [edi-pipeline]) followed by the role.
	if n := len(e.binary); n > 0 && len(r.Args) > n &&
		(r.Args[0] == e.binary[0] || filepath.Base(r.Args[0]) == filepath.Base(e.binary[0])) &&
		slices.Equal(r.Args[1:n], e.binary[1:]) &&
		slices.Contains([]string{proc.RoleWebserver, proc.RoleEngine, proc.RoleJobqueue}, r.Args[n]) {
		c.Role, c.Desc = r.Args[n], fmt.Sprintf("%s pid %d (started by the jobqueue)", r.Args[n], r.Pid)
		return c, nil
	}
	c.Desc = fmt.Sprintf("%s pid %d (not a pipeline process)", r.Comm, r.Pid)
	return c, nil
}

// CallerFault implements provider.Triggers: process actions on the caller
// signal its pid (its process group when it leads one); everything else is
// resolved as Fault does.
func (e *Env) CallerFault(ctx context.Context, spec scenario.FaultSpec, c trigger.Caller, rng *rand.Rand) ([]fault.Fault, error) {
	if spec.Target.Select == scenario.SelectCallerNode {
		return nil, &support.Unsupported{Action: string(spec.Action) + " on caller-node", Env: "local", Reason: "there are no nodes in single-host mode"}
	}
	if spec.Target.Select != scenario.SelectCaller {
		return e.Fault(ctx, spec, rng)
	}
	switch spec.Action {
	case scenario.ActionProcessKill, scenario.ActionProcessPause:
	default:
		return nil, &support.Unsupported{Action: string(spec.Action) + " of the caller", Env: "local", Reason: "only process-kill and process-pause act on the caller here"}
	}
	if c.Pid <= 0 {
		return nil, fmt.Errorf("the caller of the triggering call has no pid in this pid namespace: nothing to signal")
	}
	f := &fault.Signal{FaultName: spec.Name, Act: string(spec.Action), Desc: c.Desc, Pid: c.Pid}
	if e.c != nil && (c.Role == proc.RoleWebserver || c.Role == proc.RoleJobqueue) {
		for _, pi := range e.c.Processes() {
			if pi.PID == c.Pid {
				f.Healed = e.whole(pi)
			}
		}
	}
	return []fault.Fault{f}, nil
}
