package appdeploy

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
)

// WaitOptions say what "ready" means and how long to wait for it.
type WaitOptions struct {
	// Timeout for the whole wait; required.
	Timeout time.Duration
	// Poll interval; default 1s.
	Poll time.Duration
	// CronJobs (names) to wait for until each has a Job whose pod runs or
	// ran (the app's engine has started at least once).
	CronJobs []string
	// Since is when the app was applied: Ready times are measured from it.
	Since time.Time
	// Now is the run's clock; time.Now when nil.
	Now func() time.Time
}

// Readiness is when each part of the app was first seen ready.
type Readiness struct {
	// Ready maps Kind/name to the time from Since until it was first seen
	// ready.
	Ready map[string]time.Duration
	// All is the time from Since until everything was ready.
	All time.Duration
}

// Summary is one line: the slowest parts first.
func (r *Readiness) Summary() string {
	type kv struct {
		k string
		d time.Duration
	}
	var l []kv
	for k, d := range r.Ready {
		l = append(l, kv{k, d})
	}
	sort.Slice(l, func(i, j int) bool { return l[i].d > l[j].d || (l[i].d == l[j].d && l[i].k < l[j].k) })
	parts := make([]string, len(l))
	for i, x := range l {
		parts[i] = fmt.Sprintf("%s %s", x.k, x.d.Round(100*time.Millisecond))
	}
	return fmt.Sprintf("all ready %s after apply (%s)", r.All.Round(100*time.Millisecond), strings.Join(parts, ", "))
}

// WaitReady polls until every claim of the plan is bound, every
// Deployment, StatefulSet and DaemonSet is available with all its replicas
// updated, every Job of the manifests has succeeded and every CronJob
// named in CronJobs has run. A Job that failed ends the wait at once. On
// timeout the error names what is not ready and how its pods are doing.
func WaitReady(ctx context.Context, cs kubernetes.Interface, p *Plan, o WaitOptions) (*Readiness, error) {
	if o.Timeout <= 0 {
		return nil, errors.New("appdeploy.WaitReady: WaitOptions.Timeout is required")
	}
	for _, c := range o.CronJobs {
		found := false
		for _, obj := range p.Objects {
			found = found || (obj.GetKind() == "CronJob" && obj.GetName() == c)
		}
		if !found {
			return nil, fmt.Errorf("no CronJob %q in the manifests to wait for (workload.external.ready.cronJobs)", c)
		}
	}
	if o.Poll <= 0 {
		o.Poll = time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Since.IsZero() {
		o.Since = o.Now()
	}
	ns := p.Namespace
	r := &Readiness{Ready: map[string]time.Duration{}}
	var pending []string
	var fatal error
	check := func(ctx context.Context) (bool, error) {
		pending = pending[:0]
		mark := func(what string, ok bool, why string) {
			if !ok {
				pending = append(pending, what+": "+why)
				return
			}
			if _, seen := r.Ready[what]; !seen {
				r.Ready[what] = o.Now().Sub(o.Since)
			}
		}
		for _, c := range p.Claims {
			pvc, err := cs.CoreV1().PersistentVolumeClaims(ns).Get(ctx, c, metav1.GetOptions{})
			switch {
			case err != nil:
				mark("PersistentVolumeClaim/"+c, false, err.Error())
			default:
				mark("PersistentVolumeClaim/"+c, pvc.Status.Phase == corev1.ClaimBound, string(pvc.Status.Phase))
			}
		}
		for _, obj := range p.Objects {
			name := obj.GetName()
			what := obj.GetKind() + "/" + name
			switch obj.GetKind() {
			case "Deployment":
				d, err := cs.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
				if err != nil {
					mark(what, false, err.Error())
					continue
				}
				want := int32(1)
				if d.Spec.Replicas != nil {
					want = *d.Spec.Replicas
				}
				st := d.Status
				mark(what, st.ObservedGeneration >= d.Generation && st.UpdatedReplicas >= want && st.AvailableReplicas >= want,
					fmt.Sprintf("%d/%d available, %d updated", st.AvailableReplicas, want, st.UpdatedReplicas))
			case "StatefulSet":
				s, err := cs.AppsV1().StatefulSets(ns).Get(ctx, name, metav1.GetOptions{})
				if err != nil {
					mark(what, false, err.Error())
					continue
				}
				want := int32(1)
				if s.Spec.Replicas != nil {
					want = *s.Spec.Replicas
				}
				mark(what, s.Status.ObservedGeneration >= s.Generation && s.Status.ReadyReplicas >= want,
					fmt.Sprintf("%d/%d ready", s.Status.ReadyReplicas, want))
			case "DaemonSet":
				d, err := cs.AppsV1().DaemonSets(ns).Get(ctx, name, metav1.GetOptions{})
				if err != nil {
					mark(what, false, err.Error())
					continue
				}
				st := d.Status
				mark(what, st.DesiredNumberScheduled > 0 && st.NumberAvailable >= st.DesiredNumberScheduled,
					fmt.Sprintf("%d/%d available", st.NumberAvailable, st.DesiredNumberScheduled))
			case "Job":
				j, err := cs.BatchV1().Jobs(ns).Get(ctx, name, metav1.GetOptions{})
				if err != nil {
					mark(what, false, err.Error())
					continue
				}
				if failed(j) {
					fatal = fmt.Errorf("the manifests' Job %s failed (%d failed pods): the app did not start; see its pods' logs", name, j.Status.Failed)
					return false, fatal
				}
				mark(what, j.Status.Succeeded > 0, fmt.Sprintf("%d active, %d succeeded", j.Status.Active, j.Status.Succeeded))
			case "CronJob":
				if !slices.Contains(o.CronJobs, name) {
					continue
				}
				ok, why, err := cronJobRan(ctx, cs, ns, name)
				if err != nil {
					mark(what, false, err.Error())
					continue
				}
				mark(what, ok, why)
			}
		}
		if len(pending) == 0 {
			r.All = o.Now().Sub(o.Since)
			return true, nil
		}
		return false, nil
	}
	err := wait.PollUntilContextTimeout(ctx, o.Poll, o.Timeout, true, check)
	if fatal != nil {
		return r, fatal
	}
	if err != nil {
		return r, fmt.Errorf("the app is not ready %s after apply: %s; pods: %s (raise workload.external.ready.timeout if it is only slow)",
			o.Timeout, strings.Join(pending, "; "), DescribePods(cs, ns))
	}
	return r, nil
}

func failed(j *batchv1.Job) bool {
	for _, c := range j.Status.Conditions {
		if c.Type == batchv1.JobFailed && c.Status == corev1.ConditionTrue {
			return true
		}
	}
	return false
}

// cronJobRan: a Job of the CronJob has a pod that runs or ran.
func cronJobRan(ctx context.Context, cs kubernetes.Interface, ns, name string) (bool, string, error) {
	cj, err := cs.BatchV1().CronJobs(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return false, "", err
	}
	if cj.Spec.Suspend != nil && *cj.Spec.Suspend {
		return false, "suspended: it never runs (unsuspend it, or drop ready.cronJobs)", nil
	}
	jobs, err := cs.BatchV1().Jobs(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return false, "", err
	}
	for _, j := range jobs.Items {
		owned := false
		for _, ref := range j.OwnerReferences {
			owned = owned || (ref.Kind == "CronJob" && ref.Name == name)
		}
		if owned && (j.Status.Active > 0 || j.Status.Succeeded > 0 || j.Status.Failed > 0) {
			return true, "", nil
		}
	}
	if cj.Status.LastScheduleTime == nil {
		return false, fmt.Sprintf("not scheduled yet (schedule %q)", cj.Spec.Schedule), nil
	}
	return false, "scheduled, its Job has no pod running yet", nil
}

// DescribePods summarises the pods of a namespace and the last warning
// event, for errors.
func DescribePods(cs kubernetes.Interface, ns string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	pods, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return err.Error()
	}
	var parts []string
	for _, p := range pods.Items {
		node := p.Spec.NodeName
		if node == "" {
			node = "no node"
		}
		s := fmt.Sprintf("%s on %s %s", p.Name, node, p.Status.Phase)
		for _, c := range append(p.Status.InitContainerStatuses, p.Status.ContainerStatuses...) {
			if w := c.State.Waiting; w != nil {
				s += fmt.Sprintf(" (%s %s: %s)", c.Name, w.Reason, w.Message)
			}
			if t := c.LastTerminationState.Terminated; t != nil {
				s += fmt.Sprintf(" (%s last exit %d %s)", c.Name, t.ExitCode, t.Reason)
			}
		}
		parts = append(parts, s)
	}
	if len(parts) == 0 {
		parts = append(parts, "none")
	}
	evs, err := cs.CoreV1().Events(ns).List(ctx, metav1.ListOptions{FieldSelector: "type=Warning"})
	if err == nil && len(evs.Items) > 0 {
		e := evs.Items[len(evs.Items)-1]
		parts = append(parts, fmt.Sprintf("last warning: %s %s/%s: %s", e.Reason, e.InvolvedObject.Kind, e.InvolvedObject.Name, e.Message))
	}
	return strings.Join(parts, "; ")
}
