// Package all builds the provider set the CLI, the go test suites and the
// ginkgo suite hand to runner.Run, so all three run scenarios through the
// same providers. It holds no state: each call builds a new set.
package all

import (
	"github.com/rwxchaos/rwxchaos/framework/provider"
	"github.com/rwxchaos/rwxchaos/framework/provider/existing"
	"github.com/rwxchaos/rwxchaos/framework/provider/kind"
	"github.com/rwxchaos/rwxchaos/framework/provider/local"
	"github.com/rwxchaos/rwxchaos/framework/scenario"
)

// Options configures each provider of the default set.
type Options struct {
	Local    local.Options
	Kind     kind.Options
	Existing existing.Options
}

// Default returns every provider, configured by o.
func Default(o Options) provider.Set {
	return provider.Set{
		scenario.ProviderLocal:    local.New(o.Local),
		scenario.ProviderKind:     kind.New(o.Kind),
		scenario.ProviderExisting: existing.New(o.Existing),
	}
}
