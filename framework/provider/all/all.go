// Package all registers every environment with the runner. The CLI, the
// go test suites and the ginkgo suite call Register, so all three run
// scenarios through the same providers.
package all

import (
	"sync"

	"github.com/rwxchaos/rwxchaos/framework/provider/existingenv"
	"github.com/rwxchaos/rwxchaos/framework/provider/kindenv"
	"github.com/rwxchaos/rwxchaos/framework/provider/localenv"
	"github.com/rwxchaos/rwxchaos/framework/runner"
	"github.com/rwxchaos/rwxchaos/framework/scenario"
)

var once sync.Once

// Register wires every provider into the runner (idempotent).
func Register() {
	once.Do(func() {
		runner.Register(scenario.ProviderLocal, localenv.New(localenv.Options{}))
		runner.Register(scenario.ProviderKind, kindenv.New(kindenv.Options{}))
		runner.Register(scenario.ProviderExisting, existingenv.New(existingenv.Options{}))
	})
}
