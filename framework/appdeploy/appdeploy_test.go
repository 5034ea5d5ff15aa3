package appdeploy

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/kubernetes/fake"
)

const filemover = "../../fixtures/apps/filemover"

func find(objs []*unstructured.Unstructured, kind, name string) *unstructured.Unstructured {
	for _, o := range objs {
		if o.GetKind() == kind && (name == "" || o.GetName() == name) {
			return o
		}
	}
	return nil
}

func env(t *testing.T, o *unstructured.Unstructured, name string) string {
	t.Helper()
	spec, ok := podSpec(o)
	if !ok {
		t.Fatalf("%s %s has no pod spec", o.GetKind(), o.GetName())
	}
	for _, c := range mapItems(spec["containers"]) {
		for _, e := range mapItems(c["env"]) {
			if e["name"] == name {
				v, _ := e["value"].(string)
				return v
			}
		}
	}
	return ""
}

// The example app renders with kustomize in-process; the bug overlay
// changes only the claim mode.
func TestRenderKustomize(t *testing.T) {
	base, err := Render([]string{filepath.Join(filemover, "base")})
	if err != nil {
		t.Fatal(err)
	}
	bug, err := Render([]string{filepath.Join(filemover, "bug-copy-then-delete")})
	if err != nil {
		t.Fatal(err)
	}
	if len(base) != 4 || len(bug) != 4 {
		t.Fatalf("want Namespace, ConfigMap, PVC and Deployment, got %d and %d objects", len(base), len(bug))
	}
	cm := find(base, "ConfigMap", "")
	if cm == nil || !strings.HasPrefix(cm.GetName(), "filemover-script-") {
		t.Fatalf("configMapGenerator did not run: %v", cm)
	}
	d := find(base, "Deployment", "filemover")
	if d == nil || d.GetNamespace() != "filemover" || d.GetLabels()["app"] != "filemover" {
		t.Fatalf("deployment not rendered with the kustomization's namespace and labels: %v", d)
	}
	spec, _ := podSpec(d)
	var refs []string
	for _, v := range mapItems(spec["volumes"]) {
		if m, ok := v["configMap"].(map[string]any); ok {
			refs = append(refs, toStr(m["name"]))
		}
	}
	if strings.Join(refs, ",") != cm.GetName() {
		t.Errorf("the deployment refers to ConfigMaps %v, not the generated %s", refs, cm.GetName())
	}
	if got := env(t, d, "CLAIM"); got != "rename" {
		t.Errorf("base CLAIM = %q, want rename", got)
	}
	bd := find(bug, "Deployment", "filemover")
	if got := env(t, bd, "CLAIM") + " " + env(t, bd, "LOCKING"); got != "copy off" {
		t.Errorf("bug overlay CLAIM LOCKING = %q, want copy off", got)
	}
	if got := env(t, d, "LOCKING"); got != "" {
		t.Errorf("base LOCKING = %q, want unset (on)", got)
	}
}

func toStr(v any) string {
	s, _ := v.(string)
	return s
}

func TestRenderFilesAndErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	list := write("list.yaml", `# comments only first
---
apiVersion: v1
kind: List
items:
- {apiVersion: v1, kind: ConfigMap, metadata: {name: a}}
- {apiVersion: v1, kind: ConfigMap, metadata: {name: b}}
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec: {ports: [{port: 80}]}
`)
	objs, err := Render([]string{list})
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) != 3 || objs[0].GetName() != "a" || objs[2].GetKind() != "Service" {
		t.Fatalf("got %d objects: %v", len(objs), objs)
	}
	for name, body := range map[string]string{
		"noname.yaml": "apiVersion: v1\nkind: ConfigMap\n",
		"nokind.yaml": "metadata: {name: x}\n",
		"empty.yaml":  "# nothing\n",
	} {
		if _, err := Render([]string{write(name, body)}); err == nil {
			t.Errorf("%s: rendered without error", name)
		}
	}
	if _, err := Render([]string{dir}); err == nil || !strings.Contains(err.Error(), "kustomization") {
		t.Errorf("a directory without a kustomization: %v", err)
	}
}

func TestResolvePaths(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "scen", "apps", "x"), 0o755); err != nil {
		t.Fatal(err)
	}
	scen := filepath.Join(dir, "scen", "s.yaml")
	got, err := ResolvePaths(scen, []string{"apps/x"})
	if err != nil || got[0] != filepath.Join(dir, "scen", "apps", "x") {
		t.Fatalf("got %v, %v", got, err)
	}
	if _, err := ResolvePaths(scen, []string{"apps/missing"}); err == nil || !strings.Contains(err.Error(), "relative to the scenario file") {
		t.Errorf("missing path: %v", err)
	}
	// An embedded library scenario names its file relative to the
	// repository: found from a package directory below it.
	wd, _ := os.Getwd()
	got, err = ResolvePaths("scenarios/library/x.yaml", []string{"../../fixtures/apps/filemover/base"})
	if err == nil {
		t.Fatalf("scenarios/library/x.yaml does not exist, got %v", got)
	}
	got, err = ResolvePaths("framework/appdeploy/render.go", []string{"../../fixtures/apps/filemover/base"})
	if err != nil || got[0] != filepath.Join(filepath.Dir(filepath.Dir(wd)), "fixtures", "apps", "filemover", "base") {
		t.Fatalf("repository-relative scenario file: got %v, %v", got, err)
	}
}

func TestNormalizeImage(t *testing.T) {
	for in, want := range map[string]string{
		"busybox":                       "docker.io/library/busybox:latest",
		"busybox:1.36":                  "docker.io/library/busybox:1.36",
		"rwxchaos/toolbox:abc":          "docker.io/rwxchaos/toolbox:abc",
		"harbor.example/priv/bots":      "harbor.example/priv/bots:latest",
		"localhost:5000/app:2":          "localhost:5000/app:2",
		"localhost/app":                 "localhost/app:latest",
		"quay.io/x/y@sha256:0123456789": "quay.io/x/y@sha256:0123456789",
	} {
		if got := NormalizeImage(in); got != want {
			t.Errorf("NormalizeImage(%q) = %q, want %q", in, got, want)
		}
	}
}

func binding() Binding {
	return Binding{Namespace: "run-ns", Claim: "filemover-data", PVName: "rwxchaos-run-ns",
		Volume: Volume{HostPath: "/shared/runs/r1", Size: "2Gi"}, SideDir: "/shared/runs/r1-side",
		Propagate: true, Loaded: []string{"example.org/filemover/toolbox:1.0"}, Labels: map[string]string{"rwxchaos.dev/run": "r1"}}
}

func TestRewriteBindsTheClaim(t *testing.T) {
	objs, err := Render([]string{filepath.Join(filemover, "base")})
	if err != nil {
		t.Fatal(err)
	}
	extra, err := Decode([]byte(`apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: logs, namespace: other}
spec: {accessModes: [ReadWriteOnce], storageClassName: longhorn, resources: {requests: {storage: 5Gi}}}
---
apiVersion: batch/v1
kind: CronJob
metadata: {name: engine}
spec:
  schedule: "* * * * *"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: OnFailure
          containers:
          - name: engine
            image: harbor.example/bots:latest
            imagePullPolicy: Always
            volumeMounts: [{name: d, mountPath: /home/bots/.bots, subPath: env}, {name: l, mountPath: /logs}]
          volumes:
          - {name: d, persistentVolumeClaim: {claimName: filemover-data}}
          - {name: l, persistentVolumeClaim: {claimName: logs}}
`))
	if err != nil {
		t.Fatal(err)
	}
	b := binding()
	b.Volume.Root = "mnt/runs/r1"
	p, err := Rewrite(append(objs, extra...), b)
	if err != nil {
		t.Fatal(err)
	}
	if find(p.Objects, "Namespace", "") != nil {
		t.Error("the manifests' Namespace is applied")
	}
	for _, o := range p.Objects {
		if o.GetNamespace() != "" {
			t.Errorf("%s %s keeps namespace %s (it is set at apply time)", o.GetKind(), o.GetName(), o.GetNamespace())
		}
		if o.GetLabels()["rwxchaos.dev/run"] != "r1" {
			t.Errorf("%s %s lacks the run label", o.GetKind(), o.GetName())
		}
	}
	if len(p.PVs) != 2 || p.PVs[0].Name != "rwxchaos-run-ns" || p.PVs[0].Spec.HostPath.Path != "/shared/runs/r1" {
		t.Fatalf("PVs: %+v", p.PVs)
	}
	if p.PVs[0].Spec.ClaimRef.Namespace != "run-ns" || p.PVs[0].Spec.ClaimRef.Name != "filemover-data" {
		t.Errorf("data PV claimRef %+v", p.PVs[0].Spec.ClaimRef)
	}
	if q := p.PVs[0].Spec.Capacity[corev1.ResourceStorage]; q.String() != "2Gi" {
		t.Errorf("data PV capacity %s, want the larger of the claim (1Gi) and the volume size (2Gi)", q.String())
	}
	if side := p.PVs[1]; side.Spec.HostPath.Path != "/shared/runs/r1-side/logs" || side.Spec.ClaimRef.Name != "logs" {
		t.Errorf("side PV %+v", side.Spec)
	}
	c := find(p.Objects, "PersistentVolumeClaim", "filemover-data")
	sc, _, _ := unstructured.NestedString(c.Object, "spec", "storageClassName")
	vn, _, _ := unstructured.NestedString(c.Object, "spec", "volumeName")
	if sc != "" || vn != "rwxchaos-run-ns" {
		t.Errorf("claim not bound: storageClassName %q volumeName %q", sc, vn)
	}
	if strings.Join(p.Claims, ",") != "filemover-data,logs" {
		t.Errorf("claims %v", p.Claims)
	}
	// Mounts of the data claim: propagation and the root as subPath prefix.
	spec, _ := podSpec(find(p.Objects, "CronJob", "engine"))
	ct := mapItems(spec["containers"])[0]
	if ct["imagePullPolicy"] != "IfNotPresent" {
		t.Errorf("Always pull policy kept: %v", ct["imagePullPolicy"])
	}
	ms := mapItems(ct["volumeMounts"])
	if ms[0]["subPath"] != "mnt/runs/r1/env" || ms[0]["mountPropagation"] != "HostToContainer" {
		t.Errorf("data mount %v", ms[0])
	}
	if _, ok := ms[1]["subPath"]; ok {
		t.Errorf("the logs mount was changed: %v", ms[1])
	}
	if strings.Join(p.Unloaded, ",") != "harbor.example/bots:latest" {
		t.Errorf("unloaded images %v", p.Unloaded)
	}
	// Apply order: the claims before the workloads that mount them.
	var kinds []string
	for _, o := range p.Objects {
		kinds = append(kinds, o.GetKind())
	}
	if got := strings.Join(kinds, ","); got != "ConfigMap,PersistentVolumeClaim,PersistentVolumeClaim,Deployment,CronJob" {
		t.Errorf("apply order %s", got)
	}
	if !strings.Contains(strings.Join(p.Notes, "\n"), `instead of StorageClass "nfs-client"`) {
		t.Errorf("notes do not say what the claim was: %v", p.Notes)
	}
}

func TestRewriteErrors(t *testing.T) {
	objs, err := Render([]string{filepath.Join(filemover, "base")})
	if err != nil {
		t.Fatal(err)
	}
	b := binding()
	b.Claim = "nope"
	if _, err := Rewrite(objs, b); err == nil || !strings.Contains(err.Error(), "mounted: filemover-data") {
		t.Errorf("a claim no pod mounts: %v", err)
	}
	if _, err := Rewrite(objs, Binding{}); err == nil || !strings.Contains(err.Error(), "Namespace, Claim, PVName, Volume") {
		t.Errorf("empty binding: %v", err)
	}
	sts, _ := Decode([]byte(`apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  template: {spec: {containers: [{name: db, image: db}]}}
  volumeClaimTemplates: [{metadata: {name: data}}]
`))
	if _, err := Rewrite(append(objs, sts...), binding()); err == nil || !strings.Contains(err.Error(), "volumeClaimTemplates") {
		t.Errorf("a StatefulSet with volumeClaimTemplates: %v", err)
	}
	// A claim the manifests do not hold is created.
	var noPVC []*unstructured.Unstructured
	for _, o := range objs {
		if o.GetKind() != "PersistentVolumeClaim" {
			noPVC = append(noPVC, o)
		}
	}
	p, err := Rewrite(noPVC, binding())
	if err != nil {
		t.Fatal(err)
	}
	if c := find(p.Objects, "PersistentVolumeClaim", "filemover-data"); c == nil {
		t.Error("the missing claim was not created")
	}
}

func TestWaitReady(t *testing.T) {
	one := int32(1)
	dep := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "ns", Generation: 1},
		Spec:   appsv1.DeploymentSpec{Replicas: &one},
		Status: appsv1.DeploymentStatus{ObservedGeneration: 1, UpdatedReplicas: 1, AvailableReplicas: 0}}
	pvc := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "data", Namespace: "ns"},
		Status: corev1.PersistentVolumeClaimStatus{Phase: corev1.ClaimBound}}
	cs := fake.NewClientset(dep, pvc)
	objs, _ := Decode([]byte("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\n"))
	p := &Plan{Namespace: "ns", Claims: []string{"data"}, Objects: objs}
	ctx := context.Background()
	_, err := WaitReady(ctx, cs, p, WaitOptions{Timeout: 300 * time.Millisecond, Poll: 50 * time.Millisecond})
	if err == nil || !strings.Contains(err.Error(), "Deployment/web: 0/1 available") {
		t.Fatalf("not available: %v", err)
	}
	dep.Status.AvailableReplicas = 1
	if _, err := cs.AppsV1().Deployments("ns").UpdateStatus(ctx, dep, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	r, err := WaitReady(ctx, cs, p, WaitOptions{Timeout: 5 * time.Second, Poll: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := r.Ready["Deployment/web"]; !ok || !strings.Contains(r.Summary(), "all ready") {
		t.Errorf("readiness %+v", r)
	}
	// A failed Job of the manifests ends the wait at once.
	job := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "init", Namespace: "ns"},
		Status: batchv1.JobStatus{Failed: 3, Conditions: []batchv1.JobCondition{{Type: batchv1.JobFailed, Status: corev1.ConditionTrue}}}}
	if _, err := cs.BatchV1().Jobs("ns").Create(ctx, job, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	jobs, _ := Decode([]byte("apiVersion: batch/v1\nkind: Job\nmetadata: {name: init}\n"))
	p.Objects = append(p.Objects, jobs...)
	start := time.Now()
	if _, err := WaitReady(ctx, cs, p, WaitOptions{Timeout: time.Minute, Poll: 50 * time.Millisecond}); err == nil || !strings.Contains(err.Error(), "Job init failed") {
		t.Fatalf("failed job: %v", err)
	}
	if time.Since(start) > 10*time.Second {
		t.Error("a failed Job did not end the wait at once")
	}
}

func TestWaitReadyCronJobs(t *testing.T) {
	ctx := context.Background()
	cj := &batchv1.CronJob{ObjectMeta: metav1.ObjectMeta{Name: "engine", Namespace: "ns"}, Spec: batchv1.CronJobSpec{Schedule: "* * * * *"}}
	cs := fake.NewClientset(cj)
	objs, _ := Decode([]byte("apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: engine}\n---\napiVersion: batch/v1\nkind: CronJob\nmetadata: {name: other}\n"))
	p := &Plan{Namespace: "ns", Objects: objs}
	if _, err := WaitReady(ctx, cs, p, WaitOptions{Timeout: time.Second, CronJobs: []string{"nope"}}); err == nil || !strings.Contains(err.Error(), `no CronJob "nope"`) {
		t.Errorf("an unknown CronJob: %v", err)
	}
	// Not run yet: not ready (and "other", not asked for, is not waited for).
	_, err := WaitReady(ctx, cs, p, WaitOptions{Timeout: 300 * time.Millisecond, Poll: 50 * time.Millisecond, CronJobs: []string{"engine"}})
	if err == nil || !strings.Contains(err.Error(), "CronJob/engine: not scheduled yet") || strings.Contains(err.Error(), "other") {
		t.Fatalf("before the first run: %v", err)
	}
	job := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "engine-1", Namespace: "ns",
		OwnerReferences: []metav1.OwnerReference{{Kind: "CronJob", Name: "engine", APIVersion: "batch/v1", UID: "u"}}},
		Status: batchv1.JobStatus{Active: 1}}
	if _, err := cs.BatchV1().Jobs("ns").Create(ctx, job, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := WaitReady(ctx, cs, p, WaitOptions{Timeout: 5 * time.Second, Poll: 50 * time.Millisecond, CronJobs: []string{"engine"}}); err != nil {
		t.Errorf("after the first run: %v", err)
	}
}
