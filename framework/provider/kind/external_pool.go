package kind

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/rwxchaos/rwxchaos/fixtures/k8s"
)

// An external app on a pool's cluster (see asideReason for when it may):
// the run creates the app's namespace (labelled for the run) and the
// PersistentVolumes it binds (labelled too), which the reset's namespaces
// step deletes and checks like any run's; its side claims' directories
// are in the run's part of the shared dir (or its fuse server's), which the
// shared-dir (or fuse-server) step removes. What is the app's alone has a
// reset step of the run's own: its namespace must be gone, not merely
// terminating (the next external run may use the same name), and the
// images the run loaded into the nodes are removed, so the next scenario
// sees the nodes' images as a new cluster has them (plus the pool's app
// image).

// nodeImagesScript lists the images of a node's containerd, in the
// namespace the kubelet uses.
const nodeImagesScript = `ctr --namespace=k8s.io images ls`

// removeNodeImagesScript removes the images named by its arguments.
const removeNodeImagesScript = `ctr --namespace=k8s.io images rm "$@" >/dev/null`

// nodeImages are every node's images: reference → digest.
func nodeImages(ctx context.Context, c *SharedCluster) (map[string]map[string]string, error) {
	out := map[string]map[string]string{}
	for _, n := range c.Nodes() {
		list, err := c.Exec(ctx, n, nodeImagesScript)
		if err != nil {
			return nil, fmt.Errorf("list the images of node %s: %w", n, err)
		}
		out[n] = parseImages(list)
	}
	return out, nil
}

// parseImages reads `ctr images ls`: REF TYPE DIGEST SIZE ... per line.
func parseImages(list string) map[string]string {
	out := map[string]string{}
	for _, line := range strings.Split(list, "\n") {
		f := strings.Fields(line)
		if len(f) < 3 || f[0] == "REF" {
			continue
		}
		out[f[0]] = f[2]
	}
	return out
}

// imageChanges compares a node's images with what it held before the run:
// the references it did not have (added), and those that now name another
// image (replaced: ref → "was <digest>, now <digest>").
func imageChanges(before, now map[string]string) (added []string, replaced map[string]string) {
	replaced = map[string]string{}
	for ref, d := range now {
		old, had := before[ref]
		switch {
		case !had:
			added = append(added, ref)
		case old != d:
			replaced[ref] = fmt.Sprintf("was %s, now %s", old, d)
		}
	}
	sort.Strings(added)
	return added, replaced
}

// provisionPooled readies the app on the pool's cluster: its namespace
// must not exist yet (the run creates it, labelled, so the reset deletes
// it), the images every node holds are noted (the reset removes what the
// run adds), then the images are loaded as on a cluster of its own.
func (x *external) provisionPooled(ctx context.Context, pc *poolCluster) error {
	ns, err := x.e.cs.CoreV1().Namespaces().Get(ctx, x.e.ns, metav1.GetOptions{})
	switch {
	case err == nil:
		return fmt.Errorf("namespace %s already exists on the pool's cluster %s (%s): the app must go into a namespace the run creates, which the reset deletes; remove it, or give the scenario fresh: true",
			x.e.ns, pc.name, namespaceState(ns.Labels[k8s.LabelRun], ns.DeletionTimestamp != nil))
	case !apierrors.IsNotFound(err):
		return fmt.Errorf("look for namespace %s on the pool's cluster: %w", x.e.ns, err)
	}
	if x.imagesBefore, err = nodeImages(ctx, &pc.SharedCluster); err != nil {
		return err
	}
	return x.provision(ctx)
}

func namespaceState(run string, terminating bool) string {
	s := "not created by a run"
	if run != "" {
		s = "created by run " + run
	}
	if terminating {
		s += ", terminating"
	}
	return s
}

// resetStep undoes what is the app's alone on the pool's cluster (see
// above); the reset runs it after the namespaces step.
func (x *external) resetStep() ResetStep { return externalStep{x: x} }

type externalStep struct{ x *external }

func (externalStep) Name() string { return "external-app" }

func (s externalStep) Reset(ctx context.Context, c *SharedCluster) error {
	x := s.x
	var errs []error
	if x.imagesBefore != nil {
		now, err := nodeImages(ctx, c)
		if err != nil {
			errs = append(errs, err)
		}
		for _, n := range slices.Sorted(maps.Keys(now)) {
			added, _ := imageChanges(x.imagesBefore[n], now[n])
			if len(added) == 0 {
				continue
			}
			if _, err := c.Exec(ctx, n, removeNodeImagesScript, added...); err != nil {
				errs = append(errs, fmt.Errorf("remove the run's images from node %s: %w", n, err))
			}
		}
	}
	// The namespaces step deleted the namespace and waited for its pods
	// and claims; the next external run may want the same name, so wait
	// until the namespace controller has removed it.
	ns, err := c.cs.CoreV1().Namespaces().Get(ctx, x.e.ns, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
	case err != nil:
		errs = append(errs, err)
	case ns.Labels[k8s.LabelRun] != x.e.runID:
		// Not this run's: the leftover check names it.
	default:
		if ns.DeletionTimestamp == nil {
			bg := metav1.DeletePropagationBackground
			if err := c.cs.CoreV1().Namespaces().Delete(ctx, ns.Name, metav1.DeleteOptions{PropagationPolicy: &bg}); err != nil && !apierrors.IsNotFound(err) {
				errs = append(errs, err)
			}
		}
		errs = append(errs, pollUntil(ctx, "the app's namespace "+ns.Name+" deleted", func(ctx context.Context) (string, error) {
			_, err := c.cs.CoreV1().Namespaces().Get(ctx, ns.Name, metav1.GetOptions{})
			switch {
			case apierrors.IsNotFound(err):
				return "", nil
			case err != nil:
				return "", err
			}
			return "namespace " + ns.Name + " is still terminating", nil
		}))
	}
	return errors.Join(errs...)
}

func (s externalStep) Leftovers(ctx context.Context, c *SharedCluster) ([]string, error) {
	x := s.x
	var out []string
	ns, err := c.cs.CoreV1().Namespaces().Get(ctx, x.e.ns, metav1.GetOptions{})
	switch {
	case err == nil:
		out = append(out, fmt.Sprintf("namespace %s of the app still exists (%s)", ns.Name, namespaceState(ns.Labels[k8s.LabelRun], ns.DeletionTimestamp != nil)))
	case !apierrors.IsNotFound(err):
		return nil, err
	}
	if x.imagesBefore == nil {
		return out, nil
	}
	now, err := nodeImages(ctx, c)
	if err != nil {
		return nil, err
	}
	for _, n := range slices.Sorted(maps.Keys(now)) {
		added, replaced := imageChanges(x.imagesBefore[n], now[n])
		for _, ref := range added {
			out = append(out, fmt.Sprintf("node %s still holds image %s, loaded by the run", n, ref))
		}
		for _, ref := range slices.Sorted(maps.Keys(replaced)) {
			out = append(out, fmt.Sprintf("node %s's image %s was replaced by the run's (%s): only a new cluster has the original", n, ref, replaced[ref]))
		}
	}
	return out, nil
}
