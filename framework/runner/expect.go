package runner

import (
	"github.com/rwxchaos/rwxchaos/framework/check"
	"github.com/rwxchaos/rwxchaos/framework/provider"
	"github.com/rwxchaos/rwxchaos/framework/report"
	"github.com/rwxchaos/rwxchaos/framework/scenario"
	"github.com/rwxchaos/rwxchaos/framework/verdict"
)

// Config maps a scenario's expectations onto checker thresholds
// (verdict.Config: the runner and `rwxchaos report` share it).
func Config(s *scenario.Scenario) check.Config { return verdict.Config(s) }

// Observed is what the verdict needs of an environment's observations,
// kept in the report so an offline re-check judges the same: the pod
// watch of providers kind and existing, and every reschedule.
func Observed(s *scenario.Scenario, obs provider.Observations) *report.Observed {
	o := &report.Observed{
		Watched:          len(obs.Pods) > 0 && s.Cluster.Provider != scenario.ProviderLocal,
		StuckTerminating: obs.StuckTerminating,
		OverlappingJobs:  obs.OverlappingJobs,
	}
	for _, r := range obs.Reschedules {
		o.Reschedules = append(o.Reschedules, report.Reschedule{Fault: r.Fault, Component: r.Component, From: r.From, To: r.To, After: r.After})
	}
	return o
}
