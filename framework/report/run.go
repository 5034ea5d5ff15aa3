// Package report records one chaos run and renders it for people and CI.
//
// A run directory holds the Run record (result.json), the history it was
// judged on (history.ndjson, snapshot.json) and files derived from both:
// junit.xml for CI test tabs, summary.md for a GitHub Actions job summary and
// report.html, one self-contained page with a timeline. The verdict is
// decided by framework/verdict (Judge), for live runs and offline re-checks
// alike; this package records and renders it.
//
// Run directories live at <report-dir>/<scenario>/<run-id>/, with run-id the
// UTC start time and the seed, e.g. 20261123T141502Z-s42 (NewRunDir).
// testdata/ holds a small saved run that the tests re-check offline and
// render in headless Chromium.
package report

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/rwxchaos/rwxchaos/framework/check"
	"github.com/rwxchaos/rwxchaos/framework/scenario"
)

// Files of a run directory.
const (
	ResultFile  = "result.json"
	JUnitFile   = "junit.xml"
	SummaryFile = "summary.md"
	HTMLFile    = "report.html"
)

// SchemaVersion of result.json; it changes when Run changes incompatibly.
// Version 2 records what the verdict is decided from (Spec, Void, Errors,
// Observed); LoadRun reads version 1 files too.
const SchemaVersion = 2

// Verdict of a whole run.
type Verdict string

const (
	// VerdictPass: every check and expectation held.
	VerdictPass Verdict = "pass"
	// VerdictFail: the system under test broke an invariant or a bound.
	VerdictFail Verdict = "fail"
	// VerdictVoid: the run's own assumptions failed (no steady state, no
	// traffic): nothing can be concluded, which is never a pass.
	VerdictVoid Verdict = "void"
	// VerdictError: the framework itself failed (provisioning, a fault that
	// could not be injected or healed, collection).
	VerdictError Verdict = "error"
)

// ExitCode is the process exit status `rwxchaos run` uses for a verdict.
func (v Verdict) ExitCode() int {
	switch v {
	case VerdictPass:
		return 0
	case VerdictFail:
		return 1
	default:
		// void or error: the scenario could not be judged (2 is reserved
		// for bad input and usage, which never produce a report).
		return 3
	}
}

// Phase names, in run order.
const (
	PhaseProvision     = "provision"
	PhaseDeploy        = "deploy"
	PhaseSteadyState   = "steady-state"
	PhaseTrafficFaults = "traffic+faults"
	PhaseHeal          = "heal"
	PhaseSettle        = "settle"
	PhaseCollect       = "collect"
	PhaseCheck         = "check"
	PhaseReport        = "report"
	PhaseTeardown      = "teardown"
)

// Phases lists the phase names in run order.
var Phases = []string{PhaseProvision, PhaseDeploy, PhaseSteadyState, PhaseTrafficFaults, PhaseHeal,
	PhaseSettle, PhaseCollect, PhaseCheck, PhaseReport, PhaseTeardown}

// Run is the root of a report: what ran, where, what was done to it and what
// was concluded. All times are Unix nanoseconds from the runner's clock; 0
// means "did not happen" (or not known).
type Run struct {
	SchemaVersion int    `json:"schemaVersion"`
	Scenario      string `json:"scenario"`
	Description   string `json:"description,omitempty"`
	// ScenarioFile is the path the scenario was read from, for the replay command.
	ScenarioFile string `json:"scenarioFile,omitempty"`
	RunID        string `json:"runId"`
	Seed         int64  `json:"seed"`
	Provider     string `json:"provider"` // local | kind | existing
	Backend      string `json:"backend"`  // local | hostpath | fuse | nfs | storageclass
	// BackendNote says what a non-NFS backend does not exercise (BackendNote).
	BackendNote string `json:"backendNote,omitempty"`

	Started int64 `json:"started"`
	Ended   int64 `json:"ended"`
	// Rechecked is when the run was last re-checked offline; 0 if never.
	Rechecked int64 `json:"rechecked,omitempty"`
	// JudgedBy is the rwxchaos build (version.Info.Short) whose checkers
	// decided this verdict (verdict.Judge): the live run's, or the re-check's.
	JudgedBy string `json:"judgedBy,omitempty"`

	Verdict  Verdict `json:"verdict"`
	Reason   string  `json:"reason,omitempty"` // why void or error
	ExitCode int     `json:"exitCode"`

	// What the verdict is decided from, besides the history (see
	// framework/verdict): kept so that an offline re-check decides the same.

	// Spec is the scenario as it ran (defaults applied): a re-check
	// recomputes the expectations from it.
	Spec *scenario.Scenario `json:"spec,omitempty"`
	// JudgedWith says where the last judgment took its expectations from.
	JudgedWith string `json:"judgedWith,omitempty"`
	// Void is why the runner found the run void before judging it (no
	// steady state, the environment cannot run it here).
	Void string `json:"void,omitempty"`
	// Errors are the framework's own failures (provisioning, a fault that
	// could not be injected or healed, collection, an interrupted run).
	Errors []string `json:"errors,omitempty"`
	// Incomplete says why a re-checked run directory is not whole (the run
	// was killed before it wrote its result or collected its history).
	Incomplete string `json:"incomplete,omitempty"`
	// Observed is what the environment saw of the cluster.
	Observed *Observed `json:"observed,omitempty"`

	Phases       []Phase       `json:"phases"`
	Faults       []Fault       `json:"faults"`
	Expectations []Expectation `json:"expectations"`
	Check        *check.Result `json:"check,omitempty"`
	// CheckConfig is the thresholds the last judgment used (derived from
	// Spec by framework/verdict; a re-check derives them again).
	CheckConfig *check.Config `json:"checkConfig,omitempty"`

	// Coverage: which checks this run could judge, from what (see Coverage).
	Coverage []Coverage `json:"coverage,omitempty"`

	Nodes []string `json:"nodes"`
	// Pods are the workload's pods; with provider local, its processes.
	Pods      []Pod       `json:"pods"`
	Events    []KubeEvent `json:"events"`
	Artifacts []Artifact  `json:"artifacts"`
}

// Observed is what an environment saw of the cluster during the run, kept
// so that a re-check judges the same expectations.
type Observed struct {
	// Watched: the environment watched the workload's pods (providers kind
	// and existing); StuckTerminating and OverlappingJobs mean something
	// only then.
	Watched bool `json:"watched"`
	// Reschedules: per fault, how long until the workload it hit was whole
	// again on healthy nodes (pods Ready elsewhere, or processes restarted).
	Reschedules []Reschedule `json:"reschedules,omitempty"`
	// StuckTerminating counts pods still Terminating when the run ended.
	StuckTerminating int `json:"stuckTerminating"`
	// OverlappingJobs counts times two engine Jobs ran at once.
	OverlappingJobs int `json:"overlappingJobs"`
}

// Reschedule is one workload recovery after a fault.
type Reschedule struct {
	Fault     string        `json:"fault"`
	Component string        `json:"component"`
	From      string        `json:"from"` // node or process that was lost
	To        string        `json:"to"`   // where it came back ("" = never)
	After     time.Duration `json:"after"`
}

// Phase is one step of the run.
type Phase struct {
	Name  string `json:"name"`
	Start int64  `json:"start"`
	End   int64  `json:"end"`
	Err   string `json:"err,omitempty"`
}

// Fault is one injection of a scenario fault (a repeated fault appears once
// per repetition, with the same Name).
type Fault struct {
	Name   string `json:"name"`
	Action string `json:"action"`
	Target string `json:"target"` // resolved: node, pod or process acted on
	// Injected: the action was issued; Verified: its effect was observed.
	Injected int64 `json:"injected"`
	Verified int64 `json:"verified,omitempty"`
	// Healed: the undo was issued (equal to Injected for instant actions);
	// HealVerified: the system was seen whole again.
	Healed       int64  `json:"healed,omitempty"`
	HealVerified int64  `json:"healVerified,omitempty"`
	Err          string `json:"err,omitempty"`
	// Trigger is the file operation that fired the fault (schedule.on),
	// with its caller; Triggered when the storage layer received it.
	Trigger   string `json:"trigger,omitempty"`
	Triggered int64  `json:"triggered,omitempty"`
}

// Expectation is one `expect:` item of the scenario, judged.
type Expectation struct {
	Name    string       `json:"name"`
	Want    string       `json:"want"`
	Got     string       `json:"got"`
	Status  check.Status `json:"status"`
	Message string       `json:"message,omitempty"`
}

// Pod is the lifecycle of one pod (or local process).
type Pod struct {
	Pod       string `json:"pod"`
	Component string `json:"component"` // webserver | engine | jobqueue | ...
	Node      string `json:"node,omitempty"`
	Created   int64  `json:"created"`
	Ready     int64  `json:"ready,omitempty"`
	// Deleted is when it was gone, or when it started terminating.
	Deleted int64  `json:"deleted,omitempty"`
	Phase   string `json:"phase,omitempty"` // last seen phase, e.g. Running, Succeeded, Failed
}

// KubeEvent is one Kubernetes event seen during the run.
type KubeEvent struct {
	Time    int64  `json:"time"`
	Type    string `json:"type"` // Normal | Warning
	Reason  string `json:"reason"`
	Object  string `json:"object"` // kind/name
	Message string `json:"message"`
	Count   int    `json:"count,omitempty"`
}

// Artifact is a file collected with the run (logs, manifests), relative to
// the run directory.
type Artifact struct {
	Name string `json:"name"`
	Path string `json:"path"`
}

// BackendNote is the caveat to print for a storage backend that is not NFS;
// "" for nfs.
func BackendNote(backend string) string {
	switch backend {
	case "nfs":
		return ""
	case "fuse":
		return "fuse: a userspace file server stands in for NFS; NFS-specific lease and silly-rename behaviour is not exercised"
	case "hostpath":
		return "hostpath: one host directory shared into every node stands in for NFS; there is no network filesystem client, so NFS caching, lease and silly-rename behaviour is not exercised"
	case "local":
		return "local: a plain local directory stands in for NFS; no network filesystem semantics are exercised"
	case "storageclass":
		return "storageclass: the volume comes from an existing StorageClass; whether it is NFS depends on that class"
	case "":
		return "storage backend not recorded"
	}
	return backend + ": not NFS; NFS-specific behaviour may not be exercised"
}

// Duration is Ended-Started.
func (r *Run) Duration() time.Duration {
	if r.Ended <= r.Started {
		return 0
	}
	return time.Duration(r.Ended - r.Started)
}

// Failed lists the names of failed checks and expectations.
func (r *Run) Failed() []string {
	var out []string
	if r.Check != nil {
		for _, c := range r.Check.Checks {
			if c.Status == check.Fail {
				out = append(out, c.Name)
			}
		}
	}
	for _, e := range r.Expectations {
		if e.Status == check.Fail {
			out = append(out, e.Name)
		}
	}
	return out
}

// RunID names a run: the UTC start time and the seed, e.g. 20261123T141502Z-s42.
func RunID(t time.Time, seed int64) string {
	return t.UTC().Format("20060102T150405Z") + "-s" + fmt.Sprint(seed)
}

// NewRunDir creates <base>/<scenario>/<run-id>/ and returns its path and run
// id. If that directory already exists (two runs in one second with one
// seed), a suffix -2, -3, ... is added to the run id.
func NewRunDir(base, scenario string, t time.Time, seed int64) (dir, runID string, err error) {
	if scenario == "" || strings.ContainsAny(scenario, `/\`) || scenario == "." || scenario == ".." {
		return "", "", fmt.Errorf("run dir: bad scenario name %q", scenario)
	}
	parent := filepath.Join(base, scenario)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return "", "", fmt.Errorf("run dir: %w", err)
	}
	id := RunID(t, seed)
	for n := 1; n < 1000; n++ {
		runID = id
		if n > 1 {
			runID = fmt.Sprintf("%s-%d", id, n)
		}
		dir = filepath.Join(parent, runID)
		err := os.Mkdir(dir, 0o755)
		if err == nil {
			return dir, runID, nil
		}
		if !os.IsExist(err) {
			return "", "", fmt.Errorf("run dir: %w", err)
		}
	}
	return "", "", fmt.Errorf("run dir: too many runs named %s in %s", id, parent)
}

// Save writes result.json into dir atomically.
func (r *Run) Save(dir string) error {
	b, err := r.marshal()
	if err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(dir, ResultFile), b)
}

func (r *Run) marshal() ([]byte, error) {
	if r.SchemaVersion == 0 {
		r.SchemaVersion = SchemaVersion
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", ResultFile, err)
	}
	return append(b, '\n'), nil
}

// LoadRun reads the result.json of a run directory.
func LoadRun(dir string) (*Run, error) {
	path := filepath.Join(dir, ResultFile)
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load run: %w", err)
	}
	var r Run
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if r.SchemaVersion > SchemaVersion {
		return nil, fmt.Errorf("%s: schema version %d is newer than this rwxchaos reads (%d)", path, r.SchemaVersion, SchemaVersion)
	}
	if r.SchemaVersion < 2 {
		// Version 1 did not record why a run was void or errored, only
		// the verdict: keep it, so a re-check does not turn void into error.
		switch r.Verdict {
		case VerdictVoid:
			r.Void = r.Reason
		case VerdictError:
			r.Errors = []string{r.Reason}
		}
	}
	return &r, nil
}

// writeFileAtomic writes data to a temp file beside path, syncs and renames it.
func writeFileAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("sync %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("close %s: %w", path, err)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return fmt.Errorf("chmod %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("rename %s: %w", path, err)
	}
	return nil
}
