package scenarios

import (
	"path/filepath"
	"testing"

	"github.com/rwxchaos/rwxchaos/framework/scenario"
)

// Templates are filled in by users; as shipped they must validate.
func TestTemplatesValidate(t *testing.T) {
	files, err := filepath.Glob("templates/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no templates")
	}
	for _, f := range files {
		s, err := scenario.Load(f)
		if err != nil {
			t.Errorf("%v", err)
			continue
		}
		if s.Workload.Mode != scenario.ModeExternal || s.Cluster.Provider != scenario.ProviderKind {
			t.Errorf("%s: a template for an external app on kind, got %s on %s", f, s.Workload.Mode, s.Cluster.Provider)
		}
	}
}

// Scenarios waiting for a run on the lab must still validate.
func TestUnverifiedValidate(t *testing.T) {
	files, err := filepath.Glob("unverified/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if _, err := scenario.Load(f); err != nil {
			t.Errorf("%v", err)
		}
	}
}
