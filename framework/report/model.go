package report

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/rwxchaos/rwxchaos/framework/check"
	"github.com/rwxchaos/rwxchaos/framework/history"
)

// Limits that keep report.html small for huge runs.
const (
	maxLatencyPoints = 3000 // scatter points drawn (outliers and anomalies always kept)
	maxIxRows        = 200  // interchanges with an events table
	maxIxEvents      = 40   // events listed per interchange
	maxRowsPerLane   = 6    // sub-rows of a lane before bars overlap
	maxAnomalyRows   = 1000
)

// Geometry of the timeline SVG (viewBox units).
const (
	svgW      = 1200.0
	labelW    = 196.0
	plotX0    = labelW + 8
	plotX1    = svgW - 14
	rowH      = 12.0
	lanePad   = 4.0
	groupGap  = 20.0
	axisH     = 26.0
	latencyH  = 230.0
	histLaneH = 34.0
)

// procInfo is one journal writer.
type procInfo struct {
	ID, Role, Node string
	First, Last    int64
	Exit           int64  // runner saw it exit
	ExitDetail     string // how
	Errors         []int64
	Runs           [][2]int64 // engine run.start → run.end
	RunFailed      []bool
}

// keyInfo is what the report knows of one interchange.
type keyInfo struct {
	Ack    int64 // first ok upload return
	Output int64 // first output written
	Upload int64 // first upload call
}

// keyInfos holds a keyInfo per key number, in pages: a million of them
// grow with no copy, and a key with none reads as zero.
type keyInfos struct{ pages [][]keyInfo }

const keyPage = 1 << 14

// at returns key n's info, adding its page.
func (ki *keyInfos) at(n int32) *keyInfo {
	p := int(n) / keyPage
	if p >= len(ki.pages) {
		ki.pages = append(ki.pages, make([][]keyInfo, p+1-len(ki.pages))...)
	}
	if ki.pages[p] == nil {
		ki.pages[p] = make([]keyInfo, keyPage)
	}
	return &ki.pages[p][int(n)%keyPage]
}

// get returns key n's info (zero if none).
func (ki *keyInfos) get(n int32) keyInfo {
	if p := int(n) / keyPage; p < len(ki.pages) && ki.pages[p] != nil {
		return ki.pages[p][int(n)%keyPage]
	}
	return keyInfo{}
}

// model is everything derived from a Run and its History for rendering.
type model struct {
	r     *Run
	h     *history.History
	t0    int64 // timeline start
	t1    int64 // timeline end
	procs []*procInfo
	// keys numbers the interchanges' keys (the checkers' table when the
	// prepass ran as their observer); info is what is known of each.
	keys *history.Keys
	info keyInfos
	// byKey holds the events of the interchanges the report details.
	byKey     map[string][]*history.Event
	ixOrder   []string
	ixID      map[string]string
	keyClass  map[string]string
	faultsEv  []*history.Event // runner fault events (used when Run.Faults is empty)
	runnerEvs []*history.Event // fault and process events of the runner
	nodes     []string
	pods      []Pod
	podsFake  bool // derived from journals
	uploads   points
	outputs   points // every one ok
	takeover  []*history.Event
	anoms     []anomRef
	pub       *publishModel // publish/consume runs only
}

// points are when uploads (outputs, publishes, loads) returned and their
// outcomes, as the traffic lanes and counts tell them apart: 9 bytes a
// point, not a time and a string (a million uploads: 24 MB).
type points struct {
	t   []int64
	out []outcome // nil: every one ok
}

type outcome uint8

const (
	outOK outcome = iota
	outUnknown
	outFail // any other outcome
)

func outcomeOf(s string) outcome {
	switch s {
	case history.OK:
		return outOK
	case history.Unknown:
		return outUnknown
	}
	return outFail
}

func (p *points) add(t int64, o outcome) {
	p.t = append(p.t, t)
	p.out = append(p.out, o)
}

func (p *points) at(i int) outcome {
	if p.out == nil {
		return outOK
	}
	return p.out[i]
}

type anomRef struct {
	Check string
	A     check.Anomaly
	T     int64 // time used on the timeline
	ID    string
}

// Prepass is the report's pass over the events, made while another pass
// reads them (the checker's, through verdict.Options.Observer), so a
// history streamed from disk is decoded once for both. A prepass that did
// not see the whole history (Complete not called) is not used: the report
// then makes its own pass.
type Prepass struct {
	m     *model
	procs map[string]*procInfo
	exits []*history.Event
	done  bool
}

// NewPrepass returns an empty prepass.
func NewPrepass() *Prepass {
	return &Prepass{m: &model{keys: history.NewKeys(0)}, procs: map[string]*procInfo{}}
}

// ShareKeys makes the prepass number keys in the checkers' table (before
// its first event): each key is then held once.
func (pp *Prepass) ShareKeys(k *history.Keys) { pp.m.keys = k }

// Complete says the prepass saw every event.
func (pp *Prepass) Complete() { pp.done = true }

// kept is a copy of an event the model keeps: a streamed history's events
// live in buffers that a kept pointer would hold on to.
func kept(e *history.Event) *history.Event {
	cp := *e
	return &cp
}

func (pp *Prepass) key(k string) *keyInfo {
	return pp.m.info.at(pp.m.keys.Add(k))
}

// Observe takes the next event, in the history's order.
func (pp *Prepass) Observe(e *history.Event) {
	m, procs, key := pp.m, pp.procs, pp.key
	if e.Role != history.RoleRunner {
		p := procs[e.Proc]
		if p == nil {
			p = &procInfo{ID: e.Proc, Role: e.Role, Node: e.Node, First: e.Call}
			procs[e.Proc] = p
			m.procs = append(m.procs, p)
		}
		if e.Call < p.First {
			p.First = e.Call
		}
		if e.End() > p.Last {
			p.Last = e.End()
		}
		if p.Node == "" {
			p.Node = e.Node
		}
	}
	switch e.Type {
	case history.EvUpload:
		m.uploads.add(e.End(), outcomeOf(e.Outcome))
		if e.Key != "" {
			ki := key(e.Key)
			if ki.Upload == 0 || e.Call < ki.Upload {
				ki.Upload = e.Call
			}
			if e.Outcome == history.OK && (ki.Ack == 0 || e.End() < ki.Ack) {
				ki.Ack = e.End()
			}
		}
	case history.EvOutput:
		m.outputs.t = append(m.outputs.t, e.End())
		if e.Key != "" {
			ki := key(e.Key)
			if ki.Output == 0 || e.End() < ki.Output {
				ki.Output = e.End()
			}
		}
	case history.EvError:
		if p := procs[e.Proc]; p != nil {
			p.Errors = append(p.Errors, e.Call)
		}
	case history.EvRunStart:
		if p := procs[e.Proc]; p != nil {
			p.Runs = append(p.Runs, [2]int64{e.Call, 0})
			p.RunFailed = append(p.RunFailed, false)
		}
	case history.EvRunEnd:
		if p := procs[e.Proc]; p != nil && len(p.Runs) > 0 {
			p.Runs[len(p.Runs)-1][1] = e.End()
			p.RunFailed[len(p.RunFailed)-1] = e.Outcome == history.Fail
		}
	case history.EvLockTakeover:
		m.takeover = append(m.takeover, kept(e))
	case history.EvProcExit:
		pp.exits = append(pp.exits, kept(e))
	case history.EvFault:
		m.faultsEv = append(m.faultsEv, kept(e))
	}
	if e.Role == history.RoleRunner && len(m.runnerEvs) < 10000 {
		m.runnerEvs = append(m.runnerEvs, kept(e))
	}
}

func newModel(r *Run, h *history.History, pre *Prepass) *model {
	if pre == nil || !pre.done {
		pre = NewPrepass()
		for e := range h.All() {
			pre.Observe(e)
		}
	}
	m := pre.m
	m.r, m.h = r, h
	m.byKey, m.ixID, m.keyClass = map[string][]*history.Event{}, map[string]string{}, map[string]string{}
	exits := pre.exits
	for _, e := range exits {
		// The exited proc: named exactly, else the latest one started before
		// the exit with the same pid.
		var best *procInfo
		pid := pidOf(e.Target)
		for _, p := range m.procs {
			if p.ID == e.Target {
				best = p
				break
			}
			if pid != "" && pidOf(p.ID) == pid && p.First <= e.Call && (best == nil || p.First > best.First) {
				best = p
			}
		}
		if best != nil {
			best.Exit, best.ExitDetail = e.Call, e.Detail
			if e.Call > best.Last {
				best.Last = e.Call
			}
		}
	}

	// Anomalies and the interchanges they name.
	if r.Check != nil {
		for _, c := range r.Check.Checks {
			for _, a := range c.Anomalies {
				ref := anomRef{Check: c.Name, A: a, T: a.Time, ID: fmt.Sprintf("an-%d", len(m.anoms)+1)}
				if a.Key != "" {
					if ref.T == 0 {
						if n, ok := m.keys.Find(a.Key); ok {
							ki := m.info.get(n)
							ref.T = cmp.Or(ki.Ack, ki.Upload, ki.Output)
						}
					}
					if _, ok := m.ixID[a.Key]; !ok && len(m.ixOrder) < maxIxRows {
						m.ixID[a.Key] = fmt.Sprintf("ix-%d", len(m.ixOrder)+1)
						m.ixOrder = append(m.ixOrder, a.Key)
					}
					if _, ok := m.keyClass[a.Key]; !ok {
						m.keyClass[a.Key] = a.Class
					}
				}
				if ref.T == 0 && a.Epoch != 0 {
					for _, t := range r.Check.Epochs {
						if t.Epoch == a.Epoch {
							ref.T = t.Acquired
						}
					}
				}
				m.anoms = append(m.anoms, ref)
			}
		}
	}
	if len(m.ixOrder) > 0 {
		for e := range h.All() {
			if e.Key == "" {
				continue
			}
			if _, ok := m.ixID[e.Key]; ok && len(m.byKey[e.Key]) < maxIxEvents {
				m.byKey[e.Key] = append(m.byKey[e.Key], kept(e))
			}
		}
	}

	// Nodes and pods.
	m.pods = r.Pods
	if len(m.pods) == 0 {
		m.podsFake = true
		for _, p := range m.procs {
			if p.Role == history.RoleClient {
				continue
			}
			end := p.Exit
			phase := "Exited"
			if end == 0 {
				end, phase = p.Last, ""
			}
			m.pods = append(m.pods, Pod{Pod: p.ID, Component: p.Role, Node: p.Node, Created: p.First, Ready: p.First, Deleted: end, Phase: phase})
		}
	}
	seen := map[string]bool{}
	addNode := func(n string) {
		if n != "" && !seen[n] {
			seen[n] = true
			m.nodes = append(m.nodes, n)
		}
	}
	for _, n := range r.Nodes {
		addNode(n)
	}
	var extra []string
	for _, p := range m.pods {
		if !seen[p.Node] && p.Node != "" {
			extra = append(extra, p.Node)
		}
	}
	for _, p := range m.procs {
		if !seen[p.Node] && p.Node != "" {
			extra = append(extra, p.Node)
		}
	}
	slices.Sort(extra)
	for _, n := range extra {
		addNode(n)
	}

	m.pub = newPublishModel(r, h)
	m.span()
	return m
}

// span picks the timeline's time range: the part of the run where something
// happened (traffic, faults, pods), not the provisioning before it.
func (m *model) span() {
	var lo, hi int64
	see := func(t int64) {
		if t <= 0 {
			return
		}
		if lo == 0 || t < lo {
			lo = t
		}
		if t > hi {
			hi = t
		}
	}
	for _, p := range m.procs {
		see(p.First)
		see(p.Last)
	}
	for _, f := range m.faults() {
		see(f.Injected)
		see(f.Healed)
		see(f.HealVerified)
	}
	for _, ph := range m.r.Phases {
		switch ph.Name {
		case PhaseSteadyState, PhaseTrafficFaults, PhaseHeal, PhaseSettle:
			see(ph.Start)
			see(ph.End)
		}
	}
	for _, p := range m.pods {
		see(p.Created)
		see(p.Ready)
	}
	if lo == 0 {
		lo, hi = m.r.Started, m.r.Ended
	}
	if lo == 0 {
		lo, hi = 1, int64(time.Minute)
	}
	if hi <= lo {
		hi = lo + int64(time.Second)
	}
	pad := (hi - lo) / 50
	m.t0, m.t1 = lo-pad, hi+pad
}

// faults are the Run's faults or, failing that, the runner's fault events.
func (m *model) faults() []Fault {
	if len(m.r.Faults) > 0 {
		return m.r.Faults
	}
	var out []Fault
	for _, e := range m.faultsEv {
		out = append(out, Fault{Name: e.Detail, Action: e.Detail, Target: e.Target, Injected: e.Call, Healed: e.Return, Err: e.Err})
	}
	return out
}

// x maps a time to the timeline's x coordinate.
func (m *model) x(t int64) float64 {
	if t < m.t0 {
		t = m.t0
	}
	if t > m.t1 {
		t = m.t1
	}
	return plotX0 + float64(t-m.t0)/float64(m.t1-m.t0)*(plotX1-plotX0)
}

// relTime formats t relative to the run start.
func (m *model) rel(t int64) string { return rel(m.r, t) }

func (m *model) abs(t int64) string {
	if t == 0 {
		return ""
	}
	return time.Unix(0, t).UTC().Format("2006-01-02 15:04:05.000 UTC")
}

// ---- helpers ----

// pidOf extracts the pid of a proc id "role-host-pid-nanos" or a runner
// target "role/index/pid".
func pidOf(id string) string {
	if i := strings.LastIndexByte(id, '/'); i >= 0 {
		if _, err := strconv.Atoi(id[i+1:]); err == nil {
			return id[i+1:]
		}
		return ""
	}
	parts := strings.Split(id, "-")
	if len(parts) >= 4 {
		if _, err := strconv.Atoi(parts[len(parts)-2]); err == nil {
			return parts[len(parts)-2]
		}
	}
	return ""
}

// shortProc shortens "role-host-pid-nanos" to "host·pid".
func shortProc(id string) string {
	parts := strings.Split(id, "-")
	if len(parts) >= 4 {
		_, e1 := strconv.ParseInt(parts[len(parts)-1], 10, 64)
		_, e2 := strconv.Atoi(parts[len(parts)-2])
		if e1 == nil && e2 == nil {
			host := strings.Join(parts[1:len(parts)-2], "-")
			return host + "·" + parts[len(parts)-2]
		}
	}
	return id
}

// pack assigns each interval a row so that bars in one row do not overlap;
// beyond max rows, the row that frees up first is reused.
func pack(iv [][2]float64, max int) ([]int, int) {
	order := make([]int, len(iv))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return iv[order[a]][0] < iv[order[b]][0] })
	rows := make([]int, len(iv))
	var ends []float64
	for _, i := range order {
		placed := false
		for r, end := range ends {
			if end <= iv[i][0] {
				rows[i], ends[r], placed = r, iv[i][1]+2, true
				break
			}
		}
		if placed {
			continue
		}
		if len(ends) < max {
			rows[i] = len(ends)
			ends = append(ends, iv[i][1]+2)
			continue
		}
		best := 0
		for r := range ends {
			if ends[r] < ends[best] {
				best = r
			}
		}
		rows[i], ends[best] = best, math.Max(ends[best], iv[i][1]+2)
	}
	return rows, max1(len(ends))
}

func max1(n int) int {
	if n < 1 {
		return 1
	}
	return n
}

// niceStep picks a tick step giving about n ticks over span.
func niceStep(span float64, n int) float64 {
	if span <= 0 {
		return 1
	}
	raw := span / float64(n)
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, f := range []float64{1, 2, 2.5, 5, 10} {
		if f*mag >= raw {
			return f * mag
		}
	}
	return 10 * mag
}

// niceTimeStep picks a tick step for a time axis (seconds).
func niceTimeStep(span float64, n int) float64 {
	raw := span / float64(n)
	for _, s := range []float64{0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 20, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200} {
		if s >= raw {
			return s
		}
	}
	return niceStep(span, n)
}

// axisLabel formats seconds since the run start for a time axis.
func axisLabel(s float64, step float64) string {
	if step < 1 {
		return fmt.Sprintf("%.1fs", s)
	}
	neg := s < 0
	if neg {
		s = -s
	}
	sec := int64(math.Round(s))
	out := fmt.Sprintf("%d:%02d", sec/60, sec%60)
	if sec >= 3600 {
		out = fmt.Sprintf("%d:%02d:%02d", sec/3600, sec/60%60, sec%60)
	}
	if neg {
		out = "-" + out
	}
	return out
}
