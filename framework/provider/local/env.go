// Package local runs a scenario with provider `local`: the pipeline's
// services (or the publisher and its consumers) as processes on this host
// sharing one directory. It is the fast, dependency-free single-host mode
// (no Docker, no Kubernetes): process-level faults, and the shared
// directory is a plain local one (backend local) or served by the go-fuse
// file server (backend fuse, which adds storage-pause, storage-kill,
// storage-restart and faults fired by file operations; storage-cutoff
// needs nodes); never NFS.
package local

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/rwxchaos/rwxchaos/framework/fault"
	"github.com/rwxchaos/rwxchaos/framework/history"
	"github.com/rwxchaos/rwxchaos/framework/intervals"
	"github.com/rwxchaos/rwxchaos/framework/proc"
	"github.com/rwxchaos/rwxchaos/framework/provider"
	"github.com/rwxchaos/rwxchaos/framework/report"
	"github.com/rwxchaos/rwxchaos/framework/scenario"
	"github.com/rwxchaos/rwxchaos/framework/selfexec"
	"github.com/rwxchaos/rwxchaos/framework/storage"
	"github.com/rwxchaos/rwxchaos/framework/support"
)

// Env is the local environment of one run.
type Env struct {
	s       *scenario.Scenario
	runDir  string
	root    string
	node    string
	binary  []string // runs the pipeline: [rwxchaos __pipeline] or [edi-pipeline]
	journal *history.Journal
	c       *proc.Cluster
	logf    func(string, ...any)
	// store serves root from <cache>/storage/<run> with backend fuse; nil
	// with backend local.
	store *storage.FuseServer
	// trigger is the runner's trigger socket the store dials ("" none).
	trigger string
	// pubs follows the journals of a publish/consume workload.
	pubs *provider.PublishTracker
}

// Options for New.
type Options struct {
	// Binary is a standalone edi-pipeline to run instead of this rwxchaos
	// binary's own (selfexec.Pipeline, which also reads
	// RWXCHAOS_PIPELINE_BINARY).
	Binary string
	// CacheDir holds run volumes. Default: $RWXCHAOS_CACHE or the user cache dir.
	CacheDir string
	Logf     func(string, ...any)
}

// New returns the provider.Factory for provider.Set (see provider/all).
func New(o Options) func(provider.Config) (provider.Env, error) {
	return func(pc provider.Config) (provider.Env, error) {
		s, runDir := pc.Scenario, pc.RunDir
		if s.Cluster.Provider != scenario.ProviderLocal {
			return nil, fmt.Errorf("local provider: scenario %s asks for provider %s", s.Metadata.Name, s.Cluster.Provider)
		}
		host, _ := os.Hostname()
		var bin []string
		if o.Binary != "" {
			bin = []string{o.Binary}
		}
		logf := o.Logf
		if logf == nil {
			logf = pc.Logf
		}
		if logf == nil {
			logf = func(string, ...any) {}
		}
		cache := o.CacheDir
		if cache == "" {
			cache = CacheDir()
		}
		return &Env{s: s, runDir: runDir, node: host, binary: bin, logf: logf, root: filepath.Join(cache, "volumes", filepath.Base(runDir)), trigger: pc.Trigger}, nil
	}
}

// CacheDir is where run volumes live, outside the repo.
func CacheDir() string {
	if d := os.Getenv("RWXCHAOS_CACHE"); d != "" {
		return d
	}
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "rwxchaos")
	}
	return filepath.Join(os.TempDir(), "rwxchaos-cache")
}

// Name implements provider.Env.
func (e *Env) Name() string { return "local" }

// Provision finds the pipeline program and creates the volume.
func (e *Env) Provision(ctx context.Context) error {
	// The support table decides what runs here, and probes what the host
	// must have (root and /dev/fuse for backend fuse).
	if err := e.s.Gate(e.Name()); err != nil {
		return err
	}
	if e.binary == nil {
		argv, err := selfexec.Pipeline.Command()
		if err != nil {
			return fmt.Errorf("the pipeline: %w", err)
		}
		e.binary = argv
	}
	if err := os.MkdirAll(e.root, 0o755); err != nil {
		return fmt.Errorf("volume: %w", err)
	}
	if e.s.Storage.Backend == scenario.BackendFuse {
		if err := e.startStore(ctx); err != nil {
			return err
		}
	}
	j, err := history.OpenJournal(filepath.Join(e.runDir, "journals", "provider.ndjson"), history.JournalOptions{
		Proc: history.ProcID(history.RoleRunner, e.node), Role: history.RoleRunner, Node: e.node})
	if err != nil {
		return err
	}
	e.journal = j
	return nil
}

// Deploy starts webservers, jobqueue and the engine schedule (or the
// publisher and its consumers).
func (e *Env) Deploy(ctx context.Context) error {
	w := e.s.Workload
	if w.Mode == scenario.ModePublishConsume {
		return e.deployPublish(ctx)
	}
	every, _ := w.Engine.Interval()
	if every == 0 {
		every = time.Second
	}
	cfg := proc.Config{
		Binary:     e.binary[0],
		BinaryArgs: e.binary[1:],
		Root:       e.root,
		Webservers: w.Replicas.Webserver,
		Jobqueue:   w.Replicas.Jobqueue != nil && *w.Replicas.Jobqueue > 0,
		// Like the Bots jobqueue server, it also runs engine jobs on its own
		// schedule: a second path to the engine lock besides the CronJob, so a
		// hung CronJob run (Forbid blocks the next) is not the only contender.
		JobqueueEvery: 2 * every,
		EngineEvery:   every,
		LeaseTTL:      w.Engine.LeaseTTL.D(),
		Heartbeat:     w.Engine.Heartbeat.D(),
		StepDelay:     w.Engine.StepDelay.D(),
		Node:          e.node,
		LogDir:        filepath.Join(e.runDir, "logs"),
		Journal:       e.journal,
		Logf:          e.logf,
	}
	for _, d := range w.Defects {
		cfg.Defects = append(cfg.Defects, string(d))
	}
	c, err := proc.Start(ctx, cfg)
	if err != nil {
		return err
	}
	e.c = c
	rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := c.WaitReady(rctx); err != nil {
		return fmt.Errorf("webservers not ready: %w (logs in %s)", err, cfg.LogDir)
	}
	return nil
}

// deployPublish starts the publisher and the consumers, each supervised
// like a Deployment's pod (restarted when it dies).
func (e *Env) deployPublish(ctx context.Context) error {
	p := e.s.Workload.Publish
	cfg := proc.Config{
		Binary:        e.binary[0],
		BinaryArgs:    e.binary[1:],
		Root:          e.root,
		Publisher:     true,
		PublisherArgs: PublisherArgs(p),
		Consumers:     p.Consumers,
		ConsumerArgs:  ConsumerArgs(p),
		Node:          e.node,
		LogDir:        filepath.Join(e.runDir, "logs"),
		Journal:       e.journal,
		Logf:          e.logf,
	}
	for _, d := range e.s.Workload.Defects {
		cfg.Defects = append(cfg.Defects, string(d))
	}
	c, err := proc.Start(ctx, cfg)
	if err != nil {
		return err
	}
	e.c = c
	jdir := filepath.Join(e.root, history.DirJournal)
	e.pubs = provider.NewPublishTracker(func() []string { return []string{jdir} }, p.Files, p.Consumers, 100*time.Millisecond)
	return nil
}

// PublisherArgs are the publisher's flags for a scenario's publish section.
func PublisherArgs(p scenario.PublishSpec) []string {
	a := []string{"--files", strconv.Itoa(p.Files), "--size", strconv.Itoa(p.Size),
		"--rate", strconv.FormatFloat(p.Rate, 'g', -1, 64), "--versions", strconv.Itoa(p.Versions)}
	if p.WriteTime > 0 {
		a = append(a, "--write-time", p.WriteTime.D().String())
	}
	return a
}

// ConsumerArgs are a consumer's flags for a scenario's publish section.
func ConsumerArgs(p scenario.PublishSpec) []string {
	return []string{"--files", strconv.Itoa(p.Files), "--rate", strconv.FormatFloat(p.LoadRate, 'g', -1, 64)}
}

// PublishStatus implements provider.PublishWatcher.
func (e *Env) PublishStatus() provider.PublishStatus {
	if e.pubs == nil {
		return provider.PublishStatus{Err: "no publish/consume workload deployed"}
	}
	return e.pubs.Status()
}

// Endpoints implements provider.Env.
func (e *Env) Endpoints() []string {
	if e.c == nil {
		return nil
	}
	return e.c.WebserverURLs()
}

// Outputs counts output files (progress display).
func (e *Env) Outputs() int { return history.Count(e.root)[history.StageOutput] }

// Fault resolves a scenario fault to processes.
func (e *Env) Fault(ctx context.Context, spec scenario.FaultSpec, rng *rand.Rand) ([]fault.Fault, error) {
	if err := scenario.ActionSupport(e.Name(), spec.Action, e.s.Storage.Backend); err != nil {
		return nil, err
	}
	switch spec.Action {
	case scenario.ActionStoragePause, scenario.ActionStorageKill, scenario.ActionStorageRestart:
		return e.storageFault(spec)
	}
	if spec.Target.Select == scenario.SelectLockHolder {
		return e.lockHolderFault(ctx, spec)
	}
	if spec.Target.Role == scenario.RoleEngine && spec.Action != scenario.ActionProcessRestart {
		return e.engineFault(ctx, spec)
	}
	procs, err := e.targets(ctx, spec, rng)
	if err != nil {
		return nil, err
	}
	var out []fault.Fault
	for _, p := range procs {
		info := p.Info()
		if spec.Action == scenario.ActionProcessRestart {
			out = append(out, &restart{name: spec.Name, c: e.c, info: info, down: spec.Duration.D()})
			continue
		}
		f := &fault.Signal{FaultName: spec.Name, Act: string(spec.Action), Desc: info.Target(), Pid: info.PID}
		if info.Role != proc.RoleEngine {
			f.Healed = e.whole(info) // supervised: restarted when killed
		}
		out = append(out, f)
	}
	return out, nil
}

// whole waits for a supervised replica to be back (a new process if it was
// killed) and, for webservers, ready.
func (e *Env) whole(info proc.ProcInfo) func(context.Context) error {
	return func(ctx context.Context) error {
		p, err := e.c.Process(info.Role, info.Index)
		if err != nil {
			return err
		}
		if p.Exited() {
			return fmt.Errorf("%s %d is down", info.Role, info.Index)
		}
		if info.Role == proc.RoleWebserver {
			rctx, cancel := context.WithTimeout(ctx, time.Second)
			defer cancel()
			return e.c.WaitReady(rctx)
		}
		return nil
	}
}

// targets picks the processes a fault acts on, waiting briefly for one to
// exist (an engine run starts every schedule tick).
func (e *Env) targets(ctx context.Context, spec scenario.FaultSpec, rng *rand.Rand) ([]*proc.Process, error) {
	count := max(spec.Target.Count, 1)
	deadline := time.Now().Add(10 * time.Second)
	for {
		ps, err := e.pick(spec, rng, count)
		if err == nil && len(ps) > 0 {
			return ps, nil
		}
		if time.Now().After(deadline) {
			if err == nil {
				err = errors.New("no matching process")
			}
			return nil, fmt.Errorf("target %+v: %w", spec.Target, err)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(25 * time.Millisecond):
		}
	}
}

func (e *Env) pick(spec scenario.FaultSpec, rng *rand.Rand, count int) ([]*proc.Process, error) {
	t := spec.Target
	switch {
	case t.Select == scenario.SelectRandomWebserver:
		ps := e.c.Running(proc.RoleWebserver)
		rng.Shuffle(len(ps), func(i, j int) { ps[i], ps[j] = ps[j], ps[i] })
		return ps[:min(count, len(ps))], nil
	case t.Select != "":
		return nil, &support.Unsupported{Action: string(spec.Action) + " on " + string(t.Select), Env: "local", Reason: "there are no nodes in single-host mode"}
	case t.Node != "":
		return nil, &support.Unsupported{Action: string(spec.Action) + " on node " + t.Node, Env: "local", Reason: "there are no nodes in single-host mode"}
	case t.Role == scenario.RoleEngine:
		p, err := e.c.Process(proc.RoleEngine, proc.CurrentRun)
		if err != nil {
			return nil, err
		}
		return []*proc.Process{p}, nil
	default:
		ps := e.c.Running(string(t.Role))
		return ps[:min(count, len(ps))], nil
	}
}

// engineFault targets an engine run: the scheduled (CronJob-like) run if one
// is alive, else one the jobqueue started that holds the lock — both are the
// engine. It waits up to 20 s for either to exist.
func (e *Env) engineFault(ctx context.Context, spec scenario.FaultSpec) ([]fault.Fault, error) {
	s, err := e.engineSignal(ctx, spec)
	if err != nil {
		return nil, err
	}
	return []fault.Fault{&retarget{Signal: s, pick: func(ctx context.Context) (*fault.Signal, error) { return e.engineSignal(ctx, spec) }}}, nil
}

func (e *Env) engineSignal(ctx context.Context, spec scenario.FaultSpec) (*fault.Signal, error) {
	deadline := time.Now().Add(20 * time.Second)
	for {
		if p, err := e.c.Process(proc.RoleEngine, proc.CurrentRun); err == nil {
			info := p.Info()
			return &fault.Signal{FaultName: spec.Name, Act: string(spec.Action), Desc: info.Target(), Pid: info.PID}, nil
		}
		if h, err := e.c.LeaseHolder(); err == nil {
			return &fault.Signal{FaultName: spec.Name, Act: string(spec.Action),
				Desc: fmt.Sprintf("engine pid %d (lock epoch %d)", h.PID, h.Epoch), Pid: h.PID}, nil
		}
		if time.Now().After(deadline) {
			return nil, errors.New("target role engine: no engine run alive for 20s (scheduled or started by the jobqueue)")
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(25 * time.Millisecond):
		}
	}
}

// lockHolderFault targets the process holding the engine lock, whether a
// scheduled engine run or one the jobqueue started (its own process group).
func (e *Env) lockHolderFault(ctx context.Context, spec scenario.FaultSpec) ([]fault.Fault, error) {
	if spec.Action == scenario.ActionProcessRestart {
		return nil, &support.Unsupported{Action: "process-restart of the lock holder", Env: "local", Reason: "engine runs are not restarted; use process-kill or process-pause"}
	}
	s, err := e.lockHolderSignal(ctx, spec)
	if err != nil {
		return nil, err
	}
	// The holder can end its run between the pick and the signal: then the
	// holder is picked again (as for engineFault).
	return []fault.Fault{&retarget{Signal: s, pick: func(ctx context.Context) (*fault.Signal, error) { return e.lockHolderSignal(ctx, spec) }}}, nil
}

// lockHolderSignal picks the lock's holder now, waiting up to 10 s for one.
func (e *Env) lockHolderSignal(ctx context.Context, spec scenario.FaultSpec) (*fault.Signal, error) {
	deadline := time.Now().Add(10 * time.Second)
	for {
		h, err := e.c.LeaseHolder()
		if err == nil {
			desc := fmt.Sprintf("engine pid %d (lock epoch %d)", h.PID, h.Epoch)
			if h.Run != nil {
				desc = h.Run.Info().Target() + fmt.Sprintf(" (lock epoch %d)", h.Epoch)
			}
			return &fault.Signal{FaultName: spec.Name, Act: string(spec.Action), Desc: desc, Pid: h.PID}, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("target lock-holder: %w", err)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(25 * time.Millisecond):
		}
	}
}

// Drain runs engine passes until the pipeline is empty (or, for a
// publish/consume workload, waits until every consumer has loaded the last
// version published).
func (e *Env) Drain(ctx context.Context, timeout time.Duration) error {
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	if e.pubs != nil {
		st, err := provider.WaitConverged(ctx, e.pubs, intervals.Get(intervals.PublishConverged).WithTimeout(timeout))
		if err != nil {
			// Not a framework failure: the convergence check judges it.
			e.logf("drain: %v", err)
			return nil
		}
		e.logf("drain: every consumer loaded version %d of every file", st.Published)
		return nil
	}
	res, err := e.c.Drain(ctx, timeout)
	if err != nil {
		// Not a framework failure: the ledger reports what is stuck.
		e.logf("drain: %v", err)
		return nil
	}
	e.logf("drained in %s with %d passes", res.Elapsed.Round(time.Millisecond), res.Passes)
	return nil
}

// Collect stops the processes, then reads every journal and scans the volume.
func (e *Env) Collect(ctx context.Context, dir string) (*history.History, provider.Observations, error) {
	var obs provider.Observations
	if e.c == nil {
		return nil, obs, errors.New("nothing was deployed")
	}
	if err := e.c.Stop(ctx); err != nil {
		e.logf("stop: %v", err)
	}
	if e.pubs != nil {
		e.pubs.Stop()
	}
	evs, st, err := history.ReadJournalDir(filepath.Join(e.root, history.DirJournal))
	if err != nil {
		return nil, obs, err
	}
	snap, err := history.Scan(e.root, time.Now())
	if err != nil {
		return nil, obs, err
	}
	obs.Nodes = []string{e.node}
	for i := 0; i < e.s.Workload.Publish.Consumers; i++ {
		obs.Nodes = append(obs.Nodes, proc.ConsumerNode(e.node, i))
	}
	for _, pi := range append(e.c.Finished(), e.c.Processes()...) {
		node := e.node
		if pi.Role == proc.RoleConsumer {
			node = proc.ConsumerNode(e.node, pi.Index) // the node it journals under
		}
		pod := report.Pod{Pod: pi.Target(), Component: pi.Role, Node: node, Created: pi.Started.UnixNano(), Phase: pi.Status}
		if !pi.Exited.IsZero() {
			pod.Deleted = pi.Exited.UnixNano()
		}
		if pod.Phase == "" {
			pod.Phase = pi.State
		}
		obs.Pods = append(obs.Pods, pod)
	}
	obs.Artifacts = append(obs.Artifacts, report.Artifact{Name: "process logs", Path: "logs"})
	return &history.History{Events: evs, Snapshot: snap, Stats: st}, obs, nil
}

// Teardown stops everything and removes the volume.
func (e *Env) Teardown(ctx context.Context) error {
	var errs []error
	if e.c != nil {
		errs = append(errs, e.c.Stop(ctx))
	}
	if e.pubs != nil {
		e.pubs.Stop()
	}
	if e.journal != nil {
		errs = append(errs, e.journal.Close())
	}
	if e.store != nil {
		// After the processes: unmount only once nothing uses the volume.
		errs = append(errs, e.store.Stop(ctx))
		if storage.Mounted(e.root) {
			errs = append(errs, fmt.Errorf("volume %s is still mounted: run `umount -l %s`", e.root, e.root))
			return errors.Join(errs...)
		}
		errs = append(errs, os.RemoveAll(e.storeDir()))
	}
	errs = append(errs, os.RemoveAll(e.root))
	return errors.Join(errs...)
}

func (e *Env) storeDir() string { return StorageDir(e.root) }

// StorageDir is where the fuse server behind a run's volume keeps its state
// and backing directory: <cache>/storage/<run>, beside <cache>/volumes/<run>
// (the volume itself is the mountpoint). `rwxchaos cleanup` passes it to
// storage.Cleanup after proc.Cleanup, before removing the volume.
func StorageDir(volume string) string {
	return filepath.Join(filepath.Dir(filepath.Dir(volume)), "storage", filepath.Base(volume))
}

// startStore mounts the go-fuse server on the volume root.
func (e *Env) startStore(ctx context.Context) error {
	// Provision's Gate checked root and /dev/fuse (support.FuseMount).
	st, err := storage.NewFuse(storage.FuseConfig{Dir: e.storeDir(), Mounts: map[string]string{"": e.root}, Trigger: e.trigger})
	if err != nil {
		return err
	}
	if err := st.Start(ctx); err != nil {
		return fmt.Errorf("volume: %w", err)
	}
	e.store = st
	e.logf("volume %s served by the fuse server, pid %v from %s", e.root, st.Pids(""), st.Backing())
	return nil
}

// storageFault is a storage-* action on the fuse server behind the volume.
func (e *Env) storageFault(spec scenario.FaultSpec) ([]fault.Fault, error) {
	if e.store == nil {
		return nil, fmt.Errorf("%s: backend %s has no file server running (did Provision fail?)", spec.Action, e.s.Storage.Backend)
	}
	f, err := storage.NewFault(spec.Name, string(spec.Action), e.store, "")
	if err != nil {
		return nil, err
	}
	if spec.Action == scenario.ActionStoragePause {
		f.Stalled = e.unready
	}
	f.Healed = func(ctx context.Context) error {
		rctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		return e.c.WaitReady(rctx)
	}
	return []fault.Fault{f}, nil
}

// unready returns nil once every webserver's /readyz fails (an error status
// or no answer within 3 s, as a kubelet probe would count it): a webserver
// that still says ready while its volume is stalled takes uploads it cannot
// store.
func (e *Env) unready(ctx context.Context) error {
	urls := e.c.WebserverURLs()
	errs := make([]error, len(urls))
	var wg sync.WaitGroup
	client := &http.Client{Timeout: 3 * time.Second}
	for i, u := range urls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, u+"/readyz", nil)
			if err != nil {
				errs[i] = err
				return
			}
			resp, err := client.Do(req)
			if err != nil {
				return // no answer: not ready
			}
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				errs[i] = fmt.Errorf("webserver %d at %s still answers /readyz 200", i, u)
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// restart is process-restart: graceful stop, held down for the duration,
// started again by the supervisor.
type restart struct {
	name string
	c    *proc.Cluster
	info proc.ProcInfo
	down time.Duration
	done chan error
}

func (r *restart) Name() string   { return r.name }
func (r *restart) Action() string { return string(scenario.ActionProcessRestart) }
func (r *restart) Target() string { return r.info.Target() }
func (r *restart) Inject(ctx context.Context) error {
	if r.info.Role == proc.RoleEngine {
		return errors.New("engine runs are not restarted; use process-kill (the schedule starts the next run)")
	}
	r.done = make(chan error, 1)
	go func() {
		_, err := r.c.Restart(context.WithoutCancel(ctx), r.info.Role, r.info.Index, r.down)
		r.done <- err
	}()
	return nil
}
func (r *restart) Verify(context.Context) error {
	if fault.ProcState(r.info.PID) != 0 && fault.ProcState(r.info.PID) != 'Z' {
		return fmt.Errorf("%s still running", r.info.Target())
	}
	return nil
}
func (r *restart) Heal(ctx context.Context) error {
	if r.done == nil {
		return nil
	}
	select {
	case err := <-r.done:
		r.done = nil
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}
func (r *restart) VerifyHealed(ctx context.Context) error {
	p, err := r.c.Process(r.info.Role, r.info.Index)
	if err != nil {
		return err
	}
	if p.Info().PID == r.info.PID {
		return errors.New("not restarted yet")
	}
	if r.info.Role == proc.RoleWebserver {
		rctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		return r.c.WaitReady(rctx)
	}
	return nil
}
func (r *restart) Undo() *fault.Undo { return nil }
