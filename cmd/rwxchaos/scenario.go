package main

import (
	"errors"
	"os"

	"github.com/rwxchaos/rwxchaos/framework/scenario"
	"github.com/rwxchaos/rwxchaos/scenarios"
)

// loadScenario reads a scenario file, or a library scenario by name.
func loadScenario(arg string) (*scenario.Scenario, error) {
	if _, err := os.Stat(arg); err == nil {
		return scenario.Load(arg)
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	return scenarios.Load(arg)
}
