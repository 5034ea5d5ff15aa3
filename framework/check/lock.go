package check

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/rwxchaos/rwxchaos/framework/history"
)

type tenureState struct {
	Tenure
	acquireEnd   int64 // return of the acquire: the grant is certain from here
	lastSignCall int64 // latest call of a renew or mutation: alive then (an op may return much later, after a freeze)
	lastMutCall  int64
	lastMutProc  string
	lastMutType  string
	lastMutKey   string
	foreignWrite bool
}

type takeover struct {
	proc, holder string
	epoch        uint64
	at           int64
	age, ttl     time.Duration // of the broken lease; ttl 0 = not journaled
}

type faultWindow struct {
	name       string
	start, end int64
	writers    map[string]int // node → engine mutations during the window
}

type lockState struct {
	windows   []*faultWindow
	last      *tenureState
	takeovers []takeover
	tenures   map[uint64]*tenureState
	procLast  map[string]uint64
	deaths    map[string]int64 // proc id or pid → time the runner saw it die
	acquires  int
	unfenced  CheckResult
	safety    CheckResult
	mutators  int
}

func newLockState() *lockState {
	return &lockState{
		tenures:  map[uint64]*tenureState{},
		procLast: map[string]uint64{},
		deaths:   map[string]int64{},
		unfenced: CheckResult{Name: CheckLockSafety},
		safety:   CheckResult{Name: CheckLockSafety},
	}
}

func (s *lockState) tenure(epoch uint64) *tenureState {
	if s.last != nil && s.last.Epoch == epoch {
		return s.last // runs of events share an epoch
	}
	t := s.tenures[epoch]
	defer func() { s.last = t }()
	if t == nil {
		t = &tenureState{Tenure: Tenure{Epoch: epoch}}
		s.tenures[epoch] = t
	}
	return t
}

func (s *lockState) observe(e *history.Event) {
	switch e.Type {
	case history.EvLockAcquire:
		s.acquires++
		t := s.tenure(e.Epoch)
		if t.Holder != "" && t.Holder != e.Proc {
			s.safety.add(Anomaly{Class: ClassDoubleGrant, Epoch: e.Epoch, Proc: e.Proc, Time: e.Call,
				Detail: fmt.Sprintf("epoch %d granted to %s and to %s", e.Epoch, t.Holder, e.Proc)})
			return
		}
		t.Holder, t.Node, t.Acquired, t.acquireEnd = e.Proc, e.Node, e.Call, e.End()
		if last, ok := s.procLast[e.Proc]; ok && e.Epoch <= last {
			s.safety.add(Anomaly{Class: ClassEpochRegress, Epoch: e.Epoch, Proc: e.Proc, Time: e.Call,
				Detail: fmt.Sprintf("%s acquired epoch %d after holding epoch %d", e.Proc, e.Epoch, last)})
		}
		s.procLast[e.Proc] = e.Epoch
	case history.EvLockTakeover:
		// Detail: "age <duration>[ ttl <duration>]" of the broken lease.
		f := strings.Fields(e.Detail)
		if len(f) >= 2 && f[0] == "age" {
			tk := takeover{proc: e.Proc, holder: e.Holder, epoch: e.Epoch, at: e.Call}
			var err error
			if tk.age, err = time.ParseDuration(f[1]); err == nil {
				if len(f) >= 4 && f[2] == "ttl" {
					tk.ttl, _ = time.ParseDuration(f[3])
				}
				s.takeovers = append(s.takeovers, tk)
			}
		}
	case history.EvLockRenew:
		t := s.tenure(e.Epoch)
		if e.End() > t.LastHeartbeat {
			t.LastHeartbeat = e.End()
		}
		t.lastSignCall = max(t.lastSignCall, e.Call)
	case history.EvLockRelease:
		t := s.tenure(e.Epoch)
		t.Released, t.End = e.End(), "released"
	case history.EvLockLost:
		t := s.tenure(e.Epoch)
		if t.End == "" {
			t.End = "lost"
		}
	case history.EvFault:
		if e.Return > e.Call {
			s.windows = append(s.windows, &faultWindow{name: e.Detail, start: e.Call, end: e.Return, writers: map[string]int{}})
		}
	case history.EvClaim, history.EvOutput, history.EvDone, history.EvSkip:
		s.mutators++
		for _, w := range s.windows {
			if e.Call >= w.start && e.Call <= w.end && e.Node != "" {
				w.writers[e.Node]++
			}
		}
		if e.Epoch == 0 {
			s.unfenced.add(Anomaly{Class: ClassUnfenced, Key: e.Key, Proc: e.Proc, Time: e.Call,
				Detail: fmt.Sprintf("%s by %s under no lock epoch", e.Type, e.Proc)})
			return
		}
		t := s.tenure(e.Epoch)
		if t.Holder != "" && t.Holder != e.Proc && !t.foreignWrite {
			t.foreignWrite = true
			s.safety.add(Anomaly{Class: ClassDoubleGrant, Epoch: e.Epoch, Proc: e.Proc, Key: e.Key, Time: e.Call,
				Detail: fmt.Sprintf("%s wrote under epoch %d, which was granted to %s", e.Proc, e.Epoch, t.Holder)})
		}
		if e.Call > t.lastMutCall {
			t.lastMutCall, t.lastMutProc, t.lastMutType, t.lastMutKey = e.Call, e.Proc, e.Type, e.Key
		}
		if e.End() > t.LastMutation {
			t.LastMutation = e.End()
		}
		t.lastSignCall = max(t.lastSignCall, e.Call)
	case history.EvProcExit:
		if e.Target != "" {
			s.deaths[e.Target] = e.Call
			if pid := pidOf(e.Target); pid != "" {
				s.deaths["pid:"+pid] = e.Call
			}
		}
	}
}

// pidOf extracts the pid from a proc id "role-host-pid-nanos" or a runner
// target "role/index/pid".
func pidOf(id string) string {
	if i := strings.LastIndexByte(id, '/'); i >= 0 {
		return numeric(id[i+1:])
	}
	parts := strings.Split(id, "-")
	if len(parts) >= 4 {
		return numeric(parts[len(parts)-2])
	}
	return ""
}

func numeric(s string) string {
	if _, err := strconv.Atoi(s); err != nil {
		return ""
	}
	return s
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

func (s *lockState) result(lease *history.Lease, cfg Config) (CheckResult, CheckResult, []Tenure) {
	epochs := make([]uint64, 0, len(s.tenures))
	for e := range s.tenures {
		epochs = append(epochs, e)
	}
	sort.Slice(epochs, func(i, j int) bool { return epochs[i] < epochs[j] })

	// Fencing: nothing may be written under epoch e once a later epoch was
	// granted. minLater[i] is the earliest certain grant among epochs after i.
	skew := cfg.ClockSkew.Nanoseconds()
	minLater := make([]int64, len(epochs)+1)
	minLater[len(epochs)] = 1<<63 - 1
	for i := len(epochs) - 1; i >= 0; i-- {
		minLater[i] = minLater[i+1]
		if t := s.tenures[epochs[i]]; t.Holder != "" && t.acquireEnd < minLater[i] {
			minLater[i] = t.acquireEnd
		}
	}
	safety := s.safety
	for i, ep := range epochs {
		t := s.tenures[ep]
		if later := minLater[i+1]; t.lastMutCall != 0 && later != 1<<63-1 && t.lastMutCall > later+skew {
			safety.add(Anomaly{Class: ClassStaleWrite, Epoch: ep, Proc: t.lastMutProc, Key: t.lastMutKey, Time: t.lastMutCall,
				Detail: fmt.Sprintf("%s did %s under epoch %d %s after a newer epoch was granted (split brain: two holders at once)",
					t.lastMutProc, t.lastMutType, ep, time.Duration(t.lastMutCall-minLater[i+1]).Round(time.Millisecond))})
		}
	}
	// A lease broken before its TTL ran out belonged to a live holder: two
	// holders at once, whatever the holder did next.
	ttl := cfg.LeaseTTL
	if ttl == 0 && lease != nil {
		ttl = time.Duration(lease.TTLMillis) * time.Millisecond
	}
	for _, tk := range s.takeovers {
		limit := tk.ttl
		if limit == 0 {
			limit = ttl
		}
		if limit > 0 && tk.age+cfg.ClockSkew < limit {
			safety.add(Anomaly{Class: ClassStolenLease, Epoch: tk.epoch, Proc: tk.proc, Time: tk.at,
				Detail: fmt.Sprintf("%s broke epoch %d of %s whose lease was renewed %s before (TTL %s): the holder was alive", tk.proc, tk.epoch, tk.holder, tk.age, limit)})
		}
	}
	for _, a := range s.unfenced.Anomalies {
		safety.add(a)
	}
	safety.AnomalyCount += s.unfenced.AnomalyCount - len(s.unfenced.Anomalies)
	safety.num("epochs", float64(len(epochs)))
	safety.num("acquires", float64(s.acquires))
	safety.num("unfenced", float64(s.unfenced.AnomalyCount))
	sortAnomalies(safety.Anomalies)
	switch {
	case !cfg.LockExclusive:
		safety.Status, safety.Message = Skip, "lock exclusivity not expected by this scenario"
	case safety.AnomalyCount > 0:
		safety.Status = Fail
		safety.Message = fmt.Sprintf("the engine lock was not exclusive: %d violations (%s)", safety.AnomalyCount, classCounts(safety.Anomalies))
	case s.mutators > 0 && s.acquires == 0:
		safety.Status, safety.Message = Fail, "engines moved files but no lock grant was journaled"
	case s.mutators == 0:
		safety.Status, safety.Message = Skip, "no engine mutation in the history: nothing to judge"
	default:
		safety.Status = Pass
		safety.Message = fmt.Sprintf("%d epochs, one holder each, no write under a superseded epoch", len(epochs))
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

	// Recovery: for every tenure that did not end cleanly, the time from its
	// holder's death (or last sign of life) to the next grant.
	rec := CheckResult{Name: CheckLockRecovery}
	var worst time.Duration
	gaps := 0
	tenures := make([]Tenure, 0, len(epochs))
	for i, ep := range epochs {
		t := s.tenures[ep]
		if t.End == "" {
			t.End = "open"
			if d := s.deathOf(t.Holder); d != 0 {
				t.End = "died"
			}
		}
		tenures = append(tenures, t.Tenure)
		if t.End == "released" || t.Holder == "" || i+1 >= len(epochs) {
			continue
		}
		next := s.tenures[epochs[i+1]]
		// From the holder's death if it died before the next grant; else
		// (hung, paused, partitioned: it may outlive the next grant) from its
		// last sign of life.
		from := s.deathOf(t.Holder)
		basis := "death"
		if from == 0 || from > next.Acquired {
			from = max(t.Acquired, t.lastSignCall)
			basis = "last sign of life"
		}
		if next.Acquired == 0 || from == 0 {
			continue
		}
		gap := time.Duration(next.Acquired - from)
		gaps++
		if gap > worst {
			worst = gap
		}
		if cfg.LockRecoveredWithin > 0 && gap > cfg.LockRecoveredWithin {
			rec.add(Anomaly{Class: "slow-recovery", Epoch: ep, Proc: t.Holder, Time: next.Acquired,
				Detail: fmt.Sprintf("epoch %d's holder %s ended (%s); epoch %d was granted %s later, over %s",
					ep, t.Holder, basis, next.Epoch, gap.Round(time.Millisecond), cfg.LockRecoveredWithin)})
		}
	}
	rec.num("recoveries", float64(gaps))
	rec.num("worstSeconds", worst.Seconds())
	switch {
	case gaps == 0:
		rec.Status, rec.Message = Pass, "every tenure ended with a clean release (no recovery needed)"
		if cfg.LockRecoveredWithin > 0 && lease != nil && !lease.Released && s.acquires > 0 {
			rec.Status, rec.Message = Fail, fmt.Sprintf("the lease of epoch %d was never recovered or released", lease.Epoch)
		}
	case rec.AnomalyCount > 0:
		rec.Status = Fail
		rec.Message = fmt.Sprintf("%d of %d recoveries slower than %s (worst %s)", rec.AnomalyCount, gaps, cfg.LockRecoveredWithin, worst.Round(time.Millisecond))
	default:
		rec.Status = Pass
		rec.Message = fmt.Sprintf("%d recoveries, worst %s", gaps, worst.Round(time.Millisecond))
	}
	return safety, rec, tenures
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
