package scenarios

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rwxchaos/rwxchaos/framework/lab"
	"github.com/rwxchaos/rwxchaos/framework/provider"
	"github.com/rwxchaos/rwxchaos/framework/provider/kind"
	"github.com/rwxchaos/rwxchaos/framework/report"
	"github.com/rwxchaos/rwxchaos/framework/runner"
	"github.com/rwxchaos/rwxchaos/framework/scenario"
)

// EnvSeed overrides every scenario's seed in a Suite: a number, or "random"
// for a new seed per scenario (the seed is in every report, so any run can
// be replayed). A nightly job sets it to vary what random targets hit.
const EnvSeed = "RWXCHAOS_SEED"

// Suite runs scenarios one after another as a nightly job does: the kind
// scenarios on one shared cluster at a time (kind.Pool: reset between
// scenarios, recreated when a scenario's shape differs; external apps,
// cluster.kind.fresh and the kernel NFS client get clusters of their own),
// and Close deletes the cluster and writes one index page over every scenario
// of the suite (see NewSuite). The suite holds the machine-wide kind test
// lock (lab.LockForTest) from its first kind scenario until Close: the
// shared cluster lives that long, and a per-scenario lock would let another
// test package build a cluster beside it between two scenarios.
type Suite struct {
	title   string
	index   string
	pool    *kind.Pool
	log     io.Writer
	started time.Time
	load    string

	lockMu sync.Mutex
	unlock func() // set while the suite holds the kind test lock

	mu      sync.Mutex
	entries []report.IndexEntry
	seeds   []string

	opts SuiteOptions
}

// SuiteOptions are what a suite run from elsewhere than go test sets (the
// CLI's `rwxchaos run` of several scenarios); the zero value is go test's.
type SuiteOptions struct {
	// ReportDir is where the reports and the index go ("": ReportDir()).
	ReportDir string
	// Seed, when non-zero, is every scenario's seed; else RWXCHAOS_SEED
	// decides, else each scenario's own.
	Seed int64
	// StateDir keeps active faults on disk for `rwxchaos cleanup`
	// (runner.Options.StateDir).
	StateDir string
	// Progress, when set, gets each scenario's run status (runner.Options.Progress).
	Progress func(runner.Status)
	// Kind configures the shared clusters' provider (e.g. AppImage); its
	// Pool is the suite's.
	Kind kind.Options
}

// NewSuite starts a suite whose index is <ReportDir>/<index>.html (.md,
// .json); log receives progress lines (nil discards them).
func NewSuite(title, index string, log io.Writer) *Suite {
	return NewSuiteWith(title, index, log, SuiteOptions{})
}

// NewSuiteWith is NewSuite with options.
func NewSuiteWith(title, index string, log io.Writer, opts SuiteOptions) *Suite {
	if log == nil {
		log = io.Discard
	}
	if index == "" {
		index = report.IndexName
	}
	su := &Suite{title: title, index: index, log: log, started: time.Now(), load: loadAvg(), opts: opts}
	su.pool = kind.NewPool(kind.PoolOptions{Logf: func(f string, a ...any) {
		fmt.Fprintf(log, "%s %s\n", time.Now().UTC().Format("15:04:05.000"), fmt.Sprintf(f, a...))
	}})
	return su
}

// Run runs one scenario through the one runner with providers (kind's
// replaced by the suite's shared cluster) and records it for the index.
func (su *Suite) Run(ctx context.Context, s *scenario.Scenario, providers provider.Set) Verdict {
	seed, err := su.opts.Seed, error(nil)
	if seed == 0 {
		seed, err = seedFromEnv()
	}
	if err != nil {
		v := Verdict{Failure: err.Error()}
		su.record(s, v)
		return v
	}
	ps := maps.Clone(providers)
	if _, ok := ps[scenario.ProviderKind]; ok {
		ps[scenario.ProviderKind] = su.pool.Factory(su.opts.Kind)
		if s.Cluster.Provider == scenario.ProviderKind {
			if err := su.lockClusters(ctx); err != nil {
				v := Verdict{Failure: err.Error()}
				su.record(s, v)
				return v
			}
		}
	}
	if s.Cluster.Provider == scenario.ProviderLocal {
		// One local scenario at a time on the machine: the e2e-framework
		// and ginkgo suites run theirs in parallel under `go test ./...`.
		release, waited, err := lockLocal(ctx)
		if err != nil {
			v := Verdict{Failure: err.Error()}
			su.record(s, v)
			return v
		}
		defer release()
		if waited > time.Second {
			fmt.Fprintf(su.log, "%s waited %s for another suite's local scenario (%s)\n", time.Now().UTC().Format("15:04:05.000"), waited.Round(time.Second), lab.LocalLockPath)
		}
	}
	o := runner.Options{Scenario: s, ReportDir: su.reportDir(), Log: su.log, Seed: seed, Providers: ps,
		StateDir: su.opts.StateDir, Progress: su.opts.Progress}
	out, err := runner.Run(ctx, o)
	v := judge(s, out, err)
	su.record(s, v)
	return v
}

func (su *Suite) reportDir() string {
	if su.opts.ReportDir != "" {
		return su.opts.ReportDir
	}
	return ReportDir()
}

// RunAll runs scenarios one after another as the nightly suites do: kind
// scenarios of one cluster shape next to each other (kind.PoolOrder: each
// change of shape recreates the shared cluster), and the first kind
// scenario's cluster created in the background while the local ones
// before it run. done, if set, is called after each run. Once ctx is done
// the scenarios not yet started are recorded as skipped. It returns the
// scenarios in the order they ran, with their verdicts.
func (su *Suite) RunAll(ctx context.Context, list []*scenario.Scenario, providers provider.Set, done func(*scenario.Scenario, Verdict)) ([]*scenario.Scenario, []Verdict) {
	list = slices.Clone(list)
	SortForPool(list)
	for i, s := range list {
		if s.Cluster.Provider == scenario.ProviderKind {
			if i > 0 {
				su.Prewarm(ctx, s)
			}
			break
		}
	}
	vs := make([]Verdict, len(list))
	for i, s := range list {
		if err := ctx.Err(); err != nil {
			vs[i] = Verdict{Skip: fmt.Sprintf("not started: %v", context.Cause(ctx))}
			su.Skip(s, vs[i].Skip)
		} else {
			vs[i] = su.Run(ctx, s, providers)
		}
		if done != nil {
			done(s, vs[i])
		}
	}
	return list, vs
}

// SortForPool orders scenarios so that kind scenarios of one cluster shape
// follow each other (kind.PoolOrder; stable otherwise): local ones first.
func SortForPool(list []*scenario.Scenario) {
	sort.SliceStable(list, func(i, j int) bool { return kind.PoolOrder(list[i]) < kind.PoolOrder(list[j]) })
}

// Prewarm has the suite's shared kind cluster for s (the first kind
// scenario it will run) created in the background, while the scenarios
// before it run (the local ones): the suite takes its kind test lock there,
// and s waits for the cluster when its turn comes (kind.Pool.Prewarm). Call
// it before running anything, and only with a scenario that will run.
func (su *Suite) Prewarm(ctx context.Context, s *scenario.Scenario) {
	if s == nil || s.Cluster.Provider != scenario.ProviderKind {
		return
	}
	su.pool.Prewarm(ctx, s, su.lockClusters)
}

// lockForTest is lab.LockForTest and lockLocal lab.LockLocalForTest
// (variables for tests).
var (
	lockForTest = lab.LockForTest
	lockLocal   = lab.LockLocalForTest
)

// lockClusters takes the kind test lock for the rest of the suite, once.
func (su *Suite) lockClusters(ctx context.Context) error {
	su.lockMu.Lock()
	defer su.lockMu.Unlock()
	if su.unlock != nil {
		return nil
	}
	release, waited, err := lockForTest(ctx)
	if err != nil {
		return fmt.Errorf("suite: before its first kind scenario: %w", err)
	}
	if waited > time.Second {
		fmt.Fprintf(su.log, "%s waited %s for another kind test (%s)\n", time.Now().UTC().Format("15:04:05.000"), waited.Round(time.Second), lab.TestLockPath)
	}
	su.unlock = release
	return nil
}

// Skip records a scenario the suite did not run, and why.
func (su *Suite) Skip(s *scenario.Scenario, why string) {
	su.record(s, Verdict{Skip: why})
}

func (su *Suite) record(s *scenario.Scenario, v Verdict) {
	e := report.IndexEntry{Scenario: s.Metadata.Name, Provider: string(s.Cluster.Provider)}
	outcome, why := report.OutcomePass, ""
	switch {
	case v.Skip != "":
		outcome, why = report.OutcomeSkip, v.Skip
	case v.Failure != "":
		outcome, why = report.OutcomeFail, short(v.Failure)
	case s.Metadata.Labels[LabelExpectAnomaly] != "":
		why = "bug zoo: failed as it must, with " + s.Metadata.Labels[LabelExpectAnomaly]
	}
	if out := v.Outcome; out != nil && out.Run != nil {
		rel, err := filepath.Rel(su.reportDir(), out.Dir)
		if err != nil {
			rel = out.Dir
		}
		e = report.NewIndexEntry(out.Run, rel, outcome, why)
	} else {
		e.Outcome, e.Why = outcome, why
	}
	e.Tier = s.Metadata.Labels["tier"]
	su.mu.Lock()
	defer su.mu.Unlock()
	su.entries = append(su.entries, e)
	if e.Verdict != "" {
		su.seeds = append(su.seeds, fmt.Sprintf("%s=%d", e.Scenario, e.Seed))
	}
}

// short keeps a failure's first lines, without the report path and replay
// command (the index links the report).
func short(failure string) string {
	var keep []string
	for _, l := range strings.Split(failure, "\n") {
		if strings.HasPrefix(l, "report: ") || strings.HasPrefix(l, "replay: ") {
			continue
		}
		keep = append(keep, strings.TrimSpace(l))
	}
	return strings.Join(keep, "; ")
}

// Close deletes the shared cluster and writes the index. It returns the
// path of its HTML page.
func (su *Suite) Close(ctx context.Context) (string, error) {
	perr := su.pool.Close(ctx)
	su.lockMu.Lock()
	if su.unlock != nil {
		// Only once the cluster is gone may another test build one.
		su.unlock()
		su.unlock = nil
	}
	su.lockMu.Unlock()
	su.mu.Lock()
	idx := &report.Index{Title: su.title, Started: su.started.UnixNano(), Ended: time.Now().UnixNano(), Entries: su.entries}
	su.mu.Unlock()
	idx.Host = fmt.Sprintf("%d cores · load average %s at the start, %s at the end", runtime.NumCPU(), su.load, loadAvg())
	idx.Notes = su.notes(idx)
	path, err := report.WriteIndex(su.reportDir(), su.index, idx)
	if err == nil {
		if sum := os.Getenv("GITHUB_STEP_SUMMARY"); sum != "" {
			if f, ferr := os.OpenFile(sum, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644); ferr == nil {
				_, ferr = io.WriteString(f, idx.Markdown())
				err = errors.Join(ferr, f.Close())
			}
		}
	}
	return path, errors.Join(perr, err)
}

// notes say where the suite's time went: the shared cluster's costs and the
// framework's overhead against the waits the scenarios declare and the
// time Kubernetes and the pipeline take to recover.
func (su *Suite) notes(idx *report.Index) []string {
	st := su.pool.Stats()
	var out []string
	if st.Clusters > 0 {
		ahead := ""
		if st.Prewarmed > 0 {
			ahead = fmt.Sprintf(", %s of it in the background while the local scenarios ran", st.Prewarmed.Round(100*time.Millisecond))
		}
		out = append(out, fmt.Sprintf("shared kind cluster: %d created in %s (until every node was Ready%s); pipeline image loaded %d times in %s",
			st.Clusters, st.CreateTime.Round(100*time.Millisecond), ahead, st.ImageLoads, st.ImageTime.Round(100*time.Millisecond)))
	}
	for _, r := range st.Recreations {
		out = append(out, "cluster replaced: "+r)
	}
	if st.Resets > 0 {
		var steps []string
		for name, d := range st.StepTime {
			steps = append(steps, fmt.Sprintf("%s %s", name, d.Round(100*time.Millisecond)))
		}
		sort.Strings(steps)
		out = append(out, fmt.Sprintf("resets between scenarios: %d in %s (%s); leftover checks before scenarios: %s",
			st.Resets, st.ResetTime.Round(100*time.Millisecond), strings.Join(steps, ", "), st.CheckTime.Round(100*time.Millisecond)))
	}
	var declared, recovery time.Duration
	for _, e := range idx.Entries {
		// The traffic+faults phase lasts as long as the scenario's traffic
		// and fault windows say (plus the faults' heal checks); waiting for
		// steady state is the pipeline coming up, not a declared window.
		declared += e.PhaseTime(report.PhaseTrafficFaults)
		recovery += e.PhaseTime(report.PhaseDeploy, report.PhaseSteadyState, report.PhaseHeal, report.PhaseSettle)
	}
	// Inside resets, waiting for nodes, namespaces and system pods is
	// Kubernetes' own work.
	for _, s := range []string{"nodes", "taints", "namespaces", "system-pods"} {
		recovery += st.StepTime[s]
	}
	if wall := idx.Duration(); wall > 0 {
		over := wall - declared - recovery
		out = append(out, fmt.Sprintf("framework overhead: %s of %s (%.1f%%): wall time minus the scenarios' declared traffic and fault windows (%s) and Kubernetes' and the pipeline's own recovery (%s: deploy, steady state, heal, settle, and the resets' waits for nodes, namespaces and system pods)",
			over.Round(time.Second), wall.Round(time.Second), 100*over.Seconds()/wall.Seconds(), declared.Round(time.Second), recovery.Round(time.Second)))
	}
	if len(su.seeds) > 0 {
		out = append(out, "seeds: "+strings.Join(su.seeds, ", "))
	}
	return out
}

func seedFromEnv() (int64, error) {
	v := os.Getenv(EnvSeed)
	switch v {
	case "":
		return 0, nil
	case "random":
		return rand.Int64N(1<<31-1) + 1, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n == 0 {
		return 0, fmt.Errorf("%s=%q: want a non-zero number, or random", EnvSeed, v)
	}
	return n, nil
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}
