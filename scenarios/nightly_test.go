package scenarios

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rwxchaos/rwxchaos/framework/provider"
	"github.com/rwxchaos/rwxchaos/framework/report"
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
	oldLocal := lockLocal
	t.Cleanup(func() { lockLocal = oldLocal })
	lockLocal = func(context.Context) (func(), time.Duration, error) { return func() {}, 0, nil }
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

// Each local scenario holds the local scenario lock for its run only (the
// e2e-framework and ginkgo suites take turns); a kind scenario never takes
// it, and a lock that cannot be had fails the scenario instead of running
// it beside another suite's.
func TestSuiteLocksEachLocalScenario(t *testing.T) {
	var held, takes int
	oldLocal, oldKind := lockLocal, lockForTest
	t.Cleanup(func() { lockLocal, lockForTest = oldLocal, oldKind })
	lockLocal = func(context.Context) (func(), time.Duration, error) {
		takes++
		held++
		return func() { held-- }, 0, nil
	}
	lockForTest = func(context.Context) (func(), time.Duration, error) { return func() {}, 0, nil }
	t.Setenv("RWXCHAOS_REPORT_DIR", t.TempDir())
	su := NewSuite("t", "index", nil)
	local, err := scenario.Parse("l.yaml", []byte("apiVersion: rwxchaos.dev/v1alpha1\nkind: Scenario\nmetadata: {name: l}\ncluster: {provider: local}\n"))
	if err != nil {
		t.Fatal(err)
	}
	var heldDuringRun = -1
	ps := provider.Set{scenario.ProviderLocal: func(provider.Config) (provider.Env, error) {
		heldDuringRun = held
		return nil, errors.New("no environment in this test")
	}}
	ctx := context.Background()
	su.Run(ctx, local, ps)
	if takes != 1 || heldDuringRun != 1 || held != 0 {
		t.Fatalf("local scenario: lock taken %d times, held %d during the run and %d after; want 1, 1, 0", takes, heldDuringRun, held)
	}
	lockLocal = func(context.Context) (func(), time.Duration, error) {
		return nil, time.Minute, errors.New("local scenario lock still held")
	}
	ran := false
	ps[scenario.ProviderLocal] = func(provider.Config) (provider.Env, error) { ran = true; return nil, errors.New("no") }
	if v := su.Run(ctx, local, ps); ran || !strings.Contains(v.Failure, "still held") {
		t.Fatalf("without the lock: ran %v, failure %q; want not run, the lock's error", ran, v.Failure)
	}
	if _, err := su.Close(ctx); err != nil {
		t.Fatal(err)
	}
}

// The overhead note counts only what is neither a declared window nor
// Kubernetes' or the pipeline's own work: here 100 s of wall time hold a
// 60 s traffic+faults phase and 30 s of deploy, steady state and settle.
func TestSuiteOverheadNote(t *testing.T) {
	su := NewSuite("t", "index", nil)
	s := int64(1_000_000_000)
	ph := func(name string, from, to int64) report.Phase {
		return report.Phase{Name: name, Start: from * s, End: to * s}
	}
	idx := &report.Index{Started: 0, Ended: 100 * s, Entries: []report.IndexEntry{{
		Scenario: "x", Started: 0, Ended: 100 * s,
		Phases: []report.Phase{
			ph(report.PhaseProvision, 0, 5), ph(report.PhaseDeploy, 5, 20), ph(report.PhaseSteadyState, 20, 30),
			ph(report.PhaseTrafficFaults, 30, 90), ph(report.PhaseHeal, 90, 90), ph(report.PhaseSettle, 90, 95),
		},
	}}}
	want := "framework overhead: 10s of 1m40s (10.0%)"
	for _, n := range su.notes(idx) {
		if strings.HasPrefix(n, "framework overhead:") {
			if !strings.HasPrefix(n, want) {
				t.Fatalf("got %q, want it to start with %q", n, want)
			}
			return
		}
	}
	t.Fatalf("no overhead note in %q", su.notes(idx))
}

// RunAll orders the scenarios for the shared cluster (local ones first) and,
// once its context is done, runs nothing more: the rest are recorded as not
// started, in the index too.
func TestRunAllOrdersAndStopsWhenCancelled(t *testing.T) {
	oldLocal := lockLocal
	t.Cleanup(func() { lockLocal = oldLocal })
	lockLocal = func(context.Context) (func(), time.Duration, error) { return func() {}, 0, nil }
	dir := t.TempDir()
	su := NewSuiteWith("t", "index", nil, SuiteOptions{ReportDir: dir})
	parse := func(name, provider string) *scenario.Scenario {
		s, err := scenario.Parse(name+".yaml", []byte("apiVersion: rwxchaos.dev/v1alpha1\nkind: Scenario\nmetadata: {name: "+name+"}\ncluster: {provider: "+provider+"}\n"))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	k, l1, l2 := parse("k", "kind"), parse("l1", "local"), parse("l2", "local")
	sorted := []*scenario.Scenario{k, l1, l2}
	SortForPool(sorted)
	if sorted[0] != l1 || sorted[1] != l2 || sorted[2] != k {
		t.Fatalf("SortForPool: %s %s %s, want l1 l2 k (local ones first, stable)", sorted[0].Metadata.Name, sorted[1].Metadata.Name, sorted[2].Metadata.Name)
	}
	k = parse("l0", "local") // RunAll below starts no kind cluster
	ctx, cancel := context.WithCancel(context.Background())
	runs := 0
	refuse := func(provider.Config) (provider.Env, error) {
		runs++
		cancel() // a Ctrl-C during the first scenario
		return nil, errors.New("no environment in this test")
	}
	ps := provider.Set{scenario.ProviderLocal: refuse}
	var seen []string
	order, vs := su.RunAll(ctx, []*scenario.Scenario{k, l1, l2}, ps, func(s *scenario.Scenario, _ Verdict) { seen = append(seen, s.Metadata.Name) })
	if runs != 1 {
		t.Fatalf("%d scenarios started, want 1 (the context was done after the first)", runs)
	}
	if got := strings.Join(seen, " "); got != "l0 l1 l2" || len(order) != 3 || order[0] != k {
		t.Fatalf("ran in order %q, want l0 l1 l2", got)
	}
	for _, v := range vs[1:] {
		if !strings.Contains(v.Skip, "not started") {
			t.Errorf("after the cancel: %+v, want skipped as not started", v)
		}
	}
	if _, err := su.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	idx, err := os.ReadFile(filepath.Join(dir, "index.md"))
	if err != nil || strings.Count(string(idx), "not started") != 2 {
		t.Errorf("index: %v\n%s", err, idx)
	}
}
