package kind

import (
	"fmt"
	"strings"
	"sync"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/rwxchaos/rwxchaos/framework/appdeploy"
	"github.com/rwxchaos/rwxchaos/framework/scenario"
)

// asideReason says why a scenario cannot run on a pool's shared cluster
// and gets a cluster of its own ("" when it runs on the pool's). objs are
// an external app's rendered manifests (nil for the framework's own
// workloads).
func asideReason(s *scenario.Scenario, objs []*unstructured.Unstructured) string {
	if s.Storage.Backend == scenario.BackendNFS {
		client, _, _, err := chooseNFSClient(s.Storage)
		switch {
		case err != nil:
			return "backend nfs: " + err.Error()
		case client != scenario.NFSClientUserspace:
			return "backend nfs with the kernel's client: its in-tree PV is not run on the pool's cluster yet"
		case s.Workload.Mode == scenario.ModeExternal:
			return "an external app on backend nfs: the pool's NFS runs bind only the framework's own workloads to their volume"
		}
	}
	if s.Workload.Mode == scenario.ModeExternal {
		return externalAside(s.Workload.Namespace, objs)
	}
	return ""
}

// externalAside says why an external app's objects could outlive the
// pool's reset ("" when they cannot). The reset deletes the namespaces runs
// create, with everything in them, and the PersistentVolumes labelled for a
// run, and checks both gone; an external run's own reset step waits for its
// namespace to be gone and removes the images it loaded into the nodes.
// What else an app could create — cluster-scoped objects, custom
// resources, changes its pods make to their nodes — the reset neither
// removes nor sees, so such an app gets a cluster of its own.
func externalAside(ns string, objs []*unstructured.Unstructured) string {
	var why []string
	if newClusterNamespace(ns) {
		why = append(why, fmt.Sprintf("workload.namespace %s is one a new cluster has or Kubernetes reserves, and the reset deletes only the namespaces runs create", ns))
	}
	var outside, reach []string
	for _, o := range objs {
		gvk := o.GroupVersionKind()
		switch {
		case gvk.Group == "" && gvk.Kind == "Namespace":
			// Not applied: the run creates the app's namespace itself.
		case gvk.Group == "" && gvk.Kind == "PersistentVolume":
			// Labelled for the run, as the volumes the run binds are: the
			// reset deletes it and checks it gone.
		case appdeploy.Namespaced(gvk.GroupKind()):
			for _, r := range appdeploy.NodeAccess(o) {
				reach = append(reach, fmt.Sprintf("%s %s: %s", gvk.Kind, o.GetName(), r))
			}
		case gvk.Group == "":
			outside = append(outside, fmt.Sprintf("%s %s", gvk.Kind, o.GetName()))
		default:
			outside = append(outside, fmt.Sprintf("%s %s (%s)", gvk.Kind, o.GetName(), gvk.Group))
		}
	}
	if len(outside) > 0 {
		why = append(why, "its manifests hold objects that are cluster-scoped or of a kind not known to be namespaced, which the reset does not remove: "+clipList(outside))
	}
	if len(reach) > 0 {
		why = append(why, "its pods reach into their nodes, where the reset does not look: "+clipList(reach))
	}
	return strings.Join(why, "; ")
}

// newClusterNamespace: a namespace a new kind cluster already has (kind's
// default StorageClass comes with local-path-storage), or one of the names
// Kubernetes reserves for itself.
func newClusterNamespace(ns string) bool {
	switch ns {
	case "default", "local-path-storage":
		return true
	}
	return strings.HasPrefix(ns, "kube-")
}

// clipList joins up to five items and says how many more there are.
func clipList(items []string) string {
	const max = 5
	if len(items) <= max {
		return strings.Join(items, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(items[:max], ", "), len(items)-max)
}

// poolAsideMemo keeps asideReason per scenario for PoolOrder, which sorts
// call many times (an external app's manifests are rendered once).
var poolAsideMemo sync.Map // *scenario.Scenario -> string

// scenarioAside is asideReason for a scenario whose external app's
// manifests have not been rendered yet.
func scenarioAside(s *scenario.Scenario) string {
	if s.Workload.Mode != scenario.ModeExternal {
		return asideReason(s, nil)
	}
	if why, ok := poolAsideMemo.Load(s); ok {
		return why.(string)
	}
	why := ""
	paths, err := appdeploy.ResolvePaths(s.File(), s.Workload.External.Manifests)
	var objs []*unstructured.Unstructured
	if err == nil {
		objs, err = appdeploy.Render(paths)
	}
	if err != nil {
		why = "its manifests do not render: " + err.Error()
	} else {
		why = asideReason(s, objs)
	}
	poolAsideMemo.Store(s, why)
	return why
}
