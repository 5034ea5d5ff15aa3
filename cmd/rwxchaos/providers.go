package main

import (
	"sync"

	"github.com/rwxchaos/rwxchaos/framework/provider/localenv"
	"github.com/rwxchaos/rwxchaos/framework/runner"
	"github.com/rwxchaos/rwxchaos/framework/scenario"
)

var registerOnce sync.Once

// registerProviders wires every environment into the runner.
func registerProviders() {
	registerOnce.Do(func() {
		runner.Register(scenario.ProviderLocal, localenv.New(localenv.Options{}))
	})
}
