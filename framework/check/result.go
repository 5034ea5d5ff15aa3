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

	ClassDoubleGrant  = "double-grant"  // one epoch granted to two holders
	ClassStaleWrite   = "stale-write"   // a holder mutated after a newer epoch was granted
	ClassUnfenced     = "unfenced"      // a mutation under no lock epoch
	ClassEpochRegress = "epoch-regress" // a holder's epochs went backwards
	ClassStolenLease  = "stolen-lease"  // a lease broken before its TTL ran out
	ClassLeftover     = "leftover"
	ClassStaleLease   = "stale-lease"
)

// Anomaly is one thing a checker found wrong, tied to an interchange, an
// epoch or a file so a report can link to it.
type Anomaly struct {
	Class  string `json:"class"`
	Key    string `json:"key,omitempty"`
	Epoch  uint64 `json:"epoch,omitempty"`
	Proc   string `json:"proc,omitempty"`
	Seq    int64  `json:"seq,omitempty"` // the event of Proc that proves it
	Path   string `json:"path,omitempty"`
	Time   int64  `json:"time,omitempty"` // Unix ns of the evidence, when known
	Detail string `json:"detail"`
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
	// Publish is what the publish/consume checks measured (publish.go).
	Publish *PublishSummary `json:"publish,omitempty"`
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
