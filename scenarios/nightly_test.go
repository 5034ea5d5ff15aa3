package scenarios

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/rwxchaos/rwxchaos/framework/provider"
	"github.com/rwxchaos/rwxchaos/framework/scenario"
)

// The suite takes the kind test lock once, before its first kind scenario,
// and gives it back only in Close, once the shared cluster is gone: between
// two scenarios no other test may build a cluster beside it.
func TestSuiteHoldsKindLockForItsLifetime(t *testing.T) {
	var takes, releases int
	old := lockForTest
	t.Cleanup(func() { lockForTest = old })
	lockForTest = func(context.Context) (func(), time.Duration, error) {
		takes++
		return func() { releases++ }, 0, nil
	}
	t.Setenv("RWXCHAOS_REPORT_DIR", t.TempDir())
	su := NewSuite("t", "index", nil)

	local, err := scenario.Parse("l.yaml", []byte("apiVersion: rwxchaos.dev/v1alpha1\nkind: Scenario\nmetadata: {name: l}\ncluster: {provider: local}\n"))
	if err != nil {
		t.Fatal(err)
	}
	// Providers that refuse at once: only the lock is under test here.
	refuse := func(provider.Config) (provider.Env, error) {
		return nil, errors.New("no environment in this test")
	}
	ps := provider.Set{scenario.ProviderLocal: refuse, scenario.ProviderKind: refuse}
	ctx := context.Background()
	su.Run(ctx, local, ps)
	if takes != 0 {
		t.Fatalf("a local scenario took the kind lock")
	}
	// What Run does before each kind scenario (running one needs the lab).
	for range 2 {
		if err := su.lockClusters(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if takes != 1 || releases != 0 {
		t.Fatalf("after two kind scenarios: lock taken %d times, released %d; want 1, 0", takes, releases)
	}
	if _, err := su.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if releases != 1 {
		t.Fatalf("Close released the lock %d times, want 1", releases)
	}
}
