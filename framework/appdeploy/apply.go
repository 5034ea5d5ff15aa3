package appdeploy

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/restmapper"

	"github.com/rwxchaos/rwxchaos/framework/intervals"
)

// FieldManager is the server-side apply manager of everything applied.
const FieldManager = "rwxchaos"

// Clients reach the cluster the app is applied to.
type Clients struct {
	Typed     kubernetes.Interface
	Dynamic   dynamic.Interface
	Discovery discovery.DiscoveryInterface
}

// Applied is what Apply did.
type Applied struct {
	// Start is when the first object was sent.
	Start time.Time
	// Objects applied, as Kind/name.
	Objects []string
	// Skipped are objects of kinds the cluster does not serve (with why).
	Skipped []string
}

// Apply creates the namespace and the PVs, then server-side applies every
// object in order (namespaced kinds into the plan's namespace). Objects of
// kinds the cluster does not serve are skipped and listed.
func Apply(ctx context.Context, c Clients, p *Plan, labels map[string]string) (*Applied, error) {
	if c.Typed == nil || c.Dynamic == nil || c.Discovery == nil {
		return nil, errors.New("appdeploy.Apply: Clients needs Typed, Dynamic and Discovery")
	}
	a := &Applied{Start: time.Now()}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: p.Namespace, Labels: maps.Clone(labels)}}
	if _, err := c.Typed.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return a, fmt.Errorf("create namespace %s: %w", p.Namespace, err)
	}
	for _, pv := range p.PVs {
		if _, err := c.Typed.CoreV1().PersistentVolumes().Create(ctx, pv, metav1.CreateOptions{}); err != nil {
			if apierrors.IsAlreadyExists(err) {
				return a, fmt.Errorf("PersistentVolume %s already exists (left by an earlier run?): delete it, or run `rwxchaos cleanup`", pv.Name)
			}
			return a, fmt.Errorf("create PersistentVolume %s: %w", pv.Name, err)
		}
		a.Objects = append(a.Objects, "PersistentVolume/"+pv.Name)
	}
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(c.Discovery))
	for _, o := range p.Objects {
		gvk := o.GroupVersionKind()
		m, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		if meta.IsNoMatchError(err) {
			a.Skipped = append(a.Skipped, fmt.Sprintf("%s/%s (%s is not served by the cluster)", gvk.Kind, o.GetName(), gvk.GroupVersion()))
			continue
		}
		if err != nil {
			return a, fmt.Errorf("find the API of %s %s: %w", gvk.Kind, o.GetName(), err)
		}
		var ri dynamic.ResourceInterface = c.Dynamic.Resource(m.Resource)
		if m.Scope.Name() == meta.RESTScopeNameNamespace {
			o.SetNamespace(p.Namespace)
			ri = c.Dynamic.Resource(m.Resource).Namespace(p.Namespace)
		}
		if _, err := ri.Apply(ctx, o.GetName(), o, metav1.ApplyOptions{FieldManager: FieldManager, Force: true}); err != nil {
			return a, fmt.Errorf("apply %s %s: %w", gvk.Kind, o.GetName(), err)
		}
		a.Objects = append(a.Objects, gvk.Kind+"/"+o.GetName())
		if gvk.Kind == "CustomResourceDefinition" {
			if err := waitEstablished(ctx, c.Dynamic, m, o.GetName()); err != nil {
				return a, err
			}
			mapper.Reset() // later objects may be of this kind
		}
	}
	return a, nil
}

func waitEstablished(ctx context.Context, dyn dynamic.Interface, m *meta.RESTMapping, name string) error {
	iv := intervals.Get(intervals.CRDEstablished)
	err := iv.Until(ctx, func(ctx context.Context) (bool, error) {
		u, err := dyn.Resource(m.Resource).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
		for _, c := range mapItems(conds) {
			if c["type"] == "Established" && c["status"] == "True" {
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		return fmt.Errorf("CustomResourceDefinition %s not Established: %w", name, err)
	}
	return nil
}
