package check

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/rwxchaos/rwxchaos/framework/history"
)

// evRef is one event kept as evidence.
type evRef struct {
	seq, call, ret int64
	typ, key       string
}

func (r evRef) end() int64 {
	if r.ret != 0 {
		return r.ret
	}
	return r.call
}

// hold is what one proc did under one epoch, in its own order (seq).
type hold struct {
	p     *procState
	epoch uint64

	acquire  evRef // the first acquire (by seq); seq 0 = never acquired
	acquires int
	lost     evRef // the first lock.lost (by seq)
	release  evRef // the first lock.release (by seq)

	// Calls of one proc are on one clock: its own order is judged by them
	// (seq orders appends, and an operation is appended when it returns,
	// so a later seq can belong to an operation that started earlier).
	minCall  int64 // the earliest call of its events carrying this epoch
	minEv    evRef
	earliest evRef // mutation with the earliest call
	latest   evRef // mutation with the latest call
	muts     int
	// writes are the lease writes journaled: the acquire and the renewals
	// (Call = the heartbeat value written).
	writes        []evRef
	lastHeartbeat int64
	lastSignCall  int64
}

type holdKey struct {
	p     *procState
	epoch uint64
}

type takeover struct {
	p        *procState
	seq      int64
	call     int64
	holder   string
	epoch    uint64
	age, ttl time.Duration
}

type faultWindow struct {
	name       string
	start, end int64
	writers    map[string]int // node → engine mutations during the window
}

type lockState struct {
	snapTaken int64 // Input.SnapshotTaken

	hi        *historyState
	holds     map[holdKey]*hold
	order     []*hold
	last      *hold
	grants    map[uint64][]*hold // epoch → the holds that journaled acquiring it
	takeovers []takeover
	windows   []*faultWindow
	deaths    map[string]int64 // proc id or pid → time the runner saw it die
	acquires  int
	mutators  int
	unfenced  CheckResult // epoch-0 writes, collected as they stream by
}

func newLockState(hi *historyState) *lockState {
	return &lockState{hi: hi, holds: map[holdKey]*hold{}, grants: map[uint64][]*hold{}, deaths: map[string]int64{}}
}

func (s *lockState) hold(p *procState, epoch uint64) *hold {
	if s.last != nil && s.last.p == p && s.last.epoch == epoch {
		return s.last // runs of events share a writer and an epoch
	}
	k := holdKey{p, epoch}
	h := s.holds[k]
	if h == nil {
		h = &hold{p: p, epoch: epoch}
		s.holds[k] = h
		s.order = append(s.order, h)
	}
	s.last = h
	return h
}

func ref(e *history.Event) evRef {
	return evRef{seq: e.Seq, call: e.Call, ret: e.Return, typ: e.Type, key: e.Key}
}

func (s *lockState) observe(e *history.Event, p *procState) {
	var h *hold
	if e.Epoch != 0 && e.Role == history.RoleEngine && e.Type != history.EvLockTakeover {
		h = s.hold(p, e.Epoch)
		if h.minCall == 0 || e.Call < h.minCall {
			h.minCall, h.minEv = e.Call, ref(e)
		}
	}
	switch e.Type {
	case history.EvLockAcquire:
		s.acquires++
		h.acquires++
		if h.acquire.seq == 0 || e.Call < h.acquire.call {
			if h.acquire.seq == 0 {
				s.grants[e.Epoch] = append(s.grants[e.Epoch], h)
			}
			h.acquire = ref(e)
		}
		h.writes = append(h.writes, ref(e))
		h.lastSignCall = max(h.lastSignCall, e.Call)
	case history.EvLockTakeover:
		age, ttl, err := history.ParseTakeover(e.Detail)
		if err == nil {
			s.takeovers = append(s.takeovers, takeover{p: p, seq: e.Seq, call: e.Call, holder: e.Holder, epoch: e.Epoch, age: age, ttl: ttl})
		}
	case history.EvLockRenew:
		h.writes = append(h.writes, ref(e))
		h.lastHeartbeat = max(h.lastHeartbeat, e.End())
		h.lastSignCall = max(h.lastSignCall, e.Call)
	case history.EvLockRelease:
		if h.release.seq == 0 || e.Call < h.release.call {
			h.release = ref(e)
		}
	case history.EvLockLost:
		if h.lost.seq == 0 || e.Call < h.lost.call {
			h.lost = ref(e)
		}
	case history.EvFault:
		if e.Return > e.Call {
			s.windows = append(s.windows, &faultWindow{name: e.Detail, start: e.Call, end: e.Return, writers: map[string]int{}})
		}
	case history.EvClaim, history.EvOutput, history.EvDone, history.EvSkip:
		if e.Outcome == history.Fail {
			return // did not happen
		}
		s.mutators++
		for _, w := range s.windows {
			if e.Call >= w.start && e.Call <= w.end && e.Node != "" {
				w.writers[e.Node]++
			}
		}
		if e.Epoch == 0 {
			s.unfenced.add(Anomaly{Class: ClassUnfenced, Key: e.Key, Proc: e.Proc, Time: e.Call,
				Detail:   fmt.Sprintf("%s by %s under no lock epoch", e.Type, e.Proc),
				Evidence: []Ref{{Proc: e.Proc, Seq: e.Seq, Type: e.Type}}})
			return
		}
		r := ref(e)
		if h.muts == 0 || e.Call < h.earliest.call {
			h.earliest = r
		}
		if h.muts == 0 || e.Call > h.latest.call {
			h.latest = r
		}
		h.muts++
		h.lastSignCall = max(h.lastSignCall, e.Call)
	case history.EvProcExit:
		s.deaths[e.Target] = e.Call
		if pid := pidOf(e.Target); pid != "" {
			s.deaths["pid:"+pid] = e.Call
		}
	}
}

// pidOf extracts the pid from a proc id "role-host-pid-nanos" or a runner
// target "role/index/pid".
func pidOf(id string) string {
	if i := strings.LastIndexByte(id, '/'); i >= 0 {
		return numeric(id[i+1:])
	}
	if _, pid, ok := rolePidOf(id); ok {
		return pid
	}
	return ""
}

func (s *lockState) deathOf(proc string) int64 {
	if t, ok := s.deaths[proc]; ok {
		return t
	}
	if pid := pidOf(proc); pid != "" {
		return s.deaths["pid:"+pid]
	}
	return 0
}

func evOf(h *hold, r evRef) Ref { return Ref{Proc: h.p.name, Seq: r.seq, Type: r.typ} }

// holder is the first acquirer of an epoch (by the acquire's call).
func (s *lockState) holder(epoch uint64) *hold {
	var best *hold
	for _, h := range s.grants[epoch] {
		if best == nil || h.acquire.call < best.acquire.call {
			best = h
		}
	}
	return best
}

func (s *lockState) result(lease *history.Lease, cfg Config, stale []staleDoc) (CheckResult, CheckResult, []Tenure) {
	clk := s.hi.clocks
	safety := CheckResult{Name: CheckLockSafety}
	sort.Slice(s.order, func(i, j int) bool {
		a, b := s.order[i], s.order[j]
		if a.epoch != b.epoch {
			return a.epoch < b.epoch
		}
		return a.p.name < b.p.name
	})
	epochs := make([]uint64, 0, len(s.grants))
	for e := range s.grants {
		epochs = append(epochs, e)
	}
	sort.Slice(epochs, func(i, j int) bool { return epochs[i] < epochs[j] })

	// One epoch, two holders.
	for _, ep := range epochs {
		g := s.grants[ep]
		for _, h := range g[1:] {
			safety.add(Anomaly{Class: ClassDoubleGrant, Epoch: ep, Proc: h.p.name, Time: h.acquire.call,
				Detail:   fmt.Sprintf("epoch %d was acquired by %s and by %s", ep, g[0].p.name, h.p.name),
				Evidence: []Ref{evOf(g[0], g[0].acquire), evOf(h, h.acquire)}})
		}
	}
	flagged := map[*hold]bool{}
	// Fencing, judged by each writer's own clock and by epoch order.
	for _, h := range s.order {
		if h.muts == 0 {
			continue
		}
		g := s.grants[h.epoch]
		first := h.earliest
		switch {
		case len(g) == 0:
			flagged[h] = true
			safety.add(Anomaly{Class: ClassUnfenced, Epoch: h.epoch, Proc: h.p.name, Key: first.key, Time: first.call,
				Detail:   fmt.Sprintf("%s did %s under epoch %d, which no lock.acquire granted", h.p.name, first.typ, h.epoch),
				Evidence: []Ref{evOf(h, first)}})
		case h.acquire.seq == 0:
			flagged[h] = true
			safety.add(Anomaly{Class: ClassDoubleGrant, Epoch: h.epoch, Proc: h.p.name, Key: first.key, Time: first.call,
				Detail:   fmt.Sprintf("%s did %s under epoch %d, which was granted to %s", h.p.name, first.typ, h.epoch, g[0].p.name),
				Evidence: []Ref{evOf(h, first), evOf(g[0], g[0].acquire)}})
		case first.call < h.acquire.call:
			flagged[h] = true
			safety.add(Anomaly{Class: ClassUnfenced, Epoch: h.epoch, Proc: h.p.name, Key: first.key, Time: first.call,
				Detail: fmt.Sprintf("%s began %s under epoch %d %s before it began acquiring it (on its own clock)",
					h.p.name, first.typ, h.epoch, time.Duration(h.acquire.call-first.call).Round(time.Microsecond)),
				Evidence: []Ref{evOf(h, first), evOf(h, h.acquire)}})
		}
		last := h.latest
		switch {
		case h.lost.seq != 0 && last.call > h.lost.call:
			flagged[h] = true
			safety.add(Anomaly{Class: ClassStaleWrite, Epoch: h.epoch, Proc: h.p.name, Key: last.key, Time: last.call,
				Detail: fmt.Sprintf("%s journaled losing epoch %d, then began %s under it %s later (on its own clock)",
					h.p.name, h.epoch, last.typ, time.Duration(last.call-h.lost.call).Round(time.Microsecond)),
				Evidence: []Ref{evOf(h, h.lost), evOf(h, last)}})
		case h.release.seq != 0 && last.call > h.release.call:
			flagged[h] = true
			safety.add(Anomaly{Class: ClassStaleWrite, Epoch: h.epoch, Proc: h.p.name, Key: last.key, Time: last.call,
				Detail: fmt.Sprintf("%s released epoch %d, then began %s under it %s later (on its own clock)",
					h.p.name, h.epoch, last.typ, time.Duration(last.call-h.release.call).Round(time.Microsecond)),
				Evidence: []Ref{evOf(h, h.release), evOf(h, last)}})
		}
	}
	// A writer that used epoch b and then an older epoch a (its own clock).
	byProc := map[*procState][]*hold{}
	for _, h := range s.order {
		byProc[h.p] = append(byProc[h.p], h)
	}
	for _, hs := range byProc {
		for i, a := range hs {
			for _, b := range hs[i+1:] { // b.epoch > a.epoch
				switch {
				case a.acquire.seq != 0 && a.acquire.call > b.minCall:
					safety.add(Anomaly{Class: ClassEpochRegress, Epoch: a.epoch, Proc: a.p.name, Time: a.acquire.call,
						Detail:   fmt.Sprintf("%s acquired epoch %d after it had used epoch %d", a.p.name, a.epoch, b.epoch),
						Evidence: []Ref{evOf(b, b.minEv), evOf(a, a.acquire)}})
				case a.muts > 0 && a.latest.call > b.minCall && !flagged[a]:
					flagged[a] = true
					safety.add(Anomaly{Class: ClassStaleWrite, Epoch: a.epoch, Proc: a.p.name, Key: a.latest.key, Time: a.latest.call,
						Detail:   fmt.Sprintf("%s began %s under epoch %d after it had used epoch %d", a.p.name, a.latest.typ, a.epoch, b.epoch),
						Evidence: []Ref{evOf(b, b.minEv), evOf(a, a.latest)}})
				}
			}
		}
	}
	// The volume's order: an older epoch's document over a newer epoch's.
	for _, d := range stale {
		h := s.holds[holdKey{d.doc.p, d.doc.epoch}]
		if h != nil && flagged[h] {
			continue
		}
		if h != nil {
			flagged[h] = true
		}
		safety.add(Anomaly{Class: ClassStaleWrite, Epoch: d.doc.epoch, Proc: d.doc.p.name, Key: d.key, Path: d.path,
			Detail: fmt.Sprintf("%s holds the document %s wrote under epoch %d, though %s wrote it under the newer epoch %d: the older epoch's write landed last",
				d.path, d.doc.p.name, d.doc.epoch, d.newer.p.name, d.newer.epoch),
			Evidence: []Ref{{Path: d.path}, {Proc: d.newer.p.name, Seq: d.newerSeq, Type: history.EvOutput}}})
	}
	// Clocks add evidence: a write whose call came after a newer epoch's
	// grant had certainly returned, on the measured (or assumed) clocks.
	s.clockStale(&safety, epochs, flagged, clk)
	// Stolen leases.
	for _, tk := range s.takeovers {
		if a, ok := s.stolen(tk, cfg.LeaseTTL, clk); ok {
			safety.add(a)
		}
	}
	for _, a := range s.unfenced.Anomalies {
		safety.add(a)
	}
	safety.AnomalyCount += s.unfenced.AnomalyCount - len(s.unfenced.Anomalies)
	safety.num("epochs", float64(len(epochs)))
	safety.num("acquires", float64(s.acquires))
	safety.num("takeovers", float64(len(s.takeovers)))
	safety.num("unfenced", float64(s.unfenced.AnomalyCount))
	sortAnomalies(safety.Anomalies)
	switch {
	case !cfg.LockExclusive:
		safety.Status, safety.Message = Skip, fmt.Sprintf("lock exclusivity not expected by this scenario (%d violations seen)", safety.AnomalyCount)
	case safety.AnomalyCount > 0:
		safety.Status = Fail
		safety.Message = fmt.Sprintf("the engine lock was not exclusive: %d violations (%s)", safety.AnomalyCount, classCounts(safety.Anomalies))
	case s.mutators > 0 && s.acquires == 0:
		safety.Status, safety.Message = Fail, "engines moved files but no lock grant was journaled"
	case s.mutators == 0:
		safety.Status, safety.Message = Skip, "no engine mutation in the history: nothing to judge"
	default:
		safety.Status = Pass
		safety.Message = fmt.Sprintf("%d epochs, one holder each, no write after a holder lost or released its epoch or under a superseded one", len(epochs))
	}
	// Split brain made visible: engines on several nodes writing during one
	// fault (e.g. a partitioned node's engine and its replacement).
	most := 0
	for _, w := range s.windows {
		if len(w.writers) < 2 {
			continue
		}
		most = max(most, len(w.writers))
		var parts []string
		for n, c := range w.writers {
			parts = append(parts, fmt.Sprintf("%s %d", n, c))
		}
		sort.Strings(parts)
		safety.Message += fmt.Sprintf("; during %s engines on %d nodes wrote (%s)", w.name, len(w.writers), strings.Join(parts, ", "))
	}
	safety.num("concurrentWriterNodes", float64(most))
	rec, tenures := s.recovery(epochs, lease, cfg, clk)
	return safety, rec, tenures
}

// clockStale flags writes under epoch N whose call came after the grant of
// a newer epoch had returned, comparing clocks only where the runner
// measured them (or within the assumed skew). Grants are grouped by node so
// each comparison uses the right pair of clocks.
func (s *lockState) clockStale(safety *CheckResult, epochs []uint64, flagged map[*hold]bool, clk *clockModel) {
	type grantAt struct {
		h   *hold
		ret int64
	}
	// suffix[node][i] = the earliest grant return among epochs[i:] on node.
	nodes := map[string][]grantAt{}
	for _, ep := range epochs {
		if h := s.holder(ep); h != nil {
			nodes[h.p.node] = nil
		}
	}
	for n := range nodes {
		suf := make([]grantAt, len(epochs)+1)
		for i := len(epochs) - 1; i >= 0; i-- {
			suf[i] = suf[i+1]
			if h := s.holder(epochs[i]); h != nil && h.p.node == n && (suf[i].h == nil || h.acquire.end() < suf[i].ret) {
				suf[i] = grantAt{h, h.acquire.end()}
			}
		}
		nodes[n] = suf
	}
	pos := map[uint64]int{}
	for i, ep := range epochs {
		pos[ep] = i
	}
	for _, h := range s.order {
		if h.muts == 0 || flagged[h] {
			continue
		}
		i, ok := pos[h.epoch]
		if !ok {
			continue
		}
		for _, suf := range nodes {
			g := suf[i+1]
			if g.h == nil {
				continue
			}
			late, basis := clk.later(h.p.node, h.latest.call, g.h.p.node, g.ret)
			if !late {
				continue
			}
			flagged[h] = true
			safety.add(Anomaly{Class: ClassStaleWrite, Epoch: h.epoch, Proc: h.p.name, Key: h.latest.key, Time: h.latest.call,
				Detail: fmt.Sprintf("%s did %s under epoch %d %s after %s was granted epoch %d (by the %s): two holders at once",
					h.p.name, h.latest.typ, h.epoch, time.Duration(clk.ref(h.p.node, h.latest.call)-clk.ref(g.h.p.node, g.ret)).Round(time.Millisecond),
					g.h.p.name, g.h.epoch, basis),
				Evidence: []Ref{evOf(g.h, g.h.acquire), evOf(h, h.latest)}})
			break
		}
	}
}

// stolen judges one takeover: was the lease it broke still fresh?
//   - By the breaker's own numbers: it journaled an age below the TTL (its
//     own, or the scenario's LeaseTTL if longer).
//   - By the holder's clock alone: the breaker read a heartbeat h = call −
//     age (a value of the holder's clock, written by the holder). If the
//     holder journaled writing a later heartbeat (so after the breaker's
//     read) that had landed within the TTL of h, the lease the breaker read
//     was younger than its TTL: no two clocks compared.
//   - By the measured clocks: the breaker's age corrected by the two nodes'
//     offsets is below the TTL even at its largest.
func (s *lockState) stolen(tk takeover, scenarioTTL time.Duration, clk *clockModel) (Anomaly, bool) {
	a := Anomaly{Class: ClassStolenLease, Epoch: tk.epoch, Proc: tk.p.name, Time: tk.call}
	ev := Ref{Proc: tk.p.name, Seq: tk.seq, Type: history.EvLockTakeover}
	if limit := max(tk.ttl, scenarioTTL); tk.age < limit {
		a.Detail = fmt.Sprintf("%s broke epoch %d of %s whose lease was %s old by its own measure (TTL %s): the holder was alive", tk.p.name, tk.epoch, tk.holder, tk.age, limit)
		a.Evidence = []Ref{ev}
		return a, true
	}
	var holder *hold
	for _, h := range s.grants[tk.epoch] {
		if h.p.name == tk.holder {
			holder = h
		}
	}
	if holder == nil {
		return a, false
	}
	const rounding = int64(time.Millisecond) // the age is journaled rounded to the millisecond
	read := tk.call - int64(tk.age)
	for _, w := range holder.writes {
		if w.call > read+rounding && w.end()-(read-rounding) < int64(tk.ttl) {
			a.Detail = fmt.Sprintf("%s broke epoch %d of %s as %s old (TTL %s), but %s wrote a newer heartbeat %s after the one %s read, landing within the TTL (measured on %s's clock alone): the lease was fresh",
				tk.p.name, tk.epoch, tk.holder, tk.age, tk.ttl, tk.holder, time.Duration(w.call-read).Round(time.Millisecond), tk.p.name, tk.holder)
			a.Evidence = []Ref{ev, evOf(holder, w)}
			return a, true
		}
	}
	return a, s.stolenByClocks(&a, tk, holder, clk, ev)
}

// stolenByClocks: the breaker measured age = its now − the heartbeat (the
// holder's clock). In reference time the age was age − (oB − oH), at most
// age − oB_lo + oH_hi.
func (s *lockState) stolenByClocks(a *Anomaly, tk takeover, holder *hold, clk *clockModel, ev Ref) bool {
	if tk.p.node == holder.p.node {
		return false
	}
	blo, _, bok := clk.bounds(tk.p.node)
	_, hhi, hok := clk.bounds(holder.p.node)
	if !bok || !hok {
		return false
	}
	maxAge := tk.age - time.Duration(blo) + time.Duration(hhi)
	if maxAge >= tk.ttl {
		return false
	}
	a.Detail = fmt.Sprintf("%s broke epoch %d of %s as %s old (TTL %s), but corrected for the measured clocks of %s and %s the lease was at most %s old: the breaker's clock ran ahead",
		tk.p.name, tk.epoch, tk.holder, tk.age, tk.ttl, nodeName(tk.p.node), nodeName(holder.p.node), maxAge.Round(time.Millisecond))
	a.Evidence = []Ref{ev, evOf(holder, holder.acquire)}
	return true
}

// recovery: for every tenure that did not end cleanly, the time from its
// holder's death (or last sign of life) to the next grant.
func (s *lockState) recovery(epochs []uint64, lease *history.Lease, cfg Config, clk *clockModel) (CheckResult, []Tenure) {
	rec := CheckResult{Name: CheckLockRecovery}
	var worst time.Duration
	gaps := 0
	tenures := make([]Tenure, 0, len(epochs))
	for i, ep := range epochs {
		h := s.holder(ep)
		t := Tenure{Epoch: ep, Holder: h.p.name, Node: h.p.node, Acquired: h.acquire.call, LastHeartbeat: h.lastHeartbeat}
		if h.muts > 0 {
			t.LastMutation = h.latest.end()
			for _, x := range s.grants[ep] {
				if x.muts > 0 && x.latest.end() > t.LastMutation {
					t.LastMutation = x.latest.end()
				}
			}
		}
		switch {
		case h.release.seq != 0:
			t.Released, t.End = h.release.end(), "released"
		case h.lost.seq != 0:
			t.End = "lost"
		case s.deathOf(h.p.name) != 0:
			t.End = "died"
		default:
			t.End = "open"
		}
		tenures = append(tenures, t)
		if t.End == "released" || i+1 >= len(epochs) {
			continue
		}
		next := s.holder(epochs[i+1])
		nextAt := clk.ref(next.p.node, next.acquire.call)
		// From the holder's death if it died before the next grant; else
		// (hung, paused, partitioned: it may outlive the next grant) from its
		// last sign of life.
		from := s.deathOf(h.p.name) // runner's clock
		basis := "death"
		if from == 0 || from > nextAt {
			from = clk.ref(h.p.node, max(h.acquire.call, h.lastSignCall))
			basis = "last sign of life"
		}
		gap := time.Duration(nextAt - from)
		if gap < 0 {
			gap = 0
		}
		gaps++
		worst = max(worst, gap)
		if cfg.LockRecoveredWithin > 0 && gap > cfg.LockRecoveredWithin {
			rec.add(Anomaly{Class: ClassSlowRecovery, Epoch: ep, Proc: h.p.name, Time: next.acquire.call,
				Detail: fmt.Sprintf("epoch %d's holder %s ended (%s); epoch %d was granted %s later, over %s",
					ep, h.p.name, basis, next.epoch, gap.Round(time.Millisecond), cfg.LockRecoveredWithin),
				Evidence: []Ref{evOf(h, h.acquire), evOf(next, next.acquire)}})
		}
	}
	rec.num("recoveries", float64(gaps))
	rec.num("worstSeconds", worst.Seconds())
	switch {
	case gaps == 0:
		rec.Status, rec.Message = Pass, "every tenure ended with a clean release (no recovery needed)"
		switch {
		case cfg.LockRecoveredWithin <= 0 || lease == nil || lease.Released || s.acquires == 0:
		case len(epochs) > 0 && lease.Epoch > epochs[len(epochs)-1] && tenures[len(tenures)-1].End == "released":
			// An engine took the lock as the evidence was collected: the
			// lease file has its grant, the collected journals do not yet.
			// No event of that tenure exists to judge it by, and the one
			// before it ended with a clean release.
			rec.Message += fmt.Sprintf("; the lease file holds epoch %d by %s, newer than every journaled grant (taken as the evidence was collected): that tenure is not judged", lease.Epoch, lease.Holder)
		case len(epochs) > 0 && lease.Epoch > epochs[len(epochs)-1]:
			// The last journaled tenure was not released, and its
			// takeover is not journaled: when the lock was recovered
			// cannot be told, so it cannot be shown within the bound.
			last := tenures[len(tenures)-1]
			rec.Status, rec.Message = Fail, fmt.Sprintf("epoch %d's holder %s ended (%s) without a release, and the lease file holds epoch %d, whose grant is not in the journals: when the lock was recovered cannot be judged", last.Epoch, last.Holder, last.End, lease.Epoch)
			rec.add(Anomaly{Class: ClassSlowRecovery, Epoch: last.Epoch, Proc: last.Holder, Detail: rec.Message, Evidence: []Ref{{Path: history.LeaseFile}}})
		case s.snapTaken > 0 && lease.Heartbeat > 0 && s.snapTaken >= lease.Heartbeat && s.snapTaken-lease.Heartbeat <= lease.TTLMillis*int64(time.Millisecond):
			// Not expired when the snapshot was taken: its holder was
			// live then (an engine that took the lock as the evidence
			// was collected), and nobody could have broken it yet.
			rec.Message += fmt.Sprintf("; the lease of epoch %d by %s was live when the snapshot was taken (heartbeat %s before it, TTL %s): that tenure is not judged",
				lease.Epoch, lease.Holder, time.Duration(s.snapTaken-lease.Heartbeat).Round(time.Millisecond), time.Duration(lease.TTLMillis)*time.Millisecond)
		default:
			rec.Status, rec.Message = Fail, fmt.Sprintf("the lease of epoch %d was never recovered or released", lease.Epoch)
			rec.add(Anomaly{Class: ClassSlowRecovery, Epoch: lease.Epoch, Proc: lease.Holder, Detail: rec.Message, Evidence: []Ref{{Path: history.LeaseFile}}})
		}
	case rec.AnomalyCount > 0:
		rec.Status = Fail
		rec.Message = fmt.Sprintf("%d of %d recoveries slower than %s (worst %s)", rec.AnomalyCount, gaps, cfg.LockRecoveredWithin, worst.Round(time.Millisecond))
	default:
		rec.Status = Pass
		rec.Message = fmt.Sprintf("%d recoveries, worst %s", gaps, worst.Round(time.Millisecond))
	}
	return rec, tenures
}

func classCounts(as []Anomaly) string {
	n := map[string]int{}
	for _, a := range as {
		n[a.Class]++
	}
	var parts []string
	for k, v := range n {
		parts = append(parts, fmt.Sprintf("%d %s", v, k))
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}
