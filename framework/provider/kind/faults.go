package kind

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os/exec"
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/rwxchaos/rwxchaos/fixtures/k8s"
	"github.com/rwxchaos/rwxchaos/framework/fault"
	"github.com/rwxchaos/rwxchaos/framework/history"
	"github.com/rwxchaos/rwxchaos/framework/intervals"
	"github.com/rwxchaos/rwxchaos/framework/scenario"
)

// dockerCLI runs one docker command and returns its trimmed output: the
// seam between the kind environment and its node containers (kind's own
// exec.Cmder plays this part for kind). Tests replace runDocker.
type dockerCLI interface {
	Run(ctx context.Context, args ...string) (string, error)
}

// execDocker is the real docker CLI.
type execDocker struct{}

func (execDocker) Run(ctx context.Context, args ...string) (string, error) {
	out, err := exec.CommandContext(ctx, "docker", args...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("docker %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return strings.TrimSpace(string(out)), nil
}

var runDocker dockerCLI = execDocker{}

func docker(ctx context.Context, args ...string) (string, error) { return runDocker.Run(ctx, args...) }

// nodeIP is the node container's address on kind's docker network.
func nodeIP(ctx context.Context, node string) (string, error) {
	ip, err := docker(ctx, "inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}", node)
	if err != nil {
		return "", err
	}
	f := strings.Fields(ip)
	if len(f) == 0 {
		return "", fmt.Errorf("node %s has no IP address", node)
	}
	return f[0], nil
}

type containerState struct {
	Running   bool   `json:"Running"`
	Paused    bool   `json:"Paused"`
	StartedAt string `json:"StartedAt"`
}

func inspectState(ctx context.Context, node string) (containerState, error) {
	var st containerState
	out, err := docker(ctx, "inspect", "-f", "{{json .State}}", node)
	if err != nil {
		return st, err
	}
	return st, json.Unmarshal([]byte(out), &st)
}

// nodeFaultImpl is node-kill / node-stop / node-pause / node-reboot on a kind
// node container.
type nodeFaultImpl struct {
	env     *Env
	name    string
	action  scenario.Action
	node    string
	started string // StartedAt before a reboot
}

func (f *nodeFaultImpl) Name() string   { return f.name }
func (f *nodeFaultImpl) Action() string { return string(f.action) }
func (f *nodeFaultImpl) Target() string { return f.node }

func (f *nodeFaultImpl) Inject(ctx context.Context) error {
	f.env.noteFault(f.name, f.node)
	var err error
	switch f.action {
	case scenario.ActionNodeKill:
		_, err = docker(ctx, "kill", f.node)
	case scenario.ActionNodeStop:
		_, err = docker(ctx, "stop", "-t", "10", f.node)
	case scenario.ActionNodePause:
		_, err = docker(ctx, "pause", f.node)
	case scenario.ActionNodeReboot:
		st, ierr := inspectState(ctx, f.node)
		if ierr != nil {
			return ierr
		}
		f.started = st.StartedAt
		_, err = docker(ctx, "restart", "-t", "10", f.node)
	}
	return err
}

func (f *nodeFaultImpl) Verify(ctx context.Context) error {
	st, err := inspectState(ctx, f.node)
	if err != nil {
		return err
	}
	switch f.action {
	case scenario.ActionNodePause:
		if !st.Paused {
			return errors.New("node container not paused")
		}
	case scenario.ActionNodeReboot:
		if st.StartedAt == f.started {
			return errors.New("node container not restarted yet")
		}
	default:
		if st.Running {
			return errors.New("node container still running")
		}
	}
	return nil
}

func (f *nodeFaultImpl) Heal(ctx context.Context) error {
	switch f.action {
	case scenario.ActionNodePause:
		st, err := inspectState(ctx, f.node)
		if err == nil && !st.Paused {
			return nil
		}
		_, err = docker(ctx, "unpause", f.node)
		return err
	case scenario.ActionNodeKill, scenario.ActionNodeStop:
		st, err := inspectState(ctx, f.node)
		if err == nil && st.Running {
			return nil
		}
		_, err = docker(ctx, "start", f.node)
		return err
	}
	return nil
}

// VerifyHealed waits for the node to be Ready again in the API.
func (f *nodeFaultImpl) VerifyHealed(ctx context.Context) error {
	st, err := inspectState(ctx, f.node)
	if err != nil {
		return err
	}
	if !st.Running || st.Paused {
		return errors.New("node container not running")
	}
	n, err := f.env.cs.CoreV1().Nodes().Get(ctx, f.node, metav1.GetOptions{})
	if err != nil {
		return err
	}
	if !nodeReady(n) {
		return fmt.Errorf("node %s not Ready yet", f.node)
	}
	// On NFS with the userspace client the node is whole again once its
	// client serves (systemd starts it before the kubelet after a restart).
	if f.env.nfs != nil && slices.Contains(f.env.nfs.workers, f.node) {
		if err := clientMounted(ctx, f.node); err != nil {
			return err
		}
	}
	return nil
}

func (f *nodeFaultImpl) Undo() *fault.Undo {
	switch f.action {
	case scenario.ActionNodePause:
		return &fault.Undo{Kind: "docker", Args: []string{"unpause", f.node}}
	case scenario.ActionNodeKill, scenario.ActionNodeStop:
		return &fault.Undo{Kind: "docker", Args: []string{"start", f.node}}
	}
	return nil
}

// resolveNodes turns a target selector into node names.
func (e *Env) resolveNodes(ctx context.Context, t scenario.TargetSpec, rng *rand.Rand) ([]string, error) {
	count := max(t.Count, 1)
	switch {
	case t.Node != "":
		n, err := nodeByRef(t.Node, e.cpNode, e.workers)
		if err != nil {
			return nil, err
		}
		return []string{n}, nil
	case t.Select == scenario.SelectRandomWorker:
		ws := slices.Clone(e.workers)
		rng.Shuffle(len(ws), func(i, j int) { ws[i], ws[j] = ws[j], ws[i] })
		return ws[:min(count, len(ws))], nil
	case t.Select == scenario.SelectEngineNode, t.Select == scenario.SelectLockHolder:
		n, err := e.engineNode(ctx, t.Select == scenario.SelectLockHolder)
		if err != nil {
			return nil, err
		}
		return []string{n}, nil
	case t.Select == scenario.SelectRandomWebserver:
		return e.podNodes(ctx, k8s.ComponentWeb, rng, count)
	case t.Select == scenario.SelectPublisherNode:
		return e.podNodes(ctx, k8s.ComponentPublisher, nil, 1)
	case t.Select == scenario.SelectConsumerNode:
		return e.consumerNodes(ctx, rng, count)
	case t.Role != "":
		return e.podNodes(ctx, string(t.Role), rng, count)
	}
	return nil, fmt.Errorf("target %+v selects no node", t)
}

// engineNode is the node of the engine lock's live holder; failing that
// (lockHolder false), the node of the jobqueue pod, which runs engine jobs.
func (e *Env) engineNode(ctx context.Context, lockHolder bool) (string, error) {
	if e.ext != nil {
		if lockHolder {
			return e.ext.holderNode(ctx)
		}
		return e.ext.engineNode(ctx)
	}
	iv := intervals.Get(intervals.EngineNode)
	var node string
	err := iv.Until(ctx, func(ctx context.Context) (bool, error) {
		if l, err := history.ReadLease(e.volume); err == nil && !l.Released && !l.Stale(e.o.Clock()) && l.Node != "" {
			node = l.Node
			return true, nil
		}
		if !lockHolder {
			if ns, err := e.podNodes(ctx, k8s.ComponentJobq, nil, 1); err == nil && len(ns) > 0 {
				node = ns[0]
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		what := "nobody held the engine lock"
		if !lockHolder {
			what += " and no jobqueue pod was running"
		}
		return "", fmt.Errorf("%s for %s: no engine node to target", what, iv.Timeout)
	}
	return node, nil
}

// podNodes returns the nodes of Running pods of a component.
func (e *Env) podNodes(ctx context.Context, component string, rng *rand.Rand, count int) ([]string, error) {
	sel := k8s.LabelComponent + "=" + component
	if e.ext != nil {
		var err error
		if sel, err = e.ext.selector(component); err != nil {
			return nil, err
		}
	}
	pods, err := e.cs.CoreV1().Pods(e.ns).List(ctx, metav1.ListOptions{LabelSelector: sel})
	if err != nil {
		return nil, err
	}
	var nodes []string
	for _, p := range pods.Items {
		if p.Status.Phase == "Running" && p.DeletionTimestamp == nil && !slices.Contains(nodes, p.Spec.NodeName) {
			nodes = append(nodes, p.Spec.NodeName)
		}
	}
	if len(nodes) == 0 {
		return nil, fmt.Errorf("no running %s pod", component)
	}
	if rng != nil {
		rng.Shuffle(len(nodes), func(i, j int) { nodes[i], nodes[j] = nodes[j], nodes[i] })
	}
	return nodes[:min(count, len(nodes))], nil
}

// partition drops packets between a node and its peers with iptables rules
// inside the node container, tagged with the run id.
func (e *Env) partition(ctx context.Context, spec scenario.FaultSpec, rng *rand.Rand) ([]fault.Fault, error) {
	if spec.From == "storage" || spec.To == "storage" {
		return e.partitionStorage(ctx, spec, rng)
	}
	from := spec.From
	if from == "" {
		ns, err := e.resolveNodes(ctx, spec.Target, rng)
		if err != nil {
			return nil, err
		}
		from = ns[0]
	} else if n, err := e.endpointNode(ctx, from, rng); err != nil {
		return nil, err
	} else {
		from = n
	}
	var peers []string
	switch spec.To {
	case "control-plane":
		peers = []string{e.cpNode}
	case "nodes":
		for _, n := range append([]string{e.cpNode}, e.workers...) {
			if n != from {
				peers = append(peers, n)
			}
		}
	default:
		n, err := e.endpointNode(ctx, spec.To, rng)
		if err != nil {
			return nil, err
		}
		peers = []string{n}
	}
	var ips []string
	for _, p := range peers {
		ip, err := nodeIP(ctx, p)
		if err != nil {
			return nil, err
		}
		ips = append(ips, ip)
	}
	var rules [][]string
	for _, ip := range ips {
		if spec.Direction != scenario.DirectionEgress {
			rules = append(rules, []string{"INPUT", "-s", ip, "-j", "DROP"})
		}
		if spec.Direction != scenario.DirectionIngress {
			rules = append(rules, []string{"OUTPUT", "-d", ip, "-j", "DROP"})
		}
	}
	tag := "rwxchaos:" + e.runID
	for i := range rules {
		rules[i] = append(rules[i], "-m", "comment", "--comment", tag)
	}
	return []fault.Fault{&partitionFault{env: e, name: spec.Name, node: from, peers: peers, rules: rules, tag: tag, toCP: spec.To == "control-plane"}}, nil
}

// partitionStorage cuts nodes off the NFS server: the other side of the
// partition (a node, a selector, or "nodes" for every worker) gets the cut,
// in the direction seen from the from side.
func (e *Env) partitionStorage(ctx context.Context, spec scenario.FaultSpec, rng *rand.Rand) ([]fault.Fault, error) {
	if e.nfs == nil {
		return nil, fmt.Errorf("partition with storage: backend %s has no storage server on the network (use backend nfs, or storage-cutoff with backend fuse)", e.s.Storage.Backend)
	}
	side, dir := spec.To, spec.Direction
	if spec.To == "storage" {
		side = spec.From
	} else {
		// from is the storage: its ingress is the nodes' egress.
		switch dir {
		case scenario.DirectionIngress:
			dir = scenario.DirectionEgress
		case scenario.DirectionEgress:
			dir = scenario.DirectionIngress
		}
	}
	var nodes []string
	switch side {
	case "storage":
		return nil, errors.New("partition from storage to storage cuts nothing")
	case "control-plane":
		return nil, errors.New("the control plane has no NFS client: cut workers (nodes, a node name or a selector) off the storage")
	case "nodes":
		nodes = append(nodes, e.workers...)
	default:
		n, err := e.endpointNode(ctx, side, rng)
		if err != nil {
			return nil, err
		}
		nodes = []string{n}
	}
	return e.storageCuts(ctx, spec, nodes, dir)
}

// endpointNode resolves a partition endpoint (a node name or a selector).
func (e *Env) endpointNode(ctx context.Context, s string, rng *rand.Rand) (string, error) {
	if s == "control-plane" {
		return e.cpNode, nil
	}
	t := scenario.TargetSpec{Node: s}
	switch scenario.Selector(s) {
	case scenario.SelectEngineNode, scenario.SelectLockHolder, scenario.SelectRandomWorker, scenario.SelectRandomWebserver,
		scenario.SelectPublisherNode, scenario.SelectConsumerNode:
		t = scenario.TargetSpec{Select: scenario.Selector(s)}
	default:
		if e.isRole(s) {
			t = scenario.TargetSpec{Role: scenario.Role(s)} // the node running a pod of that role
		}
	}
	ns, err := e.resolveNodes(ctx, t, rng)
	if err != nil {
		return "", err
	}
	return ns[0], nil
}

type partitionFault struct {
	env   *Env
	name  string
	node  string
	peers []string
	rules [][]string
	tag   string
	toCP  bool
}

func (f *partitionFault) Name() string   { return f.name }
func (f *partitionFault) Action() string { return string(scenario.ActionPartition) }
func (f *partitionFault) Target() string { return f.node + " ⟂ " + strings.Join(f.peers, ",") }

func (f *partitionFault) Inject(ctx context.Context) error {
	f.env.noteFault(f.name, f.node)
	for _, r := range f.rules {
		if _, err := docker(ctx, append([]string{"exec", f.node, "iptables", "-I"}, r...)...); err != nil {
			return err
		}
	}
	return nil
}

func (f *partitionFault) count(ctx context.Context) (int, error) {
	out, err := docker(ctx, "exec", f.node, "iptables", "-S")
	if err != nil {
		return 0, err
	}
	return strings.Count(out, f.tag), nil
}

// Verify: every rule is in place and, for control-plane partitions, the API
// server really is unreachable from the node.
func (f *partitionFault) Verify(ctx context.Context) error {
	n, err := f.count(ctx)
	if err != nil {
		return err
	}
	if n < len(f.rules) {
		return fmt.Errorf("%d of %d partition rules in place", n, len(f.rules))
	}
	if f.toCP {
		ip, err := nodeIP(ctx, f.env.cpNode)
		if err != nil {
			return err
		}
		if _, err := docker(ctx, "exec", f.node, "timeout", "2", "bash", "-c", "exec 3<>/dev/tcp/"+ip+"/6443"); err == nil {
			return errors.New("the API server is still reachable from the node")
		}
	}
	return nil
}

func (f *partitionFault) Heal(ctx context.Context) error {
	var errs []error
	for _, r := range f.rules {
		if _, err := docker(ctx, append([]string{"exec", f.node, "iptables", "-D"}, r...)...); err != nil && !strings.Contains(err.Error(), "does a matching rule exist") {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (f *partitionFault) VerifyHealed(ctx context.Context) error {
	n, err := f.count(ctx)
	if err != nil {
		return err
	}
	if n > 0 {
		return fmt.Errorf("%d partition rules still in place", n)
	}
	node, err := f.env.cs.CoreV1().Nodes().Get(ctx, f.node, metav1.GetOptions{})
	if err != nil {
		return err
	}
	if !nodeReady(node) {
		return fmt.Errorf("node %s not Ready yet", f.node)
	}
	return nil
}

// Undo removes every rule carrying this run's tag, by listing them.
func (f *partitionFault) Undo() *fault.Undo {
	script := fmt.Sprintf(`iptables -S | grep -F -- %q | sed 's/^-A/-D/' | while read -r r; do eval iptables "$r"; done`, f.tag)
	return &fault.Undo{Kind: "docker", Args: []string{"exec", f.node, "sh", "-c", script}}
}

// isRole reports whether name is a role of the workload (the pipeline's
// components, or the external app's selectors) rather than a node.
func (e *Env) isRole(name string) bool {
	if e.ext != nil {
		return len(e.ext.x.Selectors[name]) > 0
	}
	return slices.Contains([]string{k8s.ComponentWeb, k8s.ComponentEngine, k8s.ComponentJobq}, name)
}

// waitRunning waits (up to 5 minutes) until a pod of the role runs:
// schedule.whileRunning.
func (e *Env) waitRunning(ctx context.Context, role string) error {
	var last error
	iv := intervals.Get(intervals.RoleRunning)
	err := iv.Until(ctx, func(ctx context.Context) (bool, error) {
		ns, err := e.podNodes(ctx, role, nil, 1)
		last = err
		return err == nil && len(ns) > 0, nil
	})
	if err != nil {
		return fmt.Errorf("schedule.whileRunning: no %s pod ran within %s (last: %v; RWXCHAOS_INTERVALS=%s=... waits longer)", role, iv.Timeout, last, intervals.RoleRunning)
	}
	return nil
}
