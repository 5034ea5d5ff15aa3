package kind

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"

	"github.com/rwxchaos/rwxchaos/fixtures/k8s"
)

// A shared cluster runs one scenario after another. Between two scenarios
// it is reset: a list of steps, each putting one aspect of the cluster back
// the way a new cluster has it (Reset) and saying what is still not so
// (Leftovers). Before every scenario the Leftovers of every step are
// checked again; anything found fails that scenario, naming the step, and
// the cluster is recreated for the next one. Storage backends with state
// of their own on the nodes (mounts, iptables chains) add a step with
// RegisterResetStep.

// ResetPoll is how often a reset step looks again while it waits for the
// cluster (nodes Ready, namespaces gone, system pods Ready).
const ResetPoll = time.Second

// DefaultResetTimeout bounds one whole reset.
const DefaultResetTimeout = 4 * time.Minute

// FaultRuleTag starts the comment of every iptables rule a fault adds
// (followed by the run id); the reset deletes every rule carrying it.
// Rules meant to outlive a run must not use it.
const FaultRuleTag = "rwxchaos:"

// ResetStep puts one aspect of a shared cluster back as a new cluster has
// it. Reset must be idempotent and cheap when there is nothing to do;
// Leftovers lists what is not as on a new cluster, one readable line each.
type ResetStep interface {
	Name() string
	Reset(ctx context.Context, c *SharedCluster) error
	Leftovers(ctx context.Context, c *SharedCluster) ([]string, error)
}

var (
	registeredMu    sync.Mutex
	registeredSteps []ResetStep
)

// RegisterResetStep adds a step to every pool's reset, after the built-in
// steps that restore nodes and delete the runs' namespaces and before the
// sweep of the shared directory (for example a storage backend's per-node
// mounts or iptables chains).
func RegisterResetStep(s ResetStep) {
	registeredMu.Lock()
	defer registeredMu.Unlock()
	registeredSteps = append(registeredSteps, s)
}

// SharedCluster is what reset steps see of a pool's cluster.
type SharedCluster struct {
	name       string
	dir        string
	kubeconfig string
	cs         kubernetes.Interface
	cp         string
	workers    []string
	// baseline: every node's taints when the cluster was new.
	baseline map[string][]corev1.Taint
	// docker runs the docker CLI (faked in tests).
	docker func(ctx context.Context, args ...string) (string, error)
	// log receives progress lines (nil: none).
	log func(string, ...any)
}

func (c *SharedCluster) logf(format string, args ...any) {
	if c.log != nil {
		c.log(format, args...)
	}
}

// Name is the kind cluster name.
func (c *SharedCluster) Name() string { return c.name }

// Nodes are the node container names, control plane first.
func (c *SharedCluster) Nodes() []string { return append([]string{c.cp}, c.workers...) }

// Client is a Kubernetes client of the cluster.
func (c *SharedCluster) Client() kubernetes.Interface { return c.cs }

// Dir is the host directory shared into every node at the same path.
func (c *SharedCluster) Dir() string { return c.dir }

// Docker runs the docker CLI and returns its trimmed output.
func (c *SharedCluster) Docker(ctx context.Context, args ...string) (string, error) {
	return c.docker(ctx, args...)
}

// Exec runs a shell script inside a node container (args are $1, $2, ...).
func (c *SharedCluster) Exec(ctx context.Context, node, script string, args ...string) (string, error) {
	return c.docker(ctx, append([]string{"exec", node, "sh", "-c", script, "sh"}, args...)...)
}

// builtinSteps are the reset steps every shared cluster gets, in order;
// run-scoped and registered steps go between namespaces and volumes.
func builtinSteps() (before, after []ResetStep) {
	return []ResetStep{stepContainers{}, stepFaultRules{}, stepNodes{}, stepTaints{}, stepNamespaces{}},
		[]ResetStep{stepNFS{}, stepVolumes{}, stepSystem{}}
}

// resetSteps is the full ordered list for one reset.
func resetSteps(run []ResetStep, extra []ResetStep) []ResetStep {
	before, after := builtinSteps()
	registeredMu.Lock()
	reg := slices.Clone(registeredSteps)
	registeredMu.Unlock()
	out := append(slices.Clone(before), run...)
	out = append(out, reg...)
	out = append(out, extra...)
	return append(out, after...)
}

// StepTiming is how long one step of a reset took.
type StepTiming struct {
	Step string
	Took time.Duration
	Err  string
}

// reset runs every step's Reset, then collects every step's Leftovers. A
// step that fails does not stop the others: the leftovers say what is left.
func reset(ctx context.Context, c *SharedCluster, steps []ResetStep) ([]StepTiming, []string) {
	var (
		timings []StepTiming
		left    []string
	)
	for _, s := range steps {
		start := time.Now()
		err := s.Reset(ctx, c)
		t := StepTiming{Step: s.Name(), Took: time.Since(start)}
		if err != nil {
			t.Err = err.Error()
		}
		timings = append(timings, t)
	}
	left = leftovers(ctx, c, steps)
	for _, t := range timings {
		if t.Err != "" && len(left) == 0 {
			// The step failed yet nothing is left: say so, it may fail later.
			left = append(left, fmt.Sprintf("%s: reset failed although nothing is left over: %s", t.Step, t.Err))
		}
	}
	return timings, left
}

// leftovers asks every step what is not as on a new cluster.
func leftovers(ctx context.Context, c *SharedCluster, steps []ResetStep) []string {
	var out []string
	for _, s := range steps {
		l, err := s.Leftovers(ctx, c)
		if err != nil {
			out = append(out, fmt.Sprintf("%s: cannot check: %v", s.Name(), err))
			continue
		}
		for _, x := range l {
			out = append(out, s.Name()+": "+x)
		}
	}
	return out
}

// pollUntil waits for cond with ResetPoll, up to ctx's deadline; on timeout
// the error carries cond's last complaint.
func pollUntil(ctx context.Context, what string, cond func(context.Context) (string, error)) error {
	var last string
	err := wait.PollUntilContextCancel(ctx, ResetPoll, true, func(ctx context.Context) (bool, error) {
		why, err := cond(ctx)
		if err != nil {
			last = err.Error()
			return false, nil
		}
		last = why
		return why == "", nil
	})
	if err != nil {
		return fmt.Errorf("%s: %w (last: %s)", what, err, last)
	}
	return nil
}

// ---- node containers: running, not paused ----

type stepContainers struct{}

func (stepContainers) Name() string { return "node-containers" }

type nodeState struct {
	name            string
	running, paused bool
	ip              string
}

func containerStates(ctx context.Context, c *SharedCluster) ([]nodeState, error) {
	out, err := c.docker(ctx, append([]string{"inspect", "-f",
		"{{.Name}} {{.State.Running}} {{.State.Paused}} {{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}"}, c.Nodes()...)...)
	if err != nil {
		return nil, err
	}
	var st []nodeState
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) < 3 {
			continue
		}
		s := nodeState{name: strings.TrimPrefix(f[0], "/"), running: f[1] == "true", paused: f[2] == "true"}
		if len(f) > 3 {
			s.ip = f[3]
		}
		st = append(st, s)
	}
	if len(st) != len(c.Nodes()) {
		return st, fmt.Errorf("docker inspect described %d of %d node containers", len(st), len(c.Nodes()))
	}
	return st, nil
}

func (stepContainers) Reset(ctx context.Context, c *SharedCluster) error {
	st, err := containerStates(ctx, c)
	if err != nil {
		return err
	}
	var errs []error
	for _, s := range st {
		switch {
		case s.paused:
			_, err = c.docker(ctx, "unpause", s.name)
		case !s.running:
			_, err = c.docker(ctx, "start", s.name)
		default:
			continue
		}
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func (stepContainers) Leftovers(ctx context.Context, c *SharedCluster) ([]string, error) {
	st, err := containerStates(ctx, c)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, s := range st {
		switch {
		case s.paused:
			out = append(out, "node container "+s.name+" is paused")
		case !s.running:
			out = append(out, "node container "+s.name+" is not running")
		}
	}
	return out, nil
}

// ---- iptables rules of faults ----

type stepFaultRules struct{}

func (stepFaultRules) Name() string { return "fault-rules" }

// listRules prints "<table> <rule>" for every rule carrying the tag.
const listRules = `for t in filter nat mangle raw; do iptables -t "$t" -S 2>/dev/null | grep -F -- "$1" | sed "s/^/$t /"; done; true`

// deleteRules deletes every rule carrying the tag, in every table.
const deleteRules = `for t in filter nat mangle raw; do iptables -t "$t" -S 2>/dev/null | grep -F -- "$1" | sed 's/^-A /-D /' | while read -r r; do eval iptables -t "$t" "$r" || exit 1; done || exit 1; done`

func (stepFaultRules) Reset(ctx context.Context, c *SharedCluster) error {
	var errs []error
	for _, n := range runningNodes(ctx, c) {
		if _, err := c.Exec(ctx, n, deleteRules, FaultRuleTag); err != nil {
			errs = append(errs, fmt.Errorf("node %s: %w", n, err))
		}
	}
	return errors.Join(errs...)
}

func (stepFaultRules) Leftovers(ctx context.Context, c *SharedCluster) ([]string, error) {
	var out []string
	for _, n := range runningNodes(ctx, c) {
		rules, err := c.Exec(ctx, n, listRules, FaultRuleTag)
		if err != nil {
			return nil, fmt.Errorf("node %s: %w", n, err)
		}
		for _, r := range strings.Split(rules, "\n") {
			if r = strings.TrimSpace(r); r != "" {
				out = append(out, fmt.Sprintf("node %s has iptables rule %s", n, r))
			}
		}
	}
	return out, nil
}

// runningNodes are the nodes one can exec into (a stopped node has no
// rules: they live in its network namespace, which a restart renews).
func runningNodes(ctx context.Context, c *SharedCluster) []string {
	st, err := containerStates(ctx, c)
	if err != nil {
		return c.Nodes()
	}
	var out []string
	for _, s := range st {
		if s.running && !s.paused {
			out = append(out, s.name)
		}
	}
	return out
}

// ---- nodes: Ready, addressed where their containers are ----

type stepNodes struct{}

func (stepNodes) Name() string { return "nodes" }

func (stepNodes) Reset(ctx context.Context, c *SharedCluster) error {
	return pollUntil(ctx, "nodes Ready", func(ctx context.Context) (string, error) {
		l, err := stepNodes{}.Leftovers(ctx, c)
		return strings.Join(l, "; "), err
	})
}

func (stepNodes) Leftovers(ctx context.Context, c *SharedCluster) ([]string, error) {
	nodes, err := c.cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	st, err := containerStates(ctx, c)
	if err != nil {
		return nil, err
	}
	ips := map[string]string{}
	for _, s := range st {
		ips[s.name] = s.ip
	}
	var out []string
	seen := map[string]bool{}
	for i := range nodes.Items {
		n := &nodes.Items[i]
		seen[n.Name] = true
		if !nodeReady(n) {
			out = append(out, "node "+n.Name+" is not Ready")
		}
		for _, a := range n.Status.Addresses {
			if a.Type == corev1.NodeInternalIP && ips[n.Name] != "" && a.Address != ips[n.Name] {
				out = append(out, fmt.Sprintf("node %s reports address %s but its container has %s (it came back with a new address: recreate the cluster)", n.Name, a.Address, ips[n.Name]))
			}
		}
	}
	for _, n := range c.Nodes() {
		if !seen[n] {
			out = append(out, "node "+n+" is not registered in the API")
		}
	}
	return out, nil
}

// ---- taints and cordons ----

type stepTaints struct{}

func (stepTaints) Name() string { return "taints" }

// lifecycleTaint: taints the node controller adds and removes itself.
func lifecycleTaint(t corev1.Taint) bool { return strings.HasPrefix(t.Key, "node.kubernetes.io/") }

func extraTaints(c *SharedCluster, n *corev1.Node) []corev1.Taint {
	var out []corev1.Taint
	for _, t := range n.Spec.Taints {
		if !slices.ContainsFunc(c.baseline[n.Name], func(b corev1.Taint) bool { return b.Key == t.Key && b.Effect == t.Effect }) {
			out = append(out, t)
		}
	}
	return out
}

func (stepTaints) Reset(ctx context.Context, c *SharedCluster) error {
	nodes, err := c.cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	var errs []error
	for i := range nodes.Items {
		n := &nodes.Items[i]
		extra := extraTaints(c, n)
		var keep []corev1.Taint
		changed := n.Spec.Unschedulable
		for _, t := range n.Spec.Taints {
			if slices.Contains(extra, t) && !lifecycleTaint(t) {
				changed = true
				continue
			}
			keep = append(keep, t)
		}
		if !changed {
			continue
		}
		n.Spec.Taints, n.Spec.Unschedulable = keep, false
		if _, err := c.cs.CoreV1().Nodes().Update(ctx, n, metav1.UpdateOptions{}); err != nil {
			errs = append(errs, fmt.Errorf("untaint node %s: %w", n.Name, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	// Lifecycle taints (not-ready, unreachable) go once the node controller
	// sees the node Ready again.
	return pollUntil(ctx, "node taints back to a new cluster's", func(ctx context.Context) (string, error) {
		l, err := stepTaints{}.Leftovers(ctx, c)
		return strings.Join(l, "; "), err
	})
}

func (stepTaints) Leftovers(ctx context.Context, c *SharedCluster) ([]string, error) {
	nodes, err := c.cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	var out []string
	for i := range nodes.Items {
		n := &nodes.Items[i]
		if n.Spec.Unschedulable {
			out = append(out, "node "+n.Name+" is cordoned")
		}
		for _, t := range extraTaints(c, n) {
			out = append(out, fmt.Sprintf("node %s has taint %s:%s", n.Name, t.Key, t.Effect))
		}
	}
	return out, nil
}

// ---- namespaces and volumes of runs ----

type stepNamespaces struct{}

func (stepNamespaces) Name() string { return "namespaces" }

var runSelector = metav1.ListOptions{LabelSelector: k8s.LabelRun}

// podGrace is how long a finished run's pods get to stop: the evidence is
// collected, and the pipeline stops on SIGTERM at once.
const podGrace = int64(1)

func (stepNamespaces) Reset(ctx context.Context, c *SharedCluster) error {
	nss, err := c.cs.CoreV1().Namespaces().List(ctx, runSelector)
	if err != nil {
		return err
	}
	var errs []error
	bg := metav1.DeletePropagationBackground
	for _, ns := range nss.Items {
		if ns.DeletionTimestamp == nil {
			errs = append(errs, stopPods(ctx, c.cs, ns.Name))
		}
		if err := c.cs.CoreV1().Namespaces().Delete(ctx, ns.Name, metav1.DeleteOptions{PropagationPolicy: &bg}); err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, err)
		}
	}
	pvs, err := c.cs.CoreV1().PersistentVolumes().List(ctx, runSelector)
	if err != nil {
		return errors.Join(append(errs, err)...)
	}
	for _, pv := range pvs.Items {
		if pv.DeletionTimestamp != nil {
			continue
		}
		if err := c.cs.CoreV1().PersistentVolumes().Delete(ctx, pv.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	start, podsGone := time.Now(), time.Duration(0)
	err = pollUntil(ctx, "the runs' namespaces and volumes deleted", func(ctx context.Context) (string, error) {
		if podsGone == 0 {
			if n, err := runPods(ctx, c.cs, nss.Items); err == nil && n == 0 {
				podsGone = time.Since(start)
			}
		}
		l, err := stepNamespaces{}.Leftovers(ctx, c)
		return strings.Join(l, "; "), err
	})
	if len(nss.Items) > 0 {
		c.logf("kind pool: runs' pods and volumes gone in %s (pods after %s)", time.Since(start).Round(10*time.Millisecond), podsGone.Round(10*time.Millisecond))
	}
	return err
}

func runPods(ctx context.Context, cs kubernetes.Interface, nss []corev1.Namespace) (int, error) {
	n := 0
	for _, ns := range nss {
		pods, err := cs.CoreV1().Pods(ns.Name).List(ctx, metav1.ListOptions{})
		if err != nil {
			return 0, err
		}
		n += len(pods.Items)
	}
	return n, nil
}

// stopPods deletes a run's workload controllers (orphaning their pods, so
// that nothing replaces them), then its pods with a short grace period and
// its volume claim. Deleting the namespace alone takes 10-20 s: the
// namespace controller looks at it 5 s after the deletion and then waits
// out the pods' declared grace period before it looks again.
func stopPods(ctx context.Context, cs kubernetes.Interface, ns string) error {
	orphan := metav1.DeletePropagationOrphan
	del := metav1.DeleteOptions{PropagationPolicy: &orphan}
	all := metav1.ListOptions{}
	errs := []error{
		cs.BatchV1().CronJobs(ns).DeleteCollection(ctx, del, all),
		cs.AppsV1().Deployments(ns).DeleteCollection(ctx, del, all),
		cs.AppsV1().ReplicaSets(ns).DeleteCollection(ctx, del, all),
		// The publish/consume workload's consumers; an external app's too.
		cs.AppsV1().DaemonSets(ns).DeleteCollection(ctx, del, all),
		cs.AppsV1().StatefulSets(ns).DeleteCollection(ctx, del, all),
		cs.BatchV1().Jobs(ns).DeleteCollection(ctx, del, all),
	}
	grace := podGrace
	errs = append(errs, cs.CoreV1().Pods(ns).DeleteCollection(ctx, metav1.DeleteOptions{GracePeriodSeconds: &grace}, all),
		// The claim goes once no pod uses it, and with it the volume's
		// protection: the PV can then be deleted without waiting for the
		// namespace controller.
		cs.CoreV1().PersistentVolumeClaims(ns).DeleteCollection(ctx, metav1.DeleteOptions{}, all))
	var out []error
	for _, err := range errs {
		if err != nil && !apierrors.IsNotFound(err) {
			out = append(out, fmt.Errorf("stop the pods of %s: %w", ns, err))
		}
	}
	return errors.Join(out...)
}

// MaxNamespaceTermination is how long a run's namespace may stay
// Terminating once its pods and volume are gone: Kubernetes' namespace
// controller only looks at a deleted namespace after 5 s and takes a few
// more to finish, which the next scenario need not wait for.
const MaxNamespaceTermination = 2 * time.Minute

func (stepNamespaces) Leftovers(ctx context.Context, c *SharedCluster) ([]string, error) {
	var out []string
	nss, err := c.cs.CoreV1().Namespaces().List(ctx, runSelector)
	if err != nil {
		return nil, err
	}
	for _, ns := range nss.Items {
		if ns.DeletionTimestamp == nil {
			out = append(out, "namespace "+ns.Name+" exists")
			continue
		}
		pods, err := c.cs.CoreV1().Pods(ns.Name).List(ctx, metav1.ListOptions{})
		if err != nil {
			return nil, err
		}
		pvcs, err := c.cs.CoreV1().PersistentVolumeClaims(ns.Name).List(ctx, metav1.ListOptions{})
		if err != nil {
			return nil, err
		}
		switch {
		case len(pods.Items) > 0:
			out = append(out, "namespace "+ns.Name+" is terminating with pods left"+stuckPods(ctx, c.cs, ns.Name))
		case len(pvcs.Items) > 0:
			out = append(out, fmt.Sprintf("namespace %s is terminating with %d volume claims left", ns.Name, len(pvcs.Items)))
		case time.Since(ns.DeletionTimestamp.Time) > MaxNamespaceTermination:
			out = append(out, fmt.Sprintf("namespace %s has been terminating for %s", ns.Name, time.Since(ns.DeletionTimestamp.Time).Round(time.Second)))
		}
	}
	pvs, err := c.cs.CoreV1().PersistentVolumes().List(ctx, runSelector)
	if err != nil {
		return nil, err
	}
	for _, pv := range pvs.Items {
		out = append(out, "persistent volume "+pv.Name+" exists")
	}
	return out, nil
}

func stuckPods(ctx context.Context, cs kubernetes.Interface, ns string) string {
	pods, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
	if err != nil || len(pods.Items) == 0 {
		return ""
	}
	var names []string
	for _, p := range pods.Items {
		names = append(names, p.Name+" on "+p.Spec.NodeName)
	}
	return " (pods: " + strings.Join(names, ", ") + ")"
}

// stepVolumes sweeps the shared directory: no mount below it, no run's
// volume left in it.
type stepVolumes struct{}

func (stepVolumes) Name() string { return "shared-dir" }

// Layout of the shared directory of a pool's cluster.
const (
	sharedRuns = "runs" // runs/<run-id>: hostpath volumes
	sharedFuse = "fuse" // fuse/<run-id>: mountpoints of fuse volumes
	// t/<hash>.sock: runs' trigger sockets relayed for the nodes (short:
	// a unix socket's path has at most 107 bytes).
	sharedTriggers = "t"
)

func (stepVolumes) Reset(_ context.Context, c *SharedCluster) error {
	var errs []error
	mounts, err := mountsBelow(c.dir)
	if err != nil {
		return err
	}
	for _, m := range mounts {
		if err := syscall.Unmount(m, syscall.MNT_DETACH); err != nil && !errors.Is(err, syscall.EINVAL) && !errors.Is(err, syscall.ENOENT) {
			errs = append(errs, fmt.Errorf("unmount %s: %w", m, err))
		}
	}
	for _, sub := range []string{sharedRuns, sharedFuse, sharedTriggers} {
		ents, _ := os.ReadDir(filepath.Join(c.dir, sub))
		for _, e := range ents {
			if err := os.RemoveAll(filepath.Join(c.dir, sub, e.Name())); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

func (stepVolumes) Leftovers(_ context.Context, c *SharedCluster) ([]string, error) {
	var out []string
	mounts, err := mountsBelow(c.dir)
	if err != nil {
		return nil, err
	}
	for _, m := range mounts {
		out = append(out, "mount "+m+" is still there")
	}
	ents, err := os.ReadDir(c.dir)
	if err != nil {
		return nil, err
	}
	for _, e := range ents {
		if e.Name() == sharedRuns || e.Name() == sharedFuse || e.Name() == sharedTriggers {
			sub, _ := os.ReadDir(filepath.Join(c.dir, e.Name()))
			for _, s := range sub {
				out = append(out, filepath.Join(c.dir, e.Name(), s.Name())+" is left from a run")
			}
			continue
		}
		out = append(out, filepath.Join(c.dir, e.Name())+" is not part of a new cluster's shared directory")
	}
	return out, nil
}

// mountsBelow lists the host's mount points strictly below dir, deepest
// first (so they can be detached in order).
func mountsBelow(dir string) ([]string, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 5 {
			continue
		}
		mp := unescapeMount(fields[4])
		if strings.HasPrefix(mp, dir+"/") && !slices.Contains(out, mp) {
			out = append(out, mp)
		}
	}
	sort.Slice(out, func(i, j int) bool { return len(out[i]) > len(out[j]) })
	return out, sc.Err()
}

// unescapeMount undoes mountinfo's octal escapes (\040 for a space, ...).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// ---- the cluster's own pods ----

// stepSystem: the cluster's own pods (kube-system: DNS, kube-proxy, the
// CNI agent) are Ready and none is stuck terminating: the cluster is healthy.
type stepSystem struct{}

func (stepSystem) Name() string { return "system-pods" }

func (stepSystem) Reset(ctx context.Context, c *SharedCluster) error {
	return pollUntil(ctx, "kube-system pods Ready", func(ctx context.Context) (string, error) {
		l, err := stepSystem{}.Leftovers(ctx, c)
		return strings.Join(l, "; "), err
	})
}

func (stepSystem) Leftovers(ctx context.Context, c *SharedCluster) ([]string, error) {
	pods, err := c.cs.CoreV1().Pods(metav1.NamespaceSystem).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	var out []string
	for i := range pods.Items {
		p := &pods.Items[i]
		switch {
		case p.DeletionTimestamp != nil:
			out = append(out, fmt.Sprintf("pod kube-system/%s on %s is terminating", p.Name, p.Spec.NodeName))
		case p.Status.Phase == corev1.PodSucceeded:
		case !podReady(p):
			out = append(out, fmt.Sprintf("pod kube-system/%s on %s is not Ready (%s)", p.Name, p.Spec.NodeName, p.Status.Phase))
		}
	}
	dss, err := c.cs.AppsV1().DaemonSets(metav1.NamespaceSystem).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	for _, ds := range dss.Items {
		if ds.Status.NumberReady < ds.Status.DesiredNumberScheduled {
			out = append(out, fmt.Sprintf("daemonset kube-system/%s has %d of %d pods Ready", ds.Name, ds.Status.NumberReady, ds.Status.DesiredNumberScheduled))
		}
	}
	return out, nil
}

// funcStep is a run-scoped reset step built from functions.
type funcStep struct {
	name  string
	reset func(context.Context) error
	left  func() []string
}

func (s funcStep) Name() string { return s.name }

func (s funcStep) Reset(ctx context.Context, _ *SharedCluster) error { return s.reset(ctx) }

func (s funcStep) Leftovers(context.Context, *SharedCluster) ([]string, error) {
	if s.left == nil {
		return nil, nil
	}
	return s.left(), nil
}
