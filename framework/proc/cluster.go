package proc

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/rwxchaos/rwxchaos/framework/history"
	"github.com/rwxchaos/rwxchaos/framework/selfexec"
)

// Roles of the children, as in history.
const (
	RoleWebserver = history.RoleWebserver
	RoleEngine    = history.RoleEngine
	RoleJobqueue  = history.RoleJobqueue
	RolePublisher = history.RolePublisher
	RoleConsumer  = history.RoleConsumer
)

// CurrentRun, as an engine index, means "the newest engine run still alive".
const CurrentRun = -1

// Config describes the local cluster. Root is required.
type Config struct {
	// Binary runs the pipeline, after BinaryArgs: an edi-pipeline, or
	// rwxchaos with BinaryArgs ["__pipeline"]. Empty: selfexec.Pipeline
	// (this rwxchaos binary itself, or $RWXCHAOS_PIPELINE_BINARY).
	Binary     string
	BinaryArgs []string
	// Root is the shared volume directory; created if missing.
	Root string
	// Webservers is the number of webserver processes (0: none).
	Webservers int
	// Jobqueue starts one jobqueue process.
	Jobqueue bool
	// JobqueueEvery is passed as the jobqueue's --every; 0 leaves its default.
	JobqueueEvery time.Duration
	// EngineEvery launches an engine run at this interval, CronJob-style with
	// concurrencyPolicy Forbid: a tick is skipped while the previous scheduled
	// run is alive. 0 launches no scheduled runs (use RunEngine or Drain).
	EngineEvery time.Duration
	// LeaseTTL and Heartbeat are the engine's --lease-ttl and --heartbeat; 0
	// leaves the engine's defaults.
	LeaseTTL, Heartbeat time.Duration
	// StepDelay is the engine's --step-delay (a pause between file steps, to
	// widen the windows faults hit); 0 leaves it off.
	StepDelay time.Duration
	// EngineArgs are extra arguments for every engine run: scheduled ones,
	// Drain passes, RunEngine ones and the jobqueue's.
	EngineArgs []string
	// Publisher starts one supervised publisher process (the publish/consume
	// workload) with PublisherArgs (e.g. --files, --rate, --versions).
	Publisher     bool
	PublisherArgs []string
	// Consumers starts this many supervised consumer processes with
	// ConsumerArgs; consumer i runs with --node <Node>-c<i>, so each stands
	// for a node of its own in the journals.
	Consumers    int
	ConsumerArgs []string
	// Defects are switched on in every process (--defect NAME each).
	Defects []string
	// Node names this host in journals (--node). Default: the hostname.
	Node string
	// LogDir keeps <role>-<index>.log of every child. Default <Root>/.rwxchaos/logs.
	LogDir string
	// JournalDir is where the children write their journals (--journal-dir).
	// Default <Root>/botssys/logging/journal.
	JournalDir string
	// Journal receives the runner's process events; nil journals nothing
	// (the lock-recovery check then cannot see deaths).
	Journal *history.Journal
	// RestartDelay is how long a dead webserver or jobqueue stays down
	// before it is restarted, as a Deployment would. Default 100ms.
	RestartDelay time.Duration
	// StopGrace is how long a SIGTERMed process has before SIGKILL. Default 5s.
	StopGrace time.Duration
	// Env is added to every child's environment.
	Env []string
	// Logf, when set, receives the provider's own diagnostics.
	Logf func(format string, args ...any)
}

// Cluster is a running local cluster. Its methods are safe for concurrent use.
type Cluster struct {
	cfg     Config
	urls    []string
	jobsURL string

	ctx    context.Context // cancelled by Stop
	cancel context.CancelFunc

	mu        sync.Mutex
	slots     map[slotKey]*slot
	live      map[*Process]struct{}
	finished  []ProcInfo
	scheduled *Process // the scheduled engine run, Forbid applies to it
	runs      int      // engine runs started
	schedOff  bool

	supervisors sync.WaitGroup
	reapers     sync.WaitGroup
	stopOnce    sync.Once
	stopErr     error
}

type slotKey struct {
	role string
	idx  int
}

// slot is one supervised replica (webserver or jobqueue).
type slot struct {
	role    string
	idx     int
	args    []string
	cur     *Process
	changed chan struct{} // closed and replaced when cur changes
	hold    chan struct{} // non-nil while held down by Restart
}

var errStopped = errors.New("local: the cluster is stopped: Start a new one")

// PidDir is where a cluster on root keeps its children's pidfiles.
func PidDir(root string) string { return filepath.Join(root, ".rwxchaos", "pids") }

// Start starts the processes and returns once they are started (not
// necessarily ready: see WaitReady). On error, whatever was started is stopped.
func Start(ctx context.Context, cfg Config) (*Cluster, error) {
	if cfg.Binary == "" {
		argv, err := selfexec.Pipeline.Command()
		if err != nil {
			return nil, fmt.Errorf("local: %w", err)
		}
		cfg.Binary, cfg.BinaryArgs = argv[0], argv[1:]
	}
	if st, err := os.Stat(cfg.Binary); err != nil || st.IsDir() || st.Mode()&0o111 == 0 {
		return nil, fmt.Errorf("local: pipeline binary %q is not an executable file: leave Config.Binary empty to use this rwxchaos binary", cfg.Binary)
	}
	if cfg.Root == "" {
		return nil, errors.New("local: no root: set Config.Root to the shared volume directory")
	}
	if cfg.Webservers < 0 {
		return nil, fmt.Errorf("local: %d webservers: use 0 or more", cfg.Webservers)
	}
	if cfg.Heartbeat > 0 && cfg.LeaseTTL > 0 && 2*cfg.Heartbeat > cfg.LeaseTTL {
		return nil, fmt.Errorf("local: heartbeat %v must be at most half the lease TTL %v (the engine refuses more)", cfg.Heartbeat, cfg.LeaseTTL)
	}
	var err error
	if cfg.Binary, err = filepath.Abs(cfg.Binary); err != nil {
		return nil, err
	}
	if cfg.Root, err = filepath.Abs(cfg.Root); err != nil {
		return nil, err
	}
	if cfg.Node == "" {
		cfg.Node, _ = os.Hostname()
		if cfg.Node == "" {
			cfg.Node = "local"
		}
	}
	if cfg.LogDir == "" {
		cfg.LogDir = filepath.Join(cfg.Root, ".rwxchaos", "logs")
	}
	if cfg.JournalDir == "" {
		cfg.JournalDir = filepath.Join(cfg.Root, history.DirJournal)
	}
	if cfg.RestartDelay <= 0 {
		cfg.RestartDelay = 100 * time.Millisecond
	}
	if cfg.StopGrace <= 0 {
		cfg.StopGrace = 5 * time.Second
	}
	for _, d := range []string{cfg.Root, cfg.LogDir, cfg.JournalDir, PidDir(cfg.Root)} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("local: %w", err)
		}
	}
	if left, _ := listPidfiles(cfg.Root); len(left) > 0 {
		return nil, fmt.Errorf("local: %s holds pidfiles of an earlier run (%d processes may still run): run `rwxchaos cleanup` (local.Cleanup) on %s first", PidDir(cfg.Root), len(left), cfg.Root)
	}

	cctx, cancel := context.WithCancel(context.Background())
	c := &Cluster{cfg: cfg, ctx: cctx, cancel: cancel, slots: map[slotKey]*slot{}, live: map[*Process]struct{}{}}
	var slots []*slot
	for i := 0; i < cfg.Webservers; i++ {
		port, err := freePort()
		if err != nil {
			cancel()
			return nil, fmt.Errorf("local: pick a port for webserver %d: %w", i, err)
		}
		addr := "127.0.0.1:" + strconv.Itoa(port)
		c.urls = append(c.urls, "http://"+addr)
		slots = append(slots, &slot{role: RoleWebserver, idx: i, args: c.args(RoleWebserver, "--listen", addr)})
	}
	if cfg.Jobqueue {
		port, err := freePort()
		if err != nil {
			cancel()
			return nil, fmt.Errorf("local: pick a port for the jobqueue: %w", err)
		}
		addr := "127.0.0.1:" + strconv.Itoa(port)
		c.jobsURL = "http://" + addr
		extra := []string{"--listen", addr}
		if cfg.JobqueueEvery > 0 {
			extra = append(extra, "--every", cfg.JobqueueEvery.String())
		}
		// The jobqueue runs its engines as children with these flags.
		if ea := append(c.engineFlags(), cfg.EngineArgs...); len(ea) > 0 {
			extra = append(extra, "--engine-args", strings.Join(ea, " "))
		}
		slots = append(slots, &slot{role: RoleJobqueue, idx: 0, args: c.args(RoleJobqueue, extra...)})
	}
	if cfg.Publisher {
		slots = append(slots, &slot{role: RolePublisher, idx: 0, args: c.args(RolePublisher, cfg.PublisherArgs...)})
	}
	for i := 0; i < cfg.Consumers; i++ {
		args := c.argsOn(ConsumerNode(cfg.Node, i), RoleConsumer, cfg.ConsumerArgs...)
		slots = append(slots, &slot{role: RoleConsumer, idx: i, args: args})
	}
	for _, s := range slots {
		s.changed = make(chan struct{})
		p, err := c.spawn(s.role, s.idx, s.args)
		if err != nil {
			c.Stop(ctx)
			return nil, fmt.Errorf("local: %w", err)
		}
		c.mu.Lock()
		c.slots[slotKey{s.role, s.idx}] = s
		c.setCur(s, p)
		c.mu.Unlock()
		c.supervisors.Add(1)
		go c.supervise(s)
	}
	if cfg.EngineEvery > 0 {
		c.supervisors.Add(1)
		go c.schedule()
	}
	return c, nil
}

// ConsumerNode is the node name local consumer i journals under: one
// host, but each consumer stands for a node of its own.
func ConsumerNode(host string, i int) string { return fmt.Sprintf("%s-c%d", host, i) }

// args builds a child's command line: subcommand, its flags, common flags.
func (c *Cluster) args(role string, extra ...string) []string {
	return c.argsOn(c.cfg.Node, role, extra...)
}

func (c *Cluster) argsOn(node, role string, extra ...string) []string {
	a := append([]string{role}, extra...)
	a = append(a, "--root", c.cfg.Root, "--node", node, "--journal-dir", c.cfg.JournalDir)
	for _, d := range c.cfg.Defects {
		a = append(a, "--defect", d)
	}
	return a
}

func (c *Cluster) engineFlags() []string {
	var a []string
	if c.cfg.LeaseTTL > 0 {
		a = append(a, "--lease-ttl", c.cfg.LeaseTTL.String())
	}
	if c.cfg.Heartbeat > 0 {
		a = append(a, "--heartbeat", c.cfg.Heartbeat.String())
	}
	if c.cfg.StepDelay > 0 {
		a = append(a, "--step-delay", c.cfg.StepDelay.String())
	}
	return a
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func (c *Cluster) logf(format string, args ...any) {
	if c.cfg.Logf != nil {
		c.cfg.Logf(format, args...)
	}
}

func (c *Cluster) journal(e history.Event) {
	if c.cfg.Journal == nil {
		return
	}
	if err := c.cfg.Journal.Append(e); err != nil {
		c.logf("runner journal: %v", err)
	}
}

// setCur records a slot's new process; c.mu must be held.
func (c *Cluster) setCur(s *slot, p *Process) {
	s.cur = p
	close(s.changed)
	s.changed = make(chan struct{})
}

// exited is called by the reaper of every process.
func (c *Cluster) exited(p *Process) {
	c.mu.Lock()
	delete(c.live, p)
	c.finished = append(c.finished, p.Info())
	c.mu.Unlock()
}

func (c *Cluster) stopping() bool { return c.ctx.Err() != nil }

// supervise restarts a replica whenever it dies, until Stop.
func (c *Cluster) supervise(s *slot) {
	defer c.supervisors.Done()
	for {
		c.mu.Lock()
		p := s.cur
		c.mu.Unlock()
		select {
		case <-p.Done():
		case <-c.ctx.Done():
			return
		}
		for {
			c.mu.Lock()
			hold := s.hold
			c.mu.Unlock()
			if hold == nil {
				break
			}
			select {
			case <-hold:
			case <-c.ctx.Done():
				return
			}
		}
		select {
		case <-time.After(c.cfg.RestartDelay):
		case <-c.ctx.Done():
			return
		}
		for {
			np, err := c.spawn(s.role, s.idx, s.args)
			if err == nil {
				c.mu.Lock()
				if c.stopping() {
					c.mu.Unlock()
					_ = np.terminate(context.Background(), c.cfg.StopGrace)
					return
				}
				c.setCur(s, np)
				c.mu.Unlock()
				break
			}
			if errors.Is(err, errStopped) {
				return
			}
			c.logf("restart %s %d: %v", s.role, s.idx, err)
			select {
			case <-time.After(time.Second):
			case <-c.ctx.Done():
				return
			}
		}
	}
}

// schedule is the CronJob: one engine run per tick, none while the previous
// scheduled run is alive (concurrencyPolicy: Forbid).
func (c *Cluster) schedule() {
	defer c.supervisors.Done()
	t := time.NewTicker(c.cfg.EngineEvery)
	defer t.Stop()
	for {
		select {
		case <-t.C:
		case <-c.ctx.Done():
			return
		}
		c.mu.Lock()
		busy := c.schedOff || (c.scheduled != nil && !c.scheduled.Exited())
		c.mu.Unlock()
		if busy {
			continue
		}
		p, err := c.startEngine(nil)
		if err != nil {
			c.logf("scheduled engine run: %v", err)
			continue
		}
		c.mu.Lock()
		c.scheduled = p
		c.mu.Unlock()
	}
}

func (c *Cluster) startEngine(extra []string) (*Process, error) {
	c.mu.Lock()
	if c.stopping() {
		c.mu.Unlock()
		return nil, errStopped
	}
	c.runs++
	n := c.runs
	c.mu.Unlock()
	a := append(c.engineFlags(), c.cfg.EngineArgs...)
	a = append(a, extra...)
	p, err := c.spawn(RoleEngine, n, c.args(RoleEngine, a...))
	if err != nil {
		return nil, fmt.Errorf("local: %w", err)
	}
	return p, nil
}

// RunEngine launches one engine run now, outside the schedule and regardless
// of runs already alive (to overlap runs on purpose), with extra arguments
// such as "--crash-at", "after-copy". Wait on the returned process.
func (c *Cluster) RunEngine(ctx context.Context, extra ...string) (*Process, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return c.startEngine(extra)
}

// SuspendSchedule stops launching scheduled engine runs (a run alive keeps
// running); ResumeSchedule starts again.
func (c *Cluster) SuspendSchedule() { c.mu.Lock(); c.schedOff = true; c.mu.Unlock() }

// ResumeSchedule undoes SuspendSchedule.
func (c *Cluster) ResumeSchedule() { c.mu.Lock(); c.schedOff = false; c.mu.Unlock() }

// WebserverURLs are the webservers' base URLs, index order. They stay the
// same across restarts.
func (c *Cluster) WebserverURLs() []string { return slices.Clone(c.urls) }

// JobqueueURL is the jobqueue's base URL, "" without a jobqueue.
func (c *Cluster) JobqueueURL() string { return c.jobsURL }

// Config returns the configuration with defaults filled in.
func (c *Cluster) Config() Config { return c.cfg }

// Processes describes every live child, ordered by role and index.
func (c *Cluster) Processes() []ProcInfo {
	c.mu.Lock()
	ps := make([]*Process, 0, len(c.live))
	for p := range c.live {
		ps = append(ps, p)
	}
	c.mu.Unlock()
	out := make([]ProcInfo, 0, len(ps))
	for _, p := range ps {
		out = append(out, p.Info())
	}
	slices.SortFunc(out, func(a, b ProcInfo) int {
		if a.Role != b.Role {
			return strings.Compare(a.Role, b.Role)
		}
		return a.Index - b.Index
	})
	return out
}

// Finished describes every child that has exited, in exit order.
func (c *Cluster) Finished() []ProcInfo {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.finished)
}

// EngineRuns is the number of engine runs started so far.
func (c *Cluster) EngineRuns() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.runs
}

// Running returns the live processes of a role, oldest first; for the
// engine, the runs alive right now (scheduled and RunEngine ones).
func (c *Cluster) Running(role string) []*Process {
	c.mu.Lock()
	var ps []*Process
	for p := range c.live {
		if p.info.Role == role && !p.Exited() {
			ps = append(ps, p)
		}
	}
	c.mu.Unlock()
	slices.SortFunc(ps, func(a, b *Process) int { return a.info.Index - b.info.Index })
	return ps
}

// Process returns the live process of role and index (for the engine, index
// is the run number, or CurrentRun for the newest live run).
func (c *Cluster) Process(role string, idx int) (*Process, error) {
	if role == RoleEngine {
		runs := c.Running(RoleEngine)
		if idx == CurrentRun {
			if len(runs) == 0 {
				return nil, errors.New("local: no engine run is alive: wait for the schedule or RunEngine")
			}
			return runs[len(runs)-1], nil
		}
		for _, p := range runs {
			if p.info.Index == idx {
				return p, nil
			}
		}
		return nil, fmt.Errorf("local: engine run %d is not alive (%d runs started)", idx, c.EngineRuns())
	}
	c.mu.Lock()
	s := c.slots[slotKey{role, idx}]
	var p *Process
	if s != nil {
		p = s.cur
	}
	c.mu.Unlock()
	if s == nil {
		return nil, fmt.Errorf("local: no %s %d: roles are webserver (0..%d), jobqueue (0) and engine", role, idx, c.cfg.Webservers-1)
	}
	if p.Exited() {
		return nil, fmt.Errorf("local: %s %d is down (being restarted)", role, idx)
	}
	return p, nil
}

// Kill SIGKILLs the process group of role/idx and returns once it is dead.
// Webservers and the jobqueue are restarted after RestartDelay.
func (c *Cluster) Kill(ctx context.Context, role string, idx int) (ProcInfo, error) {
	p, err := c.Process(role, idx)
	if err != nil {
		return ProcInfo{}, err
	}
	if err := p.signal(syscall.SIGKILL); err != nil {
		return p.Info(), err
	}
	return p.Wait(ctx)
}

// Pause SIGSTOPs the process group of role/idx.
func (c *Cluster) Pause(role string, idx int) (ProcInfo, error) {
	p, err := c.Process(role, idx)
	if err != nil {
		return ProcInfo{}, err
	}
	if err := p.signal(syscall.SIGSTOP); err != nil {
		return p.Info(), err
	}
	p.setPaused(true)
	return p.Info(), nil
}

// Resume SIGCONTs a paused process group.
func (c *Cluster) Resume(role string, idx int) (ProcInfo, error) {
	p, err := c.Process(role, idx)
	if err != nil {
		return ProcInfo{}, err
	}
	if err := p.signal(syscall.SIGCONT); err != nil {
		return p.Info(), err
	}
	p.setPaused(false)
	return p.Info(), nil
}

// Restart stops role/idx gracefully (SIGTERM, SIGKILL after StopGrace),
// keeps it down for down, starts it again and returns the new process.
// Only webservers and the jobqueue can be restarted.
func (c *Cluster) Restart(ctx context.Context, role string, idx int, down time.Duration) (ProcInfo, error) {
	if role == RoleEngine {
		return ProcInfo{}, errors.New("local: engine runs are not restarted: Kill the run; the schedule starts the next")
	}
	c.mu.Lock()
	s := c.slots[slotKey{role, idx}]
	if s == nil {
		c.mu.Unlock()
		return ProcInfo{}, fmt.Errorf("local: no %s %d to restart", role, idx)
	}
	if s.hold != nil {
		c.mu.Unlock()
		return ProcInfo{}, fmt.Errorf("local: %s %d is already being restarted", role, idx)
	}
	hold := make(chan struct{})
	s.hold = hold
	old, changed := s.cur, s.changed
	c.mu.Unlock()
	release := func() {
		c.mu.Lock()
		if s.hold == hold {
			s.hold = nil
			close(hold)
		}
		c.mu.Unlock()
	}
	defer release()
	if err := old.terminate(ctx, c.cfg.StopGrace); err != nil {
		return ProcInfo{}, err
	}
	select {
	case <-time.After(down):
	case <-ctx.Done():
		return ProcInfo{}, ctx.Err()
	}
	release()
	for {
		select {
		case <-changed:
		case <-ctx.Done():
			return ProcInfo{}, fmt.Errorf("local: %s %d did not come back: %w (see %s)", role, idx, ctx.Err(), old.info.Log)
		case <-c.ctx.Done():
			return ProcInfo{}, errors.New("local: cluster stopped during restart")
		}
		c.mu.Lock()
		cur := s.cur
		changed = s.changed
		c.mu.Unlock()
		if cur != old {
			return cur.Info(), nil
		}
	}
}

// WaitReady waits until every webserver answers GET /readyz with 200.
func (c *Cluster) WaitReady(ctx context.Context) error {
	client := &http.Client{Timeout: time.Second}
	for {
		var notReady []string
		for i, u := range c.urls {
			resp, err := client.Get(u + "/readyz")
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					continue
				}
				err = fmt.Errorf("HTTP %d", resp.StatusCode)
			}
			notReady = append(notReady, fmt.Sprintf("webserver %d at %s: %v (log %s)", i, u,
				err, filepath.Join(c.cfg.LogDir, fmt.Sprintf("%s-%d.log", RoleWebserver, i))))
		}
		if len(notReady) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("local: not ready: %s: %w", strings.Join(notReady, "; "), ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// DrainResult says what a Drain did.
type DrainResult struct {
	Passes  int           // engine runs Drain launched
	Failed  int           // of which exited non-zero
	Input   int           // interchanges left in the input dirs
	Work    int           // and in the work dirs
	Elapsed time.Duration //
}

// Drain is the settle phase: it suspends the schedule (and leaves it
// suspended), waits for the scheduled run, then runs engine passes one at a
// time until the input and work directories are empty, no engine run is
// alive and the engine lock is free, or timeout passes. The lock counts: an
// engine that died holding it with no work left (killed after its last
// move) leaves a lease that only a later pass takes over, once it is
// stale, and releases; ending before that would leave the lock never
// recovered. Heal faults first: a paused engine run keeps Drain from
// finishing.
func (c *Cluster) Drain(ctx context.Context, timeout time.Duration) (DrainResult, error) {
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	c.SuspendSchedule()
	var res DrainResult
	retry := 50 * time.Millisecond
	for {
		res.Input, res.Work = c.pending()
		alive := c.Running(RoleEngine)
		if res.Input == 0 && res.Work == 0 && len(alive) == 0 && c.lockHeld() == "" {
			res.Elapsed = time.Since(start)
			return res, nil
		}
		var err error
		if len(alive) > 0 {
			// Wait for runs already going (scheduled, or started by a test).
			_, err = alive[0].Wait(ctx)
		} else {
			var p *Process
			p, err = c.startEngine(nil)
			if err == nil {
				res.Passes++
				var i ProcInfo
				if i, err = p.Wait(ctx); err == nil {
					if i.Code != 0 {
						res.Failed++
					}
					if in, wk := c.pending(); i.Code != 0 || in+wk > 0 || c.lockHeld() != "" {
						// Failed, lock busy (the jobqueue's run) or a stale
						// lease not yet breakable: back off a little.
						select {
						case <-time.After(retry):
						case <-ctx.Done():
							err = ctx.Err()
						}
					}
				}
			}
		}
		if err != nil {
			res.Input, res.Work = c.pending()
			res.Elapsed = time.Since(start)
			why := ""
			for _, p := range c.Running(RoleEngine) {
				if p.paused() || kernelState(p.info.PID) == "T" {
					why += fmt.Sprintf("; engine run %d (pid %d) is paused: resume it", p.info.Index, p.info.PID)
				}
			}
			if held := c.lockHeld(); held != "" {
				why += "; " + held
			}
			return res, fmt.Errorf("local: drain left %d input and %d work files after %d passes (%d failed) in %v%s; see the engine logs in %s: %w",
				res.Input, res.Work, res.Passes, res.Failed, res.Elapsed.Round(time.Millisecond), why, c.cfg.LogDir, err)
		}
	}
}

// lockHeld says who holds the engine lock ("" when nobody does: no lease
// yet, or released).
func (c *Cluster) lockHeld() string {
	l, err := history.ReadLease(c.cfg.Root)
	if errors.Is(err, os.ErrNotExist) {
		return ""
	}
	if err != nil {
		return "the engine lock: " + err.Error()
	}
	if l.Released {
		return ""
	}
	return fmt.Sprintf("the engine lock is held (epoch %d, by %s)", l.Epoch, l.Holder)
}

// pending counts interchanges waiting in the input and work directories.
func (c *Cluster) pending() (input, work int) {
	count := func(dir string, stage string) int {
		n := 0
		_ = filepath.WalkDir(filepath.Join(c.cfg.Root, dir), func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return nil
			}
			rel, _ := filepath.Rel(c.cfg.Root, p)
			if history.Classify(filepath.ToSlash(rel)) == stage {
				n++
			}
			return nil
		})
		return n
	}
	return count(history.DirInput, history.StageInput), count(history.DirWork, history.StageWork)
}

// Stop ends every child: paused ones are resumed first, then all get
// SIGTERM and, after StopGrace (or when ctx ends), SIGKILL. Nothing is left
// stopped or running. Stop is idempotent.
func (c *Cluster) Stop(ctx context.Context) error {
	c.stopOnce.Do(func() {
		c.mu.Lock()
		c.cancel() // under mu: no spawn registers after this
		c.mu.Unlock()
		c.supervisors.Wait()
		c.mu.Lock()
		ps := make([]*Process, 0, len(c.live))
		for p := range c.live {
			ps = append(ps, p)
		}
		c.mu.Unlock()
		var wg sync.WaitGroup
		errs := make([]error, len(ps))
		for i, p := range ps {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = p.terminate(ctx, c.cfg.StopGrace)
			}()
		}
		wg.Wait()
		c.reapers.Wait()
		c.stopErr = errors.Join(errs...)
	})
	return c.stopErr
}
