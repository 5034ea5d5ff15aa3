package kind

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/rwxchaos/rwxchaos/fixtures/k8s"
	"github.com/rwxchaos/rwxchaos/framework/fault"
	"github.com/rwxchaos/rwxchaos/framework/history"
	"github.com/rwxchaos/rwxchaos/framework/intervals"
	"github.com/rwxchaos/rwxchaos/framework/scenario"
)

// fakeDocker stands in for the docker CLI on a set of node containers:
// their state (running, paused, start time) and, inside each, the iptables
// rules a partition adds. It answers exactly the commands the kind
// environment runs and fails on any other, so a new command cannot slip
// past the tests unnoticed.
type fakeDocker struct {
	mu    sync.Mutex
	nodes map[string]*fakeNode
	calls []string
}

type fakeNode struct {
	ip      string
	running bool
	paused  bool
	started int
	rules   []string // "-A CHAIN args..."
}

func newFakeDocker(nodes ...string) *fakeDocker {
	d := &fakeDocker{nodes: map[string]*fakeNode{}}
	for i, n := range nodes {
		d.nodes[n] = &fakeNode{ip: fmt.Sprintf("172.18.0.%d", i+2), running: true, started: 1}
	}
	return d
}

func (d *fakeDocker) Run(_ context.Context, args ...string) (string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.calls = append(d.calls, strings.Join(args, " "))
	last := args[len(args)-1]
	switch {
	case args[0] == "inspect" && strings.Contains(args[2], "IPAddress"):
		n, err := d.node(last)
		if err != nil {
			return "", err
		}
		return n.ip + " ", nil
	case args[0] == "inspect" && args[2] == "{{json .State}}":
		n, err := d.node(last)
		if err != nil {
			return "", err
		}
		b, _ := json.Marshal(containerState{Running: n.running, Paused: n.paused, StartedAt: fmt.Sprint(n.started)})
		return string(b), nil
	case args[0] == "exec":
		return d.exec(args[1], args[2:])
	}
	n, err := d.node(last)
	if err != nil {
		return "", err
	}
	switch args[0] {
	case "kill", "stop":
		n.running, n.paused = false, false
	case "pause":
		n.paused = true
	case "unpause":
		if !n.paused {
			return "", fmt.Errorf("docker unpause %s: Container %s is not paused", last, last)
		}
		n.paused = false
	case "start":
		n.running = true
		n.started++
	case "restart":
		n.running, n.paused = true, false
		n.started++
	default:
		return "", fmt.Errorf("fake docker: unexpected command %q", strings.Join(args, " "))
	}
	return "", nil
}

func (d *fakeDocker) node(name string) (*fakeNode, error) {
	n := d.nodes[name]
	if n == nil {
		return nil, fmt.Errorf("docker: Error: No such container: %s", name)
	}
	return n, nil
}

func (d *fakeDocker) exec(node string, argv []string) (string, error) {
	n, err := d.node(node)
	if err != nil {
		return "", err
	}
	if !n.running || n.paused {
		return "", fmt.Errorf("docker exec %s: container is not running", node)
	}
	switch {
	case argv[0] == "iptables" && argv[1] == "-I":
		n.rules = append(n.rules, "-A "+strings.Join(argv[2:], " "))
	case argv[0] == "iptables" && argv[1] == "-D":
		r := "-A " + strings.Join(argv[2:], " ")
		i := slices.Index(n.rules, r)
		if i < 0 {
			return "", fmt.Errorf("iptables: Bad rule (does a matching rule exist in that chain?)")
		}
		n.rules = slices.Delete(n.rules, i, i+1)
	case argv[0] == "iptables" && argv[1] == "-S":
		return "-P INPUT ACCEPT\n" + strings.Join(n.rules, "\n"), nil
	case argv[0] == "timeout" && strings.Contains(strings.Join(argv, " "), "/dev/tcp/"):
		for _, r := range n.rules {
			for _, p := range d.nodes {
				if strings.Contains(r, " "+p.ip+" ") && strings.Contains(argv[len(argv)-1], p.ip) {
					return "", fmt.Errorf("exit status 124")
				}
			}
		}
	default:
		return "", fmt.Errorf("fake docker: unexpected exec %q", strings.Join(argv, " "))
	}
	return "", nil
}

func (d *fakeDocker) state(node string) fakeNode {
	d.mu.Lock()
	defer d.mu.Unlock()
	return *d.nodes[node]
}

// useDocker installs d as the docker CLI for one test.
func useDocker(t *testing.T, d *fakeDocker) {
	t.Helper()
	saved := runDocker
	runDocker = d
	t.Cleanup(func() { runDocker = saved })
}

func node(name string, ready bool, controlPlane bool) *corev1.Node {
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{}}}
	if controlPlane {
		n.Labels["node-role.kubernetes.io/control-plane"] = ""
	}
	st := corev1.ConditionFalse
	if ready {
		st = corev1.ConditionTrue
	}
	n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: st}}
	return n
}

func pod(ns, name, component, nodeName string, phase corev1.PodPhase) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, UID: types.UID(name),
		Labels: map[string]string{k8s.LabelComponent: component}, CreationTimestamp: metav1.Now()},
		Spec: corev1.PodSpec{NodeName: nodeName}, Status: corev1.PodStatus{Phase: phase}}
	if phase == corev1.PodRunning {
		p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
	}
	return p
}

const (
	cp = "rwxchaos-t-control-plane"
	w1 = "rwxchaos-t-worker"
	w2 = "rwxchaos-t-worker2"
	w3 = "rwxchaos-t-worker3"
	ns = "rwxchaos-run"
)

// testEnv is a kind Env over a fake cluster: nodes and pods in a client-go
// fake clientset, node containers in a fake docker, the volume in a temp dir.
func testEnv(t *testing.T, objs ...any) (*Env, *fake.Clientset) {
	t.Helper()
	cs := fake.NewSimpleClientset()
	ctx := context.Background()
	for _, o := range objs {
		var err error
		switch o := o.(type) {
		case *corev1.Node:
			_, err = cs.CoreV1().Nodes().Create(ctx, o, metav1.CreateOptions{})
		case *corev1.Pod:
			_, err = cs.CoreV1().Pods(o.Namespace).Create(ctx, o, metav1.CreateOptions{})
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	s, err := scenario.Parse("t.yaml", []byte(`apiVersion: rwxchaos.dev/v1alpha1
kind: Scenario
metadata: {name: t}
cluster: {provider: kind, kind: {name: rwxchaos-t, workers: 3}}
`))
	if err != nil {
		t.Fatal(err)
	}
	return &Env{o: Options{Logf: t.Logf, Clock: time.Now}, s: s, runID: "run", ns: ns, volume: t.TempDir(), cs: cs}, cs
}

func threeWorkers() []any {
	return []any{node(cp, true, true), node(w2, true, false), node(w1, true, false), node(w3, true, false)}
}

func TestWaitNodesSortsRoles(t *testing.T) {
	e, _ := testEnv(t, threeWorkers()...)
	if err := e.waitNodes(context.Background()); err != nil {
		t.Fatal(err)
	}
	if e.cpNode != cp || !slices.Equal(e.workers, []string{w1, w2, w3}) {
		t.Fatalf("control plane %q, workers %v", e.cpNode, e.workers)
	}
}

func TestWaitNodesSaysWhichIsNotReady(t *testing.T) {
	defer intervals.Set(intervals.NodesReady, intervals.Interval{Timeout: 100 * time.Millisecond, Poll: 10 * time.Millisecond})()
	e, _ := testEnv(t, node(cp, true, true), node(w1, true, false), node(w2, false, false), node(w3, true, false))
	err := e.waitNodes(context.Background())
	if err == nil || !strings.Contains(err.Error(), "3 of 4 nodes Ready (not Ready: "+w2+")") {
		t.Fatalf("waitNodes with one node NotReady: %v", err)
	}
}

func TestResolveNodes(t *testing.T) {
	objs := append(threeWorkers(),
		pod(ns, "web-a", k8s.ComponentWeb, w1, corev1.PodRunning),
		pod(ns, "web-b", k8s.ComponentWeb, w2, corev1.PodRunning),
		pod(ns, "web-c", k8s.ComponentWeb, w3, corev1.PodPending),
		pod(ns, "jq", k8s.ComponentJobq, w3, corev1.PodRunning))
	e, _ := testEnv(t, objs...)
	if err := e.waitNodes(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	rng := func() *rand.Rand { return rand.New(rand.NewPCG(42, 1)) }

	got, err := e.resolveNodes(ctx, scenario.TargetSpec{Node: "worker-2"}, rng())
	if err != nil || !slices.Equal(got, []string{w2}) {
		t.Errorf("node %s: %v %v", w2, got, err)
	}
	if _, err := e.resolveNodes(ctx, scenario.TargetSpec{Node: "nope"}, rng()); err == nil || !strings.Contains(err.Error(), `no node "nope"`) {
		t.Errorf("unknown node: %v", err)
	}
	a, _ := e.resolveNodes(ctx, scenario.TargetSpec{Select: scenario.SelectRandomWorker, Count: 2}, rng())
	b, _ := e.resolveNodes(ctx, scenario.TargetSpec{Select: scenario.SelectRandomWorker, Count: 2}, rng())
	if len(a) != 2 || !slices.Equal(a, b) || slices.Contains(a, cp) || a[0] == a[1] {
		t.Errorf("random-worker ×2 with one seed: %v then %v; want the same two distinct workers", a, b)
	}
	web, err := e.resolveNodes(ctx, scenario.TargetSpec{Select: scenario.SelectRandomWebserver, Count: 3}, rng())
	slices.Sort(web)
	if err != nil || !slices.Equal(web, []string{w1, w2}) {
		t.Errorf("random-webserver: %v %v; want the nodes of Running webservers only", web, err)
	}
	// engine-node: the lock holder's node; with no holder, the jobqueue's.
	if got, err := e.resolveNodes(ctx, scenario.TargetSpec{Select: scenario.SelectEngineNode}, rng()); err != nil || !slices.Equal(got, []string{w3}) {
		t.Errorf("engine-node without a lock holder: %v %v, want the jobqueue's node", got, err)
	}
	writeLease(t, e.volume, history.Lease{Holder: "engine-x", Node: w2, Epoch: 3, Heartbeat: time.Now().UnixNano(), TTLMillis: 60_000})
	for _, sel := range []scenario.Selector{scenario.SelectEngineNode, scenario.SelectLockHolder} {
		if got, err := e.resolveNodes(ctx, scenario.TargetSpec{Select: sel}, rng()); err != nil || !slices.Equal(got, []string{w2}) {
			t.Errorf("%s with a live lease on %s: %v %v", sel, w2, got, err)
		}
	}
}

func writeLease(t *testing.T, volume string, l history.Lease) {
	t.Helper()
	p := filepath.Join(volume, history.LeaseFile)
	os.MkdirAll(filepath.Dir(p), 0o755)
	b, _ := json.Marshal(l)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// A stale or released lease names no lock holder: lock-holder waits, then
// says nobody held the lock.
func TestLockHolderNeedsALiveLease(t *testing.T) {
	defer intervals.Set(intervals.EngineNode, intervals.Interval{Timeout: 100 * time.Millisecond, Poll: 10 * time.Millisecond})()
	e, _ := testEnv(t, threeWorkers()...)
	_ = e.waitNodes(context.Background())
	writeLease(t, e.volume, history.Lease{Node: w1, Heartbeat: time.Now().Add(-time.Hour).UnixNano(), TTLMillis: 1000})
	_, err := e.resolveNodes(context.Background(), scenario.TargetSpec{Select: scenario.SelectLockHolder}, nil)
	if err == nil || !strings.Contains(err.Error(), "nobody held the engine lock") {
		t.Fatalf("lock-holder with a stale lease: %v", err)
	}
}

// Node faults through the one injector path: each is verified on the
// container, healed, and verified healed only once the node is Ready in
// the API again.
func TestNodeFaults(t *testing.T) {
	for _, act := range []scenario.Action{scenario.ActionNodePause, scenario.ActionNodeKill, scenario.ActionNodeStop, scenario.ActionNodeReboot} {
		t.Run(string(act), func(t *testing.T) {
			d := newFakeDocker(cp, w1, w2, w3)
			useDocker(t, d)
			e, _ := testEnv(t, threeWorkers()...)
			_ = e.waitNodes(context.Background())
			fs, err := e.Fault(context.Background(), scenario.FaultSpec{Name: "f", Action: act, Target: scenario.TargetSpec{Node: "worker-2"}}, nil)
			if err != nil || len(fs) != 1 {
				t.Fatalf("Fault: %v %v", fs, err)
			}
			in := fault.NewInjector(fault.Options{Poll: time.Millisecond, VerifyTimeout: time.Second})
			rec, err := in.Run(context.Background(), fs[0], 0)
			if err != nil {
				t.Fatalf("%s: %v", act, err)
			}
			if rec.Verified == 0 || rec.HealVerified == 0 {
				t.Fatalf("record %+v", rec)
			}
			st := d.state(w2)
			if !st.running || st.paused {
				t.Errorf("after heal the node container is running=%v paused=%v", st.running, st.paused)
			}
			if act == scenario.ActionNodeReboot && st.started != 2 {
				t.Errorf("reboot: container started %d times, want 2", st.started)
			}
			if len(e.faults) != 1 || e.faults[0].node != w2 {
				t.Errorf("fault not noted for rescheduling: %+v", e.faults)
			}
		})
	}
}

// A node that does not come back Ready in the API is not healed, whatever
// its container says.
func TestNodeHealWaitsForReady(t *testing.T) {
	d := newFakeDocker(cp, w1, w2, w3)
	useDocker(t, d)
	e, cs := testEnv(t, threeWorkers()...)
	_ = e.waitNodes(context.Background())
	n, _ := cs.CoreV1().Nodes().Get(context.Background(), w1, metav1.GetOptions{})
	n.Status.Conditions[0].Status = corev1.ConditionFalse
	cs.CoreV1().Nodes().Update(context.Background(), n, metav1.UpdateOptions{})
	fs, _ := e.Fault(context.Background(), scenario.FaultSpec{Name: "f", Action: scenario.ActionNodePause, Target: scenario.TargetSpec{Node: "worker-1"}}, nil)
	in := fault.NewInjector(fault.Options{Poll: time.Millisecond, VerifyTimeout: 50 * time.Millisecond})
	_, err := in.Run(context.Background(), fs[0], 0)
	if err == nil || !strings.Contains(err.Error(), "not Ready yet") {
		t.Fatalf("heal of a node that stays NotReady: %v", err)
	}
}

// A partition is iptables DROP rules in the node container, tagged with the
// run; verified by counting them (and, towards the control plane, by the
// API server being unreachable), healed by deleting exactly them; the
// persisted undo removes every tagged rule.
func TestPartition(t *testing.T) {
	d := newFakeDocker(cp, w1, w2, w3)
	useDocker(t, d)
	e, _ := testEnv(t, threeWorkers()...)
	_ = e.waitNodes(context.Background())
	spec := scenario.FaultSpec{Name: "p", Action: scenario.ActionPartition, From: "worker-1", To: "control-plane", Direction: scenario.DirectionBoth}
	fs, err := e.Fault(context.Background(), spec, nil)
	if err != nil || len(fs) != 1 {
		t.Fatalf("Fault: %v %v", fs, err)
	}
	f := fs[0].(*partitionFault)
	cpIP := d.state(cp).ip
	want := []string{
		"INPUT -s " + cpIP + " -j DROP -m comment --comment rwxchaos:run",
		"OUTPUT -d " + cpIP + " -j DROP -m comment --comment rwxchaos:run",
	}
	var got []string
	for _, r := range f.rules {
		got = append(got, strings.Join(r, " "))
	}
	if !slices.Equal(got, want) {
		t.Fatalf("rules\n%v\nwant\n%v", got, want)
	}
	if f.Target() != w1+" ⟂ "+cp {
		t.Errorf("target %q", f.Target())
	}
	ctx := context.Background()
	if err := f.Verify(ctx); err == nil {
		t.Fatal("verified before injection")
	}
	if err := f.Inject(ctx); err != nil {
		t.Fatal(err)
	}
	if err := f.Verify(ctx); err != nil {
		t.Fatalf("verify after inject: %v", err)
	}
	if len(d.state(w1).rules) != 2 || len(d.state(w2).rules) != 0 {
		t.Fatalf("rules on %s: %v; on %s: %v", w1, d.state(w1).rules, w2, d.state(w2).rules)
	}
	if u := f.Undo(); u == nil || u.Kind != "docker" || !slices.Contains(u.Args, w1) || !strings.Contains(strings.Join(u.Args, " "), "rwxchaos:run") {
		t.Errorf("undo %+v", u)
	}
	if err := f.Heal(ctx); err != nil {
		t.Fatal(err)
	}
	if err := f.Heal(ctx); err != nil {
		t.Fatalf("heal is not idempotent: %v", err)
	}
	if err := f.VerifyHealed(ctx); err != nil {
		t.Fatal(err)
	}

	// One way only: egress drops OUTPUT rules alone.
	spec = scenario.FaultSpec{Name: "q", Action: scenario.ActionPartition, From: "worker-2", To: "worker-3", Direction: scenario.DirectionEgress}
	fs, err = e.Fault(ctx, spec, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r := fs[0].(*partitionFault).rules; len(r) != 1 || r[0][0] != "OUTPUT" || r[0][2] != d.state(w3).ip {
		t.Errorf("egress rules %v", r)
	}
}

// The observer turns watch events into the report's rescheduling times,
// stuck-Terminating pods and overlapping engine Jobs.
func TestObserver(t *testing.T) {
	e, cs := testEnv(t, threeWorkers()...)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	o := newObserver(time.Now)
	if err := o.start(ctx, cs, ns); err != nil {
		t.Fatal(err)
	}
	defer o.Stop()
	pods := cs.CoreV1().Pods(ns)
	mustCreate := func(p *corev1.Pod) {
		if _, err := pods.Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	old := pod(ns, "web-old", k8s.ComponentWeb, w1, corev1.PodRunning)
	old.CreationTimestamp = metav1.NewTime(time.Now().Add(-time.Minute))
	mustCreate(old)
	mustCreate(pod(ns, "engine-1", k8s.ComponentEngine, w1, corev1.PodRunning))
	waitObserved(t, o, func(obs observed) bool { return obs.pods == 2 })

	// w1 fails: its webserver is Terminating there, a new one comes up on w2.
	faultAt := time.Now()
	e.noteFault("kill-w1", w1)
	dying := old.DeepCopy()
	now := metav1.Now()
	dying.DeletionTimestamp = &now
	if _, err := pods.Update(ctx, dying, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	fresh := pod(ns, "web-new", k8s.ComponentWeb, w2, corev1.PodRunning)
	fresh.CreationTimestamp = metav1.NewTime(time.Now().Add(time.Millisecond))
	mustCreate(fresh)
	// A second engine Job pod while the first one is still alive.
	mustCreate(pod(ns, "engine-2", k8s.ComponentEngine, w2, corev1.PodRunning))
	waitObserved(t, o, func(obs observed) bool { return obs.pods == 4 && obs.deleting == 1 })

	obs := o.observations(e.faults)
	if obs.OverlappingJobs != 1 {
		t.Errorf("overlapping engine Jobs: %d, want 1", obs.OverlappingJobs)
	}
	if obs.StuckTerminating != 1 {
		t.Errorf("stuck Terminating: %d, want 1", obs.StuckTerminating)
	}
	if len(obs.Reschedules) != 1 {
		t.Fatalf("reschedules %+v, want one (webserver from %s)", obs.Reschedules, w1)
	}
	rs := obs.Reschedules[0]
	if rs.Component != k8s.ComponentWeb || rs.From != w1+"/web-old" || rs.To != w2+"/web-new" || rs.After <= 0 || rs.After > time.Since(faultAt) {
		t.Errorf("reschedule %+v", rs)
	}

	// Settling waits for it while its node is Ready (its kubelet will
	// confirm the deletion), and not while the node is down.
	var logs []string
	var lmu sync.Mutex
	e.o.Logf = func(f string, a ...any) { lmu.Lock(); logs = append(logs, fmt.Sprintf(f, a...)); lmu.Unlock() }
	e.obs = o
	if got := o.terminatingOnReady(); len(got) != 1 || got[0] != "web-old on "+w1 {
		t.Fatalf("terminating on Ready nodes: %v", got)
	}
	if err := e.Drain(ctx, 300*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	lmu.Lock()
	if len(logs) != 1 || !strings.Contains(logs[0], "still Terminating on Ready nodes after the settle: web-old on "+w1) {
		t.Errorf("drain logs %q", logs)
	}
	logs = nil
	lmu.Unlock()
	if _, err := cs.CoreV1().Nodes().Update(ctx, node(w1, false, false), metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := (intervals.Interval{Timeout: 10 * time.Second, Poll: 5 * time.Millisecond}).Until(ctx, func(context.Context) (bool, error) {
		return len(o.terminatingOnReady()) == 0, nil
	}); err != nil {
		t.Fatalf("a pod on a NotReady node still counts: %v", o.terminatingOnReady())
	}
	start := time.Now()
	if err := e.Drain(ctx, time.Minute); err != nil || time.Since(start) > 30*time.Second {
		t.Errorf("drain with the pod's node down: %v after %s", err, time.Since(start))
	}
	lmu.Lock()
	if len(logs) != 0 {
		t.Errorf("drain logs %q", logs)
	}
	lmu.Unlock()

	// The old pod finally goes: no longer stuck.
	if err := pods.Delete(ctx, "web-old", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitObserved(t, o, func(obs observed) bool { return obs.gone == 1 })
	if obs := o.observations(e.faults); obs.StuckTerminating != 0 {
		t.Errorf("stuck Terminating after deletion: %d", obs.StuckTerminating)
	}
}

type observed struct{ pods, deleting, gone int }

// waitObserved polls the observer's state until cond holds: informers
// deliver events asynchronously.
func waitObserved(t *testing.T, o *observer, cond func(observed) bool) {
	t.Helper()
	var last observed
	err := intervals.Interval{Timeout: 10 * time.Second, Poll: 5 * time.Millisecond}.Until(context.Background(), func(context.Context) (bool, error) {
		o.mu.Lock()
		last = observed{pods: len(o.pods)}
		for _, r := range o.pods {
			if r.deleting != 0 {
				last.deleting++
			}
			if r.gone != 0 {
				last.gone++
			}
		}
		o.mu.Unlock()
		return cond(last), nil
	})
	if err != nil {
		t.Fatalf("observer never got there: %+v: %v", last, err)
	}
}

// publisher-node is the node of the Running publisher; consumer-node a node
// that runs a consumer but not the publisher, chosen with the seed; with
// every consumer beside the publisher, consumer-node says so.
func TestResolvePublishNodes(t *testing.T) {
	objs := append(threeWorkers(),
		pod(ns, "pub-old", k8s.ComponentPublisher, w1, corev1.PodFailed),
		pod(ns, "pub", k8s.ComponentPublisher, w2, corev1.PodRunning),
		pod(ns, "cons-a", k8s.ComponentConsumer, w1, corev1.PodRunning),
		pod(ns, "cons-b", k8s.ComponentConsumer, w2, corev1.PodRunning),
		pod(ns, "cons-c", k8s.ComponentConsumer, w3, corev1.PodRunning))
	e, cs := testEnv(t, objs...)
	if err := e.waitNodes(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	rng := func() *rand.Rand { return rand.New(rand.NewPCG(7, 1)) }
	if got, err := e.resolveNodes(ctx, scenario.TargetSpec{Select: scenario.SelectPublisherNode}, rng()); err != nil || !slices.Equal(got, []string{w2}) {
		t.Errorf("publisher-node: %v %v, want %s (the Running publisher's)", got, err, w2)
	}
	a, err := e.resolveNodes(ctx, scenario.TargetSpec{Select: scenario.SelectConsumerNode, Count: 3}, rng())
	b, _ := e.resolveNodes(ctx, scenario.TargetSpec{Select: scenario.SelectConsumerNode, Count: 3}, rng())
	sorted := slices.Sorted(slices.Values(a))
	if err != nil || !slices.Equal(sorted, []string{w1, w3}) || !slices.Equal(a, b) {
		t.Errorf("consumer-node ×3: %v then %v (%v); want only %s and %s (never the publisher's node), in the same order for one seed", a, b, err, w1, w3)
	}
	if n, err := e.endpointNode(ctx, string(scenario.SelectPublisherNode), rng()); err != nil || n != w2 {
		t.Errorf("publisher-node as a partition side: %q %v", n, err)
	}
	// Only the publisher's node has a consumer left.
	for _, p := range []string{"cons-a", "cons-c"} {
		if err := cs.CoreV1().Pods(ns).Delete(ctx, p, metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.resolveNodes(ctx, scenario.TargetSpec{Select: scenario.SelectConsumerNode}, rng()); err == nil || !strings.Contains(err.Error(), "no node runs a consumer without the publisher") {
		t.Errorf("consumer-node beside the publisher only: %v", err)
	}
}

// An engine run started by the jobqueue runs in the jobqueue's pod; its
// command line says it is an engine, in both the standalone pipeline's
// form and the form of the image assembled from this binary.
func TestPipelineRole(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"edi-pipeline", "engine", "--root", "/v"}, "engine"},
		{[]string{"/usr/local/bin/rwxchaos", "__pipeline", "engine", "--root", "/v"}, "engine"},
		{[]string{"/usr/local/bin/rwx-nfs", "__pipeline", "jobqueue"}, "jobqueue"},
		{[]string{"rwxchaos", "__fuse", "engine"}, ""},
		{[]string{"sh", "engine"}, ""},
		{[]string{"edi-pipeline"}, ""},
	} {
		if got := pipelineRole(c.args); got != c.want {
			t.Errorf("pipelineRole(%q) = %q, want %q", c.args, got, c.want)
		}
	}
}
