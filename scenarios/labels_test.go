package scenarios

import (
	"testing"

	"github.com/rwxchaos/rwxchaos/framework/scenario"
)

// A library file's provider or backend label that disagreed with its spec
// would be a filter that selects the wrong runs: Labels takes both from the
// spec, and here the written ones must say the same.
func TestLibraryLabelsAgree(t *testing.T) {
	for _, name := range Names() {
		s, err := Load(name)
		if s == nil {
			t.Fatalf("%s: %v", name, err)
		}
		l := Labels(s)
		for _, k := range []string{"provider", "backend"} {
			if v, ok := s.Metadata.Labels[k]; ok && v != l[k] {
				t.Errorf("%s: label %s: %q, but the spec says %q", name, k, v, l[k])
			}
		}
	}
	s := &scenario.Scenario{}
	s.Metadata.Name = "x"
	s.Metadata.Labels = map[string]string{"provider": "kind", "backend": "nfs", "tier": "ci"}
	s.Cluster.Provider, s.Storage.Backend = scenario.ProviderLocal, scenario.BackendLocal
	if l := Labels(s); l["provider"] != "local" || l["backend"] != "local" || l["tier"] != "ci" || l["scenario"] != "x" {
		t.Errorf("Labels = %v: the spec's provider and backend must win over written labels, others kept", l)
	}
}
