// Package existing runs a scenario with provider `existing`: a cluster the
// framework does not own, reached through a kubeconfig, with every fault
// injected by Chaos Mesh (framework/chaosmesh).
//
// Guardrails: the kube context must be in the allow-list (EnvAllowContext,
// the CLI's --allow-context), or nothing is touched; the provider reads,
// creates and deletes only in the namespaces the scenario lists; with
// `rwxchaos run --dry-run` (Plan) or EnvDryRun=1 it prints the objects it
// would create (EnvDryRun also to dry-run.yaml in the run directory),
// creates nothing, and the run is void;
// the kubeconfig is never copied into the run directory and messages that
// reach the report are scrubbed of credential-looking values.
//
// Workload pipeline deploys the framework's own pipeline (fixtures/k8s) into
// the workload namespace on the scenario's StorageClass, with the image
// named by EnvPipelineImage. Workload external deploys nothing: a helper
// pod mounting the application's PVC drops the traffic's interchanges into
// its input path and reads its outputs back (matched to inputs by
// interchange control reference, file name or content hash).
//
// Traffic reaches the pipeline's webservers through the API server's
// service proxy, so the runner needs no route to the pod network.
package existing

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/rwxchaos/rwxchaos/fixtures/k8s"
	"github.com/rwxchaos/rwxchaos/framework/chaosmesh"
	"github.com/rwxchaos/rwxchaos/framework/history"
	"github.com/rwxchaos/rwxchaos/framework/intervals"
	"github.com/rwxchaos/rwxchaos/framework/provider"
	"github.com/rwxchaos/rwxchaos/framework/report"
	"github.com/rwxchaos/rwxchaos/framework/scenario"
	"github.com/rwxchaos/rwxchaos/framework/selfexec"
	"github.com/rwxchaos/rwxchaos/framework/support"
	"github.com/rwxchaos/rwxchaos/framework/version"
)

// JobqueueEvery is how often the pipeline's jobqueue runs an engine job.
const JobqueueEvery = 5 * time.Second

// Options for New. Zero values fall back to the environment variables.
type Options struct {
	Logf  func(string, ...any)
	Clock func() time.Time
	// Kubeconfig overrides the scenario's path (and EnvKubeconfig).
	Kubeconfig string
	// AllowContexts: kube contexts that may be touched; nil reads
	// EnvAllowContext.
	AllowContexts []string
	// DryRun; nil reads EnvDryRun.
	DryRun *bool
	// PipelineImage for workload pipeline; "" reads EnvPipelineImage.
	PipelineImage string
	// PullPolicy of the pipeline and helper images; default IfNotPresent.
	PullPolicy corev1.PullPolicy
	// HelperImage for the volume helper pod (an rwxchaos image); "" reads
	// EnvHelperImage, then PipelineImage, then this release's image.
	HelperImage string
	// Daemon is where Chaos Mesh's chaos-daemon runs (capability check).
	Daemon chaosmesh.DaemonRef
}

// Env is the existing-cluster environment of one run.
type Env struct {
	o      Options
	s      *scenario.Scenario
	runDir string
	runID  string
	ns     string
	dry    bool

	cl     *cluster
	cs     kubernetes.Interface
	cc     client.Client
	objs   *k8s.Objects
	helper *helper
	srv    *http.Server
	urls   []string
	ext    *external
	// backend: what the PV behind the StorageClass really is.
	backend string

	mu      sync.Mutex
	seq     map[string]int
	created []string // what this run created, for the log
}

// New returns the provider.Factory for provider.Set (see provider/all).
func New(base Options) func(provider.Config) (provider.Env, error) {
	return func(pc provider.Config) (provider.Env, error) {
		o := base
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
		if o.AllowContexts == nil {
			o.AllowContexts = allowList(os.Getenv(EnvAllowContext))
		}
		dry := os.Getenv(EnvDryRun) == "1" || os.Getenv(EnvDryRun) == "true"
		if o.DryRun != nil {
			dry = *o.DryRun
		}
		if o.PipelineImage == "" {
			o.PipelineImage = os.Getenv(EnvPipelineImage)
		}
		if o.HelperImage == "" {
			o.HelperImage = os.Getenv(EnvHelperImage)
		}
		if o.HelperImage == "" {
			o.HelperImage = defaultHelperImage(o.PipelineImage)
		}
		if o.PullPolicy == "" {
			o.PullPolicy = corev1.PullIfNotPresent
		}
		if o.Daemon.Name == "" {
			o.Daemon = chaosmesh.DefaultDaemon
		}
		s := pc.Scenario
		if s.Cluster.Provider != scenario.ProviderExisting {
			return nil, fmt.Errorf("existing provider: scenario %s asks for provider %s", s.Metadata.Name, s.Cluster.Provider)
		}
		runID := pc.RunID
		if runID == "" {
			runID = filepath.Base(pc.RunDir)
		}
		return &Env{o: o, s: s, runDir: pc.RunDir, runID: runID, ns: s.Workload.Namespace, dry: dry, seq: map[string]int{}}, nil
	}
}

// Name implements provider.Env.
func (e *Env) Name() string { return "existing" }

func (e *Env) logf(format string, args ...any) { e.o.Logf("existing: "+format, args...) }

// allowed refuses any namespace the scenario does not list.
func (e *Env) allowed(ns string) error {
	if slices.Contains(e.s.Cluster.Existing.Namespaces, ns) {
		return nil
	}
	return fmt.Errorf("namespace %q is not in cluster.existing.namespaces (%s): provider existing touches nothing else", ns, strings.Join(e.s.Cluster.Existing.Namespaces, ", "))
}

func (e *Env) external() bool { return e.s.Workload.Mode == scenario.ModeExternal }

// Provision resolves and checks the cluster (guardrails first), or in dry
// run prints what the run would create and stops with a void verdict.
func (e *Env) Provision(ctx context.Context) error {
	// The support table decides what runs on an existing cluster.
	if err := e.s.Gate(e.Name()); err != nil {
		return err
	}
	if err := e.connect(); err != nil {
		return err
	}
	if e.dry {
		return e.dryRun(ctx)
	}
	cl := e.cl
	if _, err := e.cs.Discovery().ServerVersion(); err != nil {
		return fmt.Errorf("cannot reach the API server of context %s at %s: %s", cl.context, cl.server, redact(err.Error()))
	}
	if _, err := e.cs.CoreV1().Namespaces().Get(ctx, e.ns, metav1.GetOptions{}); err != nil {
		if apierrors.IsNotFound(err) {
			return fmt.Errorf("namespace %s does not exist in context %s: create it (provider existing does not create namespaces)", e.ns, cl.context)
		}
		if !apierrors.IsForbidden(err) { // a namespaced Role cannot get namespaces: fine
			return fmt.Errorf("namespace %s: %s", e.ns, redact(err.Error()))
		}
	}
	if e.o.HelperImage == "" {
		return fmt.Errorf("the volume helper pod runs `rwxchaos __volume` from an rwxchaos image the cluster can pull, and this build (%s) is not a release with a published one: pass --app-image (or set %s)", version.Get().Short(), EnvHelperImage)
	}
	if e.external() {
		return e.checkExternal(ctx)
	}
	if e.o.PipelineImage == "" {
		return fmt.Errorf("workload pipeline needs an rwxchaos image the cluster can pull (the release's OCI image %s:vX.Y.Z, or any image with rwxchaos on its PATH): pass --app-image (or set %s)", version.ReleaseRepo, EnvPipelineImage)
	}
	if e.s.Storage.Backend != scenario.BackendStorageClass {
		return &support.Unsupported{Action: "storage backend " + string(e.s.Storage.Backend), Env: "existing",
			Reason: "an existing cluster's shared volume comes from a StorageClass: use backend storageclass with storageClassName"}
	}
	return nil
}

// connect resolves the kube context through the guardrails (allow-list,
// namespaces) and builds the clients; it talks to no server.
func (e *Env) connect() error {
	if e.cs != nil {
		return nil
	}
	ex := e.s.Cluster.Existing
	kc := ex.Kubeconfig
	if e.o.Kubeconfig != "" {
		kc = e.o.Kubeconfig
	}
	cl, err := resolve(kc, ex.Context, e.o.AllowContexts)
	if err != nil {
		return err
	}
	e.cl = cl
	if err := e.allowed(e.ns); err != nil {
		return err
	}
	e.logf("kube context %s (server %s), namespaces %s, workload %s in %s", cl.context, cl.server,
		strings.Join(ex.Namespaces, ","), e.s.Workload.Mode, e.ns)
	cfg := *cl.cfg
	cfg.Timeout = 30 * time.Second
	if e.cs, err = kubernetes.NewForConfig(&cfg); err != nil {
		return fmt.Errorf("kube client: %w", err)
	}
	if e.cc, err = chaosmesh.NewClient(&cfg); err != nil {
		return err
	}
	return nil
}

// pipelineObjects builds the pipeline fixtures for the workload namespace.
func (e *Env) pipelineObjects() (*k8s.Objects, error) {
	w := e.s.Workload
	cron, _ := w.Engine.Cron()
	var defects []string
	for _, d := range w.Defects {
		defects = append(defects, string(d))
	}
	image := e.o.PipelineImage
	if image == "" {
		image = "<" + EnvPipelineImage + ">"
	}
	objs, err := k8s.Pipeline(k8s.PipelineInput{
		Namespace: e.ns, Run: e.runID, Image: image, Command: selfexec.Pipeline.ImageCommand(), PullPolicy: e.o.PullPolicy,
		Webservers: w.Replicas.Webserver, Jobqueue: w.Replicas.Jobqueue != nil && *w.Replicas.Jobqueue > 0,
		JobqueueEvery: JobqueueEvery, EngineSchedule: cron,
		LeaseTTL: w.Engine.LeaseTTL.D(), Heartbeat: w.Engine.Heartbeat.D(), Defects: defects,
		Volume: k8s.Volume{StorageClass: e.s.Storage.StorageClassName, MountOptions: e.s.Storage.MountOptions, Size: e.s.Storage.Size},
	})
	if err != nil {
		return nil, err
	}
	// The runner reaches the webservers through the API server's service
	// proxy: no NodePort needed (or allowed, on many clusters).
	objs.Service.Spec.Type = corev1.ServiceTypeClusterIP
	for i := range objs.Service.Spec.Ports {
		objs.Service.Spec.Ports[i].NodePort = 0
	}
	return objs, nil
}

// Deploy starts the workload (pipeline) or the helper (both modes) and the
// local endpoint the traffic driver talks to.
func (e *Env) Deploy(ctx context.Context) error {
	pvc := e.s.Workload.External.PVC
	if !e.external() {
		objs, err := e.pipelineObjects()
		if err != nil {
			return err
		}
		e.objs = objs
		if err := e.applyPipeline(ctx, objs); err != nil {
			return err
		}
		if err := k8s.WaitReady(ctx, e.cs, objs, intervals.Get(intervals.PipelineExisting)); err != nil {
			return err
		}
		pvc = objs.PVC.Name
	}
	e.noteVolume(ctx, pvc)
	h, err := e.startHelper(ctx, pvc)
	if err != nil {
		return err
	}
	e.helper = h
	var handler http.Handler
	if e.external() {
		e.ext = newExternal(e)
		handler = e.ext
	} else {
		if handler, err = e.serviceProxy(e.objs.Service.Name, "http"); err != nil {
			return err
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("local endpoint: %w", err)
	}
	e.srv = &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = e.srv.Serve(ln) }()
	e.urls = []string{"http://" + ln.Addr().String()}
	e.logf("traffic endpoint %s → %s", e.urls[0], map[bool]string{true: "helper pod → " + e.s.Workload.External.InputPath, false: "API server service proxy → webserver"}[e.external()])
	return nil
}

// applyPipeline creates the fixtures in the workload namespace (never the
// namespace itself), refusing to reuse objects of another run.
func (e *Env) applyPipeline(ctx context.Context, o *k8s.Objects) error {
	ns := e.ns
	create := func(what string, obj client.Object) error {
		if obj == nil || (obj.GetNamespace() != "" && obj.GetNamespace() != ns) {
			return nil
		}
		err := e.cc.Create(ctx, obj)
		if apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("%s %s/%s already exists (from another run?): delete it (`rwxchaos cleanup`) or use another namespace", what, ns, obj.GetName())
		}
		if err != nil {
			return fmt.Errorf("create %s %s/%s: %s%s", what, ns, obj.GetName(), redact(err.Error()), rbacHint(err))
		}
		e.mu.Lock()
		e.created = append(e.created, what+"/"+obj.GetName())
		e.mu.Unlock()
		return nil
	}
	steps := []struct {
		what string
		obj  client.Object
	}{{"persistentvolumeclaim", o.PVC}, {"deployment", o.Webserver}, {"service", o.Service}}
	if o.Jobqueue != nil {
		steps = append(steps, struct {
			what string
			obj  client.Object
		}{"deployment", o.Jobqueue})
	}
	if o.Engine != nil {
		steps = append(steps, struct {
			what string
			obj  client.Object
		}{"cronjob", o.Engine})
	}
	for _, s := range steps {
		if err := create(s.what, s.obj); err != nil {
			return err
		}
	}
	e.logf("deployed the pipeline in %s on StorageClass %q (image %s)", ns, e.s.Storage.StorageClassName, e.o.PipelineImage)
	return nil
}

func rbacHint(err error) string {
	if apierrors.IsForbidden(err) {
		return " (bind fixtures/rbac/rwxchaos-existing.yaml's Role in this namespace to the identity of this kube context)"
	}
	return ""
}

// noteVolume finds what really backs the shared volume and logs it: a
// StorageClass name says little (the lab's is a hostPath PV).
func (e *Env) noteVolume(ctx context.Context, pvcName string) {
	pvc, err := e.cs.CoreV1().PersistentVolumeClaims(e.ns).Get(ctx, pvcName, metav1.GetOptions{})
	if err != nil || pvc.Spec.VolumeName == "" {
		return
	}
	pv, err := e.cs.CoreV1().PersistentVolumes().Get(ctx, pvc.Spec.VolumeName, metav1.GetOptions{})
	if err != nil {
		e.backend = fmt.Sprintf("storageclass %s: PV %s (its source could not be read: %s)", ptrStr(pvc.Spec.StorageClassName), pvc.Spec.VolumeName, redact(err.Error()))
	} else {
		e.backend = fmt.Sprintf("storageclass %s: PV %s is %s", ptrStr(pvc.Spec.StorageClassName), pv.Name, pvSource(pv))
	}
	e.logf("backend: %s", e.backend)
}

func ptrStr(p *string) string {
	if p == nil {
		return "(default)"
	}
	return *p
}

func pvSource(pv *corev1.PersistentVolume) string {
	switch s := pv.Spec.PersistentVolumeSource; {
	case s.NFS != nil:
		return fmt.Sprintf("NFS %s:%s (mount options %v)", s.NFS.Server, s.NFS.Path, pv.Spec.MountOptions)
	case s.CSI != nil:
		return "CSI driver " + s.CSI.Driver + " (whether it is NFS depends on the driver)"
	case s.HostPath != nil:
		return "hostPath " + s.HostPath.Path + ": a node directory, not NFS — NFS caching, lease and silly-rename behaviour is not exercised"
	case s.Local != nil:
		return "a local volume, not NFS"
	}
	return "of another kind (not NFS, CSI or hostPath)"
}

// BackendNote says what really backed the shared volume (known after
// Deploy), for the report's backend note.
func (e *Env) BackendNote() string { return e.backend }

// Endpoints are the local endpoint(s) started by Deploy.
func (e *Env) Endpoints() []string { return e.urls }

// Drain waits until nothing is left in input or work (pipeline), or in the
// input path (external), as seen by the helper pod.
func (e *Env) Drain(ctx context.Context, timeout time.Duration) error {
	if e.helper == nil {
		return nil
	}
	if timeout <= 0 {
		timeout = 2 * time.Minute
	}
	var n int
	var lastErr error
	iv := intervals.Get(intervals.DrainVolume).WithTimeout(timeout)
	iv.Poll = max(iv.Poll, 2*time.Second) // each look is a pod exec
	if err := iv.Until(ctx, func(ctx context.Context) (bool, error) {
		n, lastErr = e.pending(ctx)
		return lastErr == nil && n == 0, nil
	}); err != nil {
		// Not a framework failure: the ledger reports what is stuck.
		e.logf("drain: %d files still pending after %s (last error: %v)", n, timeout, lastErr)
	}
	return nil
}

func (e *Env) pending(ctx context.Context) (int, error) {
	if e.external() {
		files, err := e.helper.list(ctx, e.s.Workload.External.InputPath)
		return len(files), err
	}
	files, err := e.helper.list(ctx, "botssys")
	if err != nil {
		return -1, err
	}
	n := 0
	for _, f := range files {
		switch history.Classify("botssys/" + f) {
		case history.StageInput, history.StageWork:
			n++
		}
	}
	return n, nil
}

// Collect copies the journals and the volume's botssys tree (pipeline), or
// builds the snapshot from the app's input and output paths (external).
func (e *Env) Collect(ctx context.Context, dir string) (*history.History, provider.Observations, error) {
	obs := e.observe(ctx, dir)
	if e.helper == nil {
		return nil, obs, errors.New("no helper pod: the workload was never deployed")
	}
	if e.external() {
		h, err := e.ext.collect(ctx, dir)
		return h, obs, err
	}
	local := filepath.Join(dir, "volume")
	if err := e.helper.copyOut(ctx, "botssys", local); err != nil {
		return nil, obs, err
	}
	obs.Artifacts = append(obs.Artifacts, report.Artifact{Name: "volume copy (botssys)", Path: "volume"})
	evs, st, err := history.ReadJournalDir(filepath.Join(local, history.DirJournal))
	if err != nil {
		return nil, obs, err
	}
	snap, err := history.Scan(local, e.o.Clock())
	if err != nil {
		return nil, obs, err
	}
	return &history.History{Events: evs, Snapshot: snap, Stats: st}, obs, nil
}

// observe lists the workload's pods and the namespace's events; pod logs
// only for the framework's own pipeline (an external app's logs may hold
// secrets and are not copied).
func (e *Env) observe(ctx context.Context, dir string) provider.Observations {
	var obs provider.Observations
	if e.backend != "" {
		// Until the report takes a provider's backend note, say it here.
		if os.WriteFile(filepath.Join(dir, "backend.txt"), []byte(e.backend+"\n"), 0o644) == nil {
			obs.Artifacts = append(obs.Artifacts, report.Artifact{Name: "backend: " + e.backend, Path: "backend.txt"})
		}
	}
	if e.cs == nil {
		return obs
	}
	sel := k8s.LabelRun + "=" + e.runID
	if e.external() {
		sel = ""
	}
	pods, err := e.cs.CoreV1().Pods(e.ns).List(ctx, metav1.ListOptions{LabelSelector: sel})
	if err == nil {
		nodes := map[string]bool{}
		for _, p := range pods.Items {
			rp := report.Pod{Pod: p.Name, Component: p.Labels[k8s.LabelComponent], Node: p.Spec.NodeName,
				Created: p.CreationTimestamp.UnixNano(), Phase: string(p.Status.Phase)}
			if p.DeletionTimestamp != nil {
				rp.Deleted = p.DeletionTimestamp.UnixNano()
				obs.StuckTerminating++
			}
			obs.Pods = append(obs.Pods, rp)
			if p.Spec.NodeName != "" && !nodes[p.Spec.NodeName] {
				nodes[p.Spec.NodeName] = true
				obs.Nodes = append(obs.Nodes, p.Spec.NodeName)
			}
			if !e.external() {
				if b, err := e.cs.CoreV1().Pods(e.ns).GetLogs(p.Name, &corev1.PodLogOptions{}).DoRaw(ctx); err == nil {
					_ = os.MkdirAll(filepath.Join(dir, "logs"), 0o755)
					_ = os.WriteFile(filepath.Join(dir, "logs", p.Name+".log"), b, 0o644)
				}
			}
		}
		slices.Sort(obs.Nodes)
		if !e.external() && len(pods.Items) > 0 {
			obs.Artifacts = append(obs.Artifacts, report.Artifact{Name: "pod logs", Path: "logs"})
		}
	}
	evs, err := e.cs.CoreV1().Events(e.ns).List(ctx, metav1.ListOptions{})
	if err == nil {
		for _, ev := range evs.Items {
			t := ev.LastTimestamp.Time
			if t.IsZero() {
				t = ev.EventTime.Time
			}
			if t.IsZero() {
				t = ev.CreationTimestamp.Time
			}
			obs.Events = append(obs.Events, report.KubeEvent{Time: t.UnixNano(), Type: ev.Type, Reason: ev.Reason,
				Object: ev.InvolvedObject.Kind + "/" + ev.InvolvedObject.Name, Message: redact(ev.Message), Count: int(ev.Count)})
		}
		slices.SortFunc(obs.Events, func(a, b report.KubeEvent) int { return int(a.Time - b.Time) })
	}
	return obs
}

// Teardown deletes every chaos object and every object this run created
// (by its run label) in the allowed namespaces, and the helper pod.
func (e *Env) Teardown(ctx context.Context) error {
	if e.srv != nil {
		_ = e.srv.Close()
	}
	if e.cc == nil || e.dry {
		return nil
	}
	var errs []error
	res, err := chaosmesh.Sweep(ctx, e.cc, e.s.Cluster.Existing.Namespaces, e.runID, 2*time.Minute)
	if err != nil {
		errs = append(errs, err)
	}
	if len(res.Deleted) > 0 {
		e.logf("teardown: deleted leftover chaos %s", strings.Join(res.Deleted, ", "))
	}
	errs = append(errs, e.deleteRunObjects(ctx))
	return errors.Join(errs...)
}

// deleteRunObjects removes everything labelled with this run in the
// workload namespace and waits (bounded) for the PVC to go.
func (e *Env) deleteRunObjects(ctx context.Context) error {
	ns := e.ns
	if err := e.allowed(ns); err != nil {
		return err
	}
	sel := client.MatchingLabels{k8s.LabelRun: e.runID}
	bg := client.PropagationPolicy(metav1.DeletePropagationBackground)
	var errs []error
	for _, o := range []client.Object{&batchv1.CronJob{}, &appsv1.Deployment{}, &batchv1.Job{}, &corev1.Pod{}, &corev1.Service{}, &corev1.PersistentVolumeClaim{}} {
		if err := e.cc.DeleteAllOf(ctx, o, client.InNamespace(ns), sel, bg); err != nil && !apierrors.IsNotFound(err) && !apierrors.IsMethodNotSupported(err) {
			errs = append(errs, fmt.Errorf("delete %T in %s: %s%s", o, ns, redact(err.Error()), rbacHint(err)))
		}
	}
	// Services do not support deletecollection on older servers: one by one.
	var svcs corev1.ServiceList
	if err := e.cc.List(ctx, &svcs, client.InNamespace(ns), sel); err == nil {
		for i := range svcs.Items {
			_ = client.IgnoreNotFound(e.cc.Delete(ctx, &svcs.Items[i]))
		}
	}
	var pvcs corev1.PersistentVolumeClaimList
	var pods corev1.PodList
	iv := intervals.Get(intervals.RunObjectsGone)
	if err := iv.Until(ctx, func(ctx context.Context) (bool, error) {
		err1 := e.cc.List(ctx, &pvcs, client.InNamespace(ns), sel)
		err2 := e.cc.List(ctx, &pods, client.InNamespace(ns), sel)
		return err1 == nil && err2 == nil && len(pvcs.Items) == 0 && len(pods.Items) == 0, nil
	}); err != nil {
		if ctx.Err() != nil {
			return errors.Join(append(errs, ctx.Err())...)
		}
		errs = append(errs, fmt.Errorf("teardown: %d pods and %d PVCs of run %s still in %s after %s: check finalizers, then `rwxchaos cleanup`", len(pods.Items), len(pvcs.Items), e.runID, ns, iv.Timeout))
	}
	return errors.Join(errs...)
}

// Plan implements provider.Planner (`rwxchaos run --dry-run`): after the
// guardrails (the context must be allowed), every object the run would
// create, as YAML; nothing is created and no server is contacted.
func (e *Env) Plan(ctx context.Context) (string, error) {
	if err := e.connect(); err != nil {
		return "", err
	}
	objs, text, err := e.planObjects(ctx)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("provider existing: context %s (server %s), namespace %s: would create %d objects:\n%s", e.cl.context, e.cl.server, e.ns, objs, text), nil
}

// dryRun (EnvDryRun=1) logs the plan and returns Unsupported so the
// verdict is void.
func (e *Env) dryRun(ctx context.Context) error {
	n, text, err := e.planObjects(ctx)
	if err != nil {
		return err
	}
	path := filepath.Join(e.runDir, "dry-run.yaml")
	if e.runDir != "" {
		_ = os.WriteFile(path, []byte(text), 0o644)
	}
	e.logf("dry run: %d objects would be created (also in %s):\n%s", n, path, text)
	return &support.Unsupported{Action: "run", Env: "existing",
		Reason: fmt.Sprintf("dry run (%s=1): printed the %d objects it would create, created nothing", EnvDryRun, n)}
}

// planObjects renders every object the run would create.
func (e *Env) planObjects(ctx context.Context) (int, string, error) {
	var objs []client.Object
	pvc := e.s.Workload.External.PVC
	if !e.external() {
		po, err := e.pipelineObjects()
		if err != nil {
			return 0, "", err
		}
		objs = append(objs, po.PVC, po.Webserver, po.Service)
		if po.Jobqueue != nil {
			objs = append(objs, po.Jobqueue)
		}
		if po.Engine != nil {
			objs = append(objs, po.Engine)
		}
		pvc = po.PVC.Name
	}
	objs = append(objs, e.helperPod(pvc))
	rng := rand.New(rand.NewPCG(1, 2))
	for _, f := range e.s.Faults {
		co, _, err := e.buildChaos(ctx, f, rng, true)
		if err != nil {
			e.logf("dry run: fault %s would be skipped: %v", f.Name, err)
			continue
		}
		objs = append(objs, co)
	}
	var buf bytes.Buffer
	for _, o := range objs {
		b, err := chaosmesh.YAML(o)
		if err != nil {
			return 0, "", err
		}
		buf.WriteString("---\n")
		buf.Write(b)
		if !bytes.HasSuffix(b, []byte("\n")) {
			buf.WriteByte('\n')
		}
	}
	return len(objs), buf.String(), nil
}
