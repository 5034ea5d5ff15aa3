package support

import (
	"fmt"
	"slices"
	"sort"
	"strings"
)

// The one table of what runs where. Every place that decides whether a
// scenario can run reads it: the scenario validator (`rwxchaos validate`,
// and `run` before anything starts), the JSON Schema descriptions
// (`rwxchaos schema`), the library README (generated, checked by a test)
// and the providers' own runtime gate (Provision, Fault). Change what a
// provider can do here, and all four follow.
//
// A rule says what one provider does with one feature of a scenario (a
// storage backend, a fault action, a target selector or role, an
// expectation, a workload mode, a fault fired by a file operation), optionally only when
// some facts about the scenario hold ("backend=fuse",
// "action=process-restart", "select=caller", "defect=no-lock"). The most
// specific rule (most facts) wins; a rule for every provider (Provider "")
// that refuses applies everywhere. A refusal says why and what to do
// instead; a rule that accepts may need host capabilities, which are
// probed where the scenario runs (validate prints "runs only where ..."
// when this host lacks one, the provider makes the run void).

// Providers, as scenario files name them. (support sits below
// framework/scenario, so it names them itself.)
const (
	Local    = "local"
	Kind     = "kind"
	Existing = "existing"
)

// Providers lists every provider in documentation order.
var Providers = []string{Local, Kind, Existing}

// Feature kinds.
const (
	FeatureProvider = "provider" // the provider itself
	FeatureBackend  = "backend"  // storage.backend
	FeatureAction   = "action"   // faults[].action
	FeatureSelect   = "select"   // faults[].target.select, and partition from/to selectors
	FeatureRole     = "role"     // faults[].target.role
	FeatureExpect   = "expect"   // an expect: field, by its YAML name
	FeatureMode     = "mode"     // workload.mode
	FeatureTrigger  = "trigger"  // faults[].schedule.on (Name Trigger)
)

// Trigger is the one feature of kind FeatureTrigger: a fault fired by a
// file operation (schedule.on). It needs a storage layer the framework runs
// in the path of every file operation, which sees the caller and can hold
// the call.
const Trigger = "schedule.on"

// Rule is one line of the table.
type Rule struct {
	// Provider the rule is about; "" means every provider.
	Provider string
	Kind     string
	Name     string
	// When lists facts that must all hold for the rule to apply:
	// "backend=<b>", "action=<a>" (of the fault the feature belongs to),
	// "select=<s>" (that fault's target.select), "defect=<d>", "mode=<m>",
	// "nfsclient=<c>" (storage.nfs.client of backend nfs: auto, kernel or
	// userspace).
	When []string
	// No, when set, says why the provider cannot do this, and what to do
	// instead. A rule without No says it can.
	No string
	// Needs lists what the host (or cluster) must have for it to run.
	Needs []*Capability
}

// Query asks about one feature of one scenario on one provider.
type Query struct {
	Provider string
	Kind     string
	Name     string
	// Facts about the scenario, as in Rule.When.
	Facts []string
}

// Decision is the table's answer to a Query.
type Decision struct {
	// OK is false when the provider cannot do it; Reason then says why.
	OK     bool
	Reason string
	// Needs is what the host must have (probe each one where it runs).
	Needs []*Capability
	// Declared is false when no rule covers the query (a gap in the table;
	// a test keeps every backend, action and selector declared).
	Declared bool
	// Everywhere is set when the refusal holds on every provider (a rule
	// with Provider ""): the scenario cannot run anywhere as written.
	Everywhere bool
}

func (r *Rule) applies(q Query) bool {
	if r.Kind != q.Kind || r.Name != q.Name || (r.Provider != "" && r.Provider != q.Provider) {
		return false
	}
	for _, w := range r.When {
		if !slices.Contains(q.Facts, w) {
			return false
		}
	}
	return true
}

// Decide looks q up in the table.
func Decide(q Query) Decision {
	return decide(table, q)
}

func decide(rules []Rule, q Query) Decision {
	var best *Rule
	var needs []*Capability
	for i := range rules {
		r := &rules[i]
		if !r.applies(q) {
			continue
		}
		if r.Provider == "" {
			if r.No != "" {
				return Decision{Reason: r.No, Declared: true, Everywhere: true}
			}
			needs = append(needs, r.Needs...)
			continue
		}
		if best == nil || len(r.When) > len(best.When) {
			best = r
		}
	}
	switch {
	case best == nil && (q.Kind == FeatureExpect || q.Kind == FeatureRole || q.Kind == FeatureMode):
		// Expectations, roles and workload modes are restricted where
		// needed, else free.
		return Decision{OK: true, Needs: needs, Declared: true}
	case best == nil:
		return Decision{Reason: fmt.Sprintf("the support table does not say whether provider %s can do %s %s", q.Provider, q.Kind, q.Name)}
	case best.No != "":
		return Decision{Reason: best.No, Declared: true}
	}
	return Decision{OK: true, Needs: append(needs, best.Needs...), Declared: true}
}

// Rules returns a copy of the table (for documentation generators).
func Rules() []Rule { return slices.Clone(table) }

// Describe summarises, per provider, where a feature runs: one line each,
// for the schema and the docs ("local: backend fuse (needs root and
// /dev/fuse)", "existing: no — ...").
func Describe(kind, name string) []string {
	var provs, sums []string
	for _, p := range Providers {
		var yes, no []string
		for _, r := range table {
			if r.Kind != kind || r.Name != name || r.Provider != p {
				continue
			}
			cond := condText(r.When)
			if r.No != "" {
				if cond == "" {
					no = append(no, "no: "+r.No)
				} else {
					no = append(no, "not "+cond)
				}
				continue
			}
			s := cond
			if s == "" {
				s = "yes"
			}
			if len(r.Needs) > 0 {
				s += " (needs " + capNames(r.Needs) + ")"
			}
			yes = append(yes, s)
		}
		var sum string
		switch {
		case len(yes) == 0 && len(no) == 0:
			continue
		case len(yes) == 0:
			sum = strings.Join(no, "; ")
		default:
			sum = strings.Join(yes, ", ")
		}
		// Providers with the same answer share one line.
		if i := slices.Index(sums, sum); i >= 0 {
			provs[i] += ", " + p
			continue
		}
		provs, sums = append(provs, p), append(sums, sum)
	}
	var out []string
	for i := range provs {
		out = append(out, provs[i]+": "+sums[i])
	}
	for _, r := range table {
		if r.Kind == kind && r.Name == name && r.Provider == "" && r.No != "" {
			out = append(out, "never "+condText(r.When)+": "+r.No)
		}
	}
	return out
}

func condText(when []string) string {
	var parts []string
	for _, w := range when {
		k, v, _ := strings.Cut(w, "=")
		switch k {
		case "backend":
			parts = append(parts, "with backend "+v)
		case "action":
			parts = append(parts, "for "+v)
		case "defect":
			parts = append(parts, "with defect "+v)
		case "select":
			parts = append(parts, "on select "+v)
		case "nfsclient":
			parts = append(parts, "with the "+v+" NFS client")
		default:
			parts = append(parts, "with "+k+" "+v)
		}
	}
	return strings.Join(parts, " ")
}

func capNames(cs []*Capability) string {
	var s []string
	for _, c := range cs {
		s = append(s, c.Name)
	}
	sort.Strings(s)
	return strings.Join(s, ", ")
}
