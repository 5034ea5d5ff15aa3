package runner

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime/debug"
	"sync"
	"syscall"
	"time"

	"github.com/rwxchaos/rwxchaos/framework/fault"
	"github.com/rwxchaos/rwxchaos/framework/history"
	"github.com/rwxchaos/rwxchaos/framework/provider"
	"github.com/rwxchaos/rwxchaos/framework/report"
	"github.com/rwxchaos/rwxchaos/framework/scenario"
	"github.com/rwxchaos/rwxchaos/framework/support"
	"github.com/rwxchaos/rwxchaos/framework/trigger"
)

// Timings of triggered faults (variables for tests).
var (
	// triggerConnect bounds the wait for every file server to dial the
	// controller before the first trigger is armed.
	triggerConnect = 20 * time.Second
	// triggerLand bounds the wait, after a fault on the caller was
	// injected, for the caller to be unable to run on (SIGKILL or SIGSTOP
	// pending, cgroup freezing) before its call is released anyway.
	triggerLand = 10 * time.Second
	// triggerHold is the file servers' hold bound on top of a fault's
	// duration: the call is released at the latest after the runner's own
	// verification time. A runner that dies releases at once.
	triggerHold = 3*time.Minute + 30*time.Second
)

// triggers runs the faults fired by file operations (schedule.on): one
// controller the environment's file servers dial, one trig per fault.
type triggers struct {
	r    *run
	ctl  *trigger.Controller
	tenv provider.Triggers
	root string
	n    int
	by   map[string]*trig
	mu   sync.Mutex // guards the armed set pushed to the servers
}

// trig is one fault with schedule.on.
type trig struct {
	spec      scenario.FaultSpec
	count     *trigger.Counter
	rng       *rand.Rand
	ctx       context.Context
	mu        sync.Mutex
	armed     bool
	busy      bool
	exhausted chan struct{}
	exOnce    sync.Once
	firings   sync.WaitGroup
	errs      []error
	// calls that matched the rule while armed but not its caller filter
	// (schedule.on.by), and why the first of them did not count
	rejected   int
	rejectedBy string
}

func hasTriggers(s *scenario.Scenario) bool {
	for _, f := range s.Faults {
		if f.Schedule.On != nil {
			return true
		}
	}
	return false
}

// newTriggers listens on a socket under the temp dir (unix socket paths
// are short; the run directory may be deep).
func newTriggers(r *run) (*triggers, error) {
	t := &triggers{r: r, by: map[string]*trig{}}
	for _, f := range r.s.Faults {
		on := f.Schedule.On
		if on == nil {
			continue
		}
		c, err := trigger.NewCounter(on.Nth, on.Every, f.Schedule.Times, on.Probability, r.seed, f.Name)
		if err != nil {
			return nil, fmt.Errorf("fault %s: %w", f.Name, err)
		}
		// The same per-fault random source as a timed fault's (faultRand).
		t.by[f.Name] = &trig{spec: f, count: c, rng: faultRand(r.seed, f.Name), exhausted: make(chan struct{})}
	}
	h := fnv.New32a()
	h.Write([]byte(r.dir))
	sock := filepath.Join(os.TempDir(), fmt.Sprintf("rwxchaos-trigger-%08x-%d.sock", h.Sum32(), os.Getpid()))
	ctl, err := trigger.Listen(sock, t.handle, func(f string, a ...any) { r.logf(f, a...) })
	if err != nil {
		return nil, err
	}
	t.ctl = ctl
	return t, nil
}

// attach connects the environment once it exists.
func (t *triggers) attach(env provider.Env) error {
	te, ok := env.(provider.Triggers)
	if !ok {
		return &support.Unsupported{Action: "schedule.on", Env: env.Name(),
			Reason: "this environment has no storage layer that reports file operations; use storage backend fuse with provider local or kind"}
	}
	t.tenv = te
	return nil
}

// connected waits until every file server of the environment has dialed in
// (asked once the environment is provisioned: that is when it knows its
// servers and where the volume is under them).
func (t *triggers) connected(ctx context.Context) error {
	t.n, t.root = t.tenv.TriggerServers()
	if t.n == 0 {
		return &support.Unsupported{Action: "schedule.on", Env: t.r.env.Name(),
			Reason: "this environment runs no file server that reports file operations (storage backend " + string(t.r.s.Storage.Backend) + "); use storage backend fuse"}
	}
	ctx, cancel := context.WithTimeout(ctx, triggerConnect)
	defer cancel()
	return t.ctl.WaitServers(ctx, t.n)
}

// push sends the rules of every armed trigger to the file servers.
func (t *triggers) push() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	var rules []trigger.Rule
	for _, f := range t.r.s.Faults {
		tr := t.by[f.Name]
		if tr == nil {
			continue
		}
		tr.mu.Lock()
		armed := tr.armed
		tr.mu.Unlock()
		if !armed {
			continue
		}
		on := f.Schedule.On
		rules = append(rules, trigger.Rule{Name: f.Name, Op: trigger.Op(on.Op), Path: trigger.Glob(on.Path), When: trigger.When(on.When),
			HoldMillis: (triggerHold + f.Duration.D()).Milliseconds()})
	}
	return t.ctl.SetRules(t.root, rules)
}

func (t *triggers) close() {
	if t != nil && t.ctl != nil {
		_ = t.ctl.Close()
	}
}

// handle gets every reported call: the first armed trigger it matches that
// decides to fire takes it; every other call proceeds at once.
func (t *triggers) handle(call *trigger.Call) {
	if t.tenv != nil {
		for _, name := range call.Rules {
			if tr := t.by[name]; tr != nil && t.take(tr, call) {
				return
			}
		}
	}
	_ = call.Release(0)
}

// take decides whether call fires tr and, if so, runs the firing to its
// end (heal included).
func (t *triggers) take(tr *trig, call *trigger.Call) (took bool) {
	defer func() {
		// A panic in the provider's Caller or CallerFault must not take the
		// process down before the safety net (HealAll) runs: the call
		// proceeds, the trigger stops, and the run has the error (as a
		// timed fault's panic, it stops every fault).
		if p := recover(); p != nil {
			_ = call.Release(0)
			tr.mu.Lock()
			tr.errs = append(tr.errs, fmt.Errorf("fault %s: %w: %v\n%s", tr.spec.Name, fault.ErrPanic, p, debug.Stack()))
			tr.mu.Unlock()
			tr.exOnce.Do(func() { close(tr.exhausted) })
			took = true
		}
	}()
	tr.mu.Lock()
	ok := tr.armed && !tr.busy
	ctx := tr.ctx
	tr.mu.Unlock()
	if !ok {
		return false
	}
	var caller trigger.Caller
	resolved := false
	if by := tr.spec.Schedule.On.By; by != "" {
		c, err := t.tenv.Caller(ctx, &call.Report)
		if err != nil || c.Role != string(by) {
			why := fmt.Sprintf("%s pid %d: role %q", call.Comm, call.Pid, c.Role)
			if err != nil {
				why = fmt.Sprintf("%s pid %d: caller unknown: %v", call.Comm, call.Pid, err)
			}
			tr.mu.Lock()
			if tr.rejected++; tr.rejected == 1 {
				tr.rejectedBy = why
			}
			tr.mu.Unlock()
			return false
		}
		caller, resolved = c, true
	}
	tr.mu.Lock()
	if !tr.armed || tr.busy {
		tr.mu.Unlock()
		return false
	}
	fire, n := tr.count.Next()
	if fire {
		tr.busy = true
		tr.firings.Add(1)
	}
	tr.mu.Unlock()
	if !fire {
		return false
	}
	defer func() {
		tr.mu.Lock()
		tr.busy = false
		tr.mu.Unlock()
		if tr.count.Exhausted() {
			tr.exOnce.Do(func() { close(tr.exhausted) })
		}
		tr.firings.Done()
	}()
	if !resolved {
		c, err := t.tenv.Caller(ctx, &call.Report)
		if err != nil {
			c = trigger.Caller{Pid: call.Pid, Tid: call.Tid, Desc: fmt.Sprintf("%s pid %d", call.Comm, call.Pid)}
			t.r.logf("trigger %s: caller pid %d not resolved (%v); acting on the pid", tr.spec.Name, call.Pid, err)
		}
		caller = c
	}
	if err := t.fire(ctx, tr, call, caller, n); err != nil {
		tr.mu.Lock()
		tr.errs = append(tr.errs, err)
		tr.mu.Unlock()
	}
	return true
}

// fire runs one firing: resolve the fault against the caller, inject it
// through the one injector path with the call held, heal, and journal the
// triggering operation.
func (t *triggers) fire(ctx context.Context, tr *trig, call *trigger.Call, caller trigger.Caller, n int) error {
	r, spec := t.r, tr.spec
	if caller.Tid == 0 {
		caller.Tid = call.Tid
	}
	if caller.Pid == 0 {
		caller.Pid = call.Pid
	}
	desc := call.Describe()
	if caller.Desc != "" {
		desc = fmt.Sprintf("%s (%s)", desc, caller.Desc)
	}
	r.logf("trigger %s: call %d matching %s fires %s: %s", spec.Name, n, spec.Schedule.On.Op, spec.Action, desc)
	var fs []fault.Fault
	if !spec.Action.NeedsTrigger() {
		var err error
		fs, err = t.tenv.CallerFault(ctx, spec, caller, tr.rng)
		if err != nil {
			_ = call.Release(0)
			rec := report.Fault{Name: spec.Name, Action: string(spec.Action), Injected: r.now().UnixNano(), Err: err.Error(),
				Trigger: desc, Triggered: call.At}
			r.mu.Lock()
			r.skipped = append(r.skipped, rec)
			if support.IsUnsupported(err) {
				r.unsup = err.Error()
				r.mu.Unlock()
				r.logf("fault %s cannot run here: %v", spec.Name, err)
				return nil
			}
			r.mu.Unlock()
			return fmt.Errorf("fault %s: %w", spec.Name, err)
		}
	} else {
		fs = []fault.Fault{nil}
	}
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	for i, f := range fs {
		if i == 0 {
			f = newHeld(f, spec, call, caller, desc)
		}
		wg.Add(1)
		go func(f fault.Fault) {
			defer wg.Done()
			label := spec.Name + " → " + f.Target()
			r.setActive(label, true)
			defer r.setActive(label, false)
			_, err := r.inj.Run(ctx, f, spec.Duration.D())
			if err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}(f)
	}
	wg.Wait()
	_ = call.Release(0) // whatever happened, never leave the call to its hold bound
	e := history.Event{Role: history.RoleRunner, Type: history.EvTrigger, Call: call.At, Outcome: history.OK,
		Path: call.Path, Target: caller.Desc, Detail: fmt.Sprintf("%s %s, call %d, fired %s (%s)", call.Op, call.When, n, spec.Name, spec.Action)}
	if call.To != "" {
		e.Detail += "; renamed to " + call.To
	}
	if e.Target == "" {
		e.Target = fmt.Sprintf("%s pid %d", call.Comm, call.Pid)
	}
	select {
	case d := <-call.Done():
		if d.At >= e.Call {
			e.Return = d.At
		}
		switch {
		case d.Expired:
			e.Detail += "; released by the file server's hold bound"
		case d.LostController:
			e.Detail += "; released when the controller went away"
		}
		if d.Errno != 0 {
			e.Err, e.ErrClass = syscall.Errno(d.Errno).Error(), errClass(d.Errno)
		}
		if !d.Performed {
			e.Detail += "; not performed"
		}
	case <-time.After(2 * time.Second):
		e.Detail += "; the file server did not say how the call ended"
	}
	_ = r.journal.Append(e)
	return errors.Join(errs...)
}

func errClass(errno int) string {
	switch syscall.Errno(errno) {
	case syscall.EIO:
		return "EIO"
	case syscall.ENOSPC, syscall.EDQUOT:
		return "ENOSPC"
	case syscall.ENOTCONN:
		return "ENOTCONN"
	case syscall.EACCES, syscall.EPERM, syscall.EROFS:
		return "EACCES"
	case syscall.ESTALE:
		return "ESTALE"
	}
	return "OTHER"
}

// playTriggered arms a trigger when its schedule says (at / after, like a
// timed fault), keeps it armed until it cannot fire again or the traffic
// ends, waits for a firing in progress, and returns.
func (r *run) playTriggered(ctx context.Context, f scenario.FaultSpec, steadyAt time.Time, done map[string]chan struct{}) error {
	t := r.trig
	tr := t.by[f.Name]
	if !r.waitSchedule(ctx, f, steadyAt, done) {
		return nil
	}
	tr.mu.Lock()
	tr.armed, tr.ctx = true, ctx
	tr.mu.Unlock()
	if err := t.push(); err != nil {
		return fmt.Errorf("fault %s: arm its trigger: %w", f.Name, err)
	}
	on := f.Schedule.On
	r.logf("trigger %s armed: %s %s of %s%s fires %s", f.Name, on.When, on.Op, on.Path, byRole(on.By), f.Action)
	select {
	case <-tr.exhausted:
	case <-r.trafficEnded:
	case <-ctx.Done():
	}
	tr.mu.Lock()
	tr.armed = false
	tr.mu.Unlock()
	perr := t.push()
	tr.firings.Wait()
	seen, fired := tr.count.Counts()
	tr.mu.Lock()
	rejected := ""
	if tr.rejected > 0 {
		rejected = fmt.Sprintf(" (%d matching calls by another caller, first %s)", tr.rejected, tr.rejectedBy)
	}
	tr.mu.Unlock()
	r.logf("trigger %s disarmed: %d eligible calls, %d firings%s", f.Name, seen, fired, rejected)
	if fired == 0 && ctx.Err() == nil {
		r.mu.Lock()
		if r.rep.Void == "" {
			r.rep.Void = fmt.Sprintf("fault %s never fired: %d eligible %s calls of %s%s while its trigger was armed, it needed call %d%s; the run says nothing about that moment",
				f.Name, seen, on.Op, on.Path, byRole(on.By), on.Nth, rejected)
		}
		r.mu.Unlock()
	}
	tr.mu.Lock()
	errs := append([]error(nil), tr.errs...)
	tr.mu.Unlock()
	if perr != nil {
		errs = append(errs, fmt.Errorf("fault %s: disarm its trigger: %w", f.Name, perr))
	}
	return errors.Join(errs...)
}

func byRole(r scenario.Role) string {
	if r == "" {
		return ""
	}
	return " by " + string(r)
}

// held wraps the fault a file operation fired (or, for storage-error and
// storage-delay, is the fault) and decides when the held call is released:
//
//   - a kill of the caller (process-kill, node-kill of its node): once the
//     caller is doomed (SIGKILL pending) — it dies on its way back, before
//     its next instruction; with when before the call is answered EINTR
//     and not performed;
//   - a pause of the caller (process-pause, node-pause of its node): once
//     it is stopping (SIGSTOP pending) or freezing; with when before the
//     call stays held, not performed, until the pause heals;
//   - storage-error: released with the errno at injection;
//   - storage-delay: held for the duration, released at heal;
//   - anything else (partition, storage-pause, a fault on another
//     process): once the fault is verified.
type held struct {
	inner  fault.Fault
	spec   scenario.FaultSpec
	call   *trigger.Call
	caller trigger.Caller
	desc   string

	landed func() bool // the caller cannot run on; nil: release on verify
	kill   bool
	keep   bool // keep the call held until heal (pause before, delay)
	errno  syscall.Errno
}

func newHeld(inner fault.Fault, spec scenario.FaultSpec, call *trigger.Call, caller trigger.Caller, desc string) *held {
	h := &held{inner: inner, spec: spec, call: call, caller: caller, desc: desc}
	before := spec.Schedule.On.When == scenario.WhenBefore
	pid, tid := caller.Pid, caller.Tid
	onCaller := spec.Target.Select == scenario.SelectCaller || spec.Target.Select == scenario.SelectCallerNode
	switch {
	case spec.Action == scenario.ActionStorageError:
		h.errno = syscall.Errno(spec.Errno)
	case spec.Action == scenario.ActionStorageDelay:
		h.keep = true
	case !onCaller:
	case spec.Action == scenario.ActionProcessKill || spec.Action == scenario.ActionNodeKill:
		h.kill = true
		h.landed = func() bool { return trigger.Doomed(pid, tid) }
	case spec.Action == scenario.ActionProcessPause:
		h.landed = func() bool { return trigger.Stopping(pid, tid) || trigger.Doomed(pid, tid) }
		h.keep = before
	case spec.Action == scenario.ActionNodePause:
		h.landed = func() bool { return trigger.Freezing(tid) || trigger.Doomed(pid, tid) }
	}
	return h
}

func (h *held) Name() string   { return h.spec.Name }
func (h *held) Action() string { return string(h.spec.Action) }

func (h *held) Target() string {
	if h.inner != nil {
		return h.inner.Target()
	}
	return fmt.Sprintf("%s %s (%s)", h.call.Op, h.call.Path, h.caller.Desc)
}

// Trigger implements fault.Triggered.
func (h *held) Trigger() (string, int64) { return h.desc, h.call.At }

func (h *held) Inject(ctx context.Context) error {
	switch {
	case h.spec.Action == scenario.ActionStorageError:
		return h.call.Release(h.errno)
	case h.spec.Action == scenario.ActionStorageDelay:
		return nil
	case h.landed == nil:
		return h.inner.Inject(ctx)
	}
	// The injection may block until the call is released (docker kill
	// waits for the node's processes, which wait for the call): run it
	// beside the wait for the caller to be unable to run on.
	injected := make(chan error, 1)
	go func() { injected <- h.inner.Inject(ctx) }()
	deadline := time.NewTimer(triggerLand)
	defer deadline.Stop()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	var ierr error
	done := false
	for !h.landed() {
		select {
		case ierr = <-injected:
			done = true
			if ierr != nil {
				_ = h.call.Release(0)
				return ierr
			}
			injected = nil
		case <-deadline.C:
			_ = h.call.Release(0)
			if !done {
				ierr = <-injected
			}
			return errors.Join(ierr, fmt.Errorf("%s was injected, but the caller (%s) still could run on after %s: released its call without the fault in place", h.spec.Action, h.caller.Desc, triggerLand))
		case <-tick.C:
		}
	}
	if !h.keep {
		var errno syscall.Errno
		if h.kill && h.spec.Schedule.On.When == scenario.WhenBefore {
			errno = syscall.EINTR // dying: it never sees it, and the operation never happens
		}
		if err := h.call.Release(errno); err != nil {
			return err
		}
	}
	if !done {
		ierr = <-injected
	}
	return ierr
}

func (h *held) Verify(ctx context.Context) error {
	switch {
	case h.spec.Action == scenario.ActionStorageError:
		select {
		case d := <-h.call.Done():
			if d.Errno != int(h.errno) {
				return fmt.Errorf("the call ended with errno %d, not %d (%+v)", d.Errno, h.errno, d)
			}
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	case h.spec.Action == scenario.ActionStorageDelay:
		return nil
	case h.keep:
		// The caller cannot stop inside the held call; its other threads
		// have (or SIGSTOP is pending): that is the freeze.
		if !h.landed() {
			return fmt.Errorf("%s is not stopping", h.caller.Desc)
		}
		return nil
	}
	if err := h.inner.Verify(ctx); err != nil {
		return err
	}
	if h.landed == nil {
		return h.call.Release(0)
	}
	return nil
}

func (h *held) Heal(ctx context.Context) error {
	// A call kept across the fault is performed as it ends.
	rerr := h.call.Release(0)
	if h.inner == nil {
		return rerr
	}
	return h.inner.Heal(ctx)
}

func (h *held) VerifyHealed(ctx context.Context) error {
	if h.inner == nil {
		return nil
	}
	return h.inner.VerifyHealed(ctx)
}

func (h *held) Undo() *fault.Undo {
	if h.inner == nil {
		return nil // the file server releases the call when the runner is gone
	}
	return h.inner.Undo()
}

var _ fault.Triggered = (*held)(nil)
