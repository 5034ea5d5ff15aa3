package existing

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rwxchaos/rwxchaos/framework/provider"
	"github.com/rwxchaos/rwxchaos/framework/scenario"
	"github.com/rwxchaos/rwxchaos/framework/support"
)

const kubeconfig = `apiVersion: v1
kind: Config
clusters:
- name: lab
  cluster: {server: "https://127.0.0.1:1"}
users:
- name: admin
  user: {token: "s3cr3t-t0ken"}
contexts:
- name: lab
  context: {cluster: lab, user: admin}
- name: prod
  context: {cluster: lab, user: admin}
current-context: prod
`

const drill = `apiVersion: rwxchaos.dev/v1alpha1
kind: Scenario
metadata: {name: drill}
cluster:
  provider: existing
  existing: {context: lab, namespaces: [bots]}
storage: {backend: storageclass, storageClassName: rwx}
workload:
  namespace: bots
  replicas: {webserver: 2}
  traffic: {count: 20, rate: 5}
faults:
  - name: cut
    action: chaos-partition
    target: {role: webserver}
    to: jobqueue
    duration: 20s
  - name: kill
    action: chaos-pod-kill
    target: {select: random-webserver}
    schedule: {after: cut}
  - name: slow
    action: chaos-io-latency
    target: {role: engine}
    latency: 100ms
    duration: 10s
expect: {lockExclusive: false}
`

func setup(t *testing.T, allow []string, dry bool, mutate func(string) string) (*Env, string) {
	t.Helper()
	dir := t.TempDir()
	kc := filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(kc, []byte(kubeconfig), 0o600); err != nil {
		t.Fatal(err)
	}
	src := strings.Replace(drill, "context: lab,", "kubeconfig: "+kc+", context: lab,", 1)
	if mutate != nil {
		src = mutate(src)
	}
	s, err := scenario.Parse("drill.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	env, err := New(Options{AllowContexts: allow, DryRun: &dry, PipelineImage: "example/edi-pipeline:1",
		Logf: func(f string, a ...any) { lines = append(lines, f) }})(provider.Config{Scenario: s, RunDir: dir, RunID: "20261123T150000Z-s1"})
	if err != nil {
		t.Fatal(err)
	}
	return env.(*Env), dir
}

func TestRefusesContextNotAllowed(t *testing.T) {
	for _, allow := range [][]string{nil, {"prod"}, {"lab-other"}} {
		e, _ := setup(t, allow, false, nil)
		err := e.Provision(context.Background())
		if err == nil || !strings.Contains(err.Error(), `refuses kube context "lab"`) || !strings.Contains(err.Error(), "--allow-context") {
			t.Errorf("allow %v: want a refusal naming --allow-context, got %v", allow, err)
		}
		if err != nil && strings.Contains(err.Error(), "s3cr3t") {
			t.Errorf("refusal leaks the token: %v", err)
		}
	}
}

func TestRefusesNamespaceNotListed(t *testing.T) {
	_, err := scenario.Parse("x.yaml", []byte(strings.Replace(drill, "namespace: bots", "namespace: kube-system", 1)))
	if err == nil {
		t.Fatal("scenario validation let the workload namespace leave cluster.existing.namespaces")
	}
	e, _ := setup(t, []string{"lab"}, false, nil)
	if err := e.allowed("kube-system"); err == nil {
		t.Error("allowed kube-system")
	}
}

// Dry run needs no reachable cluster: it prints the pipeline, the helper
// and every Chaos Mesh object, creates nothing, and the run is void.
func TestDryRunPrintsAndCreatesNothing(t *testing.T) {
	e, dir := setup(t, []string{"lab"}, true, nil)
	err := e.Provision(context.Background())
	if !support.IsUnsupported(err) || !strings.Contains(err.Error(), "dry run") {
		t.Fatalf("want a void dry run, got %v", err)
	}
	b, rerr := os.ReadFile(filepath.Join(dir, "dry-run.yaml"))
	if rerr != nil {
		t.Fatal(rerr)
	}
	y := string(b)
	for _, want := range []string{"kind: PersistentVolumeClaim", "storageClassName: rwx", "kind: Deployment", "kind: Pod",
		"kind: NetworkChaos", "action: partition", "kind: PodChaos", "action: pod-kill", "kind: IOChaos", "rwxchaos.dev/run: 20261123T150000Z-s1"} {
		if !strings.Contains(y, want) {
			t.Errorf("dry-run.yaml lacks %q", want)
		}
	}
	if strings.Contains(y, "s3cr3t") {
		t.Error("dry-run.yaml leaks the kubeconfig token")
	}
	if err := e.Teardown(context.Background()); err != nil {
		t.Errorf("teardown after a dry run: %v", err)
	}
}

func TestRedact(t *testing.T) {
	for _, s := range []string{`Authorization: Bearer abc.def`, `token=abc123 more`, `password: "hunter2"`} {
		if r := redact(s); strings.Contains(r, "abc") || strings.Contains(r, "hunter2") {
			t.Errorf("redact(%q) = %q", s, r)
		}
	}
}
