package e2e

import (
	"testing"

	"sigs.k8s.io/e2e-framework/pkg/envconf"
)

// selected must keep exactly what e2e-framework runs, or a cluster would
// be created ahead for a scenario the filters drop.
func TestSelected(t *testing.T) {
	labels := map[string]string{"provider": "kind", "tier": "ci", "scenario": "node-kill-engine-node"}
	for _, c := range []struct {
		name string
		cfg  *envconf.Config
		want bool
	}{
		{"no filter", envconf.New(), true},
		{"name matches", envconf.New().WithFeatureRegex("^node-kill"), true},
		{"name does not", envconf.New().WithFeatureRegex("^engine-killed-mid-run$"), false},
		{"name skipped", envconf.New().WithSkipFeatureRegex("kill-engine"), false},
		{"label matches", envconf.New().WithLabels(map[string][]string{"provider": {"local", "kind"}}), true},
		{"label differs", envconf.New().WithLabels(map[string][]string{"provider": {"local"}}), false},
		{"label missing", envconf.New().WithLabels(map[string][]string{"area": {"nodes"}}), false},
		{"label skipped", envconf.New().WithSkipLabels(map[string][]string{"tier": {"ci"}}), false},
		{"other label skipped", envconf.New().WithSkipLabels(map[string][]string{"tier": {"nightly"}}), true},
	} {
		if got := selected(c.cfg, "node-kill-engine-node", labels); got != c.want {
			t.Errorf("%s: selected = %v, want %v", c.name, got, c.want)
		}
	}
}
