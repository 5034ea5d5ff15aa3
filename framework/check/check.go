// Package check turns a run's history into a verdict. It imports only
// framework/history, so a saved run can be re-checked with no cluster.
//
// Run makes one pass over the events and one over the snapshot's files and
// never panics (a checker bug becomes a void result with Crash set). It
// trusts nothing it reads: every event is validated again (Event.Validate),
// every snapshot entry's stage and key are re-derived from its path and
// content, and every problem the reader found is reported as damage by the
// history check; nothing is skipped silently.
//
// Lock safety is decided by order, not by comparing two machines' clocks:
// each writer's own events are ordered on its one clock and fencing tokens
// (epochs) are totally ordered, so a write the writer began after it
// journaled losing or releasing its epoch, a write under an epoch no grant
// produced, the last write landing in a file being an older epoch's, and a
// lease broken while its holder kept renewing it are proven without
// comparing two machines' clocks. Wall clocks only add evidence, with the
// per-node offsets the runner measured (clock events) or, for nodes it did
// not measure, Config.ClockSkew. Every anomaly names the events that prove
// it (Anomaly.Evidence).
package check

import (
	"fmt"
	"iter"
	"path"
	"runtime/debug"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/rwxchaos/rwxchaos/framework/history"
)

// Check names, in the order they appear in a Result.
const (
	CheckHistory      = "history"       // the run's own assumptions and the evidence's integrity
	CheckLedger       = "ledger"        // every interchange exactly once
	CheckLockSafety   = "lock-safety"   // one holder per epoch, no stale or unfenced writes
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
	// SteadyStateWithin bounds the time from the first upload to the
	// MinAcked-th ack (plus 100 ms for the runner's polling); a slower
	// start makes the run void. 0 skips the bound.
	SteadyStateWithin time.Duration `json:"steadyStateWithin,omitempty"`

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
	// ClockSkew bounds how far apart the clocks of two nodes whose offsets
	// the runner did not measure (no clock events) may be. Comparisons
	// between such nodes' timestamps allow this much slack; order proofs
	// (seq, epochs, the volume) do not need it.
	ClockSkew time.Duration `json:"clockSkew"`
	// LeaseTTL is the engine lease's TTL the scenario set: a takeover that
	// journaled an age below it (or below the TTL it journaled itself)
	// broke a live lease. 0: only the journaled TTL counts.
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
// holding it: a history from history.LoadStreamed is decoded from disk as
// the checkers read it.
type Input struct {
	Events iter.Seq[*history.Event]
	Files  iter.Seq[*history.File]
	Lease  *history.Lease
	// Stats is what the reader found: torn lines, problems (lines that broke
	// the format, reported as damage) and the journal files read.
	Stats history.ReadStats
	// HasSnapshot is false when the volume's final state is unknown: the
	// ledger then judges outputs from the output events alone.
	HasSnapshot bool
	// SizeHint is the expected number of interchanges (0 if unknown); it
	// only presizes the ledger.
	SizeHint int
	// Keys, when set, is the table the ledger numbers the interchanges'
	// keys in, shared with another pass over the same events (the
	// report's); nil: the ledger makes its own.
	Keys *history.Keys
	// SnapshotTaken is when the snapshot was taken (Unix ns, the runner's
	// clock; 0 if unknown): a lease not yet expired then could not have
	// been recovered.
	SnapshotTaken int64
}

// FromHistory adapts a loaded history.
func FromHistory(h *history.History) Input {
	in := Input{Events: h.All(), Files: h.Files(), Stats: h.Stats, HasSnapshot: h.Snapshot != nil}
	if h.Snapshot != nil {
		in.SizeHint = h.FileCount()
		in.Lease = h.Snapshot.Lease
		in.SnapshotTaken = h.Snapshot.Taken
	}
	return in
}

// Run judges the input. It makes one pass over the events and one over the
// files, and never panics: a failure of the checker itself returns a void
// result whose Crash says what happened.
func Run(in Input, cfg Config) (res *Result) {
	defer func() {
		if p := recover(); p != nil {
			res = crashed(cfg, fmt.Sprintf("%v\n%s", p, debug.Stack()))
		}
	}()
	return run(in, cfg)
}

func crashed(cfg Config, why string) *Result {
	msg := "the checker crashed (a bug in rwxchaos: please report it with this run directory): " + firstLine(why)
	res := &Result{Status: Void, Config: cfg, Crash: why, Classes: map[string]int{}}
	res.Checks = append(res.Checks, CheckResult{Name: CheckHistory, Status: Void, Message: msg, AnomalyCount: 1,
		Anomalies: []Anomaly{{Class: ClassCheckerCrash, Detail: firstLine(why)}}})
	for _, n := range []string{CheckLedger, CheckLockSafety, CheckLockRecovery, CheckLatency, CheckLeftovers} {
		res.Checks = append(res.Checks, CheckResult{Name: n, Status: Skip, Message: "not judged: the checker crashed"})
	}
	return res
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}

func run(in Input, cfg Config) *Result {
	if cfg.Publish != nil {
		return runPublish(in, cfg)
	}
	hi := newHistoryState(in, cfg)
	l := newLedger(in.SizeHint, hi, in.Keys)
	lk := newLockState(hi)
	if in.Events != nil {
		for e := range in.Events {
			if e == nil {
				continue
			}
			if err := e.Validate(); err != nil {
				hi.invalid(e, err)
				continue
			}
			p := hi.observe(e)
			l.observe(e, p)
			lk.observe(e, p)
		}
	}
	left := CheckResult{Name: CheckLeftovers}
	if in.Files != nil {
		for f := range in.Files {
			if f == nil {
				continue
			}
			stage, key, ok := hi.file(f)
			if !ok {
				continue
			}
			l.file(f, stage, key)
			switch stage {
			case history.StageTemp, history.StageSilly:
				left.add(Anomaly{Class: ClassLeftover, Path: f.Path, Detail: leftoverWhy(stage), Evidence: []Ref{{Path: f.Path}}})
			}
		}
	}
	lease := in.Lease
	if lease != nil {
		if err := history.ValidateLease(lease); err != nil {
			hi.damage(ClassBadSnapshot, history.LeaseFile, "snapshot lease: "+err.Error(), Ref{Path: history.LeaseFile})
			lease = nil
		}
	}

	res := &Result{Config: cfg}
	hc := hi.result(in)
	res.Checks = append(res.Checks, hc)
	if hc.Status == Void {
		for _, n := range []string{CheckLedger, CheckLockSafety, CheckLockRecovery, CheckLatency, CheckLeftovers} {
			res.Checks = append(res.Checks, CheckResult{Name: n, Status: Skip, Message: "not judged: " + hc.Message})
		}
		res.Status = Void
		res.Classes = map[string]int{}
		return res
	}
	lc, classes, lat := l.result(cfg, in.HasSnapshot)
	res.Classes = classes
	res.Latency = lat
	res.Checks = append(res.Checks, lc)
	lk.snapTaken = in.SnapshotTaken
	ls, lr, tenures := lk.result(lease, cfg, l.staleByVolume)
	res.Epochs = tenures
	res.Checks = append(res.Checks, ls, lr)
	res.Checks = append(res.Checks, latencyCheck(lat, cfg))
	res.Checks = append(res.Checks, leftoverResult(left, lease, lk, cfg, in.HasSnapshot))

	res.Status = Pass
	for _, c := range res.Checks {
		if c.Status == Fail {
			res.Status = Fail
		}
	}
	return res
}

func leftoverWhy(stage string) string {
	if stage == history.StageSilly {
		return "NFS silly-rename file: a client deleted a file another process still had open"
	}
	return "temporary file never renamed into place or removed"
}

func leftoverResult(c CheckResult, lease *history.Lease, lk *lockState, cfg Config, hasSnapshot bool) CheckResult {
	if !hasSnapshot {
		c.Status, c.Message = Skip, "no snapshot of the volume: leftovers cannot be seen"
		return c
	}
	silly := 0
	for _, a := range c.Anomalies {
		if strings.HasPrefix(a.Detail, "NFS") {
			silly++
		}
	}
	if lease != nil && !lease.Released && lk.acquires > 0 {
		c.add(Anomaly{Class: ClassStaleLease, Epoch: lease.Epoch, Proc: lease.Holder, Path: history.LeaseFile,
			Detail:   fmt.Sprintf("lease of epoch %d still held by %s after the run settled", lease.Epoch, lease.Holder),
			Evidence: []Ref{{Path: history.LeaseFile}}})
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

// ---- history: the run's own assumptions and the evidence's integrity ----

// procState is what the checkers know of one writer (proc id).
type procState struct {
	name        string
	idx         int32
	role, node  string
	min, max, n int64
	// The mutation (claim, output, skip, done) with the highest seq: what
	// the writer last did to the volume (renewals may follow it).
	lastSeq   int64
	lastType  string
	lastKey   string
	lastEpoch uint64
}

// target is a runner event naming a process (proc.start or proc.exit).
type target struct {
	ev     Ref
	target string
	call   int64
}

type historyState struct {
	cfg   Config
	procs map[string]*procState
	list  []*procState
	// A small cache of recent writers: merged journals interleave a few
	// writers at a time, and a hit costs a string compare, not a hash.
	recent [8]*procState
	next   int

	events  int
	uploads int
	acked   int
	minCall int64
	maxCall int64
	firstUp int64
	// The MinAcked earliest ack returns, a max-heap (only when
	// SteadyStateWithin is set): steady needs the MinAcked-th.
	ackTimes []int64

	starts, exits []target
	clocks        *clockModel
	engineEvents  int

	damaged CheckResult // anomalies of damaged evidence
	dmg     map[string]int
}

func newHistoryState(in Input, cfg Config) *historyState {
	h := &historyState{cfg: cfg, procs: map[string]*procState{}, clocks: newClockModel(cfg.ClockSkew), dmg: map[string]int{}}
	// Problems the reader found: each line that broke the format is damage.
	for _, p := range in.Stats.Problems {
		class := ClassBadEvent
		switch p.Code {
		case history.CodeSyntax, history.CodeTorn, history.CodeTooLong, history.CodeUnknownField:
			class = ClassDamagedLine
		case history.CodeSnapshot:
			class = ClassBadSnapshot
		}
		ev := []Ref{{Path: p.File, Line: p.Line}}
		if p.Proc != "" {
			ev = append(ev, Ref{Proc: p.Proc, Seq: p.Seq})
			if p.Seq >= 1 {
				// The line is damage, not a gap: count its seq as seen.
				h.seen(p.Proc, p.Seq)
			}
		}
		h.damage(class, p.File, p.String(), ev...)
	}
	if extra := in.Stats.ProblemCount - len(in.Stats.Problems); extra > 0 {
		h.damaged.AnomalyCount += extra
		h.dmg[ClassDamagedLine] += extra
	}
	return h
}

func (h *historyState) damage(class, path, detail string, ev ...Ref) {
	h.dmg[class]++
	h.damaged.add(Anomaly{Class: class, Path: path, Detail: detail, Evidence: ev})
}

// invalid records an event that breaks the format (it is not used as evidence).
func (h *historyState) invalid(e *history.Event, err error) {
	if e.Proc != "" && e.Seq >= 1 && len(e.Proc) <= 200 {
		h.seen(e.Proc, e.Seq)
	}
	h.damage(ClassBadEvent, "", fmt.Sprintf("%s seq %d: %v", clipStr(e.Proc), e.Seq, err), Ref{Proc: clipStr(e.Proc), Seq: e.Seq, Type: clipStr(e.Type)})
}

func clipStr(s string) string {
	if len(s) > 80 {
		return s[:77] + "..."
	}
	return s
}

// proc returns the state of a writer, creating it.
func (h *historyState) proc(name string) *procState {
	for _, p := range h.recent {
		if p != nil && p.name == name {
			return p
		}
	}
	p := h.procs[name]
	if p == nil {
		p = &procState{name: name, idx: int32(len(h.list))}
		h.procs[name] = p
		h.list = append(h.list, p)
	}
	h.recent[h.next] = p
	h.next = (h.next + 1) % len(h.recent)
	return p
}

func (h *historyState) seen(name string, seq int64) *procState {
	p := h.proc(name)
	if p.n == 0 {
		p.min, p.max = seq, seq
	}
	p.n++
	p.min = min(p.min, seq)
	p.max = max(p.max, seq)
	return p
}

// observe tracks, per writer, the range and count of sequence numbers: the
// merged history is ordered by call time, not by append order, so gaps are
// judged per writer once everything is seen.
func (h *historyState) observe(e *history.Event) *procState {
	h.events++
	if h.minCall == 0 || e.Call < h.minCall {
		h.minCall = e.Call
	}
	if e.Call > h.maxCall {
		h.maxCall = e.Call
	}
	p := h.proc(e.Proc)
	if history.IsMutation(e.Type) && e.Outcome != history.Fail && e.Seq >= p.lastSeq {
		p.lastSeq, p.lastType, p.lastKey, p.lastEpoch = e.Seq, e.Type, e.Key, e.Epoch
	}
	if p.n == 0 {
		p.min, p.max = e.Seq, e.Seq
	}
	p.n++
	p.min = min(p.min, e.Seq)
	p.max = max(p.max, e.Seq)
	if p.role == "" {
		p.role, p.node = e.Role, e.Node
	}
	switch e.Type {
	case history.EvUpload:
		h.uploads++
		if h.firstUp == 0 || e.Call < h.firstUp {
			h.firstUp = e.Call
		}
		if e.Outcome == history.OK {
			h.acked++
			if h.cfg.SteadyStateWithin > 0 {
				h.ackAt(e.End())
			}
		}
	case history.EvProcStart:
		h.starts = append(h.starts, target{ev: Ref{Proc: e.Proc, Seq: e.Seq, Type: e.Type}, target: e.Target, call: e.Call})
	case history.EvProcExit:
		h.exits = append(h.exits, target{ev: Ref{Proc: e.Proc, Seq: e.Seq, Type: e.Type}, target: e.Target, call: e.Call})
	case history.EvClock:
		h.clocks.observe(e)
	}
	if e.Role == history.RoleEngine {
		h.engineEvents++
	}
	return p
}

// file validates a snapshot entry and re-derives its stage and key from
// its path and content; ok is false for an entry too damaged to use.
func (h *historyState) file(f *history.File) (stage, key string, ok bool) {
	p := f.Path
	clean := p != "" && !path.IsAbs(p) && path.Clean(p) == p && p != ".." && !strings.HasPrefix(p, "../")
	if clean && !strings.HasPrefix(p, "botssys/") {
		// Not the Bots layout: an adapter's snapshot of another app's
		// volume, whose stage and key are its matching (see the
		// framework/history doc); they are taken as given, but checked.
		switch f.Stage {
		case history.StageInput, history.StageWork, history.StageOutput, history.StageTemp, history.StageSilly, history.StageOther:
		default:
			h.damage(ClassBadSnapshot, p, fmt.Sprintf("%s: stage %q is not a stage (input, work, output, temp, silly, other)", p, clipStr(f.Stage)), Ref{Path: p})
			return "", "", false
		}
		if f.Key != "" && history.ValidKey(f.Key) != nil {
			h.damage(ClassBadSnapshot, p, p+": "+history.ValidKey(f.Key).Error(), Ref{Path: p})
			return "", "", false
		}
		if f.Size < 0 {
			h.damage(ClassBadSnapshot, p, fmt.Sprintf("%s: size %d is negative", p, f.Size), Ref{Path: p})
			return "", "", false
		}
		return f.Stage, f.Key, true
	}
	stage, key, err := f.Check()
	if err != nil {
		// A stored stage or key that contradicts the path is damage; the
		// derived values are still the evidence.
		h.damage(ClassBadSnapshot, clipStr(p), err.Error(), Ref{Path: clipStr(p)})
	}
	return stage, key, stage != ""
}

// known reports the writers that have a journal in the history: with
// events, or listed (possibly empty) among the journal files read.
func (h *historyState) known(in Input) (procs map[string]bool, rolePid map[string]bool) {
	procs = map[string]bool{}
	rolePid = map[string]bool{}
	add := func(id string) {
		procs[id] = true
		if role, pid, ok := rolePidOf(id); ok {
			rolePid[role+"/"+pid] = true
		}
	}
	for _, p := range h.list {
		add(p.name)
	}
	for _, j := range in.Stats.Journals {
		for _, p := range j.Procs {
			add(p)
		}
		if stem, ok := strings.CutSuffix(j.Path, ".ndjson"); ok {
			add(stem)
		}
	}
	return procs, rolePid
}

// rolePidOf splits a proc id "role-host-pid-startnanos" (history.ProcID).
func rolePidOf(id string) (role, pid string, ok bool) {
	parts := strings.Split(id, "-")
	if len(parts) < 4 {
		return "", "", false
	}
	if numeric(parts[len(parts)-2]) == "" {
		return "", "", false
	}
	return parts[0], parts[len(parts)-2], true
}

// startedAs splits a supervisor target "role/index/pid".
func startedAs(t string) (role, pid string, ok bool) {
	parts := strings.Split(t, "/")
	if len(parts) != 3 || numeric(parts[2]) == "" {
		return "", "", false
	}
	return parts[0], parts[2], true
}

func (h *historyState) result(in Input) CheckResult {
	c := h.damaged
	c.Name = CheckHistory
	// Gaps and repeats of each writer's sequence numbers.
	var gaps, dups int64
	sorted := slices.Clone(h.list)
	slices.SortFunc(sorted, func(a, b *procState) int { return strings.Compare(a.name, b.name) })
	for _, p := range sorted {
		if p.n == 0 {
			continue
		}
		span := p.max - p.min + 1
		ev := []Ref{{Proc: p.name, Seq: p.max}}
		switch {
		case p.min != 1:
			gaps += p.min - 1
			h.dmg[ClassSeqGap]++
			c.add(Anomaly{Class: ClassSeqGap, Proc: p.name, Detail: fmt.Sprintf("%s starts at seq %d: its first %d lines are missing", p.name, p.min, p.min-1), Evidence: []Ref{{Proc: p.name, Seq: p.min}}})
		case p.n < span:
			gaps += span - p.n
			h.dmg[ClassSeqGap]++
			c.add(Anomaly{Class: ClassSeqGap, Proc: p.name, Detail: fmt.Sprintf("%s misses %d of seq 1..%d", p.name, span-p.n, p.max), Evidence: ev})
		case p.n > span:
			dups += p.n - span
			h.dmg[ClassSeqRepeat]++
			c.add(Anomaly{Class: ClassSeqRepeat, Proc: p.name, Detail: fmt.Sprintf("%s repeats %d sequence numbers (two writers share one proc id, or a journal was merged twice)", p.name, p.n-span), Evidence: ev})
		}
	}
	// Every process the runner started or saw exit must have a journal.
	missing, noJournal := 0, 0
	procs, rolePid := h.known(in)
	exited := map[string]bool{}
	for _, x := range h.exits {
		if role, pid, ok := startedAs(x.target); ok {
			exited[role+"/"+pid] = true
			continue
		}
		if !procs[x.target] {
			missing++
			c.add(Anomaly{Class: ClassMissingJournal, Proc: x.target, Time: x.call,
				Detail:   fmt.Sprintf("the runner saw %s exit (%s), but the history holds no journal of it: its events are missing", x.target, x.ev),
				Evidence: []Ref{x.ev}})
		}
	}
	for _, s := range h.starts {
		role, pid, ok := startedAs(s.target)
		if !ok {
			if !procs[s.target] {
				missing++
				c.add(Anomaly{Class: ClassMissingJournal, Proc: s.target, Time: s.call,
					Detail: fmt.Sprintf("the runner started %s (%s), but the history holds no journal of it", s.target, s.ev), Evidence: []Ref{s.ev}})
			}
			continue
		}
		switch {
		case rolePid[role+"/"+pid]:
		case exited[role+"/"+pid]:
			// Its exit names no journal: the supervisor found none when it
			// ended (killed right after it started, before opening one).
			noJournal++
		default:
			missing++
			c.add(Anomaly{Class: ClassMissingJournal, Proc: s.target, Time: s.call,
				Detail:   fmt.Sprintf("the runner started %s (%s), but the history holds no journal of a %s with pid %s and no exit without one: its events are missing", s.target, s.ev, role, pid),
				Evidence: []Ref{s.ev}})
		}
	}
	h.dmg[ClassMissingJournal] += missing

	torn := in.Stats.Torn
	c.num("events", float64(h.events))
	c.num("processes", float64(len(h.list)))
	c.num("uploads", float64(h.uploads))
	c.num("acked", float64(h.acked))
	c.num("tornLines", float64(torn))
	c.num("seqGaps", float64(gaps))
	c.num("seqRepeats", float64(dups))
	c.num("damaged", float64(c.AnomalyCount))
	c.num("clockProbes", float64(h.clocks.probes))
	c.num("exitedWithoutJournal", float64(noJournal))
	if h.maxCall > h.minCall {
		c.num("spanSeconds", float64(h.maxCall-h.minCall)/1e9)
	}
	steady, steadyMsg := h.steady()
	switch {
	case h.events == 0 && c.AnomalyCount == 0:
		c.Status, c.Message = Void, "the history is empty: no process journaled anything"
	case c.AnomalyCount > 0:
		// Damaged evidence could hide a duplicate or a stale write.
		c.Status = Fail
		c.Message = fmt.Sprintf("the evidence is damaged: %s — the run cannot be trusted as it stands", dmgSummary(h.dmg))
	case h.acked < h.cfg.MinAcked:
		c.Status, c.Message = Void, fmt.Sprintf("only %d acked uploads (need %d): no traffic flowed, nothing was tested", h.acked, h.cfg.MinAcked)
	case !steady:
		c.Status, c.Message = Void, steadyMsg
	default:
		c.Status = Pass
		c.Message = fmt.Sprintf("%d events from %d processes, %d uploads (%d acked), %d torn last lines", h.events, len(h.list), h.uploads, h.acked, torn)
		if !in.HasSnapshot {
			c.Message += "; no snapshot of the volume: outputs are judged from the journals alone"
		}
		if h.clocks.probes > 0 {
			c.Message += fmt.Sprintf("; clock offsets measured for %d node(s)", len(h.clocks.lo))
		}
	}
	sortAnomalies(c.Anomalies)
	return c
}

// steady reports whether MinAcked uploads were acked within
// SteadyStateWithin of the first upload.
func (h *historyState) steady() (bool, string) {
	if h.cfg.SteadyStateWithin <= 0 || h.cfg.MinAcked <= 0 || len(h.ackTimes) < h.cfg.MinAcked {
		return true, ""
	}
	at := time.Duration(h.ackTimes[0] - h.firstUp) // the MinAcked-th ack
	// The runner times steady state from just before the first upload and
	// polls every 50 ms: allow that much more, so a run that reached
	// steady state live is never void when re-checked.
	if at <= h.cfg.SteadyStateWithin+steadySlack {
		return true, ""
	}
	return false, fmt.Sprintf("no steady state: the %d-th ack came %s after the first upload (expected within %s)",
		h.cfg.MinAcked, at.Round(time.Millisecond), h.cfg.SteadyStateWithin)
}

const steadySlack = 100 * time.Millisecond

// ackAt keeps t if it is among the MinAcked earliest ack returns seen
// (every ack of a million-upload run was kept, 8 MB, for one of them).
func (h *historyState) ackAt(t int64) {
	a, k := h.ackTimes, h.cfg.MinAcked
	switch {
	case k <= 0:
		return
	case len(a) < k:
		a = append(a, t)
		for i := len(a) - 1; i > 0; { // up
			p := (i - 1) / 2
			if a[p] >= a[i] {
				break
			}
			a[p], a[i] = a[i], a[p]
			i = p
		}
	case t < a[0]:
		a[0] = t
		for i := 0; ; { // down
			big := i
			for _, c := range []int{2*i + 1, 2*i + 2} {
				if c < len(a) && a[c] > a[big] {
					big = c
				}
			}
			if big == i {
				break
			}
			a[i], a[big] = a[big], a[i]
			i = big
		}
	}
	h.ackTimes = a
}

func dmgSummary(n map[string]int) string {
	var parts []string
	for k, v := range n {
		if v > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", v, k))
		}
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}

func numeric(s string) string {
	if s == "" {
		return ""
	}
	if _, err := strconv.ParseUint(s, 10, 63); err != nil {
		return ""
	}
	return s
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
	case q.P99 > float64(cfg.LatencyP99)/float64(time.Millisecond):
		c.Status, c.Message = Fail, fmt.Sprintf("p99 %.0f ms exceeds %s — %s", q.P99, cfg.LatencyP99, desc)
	default:
		c.Status, c.Message = Pass, desc
	}
	return c
}
