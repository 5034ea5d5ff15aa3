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
	"github.com/rwxchaos/rwxchaos/framework/trigger"
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
	// DryRun: the run only plans (Planner); nothing may be created.
	DryRun bool
	// Trigger is the unix socket of the run's trigger controller when a
	// fault is fired by file operations (schedule.on): the environment's
	// file servers dial it (storage.FuseConfig.Trigger). "" otherwise (and
	// in a dry run, which listens on nothing).
	Trigger string
}

// Factory builds the environment of one run.
type Factory func(Config) (Env, error)

// Set is the providers a runner can use, by scenario provider name. The
// CLI and the suites build one (provider/all.Default) and hand it to
// runner.Run: there is no global registry.
type Set map[scenario.Provider]Factory

// Planner is an optional Env capability used by dry runs (`rwxchaos run
// --dry-run`): Plan describes what Provision and Deploy would create (the
// cluster, nodes, images, volume, manifests) and creates nothing. A
// provider without it refuses dry runs rather than ignoring the flag.
type Planner interface {
	Plan(ctx context.Context) (string, error)
}

// Triggers is an optional Env capability: the environment's file servers
// dial Config.Trigger and report file operations, and it can say who made
// one and aim a fault at them. Envs without it cannot run schedule.on
// (the support table says where it can: framework/support).
type Triggers interface {
	// TriggerServers is how many file servers dial the socket, and the
	// volume's directory relative to their root ("" when they serve it).
	TriggerServers() (n int, root string)
	// Caller says who made a reported call: its role, node and a
	// description for the report.
	Caller(ctx context.Context, r *trigger.Report) (trigger.Caller, error)
	// CallerFault resolves a fault aimed at the caller: target select
	// caller or caller-node, a partition from or to caller-node, or any
	// other target as Fault does.
	CallerFault(ctx context.Context, spec scenario.FaultSpec, c trigger.Caller, rng *rand.Rand) ([]fault.Fault, error)
}

// Counter is an optional Env capability: count of output files now, for
// progress display.
type Counter interface {
	Outputs() int
}

// Settler is an optional Env capability: the pipeline's backlog now, given
// the keys of the uploads acknowledged so far. With it, the runner's settle
// phase ends as soon as the backlog is done (input and work empty, every
// acknowledged upload has its output), the declared settle time being only
// the upper bound; without it the runner calls Drain.
type Settler interface {
	Backlog(ctx context.Context, acked []string) (history.Backlog, error)
}

// Quiescer is an optional Env capability: after the settle phase and before
// collection, the workload stops starting engine runs and the running ones
// end, so that collection reads journals, a lease and a volume no engine is
// changing any more (an engine that took the lock between the journals'
// read and the snapshot would leave evidence of a tenure cut in two). It
// returns what it did, for the run's log; an error says what it could not
// stop, and the checkers judge the evidence as it is.
type Quiescer interface {
	Quiesce(ctx context.Context) (string, error)
}

// ClockProber is an optional Env capability: it measures each node's wall
// clock against the runner's, which the runner does at the start and the
// end of a run and records in the history (clock events), so the checkers
// compare timestamps written on different nodes with measured offsets
// instead of a guessed bound.
type ClockProber interface {
	// ClockOffsets returns the offset of every node it could probe; the
	// error says which it could not (a stopped node, say).
	ClockOffsets(ctx context.Context) (map[string]ClockOffset, error)
}

// ClockOffset is one node's clock: node clock − runner clock = Offset,
// true within ±Uncertainty; Start and End are the runner's clock around
// the probe.
type ClockOffset struct {
	Offset      time.Duration
	Uncertainty time.Duration
	Start, End  time.Time
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
	// Coverage says which checks the evidence allows (set by environments
	// that see the app only from outside).
	Coverage []report.Coverage
}

// Reschedule is one workload recovery after a fault.
type Reschedule struct {
	Fault     string        `json:"fault"`
	Component string        `json:"component"`
	From      string        `json:"from"` // node or process that was lost
	To        string        `json:"to"`   // where it came back
	After     time.Duration `json:"after"`
}
