package kind

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/kind/pkg/apis/config/v1alpha4"

	"github.com/rwxchaos/rwxchaos/framework/kindcluster"
	"github.com/rwxchaos/rwxchaos/framework/lab"
	"github.com/rwxchaos/rwxchaos/framework/provider"
	"github.com/rwxchaos/rwxchaos/framework/scenario"
)

// Pool runs many kind scenarios on one cluster, one scenario at a time:
// the first scenario creates it, every scenario's teardown resets it (see
// ResetStep), and before each scenario the reset is checked; leftovers fail
// that scenario and the cluster is recreated for the next. A scenario gets a
// new cluster when it says so (cluster.kind.fresh) or when its shape
// (workers, failure-detection timings: flags of the control plane) differs
// from the current cluster's; only one cluster exists at a time. An
// external app (workload external) runs on the pool's cluster too, its
// namespace, volumes and the images it loaded removed by the reset, unless
// its manifests could leave something the reset neither removes nor sees
// (see asideReason); such a scenario, and one with the kernel's NFS client,
// gets a cluster of its own beside the pool once the pool's is deleted.
//
// Use it from suites: runner.Options{NewEnv: pool.Factory(kind.Options{})},
// and Close it at the end.
type Pool struct {
	o PoolOptions
	// busy is held by the run using the cluster, from Provision to Teardown.
	busy  sync.Mutex
	mu    sync.Mutex // guards cur and stats
	cur   *poolCluster
	stats PoolStats
}

// PoolOptions configures a Pool.
type PoolOptions struct {
	// Logf receives progress lines; nil discards them.
	Logf func(string, ...any)
	// Dir keeps the pool's kubeconfig and the logs of a failed create.
	// Default: a new directory under os.TempDir().
	Dir string
	// Steps are added to every reset, after RegisterResetStep's.
	Steps []ResetStep
	// ResetTimeout bounds one reset (default DefaultResetTimeout).
	ResetTimeout time.Duration
}

// PoolStats say where a pool's time went.
type PoolStats struct {
	Clusters   int           // clusters created
	CreateTime time.Duration // creating them, until every node was Ready
	Resets     int
	ResetTime  time.Duration
	StepTime   map[string]time.Duration // per reset step, summed
	CheckTime  time.Duration            // leftover checks before scenarios
	ImageLoads int
	ImageTime  time.Duration
	// Prewarmed is the part of CreateTime spent creating a cluster in the
	// background (Prewarm), beside whatever ran then.
	Prewarmed   time.Duration
	Recreations []string // why a cluster was replaced
}

// poolCluster is the pool's current cluster.
type poolCluster struct {
	SharedCluster
	shape   clusterShape
	cluster *kindcluster.Cluster
	images  map[string]bool
	last    string // the scenario that ran on it last
	dirty   string // why it must not run another scenario
	// failed: a scenario already failed for dirty (the next one gets a new cluster).
	failed bool
	left   []string // dirty's leftovers
	fresh  bool     // delete after the run
	// nfsDir holds what backend nfs runs on this cluster need on the host
	// (see nfsEnv): every node mounts its journal/<node> and its bin
	// directory from creation, so an NFS scenario runs on the pool's
	// cluster with a server and clients of its own.
	nfsDir string
	// nfsCommand runs the userspace NFS client from bin (bundled by the
	// first NFS scenario; nil before).
	nfsCommand []string
}

// clusterShape is what a cluster is created with and a scenario depends on.
type clusterShape struct {
	workers int
	timings kindcluster.Timings
}

func (s clusterShape) String() string {
	return fmt.Sprintf("%d workers, node-monitor-grace-period %s, not-ready/unreachable toleration %s/%s",
		s.workers, s.timings.NodeMonitorGracePeriod, s.timings.NotReadyToleration, s.timings.UnreachableToleration)
}

func shapeOf(s *scenario.Scenario) clusterShape {
	return clusterShape{workers: s.Cluster.Kind.Workers, timings: timingsOf(s)}
}

// timingsOf are the control-plane flags a scenario's timings ask for.
func timingsOf(s *scenario.Scenario) kindcluster.Timings {
	t := s.Cluster.Timings
	out := kindcluster.Timings{NodeMonitorGracePeriod: t.NodeMonitorGracePeriod.D()}
	if t.NotReadyTolerationSeconds != nil {
		out.NotReadyToleration = time.Duration(*t.NotReadyTolerationSeconds) * time.Second
	}
	if t.UnreachableTolerationSeconds != nil {
		out.UnreachableToleration = time.Duration(*t.UnreachableTolerationSeconds) * time.Second
	}
	return out
}

// NewPool returns a pool; nothing is created until a scenario needs it.
func NewPool(o PoolOptions) *Pool {
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
	if o.ResetTimeout <= 0 {
		o.ResetTimeout = DefaultResetTimeout
	}
	return &Pool{o: o, stats: PoolStats{StepTime: map[string]time.Duration{}}}
}

// Factory returns an environment factory (runner.Options.NewEnv) whose kind
// environments run on the pool's cluster.
func (p *Pool) Factory(base Options) provider.Factory {
	base.Pool = p
	return New(base)
}

// Stats returns a copy of the pool's time accounting.
func (p *Pool) Stats() PoolStats {
	p.mu.Lock()
	defer p.mu.Unlock()
	st := p.stats
	st.StepTime = map[string]time.Duration{}
	for k, v := range p.stats.StepTime {
		st.StepTime[k] = v
	}
	st.Recreations = slices.Clone(p.stats.Recreations)
	return st
}

// Close deletes the pool's cluster. It waits for a run still using it.
func (p *Pool) Close(ctx context.Context) error {
	p.busy.Lock()
	defer p.busy.Unlock()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cur == nil {
		return nil
	}
	err := p.dispose(ctx, p.cur)
	p.cur = nil
	return err
}

// Prewarm starts creating, in the background, the cluster scenario s will
// need, so that its creation overlaps what runs before s (a suite's local
// scenarios). The pool is busy until the cluster is up: the first run waits
// for it, Close too. before runs first, in the background (a suite takes its
// machine-wide kind lock there); if it or the creation fails, that is
// logged and the first run creates the cluster itself. A pool that already
// has a cluster, and a scenario that does not run on the pool's cluster
// (PoolOrder), are left alone.
func (p *Pool) Prewarm(ctx context.Context, s *scenario.Scenario, before func(context.Context) error) {
	if !strings.HasPrefix(PoolOrder(s), "1") {
		return
	}
	p.busy.Lock()
	go func() {
		defer p.busy.Unlock()
		if before != nil {
			if err := before(ctx); err != nil {
				p.o.Logf("kind pool: no cluster created ahead for %s: %v", s.Metadata.Name, err)
				return
			}
		}
		p.mu.Lock()
		defer p.mu.Unlock()
		if p.cur != nil {
			return
		}
		p.o.Logf("kind pool: creating the cluster for %s ahead, beside the scenarios before it", s.Metadata.Name)
		start := time.Now()
		c, err := p.create(ctx, shapeOf(s), p.o.Logf)
		if err != nil {
			p.o.Logf("kind pool: creating the cluster ahead for %s failed (it will create one itself): %v", s.Metadata.Name, err)
			return
		}
		p.cur = c
		p.stats.Prewarmed += time.Since(start)
	}()
}

// LeftoverError is the check before a scenario finding what the reset after
// the previous one did not undo.
type LeftoverError struct {
	Cluster, After string
	Leftovers      []string
}

func (e *LeftoverError) Error() string {
	return fmt.Sprintf("shared kind cluster %s is not as new after scenario %s: %s — the reset step named before each did not undo it; fix that step (the next scenario gets a new cluster)",
		e.Cluster, e.After, strings.Join(e.Leftovers, "; "))
}

// acquire gives the run a clean cluster of its scenario's shape, creating
// one when needed; the pool stays busy until release.
func (p *Pool) acquire(ctx context.Context, s *scenario.Scenario, logf func(string, ...any)) (*poolCluster, error) {
	p.busy.Lock()
	pc, err := p.acquireLocked(ctx, s, logf)
	if err != nil {
		p.busy.Unlock()
		return nil, err
	}
	return pc, nil
}

func (p *Pool) acquireLocked(ctx context.Context, s *scenario.Scenario, logf func(string, ...any)) (*poolCluster, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	shape := shapeOf(s)
	if c := p.cur; c != nil && c.dirty != "" && !c.failed {
		// The reset after the previous scenario left something: this
		// scenario fails for it (a reset that misses things must be seen),
		// the next one gets a new cluster.
		c.failed = true
		return nil, &LeftoverError{Cluster: c.name, After: c.last, Leftovers: c.left}
	}
	if c := p.cur; c != nil {
		why := ""
		switch {
		case c.dirty != "":
			why = c.dirty
		case s.Cluster.Kind.Fresh:
			why = "scenario " + s.Metadata.Name + " needs a fresh cluster (cluster.kind.fresh)"
		case c.shape != shape:
			why = fmt.Sprintf("scenario %s needs %s; the cluster has %s", s.Metadata.Name, shape, c.shape)
		}
		if why != "" {
			logf("kind pool: deleting cluster %s: %s", c.name, why)
			p.stats.Recreations = append(p.stats.Recreations, why)
			if err := p.dispose(ctx, c); err != nil {
				return nil, fmt.Errorf("kind pool: delete cluster %s (%s): %w", c.name, why, err)
			}
			p.cur = nil
		}
	}
	if p.cur == nil {
		c, err := p.create(ctx, shape, logf)
		if err != nil {
			return nil, err
		}
		p.cur = c
	} else if p.cur.last == "" {
		// Created ahead (Prewarm) and never used: new, nothing to check.
		logf("kind pool: using cluster %s, created ahead", p.cur.name)
	} else {
		start := time.Now()
		cctx, cancel := context.WithTimeout(ctx, time.Minute)
		left := leftovers(cctx, &p.cur.SharedCluster, resetSteps(nil, p.o.Steps))
		cancel()
		p.stats.CheckTime += time.Since(start)
		if len(left) > 0 {
			c := p.cur
			c.dirty, c.left, c.failed = "the reset after "+c.last+" left: "+strings.Join(left, "; "), left, true
			return nil, &LeftoverError{Cluster: c.name, After: c.last, Leftovers: left}
		}
		logf("kind pool: reusing cluster %s (checked clean after %s in %s)", p.cur.name, p.cur.last, time.Since(start).Round(time.Millisecond))
	}
	p.cur.fresh = s.Cluster.Kind.Fresh
	p.cur.last = s.Metadata.Name
	return p.cur, nil
}

// aside gives a run that cannot run on the pool's cluster the machine (why
// says what keeps it off: see asideReason): the pool's cluster is deleted,
// so only one cluster exists at a time, and the pool stays busy until the
// returned func is called (at the run's teardown). The next pooled
// scenario creates a new cluster.
func (p *Pool) aside(ctx context.Context, s *scenario.Scenario, why string, logf func(string, ...any)) (func(), error) {
	p.busy.Lock()
	p.mu.Lock()
	defer p.mu.Unlock()
	why = "scenario " + s.Metadata.Name + " needs a cluster of its own: " + why
	c := p.cur
	if c == nil {
		logf("kind pool: %s", why)
		return p.busy.Unlock, nil
	}
	logf("kind pool: deleting cluster %s: %s", c.name, why)
	p.stats.Recreations = append(p.stats.Recreations, why)
	if err := p.dispose(ctx, c); err != nil {
		p.busy.Unlock()
		return nil, fmt.Errorf("kind pool: delete cluster %s (%s): %w", c.name, why, err)
	}
	p.cur = nil
	return p.busy.Unlock, nil
}

// release resets the cluster after a run (or deletes it when the scenario
// wanted a fresh one). Leftovers after the reset are returned as an error
// (the run's teardown phase shows it) and make the next scenario's check fail.
func (p *Pool) release(ctx context.Context, pc *poolCluster, run ...ResetStep) error {
	defer p.busy.Unlock()
	p.mu.Lock()
	defer p.mu.Unlock()
	if pc.fresh {
		err := p.dispose(ctx, pc)
		if p.cur == pc {
			p.cur = nil
		}
		return err
	}
	rctx, cancel := context.WithTimeout(ctx, p.o.ResetTimeout)
	defer cancel()
	start := time.Now()
	steps := resetSteps(run, p.o.Steps)
	timings, left := reset(rctx, &pc.SharedCluster, steps)
	if len(left) > 0 {
		// Once more: a step may have been undone by a later one's wait (a
		// node that flapped NotReady while namespaces were deleted). What
		// is left after a second pass is a leftover.
		p.o.Logf("kind pool: reset of %s left %s; resetting once more", pc.name, strings.Join(left, "; "))
		var again []StepTiming
		again, left = reset(rctx, &pc.SharedCluster, steps)
		timings = append(timings, again...)
	}
	took := time.Since(start)
	p.stats.Resets++
	p.stats.ResetTime += took
	var parts []string
	for _, t := range timings {
		p.stats.StepTime[t.Step] += t.Took
		parts = append(parts, fmt.Sprintf("%s %s", t.Step, t.Took.Round(10*time.Millisecond)))
	}
	p.o.Logf("kind pool: reset of %s after %s in %s (%s)", pc.name, pc.last, took.Round(10*time.Millisecond), strings.Join(parts, ", "))
	if len(left) > 0 {
		pc.dirty, pc.left = "the reset after "+pc.last+" left: "+strings.Join(left, "; "), left
		return fmt.Errorf("kind pool: reset of %s left %s", pc.name, strings.Join(left, "; "))
	}
	return nil
}

// loadImage loads an image into the cluster's nodes once per cluster (a
// node container's restart keeps its containerd images).
func (p *Pool) loadImage(ctx context.Context, pc *poolCluster, image string, load func(context.Context) error) error {
	if pc.images[image] {
		return nil
	}
	start := time.Now()
	if err := load(ctx); err != nil {
		return err
	}
	p.mu.Lock()
	p.stats.ImageLoads++
	p.stats.ImageTime += time.Since(start)
	p.mu.Unlock()
	pc.images[image] = true
	return nil
}

// sharedDirRoot holds the shared directories of pool clusters.
func sharedDirRoot() string { return filepath.Join(lab.CacheDir(), "kind-shared") }

// poolPrefix starts the names of pool clusters (after kindcluster.NamePrefix).
const poolPrefix = "set-"

func (p *Pool) create(ctx context.Context, shape clusterShape, logf func(string, ...any)) (*poolCluster, error) {
	start := time.Now()
	sweepStalePoolDirs(ctx, p.o.Logf)
	if p.o.Dir == "" {
		d, err := os.MkdirTemp("", "rwxchaos-pool-")
		if err != nil {
			return nil, fmt.Errorf("kind pool: %w", err)
		}
		p.o.Dir = d
	}
	h := fnv.New32a()
	fmt.Fprintf(h, "%d-%d", os.Getpid(), time.Now().UnixNano())
	name := fmt.Sprintf("%s%06x", poolPrefix, h.Sum32()&0xffffff)
	dir := filepath.Join(sharedDirRoot(), kindcluster.NamePrefix+name)
	nfsDir := poolNFSDir(kindcluster.NamePrefix + name)
	for _, d := range []string{dir, filepath.Join(dir, sharedRuns), filepath.Join(dir, sharedFuse), filepath.Join(dir, sharedTriggers),
		filepath.Join(nfsDir, "bin"), filepath.Join(nfsDir, "journal")} {
		if err := os.MkdirAll(d, 0o777); err != nil {
			return nil, fmt.Errorf("kind pool: shared dir: %w", err)
		}
	}
	// The shared dir is its own shared mount, bound into every node with
	// HostToContainer propagation: a storage server mounted below it later
	// (one per fuse scenario) appears in every node and pod.
	if err := bindShared(dir); err != nil {
		return nil, err
	}
	kubeconfig := filepath.Join(p.o.Dir, name+".kubeconfig")
	c, err := kindcluster.New(kindcluster.Options{
		Name: name, Workers: shape.workers, SharedDir: dir, SharedPropagation: v1alpha4.MountPropagationHostToContainer,
		ExtraMounts: nfsNodeMounts(nfsDir), Timings: shape.timings, KubeconfigPath: kubeconfig, LogsDir: filepath.Join(p.o.Dir, name+"-logs"), Logf: logf,
	})
	if err != nil {
		_ = syscall.Unmount(dir, syscall.MNT_DETACH)
		return nil, err
	}
	if err := c.Create(ctx); err != nil {
		_ = syscall.Unmount(dir, syscall.MNT_DETACH)
		return nil, err
	}
	pc := &poolCluster{shape: shape, cluster: c, images: map[string]bool{}, nfsDir: nfsDir}
	pc.name, pc.dir, pc.kubeconfig, pc.docker, pc.log = c.Name(), dir, kubeconfig, docker, p.o.Logf
	fail := func(err error) (*poolCluster, error) {
		_ = p.dispose(context.WithoutCancel(ctx), pc)
		return nil, err
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return fail(fmt.Errorf("kind pool: kubeconfig: %w", err))
	}
	cfg.Timeout = 15 * time.Second
	if pc.cs, err = kubernetes.NewForConfig(cfg); err != nil {
		return fail(fmt.Errorf("kind pool: client: %w", err))
	}
	nodes, err := pc.cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return fail(fmt.Errorf("kind pool: list nodes: %w", err))
	}
	pc.baseline = map[string][]corev1.Taint{}
	for _, n := range nodes.Items {
		if _, cp := n.Labels["node-role.kubernetes.io/control-plane"]; cp {
			pc.cp = n.Name
		} else {
			pc.workers = append(pc.workers, n.Name)
		}
	}
	sortWorkers(pc.workers)
	// Every node Ready before the first scenario; the taints a new cluster
	// then has are the baseline resets restore. (The system pods come up
	// beside the first scenario's; every check before a later scenario
	// requires them Ready.)
	hctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	for _, s := range []ResetStep{stepNodes{}} {
		if err := s.Reset(hctx, &pc.SharedCluster); err != nil {
			return fail(fmt.Errorf("kind pool: new cluster %s is not healthy: %w", pc.name, err))
		}
	}
	nodes, err = pc.cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return fail(fmt.Errorf("kind pool: list nodes: %w", err))
	}
	for _, n := range nodes.Items {
		for _, t := range n.Spec.Taints {
			if !lifecycleTaint(t) {
				pc.baseline[n.Name] = append(pc.baseline[n.Name], t)
			}
		}
	}
	took := time.Since(start)
	p.stats.Clusters++
	p.stats.CreateTime += took
	logf("kind pool: cluster %s (%s) ready in %s", pc.name, shape, took.Round(100*time.Millisecond))
	return pc, nil
}

// dispose deletes a pool cluster and its shared directory.
func (p *Pool) dispose(ctx context.Context, pc *poolCluster) error {
	var errs []error
	if pc.cluster != nil {
		errs = append(errs, pc.cluster.Dispose(ctx))
	}
	errs = append(errs, removeSharedDir(pc.dir))
	if pc.nfsDir != "" {
		if out, err := docker(ctx, "rm", "-f", nfsServerName(pc.name)); err != nil && !strings.Contains(out+err.Error(), "No such container") {
			errs = append(errs, fmt.Errorf("kind pool: remove the NFS server of %s: %w", pc.name, err))
		}
		errs = append(errs, os.RemoveAll(pc.nfsDir))
	}
	return errors.Join(errs...)
}

// bindShared makes dir a mount of itself with shared propagation.
func bindShared(dir string) error {
	if err := syscall.Mount(dir, dir, "", syscall.MS_BIND, ""); err != nil {
		return fmt.Errorf("kind pool: bind-mount the shared dir %s on itself (needs root): %w", dir, err)
	}
	if err := syscall.Mount("", dir, "", syscall.MS_SHARED, ""); err != nil {
		_ = syscall.Unmount(dir, syscall.MNT_DETACH)
		return fmt.Errorf("kind pool: make %s a shared mount: %w", dir, err)
	}
	return nil
}

// removeSharedDir detaches every mount at or below dir and removes it.
func removeSharedDir(dir string) error {
	if dir == "" {
		return nil
	}
	var errs []error
	mounts, err := mountsBelow(dir)
	if err != nil {
		return err
	}
	for _, m := range append(mounts, dir) {
		if err := syscall.Unmount(m, syscall.MNT_DETACH); err != nil && !errors.Is(err, syscall.EINVAL) && !errors.Is(err, syscall.ENOENT) {
			errs = append(errs, fmt.Errorf("unmount %s: %w", m, err))
		}
	}
	if len(errs) == 0 {
		errs = append(errs, os.RemoveAll(dir))
	}
	return errors.Join(errs...)
}

// sweepStalePoolDirs removes the shared directories of pool clusters that
// no longer exist (a suite that was killed before Close).
func sweepStalePoolDirs(ctx context.Context, logf func(string, ...any)) {
	ents, err := os.ReadDir(sharedDirRoot())
	if err != nil {
		return
	}
	live, err := kindcluster.List(ctx)
	if err != nil {
		return
	}
	for _, e := range ents {
		if !strings.HasPrefix(e.Name(), kindcluster.NamePrefix+poolPrefix) || slices.Contains(live, e.Name()) {
			continue
		}
		dir := filepath.Join(sharedDirRoot(), e.Name())
		if err := removeSharedDir(dir); err != nil {
			logf("kind pool: stale shared dir %s: %v", dir, err)
		} else {
			logf("kind pool: removed stale shared dir %s", dir)
		}
	}
}

// PoolOrder is a sort key that makes a suite cheap on a pool: scenarios of
// other providers first, then the pool's scenarios grouped by cluster shape
// (a change of shape recreates the cluster; an external app whose objects
// the reset removes runs with its shape's group), then the ones that get a
// cluster of their own (which deletes the pool's): cluster.kind.fresh or
// reuse, the kernel NFS client, an external app with objects the reset
// cannot remove (see asideReason). Sort by it stably.
func PoolOrder(s *scenario.Scenario) string {
	if s == nil || s.Cluster.Provider != scenario.ProviderKind {
		return "0"
	}
	if s.Cluster.Kind.Fresh || s.Cluster.Kind.Reuse || scenarioAside(s) != "" {
		return "2"
	}
	return "1 " + shapeOf(s).String()
}
