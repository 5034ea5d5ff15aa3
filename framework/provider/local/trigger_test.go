package local

import (
	"context"
	"math/rand/v2"
	"testing"

	"github.com/rwxchaos/rwxchaos/framework/fault"
	"github.com/rwxchaos/rwxchaos/framework/scenario"
	"github.com/rwxchaos/rwxchaos/framework/support"
	"github.com/rwxchaos/rwxchaos/framework/trigger"
)

// Callers that are not supervised processes: an engine run the jobqueue
// started counts as an engine by its command line; anything else has no
// role (and never matches on.by).
func TestCallerByCommandLine(t *testing.T) {
	e := &Env{s: &scenario.Scenario{Storage: scenario.StorageSpec{Backend: scenario.BackendFuse}}, binary: []string{"/usr/bin/rwxchaos", "__pipeline"}, node: "h"}
	c, err := e.Caller(context.Background(), &trigger.Report{Pid: 42, Tid: 43, Comm: "rwxchaos", Args: []string{"/usr/bin/rwxchaos", "__pipeline", "engine", "--root", "/v"}})
	if err != nil || c.Role != "engine" || c.Pid != 42 || c.Tid != 43 || c.Node != "h" {
		t.Fatalf("jobqueue engine: %+v %v", c, err)
	}
	// The same binary running something else is not a pipeline process.
	if c, _ := e.Caller(context.Background(), &trigger.Report{Pid: 44, Comm: "rwxchaos", Args: []string{"/usr/bin/rwxchaos", "__fuse", "engine"}}); c.Role != "" {
		t.Fatalf("the file server counted as %q", c.Role)
	}
	// A standalone edi-pipeline (RWXCHAOS_PIPELINE_BINARY).
	alone := &Env{s: e.s, binary: []string{"/cache/bin/edi-pipeline"}, node: "h"}
	if c, err := alone.Caller(context.Background(), &trigger.Report{Pid: 42, Comm: "edi-pipeline", Args: []string{"/cache/bin/edi-pipeline", "engine", "--root", "/v"}}); err != nil || c.Role != "engine" {
		t.Fatalf("standalone engine: %+v %v", c, err)
	}
	c, _ = e.Caller(context.Background(), &trigger.Report{Pid: 7, Comm: "sh", Args: []string{"sh", "-c", "engine"}})
	if c.Role != "" {
		t.Fatalf("a shell counted as %q", c.Role)
	}
	if n, root := e.TriggerServers(); n != 1 || root != "" {
		t.Fatalf("TriggerServers = %d %q", n, root)
	}
}

func TestCallerFault(t *testing.T) {
	e := &Env{s: &scenario.Scenario{}}
	spec := scenario.FaultSpec{Name: "k", Action: scenario.ActionProcessKill, Target: scenario.TargetSpec{Select: scenario.SelectCaller}}
	fs, err := e.CallerFault(context.Background(), spec, trigger.Caller{Pid: 42, Desc: "engine pid 42"}, rand.New(rand.NewPCG(1, 2)))
	if err != nil || len(fs) != 1 {
		t.Fatalf("%v %v", fs, err)
	}
	if s, ok := fs[0].(*fault.Signal); !ok || s.Pid != 42 || s.Act != "process-kill" {
		t.Fatalf("fault %+v", fs[0])
	}
	spec.Action, spec.Target.Select = scenario.ActionNodeKill, scenario.SelectCallerNode
	if _, err := e.CallerFault(context.Background(), spec, trigger.Caller{Pid: 42}, nil); !support.IsUnsupported(err) {
		t.Fatalf("node fault on local: %v, want unsupported", err)
	}
}
