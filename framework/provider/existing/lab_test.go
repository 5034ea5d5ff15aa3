package existing_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chaos-mesh/chaos-mesh/api/v1alpha1"
	appsv1 "k8s.io/api/apps/v1"
	authv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/rwxchaos/rwxchaos/fixtures/k8s"
	"github.com/rwxchaos/rwxchaos/framework/chaosmesh"
	"github.com/rwxchaos/rwxchaos/framework/intervals"
	"github.com/rwxchaos/rwxchaos/framework/kindcluster"
	"github.com/rwxchaos/rwxchaos/framework/lab"
	"github.com/rwxchaos/rwxchaos/framework/lab/labtest"
	"github.com/rwxchaos/rwxchaos/framework/provider"
	"github.com/rwxchaos/rwxchaos/framework/provider/all"
	"github.com/rwxchaos/rwxchaos/framework/provider/existing"
	"github.com/rwxchaos/rwxchaos/framework/provider/kind"
	"github.com/rwxchaos/rwxchaos/framework/report"
	"github.com/rwxchaos/rwxchaos/framework/runner"
	"github.com/rwxchaos/rwxchaos/framework/scenario"
	"github.com/rwxchaos/rwxchaos/framework/selfexec"
	"github.com/rwxchaos/rwxchaos/framework/support"
)

type chaosImages struct {
	ControllerManager string `json:"controllerManager"`
	Daemon            string `json:"daemon"`
}

// requireChaosLab skips (with the reason) unless RWXCHAOS_LAB=1 and both
// the kind lab and the Chaos Mesh images (make chaos-lab) are built.
func requireChaosLab(t *testing.T) (*lab.Manifest, chaosImages) {
	t.Helper()
	if !lab.Requested() {
		t.Skip("needs the kind lab and Chaos Mesh: run `make lab chaos-lab`, then RWXCHAOS_LAB=1 go test ./framework/provider/existing/ -run TestLabChaosMesh")
	}
	m, err := lab.LoadDefault()
	if err != nil {
		t.Skipf("the kind lab is not built (run `make lab`): %v", err)
	}
	var ci chaosImages
	raw, err := os.ReadFile(filepath.Join(lab.CacheDir(), "chaosmesh", "images.json"))
	if err == nil {
		err = json.Unmarshal(raw, &ci)
	}
	if err != nil {
		t.Skipf("Chaos Mesh images are not built (run `make chaos-lab`): %v", err)
	}
	if out, err := exec.Command("docker", "image", "inspect", m.Images.Node, m.Images.Toolbox, ci.ControllerManager, ci.Daemon).CombinedOutput(); err != nil {
		t.Skipf("lab images missing from docker (rerun `make lab chaos-lab`): %v: %s", err, out)
	}
	labtest.Lock(t)
	return m, ci
}

const drill = `apiVersion: rwxchaos.dev/v1alpha1
kind: Scenario
metadata:
  name: chaos-lab-drill
  description: pre-upgrade-drill shape on the lab cluster, seen as an existing cluster through Chaos Mesh
cluster:
  provider: existing
  existing:
    kubeconfig: %s
    context: %s
    namespaces: [%s]
storage:
  backend: storageclass
  storageClassName: %s
workload:
  mode: pipeline
  namespace: %s
  replicas: {webserver: 2, jobqueue: 1}
  traffic: {count: 150, rate: 3, concurrency: 2}
faults:
  - name: cut-webservers-from-jobqueue
    action: chaos-partition
    target: {role: webserver}
    to: jobqueue
    direction: both
    duration: 20s
  - name: kill-webserver
    action: chaos-pod-kill
    target: {select: random-webserver}
    schedule: {after: cut-webservers-from-jobqueue, at: 2s}
expect:
  maxIndeterminate: 5
  readyWithin: 3m
  steadyState: {minUploads: 10, within: 2m}
run:
  seed: 7
  timeout: 15m
  settle: 2m
`

// TestLabChaosMesh: a lab kind cluster with Chaos Mesh, treated as an
// existing cluster. The test plays the cluster owner (makes the cluster,
// installs Chaos Mesh, provides an RWX StorageClass backed by a hostPath PV
// on the lab's shared directory, creates the namespace); the run then goes
// through runner.Run with provider existing: a real NetworkChaos partition
// and a real PodChaos pod-kill, each waited to AllInjected and AllRecovered
// and deleted, and a verdict from the ledger.
func TestLabChaosMesh(t *testing.T) {
	m, ci := requireChaosLab(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	const name, ns, sc = "chaoslab", "rwxchaos-drill", "rwxchaos-lab-rwx"
	shared := filepath.Join(lab.CacheDir(), "kind-shared", kindcluster.NamePrefix+name)
	vol := filepath.Join(shared, "existing-volume")
	_ = os.RemoveAll(vol)
	if err := os.MkdirAll(vol, 0o777); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(vol) })
	dir := t.TempDir()
	kc := filepath.Join(dir, "kubeconfig")
	c, err := kindcluster.New(kindcluster.Options{Name: name, Workers: 2, SharedDir: shared, LabManifest: m,
		KubeconfigPath: kc, LogsDir: filepath.Join(dir, "kind-logs"), Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := c.Create(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		dctx, dcancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer dcancel()
		if err := c.Dispose(dctx); err != nil {
			t.Errorf("delete the lab cluster: %v", err)
		}
	})
	t.Logf("cluster up in %s", time.Since(start).Round(time.Second))
	// The app image, assembled from this test binary (TestMain dispatches
	// its roles) and loaded into the nodes, as provider kind does.
	image, _, err := kind.PipelineImage(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	for _, img := range []string{ci.ControllerManager, ci.Daemon} {
		if err := c.LoadImage(ctx, img); err != nil {
			t.Fatal(err)
		}
	}
	t0 := time.Now()
	install := exec.CommandContext(ctx, "../../../hack/chaosmesh/install.sh")
	install.Env = append(os.Environ(), "KUBECONFIG="+kc, "CHAOS_MESH_IMAGE="+ci.ControllerManager, "CHAOS_DAEMON_IMAGE="+ci.Daemon)
	if out, err := install.CombinedOutput(); err != nil {
		t.Fatalf("install Chaos Mesh: %v\n%s", err, out)
	} else {
		t.Logf("Chaos Mesh installed in %s:\n%s", time.Since(t0).Round(time.Second), out)
	}

	// The "existing" storage: a StorageClass with no provisioner and one
	// hostPath PV on the directory every lab node shares (this lab has no
	// RWX provisioner and no NFS client; see the report's backend note).
	cfg, err := clientcmd.BuildConfigFromFlags("", kc)
	if err != nil {
		t.Fatal(err)
	}
	cc, err := chaosmesh.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	imm := storagev1.VolumeBindingImmediate
	hp := corev1.HostPathDirectory
	for _, o := range []client.Object{
		&storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: sc}, Provisioner: "kubernetes.io/no-provisioner", VolumeBindingMode: &imm},
		&corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: "rwxchaos-lab-existing"}, Spec: corev1.PersistentVolumeSpec{
			StorageClassName: sc, AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteMany},
			Capacity:                      corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")},
			PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimRetain,
			PersistentVolumeSource:        corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: vol, Type: &hp}}}},
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}},
	} {
		if err := cc.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}

	// Run as the ServiceAccount of fixtures/rbac/rwxchaos-existing.yaml,
	// not as cluster admin: this proves the shipped Role is enough.
	kc, kctx := rbacKubeconfig(ctx, t, cfg, cc, ns, dir)
	t.Setenv(existing.EnvAllowContext, kctx)
	t.Setenv(existing.EnvPipelineImage, image)
	t.Setenv(existing.EnvHelperImage, m.Images.Toolbox)
	s, err := scenario.Parse("chaos-lab-drill.yaml", fmt.Appendf(nil, drill, kc, kctx, ns, sc, ns))
	if err != nil {
		t.Fatal(err)
	}
	probeUnsupportedAndDryRun(ctx, t, s, cc, ns)
	reports := filepath.Join(dir, "reports")
	if d := os.Getenv("RWXCHAOS_REPORTS"); d != "" {
		reports = d
	}
	out, err := runner.Run(ctx, runner.Options{Scenario: s, ReportDir: reports, Log: testLog{t}, Providers: all.Default(all.Options{})})
	if err != nil {
		t.Errorf("run: %v", err)
	}
	if out == nil {
		t.Fatal("no outcome")
	}
	rep := out.Run
	t.Logf("verdict %s (%s); report %s", rep.Verdict, rep.Reason, out.Dir)
	if rep.Verdict != report.VerdictPass {
		for _, e := range rep.Expectations {
			t.Logf("expect %s: %s want %s got %s %s", e.Name, e.Status, e.Want, e.Got, e.Message)
		}
		t.Errorf("verdict %s, want pass: %s", rep.Verdict, rep.Reason)
	}
	seen := map[string]bool{}
	for _, f := range rep.Faults {
		t.Logf("fault %s %s on %s: injected→verified %s, heal→healed %s, err %q", f.Name, f.Action, f.Target,
			time.Duration(f.Verified-f.Injected).Round(time.Millisecond), time.Duration(f.HealVerified-f.Healed).Round(time.Millisecond), f.Err)
		if f.Verified == 0 || f.HealVerified == 0 || f.Err != "" {
			t.Errorf("fault %s was not injected, verified and healed: %+v", f.Name, f)
		}
		seen[f.Action] = true
	}
	if !seen["chaos-partition"] || !seen["chaos-pod-kill"] {
		t.Errorf("faults recorded: %v, want chaos-partition and chaos-pod-kill", seen)
	}
	// Nothing left behind: no chaos objects, no run objects, partitions
	// gone from every pod's PodNetworkChaos.
	var ncs v1alpha1.NetworkChaosList
	var pcs v1alpha1.PodChaosList
	var pncs v1alpha1.PodNetworkChaosList
	var pods corev1.PodList
	for _, l := range []client.ObjectList{&ncs, &pcs, &pncs, &pods} {
		if err := cc.List(ctx, l, client.InNamespace(ns)); err != nil {
			t.Fatal(err)
		}
	}
	if len(ncs.Items)+len(pcs.Items) > 0 {
		t.Errorf("chaos objects left: %d NetworkChaos, %d PodChaos", len(ncs.Items), len(pcs.Items))
	}
	for _, p := range pncs.Items {
		if len(p.Spec.Iptables)+len(p.Spec.IPSets) > 0 {
			t.Errorf("PodNetworkChaos %s still has iptables %v / ipsets %v", p.Name, p.Spec.Iptables, p.Spec.IPSets)
		}
	}
	if len(pods.Items) > 0 {
		var names []string
		for _, p := range pods.Items {
			names = append(names, p.Name)
		}
		t.Errorf("pods left in %s after teardown: %s", ns, strings.Join(names, ", "))
	}
	t.Run("external", func(t *testing.T) {
		labExternal(ctx, t, cfg, cc, kc, kctx, ns, sc, image, filepath.Join(shared, "existing-volume-app"), reports)
	})
}

const externalDrill = `apiVersion: rwxchaos.dev/v1alpha1
kind: Scenario
metadata:
  name: chaos-lab-external
  description: an app already running (our pipeline, playing Bots), driven through its PVC only
cluster:
  provider: existing
  existing: {kubeconfig: %s, context: %s, namespaces: [%s]}
storage: {backend: storageclass}
workload:
  mode: external
  namespace: %s
  external:
    pvc: app-data
    inputPath: botssys/infile/default
    outputPath: botssys/outfile
    mountPath: /home/bots/.bots
    match: controlReference
    selectors:
      webserver: {app: edi-pipeline, component: webserver}
      jobqueue: {app: edi-pipeline, component: jobqueue}
  traffic: {count: 60, rate: 3, concurrency: 2}
faults:
  - name: cut-jobqueue-from-webservers
    action: chaos-partition
    target: {role: jobqueue}
    to: webserver
    duration: 15s
  - name: kill-jobqueue
    action: chaos-pod-kill
    target: {role: jobqueue}
    schedule: {after: cut-jobqueue-from-webservers}
expect:
  lockExclusive: false
  maxIndeterminate: 3
  readyWithin: 3m
  steadyState: {minUploads: 5, within: 2m}
run: {seed: 9, timeout: 10m, settle: 2m}
`

// labExternal deploys the pipeline as "the app" (as an operator would
// deploy Bots: its own PVC, not labelled by any rwxchaos run) and drives it
// with workload external: inputs through the helper pod, outputs matched by
// control reference, Chaos Mesh faults on the app's pods by its selectors.
func labExternal(ctx context.Context, t *testing.T, cfg *rest.Config, cc client.Client, kc, kctx, ns, sc, image, vol, reports string) {
	_ = os.RemoveAll(vol)
	if err := os.MkdirAll(vol, 0o777); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(vol) })
	hp := corev1.HostPathDirectory
	if err := cc.Create(ctx, &corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: "rwxchaos-lab-app"}, Spec: corev1.PersistentVolumeSpec{
		StorageClassName: sc, AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteMany},
		Capacity:                      corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")},
		PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimRetain,
		PersistentVolumeSource:        corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: vol, Type: &hp}}}}); err != nil {
		t.Fatal(err)
	}
	objs, err := k8s.Pipeline(k8s.PipelineInput{Namespace: ns, Run: "the-app", Image: image, Command: selfexec.Pipeline.ImageCommand(), Webservers: 1, Jobqueue: true,
		JobqueueEvery: 3 * time.Second, Volume: k8s.Volume{StorageClass: sc}})
	if err != nil {
		t.Fatal(err)
	}
	objs.PVC.Name = "app-data"
	for _, d := range []*appsv1.Deployment{objs.Webserver, objs.Jobqueue} {
		d.Spec.Template.Spec.Volumes[0].PersistentVolumeClaim.ClaimName = "app-data"
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := k8s.Apply(ctx, cs, objs); err != nil {
		t.Fatal(err)
	}
	if err := k8s.WaitReady(ctx, cs, objs, intervals.Get(intervals.PipelineExisting)); err != nil {
		t.Fatal(err)
	}
	s, err := scenario.Parse("chaos-lab-external.yaml", fmt.Appendf(nil, externalDrill, kc, kctx, ns, ns))
	if err != nil {
		t.Fatal(err)
	}
	out, err := runner.Run(ctx, runner.Options{Scenario: s, ReportDir: reports, Log: testLog{t}, Providers: all.Default(all.Options{})})
	if err != nil {
		t.Errorf("run: %v", err)
	}
	if out == nil {
		t.Fatal("no outcome")
	}
	rep := out.Run
	t.Logf("verdict %s (%s); report %s", rep.Verdict, rep.Reason, out.Dir)
	if rep.Check != nil {
		for _, c := range rep.Check.Checks {
			t.Logf("check %s: %s %s", c.Name, c.Status, c.Message)
		}
	}
	if rep.Verdict != report.VerdictPass {
		for _, e := range rep.Expectations {
			t.Logf("expect %s: %s want %s got %s %s", e.Name, e.Status, e.Want, e.Got, e.Message)
		}
		t.Errorf("verdict %s, want pass: %s", rep.Verdict, rep.Reason)
	}
	for _, f := range rep.Faults {
		if f.Verified == 0 || f.HealVerified == 0 || f.Err != "" {
			t.Errorf("fault %s was not injected, verified and healed: %+v", f.Name, f)
		}
	}
	var ncs v1alpha1.NetworkChaosList
	var pcs v1alpha1.PodChaosList
	var pods corev1.PodList
	for _, l := range []client.ObjectList{&ncs, &pcs} {
		if err := cc.List(ctx, l, client.InNamespace(ns)); err != nil {
			t.Fatal(err)
		}
	}
	if err := cc.List(ctx, &pods, client.InNamespace(ns), client.MatchingLabels{"app.kubernetes.io/managed-by": "rwxchaos"}); err != nil {
		t.Fatal(err)
	}
	if len(ncs.Items)+len(pcs.Items)+len(pods.Items) > 0 {
		t.Errorf("left behind: %d NetworkChaos, %d PodChaos, %d helper pods", len(ncs.Items), len(pcs.Items), len(pods.Items))
	}
}

// probeUnsupportedAndDryRun checks, on the real cluster, that an IOChaos
// fault is refused as unsupported (the lab's daemon has no toda) and that a
// dry run creates nothing.
func probeUnsupportedAndDryRun(ctx context.Context, t *testing.T, s *scenario.Scenario, cc client.Client, ns string) {
	t.Helper()
	dry := true
	for _, d := range []bool{false, true} {
		o := existing.Options{}
		if d {
			o.DryRun = &dry
		}
		env, err := existing.New(o)(provider.Config{Scenario: s, RunDir: t.TempDir(), RunID: "probe", Logf: t.Logf})
		if err != nil {
			t.Fatal(err)
		}
		err = env.Provision(ctx)
		if d {
			if !support.IsUnsupported(err) {
				t.Fatalf("dry run: want a void (unsupported) provision, got %v", err)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		lat := scenario.Duration(100 * time.Millisecond)
		_, err = env.Fault(ctx, scenario.FaultSpec{Name: "slow-disk", Action: scenario.ActionChaosIOLatency,
			Target: scenario.TargetSpec{Role: scenario.RoleWebserver}, Latency: lat, Duration: scenario.Duration(10 * time.Second)},
			rand.New(rand.NewPCG(1, 1)))
		if !support.IsUnsupported(err) || !strings.Contains(err.Error(), "toda") {
			t.Errorf("IOChaos on the lab: want unsupported (no toda), got %v", err)
		} else {
			t.Logf("IOChaos refused as expected: %v", err)
		}
		_ = env.Teardown(ctx)
	}
	var pods corev1.PodList
	var ios v1alpha1.IOChaosList
	for _, l := range []client.ObjectList{&pods, &ios} {
		if err := cc.List(ctx, l, client.InNamespace(ns)); err != nil {
			t.Fatal(err)
		}
	}
	if len(pods.Items)+len(ios.Items) > 0 {
		t.Fatalf("probes created objects: %d pods, %d IOChaos", len(pods.Items), len(ios.Items))
	}
}

// rbacKubeconfig applies the shipped RBAC fixture in ns and writes a
// kubeconfig (context "rwxchaos-sa") holding a short-lived token of its
// ServiceAccount.
func rbacKubeconfig(ctx context.Context, t *testing.T, cfg *rest.Config, cc client.Client, ns, dir string) (string, string) {
	t.Helper()
	raw, err := os.ReadFile("../../../fixtures/rbac/rwxchaos-existing.yaml")
	if err != nil {
		t.Fatal(err)
	}
	apply := exec.CommandContext(ctx, "kubectl", "--kubeconfig", filepath.Join(dir, "kubeconfig"), "apply", "-f", "-")
	apply.Stdin = strings.NewReader(strings.ReplaceAll(string(raw), "namespace: bots", "namespace: "+ns))
	if out, err := apply.CombinedOutput(); err != nil {
		t.Fatalf("apply the RBAC fixture: %v\n%s", err, out)
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	exp := int64(3600)
	tr, err := cs.CoreV1().ServiceAccounts(ns).CreateToken(ctx, "rwxchaos",
		&authv1.TokenRequest{Spec: authv1.TokenRequestSpec{ExpirationSeconds: &exp}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	const kctx = "rwxchaos-sa"
	kcfg := clientcmdapi.NewConfig()
	kcfg.Clusters["lab"] = &clientcmdapi.Cluster{Server: cfg.Host, CertificateAuthorityData: cfg.CAData}
	kcfg.AuthInfos["rwxchaos"] = &clientcmdapi.AuthInfo{Token: tr.Status.Token}
	kcfg.Contexts[kctx] = &clientcmdapi.Context{Cluster: "lab", AuthInfo: "rwxchaos", Namespace: ns}
	kcfg.CurrentContext = kctx
	path := filepath.Join(dir, "kubeconfig-rwxchaos-sa")
	if err := clientcmd.WriteToFile(*kcfg, path); err != nil {
		t.Fatal(err)
	}
	return path, kctx
}

type testLog struct{ t *testing.T }

func (l testLog) Write(p []byte) (int, error) {
	l.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// The lab drill must stay a valid scenario even where the lab is absent.
func TestLabDrillParses(t *testing.T) {
	if _, err := scenario.Parse("chaos-lab-drill.yaml", fmt.Appendf(nil, drill, "/k", "ctx", "ns-a", "sc", "ns-a")); err != nil {
		t.Fatal(err)
	}
}

func TestLabExternalDrillParses(t *testing.T) {
	if _, err := scenario.Parse("chaos-lab-external.yaml", fmt.Appendf(nil, externalDrill, "/k", "ctx", "ns-a", "ns-a")); err != nil {
		t.Fatal(err)
	}
}
