package local

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/rwxchaos/rwxchaos/framework/history"
	"github.com/rwxchaos/rwxchaos/framework/scenario"
	"github.com/rwxchaos/rwxchaos/framework/selfexec"
)

// Plan implements provider.Planner: what Provision and Deploy would start
// on this host, starting nothing.
func (e *Env) Plan(ctx context.Context) (string, error) {
	var b strings.Builder
	fmt.Fprintf(&b, "provider local on host %s (processes, no Kubernetes):\n", e.node)
	if len(e.binary) > 0 {
		fmt.Fprintf(&b, "  pipeline: %s\n", strings.Join(e.binary, " "))
	} else if argv, err := selfexec.Pipeline.Command(); err != nil {
		fmt.Fprintf(&b, "  pipeline: cannot start: %v\n", err)
	} else {
		fmt.Fprintf(&b, "  pipeline: %s <role> (this binary, re-executed; nothing is built)\n", strings.Join(argv, " "))
	}
	switch e.s.Storage.Backend {
	case scenario.BackendFuse:
		fuse := "the fuse server"
		if argv, err := selfexec.Fuse.Command(); err == nil {
			fuse += " (" + strings.Join(argv, " ") + ")"
		}
		fmt.Fprintf(&b, "  volume %s: would mount %s there, serving %s", e.root, fuse, StorageDir(e.root))
		if e.trigger != "" {
			fmt.Fprintf(&b, "; it dials the run's trigger socket %s", e.trigger)
		}
		b.WriteString("\n")
	default:
		fmt.Fprintf(&b, "  volume %s: a plain directory (backend %s)\n", e.root, e.s.Storage.Backend)
	}
	w := e.s.Workload
	every, _ := w.Engine.Interval()
	if every == 0 {
		every = time.Second
	}
	fmt.Fprintf(&b, "  processes: %d webservers", w.Replicas.Webserver)
	if w.Replicas.Jobqueue != nil && *w.Replicas.Jobqueue > 0 {
		fmt.Fprintf(&b, ", a jobqueue (its own engine job every %s)", 2*every)
	}
	fmt.Fprintf(&b, ", an engine run every %s; lease %s, heartbeat %s", every, w.Engine.LeaseTTL, w.Engine.Heartbeat)
	if w.Engine.StepDelay > 0 {
		fmt.Fprintf(&b, ", step delay %s", w.Engine.StepDelay)
	}
	b.WriteString("\n")
	if len(w.Defects) > 0 {
		var ds []string
		for _, d := range w.Defects {
			ds = append(ds, string(d))
		}
		fmt.Fprintf(&b, "  built-in defects (bug zoo): %s\n", strings.Join(ds, ", "))
	}
	fmt.Fprintf(&b, "  logs: %s; journals: %s\n", filepath.Join(e.runDir, "logs"), filepath.Join(e.root, history.DirJournal))
	return b.String(), ctx.Err()
}
