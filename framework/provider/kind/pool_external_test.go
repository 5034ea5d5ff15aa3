package kind

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/rwxchaos/rwxchaos/fixtures/k8s"
	"github.com/rwxchaos/rwxchaos/framework/appdeploy"
	"github.com/rwxchaos/rwxchaos/framework/scenario"
)

// appMover is an app's data-mounting workload, as external manifests hold it.
const appMover = `apiVersion: apps/v1
kind: Deployment
metadata: {name: mover}
spec:
  selector: {matchLabels: {app: mover}}
  template:
    metadata: {labels: {app: mover}}
    spec:
      containers:
        - name: mover
          image: example.org/mover:1
          volumeMounts: [{name: data, mountPath: /data}]
      volumes:
        - name: data
          persistentVolumeClaim: {claimName: data}
`

func decodeApp(t *testing.T, docs ...string) []*unstructured.Unstructured {
	t.Helper()
	objs, err := appdeploy.Decode([]byte(strings.Join(docs, "\n---\n")))
	if err != nil {
		t.Fatal(err)
	}
	return objs
}

// An external app runs on the pool's cluster only when everything it
// creates is something the reset removes and checks: namespaced objects
// (in the namespace the run creates), PersistentVolumes labelled for the
// run. Anything else keeps it on a cluster of its own, and the reason
// names the objects.
func TestExternalAppPoolDecision(t *testing.T) {
	s := externalScenario(t, "")
	filemover, err := appdeploy.Render([]string{"../../../fixtures/apps/filemover/base"})
	if err != nil {
		t.Fatal(err)
	}
	if why := asideReason(s, filemover); why != "" {
		t.Errorf("the example file mover (namespace, claim, ConfigMap, Deployment) is kept off the pool: %s", why)
	}
	for _, tc := range []struct {
		name string
		objs []*unstructured.Unstructured
		ns   string
		nfs  bool
		want []string // in the reason; none: pooled
	}{
		{name: "namespaced kinds", objs: decodeApp(t, appMover,
			"apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: mover}",
			"apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata: {name: r}\nrules: []",
			"apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {name: rb}\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: r}",
			"apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec: {ports: [{port: 80}]}",
			"apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: np}\nspec: {podSelector: {}}",
			"apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: c}\nspec: {schedule: '* * * * *', jobTemplate: {spec: {template: {spec: {containers: [{name: c, image: x}]}}}}}")},
		{name: "a PersistentVolume of the manifests", objs: decodeApp(t, appMover,
			"apiVersion: v1\nkind: PersistentVolume\nmetadata: {name: spare}\nspec: {capacity: {storage: 1Gi}, accessModes: [ReadWriteMany], hostPath: {path: /srv}}")},
		{name: "cluster RBAC", objs: decodeApp(t, appMover,
			"apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: node-reader}\nrules: []",
			"apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata: {name: node-reader}\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: node-reader}"),
			want: []string{"cluster-scoped or of a kind not known to be namespaced", "ClusterRole node-reader (rbac.authorization.k8s.io)", "ClusterRoleBinding node-reader (rbac.authorization.k8s.io)"}},
		{name: "a CRD and its resources", objs: decodeApp(t, appMover,
			"apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: {name: widgets.example.org}",
			"apiVersion: example.org/v1\nkind: Widget\nmetadata: {name: w}"),
			want: []string{"CustomResourceDefinition widgets.example.org (apiextensions.k8s.io)", "Widget w (example.org)"}},
		{name: "a core cluster-scoped kind", objs: decodeApp(t, appMover,
			"apiVersion: v1\nkind: Node\nmetadata: {name: extra}"),
			want: []string{"Node extra"}},
		{name: "hostPath", objs: decodeApp(t, strings.Replace(appMover, "      volumes:\n", "      volumes:\n        - name: state\n          hostPath: {path: /var/lib/mover}\n", 1)),
			want: []string{"its pods reach into their nodes", "Deployment mover: hostPath volume /var/lib/mover"}},
		{name: "privileged", objs: decodeApp(t, strings.Replace(appMover, "          image: example.org/mover:1\n", "          image: example.org/mover:1\n          securityContext: {privileged: true}\n", 1)),
			want: []string{"Deployment mover: privileged container mover"}},
		{name: "host network", objs: decodeApp(t, strings.Replace(appMover, "      containers:\n", "      hostNetwork: true\n      containers:\n", 1)),
			want: []string{"Deployment mover: hostNetwork"}},
		{name: "namespace default", objs: decodeApp(t, appMover), ns: "default",
			want: []string{"workload.namespace default is one a new cluster has or Kubernetes reserves"}},
		{name: "namespace kube-system", objs: decodeApp(t, appMover), ns: "kube-system",
			want: []string{"workload.namespace kube-system"}},
		{name: "backend nfs", objs: decodeApp(t, appMover), nfs: true,
			want: []string{"an external app on backend nfs"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := externalScenario(t, "")
			if tc.ns != "" {
				s.Workload.Namespace = tc.ns
			}
			if tc.nfs {
				s.Storage.Backend = scenario.BackendNFS
				s.Storage.NFS.Client = scenario.NFSClientUserspace
			}
			why := asideReason(s, tc.objs)
			if len(tc.want) == 0 && why != "" {
				t.Errorf("kept off the pool: %s", why)
			}
			for _, w := range tc.want {
				if !strings.Contains(why, w) {
					t.Errorf("the reason %q does not say %q", why, w)
				}
			}
		})
	}
}

// Suites sort by PoolOrder: an external app the pool can run sits with
// the scenarios of its cluster shape, one that needs a cluster of its own
// goes last with the others that do.
func TestPoolOrderGroupsExternalAppsByShape(t *testing.T) {
	lib := func(name string) *scenario.Scenario {
		t.Helper()
		s, err := scenario.Load("../../../scenarios/library/" + name + ".yaml")
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	pipeline := lib("node-kill-engine-node")
	for _, name := range []string{"filemover-node-kill", "filemover-copy-then-delete-node-kill", "filemover-every-kind-fault"} {
		s := lib(name)
		if got, want := PoolOrder(s), "1 "+shapeOf(s).String(); got != want {
			t.Errorf("PoolOrder(%s) = %q, want %q (with the scenarios of its shape)", name, got, want)
		}
		// Same shape, same group: only the workers differ from the
		// pipeline scenario's.
		p := *pipeline
		p.Cluster.Kind.Workers = s.Cluster.Kind.Workers
		if PoolOrder(s) != PoolOrder(&p) {
			t.Errorf("%s (%s) is not grouped with a pipeline scenario of its shape (%s)", name, PoolOrder(s), PoolOrder(&p))
		}
	}

	dir := t.TempDir()
	cr := "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: node-reader}\nrules: []\n"
	if err := os.WriteFile(filepath.Join(dir, "app.yaml"), []byte(appMover+"---\n"+cr), 0o644); err != nil {
		t.Fatal(err)
	}
	src := `apiVersion: rwxchaos.dev/v1alpha1
kind: Scenario
metadata: {name: rbac-app}
cluster:
  provider: kind
  kind: {workers: 3}
  timings: {nodeMonitorGracePeriod: 10s, notReadyTolerationSeconds: 10, unreachableTolerationSeconds: 10}
workload:
  mode: external
  namespace: app
  external:
    manifests: [app.yaml]
    pvc: data
    inputPath: in
    outputPath: out
    match: filename
    selectors:
      engine: {app: mover}
`
	file := filepath.Join(dir, "rbac-app.yaml")
	if err := os.WriteFile(file, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := scenario.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	if got := PoolOrder(s); got != "2" {
		t.Errorf("PoolOrder of an app with a ClusterRole = %q, want 2 (a cluster of its own, after the pool's groups)", got)
	}
	if why := scenarioAside(s); !strings.Contains(why, "ClusterRole node-reader") {
		t.Errorf("the reason does not name the ClusterRole: %q", why)
	}
}

// cleanCluster is dirtyCluster after a reset, its nodes holding the images
// a new cluster has.
func cleanCluster(t *testing.T) (*SharedCluster, *resetDocker) {
	t.Helper()
	c, d := dirtyCluster(t)
	if _, left := reset(t.Context(), c, resetSteps(nil, nil)); len(left) > 0 {
		t.Fatalf("the fake cluster is not clean after a reset: %s", strings.Join(left, "; "))
	}
	for _, n := range d.nodes {
		n.images = map[string]string{"registry.k8s.io/pause:3.10.1": "sha256:aa", "docker.io/library/busybox:1.36": "sha256:b1"}
	}
	return c, d
}

// runExternal plays what a pooled external run leaves on the cluster: its
// namespace (labelled for the run, as appdeploy.Apply creates it) and its
// image in every node, under its name and the digest name ctr import adds.
func runExternal(t *testing.T, c *SharedCluster, d *resetDocker) *Env {
	t.Helper()
	e := newTestEnv(t, externalScenario(t, ""))
	var err error
	if e.ext.imagesBefore, err = nodeImages(t.Context(), c); err != nil {
		t.Fatal(err)
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: e.ns, Labels: maps.Clone(e.ext.runLabels())}}
	if _, err := c.cs.CoreV1().Namespaces().Create(t.Context(), ns, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, n := range d.nodes {
		n.images["example.org/filemover/toolbox:1.0"] = "sha256:t1"
		n.images["example.org/filemover/toolbox@sha256:t1"] = "sha256:t1"
	}
	return e
}

// The check after an external run names what is the app's alone — its
// namespace while it exists at all, every image the run added to a node,
// an image it replaced — and the reset removes what can be removed.
func TestExternalResetStep(t *testing.T) {
	c, d := cleanCluster(t)
	e := runExternal(t, c, d)
	step := e.ext.resetStep()
	ctx := t.Context()
	left := strings.Join(leftovers(ctx, c, []ResetStep{step}), "\n")
	for _, want := range []string{
		"external-app: namespace app of the app still exists (created by run " + e.runID + ")",
		"external-app: node c-worker still holds image example.org/filemover/toolbox:1.0, loaded by the run",
		"external-app: node c-control-plane still holds image example.org/filemover/toolbox@sha256:t1, loaded by the run",
	} {
		if !strings.Contains(left, want) {
			t.Errorf("leftovers miss %q; got:\n%s", want, left)
		}
	}
	if _, after := reset(ctx, c, []ResetStep{step}); len(after) > 0 {
		t.Errorf("after the reset: %s", strings.Join(after, "\n"))
	}
	for name, n := range d.nodes {
		if len(n.images) != 2 || n.images["registry.k8s.io/pause:3.10.1"] == "" || n.images["docker.io/library/busybox:1.36"] == "" {
			t.Errorf("node %s holds %v after the reset, want the two images it had before", name, n.images)
		}
	}

	// An image the run re-tagged cannot be put back: only a new cluster
	// has the original.
	d.nodes["c-worker2"].images["docker.io/library/busybox:1.36"] = "sha256:b2"
	left = strings.Join(leftovers(ctx, c, []ResetStep{step}), "\n")
	if want := "external-app: node c-worker2's image docker.io/library/busybox:1.36 was replaced by the run's (was sha256:b1, now sha256:b2)"; !strings.Contains(left, want) {
		t.Errorf("leftovers miss %q; got:\n%s", want, left)
	}

	// A namespace of that name that no run created is named, not waited for.
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "app"}}
	if _, err := c.cs.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := step.Reset(ctx, c); err != nil {
		t.Errorf("reset: %v", err)
	}
	if l, _ := step.Leftovers(ctx, c); !strings.Contains(strings.Join(l, "\n"), "namespace app of the app still exists (not created by a run)") {
		t.Errorf("leftovers: %v", l)
	}
}

// A pooled external run's teardown hands the cluster back through the
// reset, with the app's own step: when that step cannot remove the run's
// image, the teardown says so and the next scenario fails, naming it; when
// it can, the next scenario gets the cluster.
func TestPooledExternalTeardown(t *testing.T) {
	next := &scenario.Scenario{Metadata: scenario.Metadata{Name: "next"}, Cluster: scenario.ClusterSpec{Provider: scenario.ProviderKind, Kind: scenario.KindCluster{Workers: 2}}}
	for _, stuck := range []bool{false, true} {
		c, d := cleanCluster(t)
		d.nodes["c-worker"].keepImages = stuck
		e := runExternal(t, c, d)
		pool := NewPool(PoolOptions{Logf: t.Logf, ResetTimeout: 10 * time.Second})
		pool.cur = &poolCluster{SharedCluster: *c, shape: shapeOf(next), last: "ext", images: map[string]bool{}}
		pool.busy.Lock() // held by the run since Provision
		e.o.Pool, e.pooled = pool, pool.cur
		err := e.Teardown(t.Context())
		if _, gone := c.cs.CoreV1().Namespaces().Get(t.Context(), "app", metav1.GetOptions{}); gone == nil {
			t.Errorf("stuck=%v: the app's namespace is still there after the teardown", stuck)
		}
		_, aerr := pool.acquire(t.Context(), next, t.Logf)
		if !stuck {
			if err != nil || aerr != nil {
				t.Errorf("teardown: %v; the next acquire: %v", err, aerr)
			}
			for name, n := range d.nodes {
				if len(n.images) != 2 {
					t.Errorf("node %s holds %v after the teardown, want the two images it had before the run", name, n.images)
				}
			}
			continue
		}
		const want = "node c-worker still holds image example.org/filemover/toolbox:1.0, loaded by the run"
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("teardown = %v, want it to name %q", err, want)
		}
		var le *LeftoverError
		if !errors.As(aerr, &le) || !strings.Contains(aerr.Error(), want) {
			t.Errorf("the next acquire = %v, want a LeftoverError naming %q", aerr, want)
		}
	}
}

// A pooled external app's namespace must not exist yet: the app would go
// into a namespace the reset does not delete.
func TestPooledExternalNeedsItsOwnNamespace(t *testing.T) {
	c, _ := cleanCluster(t)
	e := newTestEnv(t, externalScenario(t, ""))
	e.cs = c.cs
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "app", Labels: map[string]string{k8s.LabelRun: "old"}}}
	if _, err := c.cs.CoreV1().Namespaces().Create(t.Context(), ns, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	err := e.ext.provisionPooled(t.Context(), &poolCluster{SharedCluster: *c})
	if err == nil || !strings.Contains(err.Error(), "namespace app already exists on the pool's cluster rwxchaos-set-test (created by run old)") {
		t.Errorf("provisionPooled = %v", err)
	}
}

// Prewarm holds the pool busy until its background work ends (the first
// run waits for the cluster), logs why it created nothing when its before
// step fails, and leaves scenarios off the pool's cluster alone.
func TestPrewarmHoldsThePoolUntilDone(t *testing.T) {
	var log strings.Builder
	var mu sync.Mutex
	p := NewPool(PoolOptions{Logf: func(f string, a ...any) { mu.Lock(); fmt.Fprintf(&log, f+"\n", a...); mu.Unlock() }})
	s := &scenario.Scenario{Metadata: scenario.Metadata{Name: "first"}, Cluster: scenario.ClusterSpec{Provider: scenario.ProviderKind, Kind: scenario.KindCluster{Workers: 2}}}
	release := make(chan struct{})
	p.Prewarm(context.Background(), s, func(context.Context) error {
		<-release
		return errors.New("the kind test lock: interrupted")
	})
	if p.busy.TryLock() {
		t.Fatal("the pool is free while its cluster is being created ahead")
	}
	close(release)
	deadline := time.Now().Add(5 * time.Second)
	for !p.busy.TryLock() {
		if time.Now().After(deadline) {
			t.Fatal("the pool stayed busy after the prewarm gave up")
		}
		time.Sleep(10 * time.Millisecond)
	}
	p.busy.Unlock()
	mu.Lock()
	if !strings.Contains(log.String(), "no cluster created ahead for first: the kind test lock: interrupted") {
		t.Errorf("log %q does not say why nothing was created", log.String())
	}
	mu.Unlock()
	if p.cur != nil || p.Stats().Prewarmed != 0 {
		t.Error("a failed prewarm left a cluster or time behind")
	}

	fresh := *s
	fresh.Cluster.Kind.Fresh = true
	called := false
	p.Prewarm(context.Background(), &fresh, func(context.Context) error { called = true; return nil })
	if !p.busy.TryLock() || called {
		t.Error("a scenario that wants a fresh cluster was prewarmed")
	}
}
