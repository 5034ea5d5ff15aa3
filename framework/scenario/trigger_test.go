package scenario

import (
	"slices"
	"strings"
	"testing"

	"github.com/rwxchaos/rwxchaos/framework/support"
	"github.com/rwxchaos/rwxchaos/framework/trigger"
)

// The scenario's file operations and moments are the trigger package's.
func TestFileOpsMatchTrigger(t *testing.T) {
	var ops []string
	for _, o := range trigger.Ops() {
		ops = append(ops, string(o))
	}
	if got := FileOp("").enumValues(); !slices.Equal(got, ops) {
		t.Errorf("scenario file ops %v, trigger ops %v", got, ops)
	}
	if got := When("").enumValues(); !slices.Equal(got, []string{string(trigger.Before), string(trigger.After)}) {
		t.Errorf("scenario when %v", got)
	}
}

// Defaults of a triggered fault: after, first call, caller targets.
func TestTriggerDefaults(t *testing.T) {
	s, err := Parse("t.yaml", []byte(`apiVersion: rwxchaos.dev/v1alpha1
kind: Scenario
metadata: {name: t}
cluster: {provider: kind}
storage: {backend: fuse}
faults:
  - name: kill
    action: process-kill
    schedule: {on: {op: rename, path: "botssys/outfile/**", by: engine}}
  - name: node
    action: node-kill
    schedule: {on: {op: unlink, path: "**"}, at: 5s}
  - name: cut
    action: partition
    to: control-plane
    duration: 5s
    schedule: {on: {op: fsync, path: "**", every: 3}, times: 2}
`))
	if err != nil {
		t.Fatal(err)
	}
	on := s.Faults[0].Schedule.On
	if on.When != WhenAfter || on.Nth != 1 || on.Probability != 1 {
		t.Errorf("on defaults: %+v", on)
	}
	if s.Faults[0].Target.Select != SelectCaller || s.Faults[0].Target.Count != 1 {
		t.Errorf("process target default: %+v", s.Faults[0].Target)
	}
	if s.Faults[1].Target.Select != SelectCallerNode {
		t.Errorf("node target default: %+v", s.Faults[1].Target)
	}
	if s.Faults[2].From != string(SelectCallerNode) {
		t.Errorf("partition from default: %q", s.Faults[2].From)
	}
	// Where a file operation can fire a fault is the support table's:
	// backend fuse with providers local and kind, refused with the reason
	// everywhere else.
	for _, p := range Provider("").enumValues() {
		for _, b := range Backend("").enumValues() {
			d := support.Decide(support.Query{Provider: p, Kind: support.FeatureTrigger, Name: support.Trigger, Facts: []string{"backend=" + b}})
			want := b == string(BackendFuse) && p != string(ProviderExisting)
			if d.OK != want || !d.Declared || (!d.OK && !strings.Contains(d.Reason, ":")) {
				t.Errorf("schedule.on on provider %s with backend %s: %+v (want OK %v, with a reason and what to do when refused)", p, b, d, want)
			}
		}
	}
}
