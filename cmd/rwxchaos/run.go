package main

import (
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
}

func newRunCmd() *cobra.Command {
	var f runFlags
	cmd := &cobra.Command{
		Use:   "run FILE|NAME",
		Short: "Run a scenario end to end and write its report",
		Long: `Run a scenario (a file, or a name from the library: see 'rwxchaos list').
Writes <report-dir>/<scenario>/<run-id>/ (result.json, history, junit.xml,
summary.md, report.html) and prints the summary. Faults are healed on every
exit path, including Ctrl-C.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return runE(cmd, args[0], f) },
	}
	cmd.Flags().Int64Var(&f.seed, "seed", 0, "seed for every random choice (replays a run); 0 = the scenario's, or random")
	cmd.Flags().StringVar(&f.reportDir, "report-dir", "reports", "base directory for reports")
	cmd.Flags().BoolVar(&f.keep, "keep", false, "leave the environment up after the run")
	cmd.Flags().BoolVarP(&f.quiet, "quiet", "q", false, "no progress output")
	cmd.Flags().StringSliceVar(&f.allowContext, "allow-context", nil, "provider existing: kube contexts this run may touch (any other is refused)")
	cmd.Flags().BoolVar(&f.dryRun, "dry-run", false, "print what the run would create and do (cluster, volume, manifests, fault schedule), create nothing; exits void (3)")
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
	// The providers are handed to the runner explicitly; the existing
	// cluster's guardrails and the app image come from the flags.
	var opts all.Options
	if len(f.allowContext) > 0 {
		opts.Existing.AllowContexts = f.allowContext
	}
	if f.appImage != "" {
		opts.Kind.AppImage = f.appImage
		opts.Existing.PipelineImage = f.appImage
	}
	out := cmd.OutOrStdout()
	o := runner.Options{Scenario: s, ReportDir: f.reportDir, Seed: f.seed, Keep: f.keep, StateDir: filepath.Join(stateDir(), "faults"),
		Providers: all.Default(opts), DryRun: f.dryRun}
	tty := isTTY(os.Stderr)
	if !f.quiet {
		if tty {
			p := &ttyProgress{w: os.Stderr}
			o.Progress = p.show
			o.Log = &clearingWriter{p: p}
		} else {
			o.Log = cmd.ErrOrStderr()
		}
	}
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
