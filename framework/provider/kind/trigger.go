package kind

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"sync"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/rwxchaos/rwxchaos/fixtures/k8s"
	"github.com/rwxchaos/rwxchaos/framework/fault"
	"github.com/rwxchaos/rwxchaos/framework/provider"
	"github.com/rwxchaos/rwxchaos/framework/scenario"
	"github.com/rwxchaos/rwxchaos/framework/support"
	"github.com/rwxchaos/rwxchaos/framework/trigger"
)

var _ provider.Triggers = (*Env)(nil)

// podCache maps pod UIDs to the workload's pods (listed again on a miss).
type podCache struct {
	mu   sync.Mutex
	byID map[string]corev1.Pod
}

// TriggerServers implements provider.Triggers: with backend fuse, the one
// file server mounted on the shared directory; the run's volume is its
// runs/<run-id> subdirectory.
func (e *Env) TriggerServers() (int, string) {
	if e.s.Storage.Backend != scenario.BackendFuse {
		return 0, ""
	}
	rel, err := filepath.Rel(e.shared, e.volume)
	if err != nil {
		rel = filepath.Join("runs", e.runID)
	}
	return 1, filepath.ToSlash(rel)
}

// Caller implements provider.Triggers: the caller's cgroup names its pod
// (kubepods/.../pod<uid>/...), the pod its node and its component label.
// A pipeline process run by another role's pod (an engine run started by
// the jobqueue) counts as the role its command line says.
func (e *Env) Caller(ctx context.Context, r *trigger.Report) (trigger.Caller, error) {
	c := trigger.Caller{Pid: r.Pid, Tid: r.Tid}
	uid := trigger.PodUID(r.Cgroup)
	if uid == "" {
		c.Desc = fmt.Sprintf("%s pid %d (not in a pod)", r.Comm, r.Pid)
		return c, nil
	}
	pod, err := e.podByUID(ctx, uid)
	if err != nil {
		return c, err
	}
	c.Pod, c.Node, c.Role = pod.Name, pod.Spec.NodeName, pod.Labels[k8s.LabelComponent]
	if len(r.Args) >= 2 && filepath.Base(r.Args[0]) == k8s.App &&
		slices.Contains([]string{k8s.ComponentWeb, k8s.ComponentEngine, k8s.ComponentJobq}, r.Args[1]) {
		c.Role = r.Args[1]
	}
	c.Desc = fmt.Sprintf("%s in pod %s on %s (pid %d)", c.Role, pod.Name, c.Node, r.Pid)
	return c, nil
}

func (e *Env) podByUID(ctx context.Context, uid string) (corev1.Pod, error) {
	e.pods.mu.Lock()
	defer e.pods.mu.Unlock()
	if p, ok := e.pods.byID[uid]; ok {
		return p, nil
	}
	if e.cs == nil {
		return corev1.Pod{}, fmt.Errorf("no cluster yet")
	}
	list, err := e.cs.CoreV1().Pods(e.ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return corev1.Pod{}, fmt.Errorf("list pods to find pod %s: %w", uid, err)
	}
	if e.pods.byID == nil {
		e.pods.byID = map[string]corev1.Pod{}
	}
	for _, p := range list.Items {
		e.pods.byID[string(p.UID)] = p
	}
	if p, ok := e.pods.byID[uid]; ok {
		return p, nil
	}
	return corev1.Pod{}, fmt.Errorf("pod %s is not in namespace %s (another namespace's pod on the volume?)", uid, e.ns)
}

// CallerFault implements provider.Triggers: process actions signal the
// caller's host pid (the FUSE server runs in the host's pid namespace), node
// actions hit its node, a partition from or to caller-node cuts its node.
func (e *Env) CallerFault(ctx context.Context, spec scenario.FaultSpec, c trigger.Caller, rng *rand.Rand) ([]fault.Fault, error) {
	switch {
	case spec.Target.Select == scenario.SelectCaller:
		switch spec.Action {
		case scenario.ActionProcessKill, scenario.ActionProcessPause:
		default:
			return nil, &support.Unsupported{Action: string(spec.Action) + " of the caller", Env: "kind", Reason: "only process-kill and process-pause act on the caller's process"}
		}
		if c.Pid <= 0 {
			return nil, fmt.Errorf("the caller of the triggering call has no pid in the host's pid namespace: nothing to signal")
		}
		return []fault.Fault{&fault.Signal{FaultName: spec.Name, Act: string(spec.Action), Desc: c.Desc, Pid: c.Pid}}, nil
	case spec.Target.Select == scenario.SelectCallerNode:
		if c.Node == "" {
			return nil, fmt.Errorf("the caller (%s) runs in no pod of this run, so it has no node to %s", c.Desc, spec.Action)
		}
		switch spec.Action {
		case scenario.ActionNodeKill, scenario.ActionNodeStop, scenario.ActionNodePause, scenario.ActionNodeReboot:
			return []fault.Fault{&nodeFaultImpl{env: e, name: spec.Name, action: spec.Action, node: c.Node}}, nil
		}
	case spec.Action == scenario.ActionPartition && (spec.From == string(scenario.SelectCallerNode) || spec.To == string(scenario.SelectCallerNode)):
		if c.Node == "" {
			return nil, fmt.Errorf("the caller (%s) runs in no pod of this run, so it has no node to partition", c.Desc)
		}
		if spec.From == string(scenario.SelectCallerNode) {
			spec.From = c.Node
		}
		if spec.To == string(scenario.SelectCallerNode) {
			spec.To = c.Node
		}
		return e.partition(ctx, spec, rng)
	}
	return e.Fault(ctx, spec, rng)
}
