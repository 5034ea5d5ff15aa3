// Package kind runs a scenario with provider `kind`: a kind cluster (the
// lab's images when present), the pipeline fixtures on one RWX volume, node
// and network faults done to the node containers, and a watch of the cluster
// for rescheduling. It uses the kind Go library (framework/kindcluster)
// rather than e2e-framework's kind support: that one shells out to a kind
// binary and `go install`s one when missing, which cannot work offline, and
// it cannot add the extraMounts and kubeadm patches a scenario needs.
package kind

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/rwxchaos/rwxchaos/fixtures/k8s"
	"github.com/rwxchaos/rwxchaos/framework/fault"
	"github.com/rwxchaos/rwxchaos/framework/history"
	"github.com/rwxchaos/rwxchaos/framework/intervals"
	"github.com/rwxchaos/rwxchaos/framework/kindcluster"
	"github.com/rwxchaos/rwxchaos/framework/lab"
	"github.com/rwxchaos/rwxchaos/framework/provider"
	"github.com/rwxchaos/rwxchaos/framework/report"
	"github.com/rwxchaos/rwxchaos/framework/scenario"
	"github.com/rwxchaos/rwxchaos/framework/storage"
	"github.com/rwxchaos/rwxchaos/framework/support"
	"sigs.k8s.io/kind/pkg/apis/config/v1alpha4"
)

// JobqueueEvery is how often the jobqueue runs an engine job on kind (the
// CronJob runs at most once a minute).
const JobqueueEvery = 5 * time.Second

// Options for New.
type Options struct {
	Logf func(string, ...any)
	// Clock is the run's clock (runner's); time.Now when nil.
	Clock func() time.Time
	// Pool, when set, runs the scenario on the pool's shared cluster
	// (reset instead of deleted at teardown); see Pool.Factory.
	Pool *Pool
	// AppImage names a published rwxchaos image the nodes pull for the app
	// (`rwxchaos run --app-image`); "" reads EnvAppImage, and when that is
	// empty too the image is assembled from the running binary.
	AppImage string
}

// Env is the kind environment of one run.
type Env struct {
	o       Options
	s       *scenario.Scenario
	runDir  string
	runID   string
	seed    int64
	shared  string // host dir shared into every node at the same path
	volume  string // this run's subdir of shared: the PV's hostPath
	ns      string
	cluster *kindcluster.Cluster
	cs      kubernetes.Interface
	obs     *observer
	workers []string
	cpNode  string
	urls    []string
	mu      sync.Mutex // guards faults (appended by fault goroutines)
	faults  []nodeFault
	app     *appImage
	fuse    *storage.FuseServer
	// trigger is the runner's trigger socket the file server dials.
	trigger string
	pods    podCache
	// pubs follows the journals of a publish/consume workload.
	pubs   *provider.PublishTracker
	nfs    *nfsEnv      // backend nfs
	ext    *external    // workload external: the team's own app
	pooled *poolCluster // the pool's cluster this run holds (Options.Pool)
	// poolAside hands the machine back to the pool (a run beside it).
	poolAside func()
}

// startFuse starts the run's fuse server: state (and the data it serves)
// in dir, mounted on mnt.
func (e *Env) startFuse(ctx context.Context, dir, mnt string) error {
	srv, err := storage.NewFuse(storage.FuseConfig{Dir: dir, Mounts: map[string]string{"": mnt}, Shared: true, Trigger: e.trigger})
	if err != nil {
		return err
	}
	if err := srv.Start(ctx); err != nil {
		return fmt.Errorf("start the fuse server: %w", err)
	}
	e.fuse = srv
	return nil
}

// New returns the provider.Factory for provider.Set (see provider/all).
func New(base Options) func(provider.Config) (provider.Env, error) {
	return func(pc provider.Config) (provider.Env, error) {
		o, s, runDir := base, pc.Scenario, pc.RunDir
		if o.Logf == nil {
			o.Logf = pc.Logf
		}
		if o.Logf == nil {
			o.Logf = func(string, ...any) {}
		}
		if o.Clock == nil {
			o.Clock = pc.Clock
		}
		if o.Clock == nil {
			o.Clock = time.Now
		}
		if o.AppImage == "" {
			o.AppImage = os.Getenv(EnvAppImage)
		}
		if s.Cluster.Provider != scenario.ProviderKind {
			return nil, fmt.Errorf("kind provider: scenario %s asks for provider %s", s.Metadata.Name, s.Cluster.Provider)
		}
		runID := filepath.Base(runDir)
		seed := pc.Seed
		e := &Env{o: o, s: s, runDir: runDir, runID: runID, seed: seed, trigger: pc.Trigger,
			ns: "rwxchaos-" + strings.ToLower(strings.ReplaceAll(runID, "_", "-"))}
		if s.Workload.Mode == scenario.ModeExternal {
			e.ns, e.ext = s.Workload.Namespace, newExternal(e)
		}
		return e, nil
	}
}

// Name implements provider.Env.
func (e *Env) Name() string { return "kind" }

// backendSupported says whether this environment can run the scenario's
// storage backend here (an *support.Unsupported error when not).
func (e *Env) backendSupported() error {
	// The support table decides what kind runs, and probes Docker (and
	// root and /dev/fuse for backend fuse).
	if err := e.s.Gate(e.Name()); err != nil {
		return err
	}
	switch e.s.Storage.Backend {
	case scenario.BackendHostPath, scenario.BackendFuse, scenario.BackendNFS:
	default:
		return &support.Unsupported{Action: "storage backend " + string(e.s.Storage.Backend), Env: "kind",
			Reason: "not wired into the kind provider yet: use backend hostpath, fuse or nfs"}
	}
	if _, err := os.Stat("/var/run/docker.sock"); err != nil {
		return fmt.Errorf("docker is not running (run `make lab`, which starts dockerd): %w", err)
	}
	return nil
}

// Provision creates (or reuses) the cluster and loads the pipeline image.
func (e *Env) Provision(ctx context.Context) error {
	if err := e.backendSupported(); err != nil {
		return err
	}
	if e.ext != nil {
		if err := e.ext.render(); err != nil {
			return err
		}
	}
	// On a pool, a scenario runs on the pool's cluster unless something
	// keeps it off (asideReason): backend nfs with the kernel's client (its
	// in-tree PV; not run on the pool's cluster yet), or an external app
	// whose manifests could leave what the reset neither removes nor sees.
	// Backend nfs with the userspace client runs on the pool's cluster,
	// whose nodes carry the client's mounts from creation. A run kept off
	// gets a cluster of its own: the pool deletes its cluster first and
	// waits for this run's teardown (one cluster at a time).
	if e.o.Pool != nil {
		var objs []*unstructured.Unstructured
		if e.ext != nil {
			objs = e.ext.objs
		}
		why := asideReason(e.s, objs)
		switch {
		case why == "" && e.s.Storage.Backend == scenario.BackendNFS:
			return e.provisionSharedNFS(ctx)
		case why == "":
			return e.provisionShared(ctx)
		}
		done, err := e.o.Pool.aside(ctx, e.s, why, e.o.Logf)
		if err != nil {
			return err
		}
		e.poolAside = done
	}
	// A reused cluster keeps the scenario's name; otherwise each run gets its
	// own, so runs in parallel (two test packages) never share a cluster.
	name := e.s.Cluster.Kind.Name
	if !e.s.Cluster.Kind.Reuse {
		h := fnv.New32a()
		h.Write([]byte(e.runDir))
		name = fmt.Sprintf("run-%06x", h.Sum32()&0xffffff)
	}
	var (
		propagation v1alpha4.MountPropagation
		extra       []v1alpha4.Mount
	)
	if e.s.Storage.Backend == scenario.BackendNFS {
		// Decided first: a scenario this host cannot run costs nothing.
		// Named as kindcluster names the cluster (the server's container
		// is named and labelled after it).
		full := name
		if !strings.HasPrefix(full, kindcluster.NamePrefix) {
			full = kindcluster.NamePrefix + full
		}
		n, mounts, err := e.newNFS(ctx, full)
		if err != nil {
			return err
		}
		e.nfs, extra = n, mounts
		e.volume = n.volume(e.runID)
	} else {
		e.shared = filepath.Join(lab.CacheDir(), "kind-shared", kindcluster.NamePrefix+name)
		e.volume = filepath.Join(e.shared, "runs", e.runID)
	}
	if e.s.Storage.Backend == scenario.BackendFuse {
		// One userspace file server for the whole cluster, mounted on the
		// shared dir before the nodes exist; its mount (and a remount after
		// a restart) propagates into every node and pod.
		if err := e.startFuse(ctx, filepath.Join(lab.CacheDir(), "kind-fuse", kindcluster.NamePrefix+name), e.shared); err != nil {
			return err
		}
		propagation = v1alpha4.MountPropagationHostToContainer
	}
	if err := os.MkdirAll(e.volume, 0o777); err != nil {
		return fmt.Errorf("volume dir: %w", err)
	}
	c, err := kindcluster.New(kindcluster.Options{
		Name: name, Workers: e.s.Cluster.Kind.Workers, SharedDir: e.shared, SharedPropagation: propagation, ExtraMounts: extra, Timings: timingsOf(e.s),
		Reuse: e.s.Cluster.Kind.Reuse, KeepOnDispose: e.s.Cluster.Kind.Reuse,
		KubeconfigPath: filepath.Join(e.runDir, "kubeconfig"), LogsDir: filepath.Join(e.runDir, "kind-logs"), Logf: e.o.Logf,
	})
	if err != nil {
		return err
	}
	// Assemble the app image before creating the cluster so an error costs
	// nothing. An external app brings its own images.
	if e.ext == nil {
		if e.app, err = chooseAppImage(e.o.AppImage); err != nil {
			return err
		}
	}
	if err := c.Create(ctx); err != nil {
		return err
	}
	e.cluster = c
	if e.ext == nil {
		if err := e.app.load(ctx, c, e.o.Logf); err != nil {
			return err
		}
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", c.KubeconfigPath())
	if err != nil {
		return fmt.Errorf("kubeconfig: %w", err)
	}
	cfg.Timeout = 15 * time.Second
	if e.cs, err = kubernetes.NewForConfig(cfg); err != nil {
		return err
	}
	if err := e.waitNodes(ctx); err != nil {
		return err
	}
	if e.nfs != nil {
		if err := e.startNFS(ctx); err != nil {
			return err
		}
	}
	if e.ext != nil {
		return e.ext.provision(ctx)
	}
	return nil
}

// waitNodes waits until every node of the new cluster is Ready and notes
// which is the control plane and which are workers.
func (e *Env) waitNodes(ctx context.Context) error {
	want := 1 + e.s.Cluster.Kind.Workers
	var last string
	err := intervals.Get(intervals.NodesReady).Until(ctx, func(ctx context.Context) (bool, error) {
		nodes, err := e.cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		if err != nil {
			last = err.Error()
			return false, nil
		}
		ready := 0
		var workers, notReady []string
		cp := ""
		for _, n := range nodes.Items {
			if _, isCP := n.Labels["node-role.kubernetes.io/control-plane"]; isCP {
				cp = n.Name
			} else {
				workers = append(workers, n.Name)
			}
			if nodeReady(&n) {
				ready++
			} else {
				notReady = append(notReady, n.Name)
			}
			sortWorkers(e.workers)
		}
		sort.Strings(workers)
		e.workers, e.cpNode = workers, cp
		last = fmt.Sprintf("%d of %d nodes Ready (not Ready: %s)", ready, want, strings.Join(notReady, ", "))
		return ready == want && len(nodes.Items) == want, nil
	})
	if err != nil {
		return fmt.Errorf("kind nodes: %w: %s", err, last)
	}
	return nil
}

func nodeReady(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// Deploy applies the fixtures and waits for every webserver to be Ready
// (for a publish/consume workload: the publisher and every consumer).
func (e *Env) Deploy(ctx context.Context) error {
	if e.ext != nil {
		return e.ext.deploy(ctx)
	}
	w := e.s.Workload
	if w.Mode == scenario.ModePublishConsume {
		return e.deployPublish(ctx)
	}
	cron, _ := w.Engine.Cron()
	var defects []string
	for _, d := range w.Defects {
		defects = append(defects, string(d))
	}
	objs, err := k8s.Pipeline(k8s.PipelineInput{
		Namespace: e.ns, Run: e.runID, Image: e.app.ref, Command: e.app.command, PullPolicy: e.app.pull,
		Webservers: w.Replicas.Webserver, Jobqueue: w.Replicas.Jobqueue != nil && *w.Replicas.Jobqueue > 0,
		JobqueueEvery: JobqueueEvery, EngineSchedule: cron,
		LeaseTTL: w.Engine.LeaseTTL.D(), Heartbeat: w.Engine.Heartbeat.D(), StepDelay: w.Engine.StepDelay.D(), Defects: defects,
		Volume: e.pipelineVolume(), JournalHostPath: e.journalHostPath(),
		// On NFS a cut-off or killed node must not hold both engine
		// runners, or no engine could take the lock over before it heals.
		EngineAvoidsJobqueue: e.nfs != nil,
	})
	if err != nil {
		return err
	}
	e.obs = newObserver(e.o.Clock)
	if err := k8s.Apply(ctx, e.cs, objs); err != nil {
		return err
	}
	if err := e.obs.start(ctx, e.cs, e.ns); err != nil {
		return fmt.Errorf("watch cluster: %w", err)
	}
	if err := k8s.WaitReady(ctx, e.cs, objs, intervals.Get(intervals.PipelineReady)); err != nil {
		return err
	}
	svc, err := e.cs.CoreV1().Services(e.ns).Get(ctx, objs.Service.Name, metav1.GetOptions{})
	if err != nil {
		return err
	}
	port := svc.Spec.Ports[0].NodePort
	for _, n := range e.workers {
		ip, err := nodeIP(ctx, n)
		if err != nil {
			return err
		}
		e.urls = append(e.urls, fmt.Sprintf("http://%s:%d", ip, port))
	}
	return nil
}

// pipelineVolume is the PV the pipeline mounts.
func (e *Env) pipelineVolume() k8s.Volume {
	v := k8s.Volume{HostPath: e.volume, MountOptions: e.s.Storage.MountOptions, Size: e.s.Storage.Size}
	if e.nfs == nil {
		return v
	}
	if e.nfs.client == scenario.NFSClientKernel {
		return k8s.Volume{NFSServer: e.nfs.server.IP(), NFSPath: "/export/runs/" + e.runID, MountOptions: e.s.Storage.MountOptions, Size: e.s.Storage.Size}
	}
	// One level above the client's mountpoint, so its remount propagates.
	return k8s.Volume{HostPath: nfsNodeDir, Root: "mnt/runs/" + e.runID, Size: e.s.Storage.Size}
}

// journalHostPath keeps journals off an NFS volume (see nfsEnv).
func (e *Env) journalHostPath() string {
	if e.nfs == nil {
		return ""
	}
	return journalNodeDir + "/" + e.runID
}

// Endpoints are every worker's NodePort, as a load balancer would spread them.
func (e *Env) Endpoints() []string { return e.urls }

// Outputs counts output files (progress display).
func (e *Env) Outputs() int {
	if e.ext != nil {
		return e.ext.outputs()
	}
	return history.Count(e.volume)[history.StageOutput]
}

// Fault resolves a scenario fault against the cluster as it is now.
func (e *Env) Fault(ctx context.Context, spec scenario.FaultSpec, rng *rand.Rand) ([]fault.Fault, error) {
	if err := scenario.ActionSupport(e.Name(), spec.Action, e.s.Storage.Backend); err != nil {
		return nil, err
	}
	if r := spec.Schedule.WhileRunning; r != "" {
		if err := e.waitRunning(ctx, string(r)); err != nil {
			return nil, err
		}
	}
	switch spec.Action {
	case scenario.ActionNodeKill, scenario.ActionNodeStop, scenario.ActionNodePause, scenario.ActionNodeReboot:
		nodes, err := e.resolveNodes(ctx, spec.Target, rng)
		if err != nil {
			return nil, err
		}
		var out []fault.Fault
		for _, n := range nodes {
			out = append(out, &nodeFaultImpl{env: e, name: spec.Name, action: spec.Action, node: n})
		}
		return out, nil
	case scenario.ActionPartition:
		return e.partition(ctx, spec, rng)
	case scenario.ActionStoragePause, scenario.ActionStorageKill, scenario.ActionStorageRestart:
		if e.nfs != nil {
			f, err := storage.NewServerFault(spec.Name, string(spec.Action), e.nfs.server)
			if err != nil {
				return nil, err
			}
			f.Stalled, f.Healed = e.nfsStalled, e.nfsHealed
			return []fault.Fault{f}, nil
		}
		if e.fuse == nil {
			return nil, &support.Unsupported{Action: string(spec.Action), Env: "kind/" + string(e.s.Storage.Backend),
				Reason: "a hostpath volume has no storage server to fault: use backend fuse"}
		}
		f, err := storage.NewFault(spec.Name, string(spec.Action), e.fuse, "")
		if err != nil {
			return nil, err
		}
		return []fault.Fault{f}, nil
	case scenario.ActionStorageCutoff:
		if e.nfs != nil {
			nodes, err := e.resolveNodes(ctx, spec.Target, rng)
			if err != nil {
				return nil, err
			}
			return e.storageCuts(ctx, spec, nodes, scenario.DirectionBoth)
		}
		return nil, &support.Unsupported{Action: string(spec.Action), Env: "kind/" + string(e.s.Storage.Backend),
			Reason: "cutting one node off needs a file server per node; the kind environment runs one shared server"}
	}
	return nil, &support.Unsupported{Action: string(spec.Action), Env: "kind", Reason: "not implemented for kind yet"}
}

// Drain waits until the pipeline has moved everything out of input and
// work (the jobqueue runs an engine job every few seconds), or until every
// consumer has loaded the last version published.
func (e *Env) Drain(ctx context.Context, timeout time.Duration) error {
	if timeout <= 0 {
		timeout = 2 * time.Minute
	}
	start := time.Now()
	if e.ext != nil {
		return e.ext.drain(ctx, timeout)
	}
	if e.pubs != nil {
		iv := intervals.Get(intervals.PublishConverged).WithTimeout(timeout)
		if st, err := provider.WaitConverged(ctx, e.pubs, iv); err != nil {
			// Not a framework failure: the convergence check judges it.
			e.o.Logf("drain: %v", err)
		} else {
			e.o.Logf("drain: every consumer loaded version %d of every file", st.Published)
		}
		return nil
	}
	var in, work int
	err := intervals.Get(intervals.DrainVolume).WithTimeout(timeout).Until(ctx, func(context.Context) (bool, error) {
		in, work = pending(e.volume)
		return in == 0 && work == 0, nil
	})
	if err != nil {
		// Not a framework failure: the ledger reports what is stuck.
		e.o.Logf("drain: %d input and %d work files left after %s", in, work, timeout)
	}
	// Settled also means no pod left Terminating that can still go: a
	// node back from a fault confirms its pods' deletion once its kubelet
	// is up again, which can take longer than the pipeline's catching up.
	// Whatever is still Terminating at the end counts as stuck.
	if e.obs != nil {
		if left := timeout - time.Since(start); left > 0 {
			var pods []string
			if intervals.Get(intervals.DrainPods).WithTimeout(left).Until(ctx, func(context.Context) (bool, error) {
				pods = e.obs.terminatingOnReady()
				return len(pods) == 0, nil
			}) != nil {
				e.o.Logf("drain: pods still Terminating on Ready nodes after the settle: %s", strings.Join(pods, ", "))
			}
		}
	}
	return nil
}

func pending(root string) (input, work int) {
	n := history.Count(root)
	return n[history.StageInput], n[history.StageWork]
}

// Collect reads the journals and snapshot from the shared volume, pod logs
// from the API, and what the watch saw.
func (e *Env) Collect(ctx context.Context, dir string) (*history.History, provider.Observations, error) {
	var obs provider.Observations
	if e.pubs != nil {
		e.pubs.Stop()
	}
	if e.obs != nil {
		e.mu.Lock()
		faults := append([]nodeFault(nil), e.faults...)
		e.mu.Unlock()
		obs = e.obs.observations(faults)
		e.obs.Stop()
	}
	if e.cs != nil {
		if n := e.podLogs(ctx, filepath.Join(dir, "logs")); n > 0 {
			obs.Artifacts = append(obs.Artifacts, report.Artifact{Name: "pod logs", Path: "logs"})
		}
	}
	if e.ext != nil {
		h, err := e.ext.collect(ctx, dir, &obs)
		return h, obs, err
	}
	var (
		evs []history.Event
		st  history.ReadStats
		err error
	)
	if e.nfs != nil {
		var arts []report.Artifact
		evs, st, arts, obs.StorageNote = e.collectNFS(ctx, dir)
		obs.Artifacts = append(obs.Artifacts, arts...)
	} else if evs, st, err = history.ReadJournalDir(filepath.Join(e.volume, history.DirJournal)); err != nil {
		return nil, obs, err
	}
	snap, err := history.Scan(e.volume, e.o.Clock())
	if err != nil {
		return nil, obs, err
	}
	return &history.History{Events: evs, Snapshot: snap, Stats: st}, obs, nil
}

func (e *Env) podLogs(ctx context.Context, dir string) int {
	pods, err := e.cs.CoreV1().Pods(e.ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		e.o.Logf("pod logs: list pods in %s: %v (no pod logs in the report)", e.ns, err)
		return 0
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		e.o.Logf("pod logs: %v (no pod logs in the report)", err)
		return 0
	}
	n := 0
	var missing []string
	for _, p := range pods.Items {
		if err := e.podLog(ctx, p.Name, filepath.Join(dir, p.Name+".log")); err != nil {
			missing = append(missing, p.Name+": "+err.Error())
			continue
		}
		n++
	}
	if len(missing) > 0 {
		// A log that could not be read is said where the logs are, not
		// dropped: a reader looking for a pod's log learns why it is absent.
		e.o.Logf("pod logs: %d of %d not collected (see logs/MISSING.txt)", len(missing), len(pods.Items))
		if err := os.WriteFile(filepath.Join(dir, "MISSING.txt"), []byte(strings.Join(missing, "\n")+"\n"), 0o644); err == nil {
			n++
		}
	}
	return n
}

// podLog copies one pod's log (current container instances) to path.
func (e *Env) podLog(ctx context.Context, pod, path string) error {
	lctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	rc, err := e.cs.CoreV1().Pods(e.ns).GetLogs(pod, &corev1.PodLogOptions{}).Stream(lctx)
	if err != nil {
		return err
	}
	defer rc.Close()
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, rc); err != nil {
		f.Close()
		return fmt.Errorf("log cut short (%w); what was read is in %s", err, filepath.Base(path))
	}
	return f.Close()
}

// Teardown deletes the namespace and the PV, and the cluster unless reused;
// a pool's cluster is reset for the next scenario instead.
func (e *Env) Teardown(ctx context.Context) error {
	if e.pooled != nil {
		return e.teardownShared(ctx)
	}
	var errs []error
	if e.ext != nil {
		errs = append(errs, e.ext.teardown(ctx))
	}
	if e.cs != nil {
		pol := metav1.DeletePropagationForeground
		if err := e.cs.CoreV1().Namespaces().Delete(ctx, e.ns, metav1.DeleteOptions{PropagationPolicy: &pol}); err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, err)
		}
		if err := e.cs.CoreV1().PersistentVolumes().Delete(ctx, "rwxchaos-"+e.ns, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, err)
		}
	}
	if e.cluster != nil {
		errs = append(errs, e.cluster.Dispose(ctx))
	}
	if e.volume != "" {
		errs = append(errs, os.RemoveAll(e.volume))
	}
	if e.fuse != nil {
		errs = append(errs, e.fuse.Stop(ctx))
	}
	if e.nfs != nil {
		errs = append(errs, e.teardownNFS(ctx))
	}
	if e.poolAside != nil {
		e.poolAside()
		e.poolAside = nil
	}
	return errors.Join(errs...)
}

// kindCluster is the kind cluster the run is on: its own, or the pool's.
func (e *Env) kindCluster() *kindcluster.Cluster {
	if e.pooled != nil {
		return e.pooled.cluster
	}
	return e.cluster
}

func (e *Env) noteFault(name, node string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.faults = append(e.faults, nodeFault{name: name, node: node, at: e.o.Clock().UnixNano()})
}
