// Package check turns a run's history into a verdict. It imports only
// framework/history, so a saved run can be re-checked with no cluster.
package check

import (
	"encoding/hex"
	"fmt"
	"hash/maphash"
	"iter"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/rwxchaos/rwxchaos/framework/history"
)

// Check names, in the order they appear in a Result.
const (
	CheckHistory      = "history"       // the run's own assumptions
	CheckLedger       = "ledger"        // every interchange exactly once
	CheckLockSafety   = "lock-safety"   // one holder per epoch, no stale writes
	CheckLockRecovery = "lock-recovery" // time from a holder's death to the next grant
	CheckLatency      = "latency"
	CheckLeftovers    = "leftovers"
)

// Unlimited disables a Max* threshold.
const Unlimited = -1

// Config holds the thresholds a run is judged against.
type Config struct {
	// MinAcked is the number of acked uploads below which the run is void:
	// with no traffic nothing was tested.
	MinAcked int `json:"minAcked"`

	MaxLost          int `json:"maxLost"`
	MaxDuplicated    int `json:"maxDuplicated"`
	MaxCorrupt       int `json:"maxCorrupt"`
	MaxUnexpected    int `json:"maxUnexpected"`
	MaxStuck         int `json:"maxStuck"`
	MaxIndeterminate int `json:"maxIndeterminate"`
	MaxLeftovers     int `json:"maxLeftovers"`

	// LockExclusive checks that the engine lock had one holder at a time.
	LockExclusive bool `json:"lockExclusive"`
	// LockRecoveredWithin bounds the time from a holder's death (or last sign
	// of life) to the next grant; 0 skips the bound.
	LockRecoveredWithin time.Duration `json:"lockRecoveredWithin"`
	// ClockSkew is how far apart the writers' clocks may be. Epoch order is
	// judged by fencing tokens; wall-clock comparisons allow this much slack.
	ClockSkew time.Duration `json:"clockSkew"`
	// LeaseTTL is the engine lease's TTL: breaking a lease younger than this
	// is stealing it from a live holder. 0 takes it from the snapshot's lease.
	LeaseTTL time.Duration `json:"leaseTTL"`
	// LatencyP99 bounds upload-ack → output p99; 0 skips the bound.
	LatencyP99 time.Duration `json:"latencyP99"`
	// Publish, when set, judges a publish/consume workload instead of the
	// pipeline (publish.go).
	Publish *PublishConfig `json:"publish,omitempty"`
}

// DefaultConfig is the strict default: nothing lost, duplicated, corrupt,
// unexpected or stuck; lock exclusive.
func DefaultConfig() Config {
	return Config{
		MinAcked:         1,
		MaxIndeterminate: Unlimited,
		MaxLeftovers:     Unlimited,
		LockExclusive:    true,
		ClockSkew:        50 * time.Millisecond,
	}
}

// Input is what the checkers read: a stream of events and the files of the
// final snapshot. Streams let a million-upload history be checked without
// holding it twice.
type Input struct {
	Events iter.Seq[*history.Event]
	Files  iter.Seq[*history.File]
	Lease  *history.Lease
	Stats  history.ReadStats
	// HasSnapshot is false when the volume could not be scanned.
	HasSnapshot bool
	// SizeHint is the expected number of interchanges (0 if unknown); it
	// only presizes the ledger.
	SizeHint int
}

// FromHistory adapts a loaded history.
func FromHistory(h *history.History) Input {
	in := Input{Events: h.All(), Files: h.Files(), Stats: h.Stats, HasSnapshot: h.Snapshot != nil}
	if h.Snapshot != nil {
		in.SizeHint = len(h.Snapshot.Files)
	}
	if h.Snapshot != nil {
		in.Lease = h.Snapshot.Lease
	}
	return in
}

// Run judges the input. It makes one pass over the events and one over the files.
func Run(in Input, cfg Config) *Result {
	if cfg.Publish != nil {
		return runPublish(in, cfg)
	}
	l := newLedger(in.SizeHint)
	lk := newLockState()
	hi := newHistoryState()
	for e := range in.Events {
		hi.observe(e)
		l.observe(e)
		lk.observe(e)
	}
	var left CheckResult
	left.Name = CheckLeftovers
	if in.Files != nil {
		for f := range in.Files {
			l.file(f)
			switch f.Stage {
			case history.StageTemp, history.StageSilly:
				left.add(Anomaly{Class: ClassLeftover, Path: f.Path, Detail: leftoverWhy(f)})
			}
		}
	}

	res := &Result{Config: cfg}
	hc := hi.result(in, l, cfg)
	res.Checks = append(res.Checks, hc)
	if hc.Status == Void {
		for _, n := range []string{CheckLedger, CheckLockSafety, CheckLockRecovery, CheckLatency, CheckLeftovers} {
			res.Checks = append(res.Checks, CheckResult{Name: n, Status: Skip, Message: "not judged: " + hc.Message})
		}
		res.Status = Void
		return res
	}
	lc, classes, lat := l.result(cfg)
	res.Classes = classes
	res.Latency = lat
	res.Checks = append(res.Checks, lc)
	ls, lr, tenures := lk.result(in.Lease, cfg)
	res.Epochs = tenures
	res.Checks = append(res.Checks, ls, lr)
	res.Checks = append(res.Checks, latencyCheck(lat, cfg))
	res.Checks = append(res.Checks, leftoverResult(left, in.Lease, lk, cfg))

	res.Status = Pass
	for _, c := range res.Checks {
		if c.Status == Fail {
			res.Status = Fail
		}
	}
	return res
}

func leftoverWhy(f *history.File) string {
	if f.Stage == history.StageSilly {
		return "NFS silly-rename file: a client deleted a file another process still had open"
	}
	return "temporary file never renamed into place or removed"
}

func leftoverResult(c CheckResult, lease *history.Lease, lk *lockState, cfg Config) CheckResult {
	silly := 0
	for _, a := range c.Anomalies {
		if strings.HasPrefix(a.Detail, "NFS") {
			silly++
		}
	}
	if lease != nil && !lease.Released && lk.acquires > 0 {
		c.add(Anomaly{Class: ClassStaleLease, Epoch: lease.Epoch, Proc: lease.Holder, Path: history.LeaseFile,
			Detail: fmt.Sprintf("lease of epoch %d still held by %s after the run settled", lease.Epoch, lease.Holder)})
	}
	c.num("files", float64(c.AnomalyCount))
	c.num("silly", float64(silly))
	switch {
	case cfg.MaxLeftovers != Unlimited && c.AnomalyCount > cfg.MaxLeftovers:
		c.Status = Fail
		c.Message = fmt.Sprintf("%d leftovers (temp files, silly-renames, held lease), more than the %d allowed", c.AnomalyCount, cfg.MaxLeftovers)
	case c.AnomalyCount > 0:
		c.Status = Pass
		c.Message = fmt.Sprintf("%d leftovers noted (not limited)", c.AnomalyCount)
	default:
		c.Status = Pass
		c.Message = "no temp files, silly-renames or held lease left"
	}
	return c
}

// ---- history assumptions ----

type procSeq struct {
	min, max, n int64
}

type historyState struct {
	events int
	procs  map[string]*procSeq
	// A small cache of recent writers: merged journals interleave a few
	// writers at a time, and a hit costs a pointer compare, not a hash.
	recent [8]struct {
		proc string
		seq  *procSeq
	}
	next    int
	uploads int
	acked   int
	minCall int64
	maxCall int64
}

func newHistoryState() *historyState {
	return &historyState{procs: map[string]*procSeq{}}
}

// observe tracks, per writer, the range and count of sequence numbers: the
// merged history is ordered by call time, not by append order, so gaps are
// judged per writer once everything is seen.
func (h *historyState) observe(e *history.Event) {
	h.events++
	if h.minCall == 0 || e.Call < h.minCall {
		h.minCall = e.Call
	}
	if e.Call > h.maxCall {
		h.maxCall = e.Call
	}
	var p *procSeq
	for i := range h.recent {
		if h.recent[i].seq != nil && h.recent[i].proc == e.Proc {
			p = h.recent[i].seq
			break
		}
	}
	if p == nil {
		p = h.procs[e.Proc]
		if p == nil {
			p = &procSeq{min: e.Seq, max: e.Seq}
			h.procs[e.Proc] = p
		}
		h.recent[h.next].proc, h.recent[h.next].seq = e.Proc, p
		h.next = (h.next + 1) % len(h.recent)
	}
	p.n++
	p.min = min(p.min, e.Seq)
	p.max = max(p.max, e.Seq)
	if e.Type == history.EvUpload {
		h.uploads++
		if e.Outcome == history.OK {
			h.acked++
		}
	}
}

func (h *historyState) result(in Input, l *ledger, cfg Config) CheckResult {
	var gaps, dups int64
	var ex []string
	for proc, p := range h.procs {
		span := p.max - p.min + 1
		switch {
		case p.min != 1:
			gaps += p.min - 1
			ex = append(ex, fmt.Sprintf("%s starts at seq %d", proc, p.min))
		case p.n < span:
			gaps += span - p.n
			ex = append(ex, fmt.Sprintf("%s misses %d of seq 1..%d", proc, span-p.n, p.max))
		case p.n > span:
			dups += p.n - span
			ex = append(ex, fmt.Sprintf("%s repeats %d sequence numbers (two writers share one proc id?)", proc, p.n-span))
		}
	}
	sort.Strings(ex)
	if len(ex) > 5 {
		ex = ex[:5]
	}
	c := CheckResult{Name: CheckHistory}
	c.num("events", float64(h.events))
	c.num("processes", float64(len(h.procs)))
	c.num("uploads", float64(h.uploads))
	c.num("acked", float64(h.acked))
	c.num("tornLines", float64(in.Stats.Torn))
	c.num("seqGaps", float64(gaps))
	c.num("seqRepeats", float64(dups))
	if h.maxCall > h.minCall {
		c.num("spanSeconds", float64(h.maxCall-h.minCall)/1e9)
	}
	switch {
	case h.events == 0:
		c.Status, c.Message = Void, "the history is empty: no process journaled anything"
	case !in.HasSnapshot:
		c.Status, c.Message = Void, "no snapshot of the volume: outputs cannot be counted"
	case h.acked < cfg.MinAcked:
		c.Status, c.Message = Void, fmt.Sprintf("only %d acked uploads (need %d): no traffic flowed, nothing was tested", h.acked, cfg.MinAcked)
	case gaps > 0 || dups > 0:
		// Missing journal lines could hide a duplicate or a stale write.
		c.Status = Fail
		c.Message = fmt.Sprintf("journals are incomplete: %d missing and %d repeated sequence numbers (%s)", gaps, dups, strings.Join(ex, "; "))
	default:
		c.Status = Pass
		c.Message = fmt.Sprintf("%d events from %d processes, %d uploads (%d acked), %d torn last lines", h.events, len(h.procs), h.uploads, h.acked, in.Stats.Torn)
	}
	return c
}

// ---- ledger ----

type keyState struct {
	sha         [32]byte
	ackTime     int64
	firstOutput int64
	acked       uint16
	unknown     uint16
	failed      uint16
	outputEvs   uint16
	outFiles    uint16
	docs        uint16
	stuck       uint16
	uploaded    bool
	shaSet      bool
	shaConflict bool
	corrupt     int32 // index+1 into ledger.why
}

type ledger struct {
	seed  maphash.Seed
	idx   map[uint64]int32 // by maphash of the key: cheaper than string keys
	spill map[string]int32 // keys whose hash collided with another key's
	keys  []string
	state []keyState
	why   []string
}

func newLedger(hint int) *ledger {
	return &ledger{seed: maphash.MakeSeed(), idx: make(map[uint64]int32, hint), spill: map[string]int32{},
		keys: make([]string, 0, hint), state: make([]keyState, 0, hint)}
}

func (l *ledger) get(key string) *keyState {
	h := maphash.String(l.seed, key)
	i, ok := l.idx[h]
	switch {
	case ok && l.keys[i] == key:
	case !ok:
		i = l.add(key)
		l.idx[h] = i
	default: // another key has this hash
		if i, ok = l.spill[key]; !ok {
			i = l.add(key)
			l.spill[key] = i
		}
	}
	return &l.state[i]
}

func (l *ledger) add(key string) int32 {
	i := int32(len(l.state))
	l.keys = append(l.keys, key)
	l.state = append(l.state, keyState{})
	return i
}

func (l *ledger) observe(e *history.Event) {
	switch e.Type {
	case history.EvUpload:
		if e.Key == "" {
			return
		}
		s := l.get(e.Key)
		s.uploaded = true
		switch e.Outcome {
		case history.OK:
			s.acked++
			if s.ackTime == 0 || e.End() < s.ackTime {
				s.ackTime = e.End()
			}
			var sha [32]byte
			if _, err := hex.Decode(sha[:], []byte(e.SHA)); err == nil {
				if s.shaSet && sha != s.sha {
					s.shaConflict = true
				}
				s.sha, s.shaSet = sha, true
			}
		case history.Unknown:
			s.unknown++
		default:
			s.failed++
		}
		if !s.shaSet && e.SHA != "" && e.Outcome == history.Unknown {
			if _, err := hex.Decode(s.sha[:], []byte(e.SHA)); err == nil {
				s.shaSet = true
			}
		}
	case history.EvOutput:
		if e.Key == "" {
			return
		}
		s := l.get(e.Key)
		s.outputEvs++
		if s.firstOutput == 0 || e.End() < s.firstOutput {
			s.firstOutput = e.End()
		}
	}
}

func (l *ledger) file(f *history.File) {
	switch f.Stage {
	case history.StageInput, history.StageWork:
		if f.Key != "" {
			l.get(f.Key).stuck++
		}
	case history.StageOutput:
		key := f.Key
		if key == "" {
			key = "?" + f.Path
		}
		s := l.get(key)
		s.outFiles++
		s.docs += uint16(len(f.Docs))
		if f.Err != "" {
			l.corrupt(s, fmt.Sprintf("%s: %s", f.Path, f.Err))
			return
		}
		for _, d := range f.Docs {
			if d.Key != key {
				l.corrupt(s, fmt.Sprintf("%s: document names key %q", f.Path, d.Key))
				return
			}
			if s.shaSet {
				var sha [32]byte
				if _, err := hex.Decode(sha[:], []byte(d.InputSHA)); err != nil || sha != s.sha {
					l.corrupt(s, fmt.Sprintf("%s: output was made from input %.12s…, the upload was %x…", f.Path, d.InputSHA, s.sha[:6]))
					return
				}
			}
		}
	}
}

func (l *ledger) corrupt(s *keyState, why string) {
	if s.corrupt == 0 {
		l.why = append(l.why, why)
		s.corrupt = int32(len(l.why))
	}
}

func (l *ledger) classify(s *keyState) (string, string) {
	switch {
	case !s.uploaded:
		return ClassUnexpected, "an output exists for an interchange that was never uploaded"
	case s.corrupt > 0:
		return ClassCorrupt, l.why[s.corrupt-1]
	case s.shaConflict:
		return ClassDuplicated, "two different interchanges with this control reference were both acked"
	case s.outFiles > 1:
		return ClassDuplicated, fmt.Sprintf("%d output files", s.outFiles)
	case s.docs > 1:
		return ClassDuplicated, fmt.Sprintf("%d documents in one output file", s.docs)
	case s.outputEvs > 1:
		return ClassDuplicated, fmt.Sprintf("processed %d times (output written %d times)", s.outputEvs, s.outputEvs)
	case s.stuck > 0:
		if s.outFiles > 0 {
			return ClassStuck, "output exists but the input is still in input/work: the next pass would process it again"
		}
		return ClassStuck, "still in input/work when the run ended"
	case s.outFiles == 1:
		if s.acked == 0 && s.unknown == 0 {
			return ClassUnexpected, "output exists though every upload of it was refused"
		}
		return ClassOK, ""
	case s.acked > 0:
		return ClassLost, fmt.Sprintf("acked %d time(s), never output", s.acked)
	case s.unknown > 0:
		return ClassIndeterminate, "upload outcome unknown and no output: may never have been stored"
	}
	return ClassRejected, ""
}

func (l *ledger) result(cfg Config) (CheckResult, map[string]int, Quantiles) {
	c := CheckResult{Name: CheckLedger}
	classes := map[string]int{}
	var lat []float64
	for i := range l.state {
		s := &l.state[i]
		cls, why := l.classify(s)
		classes[cls]++
		switch cls {
		case ClassOK:
			if s.ackTime > 0 && s.firstOutput > 0 {
				d := float64(s.firstOutput-s.ackTime) / 1e6
				if d < 0 {
					d = 0 // output landed before the client saw the ack
				}
				lat = append(lat, d)
			}
		case ClassRejected:
		case ClassIndeterminate:
			if cfg.MaxIndeterminate != Unlimited {
				c.add(Anomaly{Class: cls, Key: l.keys[i], Detail: why})
			}
		default:
			c.add(Anomaly{Class: cls, Key: l.keys[i], Time: s.firstOutput, Detail: why})
		}
	}
	for _, k := range []string{ClassOK, ClassLost, ClassDuplicated, ClassCorrupt, ClassUnexpected, ClassIndeterminate, ClassStuck, ClassRejected} {
		c.num(k, float64(classes[k]))
	}
	limits := []struct {
		class string
		max   int
	}{
		{ClassLost, cfg.MaxLost}, {ClassDuplicated, cfg.MaxDuplicated}, {ClassCorrupt, cfg.MaxCorrupt},
		{ClassUnexpected, cfg.MaxUnexpected}, {ClassStuck, cfg.MaxStuck}, {ClassIndeterminate, cfg.MaxIndeterminate},
	}
	var bad []string
	for _, lim := range limits {
		if lim.max != Unlimited && classes[lim.class] > lim.max {
			bad = append(bad, fmt.Sprintf("%d %s (max %d)", classes[lim.class], lim.class, lim.max))
		}
	}
	summary := fmt.Sprintf("%d interchanges: %d ok, %d lost, %d duplicated, %d corrupt, %d unexpected, %d stuck, %d indeterminate, %d rejected",
		len(l.state), classes[ClassOK], classes[ClassLost], classes[ClassDuplicated], classes[ClassCorrupt],
		classes[ClassUnexpected], classes[ClassStuck], classes[ClassIndeterminate], classes[ClassRejected])
	if len(bad) > 0 {
		c.Status = Fail
		c.Message = strings.Join(bad, ", ") + " — " + summary
	} else {
		c.Status = Pass
		c.Message = summary
	}
	sortAnomalies(c.Anomalies)
	return c, classes, quantiles(lat)
}

func sortAnomalies(a []Anomaly) {
	sort.SliceStable(a, func(i, j int) bool {
		if a[i].Class != a[j].Class {
			return a[i].Class < a[j].Class
		}
		return a[i].Key < a[j].Key
	})
}

func quantiles(ms []float64) Quantiles {
	if len(ms) == 0 {
		return Quantiles{}
	}
	slices.Sort(ms)
	at := func(p float64) float64 {
		i := int(p*float64(len(ms)-1) + 0.5)
		return ms[i]
	}
	return Quantiles{N: len(ms), P50: at(0.50), P90: at(0.90), P99: at(0.99), Max: ms[len(ms)-1]}
}

func latencyCheck(q Quantiles, cfg Config) CheckResult {
	c := CheckResult{Name: CheckLatency}
	c.num("n", float64(q.N))
	c.num("p50", q.P50)
	c.num("p90", q.P90)
	c.num("p99", q.P99)
	c.num("max", q.Max)
	desc := fmt.Sprintf("upload→output over %d interchanges: p50 %.0f ms, p90 %.0f ms, p99 %.0f ms, max %.0f ms", q.N, q.P50, q.P90, q.P99, q.Max)
	switch {
	case cfg.LatencyP99 == 0:
		c.Status, c.Message = Pass, desc+" (no bound set)"
	case q.N == 0:
		c.Status, c.Message = Skip, "no interchange completed: latency cannot be judged"
	case q.P99 > float64(cfg.LatencyP99.Milliseconds()):
		c.Status, c.Message = Fail, fmt.Sprintf("p99 %.0f ms exceeds %s — %s", q.P99, cfg.LatencyP99, desc)
	default:
		c.Status, c.Message = Pass, desc
	}
	return c
}
