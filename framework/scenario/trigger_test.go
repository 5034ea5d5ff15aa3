package scenario

import (
	"slices"
	"testing"

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
	for _, b := range []Backend{BackendLocal, BackendHostPath, BackendNFS, BackendStorageClass} {
		if ok, why := TriggerLayer(ProviderKind, b); ok || why == "" {
			t.Errorf("TriggerLayer(kind, %s) = %v %q: want refused with a reason", b, ok, why)
		}
	}
	if ok, _ := TriggerLayer(ProviderLocal, BackendFuse); !ok {
		t.Error("TriggerLayer(local, fuse) refused")
	}
}
