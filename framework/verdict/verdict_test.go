package verdict

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rwxchaos/rwxchaos/framework/check"
	"github.com/rwxchaos/rwxchaos/framework/history"
	"github.com/rwxchaos/rwxchaos/framework/report"
	"github.com/rwxchaos/rwxchaos/framework/scenario"
)

// hb builds a history the way the services would write it, one clock.
type hb struct {
	t   int64
	seq map[string]int64
	h   history.History
}

func newHB() *hb {
	return &hb{t: time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC).UnixNano(), seq: map[string]int64{},
		h: history.History{Snapshot: &history.Snapshot{}}}
}

func key(i int) string { return fmt.Sprintf("X12/ACME/GLOBEX/%09d", i) }

func sha(k string) string {
	s := sha256.Sum256([]byte(k))
	return hex.EncodeToString(s[:])
}

func (b *hb) ev(proc, role, typ string, f func(*history.Event)) {
	b.t += int64(time.Millisecond)
	b.seq[proc]++
	e := history.Event{Proc: proc, Seq: b.seq[proc], Role: role, Type: typ, Call: b.t, Return: b.t + 1000, Outcome: history.OK}
	if f != nil {
		f(&e)
	}
	b.h.Events = append(b.h.Events, e)
}

func (b *hb) wait(d time.Duration) { b.t += int64(d) }

func (b *hb) upload(i int, outcome string) {
	b.ev("client-1", history.RoleClient, history.EvUpload, func(e *history.Event) { e.Key, e.SHA, e.Outcome = key(i), sha(key(i)), outcome })
}

func (b *hb) acquire(proc string, epoch uint64) {
	b.ev(proc, history.RoleEngine, history.EvLockAcquire, func(e *history.Event) { e.Epoch = epoch })
}

func (b *hb) release(proc string, epoch uint64) {
	b.ev(proc, history.RoleEngine, history.EvLockRelease, func(e *history.Event) { e.Epoch = epoch })
}

func (b *hb) process(proc string, epoch uint64, i int) {
	for _, typ := range []string{history.EvClaim, history.EvOutput, history.EvDone} {
		b.ev(proc, history.RoleEngine, typ, func(e *history.Event) { e.Key, e.SHA, e.Epoch = key(i), sha(key(i)), epoch })
	}
	b.file("default", i, proc, epoch)
}

func (b *hb) file(route string, i int, engine string, epoch uint64) {
	k := key(i)
	p := strings.Split(k, "/")
	b.h.Snapshot.Files = append(b.h.Snapshot.Files, history.File{
		Path: history.DirOutput + "/" + route + "/" + history.FileName(k) + ".json", Stage: history.StageOutput, Key: k,
		Docs: []history.OutputDoc{{Key: k, Format: p[0], Sender: p[1], Receiver: p[2], Control: p[3], Messages: 1,
			InputSHA: sha(k), Epoch: epoch, Engine: engine, Written: b.t}}})
}

func (b *hb) stuck(i int) {
	b.h.Snapshot.Files = append(b.h.Snapshot.Files, history.File{
		Path: history.DirInput + "/default/" + history.FileName(key(i)) + ".edi", Stage: history.StageInput, Key: key(i)})
}

// clean is a correct run: n uploads acked and processed under epoch 1.
func clean(n int) *hb {
	b := newHB()
	for i := 0; i < n; i++ {
		b.upload(i, history.OK)
	}
	b.acquire("engine-a", 1)
	for i := 0; i < n; i++ {
		b.process("engine-a", 1, i)
	}
	b.release("engine-a", 1)
	return b
}

type teeth struct {
	// set sets the field on an expectation spec that leaves everything
	// else unset; base (optional) is applied to both runs.
	set, base func(*scenario.ExpectSpec)
	// evidence violates the field: a history and what the run recorded.
	evidence func() (*history.History, *report.Run)
}

func ptr[T any](v T) *T { return &v }

// TestEveryExpectationHasTeeth walks every field of the scenario's expect:
// section (by reflection) and shows that setting it changes the verdict on
// evidence that violates it. A new field without a case here fails.
func TestEveryExpectationHasTeeth(t *testing.T) {
	cases := map[string]teeth{
		"noLoss": {set: func(e *scenario.ExpectSpec) { e.NoLoss = ptr(false) }, evidence: func() (*history.History, *report.Run) {
			b := clean(3)
			b.upload(9, history.OK) // acked, never output
			return &b.h, &report.Run{}
		}},
		"noDuplicates": {set: func(e *scenario.ExpectSpec) { e.NoDuplicates = ptr(false) }, evidence: func() (*history.History, *report.Run) {
			b := clean(3)
			b.file("other", 1, "engine-a", 1) // a second output file of key 1
			return &b.h, &report.Run{}
		}},
		"lockExclusive": {set: func(e *scenario.ExpectSpec) { e.LockExclusive = ptr(false) }, evidence: func() (*history.History, *report.Run) {
			b := clean(3)
			b.acquire("engine-b", 1) // epoch 1 granted twice
			b.release("engine-b", 1)
			return &b.h, &report.Run{}
		}},
		"lockRecoveredWithin": {set: func(e *scenario.ExpectSpec) { e.LockRecoveredWithin = scenario.Duration(time.Second) }, evidence: func() (*history.History, *report.Run) {
			b := clean(3)
			b.acquire("engine-n-100-1", 2)
			b.ev("runner-1", history.RoleRunner, history.EvProcExit, func(e *history.Event) { e.Target, e.Detail = "engine-n-100-1", "signal: killed" })
			b.wait(5 * time.Second)
			b.acquire("engine-n-101-2", 3)
			b.release("engine-n-101-2", 3)
			return &b.h, &report.Run{}
		}},
		"rescheduledWithin": {set: func(e *scenario.ExpectSpec) { e.RescheduledWithin = scenario.Duration(time.Minute) }, evidence: func() (*history.History, *report.Run) {
			return &clean(3).h, &report.Run{Observed: &report.Observed{Watched: true,
				Reschedules: []report.Reschedule{{Fault: "kill", Component: "webserver", From: "n1/ws-1", To: "n2", After: 2 * time.Minute}}}}
		}},
		"readyWithin": {set: func(e *scenario.ExpectSpec) { e.ReadyWithin = scenario.Duration(10 * time.Second) }, evidence: func() (*history.History, *report.Run) {
			t0 := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC).UnixNano()
			return &clean(3).h, &report.Run{Faults: []report.Fault{{Name: "kill", Action: "process-kill", Injected: t0, Verified: t0, Healed: t0,
				HealVerified: t0 + int64(30*time.Second)}}}
		}},
		"maxStuck": {set: func(e *scenario.ExpectSpec) { e.MaxStuck = 5 }, evidence: func() (*history.History, *report.Run) {
			b := clean(3)
			b.upload(7, history.OK)
			b.upload(8, history.OK)
			b.stuck(7)
			b.stuck(8)
			return &b.h, &report.Run{}
		}},
		"maxIndeterminate": {set: func(e *scenario.ExpectSpec) { e.MaxIndeterminate = 1 }, evidence: func() (*history.History, *report.Run) {
			b := clean(3)
			b.upload(7, history.Unknown) // no answer, never output
			b.upload(8, history.Unknown)
			return &b.h, &report.Run{}
		}},
		"latencyP99": {set: func(e *scenario.ExpectSpec) { e.LatencyP99 = scenario.Duration(time.Second) }, evidence: func() (*history.History, *report.Run) {
			b := newHB()
			for i := 0; i < 3; i++ {
				b.upload(i, history.OK)
			}
			b.wait(5 * time.Second) // every output 5 s after its ack
			b.acquire("engine-a", 1)
			for i := 0; i < 3; i++ {
				b.process("engine-a", 1, i)
			}
			b.release("engine-a", 1)
			return &b.h, &report.Run{}
		}},
		"steadyState.minUploads": {set: func(e *scenario.ExpectSpec) { e.SteadyState.MinUploads = 10 }, evidence: func() (*history.History, *report.Run) {
			return &clean(5).h, &report.Run{} // only 5 acked
		}},
		"steadyState.within": {
			base: func(e *scenario.ExpectSpec) { e.SteadyState.MinUploads = 10 },
			set:  func(e *scenario.ExpectSpec) { e.SteadyState.Within = scenario.Duration(5 * time.Second) },
			evidence: func() (*history.History, *report.Run) {
				b := newHB()
				for i := 0; i < 10; i++ {
					b.upload(i, history.OK)
					b.wait(2 * time.Second) // the 10th ack comes 18 s after the first upload
				}
				b.acquire("engine-a", 1)
				for i := 0; i < 10; i++ {
					b.process("engine-a", 1, i)
				}
				b.release("engine-a", 1)
				return &b.h, &report.Run{}
			}},
	}
	fields := ExpectFields()
	if len(fields) < 11 {
		t.Fatalf("ExpectFields found only %v", fields)
	}
	for _, f := range fields {
		t.Run(f, func(t *testing.T) {
			tc, ok := cases[f]
			if !ok {
				t.Fatalf("expect.%s has no case: add one showing that setting it changes the verdict on a run that violates it", f)
			}
			judge := func(set bool) *report.Run {
				var s scenario.Scenario
				if tc.base != nil {
					tc.base(&s.Expect)
				}
				if set {
					tc.set(&s.Expect)
				}
				h, r := tc.evidence()
				Judge(r, &s, h)
				return r
			}
			unset, set := judge(false), judge(true)
			if unset.Verdict == set.Verdict {
				t.Fatalf("setting expect.%s does not change the verdict: %s both times (%s / %s; failed %v / %v)",
					f, set.Verdict, unset.Reason, set.Reason, unset.Failed(), set.Failed())
			}
			t.Logf("unset: %s %s %v; set: %s %s %v", unset.Verdict, unset.Reason, unset.Failed(), set.Verdict, set.Reason, set.Failed())
		})
	}
	for f := range cases {
		if !slices.Contains(fields, f) {
			t.Errorf("case %s names no expect: field", f)
		}
	}
}

// TestEngineJobOverlapsIsInfo: an observation shown for context that can
// neither pass nor fail a run.
func TestEngineJobOverlapsIsInfo(t *testing.T) {
	for _, n := range []int{0, 3} {
		r := &report.Run{Observed: &report.Observed{Watched: true, OverlappingJobs: n}}
		Judge(r, &scenario.Scenario{}, &clean(3).h)
		var row *report.Expectation
		for i := range r.Expectations {
			if r.Expectations[i].Name == "engineJobOverlaps" {
				row = &r.Expectations[i]
			}
		}
		if row == nil || row.Status != check.Info || row.Got != fmt.Sprint(n) || r.Verdict != report.VerdictPass {
			t.Fatalf("%d overlaps: %+v, verdict %s", n, row, r.Verdict)
		}
	}
}

func TestDecide(t *testing.T) {
	pass := &check.Result{Status: check.Pass, Checks: []check.CheckResult{{Name: "a", Status: check.Pass}}}
	fail := &check.Result{Status: check.Fail, Checks: []check.CheckResult{{Name: "a", Status: check.Fail}}}
	void := &check.Result{Status: check.Void, Checks: []check.CheckResult{{Name: "history", Status: check.Void, Message: "no traffic"}}}
	crash := &check.Result{Status: check.Void, Crash: "index out of range\ngoroutine 1"}
	for _, tc := range []struct {
		name string
		r    report.Run
		want report.Verdict
		why  string
	}{
		{"pass", report.Run{Check: pass}, report.VerdictPass, ""},
		{"fail", report.Run{Check: fail}, report.VerdictFail, ""},
		{"expectation fails", report.Run{Check: pass, Expectations: []report.Expectation{{Name: "x", Status: check.Fail}}}, report.VerdictFail, ""},
		{"info never fails", report.Run{Check: pass, Expectations: []report.Expectation{{Name: "x", Status: check.Info}}}, report.VerdictPass, ""},
		{"void check", report.Run{Check: void}, report.VerdictVoid, "history: no traffic"},
		{"void recorded wins over errors", report.Run{Check: fail, Void: "no steady state", Errors: []string{"x"}}, report.VerdictVoid, "no steady state"},
		{"framework error", report.Run{Check: pass, Errors: []string{"collect: boom"}}, report.VerdictError, "collect: boom"},
		{"fault error", report.Run{Check: fail, Faults: []report.Fault{{Name: "f", Err: "could not heal"}}}, report.VerdictError, "could not heal"},
		{"incomplete", report.Run{Check: pass, Incomplete: "no result.json"}, report.VerdictError, "incomplete run directory: no result.json"},
		{"checker crash", report.Run{Check: crash}, report.VerdictError, "index out of range"},
		{"no check", report.Run{}, report.VerdictError, "no history"},
		// A phase error alone is not a verdict: what matters was recorded in Errors.
		{"phase error only", report.Run{Check: pass, Phases: []report.Phase{{Name: "teardown", Err: "slow"}}}, report.VerdictPass, ""},
	} {
		v, why := Decide(&tc.r)
		if v != tc.want || !strings.Contains(why, tc.why) {
			t.Errorf("%s: %s (%s), want %s (%s)", tc.name, v, why, tc.want, tc.why)
		}
	}
}

func TestSetExpect(t *testing.T) {
	var e scenario.ExpectSpec
	for _, kv := range [][2]string{{"noLoss", "false"}, {"lockRecoveredWithin", "7s"}, {"steadyState.minUploads", "5"}, {"maxStuck", "2"}} {
		if err := SetExpect(&e, kv[0], kv[1]); err != nil {
			t.Fatal(err)
		}
	}
	if *e.NoLoss || e.LockRecoveredWithin.D() != 7*time.Second || e.SteadyState.MinUploads != 5 || e.MaxStuck != 2 {
		t.Fatalf("%+v", e)
	}
	for _, kv := range [][2]string{{"noLos", "false"}, {"noLoss", "maybe"}, {"maxStuck", "-1"}, {"latencyP99", "fast"}, {"steadyState", "1"}} {
		if err := SetExpect(&e, kv[0], kv[1]); err == nil {
			t.Errorf("%s=%s accepted", kv[0], kv[1])
		}
	}
}
