// Package runner executes a scenario: provision → deploy → steady state →
// traffic + faults on one clock → heal → settle → collect → check → report →
// teardown. The CLI, `go test` suites and the ginkgo suite all call Run; there
// is no second implementation.
package runner

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime/debug"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/rwxchaos/rwxchaos/framework/fault"
	"github.com/rwxchaos/rwxchaos/framework/history"
	"github.com/rwxchaos/rwxchaos/framework/provider"
	"github.com/rwxchaos/rwxchaos/framework/report"
	"github.com/rwxchaos/rwxchaos/framework/scenario"
	"github.com/rwxchaos/rwxchaos/framework/support"
	"github.com/rwxchaos/rwxchaos/framework/traffic"
	"github.com/rwxchaos/rwxchaos/framework/verdict"
)

// Options configures one run.
type Options struct {
	Scenario *scenario.Scenario
	// ReportDir is the base report directory; the run writes into
	// <ReportDir>/<scenario>/<run-id>/.
	ReportDir string
	// Seed overrides the scenario's seed when non-zero.
	Seed int64
	// Keep leaves the environment up after the run (for debugging).
	Keep bool
	// Providers build the environment, by the scenario's provider name
	// (provider/all.Default for the real ones). Required.
	Providers provider.Set
	// DryRun prints what the run would create and do (the provider's Plan
	// and the fault plan with its resolved schedule), creates nothing, and
	// ends void. A provider that cannot plan refuses (ErrNoDryRun).
	DryRun bool
	// StateDir keeps active faults on disk for `rwxchaos cleanup`.
	StateDir string
	// Log receives plain progress lines; nil discards them.
	Log io.Writer
	// Progress, when set, is called about twice a second and at every phase.
	Progress func(Status)
	// Clock is the run's one clock; time.Now when nil.
	Clock func() time.Time
}

// Status is a progress snapshot.
type Status struct {
	Phase   string
	Elapsed time.Duration
	Traffic traffic.Stats
	Target  int
	Outputs int
	Faults  []string // active faults
	// Publish is the progress of a publish/consume workload (nil otherwise).
	Publish *provider.PublishStatus
}

// Outcome is what Run returns: the report record and where it was written.
type Outcome struct {
	Run *report.Run
	Dir string
	// Unsupported is set when the environment cannot run this scenario here
	// (e.g. NFS on a kernel without an NFS client). The verdict is void and
	// the reason is given: callers skip, never pass.
	Unsupported string
	// Plan is what a dry run would have created and done (Options.DryRun).
	Plan string
}

// ErrNoDryRun: the scenario's provider cannot plan, so a dry run is refused
// rather than run for real.
var ErrNoDryRun = errors.New("this provider cannot do a dry run")

type run struct {
	o       Options
	s       *scenario.Scenario
	rep     *report.Run
	dir     string
	seed    int64
	env     provider.Env
	inj     *fault.Injector
	journal *history.Journal // runner events
	client  *history.Journal // traffic
	driver  *traffic.Driver
	start   time.Time
	phase   string
	logMu   sync.Mutex // one log line at a time (fault goroutines log too)
	mu      sync.Mutex
	active  map[string]bool
	skipped []report.Fault
	infra   []error
	unsup   string
	plan    string // dry run
	dryErr  error
	probed  bool // the clocks were probed at the start
	// trig runs the faults fired by file operations (nil without any).
	trig *triggers
	// trafficEnded is closed when the traffic driver returns.
	trafficEnded chan struct{}
	// faultsDone is closed when every fault has been played (publish mode:
	// publishing is judged complete or stalled only from then on).
	faultsDone chan struct{}
	acks       ackLog
}

func (r *run) now() time.Time { return r.o.Clock() }

func (r *run) logf(format string, args ...any) {
	if r.o.Log != nil {
		r.logMu.Lock()
		defer r.logMu.Unlock()
		fmt.Fprintf(r.o.Log, "%s %s\n", r.now().UTC().Format("15:04:05.000"), strings.TrimRight(fmt.Sprintf(format, args...), "\n"))
	}
}

// Run executes the scenario and always writes a report, whatever happens
// (the error says what went wrong with the framework itself; an expectation
// failing is a verdict, not an error). Faults are healed on every exit path,
// including panics and a cancelled ctx (Ctrl-C, SIGTERM, timeout).
func Run(ctx context.Context, o Options) (out *Outcome, err error) {
	if o.Scenario == nil {
		return nil, errors.New("runner: no scenario: load one with scenario.Load")
	}
	newEnv := o.Providers[o.Scenario.Cluster.Provider]
	if newEnv == nil {
		return nil, fmt.Errorf("runner: no provider %q in Options.Providers (pass provider/all.Default, or your own)", o.Scenario.Cluster.Provider)
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	if o.ReportDir == "" {
		o.ReportDir = "reports"
	}
	s := o.Scenario
	seed := s.ResolveSeed()
	if o.Seed != 0 {
		seed, s.Run.Seed = o.Seed, o.Seed
	}
	r := &run{o: o, s: s, seed: seed, active: map[string]bool{}, trafficEnded: make(chan struct{}), faultsDone: make(chan struct{})}
	r.start = r.now()
	dir, runID, err := report.NewRunDir(o.ReportDir, s.Metadata.Name, r.start, seed)
	if err != nil {
		return nil, fmt.Errorf("runner: report dir: %w", err)
	}
	r.dir = dir
	r.rep = &report.Run{
		SchemaVersion: report.SchemaVersion,
		Scenario:      s.Metadata.Name,
		Description:   s.Metadata.Description,
		ScenarioFile:  s.File(),
		RunID:         runID,
		Seed:          seed,
		Provider:      string(s.Cluster.Provider),
		Backend:       string(s.Storage.Backend),
		BackendNote:   backendNote(s),
		Started:       r.start.UnixNano(),
	}
	r.logf("run %s of scenario %s, seed %d (replay: rwxchaos run %s --seed %d)", r.rep.RunID, s.Metadata.Name, seed, s.File(), seed)
	jdir := filepath.Join(dir, "journals")
	if r.journal, err = history.OpenJournal(filepath.Join(jdir, "runner.ndjson"), history.JournalOptions{
		Proc: history.ProcID(history.RoleRunner, "runner"), Role: history.RoleRunner, Now: o.Clock}); err != nil {
		return nil, err
	}
	if r.client, err = history.OpenJournal(filepath.Join(jdir, "client.ndjson"), history.JournalOptions{
		Proc: history.ProcID(history.RoleClient, "runner"), Role: history.RoleClient, Now: o.Clock}); err != nil {
		return nil, err
	}
	// Verification waits up to 3 minutes: a restarted kind node takes tens
	// of seconds to be Ready again.
	r.inj = fault.NewInjector(fault.Options{Clock: o.Clock, Journal: r.journal, StateDir: o.StateDir, RunID: r.rep.RunID, VerifyTimeout: 3 * time.Minute})
	if hasTriggers(s) && !o.DryRun { // a dry run listens on nothing
		if r.trig, err = newTriggers(r); err != nil {
			return nil, fmt.Errorf("runner: triggers: %w", err)
		}
	}

	if d := s.Run.Timeout.D(); d > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, d)
		defer cancel()
	}

	var hist *history.History
	var obs provider.Observations
	func() {
		defer func() {
			if p := recover(); p != nil {
				r.infra = append(r.infra, fmt.Errorf("panic: %v\n%s", p, debug.Stack()))
			}
			// The safety net: heal whatever is still active, on every path.
			if err := r.inj.HealAll(); err != nil {
				r.infra = append(r.infra, err)
			}
			// After the heal: every call still held proceeds.
			r.trig.close()
		}()
		hist, obs = r.execute(ctx)
	}()

	// Judging runs under its own recover: damaged evidence must not crash
	// the run before its report is written.
	func() {
		defer func() {
			if p := recover(); p != nil {
				err := fmt.Errorf("panic while judging: %v\n%s", p, debug.Stack())
				r.infra = append(r.infra, err)
				r.rep.Errors = append(r.rep.Errors, err.Error())
				r.rep.Verdict, r.rep.Reason = verdict.Decide(r.rep)
				r.rep.ExitCode = r.rep.Verdict.ExitCode()
			}
		}()
		r.finish(hist, obs)
	}()
	if errors.Is(r.dryErr, ErrNoDryRun) {
		// Refused before anything ran: leave no report behind.
		_ = r.journal.Close()
		_ = r.client.Close()
		_ = os.RemoveAll(dir)
		return nil, r.dryErr
	}
	r.phaseDo(report.PhaseReport, func() error { return report.Write(dir, r.rep, hist) })
	if r.env != nil && !o.Keep {
		r.phaseDo(report.PhaseTeardown, func() error {
			tctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			return r.env.Teardown(tctx)
		})
		// Rewrite result.json so the teardown phase is in it.
		_ = report.Write(dir, r.rep, hist)
	} else if r.env != nil {
		r.logf("environment kept (--keep): remove it with `rwxchaos cleanup`")
	}
	_ = r.journal.Close()
	_ = r.client.Close()
	r.logf("verdict %s — report: %s", r.rep.Verdict, filepath.Join(dir, report.HTMLFile))
	return &Outcome{Run: r.rep, Dir: dir, Unsupported: r.unsup, Plan: r.plan}, errors.Join(r.infra...)
}

// phaseDo runs one phase, recording its span and error.
func (r *run) phaseDo(name string, fn func() error) error {
	r.mu.Lock()
	r.phase = name
	r.mu.Unlock()
	r.logf("phase %s", name)
	r.progress()
	p := report.Phase{Name: name, Start: r.now().UnixNano()}
	err := fn()
	p.End = r.now().UnixNano()
	if err != nil {
		p.Err = err.Error()
		r.logf("phase %s failed: %v", name, err)
	}
	r.rep.Phases = append(r.rep.Phases, p)
	return err
}

// safeProgress is progress for the ticker goroutine: a panic in the
// provider's Outputs is logged and stops the progress display, not the run.
func (r *run) safeProgress() (ok bool) {
	defer func() {
		if p := recover(); p != nil {
			r.logf("progress display stopped: panic: %v", p)
			ok = false
		}
	}()
	r.progress()
	return true
}

func (r *run) progress() {
	if r.o.Progress == nil {
		return
	}
	st := Status{Elapsed: r.now().Sub(r.start), Target: r.s.Workload.Traffic.Count}
	if w, ok := r.env.(provider.PublishWatcher); ok && r.s.Workload.Mode == scenario.ModePublishConsume {
		ps := w.PublishStatus()
		st.Publish, st.Target = &ps, r.s.Workload.Publish.Versions
	}
	r.mu.Lock()
	st.Phase = r.phase
	for name := range r.active {
		st.Faults = append(st.Faults, name)
	}
	r.mu.Unlock()
	if r.driver != nil {
		st.Traffic = r.driver.Stats()
	}
	if c, ok := r.env.(provider.Counter); ok && r.env != nil {
		st.Outputs = c.Outputs()
	}
	r.o.Progress(st)
}

// execute runs the phases up to collection. A failed phase stops the run;
// the verdict is decided in finish.
func (r *run) execute(ctx context.Context) (*history.History, provider.Observations) {
	var obs provider.Observations
	newEnv := r.o.Providers[r.s.Cluster.Provider]
	pc := provider.Config{Scenario: r.s, RunDir: r.dir, RunID: r.rep.RunID, Seed: r.seed, Clock: r.o.Clock, Logf: r.logf, DryRun: r.o.DryRun}
	if r.trig != nil {
		pc.Trigger = r.trig.ctl.Path()
	}
	env, err := newEnv(pc)
	if err != nil {
		r.infra = append(r.infra, fmt.Errorf("provider %s: %w", r.s.Cluster.Provider, err))
		return nil, obs
	}
	if r.o.DryRun {
		r.dryRun(ctx, env)
		return nil, obs
	}
	r.env = env
	if r.trig != nil {
		if err := r.trig.attach(env); err != nil {
			r.unsup = err.Error()
			return nil, obs
		}
	}
	if err := r.phaseDo(report.PhaseProvision, func() error { return env.Provision(ctx) }); err != nil {
		if support.IsUnsupported(err) {
			r.unsup = err.Error()
			return nil, obs
		}
		r.infra = append(r.infra, fmt.Errorf("provision: %w", err))
		return nil, obs
	}
	if err := r.phaseDo(report.PhaseDeploy, func() error { return env.Deploy(ctx) }); err != nil {
		r.infra = append(r.infra, fmt.Errorf("deploy: %w", err))
		return r.collect(ctx)
	}
	r.probeClocks(ctx)

	tctx, stopTraffic := context.WithCancel(ctx)
	defer stopTraffic()
	traffic := &trafficRun{done: make(chan struct{})}
	if err := r.startTraffic(tctx, traffic); err != nil {
		r.infra = append(r.infra, fmt.Errorf("traffic: %w", err))
		return r.collect(ctx)
	}
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	go func() {
		for {
			select {
			case <-tctx.Done():
				return
			case <-tick.C:
				if !r.safeProgress() {
					return
				}
			}
		}
	}()

	steadyAt := r.now()
	if err := r.phaseDo(report.PhaseSteadyState, func() error { return r.steady(ctx, traffic) }); err != nil {
		r.rep.Void = "no steady state before any fault: " + err.Error()
		stopTraffic()
		<-traffic.done
		return r.collect(ctx)
	}
	steadyAt = r.now()

	_ = r.phaseDo(report.PhaseTrafficFaults, func() error {
		ferr := r.runFaults(ctx, steadyAt)
		close(r.faultsDone)
		var terr error
		select {
		case <-traffic.done:
			terr = traffic.err
		case <-ctx.Done():
			stopTraffic()
			<-traffic.done
			terr = traffic.err
		}
		if ferr != nil {
			r.infra = append(r.infra, ferr)
		}
		if terr != nil && !errors.Is(terr, context.Canceled) && !errors.Is(terr, context.DeadlineExceeded) {
			// The driver stops only for a journal it cannot write: the
			// uploads are not all recorded, the run cannot be judged.
			r.infra = append(r.infra, fmt.Errorf("traffic: %w", terr))
		}
		return errors.Join(ferr, terr)
	})
	_ = r.phaseDo(report.PhaseHeal, func() error { return r.inj.HealAll() })
	if ctx.Err() != nil {
		r.infra = append(r.infra, fmt.Errorf("run interrupted: %w", ctx.Err()))
	}
	_ = r.phaseDo(report.PhaseSettle, func() error {
		sctx := ctx
		if ctx.Err() != nil {
			// Interrupted: still drain briefly so the evidence is coherent.
			var cancel context.CancelFunc
			sctx, cancel = context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
		}
		return r.settle(sctx, env, r.s.Run.Settle.D())
	})
	return r.collect(ctx)
}

// dryRun asks the provider what it would create, adds the traffic and the
// fault plan with its resolved schedule, and makes the run void: nothing is
// created (the environment is not even kept for teardown).
func (r *run) dryRun(ctx context.Context, env provider.Env) {
	pl, ok := env.(provider.Planner)
	if !ok {
		r.dryErr = fmt.Errorf("%w: provider %s has no plan to show; run without --dry-run", ErrNoDryRun, env.Name())
		return
	}
	var text string
	err := r.phaseDo("plan", func() error {
		var err error
		text, err = pl.Plan(ctx)
		return err
	})
	if err != nil {
		r.infra = append(r.infra, fmt.Errorf("dry run: plan: %w", err))
		return
	}
	host := "host check: this host has what the scenario needs"
	if err := r.s.Gate(env.Name()); err != nil {
		host = fmt.Sprintf("host check: %v — a real run here would be void", err)
	} else if _, ok := env.(provider.Triggers); hasTriggers(r.s) && !ok {
		host = fmt.Sprintf("host check: provider %s reports no file operations, so faults with schedule.on cannot fire — a real run here would be void", env.Name())
	}
	r.plan = strings.TrimRight(text, "\n") + "\n" + host + "\n\n" + r.schedulePlan()
	if err := os.WriteFile(filepath.Join(r.dir, "plan.txt"), []byte(r.plan), 0o644); err != nil {
		r.infra = append(r.infra, fmt.Errorf("dry run: %w", err))
		return
	}
	r.logf("dry run: plan written to %s", filepath.Join(r.dir, "plan.txt"))
	r.rep.Void = "dry run: printed what the run would create and do, created nothing"
}

// schedulePlan is the traffic and every fault firing on the run's
// timeline, as the runner would play them.
func (r *run) schedulePlan() string {
	s := r.s
	var b strings.Builder
	t := s.Workload.Traffic
	ss := s.Expect.SteadyState
	fmt.Fprintf(&b, "run %s, seed %d: timeout %s, settle %s\n", r.rep.RunID, r.seed, s.Run.Timeout, s.Run.Settle)
	if p := s.Workload.Publish; s.Workload.Mode == scenario.ModePublishConsume {
		fmt.Fprintf(&b, "publishing: %d versions of %d files (%d bytes) at %g rounds/s (%s); consumers load each file at %g/s\n",
			p.Versions, p.Files, p.Size, p.Rate, p.PublishDuration().Round(time.Millisecond), p.LoadRate)
		fmt.Fprintf(&b, "steady state: once version %d of every file is published and loaded by every consumer (at least %s of publishing), within %s, else the run is void\n",
			max(ss.MinVersions, 1), (time.Duration(float64(max(ss.MinVersions, 1)) / max(p.Rate, 1e-9) * float64(time.Second))).Round(time.Millisecond), ss.Within)
	} else {
		fmt.Fprintf(&b, "traffic: %d uploads at %g/s (%s), %d at a time\n", t.Count, t.Rate, t.TrafficDuration().Round(time.Millisecond), t.Concurrency)
		fmt.Fprintf(&b, "steady state: once %d uploads are acked (at least %s of traffic), within %s, else the run is void\n",
			max(ss.MinUploads, 1), (time.Duration(float64(max(ss.MinUploads, 1)) / max(t.Rate, 1e-9) * float64(time.Second))).Round(time.Millisecond), ss.Within)
	}
	plan := s.FaultPlan()
	if len(plan) == 0 {
		b.WriteString("faults: none\n")
		return b.String()
	}
	b.WriteString("faults (from steady state; verifying and healing each firing adds to these times):\n")
	for _, p := range plan {
		for _, line := range strings.Split(p.String(), "\n") {
			b.WriteString("  " + line + "\n")
		}
	}
	return b.String()
}

func (r *run) collect(ctx context.Context) (*history.History, provider.Observations) {
	var (
		h   *history.History
		obs provider.Observations
	)
	if r.probed {
		r.probeClocks(ctx) // and again at the end: drift widens the offsets' intervals
	}
	_ = r.phaseDo(report.PhaseCollect, func() error {
		cctx := ctx
		if ctx.Err() != nil {
			var cancel context.CancelFunc
			cctx, cancel = context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
		}
		var err error
		h, obs, err = r.env.Collect(cctx, r.dir)
		if err != nil {
			r.infra = append(r.infra, fmt.Errorf("collect: %w", err))
			return err
		}
		// Merge the runner's and the client's own journals.
		own, st, err := history.ReadJournalDir(filepath.Join(r.dir, "journals"))
		if err != nil {
			return err
		}
		h.Events = append(h.Events, own...)
		h.Stats.Add(st)
		history.Sort(h.Events)
		return nil
	})
	return h, obs
}

// trafficRun is the traffic driver's end: done closes when it returned, and
// err is then its error. Closing (not sending) lets every phase that waits
// for the traffic see the end, however many look. In mode publish-consume
// the "traffic" is the publisher getting through its versions.
type trafficRun struct {
	done chan struct{}
	err  error
}

func (r *run) startTraffic(ctx context.Context, tr *trafficRun) error {
	if r.s.Workload.Mode == scenario.ModePublishConsume {
		return r.startPublish(ctx, tr)
	}
	t := r.s.Workload.Traffic
	d, err := traffic.New(traffic.Options{
		Targets:     r.env.Endpoints(),
		Count:       t.Count,
		Rate:        t.Rate,
		Concurrency: t.Concurrency,
		MinSize:     t.Sizes.Min,
		MaxSize:     t.Sizes.Max,
		Mix:         traffic.Mix{X12: t.Mix.X12, EDIFACT: t.Mix.Edifact},
		Routes:      t.Routes,
		Seed:        r.seed,
		Run:         r.rep.RunID,
		Journal:     r.client,
		Observe:     r.acks.observe,
	})
	if err != nil {
		return err
	}
	r.driver = d
	go func() {
		tr.err = d.Run(ctx)
		// trafficEnded first: whoever sees tr.done closed may rely on it.
		close(r.trafficEnded)
		close(tr.done)
	}()
	return nil
}

// steady waits until the scenario's minimum of uploads is acked.
func (r *run) steady(ctx context.Context, traffic *trafficRun) error {
	if r.s.Workload.Mode == scenario.ModePublishConsume {
		return r.steadyPublish(ctx)
	}
	ss := r.s.Expect.SteadyState
	want := int64(ss.MinUploads)
	if want <= 0 {
		want = 1
	}
	within := ss.Within.D()
	if within <= 0 {
		within = 30 * time.Second
	}
	deadline := time.NewTimer(within)
	defer deadline.Stop()
	for {
		st := r.driver.Stats()
		if st.OK >= want {
			r.logf("steady state: %d uploads acked", st.OK)
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-deadline.C:
			return fmt.Errorf("only %d of %d uploads acked within %s (%d failed, %d unknown): traffic does not flow", st.OK, want, within, st.Fail, st.Unknown)
		case <-traffic.done:
			if st := r.driver.Stats(); st.OK >= want {
				return nil
			}
			return fmt.Errorf("traffic ended before steady state (%d of %d acked, %d failed, %d unknown): %v", st.OK, want, st.Fail, st.Unknown, traffic.err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// runFaults plays every fault's schedule; faults run concurrently, each
// repetition through the one injector path.
func (r *run) runFaults(ctx context.Context, steadyAt time.Time) error {
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
		done = map[string]chan struct{}{}
	)
	for _, f := range r.s.Faults {
		done[f.Name] = make(chan struct{})
	}
	// A panic in any fault's handling (a provider bug) stops every fault:
	// the ones holding are healed now rather than at their end.
	ctx, abort := context.WithCancelCause(ctx)
	defer abort(nil)
	fail := func(err error) {
		mu.Lock()
		errs = append(errs, err)
		mu.Unlock()
		if errors.Is(err, fault.ErrPanic) {
			abort(err)
		}
	}
	if r.trig != nil {
		if err := r.trig.connected(ctx); err != nil {
			if support.IsUnsupported(err) {
				r.mu.Lock()
				r.unsup = err.Error()
				r.mu.Unlock()
				return nil
			}
			return fmt.Errorf("triggers cannot be armed: %w", err)
		}
	}
	for _, f := range r.s.Faults {
		wg.Add(1)
		go func(f scenario.FaultSpec) {
			defer wg.Done()
			defer close(done[f.Name])
			defer func() {
				// A provider's panic must not take the process down before
				// the safety net (HealAll) runs: it is an error of the run.
				if p := recover(); p != nil {
					fail(fmt.Errorf("fault %s: %w: %v\n%s", f.Name, fault.ErrPanic, p, debug.Stack()))
				}
			}()
			play := r.playFault
			if f.Schedule.On != nil {
				play = r.playTriggered
			}
			if err := play(ctx, f, steadyAt, done); err != nil {
				fail(err)
			}
		}(f)
	}
	wg.Wait()
	return errors.Join(errs...)
}

// waitSchedule waits until a fault may start (or its trigger be armed):
// at after steady state, or after the fault named in after; false when ctx
// ends first.
func (r *run) waitSchedule(ctx context.Context, f scenario.FaultSpec, steadyAt time.Time, done map[string]chan struct{}) bool {
	sch := f.Schedule
	switch {
	case sch.After != "" && sch.After != scenario.SteadyStateAfter:
		select {
		case <-done[sch.After]:
		case <-ctx.Done():
			return false
		}
		if sch.At != nil {
			return sleepCtx(ctx, sch.At.D())
		}
	case sch.At != nil:
		return sleepCtx(ctx, time.Until(steadyAt.Add(sch.At.D())))
	}
	return ctx.Err() == nil
}

func (r *run) playFault(ctx context.Context, f scenario.FaultSpec, steadyAt time.Time, done map[string]chan struct{}) error {
	sch := f.Schedule
	if !r.waitSchedule(ctx, f, steadyAt, done) {
		return nil
	}
	times := sch.Times
	if times <= 0 {
		times = 1
	}
	// Each fault draws its targets from its own generator, seeded by the
	// run's seed and the fault's name: the same seed picks the same targets
	// whatever order concurrent faults fire in (and no two goroutines share
	// one generator).
	rng := faultRand(r.seed, f.Name)
	var errs []error
	for i := 0; i < times; i++ {
		if i > 0 && !sleepCtx(ctx, sch.Every.D()) {
			break
		}
		fs, err := r.env.Fault(ctx, f, rng)
		if err != nil {
			rec := report.Fault{Name: f.Name, Action: string(f.Action), Injected: r.now().UnixNano(), Err: err.Error()}
			r.mu.Lock()
			r.skipped = append(r.skipped, rec)
			r.mu.Unlock()
			if support.IsUnsupported(err) {
				// The scenario cannot be run as written here: void with the
				// reason, so suites skip it instead of passing or failing.
				r.logf("fault %s cannot run here: %v", f.Name, err)
				r.mu.Lock()
				r.unsup = err.Error()
				r.mu.Unlock()
				return nil
			}
			r.logf("fault %s: no target: %v", f.Name, err)
			errs = append(errs, fmt.Errorf("fault %s: %w", f.Name, err))
			continue
		}
		var wg sync.WaitGroup
		for _, ft := range fs {
			wg.Add(1)
			go func(ft fault.Fault) {
				defer wg.Done()
				defer func() {
					if p := recover(); p != nil {
						r.mu.Lock()
						errs = append(errs, fmt.Errorf("fault %s on %s: %w: %v\n%s", f.Name, ft.Target(), fault.ErrPanic, p, debug.Stack()))
						r.mu.Unlock()
					}
				}()
				label := f.Name + " → " + ft.Target()
				r.setActive(label, true)
				defer r.setActive(label, false)
				r.logf("fault %s: %s on %s for %s", f.Name, f.Action, ft.Target(), f.Duration.D())
				rec, err := r.inj.Run(ctx, ft, f.Duration.D())
				if err != nil {
					r.mu.Lock()
					errs = append(errs, err)
					r.mu.Unlock()
				}
				r.logf("fault %s on %s: healed (verified %v)", f.Name, rec.Target, rec.HealVerified != 0)
			}(ft)
		}
		wg.Wait()
	}
	return errors.Join(errs...)
}

// faultRand is the random source of one fault's target choices.
func faultRand(seed int64, fault string) *rand.Rand {
	h := fnv.New64a()
	h.Write([]byte(fault))
	return rand.New(rand.NewPCG(uint64(seed), h.Sum64()))
}

func (r *run) setActive(label string, on bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if on {
		r.active[label] = true
	} else {
		delete(r.active, label)
	}
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// probeClocks measures every node's clock against the runner's (when the
// environment can) and journals one clock event per node: the history then
// carries each node's offset, measured at the start and at the end.
func (r *run) probeClocks(ctx context.Context) {
	cp, ok := r.env.(provider.ClockProber)
	if !ok {
		return
	}
	pctx := ctx
	if ctx.Err() != nil {
		pctx = context.Background() // interrupted: the end probe still belongs in the evidence
	}
	pctx, cancel := context.WithTimeout(pctx, 30*time.Second)
	defer cancel()
	start := r.now()
	offs, err := cp.ClockOffsets(pctx)
	r.probed = true
	nodes := make([]string, 0, len(offs))
	for n := range offs {
		nodes = append(nodes, n)
	}
	sort.Strings(nodes)
	for _, n := range nodes {
		o := offs[n]
		e := history.Event{Type: history.EvClock, Target: n, Outcome: history.OK, Call: o.Start.UnixNano(), Return: o.End.UnixNano(),
			Detail: history.ClockDetail(o.Offset, o.Uncertainty)}
		if o.Start.IsZero() || o.End.Before(o.Start) {
			e.Call, e.Return = start.UnixNano(), r.now().UnixNano()
		}
		_ = r.journal.Append(e)
	}
	if err != nil {
		r.logf("clock probe: %v", err)
		_ = r.journal.Append(history.Event{Type: history.EvClock, Target: "nodes", Outcome: history.Fail, Call: start.UnixNano(),
			Return: r.now().UnixNano(), Err: err.Error()})
	}
}

// finish records what the verdict is decided from and judges the run with
// the one verdict function (framework/verdict), which the offline re-check
// uses too.
func (r *run) finish(h *history.History, obs provider.Observations) {
	r.rep.Nodes, r.rep.Pods, r.rep.Events = obs.Nodes, obs.Pods, obs.Events
	if obs.StorageNote != "" {
		r.rep.BackendNote = obs.StorageNote
	}
	r.rep.Coverage = obs.Coverage
	r.rep.Artifacts = append(r.rep.Artifacts, obs.Artifacts...)
	r.rep.Observed = Observed(r.s, obs)
	for _, rec := range r.inj.Records() {
		r.rep.Faults = append(r.rep.Faults, report.Fault(rec))
	}
	r.rep.Faults = append(r.rep.Faults, r.skipped...)
	r.rep.Spec = r.s
	r.rep.JudgedWith = "the scenario as run"
	if r.unsup != "" && r.rep.Void == "" {
		r.rep.Void = "cannot run here: " + r.unsup
	}
	for _, err := range r.infra {
		r.rep.Errors = append(r.rep.Errors, err.Error())
	}
	_ = r.phaseDo(report.PhaseCheck, func() error {
		verdict.Judge(r.rep, r.s, h)
		return nil
	})
	r.rep.Ended = r.now().UnixNano()
}
