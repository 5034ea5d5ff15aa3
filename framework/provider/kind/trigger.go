package kind

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/rwxchaos/rwxchaos/fixtures/k8s"
	"github.com/rwxchaos/rwxchaos/framework/fault"
	"github.com/rwxchaos/rwxchaos/framework/provider"
	"github.com/rwxchaos/rwxchaos/framework/scenario"
	"github.com/rwxchaos/rwxchaos/framework/selfexec"
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
// file server mounted on the shared directory; with backend nfs and the
// userspace client, the client in every worker, which mounts the export's
// root. Either way the run's volume is the runs/<run-id> subdirectory.
func (e *Env) TriggerServers() (int, string) {
	if e.nfs != nil {
		if e.nfs.trigger == "" {
			return 0, "" // the kernel client: no hook
		}
		return len(e.nfs.workers), "runs/" + e.runID
	}
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
//
// The go-fuse server of backend fuse runs on the host and reports host
// pids. The userspace NFS client runs inside a node and reports pids of
// the node's pid namespace: they are translated to the host's, which the
// runner signals and watches (a caller whose host pid is not found keeps
// pid 0: faults on the caller's process then refuse to run, faults on its
// node do not need it).
func (e *Env) Caller(ctx context.Context, r *trigger.Report) (trigger.Caller, error) {
	c := trigger.Caller{Pid: r.Pid, Tid: r.Tid}
	if e.nfs != nil {
		c.Pid, c.Tid = 0, 0
	}
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
	if e.ext != nil {
		c.Role = e.ext.roleOf(&pod) // an external app's roles are its selectors'
	}
	if role := pipelineRole(r.Args); role != "" {
		c.Role = role
	}
	c.Desc = fmt.Sprintf("%s in pod %s on %s (pid %d)", c.Role, pod.Name, c.Node, r.Pid)
	if e.nfs != nil {
		c.Desc = fmt.Sprintf("%s in pod %s on %s (pid %d in the node)", c.Role, pod.Name, c.Node, r.Pid)
		if id, level, err := nodeNS(ctx, c.Node); err == nil {
			if pid, tid, err := trigger.HostPid("/proc", id, level, r.Pid, r.Tid); err == nil {
				c.Pid, c.Tid = pid, tid
				c.Desc = fmt.Sprintf("%s in pod %s on %s (pid %d, %d in the node)", c.Role, pod.Name, c.Node, pid, r.Pid)
			}
		}
	}
	return c, nil
}

// nodeNS returns a node container's id and the level of its pid namespace
// as the host sees it (the length of its init's NSpid line minus one: 1
// when the runner runs in the host's namespace).
func nodeNS(ctx context.Context, node string) (id string, level int, err error) {
	out, err := docker(ctx, "inspect", "-f", "{{.Id}} {{.State.Pid}}", node)
	if err != nil {
		return "", 0, err
	}
	f := strings.Fields(out)
	if len(f) != 2 || f[1] == "0" {
		return "", 0, fmt.Errorf("node %s is not running (%q)", node, out)
	}
	ns, err := trigger.NSpid("/proc", f[1])
	if err != nil {
		return "", 0, err
	}
	return f[0], len(ns) - 1, nil
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
			return nil, fmt.Errorf("the caller of the triggering call (%s) has no pid in the host's pid namespace: nothing to signal", c.Desc)
		}
		return []fault.Fault{&fault.Signal{FaultName: spec.Name, Act: string(spec.Action), Desc: c.Desc, Pid: c.Pid}}, nil
	case spec.Target.Select == scenario.SelectCallerNode:
		if c.Node == "" {
			return nil, fmt.Errorf("the caller (%s) runs in no pod of this run, so it has no node to %s", c.Desc, spec.Action)
		}
		switch spec.Action {
		case scenario.ActionNodeKill, scenario.ActionNodeStop, scenario.ActionNodePause, scenario.ActionNodeReboot:
			return []fault.Fault{&nodeFaultImpl{env: e, name: spec.Name, action: spec.Action, node: c.Node}}, nil
		case scenario.ActionStorageCutoff:
			if err := scenario.ActionSupport(e.Name(), spec.Action, e.s.Storage.Backend); err != nil {
				return nil, err
			}
			return e.storageCuts(ctx, spec, []string{c.Node}, scenario.DirectionBoth)
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

// pipelineRole is the pipeline component a command line runs: `edi-pipeline
// engine ...`, or `<this binary> __pipeline engine ...` (the image assembled
// from this binary, selfexec: any name); "" for anything else.
func pipelineRole(args []string) string {
	if len(args) >= 3 && args[1] == selfexec.Pipeline.Subcommand() {
		args = args[1:]
	} else if len(args) < 2 || filepath.Base(args[0]) != k8s.App {
		return ""
	}
	if slices.Contains([]string{k8s.ComponentWeb, k8s.ComponentEngine, k8s.ComponentJobq}, args[1]) {
		return args[1]
	}
	return ""
}
