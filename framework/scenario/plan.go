package scenario

import (
	"fmt"
	"strings"
	"time"
)

// Firing is one firing of a fault, as offsets from steady state.
type Firing struct {
	Start, End time.Duration
}

// PlannedFault is when one fault fires, resolved from its schedule:
// offsets from steady state, assuming every firing takes exactly its
// duration (at run time verifying and healing add to it, and faults that
// wait for another start that much later).
type PlannedFault struct {
	Name    string
	Action  Action
	Target  string // what it aims at, as written: "role engine", "select random-worker (2)", "engine-node ⟂ control-plane"
	Waits   string // the fault it waits for, if any
	Firings []Firing
	// On describes the file operation that fires the fault (schedule.on);
	// its one Firing is then when the trigger is armed, and it fires at
	// that operation, up to Times times, while the traffic flows.
	On    string
	Times int
}

// FaultPlan resolves every fault's schedule (at, after, every, times) into
// firings on one timeline from steady state, the way the runner plays it.
// The scenario must be valid (no unknown or cyclic after).
func (s *Scenario) FaultPlan() []PlannedFault {
	idx := map[string]int{}
	for i, f := range s.Faults {
		idx[f.Name] = i
	}
	out := make([]PlannedFault, len(s.Faults))
	done := make([]bool, len(s.Faults))
	var plan func(i int, depth int) time.Duration // returns the end of fault i
	plan = func(i int, depth int) time.Duration {
		if done[i] {
			return lastEnd(out[i])
		}
		f := &s.Faults[i]
		var start time.Duration
		if a := f.Schedule.After; a != "" && a != SteadyStateAfter {
			if j, ok := idx[a]; ok && j != i && depth < len(s.Faults) {
				start = plan(j, depth+1)
			}
			out[i].Waits = a
		}
		if f.Schedule.At != nil {
			start += f.Schedule.At.D()
		}
		times := max(f.Schedule.Times, 1)
		out[i].Name, out[i].Action, out[i].Target = f.Name, f.Action, f.describeTarget()
		if on := f.Schedule.On; on != nil {
			// When a file operation fires it is up to the application: the
			// plan says when the trigger is armed and what fires it.
			out[i].On, out[i].Times = on.describe(), times
			out[i].Firings = []Firing{{Start: start, End: start}}
			done[i] = true
			return start
		}
		for k := 0; k < times; k++ {
			if k > 0 {
				start += f.Schedule.Every.D()
			}
			end := start + f.Duration.D()
			out[i].Firings = append(out[i].Firings, Firing{Start: start, End: end})
			start = end
		}
		done[i] = true
		return lastEnd(out[i])
	}
	for i := range s.Faults {
		plan(i, 0)
	}
	return out
}

func lastEnd(p PlannedFault) time.Duration {
	if len(p.Firings) == 0 {
		return 0
	}
	return p.Firings[len(p.Firings)-1].End
}

func (f *FaultSpec) describeTarget() string {
	t := f.Target
	var s string
	switch {
	case t.Role != "":
		s = "role " + string(t.Role)
	case t.Select != "":
		s = "select " + string(t.Select)
	case t.Node != "":
		s = "node " + t.Node
	case f.From != "" || f.To != "":
		return f.From + " ⟂ " + f.To + " (" + string(f.Direction) + ")"
	default:
		return "the storage server"
	}
	if t.Count > 1 {
		s += fmt.Sprintf(" (%d)", t.Count)
	}
	if f.Action == ActionChaosPartition && f.To != "" {
		s += " ⟂ role " + f.To
	}
	return s
}

// describe is the file operation, as the plan prints it: "rename of
// botssys/outfile/*/*.json by engine (after it is performed), call 5 then
// every 40th".
func (on *OnSpec) describe() string {
	s := fmt.Sprintf("%s of %s", on.Op, on.Path)
	if on.By != "" {
		s += " by " + string(on.By)
	}
	s += fmt.Sprintf(" (%s it is performed), eligible call %d", on.When, on.Nth)
	if on.Every > 0 {
		s += fmt.Sprintf(" then every %d", on.Every)
	}
	if on.Probability > 0 && on.Probability < 1 {
		s += fmt.Sprintf(", probability %g", on.Probability)
	}
	return s
}

// String is one line per firing: "+2s–+9s process-pause select lock-holder".
// A fault fired by a file operation is one line: when its trigger is armed
// and what fires it.
func (p PlannedFault) String() string {
	var b strings.Builder
	if p.On != "" {
		start := time.Duration(0)
		if len(p.Firings) > 0 {
			start = p.Firings[0].Start
		}
		fmt.Fprintf(&b, "steady+%s → until the traffic ends  %s %s on %s, armed: fires at %s, at most %d time(s)", start, p.Name, p.Action, p.Target, p.On, p.Times)
		if p.Waits != "" {
			fmt.Fprintf(&b, " (after %s)", p.Waits)
		}
		return b.String()
	}
	for k, fr := range p.Firings {
		if k > 0 {
			b.WriteByte('\n')
		}
		fmt.Fprintf(&b, "steady+%s → steady+%s  %s %s on %s", fr.Start, fr.End, p.Name, p.Action, p.Target)
		if len(p.Firings) > 1 {
			fmt.Fprintf(&b, " (firing %d of %d)", k+1, len(p.Firings))
		}
		if p.Waits != "" && k == 0 {
			fmt.Fprintf(&b, " (after %s)", p.Waits)
		}
	}
	return b.String()
}
