// Package all registers every environment with the runner. The CLI, the
// go test suites and the ginkgo suite call Register, so all three run
// scenarios through the same providers.
package all

import (
	"sync"

	"github.com/rwxchaos/rwxchaos/framework/provider/existing"
	"github.com/rwxchaos/rwxchaos/framework/provider/kind"
	"github.com/rwxchaos/rwxchaos/framework/provider/local"
	"github.com/rwxchaos/rwxchaos/framework/runner"
	"github.com/rwxchaos/rwxchaos/framework/scenario"
)

var once sync.Once

// Register wires every provider into the runner (idempotent).
func Register() {
	once.Do(func() {
		runner.Register(scenario.ProviderLocal, local.New(local.Options{}))
		runner.Register(scenario.ProviderKind, kind.New(kind.Options{}))
		runner.Register(scenario.ProviderExisting, existing.New(existing.Options{}))
	})
}
