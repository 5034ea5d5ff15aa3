package kind

import (
	"archive/tar"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/rwxchaos/rwxchaos/framework/provider"
	"github.com/rwxchaos/rwxchaos/framework/report"
	"github.com/rwxchaos/rwxchaos/framework/scenario"
)

func externalScenario(t *testing.T, faults string) *scenario.Scenario {
	t.Helper()
	src := `apiVersion: rwxchaos.dev/v1alpha1
kind: Scenario
metadata: {name: ext}
cluster: {provider: kind}
workload:
  mode: external
  namespace: app
  external:
    manifests: [../../../fixtures/apps/filemover/base]
    pvc: filemover-data
    inputPath: in
    outputPath: out
    match: filename
    holderFile: .lock/owner
    selectors:
      engine: {app: filemover, component: mover}
      janitor: {app: filemover, component: janitor}
` + faults
	file, _ := filepath.Abs("ext.yaml") // manifests are relative to it; it need not exist
	s, err := scenario.Parse(file, []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func newTestEnv(t *testing.T, s *scenario.Scenario) *Env {
	t.Helper()
	pe, err := New(Options{})(provider.Config{Scenario: s, RunDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	return pe.(*Env)
}

// The manifests are rendered and checked before any cluster exists.
func TestExternalRendersBeforeTheCluster(t *testing.T) {
	e := newTestEnv(t, externalScenario(t, ""))
	if e.ext == nil || e.ns != "app" {
		t.Fatalf("external env: ext %v, namespace %q", e.ext, e.ns)
	}
	if err := e.ext.render(); err != nil {
		t.Fatal(err)
	}
	if len(e.ext.objs) != 4 {
		t.Errorf("%d objects rendered, want 4", len(e.ext.objs))
	}
	s := externalScenario(t, "")
	s.Workload.External.PVC = "not-mounted"
	e = newTestEnv(t, s)
	if err := e.ext.render(); err == nil || !strings.Contains(err.Error(), "no pod of the manifests mounts") {
		t.Errorf("a claim no pod mounts is found at render time: %v", err)
	}
}

func TestRolesAndTargets(t *testing.T) {
	e := newTestEnv(t, externalScenario(t, ""))
	x := e.ext
	pod := func(name, node string, l map[string]string) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "app", Labels: l},
			Spec: corev1.PodSpec{NodeName: node}, Status: corev1.PodStatus{Phase: corev1.PodRunning}}
	}
	mover := pod("mover-1", "w2", map[string]string{"app": "filemover", "component": "mover", "pod-template-hash": "x"})
	janitor := pod("janitor-1", "w3", map[string]string{"app": "filemover", "component": "janitor"})
	other := pod("other", "w1", map[string]string{"app": "else"})
	if x.roleOf(mover) != "engine" || x.roleOf(janitor) != "janitor" || x.roleOf(other) != "" {
		t.Errorf("roles: %q %q %q", x.roleOf(mover), x.roleOf(janitor), x.roleOf(other))
	}
	e.cs = fake.NewClientset(mover, janitor, other)
	ctx := context.Background()
	// The fake client does not filter by label selector: check the selector
	// it is given instead, and node resolution on a filtered list.
	if sel, err := x.selector("janitor"); err != nil || sel != "app=filemover,component=janitor" {
		t.Errorf("selector %q, %v", sel, err)
	}
	if _, err := x.selector("webserver"); err == nil {
		t.Error("a role without a selector resolved")
	}
	if !e.isRole("janitor") || e.isRole("webserver") || e.isRole("w1") {
		t.Error("isRole")
	}
	// lock-holder: the pod named in the holder file.
	e.volume = t.TempDir()
	if err := os.MkdirAll(filepath.Join(e.volume, ".lock"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(e.volume, ".lock", "owner"), []byte("mover-1 42 1796073403\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	node, err := x.holderNode(ctx)
	if err != nil || node != "w2" {
		t.Errorf("holder node %q, %v; want w2", node, err)
	}
	if err := os.WriteFile(filepath.Join(e.volume, ".lock", "owner"), []byte("gone-pod 1 2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	if _, err := x.holderNode(tctx); err == nil {
		t.Error("a holder file naming a pod that does not exist resolved")
	}
}

func TestArchiveNames(t *testing.T) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	body := []byte(`[{"Config":"c.json","RepoTags":["bots-edi:dev","harbor.example/bots:4"],"Layers":[]}]`)
	_ = tw.WriteHeader(&tar.Header{Name: "c.json", Mode: 0o644, Size: 2})
	_, _ = tw.Write([]byte("{}"))
	_ = tw.WriteHeader(&tar.Header{Name: "manifest.json", Mode: 0o644, Size: int64(len(body))})
	_, _ = tw.Write(body)
	_ = tw.Close()
	names, err := archiveNames(&buf)
	if err != nil || strings.Join(names, ",") != "bots-edi:dev,harbor.example/bots:4" {
		t.Errorf("names %v, %v", names, err)
	}
	if _, err := archiveNames(strings.NewReader("")); err == nil {
		t.Error("an empty archive has names")
	}
}

// The report says which checks the evidence allows, and why not the others.
func TestCoverage(t *testing.T) {
	cov := func(faults string, obs provider.Observations) map[string]report.Coverage {
		e := newTestEnv(t, externalScenario(t, faults))
		m := map[string]report.Coverage{}
		for _, c := range e.ext.coverage(&obs) {
			m[strings.Fields(c.Check)[0]] = c
		}
		return m
	}
	kill := `faults:
  - name: k
    action: node-kill
    target: {select: lock-holder}
    duration: 10s
`
	m := cov(kill, provider.Observations{Pods: []report.Pod{{Pod: "mover-1", Component: "engine", Node: "w2"}}})
	for name, applied := range map[string]bool{"ledger": true, "stuck": true, "leftovers": true, "lock-safety": false,
		"lock-recovery": false, "latency": false, "rescheduling": true, "engine": true, "readiness": false} {
		c, ok := m[name]
		if !ok {
			t.Errorf("no coverage row for %s", name)
			continue
		}
		if c.Applied != applied {
			t.Errorf("%s applied %v, want %v (%s)", name, c.Applied, applied, c.Evidence)
		}
		if !c.Applied && c.Evidence == "" {
			t.Errorf("%s: not applied and no reason", name)
		}
	}
	if !strings.Contains(m["lock-safety"].Needs, "journal") || !strings.Contains(m["ledger"].Evidence, "file name stem") {
		t.Errorf("coverage does not say what is needed: %+v", m)
	}
	m = cov("", provider.Observations{})
	if m["rescheduling"].Applied || !strings.Contains(m["rescheduling"].Evidence, "no node fault") {
		t.Errorf("rescheduling without a node fault: %+v", m["rescheduling"])
	}
}

func TestServiceProxyURL(t *testing.T) {
	got := serviceProxyURL("https://127.0.0.1:6443/", "edi", "bots-webserver", "http", "/api/upload")
	if want := "https://127.0.0.1:6443/api/v1/namespaces/edi/services/bots-webserver:http/proxy/api/upload"; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

// Rescheduling of an external app's roles: judged only for pods
// Kubernetes deleted after the fault (a pod that stayed, after a reboot or
// a short pause, owes nothing); Job pods and unlabelled pods are ignored.
func TestObserverReschedulesRoles(t *testing.T) {
	now := time.Unix(1000, 0)
	o := newObserver(func() time.Time { return now })
	o.anyRole = true
	o.roleOf = func(p *corev1.Pod) string { return p.Labels["role"] }
	ready := []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
	pod := func(uid, name, node, role string, created time.Time) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{UID: types.UID(uid), Name: name, Labels: map[string]string{"role": role},
			CreationTimestamp: metav1.NewTime(created)},
			Spec: corev1.PodSpec{NodeName: node}, Status: corev1.PodStatus{Phase: corev1.PodRunning, Conditions: ready}}
	}
	stays := pod("1", "mover-a", "w1", "engine", now)
	moved := pod("2", "mover-b", "w2", "engine", now)
	o.pod(stays, false)
	o.pod(moved, false)
	// faults at t+10s on both nodes; only mover-b is evicted and replaced.
	now = now.Add(20 * time.Second)
	gone := moved.DeepCopy()
	gone.DeletionTimestamp = &metav1.Time{Time: now}
	o.pod(gone, false)
	now = now.Add(5 * time.Second)
	o.pod(pod("3", "mover-c", "w3", "engine", now.Add(-time.Second)), false)
	faults := []nodeFault{{name: "pause-w1", node: "w1", at: time.Unix(1010, 0).UnixNano()}, {name: "kill-w2", node: "w2", at: time.Unix(1010, 0).UnixNano()}}
	obs := o.observations(faults)
	if len(obs.Reschedules) != 1 {
		t.Fatalf("reschedules %+v, want only the evicted pod's", obs.Reschedules)
	}
	rs := obs.Reschedules[0]
	if rs.Fault != "kill-w2" || rs.To != "w3/mover-c" || rs.After != 15*time.Second {
		t.Errorf("reschedule %+v", rs)
	}
}
