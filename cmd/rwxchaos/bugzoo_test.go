package main

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/rwxchaos/rwxchaos/framework/check"
	"github.com/rwxchaos/rwxchaos/framework/report"
	"github.com/rwxchaos/rwxchaos/framework/runner"
	"github.com/rwxchaos/rwxchaos/framework/scenario"
	"github.com/rwxchaos/rwxchaos/scenarios"
)

// A bug-zoo scenario's run succeeds only when it fails with the anomaly its
// label names, as the suites judge it; other scenarios keep verdictErr.
func TestRunVerdictBugZoo(t *testing.T) {
	zoo := &scenario.Scenario{}
	zoo.Metadata.Labels = map[string]string{scenarios.LabelExpectAnomaly: check.ClassDuplicated}
	plain := &scenario.Scenario{}
	run := func(verdict report.Verdict, classes map[string]int) *report.Run {
		return &report.Run{Verdict: verdict, Check: &check.Result{Classes: classes}}
	}
	dup := map[string]int{check.ClassDuplicated: 2}
	lost := map[string]int{check.ClassLost: 1}
	for _, c := range []struct {
		name string
		s    *scenario.Scenario
		r    *report.Run
		code int // 0 = success
		say  string
	}{
		{"caught", zoo, run(report.VerdictFail, dup), 0, "as this bug-zoo scenario must"},
		{"missed", zoo, run(report.VerdictPass, nil), exitFail, "must fail with duplicated"},
		{"other anomaly", zoo, run(report.VerdictFail, lost), exitFail, "anomalies found: [lost]"},
		{"void stays void", zoo, run(report.VerdictVoid, nil), exitInfra, "void"},
		{"plain fail", plain, run(report.VerdictFail, dup), exitFail, "an expectation did not hold"},
		{"plain pass", plain, run(report.VerdictPass, nil), 0, ""},
	} {
		var out bytes.Buffer
		err := runVerdictErr(&out, c.s, c.r)
		code, msg := 0, out.String()
		var ee *exitError
		if errors.As(err, &ee) {
			code, msg = ee.code, ee.msg
		} else if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if code != c.code || !strings.Contains(msg, c.say) {
			t.Errorf("%s: exit %d %q, want exit %d saying %q", c.name, code, msg, c.code, c.say)
		}
	}
}

// A run among several is counted as `rwxchaos run` of that scenario alone
// would exit: passed (a bug-zoo scenario when caught), failed, or not judged.
func TestManyOutcome(t *testing.T) {
	zoo := &scenario.Scenario{}
	zoo.Metadata.Labels = map[string]string{scenarios.LabelExpectAnomaly: check.ClassDuplicated}
	plain := &scenario.Scenario{}
	ran := func(verdict report.Verdict, classes map[string]int) scenarios.Verdict {
		return scenarios.Verdict{Outcome: &runner.Outcome{Dir: "reports/x/1", Run: &report.Run{Verdict: verdict, Reason: "why", Check: &check.Result{Classes: classes}}}}
	}
	dup := map[string]int{check.ClassDuplicated: 1}
	for _, c := range []struct {
		name string
		s    *scenario.Scenario
		v    scenarios.Verdict
		code int
		say  string
	}{
		{"pass", plain, ran(report.VerdictPass, nil), exitPass, "reports/x/1/report.html"},
		{"fail", plain, ran(report.VerdictFail, dup), exitFail, "an expectation did not hold"},
		{"void", plain, ran(report.VerdictVoid, nil), exitInfra, "void — why"},
		{"zoo caught", zoo, ran(report.VerdictFail, dup), exitPass, "failed with duplicated, as this bug-zoo scenario must"},
		{"zoo missed", zoo, ran(report.VerdictPass, nil), exitFail, "must fail with duplicated"},
		{"skipped", plain, scenarios.Verdict{Skip: "not started: interrupted"}, exitInfra, "not run: not started"},
		{"no runner", plain, scenarios.Verdict{Failure: "the runner could not start: x"}, exitInfra, "could not start"},
	} {
		code, what := manyOutcome(c.s, c.v)
		if code != c.code || !strings.Contains(what, c.say) {
			t.Errorf("%s: %d %q, want %d saying %q", c.name, code, what, c.code, c.say)
		}
	}
}
