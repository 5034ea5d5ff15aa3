package verdict

import (
	"fmt"
	"time"

	"github.com/rwxchaos/rwxchaos/framework/check"
	"github.com/rwxchaos/rwxchaos/framework/scenario"
)

// The publish/consume workload (workload.mode publish-consume): its
// expect.publish section mapped onto the publish checks, and judged.

// publishConfig maps expect.publish onto the publish checks.
func publishConfig(s *scenario.Scenario) *check.PublishConfig {
	pc := check.DefaultPublishConfig()
	p, x := s.Workload.Publish, s.Expect.Publish
	pc.Files, pc.Versions = p.Files, uint64(p.Versions)
	pc.Consumers = p.Consumers
	if s.Cluster.Provider == scenario.ProviderKind {
		pc.Consumers = s.Cluster.Kind.Workers
	}
	pc.MinVersions = max(s.Expect.SteadyState.MinVersions, 1)
	pc.VisibleWithin, pc.ConvergedWithin = x.VisibleWithin.D(), x.ConvergedWithin.D()
	pc.MaxTorn = x.MaxTorn
	if x.Monotonic != nil {
		pc.Monotonic = *x.Monotonic
	}
	if x.MaxLoadErrors != nil {
		pc.MaxLoadErrors = *x.MaxLoadErrors
	}
	pc.ClockNote = clockNote(s.Cluster.Provider)
	return &pc
}

// clockNote says how far the publisher's and the consumers' clocks can be
// trusted against each other: visibility lag subtracts one from the other.
func clockNote(p scenario.Provider) string {
	switch p {
	case scenario.ProviderLocal:
		return "publisher and consumers are processes on one host: one clock"
	case scenario.ProviderKind:
		return "kind nodes are containers on one host kernel: publisher and consumers read one clock"
	}
	return "publisher and consumers run on different machines: lag is only as good as their clock sync"
}

// publishExpectations judges expect.publish for the report.
func publishExpectations(s *scenario.Scenario, res *check.Result, add func(name, want, got string, ok bool, msg string), skip func(name, want, why string)) {
	x := s.Expect.Publish
	row := func(name, check, want string) *check.CheckResult {
		c := res.Check(check)
		if c == nil {
			skip(name, want, "the check did not run")
		}
		return c
	}
	if c := row("noTornReads", check.CheckTornReads, fmt.Sprintf("≤ %d torn loads", x.MaxTorn)); c != nil {
		add("noTornReads", fmt.Sprintf("≤ %d torn loads", x.MaxTorn), fmt.Sprintf("%d torn", c.AnomalyCount), c.Status != check.Fail, c.Message)
	}
	if c := row("publishedAsLoaded", check.CheckVersions, "loads match the publisher's versions"); c != nil {
		add("publishedAsLoaded", "loads match the publisher's versions", fmt.Sprintf("%d problems", c.AnomalyCount), c.Status != check.Fail, c.Message)
	}
	if x.Monotonic == nil || *x.Monotonic {
		if c := row("monotonic", check.CheckMonotonic, "no consumer goes back a version"); c != nil {
			add("monotonic", "no consumer goes back a version", fmt.Sprintf("%d rollbacks", c.AnomalyCount), c.Status != check.Fail, c.Message)
		}
	}
	if d := x.VisibleWithin.D(); d > 0 {
		want := "≤ " + d.String() + " clear of faults"
		if c := row("visibleWithin", check.CheckVisibility, want); c != nil {
			got := fmt.Sprintf("still unseen %s at worst; first seen: max %s (p99 %s) over %v samples", msDur(c.Numbers["steadyUnseenMax"]), msDur(c.Numbers["steadymax"]), msDur(c.Numbers["steadyp99"]), c.Numbers["steadyn"])
			if c.Status == check.Skip {
				skip("visibleWithin", want, c.Message)
			} else {
				add("visibleWithin", want, got, c.Status != check.Fail, c.Message)
			}
		}
	}
	want := "≤ " + x.ConvergedWithin.D().String() + " after the last heal"
	if c := row("convergedWithin", check.CheckConvergence, want); c != nil {
		got := fmt.Sprintf("worst %s", msDur(c.Numbers["worstMs"]))
		if n := c.Numbers["neverConverged"]; n > 0 {
			got = fmt.Sprintf("%v never", n)
		}
		add("convergedWithin", want, got, c.Status != check.Fail, c.Message)
	}
	if x.MaxLoadErrors != nil {
		want := fmt.Sprintf("≤ %d failed loads", *x.MaxLoadErrors)
		if c := row("maxLoadErrors", check.CheckLoadErrors, want); c != nil {
			add("maxLoadErrors", want, fmt.Sprintf("%v", c.Numbers["total"]), c.Status != check.Fail, c.Message)
		}
	}
}

func msDur(v float64) string {
	return time.Duration(v * float64(time.Millisecond)).Round(time.Millisecond).String()
}
