package check

import (
	"cmp"
	"fmt"
	"iter"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/rwxchaos/rwxchaos/framework/history"
)

// Checks of the publish/consume workload (Config.Publish set), in the order
// they appear in a Result after CheckHistory.
const (
	CheckTornReads   = "torn-reads"      // every verified load was one whole version
	CheckVersions    = "versions"        // what was loaded is what was published; the publisher finished
	CheckMonotonic   = "monotonic-reads" // no consumer saw a version older than one it had seen
	CheckVisibility  = "visibility-lag"  // publish return → first load of that version (or a newer one), measured; judged by the loads that still returned an older one
	CheckConvergence = "convergence"     // after the last heal every consumer loads the last version
	CheckLoadErrors  = "load-errors"     // failed loads by errno class
)

// Anomaly classes of the publish/consume checks.
const (
	ClassTornRead           = "torn-read"           // a load saw an empty, short, long or mismatched file
	ClassWrongContent       = "wrong-content"       // a verified load's body is not what the publisher journaled for that version
	ClassConflictingPublish = "conflicting-publish" // one version of a file published twice with different content
	ClassPhantomVersion     = "phantom-version"     // a load saw a version beyond anything a publisher attempted
	ClassUnfinished         = "publisher-stalled"   // the publisher never published its last version
	ClassRollback           = "rollback"            // a consumer saw an older version after a newer one
	ClassSlowVisibility     = "slow-visibility"     // a load called longer than the bound after a version's publish returned still returned an older one
	ClassStaleAfterHeal     = "stale-after-heal"    // a consumer took longer than the bound to load the last version
	ClassStaleForever       = "stale-forever"       // a consumer never loaded the last version
	ClassClockSkew          = "clock-skew"          // a load returned a version before it was published
)

// PublishConfig judges a publish/consume run. Its presence in Config
// selects these checks instead of the pipeline's (ledger, lock).
type PublishConfig struct {
	// Files the publisher publishes; 0 takes the files seen in the history.
	Files int `json:"files"`
	// Versions is the last version the publisher was to publish; 0 takes
	// the highest one published.
	Versions uint64 `json:"versions"`
	// Consumers expected to load; 0 takes the consumers seen.
	Consumers int `json:"consumers"`
	// MinVersions: with fewer versions of a file published (ok) the run is
	// void: nothing flowed.
	MinVersions int `json:"minVersions"`
	// VisibleWithin bounds the visibility lag of every version whose
	// publish→visible interval stayed clear of every fault and of the
	// consumer's recovery after it (until it first loaded a version
	// published after the heal); 0: not bounded.
	VisibleWithin time.Duration `json:"visibleWithin"`
	// ConvergedWithin bounds, per consumer and file, the time from the
	// later of the last heal and the last version's publish to the first
	// load of that version; 0: not bounded (it must still happen).
	ConvergedWithin time.Duration `json:"convergedWithin"`
	// MaxTorn is the number of torn loads allowed (0).
	MaxTorn int `json:"maxTorn"`
	// Monotonic: a consumer must never see an older version after a newer one.
	Monotonic bool `json:"monotonic"`
	// MaxLoadErrors bounds failed loads (not torn ones); Unlimited by default.
	MaxLoadErrors int `json:"maxLoadErrors"`
	// ClockNote says how the publisher's and the consumers' clocks relate
	// (visibility lag compares them); set by the runner, shown in results.
	ClockNote string `json:"clockNote,omitempty"`
}

// DefaultPublishConfig: nothing torn, monotonic reads, convergence
// required (unbounded), lag measured but not bounded.
func DefaultPublishConfig() PublishConfig {
	return PublishConfig{MinVersions: 1, Monotonic: true, MaxLoadErrors: Unlimited}
}

// PublishSummary is what the publish/consume checks measured, for reports.
// Lag quantiles are in milliseconds.
type PublishSummary struct {
	Files          int               `json:"files"`
	LastVersion    uint64            `json:"lastVersion"` // highest version published ok of every file (the minimum over files)
	Publishes      int               `json:"publishes"`
	PublishFailed  int               `json:"publishFailed"`
	PublishUnknown int               `json:"publishUnknown"`
	Loads          int               `json:"loads"`
	LoadsOK        int               `json:"loadsOk"`
	Torn           int               `json:"torn"`
	Errors         map[string]int    `json:"errors,omitempty"` // failed loads by ErrClass (torn ones excluded)
	Lag            Quantiles         `json:"lagMs"`            // every lag sample
	LagSteady      Quantiles         `json:"lagSteadyMs"`      // samples clear of faults
	LastHeal       int64             `json:"lastHeal,omitempty"`
	ClockNote      string            `json:"clockNote,omitempty"`
	Consumers      []ConsumerSummary `json:"consumers"`
}

// ConsumerSummary is one consumer (a node, or a local consumer process
// slot: the Node of its events) across its process restarts.
type ConsumerSummary struct {
	Consumer string    `json:"consumer"`
	Procs    int       `json:"procs"`
	Loads    int       `json:"loads"`
	OK       int       `json:"ok"`
	Torn     int       `json:"torn"`
	Errors   int       `json:"errors"`
	Lag      Quantiles `json:"lagMs"`
	// ConvergedMs is the slowest file's time from the later of the last
	// heal and its last version's publish to its first load; -1: never.
	ConvergedMs float64 `json:"convergedMs"`
}

// LagPoint is one visibility-lag sample: version Version of File became
// visible to Consumer at Seen (the return of load Proc/Seq), LagMs after
// its publish returned at Published. UnseenMs is how long after Published
// the consumer certainly still could not see it: its last load of the file
// before, which returned an older version, was called that long after
// (less the clocks' uncertainty; 0 when it did not load the file in
// between). LagMs includes the consumer's own pace, UnseenMs does not: a
// consumer that loads nothing for a while (slowed down by its host) has a
// large LagMs and no UnseenMs. The visibility bound judges UnseenMs.
type LagPoint struct {
	Consumer  string  `json:"consumer"`
	File      string  `json:"file"`
	Version   uint64  `json:"version"`
	Published int64   `json:"published"`
	Seen      int64   `json:"seen"`
	LagMs     float64 `json:"lagMs"`
	UnseenMs  float64 `json:"unseenMs"`
	Steady    bool    `json:"steady"` // clear of every fault window
	Proc      string  `json:"proc"`
	Seq       int64   `json:"seq"`
	// StaleProc/StaleSeq is the load that proves UnseenMs (empty if none);
	// StaleVersion is what it returned (0: it found no file).
	StaleProc    string `json:"staleProc,omitempty"`
	StaleSeq     int64  `json:"staleSeq,omitempty"`
	StaleVersion uint64 `json:"staleVersion,omitempty"`
}

type pvKey struct {
	file    int32
	version uint64
}

type pubRec struct {
	node      string
	call, ret int64
	sha       [32]byte
	hasSHA    bool
	ok        bool
	proc      string
	seq       int64
	next      *pubRec // another publish of the same file and version
}

type loadRec struct {
	file      int32
	proc      int32
	version   uint64
	call, ret int64
	seq       int64
	sha       [32]byte
	ok        bool // verified by the consumer
	cls       string
	err       string
}

type consumerState struct {
	name  string
	procs map[int32]bool
	loads []loadRec
}

// publishState is the one pass over the events: it keeps every publish and
// a compact record of every load, then judges at the end.
type publishState struct {
	files     map[string]int32
	names     []string
	pubs      map[pvKey]*pubRec
	maxAny    []uint64 // highest version attempted per file
	maxOK     []uint64 // highest version published ok per file
	okCount   []int    // ok publishes per file
	procs     []string
	procIdx   map[string]int32
	consumers map[string]*consumerState
	order     []string
	windows   [][2]int64
	lastHeal  int64
	clocks    *clockModel // the runner's measured offsets (nil: none)
	sum       PublishSummary
}

func newPublishState() *publishState {
	return &publishState{files: map[string]int32{}, pubs: map[pvKey]*pubRec{}, procIdx: map[string]int32{},
		consumers: map[string]*consumerState{}, sum: PublishSummary{Errors: map[string]int{}}}
}

func (s *publishState) file(p string) int32 {
	i, ok := s.files[p]
	if !ok {
		i = int32(len(s.names))
		s.files[p] = i
		s.names = append(s.names, p)
		s.maxAny = append(s.maxAny, 0)
		s.maxOK = append(s.maxOK, 0)
		s.okCount = append(s.okCount, 0)
	}
	return i
}

func (s *publishState) proc(p string) int32 {
	i, ok := s.procIdx[p]
	if !ok {
		i = int32(len(s.procs))
		s.procIdx[p] = i
		s.procs = append(s.procs, p)
	}
	return i
}

func (s *publishState) observe(e *history.Event) {
	switch e.Type {
	case history.EvPublish:
		if e.Path == "" || e.Version == 0 {
			return
		}
		f := s.file(e.Path)
		s.sum.Publishes++
		s.maxAny[f] = max(s.maxAny[f], e.Version)
		r := &pubRec{node: e.Node, call: e.Call, ret: e.Return, ok: e.Outcome == history.OK, proc: e.Proc, seq: e.Seq}
		r.sha, r.hasSHA = decodeSHA(e.SHA)
		switch e.Outcome {
		case history.OK:
			s.maxOK[f] = max(s.maxOK[f], e.Version)
			s.okCount[f]++
		case history.Unknown:
			s.sum.PublishUnknown++
		default:
			s.sum.PublishFailed++
		}
		k := pvKey{f, e.Version}
		if prev := s.pubs[k]; prev != nil {
			r.next = prev
		}
		s.pubs[k] = r
	case history.EvLoad:
		if e.Path == "" {
			return
		}
		c := s.consumers[e.Node]
		if c == nil {
			c = &consumerState{name: e.Node, procs: map[int32]bool{}}
			s.consumers[e.Node] = c
			s.order = append(s.order, e.Node)
		}
		l := loadRec{file: s.file(e.Path), proc: s.proc(e.Proc), version: e.Version, call: e.Call, ret: e.End(), seq: e.Seq,
			ok: e.Outcome == history.OK, cls: e.ErrClass}
		c.procs[l.proc] = true
		if l.ok {
			var good bool
			if l.sha, good = decodeSHA(e.SHA); !good || e.Version == 0 {
				// A load that claims success must say what it saw.
				l.ok, l.cls, l.err = false, history.LoadTornHeader, fmt.Sprintf("journaled ok without a version and sha256 (version %d, sha %q)", e.Version, e.SHA)
			}
		} else {
			l.sha, _ = decodeSHA(e.SHA)
			l.err = e.Err
			if e.Detail != "" {
				l.err += " (" + e.Detail + ")"
			}
		}
		c.loads = append(c.loads, l)
	case history.EvFault:
		end := e.Return
		if end == 0 {
			end = e.Call
		}
		s.windows = append(s.windows, [2]int64{e.Call, end})
		s.lastHeal = max(s.lastHeal, end)
	}
}

// loadRef is the evidence of a load.
func (s *publishState) loadRef(l *loadRec) []Ref {
	return []Ref{{Proc: s.procs[l.proc], Seq: l.seq, Type: history.EvLoad}}
}

func (r *pubRec) ref() Ref { return Ref{Proc: r.proc, Seq: r.seq, Type: history.EvPublish} }

func (s *publishState) ref(l *loadRec) string {
	return fmt.Sprintf("load %s seq %d", s.procs[l.proc], l.seq)
}

// published finds the publish of (f, v) whose content is sha; first is
// any publish of it (nil if none was journaled).
func (s *publishState) published(f int32, v uint64, sha [32]byte) (match, first *pubRec) {
	for r := s.pubs[pvKey{f, v}]; r != nil; r = r.next {
		if first == nil || r.call < first.call {
			first = r
		}
		if r.hasSHA && r.sha == sha && (match == nil || r.call < match.call) {
			match = r
		}
	}
	return match, first
}

// visibleAt is when (f, v) was certainly public: the earliest return of an
// ok publish of it; 0 if none.
func (s *publishState) visibleAt(f int32, v uint64) int64 {
	t, _ := s.visibleRec(f, v)
	return t
}

// visibleRec is visibleAt and the node of the publish that returned then.
func (s *publishState) visibleRec(f int32, v uint64) (int64, string) {
	var t int64
	var node string
	for r := s.pubs[pvKey{f, v}]; r != nil; r = r.next {
		if r.ok && r.ret > 0 && (t == 0 || r.ret < t) {
			t, node = r.ret, r.node
		}
	}
	return t, node
}

// recoveries are, per fault window, when consumer c had recovered from it:
// the return of its first verified load of a version published after the
// heal (max int64 if it never did). A fault's effect on a consumer lasts
// from the injection to then.
func (s *publishState) recoveries(c *consumerState) [][2]int64 {
	out := make([][2]int64, len(s.windows))
	for i, w := range s.windows {
		out[i] = [2]int64{w[0], 1<<63 - 1}
		for j := range c.loads {
			l := &c.loads[j]
			if l.ok && l.call >= w[1] {
				if pub := s.visibleAt(l.file, l.version); pub >= w[1] {
					out[i][1] = l.ret
					break
				}
			}
		}
	}
	return out
}

func disturbed(from, to int64, windows [][2]int64) bool {
	for _, w := range windows {
		if from <= w[1] && to >= w[0] {
			return true
		}
	}
	return false
}

// toReference puts every publish and load time on the runner's clock, with
// the offsets the runner measured for the nodes (clock events): visibility
// lag subtracts a publisher's time from a consumer's, the only comparison
// of two processes' clocks in these checks. Nodes not measured keep their
// own clock (on one host, or kind's nodes on one kernel, that is one
// clock); the residual uncertainty widens the clock-skew allowance.
func (s *publishState) toReference(c *clockModel) {
	if c == nil || c.probes == 0 {
		return
	}
	s.clocks = c
	for _, first := range s.pubs {
		for r := first; r != nil; r = r.next {
			r.call, r.ret = c.ref(r.node, r.call), c.ref(r.node, r.ret)
		}
	}
	for _, name := range s.order {
		cs := s.consumers[name]
		for i := range cs.loads {
			l := &cs.loads[i]
			l.call, l.ret = c.ref(name, l.call), c.ref(name, l.ret)
		}
	}
}

// slack is how far apart two nodes' reference times may still be: half of
// each measured offset interval, or the assumed skew for a node not
// measured.
func (s *publishState) slack(a, b string, skew time.Duration) int64 {
	if s.clocks == nil {
		return int64(skew)
	}
	half := func(n string) int64 {
		lo, hi, ok := s.clocks.bounds(n)
		if !ok {
			return int64(skew)
		}
		return (hi - lo) / 2
	}
	if a == b {
		return 0
	}
	return half(a) + half(b)
}

// lags computes the visibility samples of every consumer, and the clock
// check: a load that returned version v before v's publish was called.
func (s *publishState) lags(cfg PublishConfig, skew time.Duration, clock *CheckResult) []LagPoint {
	var out []LagPoint
	for _, name := range s.order {
		c := s.consumers[name]
		if len(c.loads) == 0 {
			continue
		}
		start := c.loads[0].call
		windows := s.recoveries(c)
		high := make([]uint64, len(s.names))
		// last[f] is the latest-called verified load of f so far: every
		// one so far returned at most high[f], so for a version above
		// high[f] it is the last time the consumer looked and did not see
		// it (-1: none).
		last := make([]int, len(s.names))
		for i := range last {
			last[i] = -1
		}
		for i := range c.loads {
			l := &c.loads[i]
			// A load that found no file (ENOENT: a negative lookup cache,
			// say) saw no version at all: it shows an unseen version as
			// well as one that returned an older version. Other failures
			// show the storage failing, not what was visible.
			missing := !l.ok && l.cls == history.LoadNotFound
			if !l.ok && !missing {
				continue
			}
			prev := last[l.file]
			if prev < 0 || l.call > c.loads[prev].call {
				last[l.file] = i
			}
			if missing || l.version <= high[l.file] {
				continue
			}
			if m, _ := s.published(l.file, l.version, l.sha); m != nil && l.ret+s.slack(name, m.node, skew) < m.call && clock != nil {
				clock.add(Anomaly{Class: ClassClockSkew, Proc: s.procs[l.proc], Evidence: s.loadRef(l), Path: s.names[l.file], Time: l.call,
					Detail: fmt.Sprintf("%s on %s returned %s version %d %s before its publish (%s seq %d) was called: the clocks disagree",
						s.ref(l), name, s.names[l.file], l.version, time.Duration(m.call-l.ret).Round(time.Millisecond), m.proc, m.seq)})
			}
			for u := high[l.file] + 1; u <= l.version; u++ {
				pub, node := s.visibleRec(l.file, u)
				if pub == 0 || pub < start {
					continue // not published ok, or before this consumer loaded anything
				}
				lag := max(float64(l.ret-pub)/1e6, 0)
				p := LagPoint{Consumer: name, File: s.names[l.file], Version: u, Published: pub, Seen: l.ret, LagMs: lag,
					Steady: !disturbed(pub, l.ret, windows), Proc: s.procs[l.proc], Seq: l.seq}
				// The stale load must have been called before this one (a
				// later call that returned older is a rollback, judged by
				// the monotonic check) and after the publish returned, by
				// more than the two clocks' uncertainty.
				if prev != -1 {
					st := &c.loads[prev]
					if unseen := st.call - pub - s.slack(name, node, skew); st.call <= l.call && unseen > 0 {
						p.UnseenMs = float64(unseen) / 1e6
						p.StaleProc, p.StaleSeq = s.procs[st.proc], st.seq
						if st.ok {
							p.StaleVersion = st.version
						}
					}
				}
				out = append(out, p)
			}
			high[l.file] = l.version
		}
	}
	return out
}

// VisibilityLags returns every visibility-lag sample of a history, as the
// visibility check measures them (for charts).
func VisibilityLags(evs iter.Seq[*history.Event], cfg PublishConfig) []LagPoint {
	s := newPublishState()
	clocks := newClockModel(0)
	for e := range evs {
		if e.Validate() != nil {
			continue // as the checks do: a damaged line is not evidence
		}
		s.observe(e)
		if e.Type == history.EvClock {
			clocks.observe(e)
		}
	}
	sort.Strings(s.order)
	s.toReference(clocks)
	return s.lags(cfg, 0, nil)
}

func (cfg *PublishConfig) orDefault() PublishConfig {
	if cfg == nil {
		return DefaultPublishConfig()
	}
	return *cfg
}

// runPublish judges a publish/consume history: one pass over the events.
// The history check (format, sequence numbers, journals of every process)
// is the pipeline's; nothing is uploaded, so no acks are required.
func runPublish(in Input, cfg Config) *Result {
	pc := cfg.Publish.orDefault()
	s := newPublishState()
	hcfg := cfg
	hcfg.MinAcked, hcfg.SteadyStateWithin = 0, 0
	hi := newHistoryState(in, hcfg)
	if in.Events != nil {
		for e := range in.Events {
			if e == nil {
				continue
			}
			if err := e.Validate(); err != nil {
				hi.invalid(e, err)
				continue
			}
			hi.observe(e)
			s.observe(e)
		}
	}
	res := &Result{Config: cfg, Classes: map[string]int{}}
	hc := s.historyCheck(hi.result(in), hi, in, pc)
	res.Checks = append(res.Checks, hc)
	names := []string{CheckTornReads, CheckVersions, CheckMonotonic, CheckVisibility, CheckConvergence, CheckLoadErrors}
	if hc.Status == Void {
		for _, n := range names {
			res.Checks = append(res.Checks, CheckResult{Name: n, Status: Skip, Message: "not judged: " + hc.Message})
		}
		res.Status = Void
		return res
	}
	sort.Strings(s.order)
	s.toReference(hi.clocks)
	res.Checks = append(res.Checks, s.torn(pc), s.versions(pc), s.monotonic(pc))
	vis, points := s.visibility(pc, cfg.ClockSkew)
	res.Checks = append(res.Checks, vis, s.convergence(pc), s.loadErrors(pc))
	s.summarize(pc, points)
	res.Publish = &s.sum
	res.Status = Pass
	for _, c := range res.Checks {
		if c.Status == Fail {
			res.Status = Fail
		}
	}
	return res
}

func (s *publishState) historyCheck(c CheckResult, hi *historyState, in Input, pc PublishConfig) CheckResult {
	loads := 0
	for _, cs := range s.consumers {
		loads += len(cs.loads)
	}
	least := -1
	for f := range s.names {
		if s.okCount[f] > 0 && (least < 0 || s.okCount[f] < least) {
			least = s.okCount[f]
		}
	}
	c.num("publishes", float64(s.sum.Publishes))
	c.num("loads", float64(loads))
	c.num("consumers", float64(len(s.consumers)))
	delete(c.Numbers, "uploads")
	delete(c.Numbers, "acked")
	switch {
	case c.Status == Void || c.Status == Fail:
		// Empty, or damaged evidence: said as the pipeline's check says it.
	case s.sum.Publishes == 0:
		c.Status, c.Message = Void, "no publish event: the publisher never published, nothing was tested"
	case loads == 0:
		c.Status, c.Message = Void, "no load event: no consumer ran, nothing was tested"
	case least < pc.MinVersions:
		c.Status, c.Message = Void, fmt.Sprintf("only %d versions of a file were published (need %d): publishing did not flow, nothing was tested", max(least, 0), pc.MinVersions)
	default:
		c.Message = fmt.Sprintf("%d events from %d processes: %d publishes of %d files, %d loads by %d consumers, %d torn journal lines",
			hi.events, len(hi.list), s.sum.Publishes, len(s.names), loads, len(s.consumers), in.Stats.Torn)
	}
	return c
}

func (s *publishState) torn(pc PublishConfig) CheckResult {
	c := CheckResult{Name: CheckTornReads}
	for _, name := range s.order {
		cs := s.consumers[name]
		for i := range cs.loads {
			l := &cs.loads[i]
			if l.ok || !history.IsTorn(l.cls) {
				continue
			}
			v := "no version"
			if l.version > 0 {
				v = fmt.Sprintf("version %d", l.version)
			}
			c.add(Anomaly{Class: ClassTornRead, Proc: s.procs[l.proc], Evidence: s.loadRef(l), Path: s.names[l.file], Time: l.call,
				Detail: fmt.Sprintf("%s on %s read %s torn (%s): %s", s.ref(l), name, v, l.cls, l.err)})
		}
	}
	c.num("torn", float64(c.AnomalyCount))
	switch {
	case c.AnomalyCount > pc.MaxTorn:
		c.Status = Fail
		c.Message = fmt.Sprintf("%d loads read a torn file (empty, short, too long or checksum mismatch), more than the %d allowed: readers saw a version being written", c.AnomalyCount, pc.MaxTorn)
	case c.AnomalyCount > 0:
		c.Status, c.Message = Pass, fmt.Sprintf("%d torn loads, within the %d allowed", c.AnomalyCount, pc.MaxTorn)
	default:
		c.Status, c.Message = Pass, "every load that verified read one whole version"
	}
	return c
}

func (s *publishState) versions(pc PublishConfig) CheckResult {
	c := CheckResult{Name: CheckVersions}
	unjournaled := 0
	// Conflicting publishes: one file version, two contents.
	var keys []pvKey
	for k, r := range s.pubs {
		if r.next != nil {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, func(a, b pvKey) int {
		if a.file != b.file {
			return int(a.file - b.file)
		}
		return cmp.Compare(a.version, b.version)
	})
	for _, k := range keys {
		first := s.pubs[k]
		for r := first.next; r != nil; r = r.next {
			if r.hasSHA && first.hasSHA && r.sha != first.sha {
				c.add(Anomaly{Class: ClassConflictingPublish, Proc: first.proc, Evidence: []Ref{first.ref(), r.ref()}, Path: s.names[k.file], Time: first.call,
					Detail: fmt.Sprintf("%s version %d was published by %s seq %d and, with other content, by %s seq %d: two publishers at once",
						s.names[k.file], k.version, r.proc, r.seq, first.proc, first.seq)})
				break
			}
		}
	}
	for _, name := range s.order {
		cs := s.consumers[name]
		for i := range cs.loads {
			l := &cs.loads[i]
			if !l.ok {
				continue
			}
			match, first := s.published(l.file, l.version, l.sha)
			switch {
			case match != nil:
			case first != nil:
				c.add(Anomaly{Class: ClassWrongContent, Proc: s.procs[l.proc], Evidence: s.loadRef(l), Path: s.names[l.file], Time: l.call,
					Detail: fmt.Sprintf("%s on %s verified %s version %d with body sha256 %x…, but %s seq %d published that version with %x…",
						s.ref(l), name, s.names[l.file], l.version, l.sha[:6], first.proc, first.seq, first.sha[:6])})
			case l.version > s.maxAny[l.file]+1:
				c.add(Anomaly{Class: ClassPhantomVersion, Proc: s.procs[l.proc], Evidence: s.loadRef(l), Path: s.names[l.file], Time: l.call,
					Detail: fmt.Sprintf("%s on %s saw %s version %d, but no publisher journaled more than version %d: lost journal lines or a writer outside the history",
						s.ref(l), name, s.names[l.file], l.version, s.maxAny[l.file])})
			default:
				// The version a killed publisher was writing: on the volume, never journaled.
				unjournaled++
			}
		}
	}
	stalled := 0
	if pc.Versions > 0 {
		for f, name := range s.names {
			if s.maxOK[f] < pc.Versions {
				stalled++
				c.add(Anomaly{Class: ClassUnfinished, Path: name,
					Detail: fmt.Sprintf("%s: the last version published ok is %d of %d: publishing stopped before the run ended", name, s.maxOK[f], pc.Versions)})
			}
		}
	}
	c.num("publishes", float64(s.sum.Publishes))
	c.num("publishFailed", float64(s.sum.PublishFailed))
	c.num("publishUnknown", float64(s.sum.PublishUnknown))
	c.num("unjournaledLoads", float64(unjournaled))
	sortAnomalies(c.Anomalies)
	if c.AnomalyCount > 0 {
		c.Status = Fail
		c.Message = fmt.Sprintf("%d problems with what was published and loaded (%s)", c.AnomalyCount, classCounts(c.Anomalies))
		return c
	}
	c.Status = Pass
	c.Message = fmt.Sprintf("every verified load matches the content journaled for its version (%d publishes, %d failed, %d unknown outcome", s.sum.Publishes, s.sum.PublishFailed, s.sum.PublishUnknown)
	if unjournaled > 0 {
		c.Message += fmt.Sprintf("; %d loads of a version a killed publisher wrote but never journaled", unjournaled)
	}
	c.Message += ")"
	return c
}

// monotonic: within one consumer process by sequence number (its own
// order, no clock needed); across the processes of one consumer (restarts
// on one node) by that node's clock, only for loads that did not overlap.
func (s *publishState) monotonic(pc PublishConfig) CheckResult {
	c := CheckResult{Name: CheckMonotonic}
	type high struct {
		version uint64
		l       *loadRec
	}
	rollback := func(name string, l *loadRec, h high) {
		c.add(Anomaly{Class: ClassRollback, Proc: s.procs[l.proc], Evidence: s.loadRef(l), Path: s.names[l.file], Time: l.call,
			Detail: fmt.Sprintf("%s on %s saw %s version %d after %s seq %d had seen version %d",
				s.ref(l), name, s.names[l.file], l.version, s.procs[h.l.proc], h.l.seq, h.version)})
	}
	for _, name := range s.order {
		cs := s.consumers[name]
		byProc := make([]int32, len(cs.loads)) // indices: a million loads sort cheaply
		for i := range byProc {
			byProc[i] = int32(i)
		}
		slices.SortStableFunc(byProc, func(i, j int32) int {
			a, b := &cs.loads[i], &cs.loads[j]
			if a.proc != b.proc {
				return int(a.proc - b.proc)
			}
			return cmp.Compare(a.seq, b.seq)
		})
		flagged := map[[2]int64]bool{}
		var hs []high
		var cur int32 = -1
		for _, i := range byProc {
			l := &cs.loads[i]
			if l.proc != cur {
				cur, hs = l.proc, make([]high, len(s.names))
			}
			if !l.ok {
				continue
			}
			h := &hs[l.file]
			switch {
			case h.l == nil || l.version > h.version:
				*h = high{l.version, l}
			case l.version < h.version:
				rollback(name, l, *h)
				flagged[[2]int64{int64(l.proc), l.seq}] = true
			}
		}
		if len(cs.procs) < 2 {
			continue
		}
		hs = make([]high, len(s.names))
		for i := range cs.loads {
			l := &cs.loads[i]
			if !l.ok {
				continue
			}
			h := &hs[l.file]
			switch {
			case h.l == nil || l.version > h.version:
				*h = high{l.version, l}
			case l.version < h.version && l.proc != h.l.proc && l.call > h.l.ret && !flagged[[2]int64{int64(l.proc), l.seq}]:
				rollback(name, l, *h)
			}
		}
	}
	sortAnomalies(c.Anomalies)
	c.num("rollbacks", float64(c.AnomalyCount))
	switch {
	case !pc.Monotonic:
		c.Status, c.Message = Skip, fmt.Sprintf("monotonic reads not expected by this scenario (%d rollbacks seen)", c.AnomalyCount)
	case c.AnomalyCount > 0:
		c.Status, c.Message = Fail, fmt.Sprintf("%d times a consumer loaded an older version after a newer one (caches of different clients, or a rolled-back file)", c.AnomalyCount)
	default:
		c.Status, c.Message = Pass, "no consumer ever loaded an older version after a newer one (within a process by its sequence numbers, across its restarts by its node's clock)"
	}
	return c
}

func (s *publishState) visibility(pc PublishConfig, skew time.Duration) (CheckResult, []LagPoint) {
	c := CheckResult{Name: CheckVisibility}
	clock := CheckResult{Name: CheckVisibility}
	points := s.lags(pc, skew, &clock)
	var all, steady []float64
	var unseenMax, steadyUnseenMax float64
	for i := range points {
		p := &points[i]
		all = append(all, p.LagMs)
		unseenMax = max(unseenMax, p.UnseenMs)
		if !p.Steady {
			continue
		}
		steady = append(steady, p.LagMs)
		steadyUnseenMax = max(steadyUnseenMax, p.UnseenMs)
		if pc.VisibleWithin > 0 && p.UnseenMs > float64(pc.VisibleWithin)/1e6 {
			c.add(Anomaly{Class: ClassSlowVisibility, Proc: p.Proc,
				Evidence: []Ref{{Proc: p.StaleProc, Seq: p.StaleSeq, Type: history.EvLoad}, {Proc: p.Proc, Seq: p.Seq, Type: history.EvLoad}}, Path: p.File, Time: p.Seen,
				Detail: fmt.Sprintf("%s version %d was still not visible on %s %s after its publish returned: load %s seq %d, called then, %s (first seen by load %s seq %d, %s after the publish), over %s",
					p.File, p.Version, p.Consumer, time.Duration(p.UnseenMs*1e6).Round(time.Millisecond), p.StaleProc, p.StaleSeq, staleSaw(p.StaleVersion), p.Proc, p.Seq,
					time.Duration(p.LagMs*1e6).Round(time.Millisecond), pc.VisibleWithin)})
		}
	}
	qa, qs := quantiles(all), quantiles(slices.Clone(steady))
	s.sum.Lag, s.sum.LagSteady = qa, qs
	for _, q := range []struct {
		p string
		q Quantiles
	}{{"", qa}, {"steady", qs}} {
		c.num(q.p+"n", float64(q.q.N))
		c.num(q.p+"p50", q.q.P50)
		c.num(q.p+"p99", q.q.P99)
		c.num(q.p+"max", q.q.Max)
	}
	c.num("unseenMax", unseenMax)
	c.num("steadyUnseenMax", steadyUnseenMax)
	c.num("clockSkewed", float64(clock.AnomalyCount))
	clockNote := pc.ClockNote
	if clockNote == "" {
		clockNote = "publisher and consumer clocks assumed in sync"
	}
	if s.clocks != nil {
		clockNote += fmt.Sprintf("; times put on the runner's clock with the offsets it measured for %d node(s)", len(s.clocks.lo))
	}
	desc := fmt.Sprintf("publish→visible over %d samples: p50 %s, p99 %s, max %s; clear of faults (%d): p50 %s, p99 %s, max %s — %s",
		qa.N, ms(qa.P50), ms(qa.P99), ms(qa.Max), qs.N, ms(qs.P50), ms(qs.P99), ms(qs.Max), clockNote)
	switch {
	case clock.AnomalyCount > 0:
		// The lag compares two clocks; a load before its publish proves
		// they disagree, so no lag number can be trusted.
		c.Anomalies, c.AnomalyCount = clock.Anomalies, clock.AnomalyCount
		c.Status = Skip
		c.Message = fmt.Sprintf("not judged: %d loads returned a version before its publish was called, so the publisher's and consumers' clocks disagree by more than %s", clock.AnomalyCount, skew)
	case qa.N == 0:
		c.Status, c.Message = Skip, "no version became visible to a consumer after it started: lag cannot be measured"
	case c.AnomalyCount > 0:
		c.Status = Fail
		c.Message = fmt.Sprintf("%d times a consumer's load, called more than %s after a version was published, still returned an older one while no fault was active (worst %s) — %s",
			c.AnomalyCount, pc.VisibleWithin, ms(steadyUnseenMax), desc)
	case pc.VisibleWithin > 0:
		c.Status, c.Message = Pass, fmt.Sprintf("no load called more than %s after a version was published returned an older one, clear of faults (worst %s) — %s", pc.VisibleWithin, ms(steadyUnseenMax), desc)
	default:
		c.Status, c.Message = Pass, desc+" (no bound set)"
	}
	sortAnomalies(c.Anomalies)
	return c, points
}

// staleSaw says what a load that missed a version returned.
func staleSaw(v uint64) string {
	if v == 0 {
		return "found no file (ENOENT)"
	}
	return fmt.Sprintf("returned version %d", v)
}

func (s *publishState) convergence(pc PublishConfig) CheckResult {
	c := CheckResult{Name: CheckConvergence}
	var worst float64
	never := 0
	for _, name := range s.order {
		cs := s.consumers[name]
		for f, file := range s.names {
			last := s.maxOK[f]
			if last == 0 {
				continue
			}
			from := max(s.lastHeal, s.visibleAt(int32(f), last))
			var seen, lastLoad *loadRec
			for i := range cs.loads {
				l := &cs.loads[i]
				if l.file != int32(f) {
					continue
				}
				lastLoad = l
				if l.ok && l.version >= last {
					seen = l
					break
				}
			}
			if seen == nil {
				never++
				if lastLoad != nil {
					what := fmt.Sprintf("saw version %d", lastLoad.version)
					if !lastLoad.ok {
						what = "failed: " + lastLoad.cls
					}
					when := ""
					if s.lastHeal > 0 {
						when = ", " + relDur(lastLoad.call-s.lastHeal) + " from the last heal"
					}
					c.add(Anomaly{Class: ClassStaleForever, Proc: s.procs[lastLoad.proc], Evidence: s.loadRef(lastLoad), Path: file, Time: lastLoad.call,
						Detail: fmt.Sprintf("%s never loaded %s version %d (the last one published): its last load (%s seq %d%s) %s",
							name, file, last, s.procs[lastLoad.proc], lastLoad.seq, when, what)})
				} else {
					c.add(Anomaly{Class: ClassStaleForever, Path: file, Detail: fmt.Sprintf("%s never loaded %s at all", name, file)})
				}
				continue
			}
			d := max(float64(seen.ret-from)/1e6, 0)
			worst = max(worst, d)
			if pc.ConvergedWithin > 0 && d > float64(pc.ConvergedWithin)/1e6 {
				c.add(Anomaly{Class: ClassStaleAfterHeal, Proc: s.procs[seen.proc], Evidence: s.loadRef(seen), Path: file, Time: seen.ret,
					Detail: fmt.Sprintf("%s first loaded %s version %d (the last one) %s after the later of the last heal and its publish (load %s seq %d), over %s",
						name, file, last, time.Duration(d*1e6).Round(time.Millisecond), s.procs[seen.proc], seen.seq, pc.ConvergedWithin)})
			}
		}
	}
	missing := 0
	if pc.Consumers > len(s.consumers) {
		missing = pc.Consumers - len(s.consumers)
	}
	c.num("worstMs", worst)
	c.num("neverConverged", float64(never))
	c.num("missingConsumers", float64(missing))
	from := "the last publish"
	if s.lastHeal > 0 {
		from = "the last heal (or the last publish, if later)"
	}
	sortAnomalies(c.Anomalies)
	switch {
	case missing > 0:
		c.Status = Fail
		c.Message = fmt.Sprintf("only %d of %d consumers loaded anything: the others never ran", len(s.consumers), pc.Consumers)
	case never > 0:
		c.Status = Fail
		c.Message = fmt.Sprintf("%d consumer files never reached the last version (stale forever) — slowest of the others %s after %s", never, ms(worst), from)
	case c.AnomalyCount > 0:
		c.Status = Fail
		c.Message = fmt.Sprintf("%d consumer files reached the last version later than %s after %s (worst %s)", c.AnomalyCount, pc.ConvergedWithin, from, ms(worst))
	default:
		c.Status = Pass
		c.Message = fmt.Sprintf("every consumer loaded the last version of every file, at worst %s after %s", ms(worst), from)
		if pc.ConvergedWithin > 0 {
			c.Message += fmt.Sprintf(" (bound %s)", pc.ConvergedWithin)
		}
	}
	return c
}

func (s *publishState) loadErrors(pc PublishConfig) CheckResult {
	c := CheckResult{Name: CheckLoadErrors}
	total := 0
	for _, cs := range s.consumers {
		for i := range cs.loads {
			l := &cs.loads[i]
			if l.ok || history.IsTorn(l.cls) {
				continue
			}
			cls := l.cls
			if cls == "" {
				cls = "OTHER"
			}
			s.sum.Errors[cls]++
			total++
		}
	}
	var parts []string
	for _, k := range slices.Sorted(keysOf(s.sum.Errors)) {
		c.num(k, float64(s.sum.Errors[k]))
		parts = append(parts, fmt.Sprintf("%s %d", k, s.sum.Errors[k]))
	}
	c.num("total", float64(total))
	desc := "no load failed"
	if total > 0 {
		desc = fmt.Sprintf("%d failed loads: %s", total, strings.Join(parts, ", "))
	}
	switch {
	case pc.MaxLoadErrors != Unlimited && total > pc.MaxLoadErrors:
		c.Status, c.Message = Fail, fmt.Sprintf("%s, more than the %d allowed", desc, pc.MaxLoadErrors)
	case pc.MaxLoadErrors == Unlimited && total > 0:
		c.Status, c.Message = Pass, desc+" (not limited)"
	default:
		c.Status, c.Message = Pass, desc
	}
	return c
}

func keysOf(m map[string]int) iter.Seq[string] {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func (s *publishState) summarize(pc PublishConfig, points []LagPoint) {
	sum := &s.sum
	sum.Files = len(s.names)
	sum.LastHeal = s.lastHeal
	sum.ClockNote = pc.ClockNote
	for f := range s.names {
		if f == 0 || s.maxOK[f] < sum.LastVersion {
			sum.LastVersion = s.maxOK[f]
		}
	}
	byConsumer := map[string][]float64{}
	for _, p := range points {
		byConsumer[p.Consumer] = append(byConsumer[p.Consumer], p.LagMs)
	}
	for _, name := range s.order {
		cs := s.consumers[name]
		cu := ConsumerSummary{Consumer: name, Procs: len(cs.procs), Lag: quantiles(byConsumer[name]), ConvergedMs: 0}
		for i := range cs.loads {
			l := &cs.loads[i]
			cu.Loads++
			switch {
			case l.ok:
				cu.OK++
			case history.IsTorn(l.cls):
				cu.Torn++
			default:
				cu.Errors++
			}
		}
		for f := range s.names {
			last := s.maxOK[f]
			if last == 0 {
				continue
			}
			from := max(s.lastHeal, s.visibleAt(int32(f), last))
			conv := -1.0
			for i := range cs.loads {
				l := &cs.loads[i]
				if l.file == int32(f) && l.ok && l.version >= last {
					conv = max(float64(l.ret-from)/1e6, 0)
					break
				}
			}
			if conv < 0 || cu.ConvergedMs < 0 {
				cu.ConvergedMs = -1
			} else {
				cu.ConvergedMs = max(cu.ConvergedMs, conv)
			}
		}
		sum.Loads += cu.Loads
		sum.LoadsOK += cu.OK
		sum.Torn += cu.Torn
		sum.Consumers = append(sum.Consumers, cu)
	}
}

// relDur formats a signed duration with a sign, e.g. "+1.2s".
func relDur(ns int64) string {
	d := time.Duration(ns).Round(time.Millisecond)
	if d >= 0 {
		return "+" + d.String()
	}
	return d.String()
}

// ms formats milliseconds for messages.
func ms(v float64) string {
	switch {
	case v >= 10000:
		return fmt.Sprintf("%.1fs", v/1000)
	case v >= 1000:
		return fmt.Sprintf("%.2fs", v/1000)
	}
	return fmt.Sprintf("%.0fms", v)
}
