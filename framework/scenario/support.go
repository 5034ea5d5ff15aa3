package scenario

import (
	"fmt"
	"slices"
	"strings"

	"github.com/rwxchaos/rwxchaos/framework/support"
)

// use is one feature of a scenario that the support table decides, and
// where it was written.
type use struct {
	path string
	what string // for messages: "backend nfs", "storage-pause", "select lock-holder"
	q    support.Query
}

// uses lists every feature of s that the support table decides, on s's
// provider. Facts are the scenario-wide ones plus the fault's action.
func (s *Scenario) uses() []use {
	p := string(s.Cluster.Provider)
	facts := []string{"backend=" + string(s.Storage.Backend), "mode=" + string(s.Workload.Mode)}
	for _, d := range s.Workload.Defects {
		facts = append(facts, "defect="+string(d))
	}
	if s.Storage.Backend == BackendNFS {
		c := s.Storage.NFS.Client
		if c == "" {
			c = NFSClientAuto
		}
		facts = append(facts, "nfsclient="+string(c))
	}
	q := func(kind, name string, extra ...string) support.Query {
		return support.Query{Provider: p, Kind: kind, Name: name, Facts: append(slices.Clone(facts), extra...)}
	}
	out := []use{
		{path: "cluster.provider", what: "provider " + p, q: q(support.FeatureProvider, p)},
		{path: "storage.backend", what: "backend " + string(s.Storage.Backend), q: q(support.FeatureBackend, string(s.Storage.Backend))},
	}
	if m := s.Workload.Mode; m != "" {
		out = append(out, use{path: "workload.mode", what: "mode " + string(m), q: q(support.FeatureMode, string(m))})
	}
	for i, f := range s.Faults {
		if i == MaxFaults {
			break // more is an error of its own (validator.faults)
		}
		fp := fmt.Sprintf("faults[%d]", i)
		act := "action=" + string(f.Action)
		var sel []string
		if f.Target.Select != "" {
			sel = append(sel, "select="+string(f.Target.Select))
		}
		out = append(out, use{path: fp + ".action", what: string(f.Action), q: q(support.FeatureAction, string(f.Action), sel...)})
		if f.Schedule.On != nil {
			out = append(out, use{path: fp + ".schedule.on", what: "a fault fired by a file operation (schedule.on)",
				q: q(support.FeatureTrigger, support.Trigger, act)})
		}
		if f.Target.Select != "" {
			out = append(out, use{path: fp + ".target.select", what: "select " + string(f.Target.Select) + " for " + string(f.Action),
				q: q(support.FeatureSelect, string(f.Target.Select), act)})
		}
		if f.Target.Role != "" {
			out = append(out, use{path: fp + ".target.role", what: "role " + string(f.Target.Role) + " for " + string(f.Action),
				q: q(support.FeatureRole, string(f.Target.Role), act)})
		}
		if f.Action == ActionPartition {
			for _, side := range []struct{ path, v string }{{fp + ".from", f.From}, {fp + ".to", f.To}} {
				if contains(Selector("").enumValues(), side.v) {
					out = append(out, use{path: side.path, what: side.v + " as a partition side",
						q: q(support.FeatureSelect, side.v, act)})
				}
			}
		}
	}
	if s.Expect.RescheduledWithin != 0 {
		out = append(out, use{path: "expect.rescheduledWithin", what: "rescheduledWithin", q: q(support.FeatureExpect, "rescheduledWithin")})
	}
	return out
}

// supported reports every feature the table refuses on the scenario's
// provider, at the field that asked for it. Only called once the enums
// are known to be valid.
func (v *validator) supported() {
	s := v.s
	if s.Cluster.Provider == "" || !contains(Provider("").enumValues(), string(s.Cluster.Provider)) {
		return
	}
	for _, u := range s.uses() {
		d := support.Decide(u.q)
		if d.OK || !d.Declared {
			// Undeclared: an unknown value the decoder already reported
			// (TestTableComplete keeps every known one declared).
			continue
		}
		if d.Everywhere {
			v.unsupported(u.path, "%s cannot run on any provider: %s", u.what, d.Reason)
			continue
		}
		v.unsupported(u.path, "%s cannot run on provider %s%s: %s", u.what, s.Cluster.Provider, v.backendNote(u), d.Reason)
	}
}

func (v *validator) backendNote(u use) string {
	if (u.q.Kind == support.FeatureTrigger || u.q.Kind == support.FeatureAction && strings.HasPrefix(u.what, "storage-")) && v.s.Storage.Backend != "" {
		return " with backend " + string(v.s.Storage.Backend)
	}
	return ""
}

// Needs lists what the host (or cluster) must have for the scenario to run
// on its provider, from the support table, without duplicates. Probe each
// with Check: `rwxchaos validate` prints "runs only where ..." for a
// missing one; providers refuse to start (Gate).
func (s *Scenario) Needs() []*support.Capability {
	var out []*support.Capability
	for _, u := range s.uses() {
		d := support.Decide(u.q)
		for _, c := range d.Needs {
			if !slices.Contains(out, c) {
				out = append(out, c)
			}
		}
	}
	return out
}

// Gate is the runtime side of the support table, for providers to call
// before they create anything: an *support.Unsupported for the first
// feature the table refuses on provider env (for a Scenario built in Go
// without Validate), else for the first capability this host lacks. nil
// means the scenario can start here.
func (s *Scenario) Gate(env string) error {
	for _, u := range s.uses() {
		u.q.Provider = env
		d := support.Decide(u.q)
		if !d.OK {
			return &support.Unsupported{Action: u.what, Env: env, Reason: d.Reason}
		}
	}
	// Each capability is probed once, and a missing one is reported for
	// the first feature that needs it ("backend nfs", "provider kind").
	probed := map[*support.Capability]bool{}
	for _, u := range s.uses() {
		u.q.Provider = env
		for _, c := range support.Decide(u.q).Needs {
			if probed[c] {
				continue
			}
			probed[c] = true
			if err := c.Missing(u.what, env); err != nil {
				return err
			}
		}
	}
	return nil
}

// ActionSupport says whether provider env can do action a on backend b,
// from the support table: nil, or the *support.Unsupported to return from
// Env.Fault. (A fault aimed at select caller is asked with that fact by
// the validator and Gate; Fault never sees one: CallerFault does.)
func ActionSupport(env string, a Action, b Backend) error {
	d := support.Decide(support.Query{Provider: env, Kind: support.FeatureAction, Name: string(a), Facts: []string{"backend=" + string(b)}})
	if d.OK {
		return nil
	}
	return &support.Unsupported{Action: string(a), Env: env, Reason: d.Reason}
}
