package check

import (
	"encoding/json"
	"fmt"
	"os"
)

// Status of one check or of a whole verdict.
type Status string

const (
	Pass Status = "pass"
	Fail Status = "fail"
	// Skip: the check could not judge (its assumption did not hold, or a
	// primary failure already explains it). Message says why.
	Skip Status = "skip"
	// Void: the run's own assumptions failed (no traffic flowed, no history):
	// nothing can be concluded, which is never a pass.
	Void Status = "void"
	// Info: an observation shown for context (e.g. overlapping engine Jobs):
	// not an expectation, it can neither pass nor fail a run.
	Info Status = "info"
)

// Anomaly classes of the ledger (Jepsen set-full / total-queue style) and of
// the lock and leftover checks.
const (
	ClassOK            = "ok"
	ClassLost          = "lost"
	ClassDuplicated    = "duplicated"
	ClassCorrupt       = "corrupt"
	ClassUnexpected    = "unexpected"
	ClassIndeterminate = "indeterminate"
	ClassStuck         = "stuck"
	ClassRejected      = "rejected" // upload definitely refused, never output: not an anomaly

	ClassDoubleGrant  = "double-grant"  // one epoch held by two procs
	ClassStaleWrite   = "stale-write"   // a holder mutated after its epoch was superseded, lost or released
	ClassUnfenced     = "unfenced"      // a mutation under no epoch, an epoch never granted, or before the grant
	ClassEpochRegress = "epoch-regress" // a proc acquired an epoch older than one it held
	ClassStolenLease  = "stolen-lease"  // a lease broken while its holder's lease was fresh
	ClassSlowRecovery = "slow-recovery" // the lock was re-granted later than expected
	ClassLeftover     = "leftover"
	ClassStaleLease   = "stale-lease"

	// Damaged evidence (the history check).
	ClassBadEvent       = "bad-event"       // an event whose values break the format
	ClassDamagedLine    = "damaged-line"    // a line that is not an event (bad JSON, torn in a saved file, unknown field)
	ClassBadSnapshot    = "bad-snapshot"    // snapshot.json unreadable, or an entry that contradicts its path
	ClassSeqGap         = "seq-gap"         // a writer's journal misses lines
	ClassSeqRepeat      = "seq-repeat"      // a writer's sequence numbers repeat (two writers, one proc id?)
	ClassMissingJournal = "missing-journal" // a process the runner started or saw exit left no journal
	ClassCheckerCrash   = "checker-crash"   // the checker itself failed (a bug in rwxchaos)
)

// Ref names one piece of evidence: a journal event (Proc, Seq) or a file
// (Path, with Line for a line of it).
type Ref struct {
	Proc string `json:"proc,omitempty"`
	Seq  int64  `json:"seq,omitempty"`
	Type string `json:"type,omitempty"`
	Path string `json:"path,omitempty"`
	Line int    `json:"line,omitempty"`
}

func (r Ref) String() string {
	switch {
	case r.Proc != "" && r.Type != "":
		return fmt.Sprintf("%s#%d %s", r.Proc, r.Seq, r.Type)
	case r.Proc != "":
		return fmt.Sprintf("%s#%d", r.Proc, r.Seq)
	case r.Line > 0:
		return fmt.Sprintf("%s:%d", r.Path, r.Line)
	}
	return r.Path
}

// Anomaly is one thing a checker found wrong, tied to an interchange, an
// epoch or a file so a report can link to it.
type Anomaly struct {
	Class  string `json:"class"`
	Key    string `json:"key,omitempty"`
	Epoch  uint64 `json:"epoch,omitempty"`
	Proc   string `json:"proc,omitempty"`
	Path   string `json:"path,omitempty"`
	Time   int64  `json:"time,omitempty"` // Unix ns of the evidence, when known
	Detail string `json:"detail"`
	// Evidence names the events and files that prove the anomaly.
	Evidence []Ref `json:"evidence,omitempty"`
}

// CheckResult is the verdict of one check.
type CheckResult struct {
	Name    string             `json:"name"`
	Status  Status             `json:"status"`
	Message string             `json:"message"`
	Numbers map[string]float64 `json:"numbers,omitempty"`
	// Anomalies holds at most MaxAnomalies examples; AnomalyCount is the total.
	Anomalies    []Anomaly `json:"anomalies,omitempty"`
	AnomalyCount int       `json:"anomalyCount"`
}

// MaxAnomalies caps the examples kept per check so a broken run of a million
// uploads still has a small result.
const MaxAnomalies = 200

func (c *CheckResult) add(a Anomaly) {
	c.AnomalyCount++
	if len(c.Anomalies) < MaxAnomalies {
		c.Anomalies = append(c.Anomalies, a)
	}
}

func (c *CheckResult) num(name string, v float64) {
	if c.Numbers == nil {
		c.Numbers = map[string]float64{}
	}
	c.Numbers[name] = v
}

// Result is the verdict over a whole history.
type Result struct {
	Status Status `json:"status"`
	// Config is the thresholds the run was judged with, so an offline
	// re-check judges it the same way.
	Config Config        `json:"config"`
	Checks []CheckResult `json:"checks"`
	// Classes counts interchanges per ledger class.
	Classes map[string]int `json:"classes"`
	// Latency is upload-ack → output-written, in milliseconds.
	Latency Quantiles `json:"latencyMs"`
	// Epochs lists every lock tenure, for timelines.
	Epochs []Tenure `json:"epochs,omitempty"`
	// Crash is set when the checker itself failed (a bug in rwxchaos): the
	// status is then void and nothing was judged.
	Crash string `json:"crash,omitempty"`
}

// Quantiles of a latency distribution, in milliseconds.
type Quantiles struct {
	N   int     `json:"n"`
	P50 float64 `json:"p50"`
	P90 float64 `json:"p90"`
	P99 float64 `json:"p99"`
	Max float64 `json:"max"`
}

// Tenure is one epoch of the engine lock: who held it, from when, and the
// span of its mutations.
type Tenure struct {
	Epoch         uint64 `json:"epoch"`
	Holder        string `json:"holder"`
	Node          string `json:"node,omitempty"`
	Acquired      int64  `json:"acquired"`
	Released      int64  `json:"released,omitempty"`      // 0: never released (died, lost)
	LastMutation  int64  `json:"lastMutation,omitempty"`  // last claim/output/done under it
	LastHeartbeat int64  `json:"lastHeartbeat,omitempty"` // last renew seen
	End           string `json:"end"`                     // released | lost | died | open
}

// Check returns the named check, or nil.
func (r *Result) Check(name string) *CheckResult {
	for i := range r.Checks {
		if r.Checks[i].Name == name {
			return &r.Checks[i]
		}
	}
	return nil
}

// Save writes the result as indented JSON.
func (r *Result) Save(path string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("encode result: %w", err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write result: %w", err)
	}
	return os.Rename(tmp, path)
}

// LoadResult reads a result written by Save.
func LoadResult(path string) (*Result, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load result: %w", err)
	}
	var r Result
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &r, nil
}
