package runner

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rwxchaos/rwxchaos/framework/fault"
	"github.com/rwxchaos/rwxchaos/framework/history"
	"github.com/rwxchaos/rwxchaos/framework/provider"
	"github.com/rwxchaos/rwxchaos/framework/report"
	"github.com/rwxchaos/rwxchaos/framework/scenario"
	"github.com/rwxchaos/rwxchaos/framework/support"
)

// fakeEnv is a provider.Env with a perfect in-memory pipeline: every upload
// it acknowledges becomes exactly one output (unless told to lose some),
// and its faults only record what was done to them.
type fakeEnv struct {
	cfg provider.Config
	srv *httptest.Server

	// knobs
	provisionErr error
	faultErr     error  // returned by Fault
	panicAt      string // "deploy", "fault:<fault name>" (resolving it) or "inject:<fault name>"
	lose         int    // acked uploads to leave without output
	status       int    // upload answer; 0 = 200

	mu      sync.Mutex
	active  map[string]int // target -> times injected and not healed
	healed  []string
	dropped bool // Teardown called
}

func (e *fakeEnv) Name() string { return "local" }

func (e *fakeEnv) Provision(context.Context) error { return e.provisionErr }

func (e *fakeEnv) Deploy(context.Context) error {
	if e.panicAt == "deploy" {
		panic("deploy bug")
	}
	status := e.status
	if status == 0 {
		status = http.StatusOK
	}
	e.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(status)
	}))
	return nil
}

func (e *fakeEnv) Endpoints() []string { return []string{e.srv.URL} }

func (e *fakeEnv) Fault(_ context.Context, spec scenario.FaultSpec, _ *rand.Rand) ([]fault.Fault, error) {
	if e.panicAt == "fault:"+spec.Name {
		panic("resolve bug")
	}
	if e.faultErr != nil {
		return nil, e.faultErr
	}
	return []fault.Fault{&fakeFault{env: e, name: spec.Name, action: string(spec.Action)}}, nil
}

func (e *fakeEnv) Drain(context.Context, time.Duration) error { return nil }

// Collect turns every acked upload in the client journal into what a
// perfect engine leaves behind (minus the ones to lose): under lock epoch 1,
// a claim, an output event and a done per interchange, and one output file
// holding its document.
func (e *fakeEnv) Collect(_ context.Context, dir string) (*history.History, provider.Observations, error) {
	evs, _, err := history.ReadJournalDir(filepath.Join(dir, "journals"))
	if err != nil {
		return nil, provider.Observations{}, err
	}
	const engine = "engine-fake"
	var out []history.Event
	t := time.Now().UnixNano()
	add := func(ev history.Event) {
		t += 1000
		ev.Proc, ev.Role, ev.Seq, ev.Call, ev.Return = engine, history.RoleEngine, int64(len(out)+1), t, t+500
		t += 500
		out = append(out, ev)
	}
	snap := &history.Snapshot{}
	add(history.Event{Type: history.EvLockAcquire, Epoch: 1})
	lost := 0
	for _, ev := range evs {
		if ev.Type != history.EvUpload || ev.Outcome != history.OK {
			continue
		}
		if lost < e.lose {
			lost++
			continue
		}
		path := "botssys/outfile/default/" + history.FileName(ev.Key) + ".json"
		add(history.Event{Type: history.EvClaim, Key: ev.Key, Epoch: 1})
		add(history.Event{Type: history.EvOutput, Key: ev.Key, Epoch: 1, Path: path})
		written := t
		add(history.Event{Type: history.EvDone, Key: ev.Key, Epoch: 1})
		parts := strings.Split(ev.Key, "/")
		snap.Files = append(snap.Files, history.File{Path: path, Size: 100, Docs: []history.OutputDoc{{
			Key: ev.Key, Format: parts[0], Sender: parts[1], Receiver: parts[2], Control: parts[3],
			Messages: max(ev.Msgs, 1), InputSHA: ev.SHA, Epoch: 1, Engine: engine, Written: written}}})
	}
	add(history.Event{Type: history.EvLockRelease, Epoch: 1})
	snap.Taken = t + 1000
	return &history.History{Events: out, Snapshot: snap}, provider.Observations{}, nil
}

func (e *fakeEnv) Teardown(context.Context) error {
	if e.srv != nil {
		e.srv.Close()
	}
	e.mu.Lock()
	e.dropped = true
	e.mu.Unlock()
	return nil
}

func (e *fakeEnv) stillActive() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []string
	for t, n := range e.active {
		if n > 0 {
			out = append(out, t)
		}
	}
	return out
}

type fakeFault struct {
	env          *fakeEnv
	name, action string
}

func (f *fakeFault) Name() string   { return f.name }
func (f *fakeFault) Action() string { return f.action }
func (f *fakeFault) Target() string { return "fake/" + f.name }
func (f *fakeFault) Inject(context.Context) error {
	f.env.mu.Lock()
	if f.env.active == nil {
		f.env.active = map[string]int{}
	}
	f.env.active[f.Target()]++
	panicky := f.env.panicAt == "inject:"+f.name
	f.env.mu.Unlock()
	if panicky {
		panic("inject bug")
	}
	return nil
}
func (f *fakeFault) Verify(context.Context) error { return nil }
func (f *fakeFault) Heal(context.Context) error {
	f.env.mu.Lock()
	defer f.env.mu.Unlock()
	if f.env.active[f.Target()] > 0 {
		f.env.active[f.Target()]--
		f.env.healed = append(f.env.healed, f.name)
	}
	return nil
}
func (f *fakeFault) VerifyHealed(context.Context) error { return nil }
func (f *fakeFault) Undo() *fault.Undo                  { return nil }

// planning is a fakeEnv that can do dry runs.
type planning struct{ *fakeEnv }

func (p planning) Plan(context.Context) (string, error) { return "fake: would start nothing much", nil }

const head = `apiVersion: rwxchaos.dev/v1alpha1
kind: Scenario
metadata: {name: fake}
cluster: {provider: local}
workload:
  traffic: {count: 60, rate: 300}
expect:
  lockExclusive: false
  lockRecoveredWithin: 0
  steadyState: {minUploads: 10, within: 5s}
run: {timeout: 30s, settle: 1s, seed: 7}
`

func parse(t *testing.T, faults string) *scenario.Scenario {
	t.Helper()
	s, err := scenario.Parse("fake.yaml", []byte(head+faults))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func runFake(t *testing.T, ctx context.Context, s *scenario.Scenario, env provider.Env, o Options) *Outcome {
	t.Helper()
	o.Scenario = s
	o.ReportDir = t.TempDir()
	o.StateDir = filepath.Join(o.ReportDir, "state")
	o.Providers = provider.Set{scenario.ProviderLocal: func(pc provider.Config) (provider.Env, error) {
		if fe, ok := env.(*fakeEnv); ok {
			fe.cfg = pc
		}
		return env, nil
	}}
	var log strings.Builder
	var logMu sync.Mutex
	o.Log = writerFunc(func(b []byte) (int, error) {
		logMu.Lock()
		defer logMu.Unlock()
		return log.Write(b)
	})
	out, err := Run(ctx, o)
	if out == nil {
		t.Fatalf("Run: no outcome: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			logMu.Lock()
			t.Logf("run log:\n%s", log.String())
			logMu.Unlock()
		}
	})
	return out
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(b []byte) (int, error) { return f(b) }

func phaseEnd(t *testing.T, rep *report.Run, name string) int64 {
	t.Helper()
	for _, p := range rep.Phases {
		if p.Name == name {
			return p.End
		}
	}
	t.Fatalf("no phase %s in %+v", name, rep.Phases)
	return 0
}

func firings(rep *report.Run, name string) []report.Fault {
	var out []report.Fault
	for _, f := range rep.Faults {
		if f.Name == name {
			out = append(out, f)
		}
	}
	return out
}

// The runner plays schedules as written: at from steady state, after
// another fault has healed, every+times with the pause between a heal and
// the next injection. Only lower bounds are asserted (a loaded machine can
// be late, never early).
func TestSchedules(t *testing.T) {
	s := parse(t, `faults:
  - {name: a, action: process-pause, target: {role: webserver}, duration: 200ms, schedule: {at: 300ms}}
  - {name: b, action: process-pause, target: {role: webserver}, duration: 100ms, schedule: {after: a, at: 200ms}}
  - {name: c, action: process-kill, target: {role: engine}, schedule: {after: b, every: 150ms, times: 3}}
`)
	env := &fakeEnv{}
	out := runFake(t, context.Background(), s, env, Options{})
	rep := out.Run
	if rep.Verdict != report.VerdictPass {
		t.Fatalf("verdict %s: %s; expectations %+v", rep.Verdict, rep.Reason, rep.Expectations)
	}
	steady := phaseEnd(t, rep, report.PhaseSteadyState)
	ms := func(n int64) int64 { return n * int64(time.Millisecond) }
	a, b, c := firings(rep, "a"), firings(rep, "b"), firings(rep, "c")
	if len(a) != 1 || len(b) != 1 || len(c) != 3 {
		t.Fatalf("firings: a %d, b %d, c %d; want 1, 1, 3", len(a), len(b), len(c))
	}
	if a[0].Injected < steady+ms(300) {
		t.Errorf("a injected %s after steady state, want ≥ 300ms", time.Duration(a[0].Injected-steady))
	}
	if a[0].Healed-a[0].Injected < ms(200) {
		t.Errorf("a held %s, want ≥ 200ms", time.Duration(a[0].Healed-a[0].Injected))
	}
	if b[0].Injected < a[0].HealVerified+ms(200) {
		t.Errorf("b injected %s after a healed, want ≥ 200ms", time.Duration(b[0].Injected-a[0].HealVerified))
	}
	if c[0].Injected < b[0].HealVerified {
		t.Errorf("c fired before b healed")
	}
	for k := 1; k < 3; k++ {
		if gap := c[k].Injected - c[k-1].HealVerified; gap < ms(150) {
			t.Errorf("c firing %d came %s after the previous heal, want ≥ 150ms", k+1, time.Duration(gap))
		}
	}
	if left := env.stillActive(); len(left) > 0 {
		t.Errorf("faults left active: %v", left)
	}
	if !env.dropped {
		t.Error("environment not torn down")
	}
}

// An action the environment cannot do makes the run void with the reason
// (suites skip it): never a pass, never a failure.
func TestUnsupportedIsVoid(t *testing.T) {
	s := parse(t, `faults:
  - {name: a, action: process-pause, target: {role: webserver}, duration: 100ms}
`)
	for name, env := range map[string]*fakeEnv{
		"at provision": {provisionErr: &support.Unsupported{Action: "backend x", Env: "local", Reason: "no x here"}},
		"at fault":     {faultErr: &support.Unsupported{Action: "process-pause", Env: "local", Reason: "not today"}},
	} {
		t.Run(name, func(t *testing.T) {
			out := runFake(t, context.Background(), s, env, Options{})
			if out.Run.Verdict != report.VerdictVoid || out.Unsupported == "" || !strings.Contains(out.Run.Reason, "cannot run here") {
				t.Fatalf("verdict %s (%s), unsupported %q; want void with the reason", out.Run.Verdict, out.Run.Reason, out.Unsupported)
			}
		})
	}
}

// Verdicts from evidence: a perfect pipeline passes, one lost upload fails,
// no traffic before the faults is void, and a fault that cannot resolve its
// target is an error of the run.
func TestVerdicts(t *testing.T) {
	s := parse(t, `faults:
  - {name: a, action: process-pause, target: {role: webserver}, duration: 100ms}
`)
	for _, tc := range []struct {
		name string
		env  *fakeEnv
		want report.Verdict
		why  string
	}{
		{"pass", &fakeEnv{}, report.VerdictPass, ""},
		{"lost upload fails", &fakeEnv{lose: 1}, report.VerdictFail, ""},
		{"no steady state is void", &fakeEnv{status: http.StatusServiceUnavailable}, report.VerdictVoid, "no steady state"},
		{"no target is an error", &fakeEnv{faultErr: errors.New("no running webserver")}, report.VerdictError, "no running webserver"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := runFake(t, context.Background(), s, tc.env, Options{})
			if out.Run.Verdict != tc.want || !strings.Contains(out.Run.Reason, tc.why) {
				t.Fatalf("verdict %s (%s), want %s (%s); expectations %+v", out.Run.Verdict, out.Run.Reason, tc.want, tc.why, out.Run.Expectations)
			}
			if _, err := os.Stat(filepath.Join(out.Dir, report.HTMLFile)); err != nil {
				t.Errorf("no report written: %v", err)
			}
		})
	}
}

// A panic anywhere (a provider bug) ends the run as an error naming it, and
// a fault still holding is healed at once, not at the end of its duration.
func TestPanicHeals(t *testing.T) {
	s := parse(t, `faults:
  - {name: long, action: process-pause, target: {role: webserver}, duration: 20s}
  - {name: bad, action: process-pause, target: {role: webserver}, duration: 100ms, schedule: {at: 300ms}}
`)
	for _, at := range []string{"inject:bad", "fault:bad", "deploy"} {
		t.Run(at, func(t *testing.T) {
			env := &fakeEnv{panicAt: at}
			start := time.Now()
			out := runFake(t, context.Background(), s, env, Options{})
			if out.Run.Verdict != report.VerdictError || !strings.Contains(out.Run.Reason, "panic") {
				t.Errorf("verdict %s (%.300s), want error naming the panic", out.Run.Verdict, out.Run.Reason)
			}
			if left := env.stillActive(); len(left) > 0 {
				t.Errorf("faults left active after a panic: %v", left)
			}
			if took := time.Since(start); took > 15*time.Second {
				t.Errorf("run took %s: the 20s fault was not cut short by the panic", took.Round(time.Millisecond))
			}
			if at != "deploy" && !slicesContains(env.healed, "long") {
				t.Errorf("the holding fault was not healed: healed %v", env.healed)
			}
		})
	}
}

func slicesContains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// Cancelling the run (Ctrl-C, SIGTERM) while a fault holds heals it, and
// Run returns promptly with an error verdict.
func TestCancelMidFaultHeals(t *testing.T) {
	s := parse(t, `faults:
  - {name: long, action: process-pause, target: {role: webserver}, duration: 20s}
`)
	env := &fakeEnv{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		// Cancel once the fault is in place.
		for len(env.stillActive()) == 0 {
			if ctx.Err() != nil {
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
		cancel()
	}()
	start := time.Now()
	out := runFake(t, ctx, s, env, Options{})
	if took := time.Since(start); took > 15*time.Second {
		t.Errorf("Run took %s after a cancel mid-fault", took)
	}
	if left := env.stillActive(); len(left) > 0 {
		t.Fatalf("fault left active after cancel: %v", left)
	}
	if len(env.healed) != 1 {
		t.Errorf("healed %v, want the one fault", env.healed)
	}
	if out.Run.Verdict != report.VerdictError || !strings.Contains(out.Run.Reason, "interrupted") {
		t.Errorf("verdict %s (%s), want error: interrupted", out.Run.Verdict, out.Run.Reason)
	}
}

// Dry run: a provider that can plan prints it with the resolved fault
// schedule and the run is void; one that cannot is refused before anything
// is written.
func TestDryRun(t *testing.T) {
	s := parse(t, `faults:
  - {name: a, action: process-pause, target: {role: webserver}, duration: 2s, schedule: {at: 1s}}
`)
	env := &fakeEnv{}
	out := runFake(t, context.Background(), s, planning{env}, Options{DryRun: true})
	if out.Run.Verdict != report.VerdictVoid || !strings.Contains(out.Run.Reason, "dry run") {
		t.Fatalf("verdict %s (%s)", out.Run.Verdict, out.Run.Reason)
	}
	for _, want := range []string{"fake: would start nothing much", "steady+1s → steady+3s  a process-pause on role webserver", "traffic: 60 uploads"} {
		if !strings.Contains(out.Plan, want) {
			t.Errorf("plan lacks %q:\n%s", want, out.Plan)
		}
	}
	if env.srv != nil || len(env.stillActive()) > 0 {
		t.Error("a dry run deployed or injected something")
	}

	dir := t.TempDir()
	_, err := Run(context.Background(), Options{Scenario: s, ReportDir: dir, DryRun: true,
		Providers: provider.Set{scenario.ProviderLocal: func(provider.Config) (provider.Env, error) { return &fakeEnv{}, nil }}})
	if !errors.Is(err, ErrNoDryRun) {
		t.Fatalf("dry run on a provider without Plan: %v, want ErrNoDryRun", err)
	}
	if ents, _ := os.ReadDir(filepath.Join(dir, "fake")); len(ents) > 0 {
		t.Errorf("a refused dry run left %d run dirs", len(ents))
	}
}

// A fault fired by a file operation: the environment is offered the
// run's trigger socket, and one that reports no file operations makes the
// run void with the reason. A dry run listens on nothing and plans when
// the trigger is armed and what fires it.
func TestTriggersNeedAnEnvThatReportsFileOperations(t *testing.T) {
	s := parse(t, `storage: {backend: fuse}
faults:
  - {name: k, action: process-kill, schedule: {at: 1s, on: {op: rename, path: "botssys/outfile/**", by: engine}}}
`)
	env := &fakeEnv{}
	out := runFake(t, context.Background(), s, env, Options{})
	if out.Run.Verdict != report.VerdictVoid || !strings.Contains(out.Unsupported, "schedule.on") {
		t.Fatalf("verdict %s (%s), unsupported %q; want void because the env reports no file operations", out.Run.Verdict, out.Run.Reason, out.Unsupported)
	}
	if env.cfg.Trigger == "" {
		t.Error("the environment was not offered the trigger socket")
	}
	if env.srv != nil {
		t.Error("deployed although the run could not arm its trigger")
	}

	out = runFake(t, context.Background(), s, planning{&fakeEnv{}}, Options{DryRun: true})
	if out.Run.Verdict != report.VerdictVoid || !strings.Contains(out.Plan, "steady+1s → until the traffic ends  k process-kill on select caller, armed: fires at rename of botssys/outfile/** by engine") {
		t.Fatalf("dry run: verdict %s, plan:\n%s", out.Run.Verdict, out.Plan)
	}
	if !strings.Contains(out.Plan, "host check:") {
		t.Errorf("dry run plan has no host check:\n%s", out.Plan)
	}
}

func TestNoProvider(t *testing.T) {
	s := parse(t, "")
	_, err := Run(context.Background(), Options{Scenario: s, ReportDir: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "Options.Providers") {
		t.Fatalf("Run without providers: %v", err)
	}
}

var _ = fmt.Sprint
