package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/rwxchaos/rwxchaos/framework/scenario"
	"github.com/rwxchaos/rwxchaos/scenarios"
)

// loadScenario reads a scenario file, or a library scenario by name. An
// argument that looks like a path (it has a '/', starts with '.', or ends
// in .yaml/.yml) is a file: if it does not exist, that is what the error
// says, rather than "no such library scenario".
func loadScenario(arg string) (*scenario.Scenario, error) {
	_, err := os.Stat(arg)
	switch {
	case err == nil:
		return scenario.Load(arg)
	case !errors.Is(err, os.ErrNotExist):
		return nil, fmt.Errorf("%s: %w", arg, err)
	case looksLikePath(arg):
		return nil, missingFile(arg)
	}
	return loadLibrary(arg)
}

// loadLibrary loads a library scenario that can run from here: one that
// deploys an example app gets it, and itself, written to disk when this is
// not a checkout (scenarios.OnDisk).
func loadLibrary(name string) (*scenario.Scenario, error) {
	s, err := scenarios.Load(name)
	if err != nil {
		return s, err
	}
	return scenarios.OnDisk(s, "")
}

func looksLikePath(arg string) bool {
	ext := filepath.Ext(arg)
	return strings.ContainsRune(arg, os.PathSeparator) || strings.HasPrefix(arg, ".") || ext == ".yaml" || ext == ".yml"
}

// missingFile says the file is not there, and names a close match in its
// directory or the library when there is one.
func missingFile(arg string) error {
	dir := filepath.Dir(arg)
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return fmt.Errorf("%s: no such file (and no directory %s)", arg, dir)
	}
	var cands []string
	for _, pat := range []string{"*.yaml", "*.yml"} {
		m, _ := filepath.Glob(filepath.Join(dir, pat))
		for _, f := range m {
			if dir == "." && !strings.HasPrefix(arg, "./") {
				cands = append(cands, filepath.Base(f))
			} else {
				cands = append(cands, f)
			}
		}
	}
	if s := scenarios.Suggest(arg, cands); s != "" {
		return fmt.Errorf("%s: no such file; did you mean %s?", arg, s)
	}
	base := strings.TrimSuffix(strings.TrimSuffix(filepath.Base(arg), ".yaml"), ".yml")
	if s := scenarios.Suggest(base, scenarios.Names()); s != "" {
		return fmt.Errorf("%s: no such file; did you mean the library scenario %s (`rwxchaos run %s`)?", arg, s, s)
	}
	return fmt.Errorf("%s: no such file", arg)
}
