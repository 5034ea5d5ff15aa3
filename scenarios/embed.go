// Package scenarios holds the scenario library (library/*.yaml, embedded so
// `rwxchaos run NAME` works from any directory) and the Go suites that run
// every scenario through the one runner: `go test` (e2e-framework features)
// and ginkgo.
package scenarios

import (
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"

	"github.com/rwxchaos/rwxchaos/framework/scenario"
)

//go:embed library/*.yaml
var library embed.FS

// Names lists the library's scenarios.
func Names() []string {
	ents, _ := fs.ReadDir(library, "library")
	var out []string
	for _, e := range ents {
		if n, ok := strings.CutSuffix(e.Name(), ".yaml"); ok {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

// Load parses a library scenario by name.
func Load(name string) (*scenario.Scenario, error) {
	p := path.Join("library", name+".yaml")
	b, err := library.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("no scenario %q in the library (have: %s)", name, strings.Join(Names(), ", "))
	}
	return scenario.Parse("scenarios/"+p, b)
}
