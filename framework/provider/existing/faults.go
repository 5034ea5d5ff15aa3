package existing

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/rwxchaos/rwxchaos/fixtures/k8s"
	"github.com/rwxchaos/rwxchaos/framework/chaosmesh"
	"github.com/rwxchaos/rwxchaos/framework/fault"
	"github.com/rwxchaos/rwxchaos/framework/scenario"
	"github.com/rwxchaos/rwxchaos/framework/support"
)

// roleLabels are the pod labels of a role: the pipeline's own (with this
// run's label) or the external app's selectors.
func (e *Env) roleLabels(r scenario.Role) (map[string]string, error) {
	if e.external() {
		m := e.s.Workload.External.Selectors.Of(r)
		if len(m) == 0 {
			return nil, fmt.Errorf("no pod selector for role %s: set workload.external.selectors.%s", r, r)
		}
		return maps.Clone(m), nil
	}
	switch r {
	case scenario.RoleWebserver, scenario.RoleEngine, scenario.RoleJobqueue:
		return map[string]string{k8s.LabelApp: k8s.App, k8s.LabelComponent: string(r), k8s.LabelRun: e.runID}, nil
	}
	return nil, fmt.Errorf("unknown role %q", r)
}

// target resolves a fault target to pods of the workload namespace. With
// select random-webserver it picks Running webservers with the run's seed
// (in dry run, it leaves the choice to Chaos Mesh: one of the selector).
func (e *Env) target(ctx context.Context, t scenario.TargetSpec, rng *rand.Rand, dry bool) (chaosmesh.Target, error) {
	count := t.Count
	switch {
	case t.Role != "":
		l, err := e.roleLabels(t.Role)
		if err != nil {
			return chaosmesh.Target{}, err
		}
		return chaosmesh.Target{Namespace: e.ns, Labels: l, Count: count}, nil
	case t.Select == scenario.SelectRandomWebserver:
		l, err := e.roleLabels(scenario.RoleWebserver)
		if err != nil {
			return chaosmesh.Target{}, err
		}
		if dry {
			return chaosmesh.Target{Namespace: e.ns, Labels: l, Count: max(count, 1)}, nil
		}
		pods, err := e.runningPods(ctx, l)
		if err != nil {
			return chaosmesh.Target{}, err
		}
		if len(pods) == 0 {
			return chaosmesh.Target{}, fmt.Errorf("no Running webserver pod in %s matches %v", e.ns, l)
		}
		rng.Shuffle(len(pods), func(i, j int) { pods[i], pods[j] = pods[j], pods[i] })
		return chaosmesh.Target{Namespace: e.ns, Pods: pods[:min(max(count, 1), len(pods))]}, nil
	}
	return chaosmesh.Target{}, &support.Unsupported{Action: "target " + string(t.Select) + t.Node, Env: "existing",
		Reason: "Chaos Mesh faults target pods: use target.role or select random-webserver"}
}

func (e *Env) runningPods(ctx context.Context, l map[string]string) ([]string, error) {
	pods, err := e.cs.CoreV1().Pods(e.ns).List(ctx, metav1.ListOptions{LabelSelector: labels.SelectorFromSet(l).String()})
	if err != nil {
		return nil, fmt.Errorf("list pods in %s: %s%s", e.ns, redact(err.Error()), rbacHint(err))
	}
	var names []string
	for _, p := range pods.Items {
		if p.Status.Phase == corev1.PodRunning && p.DeletionTimestamp == nil {
			names = append(names, p.Name)
		}
	}
	slices.Sort(names)
	return names, nil
}

func chaosKind(a scenario.Action) string {
	switch a {
	case scenario.ActionChaosPartition:
		return "NetworkChaos"
	case scenario.ActionChaosPodKill, scenario.ActionChaosPodFailure:
		return "PodChaos"
	case scenario.ActionChaosIOLatency, scenario.ActionChaosIOFault:
		return "IOChaos"
	}
	return ""
}

// buildChaos turns a scenario fault into its Chaos Mesh object. Outside a
// dry run it first checks the cluster can inject that kind.
func (e *Env) buildChaos(ctx context.Context, f scenario.FaultSpec, rng *rand.Rand, dry bool) (chaosmesh.Object, chaosmesh.Target, error) {
	kind := chaosKind(f.Action)
	if kind == "" {
		return nil, chaosmesh.Target{}, &support.Unsupported{Action: string(f.Action), Env: "existing",
			Reason: "provider existing injects faults only through Chaos Mesh: use chaos-pod-kill, chaos-pod-failure, chaos-partition, chaos-io-latency or chaos-io-fault"}
	}
	if err := e.allowed(e.ns); err != nil {
		return nil, chaosmesh.Target{}, err
	}
	if !dry {
		if err := chaosmesh.Check(ctx, e.cc, kind, e.ns, e.o.Daemon); err != nil {
			return nil, chaosmesh.Target{}, err
		}
	}
	t, err := e.target(ctx, f.Target, rng, dry)
	if err != nil {
		return nil, chaosmesh.Target{}, err
	}
	e.mu.Lock()
	e.seq[f.Name]++
	meta := chaosmesh.Meta{Namespace: e.ns, RunID: e.runID, Fault: f.Name, Seq: e.seq[f.Name]}
	e.mu.Unlock()
	d := f.Duration.D()
	var obj chaosmesh.Object
	switch f.Action {
	case scenario.ActionChaosPartition:
		peer, perr := e.roleLabels(scenario.Role(f.To))
		if perr != nil {
			return nil, t, fmt.Errorf("chaos-partition to %q: %w", f.To, perr)
		}
		obj, err = chaosmesh.NetworkPartition(chaosmesh.Partition{Meta: meta, From: t,
			To: chaosmesh.Target{Namespace: e.ns, Labels: peer}, Direction: chaosmesh.Direction(f.Direction), Duration: d})
	case scenario.ActionChaosPodKill:
		obj, err = chaosmesh.PodKill(meta, t, 0)
	case scenario.ActionChaosPodFailure:
		obj, err = chaosmesh.PodFailure(meta, t, d)
	case scenario.ActionChaosIOLatency, scenario.ActionChaosIOFault:
		mp := k8s.MountPath
		if e.external() {
			mp = e.s.Workload.External.MountPath
		}
		io := chaosmesh.IO{Meta: meta, Target: t, VolumePath: mp, Percent: f.Percent, Duration: d}
		if f.Action == scenario.ActionChaosIOLatency {
			obj, err = chaosmesh.IOLatency(io, f.Latency.D())
		} else {
			obj, err = chaosmesh.IOFault(io, f.Errno)
		}
	}
	return obj, t, err
}

// Fault resolves a scenario fault into one Chaos Mesh object.
func (e *Env) Fault(ctx context.Context, spec scenario.FaultSpec, rng *rand.Rand) ([]fault.Fault, error) {
	if e.cc == nil {
		return nil, errors.New("existing: Fault before Provision")
	}
	obj, t, err := e.buildChaos(ctx, spec, rng, false)
	if err != nil {
		return nil, err
	}
	cf := chaosmesh.NewFault(e.cc, obj, chaosmesh.Options{Action: string(spec.Action), Name: spec.Name, Target: t.String(),
		Logf: e.o.Logf, Now: e.o.Clock, Kubeconfig: e.cl.kubeconfig, Context: e.cl.context})
	role := spec.Target.Role
	if spec.Target.Select == scenario.SelectRandomWebserver {
		role = scenario.RoleWebserver
	}
	if role == "" {
		return []fault.Fault{cf}, nil
	}
	w := &wholeAgain{Fault: cf, e: e, role: role}
	if e.external() && role != scenario.RoleEngine {
		// An external app's Deployments are unknown: count its Ready pods
		// of the role now, and want as many back after the fault.
		if w.labels, err = e.roleLabels(role); err == nil {
			w.ready, _ = e.readyPods(ctx, w.labels)
		}
	}
	return []fault.Fault{w}, nil
}

func (e *Env) readyPods(ctx context.Context, l map[string]string) (int, error) {
	pods, err := e.cs.CoreV1().Pods(e.ns).List(ctx, metav1.ListOptions{LabelSelector: labels.SelectorFromSet(l).String()})
	if err != nil {
		return 0, err
	}
	n := 0
	for _, p := range pods.Items {
		if p.DeletionTimestamp != nil {
			continue
		}
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
				n++
			}
		}
	}
	return n, nil
}

// wholeAgain adds to VerifyHealed: the pipeline's Deployment of the hit
// role has all its replicas available again (a killed or failed pod
// replaced), or for an external app as many of the role's pods are Ready as
// before the fault, so readyWithin measures the service, not just Chaos Mesh.
type wholeAgain struct {
	*chaosmesh.Fault
	e    *Env
	role scenario.Role
	// external app: its Ready pods of the role before the fault.
	labels map[string]string
	ready  int
}

func (w *wholeAgain) VerifyHealed(ctx context.Context) error {
	if err := w.Fault.VerifyHealed(ctx); err != nil {
		return err
	}
	if w.labels != nil {
		n, err := w.e.readyPods(ctx, w.labels)
		if err != nil {
			return err
		}
		if n < w.ready {
			return fmt.Errorf("%d of the %d Ready %s pods before the fault are Ready again", n, w.ready, w.role)
		}
		return nil
	}
	if w.e.objs == nil {
		return nil
	}
	var want int32
	var name string
	switch w.role {
	case scenario.RoleWebserver:
		name, want = w.e.objs.Webserver.Name, *w.e.objs.Webserver.Spec.Replicas
	case scenario.RoleJobqueue:
		if w.e.objs.Jobqueue == nil {
			return nil
		}
		name, want = w.e.objs.Jobqueue.Name, 1
	default:
		return nil // the engine is a CronJob: its next run is a new pod
	}
	d, err := w.e.cs.AppsV1().Deployments(w.e.ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return err
	}
	if d.Status.AvailableReplicas < want || d.Status.UpdatedReplicas < want {
		return fmt.Errorf("deployment %s: %d of %d replicas available again", name, d.Status.AvailableReplicas, want)
	}
	return nil
}
