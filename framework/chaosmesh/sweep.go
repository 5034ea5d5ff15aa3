package chaosmesh

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/chaos-mesh/chaos-mesh/api/v1alpha1"
	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/rwxchaos/rwxchaos/framework/fault"
	"github.com/rwxchaos/rwxchaos/framework/intervals"
	"github.com/rwxchaos/rwxchaos/framework/support"
)

// Kinds this package creates, with their list types.
var kinds = []struct {
	kind string
	list func() client.ObjectList
}{
	{"NetworkChaos", func() client.ObjectList { return &v1alpha1.NetworkChaosList{} }},
	{"PodChaos", func() client.ObjectList { return &v1alpha1.PodChaosList{} }},
	{"IOChaos", func() client.ObjectList { return &v1alpha1.IOChaosList{} }},
}

// Swept is what Sweep deleted.
type Swept struct {
	Deleted []string // Kind/namespace/name
	Skipped []string // kinds not installed in the cluster
}

// Sweep deletes every chaos object labelled with runID (every object
// rwxchaos made, when runID is "") in the namespaces, and waits up to
// wait for them to be gone (Chaos Mesh recovers the targets before its
// finalizer lets an object go). Kinds whose CRD is not installed are skipped.
func Sweep(ctx context.Context, c client.Client, namespaces []string, runID string, wait time.Duration) (Swept, error) {
	var (
		res  Swept
		errs []error
	)
	sel := client.MatchingLabels{"app.kubernetes.io/managed-by": "rwxchaos"}
	if runID != "" {
		sel = client.MatchingLabels{LabelRun: RunLabel(runID)}
	}
	var pending []client.Object
	for _, k := range kinds {
		for _, ns := range namespaces {
			l := k.list()
			if err := c.List(ctx, l, client.InNamespace(ns), sel); err != nil {
				if meta.IsNoMatchError(err) || apierrors.IsNotFound(err) {
					res.Skipped = append(res.Skipped, k.kind)
					break
				}
				errs = append(errs, fmt.Errorf("list %s in %s: %w%s", k.kind, ns, err, hint(err)))
				continue
			}
			items, err := meta.ExtractList(l)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			for _, it := range items {
				o, ok := it.(client.Object)
				if !ok {
					continue
				}
				if err := c.Delete(ctx, o, client.PropagationPolicy("Background")); err != nil && !apierrors.IsNotFound(err) {
					errs = append(errs, fmt.Errorf("delete %s %s/%s: %w%s", k.kind, ns, o.GetName(), err, hint(err)))
					continue
				}
				res.Deleted = append(res.Deleted, k.kind+"/"+ns+"/"+o.GetName())
				pending = append(pending, o)
			}
		}
	}
	if len(pending) > 0 { // wait 0: the chaos-sweep default
		err := intervals.Get(intervals.ChaosSweep).WithTimeout(wait).Until(ctx, func(ctx context.Context) (bool, error) {
			var left []client.Object
			for _, o := range pending {
				cur := o.DeepCopyObject().(client.Object)
				if err := c.Get(ctx, client.ObjectKeyFromObject(o), cur); err == nil {
					left = append(left, o)
				}
			}
			pending = left
			return len(pending) == 0, nil
		})
		if err != nil && ctx.Err() != nil {
			return res, errors.Join(append(errs, ctx.Err())...)
		}
	}
	if len(pending) > 0 {
		var names []string
		for _, o := range pending {
			names = append(names, o.GetNamespace()+"/"+o.GetName())
		}
		errs = append(errs, fmt.Errorf("still present %s after deletion: %s (Chaos Mesh has not recovered them; check `kubectl describe` and the chaos-controller-manager logs, then rerun `rwxchaos cleanup`)", wait, strings.Join(names, ", ")))
	}
	return res, errors.Join(errs...)
}

// ApplyUndo replays a kube-delete Undo made by UndoFor: it deletes the
// object through the kubeconfig and context recorded in it (or the
// defaults) and waits up to a minute for it to be gone. Other undos return
// ErrNotChaos.
func ApplyUndo(ctx context.Context, u *fault.Undo) error {
	if u == nil || u.Kind != "kube-delete" || !strings.HasPrefix(u.Obj, v1alpha1.SchemeGroupVersion.String()+"/") {
		return ErrNotChaos
	}
	parts := strings.Split(strings.TrimPrefix(u.Obj, v1alpha1.SchemeGroupVersion.String()+"/"), "/")
	if len(parts) != 3 {
		return fmt.Errorf("undo object %q: want %s/<Kind>/<namespace>/<name>", u.Obj, v1alpha1.SchemeGroupVersion)
	}
	kind, ns, name := parts[0], parts[1], parts[2]
	var kubeconfig, kctx string
	for _, a := range u.Args {
		if v, ok := strings.CutPrefix(a, "kubeconfig="); ok {
			kubeconfig = v
		}
		if v, ok := strings.CutPrefix(a, "context="); ok {
			kctx = v
		}
	}
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = kubeconfig
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: kctx}).ClientConfig()
	if err != nil {
		return fmt.Errorf("undo %s: kubeconfig %q context %q: %w", u.Obj, kubeconfig, kctx, err)
	}
	c, err := NewClient(cfg)
	if err != nil {
		return err
	}
	var obj client.Object
	switch kind {
	case "NetworkChaos":
		obj = &v1alpha1.NetworkChaos{}
	case "PodChaos":
		obj = &v1alpha1.PodChaos{}
	case "IOChaos":
		obj = &v1alpha1.IOChaos{}
	default:
		return fmt.Errorf("undo %s: kind %s is not one rwxchaos creates", u.Obj, kind)
	}
	obj.SetNamespace(ns)
	obj.SetName(name)
	if err := c.Delete(ctx, obj); err != nil {
		if apierrors.IsNotFound(err) || meta.IsNoMatchError(err) {
			return nil
		}
		return fmt.Errorf("undo: delete %s: %w%s", u.Obj, err, hint(err))
	}
	iv := intervals.Get(intervals.ChaosGone)
	err = iv.Until(ctx, func(ctx context.Context) (bool, error) {
		return apierrors.IsNotFound(c.Get(ctx, client.ObjectKeyFromObject(obj), obj)), nil
	})
	if err != nil && ctx.Err() == nil {
		return fmt.Errorf("undo: %s still present %s after deletion (Chaos Mesh has not recovered it: see the chaos-controller-manager logs)", u.Obj, iv.Timeout)
	}
	return err
}

// AnnotationUnsupported on the chaos-daemon DaemonSet lists chaos kinds the
// daemon image cannot inject (comma-separated), with the reason in
// AnnotationUnsupportedReason. hack/chaosmesh/install.sh sets them for the
// lab's daemon, which lacks toda (IOChaos), tproxy (HTTPChaos) and memStress.
const (
	AnnotationUnsupported       = "rwxchaos.dev/unsupported-chaos"
	AnnotationUnsupportedReason = "rwxchaos.dev/unsupported-reason"
)

// DaemonRef names the chaos-daemon DaemonSet to read capabilities from.
type DaemonRef struct{ Namespace, Name string }

// DefaultDaemon is where the Chaos Mesh chart puts the daemon.
var DefaultDaemon = DaemonRef{Namespace: "chaos-mesh", Name: "chaos-daemon"}

// Check returns a *support.Unsupported when the cluster cannot inject kind
// (NetworkChaos, PodChaos, IOChaos) in namespace: its CRD is missing, or
// the chaos-daemon DaemonSet says it lacks the capability. A DaemonSet the
// client may not read is not held against the cluster.
func Check(ctx context.Context, c client.Client, kind, namespace string, daemon DaemonRef) error {
	var l client.ObjectList
	for _, k := range kinds {
		if k.kind == kind {
			l = k.list()
		}
	}
	if l == nil {
		return &support.Unsupported{Action: kind, Env: "existing", Reason: "rwxchaos does not create this chaos kind"}
	}
	if err := c.List(ctx, l, client.InNamespace(namespace), client.Limit(1)); err != nil {
		if meta.IsNoMatchError(err) || apierrors.IsNotFound(err) {
			return &support.Unsupported{Action: kind, Env: "existing",
				Reason: fmt.Sprintf("Chaos Mesh is not installed in this cluster (no %s %s resource)", v1alpha1.SchemeGroupVersion, kind)}
		}
		return fmt.Errorf("check %s in %s: %w%s", kind, namespace, err, hint(err))
	}
	var ds appsv1.DaemonSet
	if err := c.Get(ctx, client.ObjectKey{Namespace: daemon.Namespace, Name: daemon.Name}, &ds); err != nil {
		return nil
	}
	for _, k := range strings.Split(ds.Annotations[AnnotationUnsupported], ",") {
		if strings.TrimSpace(k) == kind {
			reason := ds.Annotations[AnnotationUnsupportedReason]
			if reason == "" {
				reason = "the chaos-daemon image lacks what it needs"
			}
			return &support.Unsupported{Action: kind, Env: "existing",
				Reason: fmt.Sprintf("DaemonSet %s/%s says it cannot inject %s: %s", daemon.Namespace, daemon.Name, kind, reason)}
		}
	}
	return nil
}
