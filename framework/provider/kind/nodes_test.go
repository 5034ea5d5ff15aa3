package kind

import (
	"context"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/rwxchaos/rwxchaos/fixtures/k8s"
	"github.com/rwxchaos/rwxchaos/framework/history"
	"github.com/rwxchaos/rwxchaos/framework/scenario"
)

func TestKindWorkerIndex(t *testing.T) {
	for name, want := range map[string]int{
		"rwxchaos-run-1a2b3c-worker": 1, "rwxchaos-run-1a2b3c-worker2": 2, "x-worker10": 10,
		"x-control-plane": 0, "x-worker1": 0, "x-worker02": 0, "x-workerx": 0,
	} {
		if got := kindWorkerIndex(name); got != want {
			t.Errorf("kindWorkerIndex(%q) = %d, want %d", name, got, want)
		}
	}
	ws := []string{"c-worker10", "c-worker2", "c-worker", "c-worker3"}
	sortWorkers(ws)
	if want := []string{"c-worker", "c-worker2", "c-worker3", "c-worker10"}; !slices.Equal(ws, want) {
		t.Errorf("sortWorkers = %v, want %v", ws, want)
	}
}

func TestNodeByRef(t *testing.T) {
	cp, workers := "c-control-plane", []string{"c-worker", "c-worker2", "c-worker3", "c-worker4"}
	for ref, want := range map[string]string{"control-plane": cp, "worker-1": "c-worker", "worker-4": "c-worker4"} {
		if got, err := nodeByRef(ref, cp, workers); err != nil || got != want {
			t.Errorf("nodeByRef(%q) = %q, %v; want %q", ref, got, err, want)
		}
	}
	// A generated name is refused even when it happens to be a node of this
	// cluster: the same file must work on every run's cluster.
	for _, bad := range []string{"worker-5", "c-worker", "rwxchaos-worker2", "worker-0"} {
		if got, err := nodeByRef(bad, cp, workers); err == nil {
			t.Errorf("nodeByRef(%q) = %q, want an error", bad, got)
		}
	}
}

// fakeCluster is what a run of s would get: a control plane and
// s.Cluster.Kind.Workers workers named after a generated cluster name, the
// pipeline's pods spread over the workers, and a live engine lease.
func fakeCluster(t *testing.T, s *scenario.Scenario) (*Env, []string) {
	t.Helper()
	const cluster = "rwxchaos-run-1a2b3c"
	e := &Env{o: Options{Clock: time.Now, Logf: t.Logf}, s: s, ns: "rwxchaos-test", volume: t.TempDir(), cpNode: cluster + "-control-plane"}
	objs := []runtime.Object{&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: e.cpNode,
		Labels: map[string]string{"node-role.kubernetes.io/control-plane": ""}}}}
	for i := 1; i <= s.Cluster.Kind.Workers; i++ {
		name := cluster + "-worker"
		if i > 1 {
			name += strconv.Itoa(i)
		}
		e.workers = append(e.workers, name)
		objs = append(objs, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}})
	}
	pod := func(name, component, node string) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: e.ns, Labels: map[string]string{k8s.LabelComponent: component}},
			Spec: corev1.PodSpec{NodeName: node}, Status: corev1.PodStatus{Phase: corev1.PodRunning}}
	}
	for i := range s.Workload.Replicas.Webserver {
		objs = append(objs, pod("webserver-"+string(rune('a'+i)), k8s.ComponentWeb, e.workers[i%len(e.workers)]))
	}
	objs = append(objs, pod("jobqueue-a", k8s.ComponentJobq, e.workers[len(e.workers)-1]))
	// an engine run in progress (the partition side "engine" is its node)
	objs = append(objs, pod("engine-a", k8s.ComponentEngine, e.workers[0]))
	e.cs = fake.NewSimpleClientset(objs...)
	lease := history.Lease{Holder: "engine-x", Node: e.workers[0], Epoch: 3, Heartbeat: time.Now().Add(time.Hour).UnixNano(), TTLMillis: 30000}
	b, _ := json.Marshal(lease)
	p := filepath.Join(e.volume, history.LeaseFile)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return e, append([]string{e.cpNode}, e.workers...)
}

// Every kind scenario of the library resolves every target against the
// cluster a run would get. A file naming a node the way only one cluster
// names it ("rwxchaos-worker") fails here, in `go test`, not at night.
func TestLibraryTargetsResolve(t *testing.T) {
	files, err := filepath.Glob("../../../scenarios/library/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no library under ../../../scenarios/library: %v", err)
	}
	kinds := 0
	for _, f := range files {
		s, err := scenario.Load(f)
		var list scenario.ErrorList
		switch {
		case errors.As(err, &list) && list.Unsupported():
			t.Logf("%s: well-formed, but nothing runs it yet: %v", f, err)
			continue
		case err != nil:
			t.Fatalf("%s: %v", f, err)
		}
		if s.Cluster.Provider != scenario.ProviderKind {
			continue
		}
		kinds++
		t.Run(s.Metadata.Name, func(t *testing.T) {
			e, nodes := fakeCluster(t, s)
			ctx := context.Background()
			rng := rand.New(rand.NewPCG(1, 2))
			resolved := 0
			check := func(f scenario.FaultSpec, what string, got []string, err error) {
				t.Helper()
				if err != nil {
					t.Errorf("fault %s: %s does not resolve on a run's cluster: %v", f.Name, what, err)
					return
				}
				for _, n := range got {
					if !slices.Contains(nodes, n) {
						t.Errorf("fault %s: %s resolved to %q, not a node of the cluster (%v)", f.Name, what, n, nodes)
					}
				}
				resolved++
			}
			for _, f := range s.Faults {
				switch f.Target.Select {
				case scenario.SelectCaller, scenario.SelectCallerNode:
					// Resolved by the trigger, from the process whose file
					// operation fired it, not from the cluster's layout.
					continue
				}
				if f.Target != (scenario.TargetSpec{}) {
					got, err := e.resolveNodes(ctx, f.Target, rng)
					check(f, "target", got, err)
					if want := max(f.Target.Count, 1); err == nil && len(got) != want {
						t.Errorf("fault %s: target resolved to %d nodes, want %d", f.Name, len(got), want)
					}
				}
				for _, side := range []string{f.From, f.To} {
					switch side {
					case "", "nodes", "storage":
						continue
					}
					n, err := e.endpointNode(ctx, side, rng)
					check(f, "partition side "+side, []string{n}, err)
				}
			}
			if resolved == 0 && hasNodeTarget(s) {
				t.Errorf("no target was resolved")
			}
		})
	}
	if kinds == 0 {
		t.Fatal("the library has no kind scenario: is the path right?")
	}
}

func hasNodeTarget(s *scenario.Scenario) bool {
	for _, f := range s.Faults {
		if f.Target.Select == scenario.SelectCaller || f.Target.Select == scenario.SelectCallerNode {
			continue
		}
		if f.Target != (scenario.TargetSpec{}) || f.From != "" {
			return true
		}
	}
	return false
}

// On a pool's shared cluster a fuse run's server is mounted below the
// cluster's shared dir; trigger paths are relative to that mount (runs/<id>),
// as on a cluster of its own (the first shared-cluster nightly armed a
// trigger on fuse/<id>/runs/<id>/... and it never fired).
func TestSharedRunPaths(t *testing.T) {
	dir := "/cache/kind-shared/rwxchaos-set-1"
	root, vol, mnt := sharedRunPaths(dir, "run1", scenario.BackendFuse)
	e := &Env{s: &scenario.Scenario{Storage: scenario.StorageSpec{Backend: scenario.BackendFuse}}, runID: "run1", shared: root, volume: vol}
	if n, rel := e.TriggerServers(); n != 1 || rel != "runs/run1" || mnt != filepath.Join(dir, sharedFuse, "run1") {
		t.Errorf("fuse: TriggerServers = %d, %q (mount %s); want 1, runs/run1", n, rel, mnt)
	}
	root, vol, mnt = sharedRunPaths(dir, "run1", scenario.BackendHostPath)
	if root != dir || vol != filepath.Join(dir, sharedRuns, "run1") || mnt != "" {
		t.Errorf("hostpath: %s %s %q", root, vol, mnt)
	}
}
