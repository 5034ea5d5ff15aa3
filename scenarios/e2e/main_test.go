// Package e2e turns every library scenario into an e2e-framework feature.
// Filter with e2e-framework's flags, e.g.
//
//	go test ./scenarios/e2e -args --labels provider=local
//	go test ./scenarios/e2e -args --feature engine-killed-mid-run
//
// RWXCHAOS_LAB=nightly runs the nightly set (the kind scenarios labelled
// tier ci or nightly) and RWXCHAOS_LAB=all the whole library: the kind
// scenarios one after another on one shared kind cluster at a time (reset
// between scenarios, recreated when the cluster shape changes), and an
// index page over all the reports (reports/index.html and index.md; the
// markdown is appended to $GITHUB_STEP_SUMMARY when set). Both take longer
// than go test's default timeout (the whole library 68 minutes on 2 cores):
//
//	RWXCHAOS_LAB=nightly go test -timeout 45m ./scenarios/e2e
//	RWXCHAOS_LAB=all go test -timeout 120m ./scenarios/e2e
package e2e

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/rwxchaos/rwxchaos/framework/provider/all"
	"github.com/rwxchaos/rwxchaos/framework/provider/kind"
	"github.com/rwxchaos/rwxchaos/framework/scenario"
	"github.com/rwxchaos/rwxchaos/scenarios"
	"sigs.k8s.io/e2e-framework/pkg/env"
	"sigs.k8s.io/e2e-framework/pkg/envconf"
	"sigs.k8s.io/e2e-framework/pkg/features"
)

var (
	testenv env.Environment
	suite   *scenarios.Suite
)

func TestMain(m *testing.M) {
	var err error
	testenv, err = env.NewFromFlags()
	if err != nil {
		panic(err)
	}
	if why := timeoutTooShort(); why != "" {
		fmt.Fprintln(os.Stderr, why)
		os.Exit(2)
	}
	suite = scenarios.NewSuite("rwxchaos scenario library", "index", os.Stderr)
	code := testenv.Run(m)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	index, err := suite.Close(ctx)
	if err != nil {
		fmt.Fprintf(os.Stderr, "suite: %v\n", err)
		if code == 0 {
			code = 1
		}
	}
	if index != "" {
		fmt.Fprintf(os.Stderr, "suite index: %s\n", index)
	}
	os.Exit(code)
}

func TestLibrary(t *testing.T) {
	// The providers are handed to the runner explicitly: the same set the
	// CLI uses, configured from the environment as the CLI is.
	providers := all.Default(all.Options{})
	type entry struct {
		s      *scenario.Scenario
		cannot string
	}
	var list []entry
	for _, name := range scenarios.Names() {
		s, err := scenarios.Load(name)
		var errs scenario.ErrorList
		cannot := ""
		switch {
		case errors.As(err, &errs) && errs.Unsupported():
			// Well-formed, but no provider runs it yet: skip with the reason.
			cannot = errs.Error()
		case err != nil:
			t.Fatalf("library scenario %s: %v", name, err)
		}
		list = append(list, entry{s, cannot})
	}
	// Scenarios of one cluster shape one after another: each change of
	// shape costs the shared cluster a recreation.
	sort.SliceStable(list, func(i, j int) bool { return kind.PoolOrder(list[i].s) < kind.PoolOrder(list[j].s) }) // as scenarios.SortForPool
	// The first kind scenario's cluster is created while the local ones
	// before it run (only when some do, and only for scenarios this run's
	// filters keep).
	cfg := testenv.EnvConf()
	locals := 0
	for _, en := range list {
		if en.cannot != "" || scenarios.Gate(en.s) != "" || !selected(cfg, en.s.Metadata.Name, scenarios.Labels(en.s)) {
			continue
		}
		if en.s.Cluster.Provider != scenario.ProviderKind {
			locals++
			continue
		}
		if locals > 0 {
			suite.Prewarm(context.Background(), en.s)
		}
		break
	}
	var feats []features.Feature
	for _, en := range list {
		s, cannot := en.s, en.cannot
		b := features.New(s.Metadata.Name)
		for k, v := range scenarios.Labels(s) {
			b = b.WithLabel(k, v)
		}
		feats = append(feats, b.Assess("holds its expectations", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			if cannot != "" {
				suite.Skip(s, cannot)
				t.Skip(cannot)
			}
			if why := scenarios.Gate(s); why != "" {
				suite.Skip(s, why)
				t.Skip(why)
			}
			v := suite.Run(ctx, s, providers)
			if v.Skip != "" {
				t.Skip(v.Skip)
			}
			if v.Failure != "" {
				t.Fatal(v.Failure)
			}
			t.Logf("pass: %s", v.Outcome.Dir)
			return ctx
		}).Feature())
	}
	testenv.Test(t, feats...)
}

// selected says whether e2e-framework's filters (--feature, --skip-features,
// --labels, --skip-labels) keep a feature of this name and these labels, as
// the framework decides it.
func selected(cfg *envconf.Config, name string, labels map[string]string) bool {
	if re := cfg.FeatureRegex(); re != nil && !re.MatchString(name) {
		return false
	}
	if re := cfg.SkipFeatureRegex(); re != nil && re.MatchString(name) {
		return false
	}
	for key, vals := range cfg.Labels() {
		if v, ok := labels[key]; !ok || !slices.Contains(vals, v) {
			return false
		}
	}
	for key, vals := range cfg.SkipLabels() {
		if v, ok := labels[key]; ok && slices.Contains(vals, v) {
			return false
		}
	}
	return true
}

// LibraryTimeout is what the whole library (RWXCHAOS_LAB=all) needs, with
// room: it took 68 minutes on 2 cores (three shared clusters, one per
// cluster shape, NFS scenarios included; then still a cluster per external
// app, which now run on the shared cluster of their shape).
// NightlyTimeout is the same for the nightly set (RWXCHAOS_LAB=nightly).
const (
	LibraryTimeout = 120 * time.Minute
	NightlyTimeout = 45 * time.Minute
)

// timeoutTooShort refuses to start the nightly set or the whole library
// under go test's default 10-minute timeout (it would be killed halfway,
// leaving its cluster behind), and an RWXCHAOS_LAB value the suite does
// not know.
func timeoutTooShort() string {
	if err := scenarios.CheckLabEnv(); err != nil {
		return err.Error()
	}
	var need time.Duration
	var what string
	switch v := os.Getenv("RWXCHAOS_LAB"); v {
	case "all":
		need, what = LibraryTimeout, "the whole library (68 minutes on 2 cores)"
	case "nightly":
		need, what = NightlyTimeout, "the nightly set (tiers ci and nightly)"
	default:
		return ""
	}
	f := flag.Lookup("test.timeout")
	if f == nil {
		return ""
	}
	d, err := time.ParseDuration(f.Value.String())
	if err != nil || d == 0 || d >= need {
		return ""
	}
	return fmt.Sprintf("RWXCHAOS_LAB=%s runs %s but the test timeout is %s: run `RWXCHAOS_LAB=%s go test -timeout %s ./scenarios/e2e`", os.Getenv("RWXCHAOS_LAB"), what, d, os.Getenv("RWXCHAOS_LAB"), need)
}
