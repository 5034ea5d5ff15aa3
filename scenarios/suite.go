package scenarios

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/rwxchaos/rwxchaos/framework/lab"
	"github.com/rwxchaos/rwxchaos/framework/provider"
	"github.com/rwxchaos/rwxchaos/framework/report"
	"github.com/rwxchaos/rwxchaos/framework/runner"
	"github.com/rwxchaos/rwxchaos/framework/scenario"
)

// Verdict is what a test suite does with a finished run.
type Verdict struct {
	Outcome *runner.Outcome
	// Skip is non-empty when the scenario cannot run here (and why).
	Skip string
	// Failure is non-empty when the run did not pass (and why, with the report path).
	Failure string
}

// Gate says whether a scenario can run in this environment, before running
// it: "" to run, else the reason to skip. Kind scenarios need the lab and
// take minutes each, so RWXCHAOS_LAB picks how many run: 1 (or CI=true,
// where the lab is required) the ones labelled `tier: ci`; nightly those
// labelled `tier: ci` or `tier: nightly` (the nightly set, sized for 20
// minutes on 2 cores); all every kind scenario of the library.
func Gate(s *scenario.Scenario) string {
	switch s.Cluster.Provider {
	case scenario.ProviderLocal:
		return ""
	case scenario.ProviderKind:
		lab := os.Getenv("RWXCHAOS_LAB")
		if err := CheckLabEnv(); err != nil {
			return err.Error()
		}
		switch {
		case lab == "all":
			return ""
		case lab == "nightly":
			if InSet(s, SetNightly) {
				return ""
			}
			return "kind scenario outside the nightly set (tiers ci and nightly): RWXCHAOS_LAB=all runs it (the whole library)"
		case lab == "1" || os.Getenv("CI") == "true":
			if InSet(s, SetCI) {
				return ""
			}
			return "kind scenario outside the CI tier: RWXCHAOS_LAB=nightly runs the nightly set, RWXCHAOS_LAB=all the whole library"
		}
		return "kind scenario: set RWXCHAOS_LAB=1 after `make lab` to run it against the lab's kind cluster"
	case scenario.ProviderExisting:
		if os.Getenv("RWXCHAOS_KUBECONFIG") != "" {
			return ""
		}
		return "existing-cluster scenario: set RWXCHAOS_KUBECONFIG (and RWXCHAOS_ALLOW_CONTEXT) to run it against a cluster you own"
	}
	return fmt.Sprintf("provider %s is not known to this suite", s.Cluster.Provider)
}

// CheckLabEnv refuses an RWXCHAOS_LAB value Gate does not know (a typo
// would otherwise skip every kind scenario and pass): nil when it is empty,
// 1, nightly or all.
func CheckLabEnv() error {
	switch v := os.Getenv("RWXCHAOS_LAB"); v {
	case "", "1", "nightly", "all":
		return nil
	default:
		return fmt.Errorf("RWXCHAOS_LAB=%q: want 1 (the CI tier), nightly (tiers ci and nightly) or all (every kind scenario)", v)
	}
}

// Run runs one scenario through the one runner with the given providers (the
// suites pass provider/all.Default, as the CLI does), writing its report
// under ReportDir().
func Run(ctx context.Context, s *scenario.Scenario, providers provider.Set) Verdict {
	if s.Cluster.Provider == scenario.ProviderKind {
		// One kind cluster at a time on the machine: the suites and other
		// test packages run in parallel under `go test ./...`.
		release, _, err := lab.LockForTest(ctx)
		if err != nil {
			return Verdict{Failure: err.Error()}
		}
		defer release()
	}
	if s.Cluster.Provider == scenario.ProviderLocal {
		release, _, err := lockLocal(ctx)
		if err != nil {
			return Verdict{Failure: err.Error()}
		}
		defer release()
	}
	out, err := runner.Run(ctx, runner.Options{Scenario: s, ReportDir: ReportDir(), Providers: providers})
	return judge(s, out, err)
}

// judge turns a finished run into what a suite does with it.
func judge(s *scenario.Scenario, out *runner.Outcome, err error) Verdict {
	v := Verdict{Outcome: out}
	switch {
	case out == nil:
		v.Failure = fmt.Sprintf("the runner could not start: %v", err)
	case out.Unsupported != "":
		v.Skip = out.Unsupported
	case s.Metadata.Labels[LabelExpectAnomaly] != "":
		// A bug-zoo scenario: it must fail, for exactly this reason.
		want := s.Metadata.Labels[LabelExpectAnomaly]
		if !CaughtAsExpected(s, out.Run) {
			v.Failure = fmt.Sprintf("expected the checkers to catch %q, got verdict %s with anomalies %v\nreport: %s",
				want, out.Run.Verdict, report.AnomalyClasses(out.Run.Check), filepath.Join(out.Dir, report.HTMLFile))
		}
	case out.Run.Verdict != report.VerdictPass:
		msg := []string{fmt.Sprintf("verdict %s %s", out.Run.Verdict, out.Run.Reason)}
		if out.Run.Check != nil {
			for _, c := range out.Run.Check.Checks {
				if c.Status != "pass" && c.Status != "skip" {
					msg = append(msg, fmt.Sprintf("%s: %s", c.Name, c.Message))
				}
			}
		}
		for _, e := range out.Run.Expectations {
			if e.Status == "fail" {
				msg = append(msg, fmt.Sprintf("expect %s: want %s, got %s", e.Name, e.Want, e.Got))
			}
		}
		msg = append(msg, "report: "+filepath.Join(out.Dir, report.HTMLFile), "replay: "+report.ReplayCommand(out.Run))
		v.Failure = strings.Join(msg, "\n")
	}
	return v
}

// LabelExpectAnomaly marks a bug-zoo scenario: the run must fail and the
// checkers must report this anomaly class (e.g. stolen-lease, duplicated).
const LabelExpectAnomaly = "expect-anomaly"

// CaughtAsExpected says whether a bug-zoo scenario's run (label
// expect-anomaly) failed with the anomaly its label names, as it must. The
// suites and `rwxchaos run` judge a bug-zoo run by it; false for a scenario
// without the label.
func CaughtAsExpected(s *scenario.Scenario, r *report.Run) bool {
	want := s.Metadata.Labels[LabelExpectAnomaly]
	return want != "" && r != nil && r.Verdict == report.VerdictFail && hasAnomaly(r, want)
}

func hasAnomaly(r *report.Run, class string) bool {
	if r.Check == nil {
		return false
	}
	if r.Check.Classes[class] > 0 {
		return true
	}
	for _, c := range r.Check.Checks {
		for _, a := range c.Anomalies {
			if a.Class == class {
				return true
			}
		}
	}
	return false
}

// ReportDir is where suite runs write reports: $RWXCHAOS_REPORT_DIR, else
// reports/ at the module root.
func ReportDir() string {
	if d := os.Getenv("RWXCHAOS_REPORT_DIR"); d != "" {
		return d
	}
	dir, _ := os.Getwd()
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return filepath.Join(d, "reports")
		}
		if filepath.Dir(d) == d {
			return filepath.Join(dir, "reports")
		}
	}
}

// Labels are a scenario's metadata labels plus provider, backend and name,
// for suite filters (e2e-framework --labels, ginkgo --label-filter). The
// last three come from the spec, so a filter on them selects what runs,
// whatever the file's labels say (TestLibraryLabelsAgree keeps the
// library's written labels equal to them).
func Labels(s *scenario.Scenario) map[string]string {
	l := map[string]string{}
	for k, v := range s.Metadata.Labels {
		l[k] = v
	}
	l["provider"], l["backend"], l["scenario"] = string(s.Cluster.Provider), string(s.Storage.Backend), s.Metadata.Name
	return l
}
