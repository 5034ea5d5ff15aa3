// Package verdict is the one place a run is judged: Judge checks a history
// (framework/check), judges the scenario's expectations against it and
// against what the environment recorded (faults, cluster observations), and
// decides the verdict. The runner calls it at the end of a live run and
// `rwxchaos report` calls it on a saved run directory, so a re-check
// reaches the same verdict from the same evidence (void stays void, error
// stays error). It imports check, history, report and scenario — no
// provider or cluster code — so it runs offline.
package verdict

import (
	"fmt"
	"runtime/debug"
	"strings"
	"time"

	"github.com/rwxchaos/rwxchaos/framework/check"
	"github.com/rwxchaos/rwxchaos/framework/history"
	"github.com/rwxchaos/rwxchaos/framework/report"
	"github.com/rwxchaos/rwxchaos/framework/scenario"
	"github.com/rwxchaos/rwxchaos/framework/version"
)

// Config maps a scenario's expectations onto checker thresholds. A nil
// scenario gives check.DefaultConfig.
func Config(s *scenario.Scenario) check.Config {
	c := check.DefaultConfig()
	if s == nil {
		return c
	}
	if s.Workload.Mode == scenario.ModePublishConsume {
		c.Publish = publishConfig(s)
		c.LockExclusive = false
		return c
	}
	e := s.Expect
	if e.NoLoss != nil && !*e.NoLoss {
		c.MaxLost = check.Unlimited
	}
	if e.NoDuplicates != nil && !*e.NoDuplicates {
		c.MaxDuplicated = check.Unlimited
	}
	if e.LockExclusive != nil {
		c.LockExclusive = *e.LockExclusive
	}
	c.LockRecoveredWithin = e.LockRecoveredWithin.D()
	c.LeaseTTL = s.Workload.Engine.LeaseTTL.D()
	c.MaxStuck = e.MaxStuck
	if e.MaxIndeterminate != nil {
		c.MaxIndeterminate = *e.MaxIndeterminate
	}
	if e.SteadyState.MinUploads > 0 {
		c.MinAcked = e.SteadyState.MinUploads
	}
	c.SteadyStateWithin = e.SteadyState.Within.D()
	c.LatencyP99 = e.LatencyP99.D()
	return c
}

// Expectations judges every `expect:` item of the scenario against the
// checker result, the fault records and what the environment observed.
func Expectations(s *scenario.Scenario, res *check.Result, faults []report.Fault, obs *report.Observed) []report.Expectation {
	if s == nil {
		s = &scenario.Scenario{}
	}
	if obs == nil {
		obs = &report.Observed{}
	}
	var out []report.Expectation
	add := func(name, want, got string, ok bool, msg string) {
		st := check.Pass
		if !ok {
			st = check.Fail
		}
		out = append(out, report.Expectation{Name: name, Want: want, Got: got, Status: st, Message: msg})
	}
	skip := func(name, want, why string) {
		out = append(out, report.Expectation{Name: name, Want: want, Got: "—", Status: check.Skip, Message: why})
	}
	if res == nil || res.Status == check.Void {
		skip("expectations", "a judged run", "the run is void: nothing to judge")
		return out
	}
	e := s.Expect
	publish := s.Workload.Mode == scenario.ModePublishConsume
	if publish {
		publishExpectations(s, res, add, skip)
	} else {
		pipelineExpectations(s, res, add, skip)
	}
	// Every scheduled fault must have been injected, verified and healed:
	// a scenario whose faults did not happen tested nothing.
	if len(s.Faults) > 0 {
		injected, bad := 0, 0
		var firstErr string
		for _, f := range faults {
			if f.Err != "" || f.Verified == 0 {
				bad++
				if firstErr == "" {
					firstErr = fmt.Sprintf("%s on %s: %s", f.Name, f.Target, f.Err)
				}
				continue
			}
			injected++
		}
		add("faultsInjected", "every fault injected, verified and healed", fmt.Sprintf("%d ok, %d failed", injected, bad), bad == 0 && injected > 0, firstErr)
	}
	if d := e.ReadyWithin.D(); d > 0 {
		var worst time.Duration
		n := 0
		for _, f := range faults {
			if f.HealVerified == 0 || f.Healed == 0 {
				continue
			}
			n++
			if w := time.Duration(f.HealVerified - f.Healed); w > worst {
				worst = w
			}
		}
		if n == 0 {
			skip("readyWithin", "≤ "+d.String(), "no healed fault to measure")
		} else {
			add("readyWithin", "≤ "+d.String(), fmt.Sprintf("worst %s over %d faults", worst.Round(time.Millisecond), n), worst <= d, "from heal to the service seen whole again")
		}
	}
	if obs.Watched {
		add("noPodStuckTerminating", "0 after heal", fmt.Sprintf("%d", obs.StuckTerminating), obs.StuckTerminating == 0,
			"pods still Terminating when the run ended: their node never came back or never confirmed the deletion")
	}
	if obs.Watched && !publish {
		// Forbid does not stop a second engine Job while the first one's pod
		// is Terminating on a lost node: only the lock keeps them apart. It
		// is shown for context; lockExclusive is the expectation that judges it.
		msg := "no two engine Job pods alive at once"
		if obs.OverlappingJobs > 0 {
			msg = fmt.Sprintf("%d times two engine Job pods were alive at once (Forbid does not cover a Terminating pod); lockExclusive says whether the lock kept them apart", obs.OverlappingJobs)
		}
		out = append(out, report.Expectation{Name: "engineJobOverlaps", Want: "observed (not judged)", Got: fmt.Sprintf("%d", obs.OverlappingJobs), Status: check.Info, Message: msg})
	}
	if d := e.RescheduledWithin.D(); d > 0 {
		if len(obs.Reschedules) == 0 {
			skip("rescheduledWithin", "≤ "+d.String(), "no rescheduling was observed in this environment")
		} else {
			var worst time.Duration
			var never []string
			for _, rs := range obs.Reschedules {
				if rs.To == "" {
					never = append(never, rs.Component+" from "+rs.From)
					continue
				}
				worst = max(worst, rs.After)
			}
			if len(never) > 0 {
				add("rescheduledWithin", "≤ "+d.String(), fmt.Sprintf("%d of %d never rescheduled", len(never), len(obs.Reschedules)), false,
					"no replacement became Ready on a healthy node: "+strings.Join(never, ", "))
			} else {
				add("rescheduledWithin", "≤ "+d.String(), fmt.Sprintf("worst %s over %d", worst.Round(time.Millisecond), len(obs.Reschedules)), worst <= d, "from fault to a replacement Ready on a healthy node")
			}
		}
	}
	return out
}

// Judge is the one verdict function. It checks h against the scenario's
// thresholds (a nil scenario: the defaults), judges the expectations and
// decides r's verdict, in place: Check, CheckConfig, Expectations, Verdict,
// Reason and ExitCode are (re)computed; what the run recorded (Void,
// Errors, Incomplete, Faults, Observed) is read, never changed. h nil means
// no history was collected. It never panics: a failure of the checker is
// an error verdict with the reason.
func Judge(r *report.Run, s *scenario.Scenario, h *history.History) {
	judge(r, s, h, nil)
}

// Observer sees the events the checkers read (Recheck's Options.Observer):
// Observe each, in order, then Complete once the checkers read them all.
type Observer interface {
	Observe(e *history.Event)
	Complete()
}

// KeyObserver is an Observer that numbers the interchanges' keys as the
// checkers' ledger does: it is given the ledger's table before the first
// event, so that each key is held once (report.Prepass: a million keys).
type KeyObserver interface {
	Observer
	ShareKeys(*history.Keys)
}

func judge(r *report.Run, s *scenario.Scenario, h *history.History, obs Observer) {
	r.Check, r.CheckConfig, r.Expectations = nil, nil, nil
	r.JudgedBy = version.Get().Short()
	defer func() {
		if p := recover(); p != nil {
			r.Check = &check.Result{Status: check.Void, Crash: fmt.Sprintf("%v\n%s", p, debug.Stack())}
			r.Expectations = nil
		}
		r.Verdict, r.Reason = Decide(r)
		r.ExitCode = r.Verdict.ExitCode()
	}()
	if h == nil {
		return
	}
	cfg := Config(s)
	r.CheckConfig = &cfg
	in := check.FromHistory(h)
	if obs != nil && in.Events != nil {
		if ko, ok := obs.(KeyObserver); ok {
			in.Keys = history.NewKeys(in.SizeHint)
			ko.ShareKeys(in.Keys)
		}
		events := in.Events
		in.Events = func(yield func(*history.Event) bool) {
			for e := range events {
				obs.Observe(e)
				if !yield(e) {
					return
				}
			}
			obs.Complete()
		}
	}
	r.Check = check.Run(in, cfg)
	r.Expectations = Expectations(s, r.Check, r.Faults, r.Observed)
}

// Decide is the verdict of a judged run record, in this order: void when
// the run recorded why it is void (no steady state, cannot run here);
// error when the checker crashed, the framework failed (Errors, a fault
// that errored), the run directory is incomplete, or no history was
// checked; void when the checker or an expectation found nothing to judge;
// fail when any check or expectation failed; else pass.
func Decide(r *report.Run) (report.Verdict, string) {
	switch {
	case r.Void != "":
		return report.VerdictVoid, r.Void
	case r.Check != nil && r.Check.Crash != "":
		return report.VerdictError, "the checker crashed (a bug in rwxchaos): " + firstLine(r.Check.Crash)
	case len(r.Errors) > 0:
		return report.VerdictError, strings.Join(r.Errors, "; ")
	}
	for _, f := range r.Faults {
		if f.Err != "" {
			return report.VerdictError, fmt.Sprintf("fault %s: %s", f.Name, f.Err)
		}
	}
	switch {
	case r.Incomplete != "":
		return report.VerdictError, "incomplete run directory: " + r.Incomplete
	case r.Check == nil:
		return report.VerdictError, "no history was collected"
	case r.Check.Status == check.Void:
		for _, c := range r.Check.Checks {
			if c.Status == check.Void {
				return report.VerdictVoid, c.Name + ": " + c.Message
			}
		}
		return report.VerdictVoid, "the checker found nothing to judge"
	}
	for _, e := range r.Expectations {
		if e.Status == check.Void {
			return report.VerdictVoid, e.Name + ": " + e.Message
		}
	}
	if len(r.Failed()) > 0 || r.Check.Status == check.Fail {
		return report.VerdictFail, ""
	}
	return report.VerdictPass, ""
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}

// pipelineExpectations judges the pipeline's invariants: the ledger, the
// engine lock and latency.
func pipelineExpectations(s *scenario.Scenario, res *check.Result, add func(name, want, got string, ok bool, msg string), skip func(name, want, why string)) {
	cls := res.Classes
	e := s.Expect
	if e.NoLoss == nil || *e.NoLoss {
		add("noLoss", "0 lost", fmt.Sprintf("%d lost", cls[check.ClassLost]), cls[check.ClassLost] == 0, "acked uploads that never produced an output")
	}
	if e.NoDuplicates == nil || *e.NoDuplicates {
		n := cls[check.ClassDuplicated]
		add("noDuplicates", "0 duplicated", fmt.Sprintf("%d duplicated", n), n == 0, "interchanges output or processed more than once")
	}
	add("noCorruption", "0 corrupt, 0 unexpected", fmt.Sprintf("%d corrupt, %d unexpected", cls[check.ClassCorrupt], cls[check.ClassUnexpected]),
		cls[check.ClassCorrupt] == 0 && cls[check.ClassUnexpected] == 0, "outputs that do not match their upload or their writer's journal, or outputs of nothing uploaded")
	add("maxStuck", fmt.Sprintf("≤ %d stuck", e.MaxStuck), fmt.Sprintf("%d stuck", cls[check.ClassStuck]), cls[check.ClassStuck] <= e.MaxStuck, "left in input/work after settling")
	if e.MaxIndeterminate != nil {
		add("maxIndeterminate", fmt.Sprintf("≤ %d", *e.MaxIndeterminate), fmt.Sprintf("%d", cls[check.ClassIndeterminate]), cls[check.ClassIndeterminate] <= *e.MaxIndeterminate, "interchanges whose fate the evidence leaves open (unknown upload or output outcomes)")
	}
	if e.LockExclusive == nil || *e.LockExclusive {
		c := res.Check(check.CheckLockSafety)
		if c != nil && c.Status == check.Skip {
			skip("lockExclusive", "one holder at a time", c.Message)
		} else if c != nil {
			add("lockExclusive", "one holder at a time", fmt.Sprintf("%d violations", c.AnomalyCount), c.Status == check.Pass, c.Message)
		}
	}
	if d := e.LockRecoveredWithin.D(); d > 0 {
		if c := res.Check(check.CheckLockRecovery); c != nil {
			worst := time.Duration(c.Numbers["worstSeconds"] * float64(time.Second)).Round(time.Millisecond)
			add("lockRecoveredWithin", "≤ "+d.String(), fmt.Sprintf("worst %s over %v recoveries", worst, c.Numbers["recoveries"]), c.Status == check.Pass, c.Message)
		}
	}
	if d := e.LatencyP99.D(); d > 0 {
		if c := res.Check(check.CheckLatency); c != nil {
			switch c.Status {
			case check.Skip:
				skip("latencyP99", "≤ "+d.String(), c.Message)
			default:
				add("latencyP99", "≤ "+d.String(), fmt.Sprintf("p99 %.0f ms", c.Numbers["p99"]), c.Status == check.Pass, c.Message)
			}
		}
	}
}
