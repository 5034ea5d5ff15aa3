// Package scenariotest holds scenarios and helpers shared by the tests of
// the packages that consume a Scenario (runner, verdict). It imports only
// package scenario.
package scenariotest

import (
	"testing"

	"github.com/rwxchaos/rwxchaos/framework/scenario"
)

// Parse parses yaml as scenario file t.yaml, failing the test if it does
// not parse.
func Parse(t testing.TB, yaml string) *scenario.Scenario {
	t.Helper()
	s, err := scenario.Parse("t.yaml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// PublishLocal is a small publish-consume scenario on the local provider;
// the runner's and the verdict's tests count on its numbers.
const PublishLocal = `apiVersion: rwxchaos.dev/v1alpha1
kind: Scenario
metadata: {name: p}
cluster: {provider: local}
workload:
  mode: publish-consume
  publish: {files: 2, versions: 10, rate: 10, consumers: 2}
expect:
  steadyState: {minVersions: 2, within: 2s}
  publish: {visibleWithin: 300ms, convergedWithin: 1s, maxLoadErrors: 3, monotonic: false}
`
