package scenario_test

import (
	"fmt"

	"github.com/rwxchaos/rwxchaos/framework/scenario"
)

func ExampleParse() {
	s, err := scenario.Parse("kill.yaml", []byte(`apiVersion: rwxchaos.dev/v1alpha1
kind: Scenario
metadata: {name: kill-engine}
cluster: {provider: local}
faults:
  - name: kill
    action: process-kill
    target: {role: engine}
    schedule: {at: 2s, every: 2s, times: 3}
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	f := s.Faults[0]
	fmt.Println(s.Metadata.Name, f.Action, f.Target.Role, f.Schedule.Times, "lease", s.Workload.Engine.LeaseTTL)
	// Output: kill-engine process-kill engine 3 lease 3s
}

func ExampleErrorList() {
	_, err := scenario.Parse("bad.yaml", []byte(`apiVersion: rwxchaos.dev/v1alpha1
kind: Scenario
metadata: {name: bad}
cluster: {provider: local}
faults:
  - name: kill
    action: node-kill
    target: {role: engine}
    schedule: {after: nothing}
`))
	fmt.Println(err)
	// Output:
	// bad.yaml:7:13: faults[0].action: node-kill cannot run on provider local: provider local runs processes on one host and has no nodes: use provider kind
	// bad.yaml:8:20: faults[0].target.role: node-kill hits nodes: use node, or select engine-node to hit the node running the engine
	// bad.yaml:9:23: faults[0].schedule.after: no fault is named "nothing"; use "kill" or "steady-state"
}
