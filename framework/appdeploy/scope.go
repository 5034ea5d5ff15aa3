package appdeploy

import (
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// namespacedKinds are the built-in kinds (Kubernetes 1.34) whose objects
// live in a namespace, so deleting the namespace deletes them. Everything
// else is either cluster-scoped or not built in (a custom resource, whose
// scope only its CustomResourceDefinition says).
var namespacedKinds = map[schema.GroupKind]bool{
	{Kind: "ConfigMap"}: true, {Kind: "Secret"}: true, {Kind: "Service"}: true,
	{Kind: "ServiceAccount"}: true, {Kind: "Pod"}: true, {Kind: "PodTemplate"}: true,
	{Kind: "ReplicationController"}: true, {Kind: "PersistentVolumeClaim"}: true,
	{Kind: "Endpoints"}: true, {Kind: "Event"}: true, {Kind: "LimitRange"}: true,
	{Kind: "ResourceQuota"}:             true,
	{Group: "apps", Kind: "Deployment"}: true, {Group: "apps", Kind: "ReplicaSet"}: true,
	{Group: "apps", Kind: "StatefulSet"}: true, {Group: "apps", Kind: "DaemonSet"}: true,
	{Group: "apps", Kind: "ControllerRevision"}: true,
	{Group: "batch", Kind: "Job"}:               true, {Group: "batch", Kind: "CronJob"}: true,
	{Group: "autoscaling", Kind: "HorizontalPodAutoscaler"}:   true,
	{Group: "policy", Kind: "PodDisruptionBudget"}:            true,
	{Group: "networking.k8s.io", Kind: "NetworkPolicy"}:       true,
	{Group: "networking.k8s.io", Kind: "Ingress"}:             true,
	{Group: "rbac.authorization.k8s.io", Kind: "Role"}:        true,
	{Group: "rbac.authorization.k8s.io", Kind: "RoleBinding"}: true,
	{Group: "discovery.k8s.io", Kind: "EndpointSlice"}:        true,
	{Group: "coordination.k8s.io", Kind: "Lease"}:             true,
	{Group: "events.k8s.io", Kind: "Event"}:                   true,
	{Group: "storage.k8s.io", Kind: "CSIStorageCapacity"}:     true,
}

// Namespaced says whether objects of a built-in kind live in a namespace.
// A kind it does not list (cluster-scoped, or a custom resource) is false.
func Namespaced(gk schema.GroupKind) bool { return namespacedKinds[gk] }

// NodeAccess lists what a workload object's pods reach of their node
// beyond their own containers: hostPath volumes, the node's network, PID
// or IPC namespace, privileged containers. Whatever such a pod changes
// there outlives the pod and its namespace. Nil for other objects.
func NodeAccess(o *unstructured.Unstructured) []string {
	spec, ok := podSpec(o)
	if !ok {
		return nil
	}
	var out []string
	for _, f := range []string{"hostNetwork", "hostPID", "hostIPC"} {
		if on, _ := spec[f].(bool); on {
			out = append(out, f)
		}
	}
	for _, v := range mapItems(spec["volumes"]) {
		if hp, ok := v["hostPath"].(map[string]any); ok {
			p, _ := hp["path"].(string)
			out = append(out, fmt.Sprintf("hostPath volume %s", p))
		}
	}
	for _, key := range []string{"initContainers", "containers", "ephemeralContainers"} {
		for _, c := range mapItems(spec[key]) {
			sc, _ := c["securityContext"].(map[string]any)
			if on, _ := sc["privileged"].(bool); on {
				name, _ := c["name"].(string)
				out = append(out, "privileged container "+name)
			}
		}
	}
	return out
}
