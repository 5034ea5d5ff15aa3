package chaosmesh

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/chaos-mesh/chaos-mesh/api/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
	"sigs.k8s.io/yaml"

	"github.com/rwxchaos/rwxchaos/framework/fault"
	"github.com/rwxchaos/rwxchaos/framework/intervals"
)

// Scheme knows the core Kubernetes types and chaos-mesh.org/v1alpha1.
func Scheme() (*runtime.Scheme, error) {
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		return nil, fmt.Errorf("chaos scheme: %w", err)
	}
	if err := v1alpha1.AddToScheme(s); err != nil {
		return nil, fmt.Errorf("chaos scheme: %w", err)
	}
	return s, nil
}

// NewClient returns a controller-runtime client for cfg that knows the
// Chaos Mesh types.
func NewClient(cfg *rest.Config) (client.Client, error) {
	s, err := Scheme()
	if err != nil {
		return nil, err
	}
	c, err := client.New(cfg, client.Options{Scheme: s})
	if err != nil {
		return nil, fmt.Errorf("chaos client for %s: %w", cfg.Host, err)
	}
	return c, nil
}

// YAML renders obj as a manifest (status and empty fields left out), with
// its apiVersion and kind filled in from the scheme when missing.
func YAML(obj client.Object) ([]byte, error) {
	if obj.GetObjectKind().GroupVersionKind().Kind == "" {
		if s, err := Scheme(); err == nil {
			if gvk, err := apiutil.GVKForObject(obj, s); err == nil {
				obj = obj.DeepCopyObject().(client.Object)
				obj.GetObjectKind().SetGroupVersionKind(gvk)
			}
		}
	}
	b, err := yaml.Marshal(obj)
	if err != nil {
		return nil, fmt.Errorf("render %s %s: %w", kindOf(obj), obj.GetName(), err)
	}
	// Drop the empty status and creationTimestamp the types always carry.
	var out []string
	skip := false
	for _, l := range strings.Split(string(b), "\n") {
		switch {
		case l == "status:" || strings.HasPrefix(l, "status: "):
			skip = true
			continue
		case skip && strings.HasPrefix(l, " "):
			continue
		case strings.TrimSpace(l) == "creationTimestamp: null":
			continue
		}
		skip = false
		out = append(out, l)
	}
	return []byte(strings.Join(out, "\n")), nil
}

func kindOf(obj client.Object) string {
	if k := obj.GetObjectKind().GroupVersionKind().Kind; k != "" {
		return k
	}
	return fmt.Sprintf("%T", obj)
}

// Options for a Fault.
type Options struct {
	// Action and Name are what the report shows (the scenario's action and
	// fault name).
	Action, Name string
	// Target describes what is hit, for the report.
	Target string
	// Logf receives progress lines (condition changes, deletion).
	Logf func(string, ...any)
	// Now is the run's clock; time.Now when nil.
	Now func() time.Time
	// Kubeconfig and Context are recorded in Undo so `rwxchaos cleanup` can
	// delete the object with no runner state.
	Kubeconfig, Context string
}

// Fault runs one Chaos Mesh object as a fault.Fault.
type Fault struct {
	c   client.Client
	obj Object
	o   Options

	mu         sync.Mutex
	created    bool
	injectedAt time.Time // AllInjected first seen
	healedAt   time.Time // AllRecovered first seen
	lastState  string
}

// NewFault wraps obj (from one of the builders) for client c.
func NewFault(c client.Client, obj Object, o Options) *Fault {
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Action == "" {
		o.Action = strings.ToLower(kindOf(obj))
	}
	if o.Name == "" {
		o.Name = obj.GetLabels()[LabelFault]
	}
	return &Fault{c: c, obj: obj, o: o}
}

var _ fault.Fault = (*Fault)(nil)

// Object is the chaos object (as built; not refreshed).
func (f *Fault) Object() Object { return f.obj }

func (f *Fault) Name() string   { return f.o.Name }
func (f *Fault) Action() string { return f.o.Action }
func (f *Fault) Target() string {
	ref := kindOf(f.obj) + "/" + f.obj.GetName()
	if f.o.Target == "" {
		return ref
	}
	return f.o.Target + " (" + ref + ")"
}

// Times are when AllInjected and AllRecovered were first seen (zero if not).
func (f *Fault) Times() (injected, recovered time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.injectedAt, f.healedAt
}

// Inject creates the object. The admission webhook refuses connections for
// a moment after Chaos Mesh rolls out, so transient webhook errors are
// retried for up to a minute.
func (f *Fault) Inject(ctx context.Context) error {
	obj := f.obj.DeepCopyObject().(Object)
	var last error
	err := intervals.Get(intervals.ChaosCreate).Until(ctx, func(ctx context.Context) (bool, error) {
		err := f.c.Create(ctx, obj)
		if err == nil || apierrors.IsAlreadyExists(err) {
			return true, nil
		}
		if !transient(err) {
			return false, fmt.Errorf("create %s %s/%s: %w%s", kindOf(f.obj), f.obj.GetNamespace(), f.obj.GetName(), err, hint(err))
		}
		last = err
		return false, nil
	})
	switch {
	case err == nil:
		f.mu.Lock()
		f.created = true
		f.mu.Unlock()
		f.o.Logf("chaos: created %s %s/%s", kindOf(f.obj), f.obj.GetNamespace(), f.obj.GetName())
		return nil
	case last != nil && wait.Interrupted(err):
		return fmt.Errorf("create %s %s/%s: %w (last: %v)%s", kindOf(f.obj), f.obj.GetNamespace(), f.obj.GetName(), err, last, hint(last))
	}
	return err
}

// transient: the webhook or API server is not answering yet.
func transient(err error) bool {
	if apierrors.IsServerTimeout(err) || apierrors.IsTimeout(err) || apierrors.IsTooManyRequests(err) || apierrors.IsServiceUnavailable(err) {
		return true
	}
	s := err.Error()
	for _, m := range []string{"connection refused", "failed calling webhook", "no endpoints available", "connection reset", "i/o timeout"} {
		if strings.Contains(s, m) {
			return true
		}
	}
	return false
}

func hint(err error) string {
	switch {
	case apierrors.IsForbidden(err):
		return " (apply fixtures/rbac/rwxchaos-existing.yaml in this namespace, or ask the cluster admin for the chaos-mesh.org permissions it lists)"
	case apierrors.IsNotFound(err), strings.Contains(err.Error(), "no matches for kind"):
		return " (Chaos Mesh is not installed in this cluster: install it, e.g. hack/chaosmesh/install.sh in the lab)"
	}
	return ""
}

// get refreshes the object; ok false when it is gone.
func (f *Fault) get(ctx context.Context) (Object, bool, error) {
	cur := f.obj.DeepCopyObject().(Object)
	err := f.c.Get(ctx, client.ObjectKeyFromObject(f.obj), cur)
	if apierrors.IsNotFound(err) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	return cur, true, nil
}

func condition(o Object, t v1alpha1.ChaosConditionType) (corev1.ConditionStatus, string) {
	for _, c := range o.GetStatus().Conditions {
		if c.Type == t {
			return c.Status, c.Reason
		}
	}
	return corev1.ConditionUnknown, ""
}

// describe summarises conditions and the last failed record event.
func describe(o Object) string {
	var parts []string
	for _, t := range []v1alpha1.ChaosConditionType{v1alpha1.ConditionSelected, v1alpha1.ConditionAllInjected, v1alpha1.ConditionAllRecovered, v1alpha1.ConditionPaused} {
		if st, _ := condition(o, t); st != corev1.ConditionUnknown {
			parts = append(parts, fmt.Sprintf("%s=%s", t, st))
		}
	}
	for _, r := range o.GetStatus().Experiment.Records {
		for i := len(r.Events) - 1; i >= 0; i-- {
			if e := r.Events[i]; e.Type == v1alpha1.TypeFailed {
				parts = append(parts, fmt.Sprintf("%s %s failed: %s", r.Id, e.Operation, e.Message))
				break
			}
		}
	}
	if len(parts) == 0 {
		return "no status yet"
	}
	return strings.Join(parts, ", ")
}

func (f *Fault) note(o Object) {
	s := describe(o)
	f.mu.Lock()
	changed := s != f.lastState
	f.lastState = s
	f.mu.Unlock()
	if changed {
		f.o.Logf("chaos: %s %s: %s", kindOf(f.obj), f.obj.GetName(), s)
	}
}

// Verify returns nil once Chaos Mesh reports AllInjected=True.
func (f *Fault) Verify(ctx context.Context) error {
	o, ok, err := f.get(ctx)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("%s %s is gone before it was injected", kindOf(f.obj), f.obj.GetName())
	}
	f.note(o)
	if st, _ := condition(o, v1alpha1.ConditionSelected); st == corev1.ConditionFalse {
		return fmt.Errorf("%s %s selected no pods (%s): check the target's labels and that its pods are Running", kindOf(f.obj), f.obj.GetName(), describe(o))
	}
	if st, _ := condition(o, v1alpha1.ConditionAllInjected); st != corev1.ConditionTrue {
		return fmt.Errorf("%s %s not injected yet: %s", kindOf(f.obj), f.obj.GetName(), describe(o))
	}
	f.mu.Lock()
	if f.injectedAt.IsZero() {
		f.injectedAt = f.o.Now()
	}
	f.mu.Unlock()
	return nil
}

// OneShot reports whether Chaos Mesh treats the object as one-shot
// (pod-kill, container-kill): it acts once, has nothing to recover, and
// never reports AllRecovered, so healing it means deleting it.
func (f *Fault) OneShot() bool {
	if p, ok := f.obj.(*v1alpha1.PodChaos); ok {
		return p.Spec.Action == v1alpha1.PodKillAction || p.Spec.Action == v1alpha1.ContainerKillAction
	}
	return false
}

// Heal pauses the object: Chaos Mesh recovers every target and reports
// AllRecovered, which VerifyHealed waits for before deleting it. A one-shot
// object is deleted at once. An object that was never created or is gone
// needs nothing.
func (f *Fault) Heal(ctx context.Context) error {
	f.mu.Lock()
	created := f.created
	f.mu.Unlock()
	if !created || f.OneShot() {
		// Inject may have failed after the API server accepted the create.
		return client.IgnoreNotFound(f.delete(ctx))
	}
	o, ok, err := f.get(ctx)
	if err != nil || !ok {
		return err
	}
	if o.GetDeletionTimestamp() != nil {
		return nil
	}
	patch := client.MergeFrom(o.DeepCopyObject().(Object))
	ann := o.GetAnnotations()
	if ann == nil {
		ann = map[string]string{}
	}
	ann[v1alpha1.PauseAnnotationKey] = "true"
	o.SetAnnotations(ann)
	if err := f.c.Patch(ctx, o, patch); err != nil && !apierrors.IsNotFound(err) {
		// Could not pause (webhook down?): deleting recovers too, via
		// Chaos Mesh's finalizer.
		f.o.Logf("chaos: pause %s failed (%v): deleting it instead", f.obj.GetName(), err)
		return client.IgnoreNotFound(f.delete(ctx))
	}
	return nil
}

// VerifyHealed returns nil once the object reported AllRecovered=True (not
// for one-shot objects) and is deleted (or is gone already; Chaos Mesh's finalizer removes it only
// after recovering its targets).
func (f *Fault) VerifyHealed(ctx context.Context) error {
	o, ok, err := f.get(ctx)
	if err != nil {
		return err
	}
	if !ok {
		return nil
	}
	f.note(o)
	if o.GetDeletionTimestamp() != nil {
		return fmt.Errorf("%s %s is being deleted (Chaos Mesh is recovering its targets): %s", kindOf(f.obj), f.obj.GetName(), describe(o))
	}
	if f.OneShot() {
		if err := f.delete(ctx); err != nil && !apierrors.IsNotFound(err) {
			return err
		}
		return fmt.Errorf("%s %s (one-shot) is being deleted", kindOf(f.obj), f.obj.GetName())
	}
	if st, _ := condition(o, v1alpha1.ConditionAllRecovered); st != corev1.ConditionTrue {
		return fmt.Errorf("%s %s not recovered yet: %s", kindOf(f.obj), f.obj.GetName(), describe(o))
	}
	f.mu.Lock()
	if f.healedAt.IsZero() {
		f.healedAt = f.o.Now()
	}
	f.mu.Unlock()
	if err := f.delete(ctx); err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	return fmt.Errorf("%s %s recovered, waiting for its deletion", kindOf(f.obj), f.obj.GetName())
}

func (f *Fault) delete(ctx context.Context) error {
	bg := client.PropagationPolicy("Background")
	err := f.c.Delete(ctx, f.obj.DeepCopyObject().(Object), bg)
	if err == nil {
		f.o.Logf("chaos: deleting %s %s/%s", kindOf(f.obj), f.obj.GetNamespace(), f.obj.GetName())
	}
	return err
}

// Undo deletes the object (Chaos Mesh recovers the targets first).
func (f *Fault) Undo() *fault.Undo {
	return UndoFor(f.obj, f.o.Kubeconfig, f.o.Context)
}

// UndoFor describes deleting obj as a kube-delete Undo. Obj is
// "<group>/<version>/<Kind>/<namespace>/<name>"; Args carry
// "kubeconfig=<path>" and "context=<name>" when known. ApplyUndo replays it.
func UndoFor(obj client.Object, kubeconfig, kctx string) *fault.Undo {
	u := &fault.Undo{Kind: "kube-delete",
		Obj: strings.Join([]string{v1alpha1.SchemeGroupVersion.String(), kindOf(obj), obj.GetNamespace(), obj.GetName()}, "/")}
	if kubeconfig != "" {
		u.Args = append(u.Args, "kubeconfig="+kubeconfig)
	}
	if kctx != "" {
		u.Args = append(u.Args, "context="+kctx)
	}
	return u
}

// ErrNotChaos means an Undo is not one this package made.
var ErrNotChaos = errors.New("not a chaos-mesh.org kube-delete undo")
