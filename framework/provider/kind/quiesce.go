package kind

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/rwxchaos/rwxchaos/fixtures/k8s"
	"github.com/rwxchaos/rwxchaos/framework/history"
	"github.com/rwxchaos/rwxchaos/framework/intervals"
)

// Quiesce implements provider.Quiescer for the pipeline workload: the
// engine CronJob is suspended and the jobqueue scaled to 0 (SIGTERM: its
// running engine ends after the file in hand and releases the lock), and it
// waits until no engine or jobqueue pod is left on a Ready node. Collection
// then reads journals, a lease and a volume that no engine changes between
// its reads. A pod on a node that is not Ready cannot end: it is named.
// Publish/consume and external apps are collected as they run.
func (e *Env) Quiesce(ctx context.Context) (string, error) {
	if e.cs == nil || e.ext != nil || e.pubs != nil {
		return "", nil
	}
	var did []string
	cj := e.cs.BatchV1().CronJobs(e.ns)
	_, err := cj.Patch(ctx, "engine", types.MergePatchType, []byte(`{"spec":{"suspend":true}}`), metav1.PatchOptions{})
	switch {
	case err == nil:
		did = append(did, "engine CronJob suspended")
	case !apierrors.IsNotFound(err):
		return "", fmt.Errorf("suspend the engine CronJob: %w", err)
	}
	_, err = e.cs.AppsV1().Deployments(e.ns).Patch(ctx, "jobqueue", types.MergePatchType, []byte(`{"spec":{"replicas":0}}`), metav1.PatchOptions{})
	switch {
	case err == nil:
		did = append(did, "jobqueue scaled to 0")
	case !apierrors.IsNotFound(err):
		return strings.Join(did, ", "), fmt.Errorf("scale the jobqueue to 0: %w", err)
	}
	sel := metav1.ListOptions{LabelSelector: fmt.Sprintf("%s in (%s,%s)", k8s.LabelComponent, k8s.ComponentEngine, k8s.ComponentJobq)}
	var left, unready []string
	werr := intervals.Get(intervals.Quiesce).Until(ctx, func(ctx context.Context) (bool, error) {
		pods, err := e.cs.CoreV1().Pods(e.ns).List(ctx, sel)
		if err != nil {
			return false, nil // a passing API hiccup: look again
		}
		left, unready = runningOn(pods.Items, e.readyNode)
		if e.obs != nil {
			// Gone for the watch too: collection counts what the watch
			// still sees Terminating as stuck.
			for _, p := range e.obs.terminatingOnReady() {
				if !slices.Contains(left, p) {
					left = append(left, p)
				}
			}
		}
		return len(left) == 0, nil
	})
	if werr != nil {
		return strings.Join(did, ", "), fmt.Errorf("engine runners still running on Ready nodes: %s (%w)", strings.Join(left, ", "), werr)
	}
	did = append(did, "no engine or jobqueue pod running")
	if len(unready) > 0 {
		did = append(did, "except on nodes not Ready: "+strings.Join(unready, ", "))
	}
	did = append(did, leaseState(e.volume))
	return strings.Join(did, ", "), nil
}

// readyNode says whether the watch last saw node Ready (true when nothing
// watches: then every node counts).
func (e *Env) readyNode(node string) bool {
	return e.obs == nil || e.obs.ready(node)
}

// runningOn splits the pods that have not ended into those on Ready nodes
// and those elsewhere (unscheduled pods count as left: they could still
// start). Ended is Succeeded or Failed and not being deleted: a deleted
// pod (the jobqueue's, scaled to 0) is left until it is gone, even when
// its container has exited, or the run would end with it Terminating (CI19).
func runningOn(pods []corev1.Pod, ready func(string) bool) (left, unready []string) {
	for _, p := range pods {
		if p.DeletionTimestamp == nil && (p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed) {
			continue
		}
		if n := p.Spec.NodeName; n != "" && !ready(n) {
			unready = append(unready, p.Name+" on "+n)
			continue
		}
		left = append(left, p.Name+" on "+cmp.Or(p.Spec.NodeName, "no node yet"))
	}
	sort.Strings(left)
	sort.Strings(unready)
	return left, unready
}

// leaseState says what the volume's lease file holds after the quiesce.
func leaseState(root string) string {
	l, err := history.ReadLease(root)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "no engine ever took the lock"
	case err != nil:
		return err.Error()
	case l.Released:
		return fmt.Sprintf("lease epoch %d released", l.Epoch)
	}
	return fmt.Sprintf("lease epoch %d still held by %s on %s (not released)", l.Epoch, l.Holder, l.Node)
}
