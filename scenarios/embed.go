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

// Load parses a library scenario by name. An unknown name gets the closest
// library name ("did you mean"), or the list.
func Load(name string) (*scenario.Scenario, error) {
	p := path.Join("library", name+".yaml")
	b, err := library.ReadFile(p)
	if err != nil {
		if s := Suggest(name, Names()); s != "" {
			return nil, fmt.Errorf("no scenario %q in the library; did you mean %s? (`rwxchaos list` shows them all)", name, s)
		}
		return nil, fmt.Errorf("no scenario %q in the library and no such file; `rwxchaos list` shows the library (have: %s)", name, strings.Join(Names(), ", "))
	}
	return scenario.Parse("scenarios/"+p, b)
}

// Suggest returns the candidate name is most likely a typo of, or the one
// candidate it is a part of, or "".
func Suggest(name string, candidates []string) string {
	if c := scenario.Closest(name, candidates); c != "" {
		return c
	}
	var hit []string
	for _, c := range candidates {
		if len(name) >= 4 && strings.Contains(c, name) {
			hit = append(hit, c)
		}
	}
	if len(hit) == 1 {
		return hit[0]
	}
	return ""
}
