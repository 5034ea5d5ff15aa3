package appdeploy

import (
	"errors"
	"fmt"
	"maps"
	"path"
	"slices"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// Volume is the run's RWX volume as the nodes see it: a host directory
// present on every node (hostpath and fuse backends, or an NFS mount made
// by the node), or an NFS export mounted by the kubelet.
type Volume struct {
	HostPath           string
	NFSServer, NFSPath string
	// Root is the app's directory inside the volume (relative): every mount
	// of the claim gets it as a subPath prefix. Used when the PV must point
	// above the data so that a remount on the node propagates.
	Root         string
	MountOptions []string
	// Size of the PV; at least the claim's request. Default 1Gi.
	Size string
}

// Binding is how the app's manifests are adapted to the run.
type Binding struct {
	// Namespace every namespaced object is applied into.
	Namespace string
	// Claim is the app's data PVC, bound to Volume through PVName.
	Claim  string
	Volume Volume
	PVName string
	// SideDir is a host directory (on every node) under which every other
	// claim of the manifests gets a scratch directory as its PV; empty:
	// other claims are left to the cluster's StorageClasses.
	SideDir string
	// Propagate sets mountPropagation HostToContainer on the claim's
	// mounts: a storage server restarted under a hostPath volume is a new
	// mount that pods must see.
	Propagate bool
	// Loaded are the image references loaded into the nodes. Containers
	// using them (and :latest or Always ones) get IfNotPresent: the nodes
	// cannot pull.
	Loaded []string
	// Labels are added to every object's metadata (not to selectors or
	// pod templates), to find what a run applied.
	Labels map[string]string
}

// Plan is the adapted app: what to apply, in order, and what was changed.
type Plan struct {
	Namespace string
	// PVs are created first (cluster-scoped, owned by the run).
	PVs []*corev1.PersistentVolume
	// Objects are the app's objects in apply order (Namespace objects of
	// the manifests are dropped: the run creates its own).
	Objects []*unstructured.Unstructured
	// Claims are the PVCs the app mounts (all must bind).
	Claims []string
	// Images the app's pods use; Unloaded those not in Binding.Loaded.
	Images, Unloaded []string
	// Notes say what was changed and why, for the run log.
	Notes []string
}

// Rewrite adapts rendered objects to the run. The objects are changed in
// place; nothing is applied.
func Rewrite(objs []*unstructured.Unstructured, b Binding) (*Plan, error) {
	var missing []string
	if b.Namespace == "" {
		missing = append(missing, "Namespace")
	}
	if b.Claim == "" {
		missing = append(missing, "Claim")
	}
	if b.PVName == "" {
		missing = append(missing, "PVName")
	}
	if b.Volume.HostPath == "" && b.Volume.NFSServer == "" {
		missing = append(missing, "Volume (HostPath or NFSServer)")
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("appdeploy.Rewrite: Binding is missing %s", strings.Join(missing, ", "))
	}
	if r := b.Volume.Root; r != "" && (path.IsAbs(r) || slices.Contains(strings.Split(r, "/"), "..")) {
		return nil, fmt.Errorf("appdeploy.Rewrite: Volume.Root %q must be a relative path inside the volume", r)
	}
	p := &Plan{Namespace: b.Namespace}
	loaded := map[string]bool{}
	for _, l := range b.Loaded {
		loaded[NormalizeImage(l)] = true
	}
	images := map[string]bool{}
	claims := map[string]*unstructured.Unstructured{}
	mounted := map[string]bool{}
	var errs []error
	for _, o := range objs {
		if o.GetKind() == "Namespace" && o.GroupVersionKind().Group == "" {
			p.Notes = append(p.Notes, fmt.Sprintf("Namespace %s of the manifests not applied: everything goes into %s", o.GetName(), b.Namespace))
			continue
		}
		if ns := o.GetNamespace(); ns != "" && ns != b.Namespace {
			p.Notes = append(p.Notes, fmt.Sprintf("%s %s moved from namespace %s to %s", o.GetKind(), o.GetName(), ns, b.Namespace))
		}
		o.SetNamespace("") // set at apply time, for namespaced kinds only
		if len(b.Labels) > 0 {
			l := o.GetLabels()
			if l == nil {
				l = map[string]string{}
			}
			maps.Copy(l, b.Labels)
			o.SetLabels(l)
		}
		if o.GetKind() == "PersistentVolumeClaim" && o.GroupVersionKind().Group == "" {
			claims[o.GetName()] = o
		}
		if o.GetKind() == "StatefulSet" {
			if t, _, _ := unstructured.NestedSlice(o.Object, "spec", "volumeClaimTemplates"); len(t) > 0 {
				errs = append(errs, fmt.Errorf("StatefulSet %s has volumeClaimTemplates: the run's cluster has no provisioner for them; mount the claim %s instead", o.GetName(), b.Claim))
			}
		}
		spec, ok := podSpec(o)
		if !ok {
			p.Objects = append(p.Objects, o)
			continue
		}
		used, notes, err := rewritePodSpec(spec, o, b, loaded, images)
		if err != nil {
			errs = append(errs, err)
		}
		for _, c := range used {
			mounted[c] = true
		}
		p.Notes = append(p.Notes, notes...)
		p.Objects = append(p.Objects, o)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if !mounted[b.Claim] {
		return nil, fmt.Errorf("no pod of the manifests mounts the claim %q (workload.external.pvc): name the claim the app's pods mount (mounted: %s)", b.Claim, orNone(slices.Sorted(maps.Keys(mounted))))
	}

	// The data claim: bound to the run's volume.
	pv, err := dataPV(b, claims[b.Claim])
	if err != nil {
		return nil, err
	}
	p.PVs = append(p.PVs, pv)
	if c := claims[b.Claim]; c != nil {
		bindClaim(c, pv, &p.Notes)
	} else {
		c := newClaim(b, pv)
		p.Objects = append([]*unstructured.Unstructured{c}, p.Objects...)
		p.Notes = append(p.Notes, fmt.Sprintf("PersistentVolumeClaim %s is not in the manifests: created, bound to the run's volume", b.Claim))
	}
	// Every other claim: a scratch directory of its own.
	for _, name := range slices.Sorted(maps.Keys(claims)) {
		if name == b.Claim || b.SideDir == "" {
			continue
		}
		spv, err := sidePV(b, claims[name])
		if err != nil {
			return nil, err
		}
		p.PVs = append(p.PVs, spv)
		bindClaim(claims[name], spv, nil)
		p.Notes = append(p.Notes, fmt.Sprintf("PersistentVolumeClaim %s bound to a scratch directory %s (not the run's volume: never faulted or checked)", name, spv.Spec.HostPath.Path))
	}
	for c := range mounted {
		p.Claims = append(p.Claims, c)
	}
	sort.Strings(p.Claims)
	for im := range images {
		p.Images = append(p.Images, im)
		if !loaded[im] {
			p.Unloaded = append(p.Unloaded, im)
		}
	}
	sort.Strings(p.Images)
	sort.Strings(p.Unloaded)
	sortForApply(p.Objects)
	return p, nil
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}

// podSpec finds the pod spec of a workload object (the map inside the
// object, not a copy).
func podSpec(o *unstructured.Unstructured) (map[string]any, bool) {
	var fields []string
	switch o.GetKind() {
	case "Pod":
		fields = []string{"spec"}
	case "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "ReplicationController", "Job":
		fields = []string{"spec", "template", "spec"}
	case "CronJob":
		fields = []string{"spec", "jobTemplate", "spec", "template", "spec"}
	default:
		return nil, false
	}
	m := o.Object
	for _, f := range fields {
		next, ok := m[f].(map[string]any)
		if !ok {
			return nil, false
		}
		m = next
	}
	return m, true
}

// mapItems are the mappings of a YAML list (others are skipped).
func mapItems(v any) []map[string]any {
	l, _ := v.([]any)
	out := make([]map[string]any, 0, len(l))
	for _, x := range l {
		if m, ok := x.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}

// rewritePodSpec adapts one pod spec: pull policies, and the mounts of the
// data claim (propagation, subPath under Volume.Root). It returns the claims
// the pods mount.
func rewritePodSpec(spec map[string]any, o *unstructured.Unstructured, b Binding, loaded, images map[string]bool) (claims, notes []string, err error) {
	what := o.GetKind() + " " + o.GetName()
	dataVolumes := map[string]bool{} // pod volume names that are the data claim
	for _, v := range mapItems(spec["volumes"]) {
		pvc, ok := v["persistentVolumeClaim"].(map[string]any)
		if !ok {
			continue
		}
		c, _ := pvc["claimName"].(string)
		if c == "" {
			continue
		}
		claims = append(claims, c)
		if c == b.Claim {
			name, _ := v["name"].(string)
			dataVolumes[name] = true
		}
	}
	pulls := 0
	for _, key := range []string{"initContainers", "containers", "ephemeralContainers"} {
		for _, c := range mapItems(spec[key]) {
			img, _ := c["image"].(string)
			if img != "" {
				n := NormalizeImage(img)
				images[n] = true
				pol, _ := c["imagePullPolicy"].(string)
				if pol == string(corev1.PullAlways) || (pol == "" && strings.HasSuffix(n, ":latest")) || (loaded[n] && pol != string(corev1.PullNever)) {
					if pol != string(corev1.PullIfNotPresent) {
						c["imagePullPolicy"] = string(corev1.PullIfNotPresent)
						pulls++
					}
				}
			}
			for _, m := range mapItems(c["volumeMounts"]) {
				name, _ := m["name"].(string)
				if !dataVolumes[name] {
					continue
				}
				if b.Propagate {
					if prop, _ := m["mountPropagation"].(string); prop != "" && prop != string(corev1.MountPropagationHostToContainer) && prop != string(corev1.MountPropagationBidirectional) {
						notes = append(notes, fmt.Sprintf("%s: mountPropagation %s of the data volume replaced by HostToContainer (a restarted storage server must reach the pod)", what, prop))
					}
					if prop, _ := m["mountPropagation"].(string); prop != string(corev1.MountPropagationBidirectional) {
						m["mountPropagation"] = string(corev1.MountPropagationHostToContainer)
					}
				}
				if b.Volume.Root != "" {
					if _, expr := m["subPathExpr"]; expr {
						return nil, nil, fmt.Errorf("%s mounts the data claim with subPathExpr: not supported with this storage backend (the volume's data sits under %s)", what, b.Volume.Root)
					}
					sub, _ := m["subPath"].(string)
					m["subPath"] = path.Join(b.Volume.Root, sub)
				}
			}
		}
	}
	if pulls > 0 {
		notes = append(notes, fmt.Sprintf("%s: imagePullPolicy IfNotPresent on %d container(s): the nodes have no registry, images are loaded", what, pulls))
	}
	return claims, notes, nil
}

// NormalizeImage writes an image reference the way containerd names it:
// docker.io/library/busybox:latest for busybox.
func NormalizeImage(ref string) string {
	name, digest, hasDigest := strings.Cut(ref, "@")
	first, _, hasSlash := strings.Cut(name, "/")
	if !hasSlash || (!strings.ContainsAny(first, ".:") && first != "localhost") {
		if !hasSlash {
			name = "library/" + name
		}
		name = "docker.io/" + name
	}
	if i := strings.LastIndex(name, ":"); i < 0 || strings.Contains(name[i:], "/") {
		if !hasDigest {
			name += ":latest"
		}
	}
	if hasDigest {
		return name + "@" + digest
	}
	return name
}

func quantity(s, def string) (resource.Quantity, error) {
	if s == "" {
		s = def
	}
	return resource.ParseQuantity(s)
}

// dataPV is the PV of the run's volume, at least as large as the claim's request.
func dataPV(b Binding, claim *unstructured.Unstructured) (*corev1.PersistentVolume, error) {
	size, err := quantity(b.Volume.Size, "1Gi")
	if err != nil {
		return nil, fmt.Errorf("volume size %q: %w", b.Volume.Size, err)
	}
	if req := claimRequest(claim); req != nil && req.Cmp(size) > 0 {
		size = *req
	}
	pv := &corev1.PersistentVolume{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "PersistentVolume"},
		ObjectMeta: metav1.ObjectMeta{Name: b.PVName, Labels: maps.Clone(b.Labels)},
		Spec: corev1.PersistentVolumeSpec{
			AccessModes:                   []corev1.PersistentVolumeAccessMode{corev1.ReadWriteMany},
			Capacity:                      corev1.ResourceList{corev1.ResourceStorage: size},
			PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimRetain,
			MountOptions:                  b.Volume.MountOptions,
			ClaimRef:                      &corev1.ObjectReference{Namespace: b.Namespace, Name: b.Claim},
		},
	}
	if v := b.Volume; v.HostPath != "" {
		t := corev1.HostPathDirectory
		pv.Spec.HostPath = &corev1.HostPathVolumeSource{Path: v.HostPath, Type: &t}
	} else {
		pv.Spec.NFS = &corev1.NFSVolumeSource{Server: v.NFSServer, Path: v.NFSPath}
	}
	return pv, nil
}

func sidePV(b Binding, claim *unstructured.Unstructured) (*corev1.PersistentVolume, error) {
	size, err := quantity("", "1Gi")
	if err != nil {
		return nil, err
	}
	if req := claimRequest(claim); req != nil {
		size = *req
	}
	name := b.PVName + "-" + claim.GetName()
	if len(name) > 253 {
		name = name[:253]
	}
	t := corev1.HostPathDirectoryOrCreate
	return &corev1.PersistentVolume{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "PersistentVolume"},
		ObjectMeta: metav1.ObjectMeta{Name: strings.TrimRight(name, "-."), Labels: maps.Clone(b.Labels)},
		Spec: corev1.PersistentVolumeSpec{
			AccessModes:                   []corev1.PersistentVolumeAccessMode{corev1.ReadWriteMany, corev1.ReadWriteOnce, corev1.ReadOnlyMany},
			Capacity:                      corev1.ResourceList{corev1.ResourceStorage: size},
			PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimRetain,
			ClaimRef:                      &corev1.ObjectReference{Namespace: b.Namespace, Name: claim.GetName()},
			PersistentVolumeSource: corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{
				Path: path.Join(b.SideDir, claim.GetName()), Type: &t}},
		},
	}, nil
}

func claimRequest(claim *unstructured.Unstructured) *resource.Quantity {
	if claim == nil {
		return nil
	}
	s, ok, _ := unstructured.NestedString(claim.Object, "spec", "resources", "requests", "storage")
	if !ok {
		return nil
	}
	q, err := resource.ParseQuantity(s)
	if err != nil {
		return nil
	}
	return &q
}

// bindClaim points an app's claim at a PV: no StorageClass, the PV's name,
// no selector (it would keep the claim from binding).
func bindClaim(c *unstructured.Unstructured, pv *corev1.PersistentVolume, notes *[]string) {
	sc, hasSC, _ := unstructured.NestedString(c.Object, "spec", "storageClassName")
	_ = unstructured.SetNestedField(c.Object, "", "spec", "storageClassName")
	_ = unstructured.SetNestedField(c.Object, pv.Name, "spec", "volumeName")
	if _, ok, _ := unstructured.NestedMap(c.Object, "spec", "selector"); ok {
		unstructured.RemoveNestedField(c.Object, "spec", "selector")
	}
	modes, _, _ := unstructured.NestedStringSlice(c.Object, "spec", "accessModes")
	if len(modes) == 0 {
		_ = unstructured.SetNestedStringSlice(c.Object, []string{string(corev1.ReadWriteMany)}, "spec", "accessModes")
	}
	if _, ok, _ := unstructured.NestedString(c.Object, "spec", "resources", "requests", "storage"); !ok {
		q := pv.Spec.Capacity[corev1.ResourceStorage]
		_ = unstructured.SetNestedField(c.Object, q.String(), "spec", "resources", "requests", "storage")
	}
	if notes == nil {
		return
	}
	was := "the default StorageClass"
	if hasSC {
		was = fmt.Sprintf("StorageClass %q", sc)
	}
	msg := fmt.Sprintf("PersistentVolumeClaim %s bound to the run's volume (PV %s) instead of %s", c.GetName(), pv.Name, was)
	if len(modes) > 0 && !slices.Contains(modes, string(corev1.ReadWriteMany)) {
		msg += fmt.Sprintf("; note: it asks for %s, not ReadWriteMany, so on a real cluster pods on different nodes could not share it", strings.Join(modes, ","))
	}
	*notes = append(*notes, msg)
}

func newClaim(b Binding, pv *corev1.PersistentVolume) *unstructured.Unstructured {
	q := pv.Spec.Capacity[corev1.ResourceStorage]
	c := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "PersistentVolumeClaim",
		"metadata": map[string]any{"name": b.Claim},
		"spec": map[string]any{
			"accessModes":      []any{string(corev1.ReadWriteMany)},
			"storageClassName": "",
			"volumeName":       pv.Name,
			"resources":        map[string]any{"requests": map[string]any{"storage": q.String()}},
		},
	}}
	if len(b.Labels) > 0 {
		c.SetLabels(maps.Clone(b.Labels))
	}
	return c
}

// applyOrder ranks kinds so that what others refer to exists first (as
// kubectl and helm order them).
var applyOrder = []string{"Namespace", "NetworkPolicy", "ResourceQuota", "LimitRange", "ServiceAccount", "Secret",
	"ConfigMap", "StorageClass", "PersistentVolume", "PersistentVolumeClaim", "CustomResourceDefinition",
	"ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding", "Service", "DaemonSet", "Pod", "ReplicationController",
	"ReplicaSet", "Deployment", "HorizontalPodAutoscaler", "StatefulSet", "Job", "CronJob", "PodDisruptionBudget", "Ingress"}

func sortForApply(objs []*unstructured.Unstructured) {
	rank := func(o *unstructured.Unstructured) int {
		if i := slices.Index(applyOrder, o.GetKind()); i >= 0 {
			return i
		}
		return len(applyOrder)
	}
	sort.SliceStable(objs, func(i, j int) bool { return rank(objs[i]) < rank(objs[j]) })
}
