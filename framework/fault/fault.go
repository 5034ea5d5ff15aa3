// Package fault runs every failure the same way: inject → verify it took
// effect → hold for its duration → heal → verify healed, with every timestamp
// from one clock, and heals whatever is still active on any exit path (pass,
// failure, panic, timeout, Ctrl-C). Active faults are also written to a state
// directory so `rwxchaos cleanup` can heal them after the runner itself died.
package fault

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"sync"
	"time"

	"github.com/rwxchaos/rwxchaos/framework/history"
	"github.com/rwxchaos/rwxchaos/framework/procid"
)

// Fault is one injectable failure against one resolved target.
type Fault interface {
	// Name of the scenario fault this came from.
	Name() string
	// Action, e.g. "process-kill", "node-pause".
	Action() string
	// Target is what is acted on (a process, pod, node or container), resolved.
	Target() string
	// Inject issues the fault.
	Inject(ctx context.Context) error
	// Verify returns nil once the fault's effect is observable.
	Verify(ctx context.Context) error
	// Heal undoes the fault. It must be idempotent and must work after a
	// partial Inject. Instant faults (kills) return nil.
	Heal(ctx context.Context) error
	// VerifyHealed returns nil once the target is whole again (or replaced).
	VerifyHealed(ctx context.Context) error
	// Undo describes Heal as data, for cleanup by another process; nil when
	// nothing would be left behind.
	Undo() *Undo
}

// Undo is a heal step that can be replayed by `rwxchaos cleanup` with no
// runner state: resume a process, unpause or start a container, delete an
// iptables rule, delete a Kubernetes object.
type Undo struct {
	Kind string `json:"kind"`          // signal | docker | exec | kube-delete
	Pid  int    `json:"pid,omitempty"` // signal: the pid, or -pgid for a group
	// Start is the start time of the process (the group's leader) that Pid
	// named (procid): Apply signals nothing once the pid names another
	// process. 0 in state files from before start times were kept.
	Start uint64   `json:"start,omitempty"`
	Sig   int      `json:"sig,omitempty"`
	Args  []string `json:"args,omitempty"` // docker or exec argv
	Obj   string   `json:"obj,omitempty"`  // kube-delete: apiVersion/kind/namespace/name
}

// Record is what happened to one fault, on the runner's clock (Unix ns).
type Record struct {
	Name         string `json:"name"`
	Action       string `json:"action"`
	Target       string `json:"target"`
	Injected     int64  `json:"injected"`
	Verified     int64  `json:"verified,omitempty"`
	Healed       int64  `json:"healed,omitempty"`
	HealVerified int64  `json:"healVerified,omitempty"`
	Err          string `json:"err,omitempty"`
	// Trigger is the file operation that fired the fault (schedule.on),
	// with its caller; Triggered when the storage layer received it.
	Trigger   string `json:"trigger,omitempty"`
	Triggered int64  `json:"triggered,omitempty"`
}

// Triggered is implemented by faults fired by a file operation: the
// operation, described, and when the storage layer received it (Unix ns).
type Triggered interface {
	Trigger() (desc string, at int64)
}

// Options configures an Injector.
type Options struct {
	// Clock is the run's one clock; time.Now when nil.
	Clock func() time.Time
	// Journal receives one history.EvFault event per fault (role runner).
	Journal *history.Journal
	// StateDir keeps active faults on disk for cleanup; "" keeps none.
	StateDir string
	// RunID names this run's state file.
	RunID string
	// VerifyTimeout bounds Verify and VerifyHealed (polled). Default 60 s.
	VerifyTimeout time.Duration
	// HealTimeout bounds one Heal call. Default 60 s.
	HealTimeout time.Duration
	// Poll is the verify polling interval. Default 200 ms.
	Poll time.Duration
}

// Injector runs faults and remembers which are active.
type Injector struct {
	o      Options
	mu     sync.Mutex
	active map[Fault]*Record
	done   []Record
}

// NewInjector returns an Injector.
func NewInjector(o Options) *Injector {
	if o.Clock == nil {
		o.Clock = time.Now
	}
	if o.VerifyTimeout <= 0 {
		o.VerifyTimeout = 60 * time.Second
	}
	if o.HealTimeout <= 0 {
		o.HealTimeout = 60 * time.Second
	}
	if o.Poll <= 0 {
		o.Poll = 200 * time.Millisecond
	}
	return &Injector{o: o, active: map[Fault]*Record{}}
}

func (in *Injector) now() int64 { return in.o.Clock().UnixNano() }

// Run injects f, verifies, holds it for d (returning early, still healing, if
// ctx ends), heals and verifies healed. The record is complete on every path.
func (in *Injector) Run(ctx context.Context, f Fault, d time.Duration) (Record, error) {
	rec := &Record{Name: f.Name(), Action: f.Action(), Target: f.Target()}
	if t, ok := f.(Triggered); ok {
		rec.Trigger, rec.Triggered = t.Trigger()
	}
	in.mu.Lock()
	in.active[f] = rec
	in.mu.Unlock()
	in.persist()
	defer func() {
		in.mu.Lock()
		delete(in.active, f)
		in.done = append(in.done, *rec)
		in.mu.Unlock()
		in.persist()
		in.journal(in.snapshot(rec))
	}()

	injected := in.now()
	in.update(rec, func(r *Record) { r.Injected = injected })
	if err := safely(ctx, f.Inject); err != nil {
		in.update(rec, func(r *Record) { r.Err = fmt.Sprintf("inject: %v", err) })
		herr := in.heal(f, rec)
		return in.snapshot(rec), errors.Join(fmt.Errorf("fault %s (%s on %s): inject: %w", rec.Name, rec.Action, rec.Target, err), herr)
	}
	if err := in.poll(ctx, f.Verify); err != nil {
		in.update(rec, func(r *Record) { r.Err = fmt.Sprintf("verify: %v", err) })
		herr := in.heal(f, rec)
		return in.snapshot(rec), errors.Join(fmt.Errorf("fault %s (%s on %s) did not take effect: %w", rec.Name, rec.Action, rec.Target, err), herr)
	}
	verified := in.now()
	in.update(rec, func(r *Record) { r.Verified = verified })
	if d > 0 {
		t := time.NewTimer(d - time.Duration(verified-injected))
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
		}
	}
	if err := in.heal(f, rec); err != nil {
		return in.snapshot(rec), err
	}
	return in.snapshot(rec), nil
}

// update changes a record under the lock: persist (from other faults'
// goroutines) and HealAll read records concurrently.
func (in *Injector) update(rec *Record, fn func(*Record)) {
	in.mu.Lock()
	defer in.mu.Unlock()
	fn(rec)
}

// snapshot copies a record under the lock.
func (in *Injector) snapshot(rec *Record) Record {
	in.mu.Lock()
	defer in.mu.Unlock()
	return *rec
}

// heal runs Heal and VerifyHealed with their own deadlines: healing must
// happen even when the run's context is already cancelled.
func (in *Injector) heal(f Fault, rec *Record) error {
	hctx, cancel := context.WithTimeout(context.Background(), in.o.HealTimeout)
	defer cancel()
	healed := in.now()
	in.update(rec, func(r *Record) { r.Healed = healed })
	if err := safely(hctx, f.Heal); err != nil {
		in.update(rec, func(r *Record) { r.Err = joinMsg(r.Err, "heal: "+err.Error()) })
		return fmt.Errorf("fault %s (%s on %s): heal failed, run `rwxchaos cleanup`: %w", rec.Name, rec.Action, rec.Target, err)
	}
	vctx, vcancel := context.WithTimeout(context.Background(), in.o.VerifyTimeout)
	defer vcancel()
	if err := in.poll(vctx, f.VerifyHealed); err != nil {
		in.update(rec, func(r *Record) { r.Err = joinMsg(r.Err, "verify healed: "+err.Error()) })
		return fmt.Errorf("fault %s (%s on %s): not healed: %w", rec.Name, rec.Action, rec.Target, err)
	}
	verified := in.now()
	in.update(rec, func(r *Record) { r.HealVerified = verified })
	return nil
}

// ErrPanic marks an error that was a panic in a fault's own code (a
// provider bug): the fault was healed, but the run should stop.
var ErrPanic = errors.New("panic")

// safely calls one step of a fault, turning a panic (a provider bug) into
// an error wrapping ErrPanic, so that the step after it — healing — still
// runs.
func safely(ctx context.Context, step func(context.Context) error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%w: %v\n%s", ErrPanic, p, debug.Stack())
		}
	}()
	return step(ctx)
}

func joinMsg(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}

func (in *Injector) poll(ctx context.Context, fn func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, in.o.VerifyTimeout)
	defer cancel()
	var last error
	for {
		if last = safely(ctx, fn); last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last: %v)", ctx.Err(), last)
		case <-time.After(in.o.Poll):
		}
	}
}

// HealAll heals every fault still active (the deferred safety net of a run).
func (in *Injector) HealAll() error {
	in.mu.Lock()
	var fs []Fault
	for f := range in.active {
		fs = append(fs, f)
	}
	in.mu.Unlock()
	var errs []error
	for _, f := range fs {
		in.mu.Lock()
		rec := in.active[f]
		in.mu.Unlock()
		if rec == nil {
			continue
		}
		if err := in.heal(f, rec); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Records returns every finished fault, in finishing order.
func (in *Injector) Records() []Record {
	in.mu.Lock()
	defer in.mu.Unlock()
	return append([]Record(nil), in.done...)
}

func (in *Injector) journal(rec Record) {
	if in.o.Journal == nil {
		return
	}
	e := history.Event{Role: history.RoleRunner, Type: history.EvFault, Call: rec.Injected, Return: rec.Healed,
		Target: rec.Target, Detail: rec.Action + " " + rec.Name, Err: rec.Err, Outcome: history.OK}
	if rec.Err != "" {
		e.Outcome = history.Fail
	}
	if e.Return != 0 && e.Return < e.Call {
		e.Return = e.Call
	}
	_ = in.o.Journal.Append(e)
}

// State is the on-disk list of a run's active faults.
type State struct {
	RunID string `json:"runId"`
	Pid   int    `json:"pid"` // the runner's pid
	// Start is the runner's start time (procid): with Pid it tells a live
	// runner from a process that got its pid later.
	Start  uint64  `json:"start,omitempty"`
	Active []Entry `json:"active"`
}

// Runner is the process that wrote the state.
func (s State) Runner() procid.ID { return procid.ID{Pid: s.Pid, Start: s.Start} }

// Entry is one active fault in a State.
type Entry struct {
	Record Record `json:"record"`
	Undo   *Undo  `json:"undo,omitempty"`
}

func (in *Injector) persist() {
	if in.o.StateDir == "" {
		return
	}
	in.mu.Lock()
	me := procid.Self()
	st := State{RunID: in.o.RunID, Pid: me.Pid, Start: me.Start}
	for f, rec := range in.active {
		st.Active = append(st.Active, Entry{Record: *rec, Undo: f.Undo()})
	}
	in.mu.Unlock()
	path := filepath.Join(in.o.StateDir, in.o.RunID+".json")
	if len(st.Active) == 0 {
		_ = os.Remove(path)
		return
	}
	_ = os.MkdirAll(in.o.StateDir, 0o755)
	b, _ := json.MarshalIndent(st, "", " ")
	tmp := path + ".tmp"
	if os.WriteFile(tmp, b, 0o644) == nil {
		_ = os.Rename(tmp, path)
	}
}

// LoadStates reads every state file in dir.
func LoadStates(dir string) ([]State, []string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil, nil
		}
		return nil, nil, fmt.Errorf("read fault state: %w", err)
	}
	var (
		out   []State
		paths []string
	)
	for _, e := range ents {
		if filepath.Ext(e.Name()) != ".json" {
			continue
		}
		p := filepath.Join(dir, e.Name())
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, nil, err
		}
		var st State
		if err := json.Unmarshal(b, &st); err != nil {
			return nil, nil, fmt.Errorf("%s: %w", p, err)
		}
		out = append(out, st)
		paths = append(paths, p)
	}
	return out, paths, nil
}
