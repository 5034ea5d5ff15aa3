// Package provider defines where a scenario runs. Each environment (local
// processes, a kind cluster, an existing cluster) implements Env; the runner
// drives every one the same way. Sub-packages hold the implementations.
package provider

import (
	"context"
	"math/rand/v2"
	"time"

	"github.com/rwxchaos/rwxchaos/framework/fault"
	"github.com/rwxchaos/rwxchaos/framework/history"
	"github.com/rwxchaos/rwxchaos/framework/report"
	"github.com/rwxchaos/rwxchaos/framework/scenario"
)

// Env is one place a scenario runs: the cluster (or host), the pipeline on
// its shared volume, and the faults that can be done to them.
type Env interface {
	// Name is the provider name: local | kind | existing.
	Name() string
	// Provision brings up the cluster or host resources (storage server too).
	Provision(ctx context.Context) error
	// Deploy starts the workload and returns once every webserver is ready.
	Deploy(ctx context.Context) error
	// Endpoints are the webserver base URLs the traffic driver uploads to.
	Endpoints() []string
	// Fault resolves a scenario fault against the environment as it is now
	// (targets like "the node running the engine" move) and returns one
	// fault per target. An unsupported action returns an *Unsupported error.
	Fault(ctx context.Context, spec scenario.FaultSpec, rng *rand.Rand) ([]fault.Fault, error)
	// Drain lets the pipeline finish: engine passes run until the input and
	// work dirs are empty or the timeout passes (which is not an error: the
	// ledger will report what is stuck).
	Drain(ctx context.Context, timeout time.Duration) error
	// Collect gathers every journal and a snapshot of the volume, plus what
	// was observed of the cluster, and copies logs into dir.
	Collect(ctx context.Context, dir string) (*history.History, Observations, error)
	// Teardown removes what Provision and Deploy made (unless kept).
	Teardown(ctx context.Context) error
}

// Config is what an environment is built from.
type Config struct {
	Scenario *scenario.Scenario
	// RunDir is the run's report directory (logs, journals, kubeconfig).
	RunDir string
	RunID  string
	Seed   int64
	// Clock is the run's one clock.
	Clock func() time.Time
	// Logf prints a progress line in the run's log.
	Logf func(format string, args ...any)
}

// Counter is an optional Env capability: count of output files now, for
// progress display.
type Counter interface {
	Outputs() int
}

// Observations is what an Env saw of the cluster during the run.
type Observations struct {
	Nodes     []string
	Pods      []report.Pod
	Events    []report.KubeEvent
	Artifacts []report.Artifact
	// Reschedules: per fault, how long until the workload it hit was whole
	// again on healthy nodes (pods Ready elsewhere, or processes restarted).
	Reschedules []Reschedule
	// StuckTerminating counts pods still Terminating when the run ended.
	StuckTerminating int
	// OverlappingJobs counts times two engine Jobs ran at once (the
	// Terminating-pod overlap the Job controller allows despite Forbid).
	OverlappingJobs int
	// StorageNote, when set, replaces the report's generic note on the
	// storage backend with what actually ran (e.g. the NFS server's lease
	// and grace, which client, the grace periods observed).
	StorageNote string
}

// Reschedule is one workload recovery after a fault.
type Reschedule struct {
	Fault     string        `json:"fault"`
	Component string        `json:"component"`
	From      string        `json:"from"` // node or process that was lost
	To        string        `json:"to"`   // where it came back
	After     time.Duration `json:"after"`
}
