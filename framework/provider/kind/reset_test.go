package kind

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/rwxchaos/rwxchaos/fixtures/k8s"
	"github.com/rwxchaos/rwxchaos/framework/lab"
	"github.com/rwxchaos/rwxchaos/framework/scenario"
)

// resetDocker plays the node containers of a cluster for the reset steps.
type resetDocker struct {
	mu    sync.Mutex
	nodes map[string]*resetNode
	// nfsServer: the cluster's nfs-ganesha container exists.
	nfsServer bool
}

type resetNode struct {
	running, paused bool
	ip              string
	rules           []string // "filter -A INPUT ... --comment rwxchaos:run"
	nfsClient       bool     // the NFS client unit is installed, active and mounted
	// images in the node's containerd: reference → digest.
	images map[string]string
	// keepImages: ctr images rm succeeds but removes nothing.
	keepImages bool
}

func (d *resetDocker) run(_ context.Context, args ...string) (string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	node := func(name string) (*resetNode, error) {
		n := d.nodes[name]
		if n == nil {
			return nil, fmt.Errorf("Error: No such container: %s", name)
		}
		return n, nil
	}
	switch args[0] {
	case "rm":
		if strings.HasPrefix(args[len(args)-1], "rwxchaos-nfs-") {
			if !d.nfsServer {
				return "", fmt.Errorf("Error: No such container: %s", args[len(args)-1])
			}
			d.nfsServer = false
			return "", nil
		}
	case "ps":
		if d.nfsServer && strings.Contains(strings.Join(args, " "), "name=^/rwxchaos-nfs-") {
			return "0123456789ab", nil
		}
		return "", nil
	case "inspect":
		var lines []string
		for _, name := range args[3:] {
			n, err := node(name)
			if err != nil {
				return "", err
			}
			lines = append(lines, fmt.Sprintf("/%s %v %v %s ", name, n.running, n.paused, n.ip))
		}
		return strings.Join(lines, "\n"), nil
	case "start", "unpause":
		n, err := node(args[1])
		if err != nil {
			return "", err
		}
		if args[0] == "start" {
			n.running, n.rules = true, nil // a restart renews the network namespace
		} else {
			n.paused = false
		}
		return "", nil
	case "exec":
		n, err := node(args[1])
		if err != nil {
			return "", err
		}
		if !n.running || n.paused {
			return "", fmt.Errorf("container %s is not running", args[1])
		}
		script := args[4]
		switch {
		case script == nodeImagesScript:
			lines := []string{"REF TYPE DIGEST SIZE PLATFORMS LABELS"}
			for ref, d := range n.images {
				lines = append(lines, ref+" application/vnd.oci.image.manifest.v1+json "+d+" 2.1 MiB linux/amd64 io.cri-containerd.image=managed")
			}
			return strings.Join(lines, "\n"), nil
		case script == removeNodeImagesScript:
			if !n.keepImages {
				for _, ref := range args[6:] {
					delete(n.images, ref)
				}
			}
			return "", nil
		case script == stopNFSClientScript:
			n.nfsClient = false
			return "", nil
		case strings.HasPrefix(script, "test -e /etc/systemd/system/"+nfsUnit):
			if n.nfsClient {
				return "installed\nactive\nmounted:fuse.rwxchaos-nfs\n", nil
			}
			return "", nil
		}
		tag := args[6]
		var keep, found []string
		for _, r := range n.rules {
			if strings.Contains(r, tag) {
				found = append(found, r)
			} else {
				keep = append(keep, r)
			}
		}
		switch script {
		case listRules:
			return strings.Join(found, "\n"), nil
		case deleteRules:
			n.rules = keep
			return "", nil
		}
	}
	return "", fmt.Errorf("fake docker: unexpected %q", args)
}

// dirtyCluster is a shared cluster as a careless scenario leaves it.
func dirtyCluster(t *testing.T) (*SharedCluster, *resetDocker) {
	t.Helper()
	cp, w1, w2 := "c-control-plane", "c-worker", "c-worker2"
	d := &resetDocker{nodes: map[string]*resetNode{
		cp: {running: true, ip: "172.18.0.2"},
		w1: {running: true, paused: true, ip: "172.18.0.3"},
		w2: {running: true, ip: "172.18.0.4", nfsClient: true, rules: []string{
			"filter -A INPUT -s 172.18.0.2/32 -m comment --comment rwxchaos:20261130T000000Z-s1 -j DROP",
			"filter -A KUBE-SERVICES -m comment --comment \"rwxchaos-20261130t000000z-s1/webserver:http\" -j ACCEPT",
		}},
	}, nfsServer: true}
	node := func(name, ip string, ready corev1.ConditionStatus, taints ...corev1.Taint) *corev1.Node {
		return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.NodeSpec{Taints: taints},
			Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: ready}},
				Addresses: []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: ip}}}}
	}
	cpTaint := corev1.Taint{Key: "node-role.kubernetes.io/control-plane", Effect: corev1.TaintEffectNoSchedule}
	cordoned := node(w2, "172.18.0.4", corev1.ConditionTrue, corev1.Taint{Key: "chaos", Effect: corev1.TaintEffectNoExecute})
	cordoned.Spec.Unschedulable = true
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "rwxchaos-old-run", Labels: map[string]string{k8s.LabelRun: "old-run"}}}
	pv := &corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: "rwxchaos-rwxchaos-old-run", Labels: map[string]string{k8s.LabelRun: "old-run"}}}
	sys := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "coredns-1", Namespace: metav1.NamespaceSystem}, Spec: corev1.PodSpec{NodeName: w1},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}}}
	objs := []runtime.Object{node(cp, "172.18.0.2", corev1.ConditionTrue, cpTaint), node(w1, "172.18.0.3", corev1.ConditionTrue), cordoned, ns, pv, sys}
	dir := t.TempDir()
	t.Setenv(lab.EnvCache, t.TempDir())
	nfs := poolNFSDir("rwxchaos-set-test")
	for _, p := range []string{filepath.Join(dir, sharedRuns, "old-run", "botssys"), filepath.Join(dir, sharedFuse),
		filepath.Join(nfs, "export", "runs", "old-nfs-run"), filepath.Join(nfs, "journal", "rwxchaos-set-test-worker2", "old-nfs-run"), filepath.Join(nfs, "bin")} {
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	c := &SharedCluster{name: "rwxchaos-set-test", dir: dir, cs: fake.NewSimpleClientset(objs...), cp: cp, workers: []string{w1, w2},
		baseline: map[string][]corev1.Taint{cp: {cpTaint}}, docker: d.run}
	return c, d
}

// The check before a scenario names everything a previous scenario left,
// each under the step that owns it; the reset undoes all of it.
func TestResetLeavesNothing(t *testing.T) {
	c, d := dirtyCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	steps := resetSteps(nil, nil)
	left := strings.Join(leftovers(ctx, c, steps), "\n")
	for _, want := range []string{
		"node-containers: node container c-worker is paused",
		"fault-rules: node c-worker2 has iptables rule filter -A INPUT -s 172.18.0.2/32 -m comment --comment rwxchaos:",
		"taints: node c-worker2 is cordoned",
		"taints: node c-worker2 has taint chaos:NoExecute",
		"namespaces: namespace rwxchaos-old-run exists",
		"namespaces: persistent volume rwxchaos-rwxchaos-old-run exists",
		"shared-dir: " + filepath.Join(c.dir, sharedRuns, "old-run") + " is left from a run",
		"nfs: " + nfsUnit + " on c-worker2 is installed",
		"nfs: " + nfsUnit + " on c-worker2 is active",
		"nfs: " + nfsNodeMount + " on c-worker2 still has a fuse.rwxchaos-nfs mount",
		"nfs: NFS server container rwxchaos-nfs-set-test is still there",
		"nfs: " + filepath.Join(poolNFSDir("rwxchaos-set-test"), "export", "runs", "old-nfs-run") + " is left from an NFS run",
		"nfs: " + filepath.Join(poolNFSDir("rwxchaos-set-test"), "journal", "rwxchaos-set-test-worker2", "old-nfs-run") + " is left from an NFS run",
	} {
		if !strings.Contains(left, want) {
			t.Errorf("leftovers miss %q; got:\n%s", want, left)
		}
	}
	if strings.Contains(left, "webserver:http") {
		t.Errorf("kube-proxy's rules are not a fault's: %s", left)
	}
	timings, after := reset(ctx, c, steps)
	if len(after) > 0 {
		t.Errorf("after the reset: %s", strings.Join(after, "\n"))
	}
	if len(timings) != len(steps) {
		t.Errorf("%d step timings for %d steps", len(timings), len(steps))
	}
	for _, tm := range timings {
		if tm.Err != "" {
			t.Errorf("step %s: %s", tm.Step, tm.Err)
		}
	}
	if _, err := os.Stat(filepath.Join(poolNFSDir("rwxchaos-set-test"), "bin")); err != nil {
		t.Errorf("the reset removed the cluster's NFS client bin dir: %v", err)
	}
	if n := d.nodes["c-worker2"]; len(n.rules) != 1 || !strings.Contains(n.rules[0], "webserver:http") {
		t.Errorf("rules left on c-worker2: %v (kube-proxy's must stay)", n.rules)
	}
	// The control plane keeps the taint it was created with.
	cp, err := c.cs.CoreV1().Nodes().Get(ctx, "c-control-plane", metav1.GetOptions{})
	if err != nil || len(cp.Spec.Taints) != 1 {
		t.Errorf("control-plane taints after reset: %v (%v)", cp.Spec.Taints, err)
	}
}

// A node that stays NotReady is a leftover the reset cannot fix: the reset
// gives up at its deadline and the check still names the node.
func TestResetReportsWhatItCannotFix(t *testing.T) {
	c, _ := dirtyCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*ResetPoll)
	defer cancel()
	n, _ := c.cs.CoreV1().Nodes().Get(ctx, "c-worker", metav1.GetOptions{})
	n.Status.Conditions[0].Status = corev1.ConditionFalse
	if _, err := c.cs.CoreV1().Nodes().Update(ctx, n, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	_, left := reset(ctx, c, []ResetStep{stepContainers{}, stepNodes{}})
	if !strings.Contains(strings.Join(left, "\n"), "nodes: node c-worker is not Ready") {
		t.Errorf("leftovers: %v", left)
	}
}

func TestUnescapeMount(t *testing.T) {
	if got := unescapeMount(`/a\040b/c\011d\134`); got != "/a b/c\td\\" {
		t.Errorf("unescapeMount = %q", got)
	}
}

// The check before a scenario fails that scenario when the reset after the
// previous one left something, naming it; it never quietly starts over.
func TestAcquireFailsAfterAnIncompleteReset(t *testing.T) {
	s := &scenario.Scenario{Metadata: scenario.Metadata{Name: "next"}, Cluster: scenario.ClusterSpec{Provider: scenario.ProviderKind, Kind: scenario.KindCluster{Workers: 2}}}
	ctx := context.Background()
	for _, dirty := range []bool{false, true} {
		c, _ := dirtyCluster(t)
		pool := NewPool(PoolOptions{})
		pool.cur = &poolCluster{SharedCluster: *c, shape: shapeOf(s), last: "previous"}
		if dirty {
			// The reset itself saw the leftovers.
			pool.cur.dirty, pool.cur.left = "the reset after previous left: x", []string{"namespaces: namespace rwxchaos-old-run exists"}
		}
		_, err := pool.acquire(ctx, s, t.Logf)
		var le *LeftoverError
		if !errors.As(err, &le) || le.After != "previous" || !strings.Contains(err.Error(), "namespace rwxchaos-old-run exists") {
			t.Fatalf("dirty=%v: acquire = %v, want a LeftoverError naming the namespace", dirty, err)
		}
		if !pool.cur.failed || pool.cur.dirty == "" {
			t.Errorf("dirty=%v: the cluster is not marked for replacement: %+v", dirty, pool.cur)
		}
		// The pool is not left busy by a failed acquire.
		if !pool.busy.TryLock() {
			t.Fatal("acquire failed but kept the pool busy")
		}
		pool.busy.Unlock()
	}
}

// A publish/consume run leaves a consumer DaemonSet: the reset stops it
// before its pods, or the DaemonSet controller puts them back until the
// namespace controller gets to it. (The fake clientset does not carry out
// DeleteCollection, so the test reads the calls made.)
func TestStopPodsStopsPublishConsume(t *testing.T) {
	objs, err := k8s.PublishConsume(k8s.PublishInput{Namespace: "rwxchaos-pub-run", Run: "pub-run", Image: "app:lab",
		Volume: k8s.Volume{HostPath: "/shared/runs/pub-run"}, Files: 2, Size: 256, Rate: 1, Versions: 1, LoadRate: 1})
	if err != nil {
		t.Fatal(err)
	}
	ns := objs.Namespace.Name
	cs := fake.NewSimpleClientset(objs.Namespace, objs.PVC, objs.Publisher, objs.Consumer)
	if err := stopPods(context.Background(), cs, ns); err != nil {
		t.Fatal(err)
	}
	order := map[string]int{}
	for i, a := range cs.Actions() {
		if a.GetVerb() == "delete-collection" && a.GetNamespace() == ns {
			order[a.GetResource().Resource] = i + 1
		}
	}
	for _, r := range []string{"deployments", "daemonsets", "pods"} {
		if order[r] == 0 {
			t.Errorf("stopPods does not delete the run's %s (calls: %v)", r, order)
		}
	}
	if order["daemonsets"] > order["pods"] || order["deployments"] > order["pods"] {
		t.Errorf("the pods are deleted before their controllers, which replace them (calls: %v)", order)
	}
}

// A run beside the pool (backend nfs) holds the pool busy until its
// teardown hands it back: no pooled run creates a second cluster meanwhile.
func TestPoolAsideHoldsThePool(t *testing.T) {
	p := NewPool(PoolOptions{})
	s := &scenario.Scenario{}
	s.Metadata.Name, s.Storage.Backend = "nfs-run", scenario.BackendNFS
	done, err := p.aside(t.Context(), s, "backend nfs with the kernel's client", t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	if p.busy.TryLock() {
		t.Fatal("the pool is free while a run beside it goes on")
	}
	done()
	if !p.busy.TryLock() {
		t.Fatal("the pool is still busy after the run beside it ended")
	}
	p.busy.Unlock()
}
