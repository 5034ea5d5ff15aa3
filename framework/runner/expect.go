package runner

import (
	"fmt"
	"strings"
	"time"

	"github.com/rwxchaos/rwxchaos/framework/check"
	"github.com/rwxchaos/rwxchaos/framework/provider"
	"github.com/rwxchaos/rwxchaos/framework/report"
	"github.com/rwxchaos/rwxchaos/framework/scenario"
)

// Config maps a scenario's expectations onto checker thresholds.
func Config(s *scenario.Scenario) check.Config {
	c := check.DefaultConfig()
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
	if e.MaxIndeterminate > 0 {
		c.MaxIndeterminate = e.MaxIndeterminate
	}
	if e.SteadyState.MinUploads > 0 {
		c.MinAcked = e.SteadyState.MinUploads
	}
	return c
}

// Expectations judges every `expect:` item of the scenario against the
// checker result, the fault records and what the environment observed.
func Expectations(s *scenario.Scenario, res *check.Result, faults []report.Fault, obs provider.Observations) []report.Expectation {
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
	publish := s.Workload.Mode == scenario.ModePublishConsume
	if publish {
		publishExpectations(s, res, add, skip)
	} else {
		pipelineExpectations(s, res, add, skip)
	}
	e := s.Expect

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
	if len(obs.Pods) > 0 && s.Cluster.Provider != scenario.ProviderLocal {
		add("noPodStuckTerminating", "0 after heal", fmt.Sprintf("%d", obs.StuckTerminating), obs.StuckTerminating == 0,
			"pods still Terminating when the run ended: their node never came back or never confirmed the deletion")
		if !publish {
			// Forbid does not stop a second engine Job while the first one's pod
			// is Terminating on a lost node: only the lock keeps them apart.
			msg := "no two engine Job pods alive at once"
			if obs.OverlappingJobs > 0 {
				msg = fmt.Sprintf("%d times two engine Job pods were alive at once (Forbid does not cover a Terminating pod); lockExclusive says whether the lock kept them apart", obs.OverlappingJobs)
			}
			out = append(out, report.Expectation{Name: "engineJobOverlaps", Want: "observed", Got: fmt.Sprintf("%d", obs.OverlappingJobs), Status: check.Pass, Message: msg})
		}
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

// pipelineExpectations judges the pipeline's invariants: the ledger and the
// engine lock.
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
		cls[check.ClassCorrupt] == 0 && cls[check.ClassUnexpected] == 0, "outputs that do not match their upload, or outputs of nothing uploaded")
	add("maxStuck", fmt.Sprintf("≤ %d stuck", e.MaxStuck), fmt.Sprintf("%d stuck", cls[check.ClassStuck]), cls[check.ClassStuck] <= e.MaxStuck, "left in input/work after settling")
	if e.MaxIndeterminate > 0 {
		add("maxIndeterminate", fmt.Sprintf("≤ %d", e.MaxIndeterminate), fmt.Sprintf("%d", cls[check.ClassIndeterminate]), cls[check.ClassIndeterminate] <= e.MaxIndeterminate, "uploads with unknown outcome and no output")
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
		c := res.Check(check.CheckLockRecovery)
		if c != nil {
			worst := time.Duration(c.Numbers["worstSeconds"] * float64(time.Second)).Round(time.Millisecond)
			add("lockRecoveredWithin", "≤ "+d.String(), fmt.Sprintf("worst %s over %v recoveries", worst, c.Numbers["recoveries"]), c.Status == check.Pass, c.Message)
		}
	}
}
