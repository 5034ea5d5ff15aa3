package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/rwxchaos/rwxchaos/framework/provider/all"
	"github.com/rwxchaos/rwxchaos/framework/report"
	"github.com/rwxchaos/rwxchaos/framework/runner"
	"github.com/rwxchaos/rwxchaos/framework/scenario"
	"github.com/rwxchaos/rwxchaos/scenarios"
	"github.com/spf13/cobra"
)

type runFlags struct {
	seed         int64
	reportDir    string
	keep         bool
	quiet        bool
	allowContext []string
	dryRun       bool
	appImage     string
	selects      []string
}

func newRunCmd() *cobra.Command {
	var f runFlags
	cmd := &cobra.Command{
		Use:   "run FILE|NAME... [--select key=value,...]",
		Short: "Run scenarios end to end and write their reports",
		Long: `Run a scenario (a file, or a name from the library: see 'rwxchaos list').
Writes <report-dir>/<scenario>/<run-id>/ (result.json, history, junit.xml,
summary.md, report.html) and prints the summary. Faults are healed on every
exit path, including Ctrl-C.

Several scenarios (names, files, and --select as 'rwxchaos list' takes it)
run one after another as the nightly suites run them: the kind ones on one
shared cluster, reset between scenarios and recreated only when a
scenario's cluster shape differs, created in the background while the
local ones run. An index over their reports is written to
<report-dir>/index.html (and .md, .json; the markdown is appended to
$GITHUB_STEP_SUMMARY when set). The nightly set from the installed binary:

  rwxchaos run --select set=nightly

Exit code: 1 when any scenario failed, else 3 when any could not be judged,
else 0; a bug-zoo scenario (label expect-anomaly) counts as passed when it
fails with its anomaly.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 && len(f.selects) == 0 {
				return usageErr("run: name a scenario (a file, or a library name: rwxchaos list), or select some with --select")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 && len(f.selects) == 0 {
				return runE(cmd, args[0], f)
			}
			return runManyE(cmd, args, f)
		},
	}
	cmd.Flags().Int64Var(&f.seed, "seed", 0, "seed for every random choice (replays a run); 0 = the scenario's, or random")
	cmd.Flags().StringVar(&f.reportDir, "report-dir", "reports", "base directory for reports")
	cmd.Flags().BoolVar(&f.keep, "keep", false, "leave the environment up after the run")
	cmd.Flags().BoolVarP(&f.quiet, "quiet", "q", false, "no progress output")
	cmd.Flags().StringSliceVar(&f.allowContext, "allow-context", nil, "provider existing: kube contexts this run may touch (any other is refused)")
	cmd.Flags().BoolVar(&f.dryRun, "dry-run", false, "print what the run would create and do (cluster, volume, manifests, fault schedule), create nothing; exits void (3)")
	cmd.Flags().StringArrayVar(&f.selects, "select", nil, "also run the library scenarios matching key=value[,key=value...] (keys provider, backend, set; as rwxchaos list --select); repeatable")
	cmd.Flags().StringVar(&f.appImage, "app-image", "", "a published rwxchaos image the nodes pull for the app (kind: instead of the image assembled from this binary; existing: required for workload pipeline)")
	return cmd
}

func runE(cmd *cobra.Command, arg string, f runFlags) error {
	s, err := loadScenario(arg)
	if err != nil {
		fmt.Fprintln(cmd.ErrOrStderr(), err)
		var list scenario.ErrorList
		if errors.As(err, &list) && list.Unsupported() {
			return &exitError{code: exitUsage, msg: "nothing was started: no provider can run this scenario as written (the reason is above)"}
		}
		if errors.As(err, &list) {
			return &exitError{code: exitUsage, msg: "invalid scenario: fix the errors above (rwxchaos validate " + arg + ")"}
		}
		return &exitError{code: exitUsage}
	}
	return runOne(cmd, s, f)
}

// runOne runs a loaded scenario on its own (or plans it, --dry-run).
func runOne(cmd *cobra.Command, s *scenario.Scenario, f runFlags) error {
	opts := f.providerOptions()
	out := cmd.OutOrStdout()
	o := runner.Options{Scenario: s, ReportDir: f.reportDir, Seed: f.seed, Keep: f.keep, StateDir: filepath.Join(stateDir(), "faults"),
		Providers: all.Default(opts), DryRun: f.dryRun}
	tty := isTTY(os.Stderr)
	o.Progress, o.Log = f.progress(cmd)
	markHealing() // from here on, a first Ctrl-C heals before exiting
	res, err := runner.Run(cmd.Context(), o)
	if tty && !f.quiet {
		fmt.Fprint(os.Stderr, "\r\033[K")
	}
	if errors.Is(err, runner.ErrNoDryRun) {
		return usageErr("--dry-run: %v", err)
	}
	if res == nil {
		return infraErr("%v", err)
	}
	if f.dryRun && res.Plan != "" {
		fmt.Fprintln(out, res.Plan)
		fmt.Fprintf(out, "Dry run: nothing was created. Plan and void report: %s\n", res.Dir)
		return verdictErr(res.Run)
	}
	if err != nil {
		fmt.Fprintln(cmd.ErrOrStderr(), "rwxchaos: the framework hit errors:", err)
	}
	fmt.Fprintln(out, report.Summary(res.Run))
	fmt.Fprintf(out, "\nReport: %s\n", filepath.Join(res.Dir, report.HTMLFile))
	return runVerdictErr(out, s, res.Run)
}

// providerOptions: the providers are handed to the runner explicitly; the
// existing cluster's guardrails and the app image come from the flags.
func (f runFlags) providerOptions() all.Options {
	var opts all.Options
	if len(f.allowContext) > 0 {
		opts.Existing.AllowContexts = f.allowContext
	}
	if f.appImage != "" {
		opts.Kind.AppImage = f.appImage
		opts.Existing.PipelineImage = f.appImage
	}
	return opts
}

// progress is where a run's status and log lines go: a redrawn status line
// on a terminal, plain log lines otherwise, nothing with --quiet.
func (f runFlags) progress(cmd *cobra.Command) (func(runner.Status), io.Writer) {
	switch {
	case f.quiet:
		return nil, nil
	case isTTY(os.Stderr):
		p := &ttyProgress{w: os.Stderr}
		return p.show, &clearingWriter{p: p}
	}
	return nil, cmd.ErrOrStderr()
}

// runManyE runs several scenarios as the nightly suites do
// (scenarios.Suite: one shared kind cluster, an index page).
func runManyE(cmd *cobra.Command, args []string, f runFlags) error {
	list, err := resolveMany(cmd, args, f.selects)
	if err != nil {
		return err
	}
	switch {
	case f.keep:
		return usageErr("--keep leaves one environment up: run one scenario with it, not %d", len(list))
	case f.dryRun:
		// A plan per scenario, nothing created; void (3) as for one.
		var worst error
		for _, s := range list {
			fmt.Fprintf(cmd.OutOrStdout(), "=== %s\n", s.Metadata.Name)
			if err := runOne(cmd, s, f); codeOf(err) != exitInfra || worst == nil {
				worst = err
			}
		}
		return worst
	}
	out := cmd.OutOrStdout()
	opts := f.providerOptions()
	so := scenarios.SuiteOptions{ReportDir: f.reportDir, Seed: f.seed, StateDir: filepath.Join(stateDir(), "faults"), Kind: opts.Kind}
	var log io.Writer
	so.Progress, log = f.progress(cmd)
	su := scenarios.NewSuiteWith("rwxchaos run", "", log, so)
	markHealing() // from here on, a first Ctrl-C heals before exiting
	kinds := 0
	for _, s := range list {
		if s.Cluster.Provider == scenario.ProviderKind {
			kinds++
		}
	}
	fmt.Fprintf(out, "Running %d scenarios one after another", len(list))
	if kinds > 1 {
		fmt.Fprintf(out, ", the %d kind ones on a shared cluster", kinds)
	}
	fmt.Fprintln(out, ":")
	passed, failed, unjudged := 0, 0, 0
	_, _ = su.RunAll(cmd.Context(), list, all.Default(opts), func(s *scenario.Scenario, v scenarios.Verdict) {
		if isTTY(os.Stderr) && !f.quiet {
			fmt.Fprint(os.Stderr, "\r\033[K")
		}
		code, what := manyOutcome(s, v)
		label := "unjudged"
		switch code {
		case exitPass:
			passed, label = passed+1, "pass"
		case exitFail:
			failed, label = failed+1, "FAIL"
		default:
			unjudged++
		}
		fmt.Fprintf(out, "%-9s %s: %s\n", label, s.Metadata.Name, what)
	})
	// The shared cluster goes even after Ctrl-C: a context of its own.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	index, cerr := su.Close(ctx)
	if index != "" {
		fmt.Fprintf(out, "\nIndex: %s\n", index)
	}
	fmt.Fprintf(out, "%d scenarios: %d passed, %d failed, %d not judged\n", len(list), passed, failed, unjudged)
	switch {
	case failed > 0:
		return &exitError{code: exitFail, msg: fmt.Sprintf("%d of %d scenarios failed", failed, len(list))}
	case unjudged > 0:
		return &exitError{code: exitInfra, msg: fmt.Sprintf("%d of %d scenarios could not be judged", unjudged, len(list))}
	case cerr != nil:
		return infraErr("suite: %v", cerr)
	}
	return nil
}

// manyOutcome is a suite run's exit code as `rwxchaos run` of that one
// scenario would give it, and a line saying why, with the report.
func manyOutcome(s *scenario.Scenario, v scenarios.Verdict) (int, string) {
	switch {
	case v.Skip != "":
		return exitInfra, "not run: " + v.Skip
	case v.Outcome == nil || v.Outcome.Run == nil:
		return exitInfra, firstLine(v.Failure)
	}
	r := v.Outcome.Run
	err := runVerdictErr(io.Discard, s, r)
	where := filepath.Join(v.Outcome.Dir, report.HTMLFile)
	if err != nil {
		return codeOf(err), fmt.Sprintf("%s (%s)", err, where)
	}
	if scenarios.CaughtAsExpected(s, r) {
		return exitPass, fmt.Sprintf("failed with %s, as this bug-zoo scenario must (%s)", s.Metadata.Labels[scenarios.LabelExpectAnomaly], where)
	}
	return exitPass, where
}

// codeOf is the exit code err stands for, as exitCode gives it, without
// printing its message.
func codeOf(err error) int {
	var ee *exitError
	switch {
	case err == nil:
		return exitPass
	case errors.As(err, &ee):
		return ee.code
	}
	return exitUsage
}

// resolveMany loads the named scenarios and those --select matches, each
// once, in the order given. Nothing runs unless every one loads and can
// run as written.
func resolveMany(cmd *cobra.Command, args, selects []string) ([]*scenario.Scenario, error) {
	var (
		list []*scenario.Scenario
		seen = map[string]bool{}
		bad  int
	)
	add := func(s *scenario.Scenario) {
		if !seen[s.Metadata.Name] {
			seen[s.Metadata.Name] = true
			list = append(list, s)
		}
	}
	for _, arg := range args {
		s, err := loadScenario(arg)
		if err != nil {
			fmt.Fprintln(cmd.ErrOrStderr(), err)
			bad++
			continue
		}
		add(s)
	}
	for _, e := range selects {
		flt, err := scenarios.ParseFilter(e)
		if err != nil {
			return nil, usageErr("--select: %v", err)
		}
		n := 0
		for _, name := range scenarios.Names() {
			s, err := scenarios.Load(name)
			if err == nil && !flt.Match(s) {
				continue
			}
			if err == nil {
				s, err = scenarios.OnDisk(s, "")
			}
			if err != nil {
				fmt.Fprintf(cmd.ErrOrStderr(), "library scenario %s: %v\n", name, err)
				bad++
				continue
			}
			n++
			add(s)
		}
		if n == 0 {
			return nil, usageErr("--select %s matches no library scenario (rwxchaos list)", e)
		}
	}
	if bad > 0 {
		return nil, usageErr("nothing was started: %d scenarios cannot run as written (the reasons are above; rwxchaos validate)", bad)
	}
	return list, nil
}

// runVerdictErr is verdictErr for a run of s. A bug-zoo scenario (label
// expect-anomaly) plants a defect in the app: its run must fail with the
// anomaly the label names, and then the command succeeds, as the suites
// judge it (scenarios.CaughtAsExpected); passing, or failing for other
// reasons, is a failure. The report keeps the checkers' verdict either way.
func runVerdictErr(out io.Writer, s *scenario.Scenario, r *report.Run) error {
	want := s.Metadata.Labels[scenarios.LabelExpectAnomaly]
	if want == "" || (r.Verdict != report.VerdictPass && r.Verdict != report.VerdictFail) {
		return verdictErr(r)
	}
	if scenarios.CaughtAsExpected(s, r) {
		fmt.Fprintf(out, "Verdict fail, as this bug-zoo scenario must (label %s: %s): the checkers caught the planted defect.\n", scenarios.LabelExpectAnomaly, want)
		return nil
	}
	var got []string
	for _, c := range report.AnomalyClasses(r.Check) {
		got = append(got, c.Class)
	}
	return &exitError{code: exitFail, msg: fmt.Sprintf("verdict: %s — this bug-zoo scenario must fail with %s (label %s), anomalies found: %v", r.Verdict, want, scenarios.LabelExpectAnomaly, got)}
}

func verdictErr(r *report.Run) error {
	switch r.Verdict {
	case report.VerdictPass:
		return nil
	case report.VerdictFail:
		return &exitError{code: exitFail, msg: "verdict: fail — an expectation did not hold"}
	case report.VerdictVoid:
		return &exitError{code: exitInfra, msg: "verdict: void — " + r.Reason}
	}
	return &exitError{code: exitInfra, msg: "verdict: error — " + firstLine(r.Reason)}
}

func isTTY(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0 && os.Getenv("TERM") != "dumb"
}

// ttyProgress redraws one status line. The runner's progress ticker and
// its log lines (from fault goroutines too) both write through it, so
// every write holds mu.
type ttyProgress struct {
	mu   sync.Mutex
	w    io.Writer
	last string
}

func (p *ttyProgress) show(st runner.Status) {
	p.mu.Lock()
	defer p.mu.Unlock()
	t := st.Traffic
	line := fmt.Sprintf("%-14s %5s  uploads %d/%d ok %d fail %d unknown %d  outputs %d",
		st.Phase, st.Elapsed.Round(time.Second), t.Done(), st.Target, t.OK, t.Fail, t.Unknown, st.Outputs)
	if ps := st.Publish; ps != nil {
		line = fmt.Sprintf("%-14s %5s  published v%d/%d  consumers %d/%d  loads %d torn %d errors %d",
			st.Phase, st.Elapsed.Round(time.Second), ps.Published, st.Target, len(ps.Seen), ps.Consumers, ps.Loads, ps.Torn, ps.LoadErrors)
	}
	if len(st.Faults) > 0 {
		line += "  faults: " + strings.Join(st.Faults, ", ")
	}
	p.last = line
	fmt.Fprintf(p.w, "\r\033[K%s", line)
}

// clearingWriter prints log lines above the status line.
type clearingWriter struct{ p *ttyProgress }

func (c *clearingWriter) Write(b []byte) (int, error) {
	c.p.mu.Lock()
	defer c.p.mu.Unlock()
	fmt.Fprintf(c.p.w, "\r\033[K%s", b)
	if c.p.last != "" {
		fmt.Fprint(c.p.w, c.p.last)
	}
	return len(b), nil
}
