package appdeploy

import (
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/scheme"
)

// Every kind the table calls namespaced is one client-go knows (a typo in
// a group or kind would make a namespaced kind look cluster-scoped, and
// the reverse mistake is what the table must never make).
func TestNamespacedKindsExist(t *testing.T) {
	known := map[schema.GroupKind]bool{}
	for gvk := range scheme.Scheme.AllKnownTypes() {
		known[gvk.GroupKind()] = true
	}
	for gk := range namespacedKinds {
		if !known[gk] {
			t.Errorf("%s is not a kind client-go knows", gk)
		}
	}
	for _, gk := range []schema.GroupKind{{Kind: "Namespace"}, {Kind: "PersistentVolume"}, {Kind: "Node"},
		{Group: "rbac.authorization.k8s.io", Kind: "ClusterRole"}, {Group: "rbac.authorization.k8s.io", Kind: "ClusterRoleBinding"},
		{Group: "storage.k8s.io", Kind: "StorageClass"}, {Group: "apiextensions.k8s.io", Kind: "CustomResourceDefinition"},
		{Group: "admissionregistration.k8s.io", Kind: "ValidatingWebhookConfiguration"}, {Group: "scheduling.k8s.io", Kind: "PriorityClass"},
		{Group: "example.org", Kind: "Widget"}} {
		if Namespaced(gk) {
			t.Errorf("%s is cluster-scoped (or unknown) but Namespaced says it is namespaced", gk)
		}
	}
}

func TestNodeAccess(t *testing.T) {
	objs, err := Decode([]byte(`apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent}
spec:
  template:
    spec:
      hostNetwork: true
      hostPID: true
      initContainers: [{name: setup, image: x, securityContext: {privileged: true}}]
      containers: [{name: agent, image: x, securityContext: {privileged: false}}]
      volumes:
        - {name: state, hostPath: {path: /var/lib/agent}}
        - {name: cfg, configMap: {name: cfg}}
---
apiVersion: batch/v1
kind: CronJob
metadata: {name: tidy}
spec: {schedule: '* * * * *', jobTemplate: {spec: {template: {spec: {containers: [{name: t, image: x}]}}}}}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: cfg}
`))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"hostNetwork", "hostPID", "hostPath volume /var/lib/agent", "privileged container setup"}
	if got := NodeAccess(objs[0]); !slices.Equal(got, want) {
		t.Errorf("NodeAccess(DaemonSet) = %s, want %s", strings.Join(got, "; "), strings.Join(want, "; "))
	}
	for _, o := range objs[1:] {
		if got := NodeAccess(o); len(got) > 0 {
			t.Errorf("NodeAccess(%s) = %v, want none", o.GetKind(), got)
		}
	}
}
