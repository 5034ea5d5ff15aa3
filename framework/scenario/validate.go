package scenario

import (
	"fmt"
	"path"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/rwxchaos/rwxchaos/framework/trigger"
)

// validator checks the semantic rules that the decoder cannot: ranges that
// depend on other fields, cross-references, provider/action compatibility.
type validator struct {
	s    *Scenario
	file string
	val  map[string]position
	key  map[string]position
	bad  map[string]bool
	errs ErrorList
	// noSupport skips the support table (tests only).
	noSupport bool
	// on: the fault being checked is fired by a file operation, so the
	// caller selectors apply (and are offered in messages).
	on bool
}

// selectors lists the target selectors that apply to the fault being
// checked.
func (v *validator) selectors() []string {
	var out []string
	for _, s := range Selector("").enumValues() {
		if v.on || (s != string(SelectCaller) && s != string(SelectCallerNode)) {
			out = append(out, s)
		}
	}
	return out
}

// parentPath strips the last ".field", "[i]" or `["key"]` from p.
func parentPath(p string) string {
	if strings.HasSuffix(p, "]") {
		if i := strings.LastIndex(p, "["); i >= 0 {
			return p[:i]
		}
	}
	if i := strings.LastIndex(p, "."); i >= 0 {
		return p[:i]
	}
	return ""
}

// errf records an error for path, placed at its value in the file or, if
// it was not written, at its nearest written ancestor. Errors under a path
// that already failed to decode are dropped: they would only repeat it.
func (v *validator) errf(p, format string, args ...any) {
	v.add(p, false, format, args...)
}

// unsupported records a feature the support table refuses: the file is
// well-formed, but no provider can run it as written.
func (v *validator) unsupported(p, format string, args ...any) {
	v.add(p, true, format, args...)
}

func (v *validator) add(p string, unsupported bool, format string, args ...any) {
	for q := p; ; q = parentPath(q) {
		if v.bad[q] {
			return
		}
		if q == "" {
			break
		}
	}
	var pos position
	if at, ok := v.val[p]; ok {
		pos = at
	} else {
		for q := parentPath(p); ; q = parentPath(q) {
			if at, ok := v.key[q]; ok {
				pos = at
				break
			}
			if at, ok := v.val[q]; ok {
				pos = at
				break
			}
			if q == "" {
				break
			}
		}
	}
	v.errs = append(v.errs, &FieldError{File: v.file, Line: pos.line, Column: pos.col, Path: p, Msg: fmt.Sprintf(format, args...), Unsupported: unsupported})
}

var (
	dnsLabel     = regexp.MustCompile(`^[a-z]([-a-z0-9]*[a-z0-9])?$`)
	dnsSubdomain = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)
	labelName    = regexp.MustCompile(`^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$`)
	labelValue   = regexp.MustCompile(`^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$`)
	routeName    = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)
	quantity     = regexp.MustCompile(`^[0-9]+(\.[0-9]+)?(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$`)
)

const dnsLabelRule = "use lowercase letters, digits and '-', start with a letter, end with a letter or digit, at most 63 characters"

func (v *validator) dnsLabel(p, what, s string) {
	if !dnsLabel.MatchString(s) || len(s) > 63 {
		if s == "" {
			v.errf(p, "is required: %s as a DNS label (%s)", what, dnsLabelRule)
			return
		}
		v.errf(p, "%q is not a valid %s: %s", clip(s), what, dnsLabelRule)
	}
}

func (v *validator) labels(p string, m map[string]string) {
	for _, k := range sortedKeys(m) {
		kp := joinKey(p, k)
		prefix, name, hasPrefix := strings.Cut(k, "/")
		if !hasPrefix {
			name, prefix = prefix, ""
		}
		if (hasPrefix && (!dnsSubdomain.MatchString(prefix) || len(prefix) > 253)) || !labelName.MatchString(name) || len(name) > 63 {
			v.errf(kp, "%q is not a valid label key: an optional DNS-subdomain prefix and '/', then at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit", clip(k))
			continue
		}
		if val := m[k]; !labelValue.MatchString(val) || len(val) > 63 {
			v.errf(kp, "%q is not a valid label value: at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit", clip(val))
		}
	}
}

func (v *validator) validate() {
	s := v.s
	if s.APIVersion != APIVersion {
		v.errf("apiVersion", "must be %q, got %q", APIVersion, clip(s.APIVersion))
	}
	if s.Kind != KindScenario {
		v.errf("kind", "must be %q, got %q", KindScenario, clip(s.Kind))
	}
	v.dnsLabel("metadata.name", "scenario name", s.Metadata.Name)
	v.labels("metadata.labels", s.Metadata.Labels)
	v.cluster()
	v.storage()
	v.workload()
	v.faults()
	v.expect()
	v.run()
	if !v.noSupport {
		v.supported()
	}
}

func (v *validator) cluster() {
	c := &v.s.Cluster
	switch c.Provider {
	case "":
		v.errf("cluster.provider", "is required: local, kind or existing")
	case ProviderLocal, ProviderKind, ProviderExisting:
	default:
		v.errf("cluster.provider", "unknown provider %q; valid: %s", clip(string(c.Provider)), strings.Join(Provider("").enumValues(), ", "))
		return
	}
	if c.Provider != ProviderKind && c.Kind != (KindCluster{}) {
		v.errf("cluster.kind", "only applies to provider kind; remove it or set provider: kind")
	}
	if c.Provider != ProviderExisting && !isZeroExisting(c.Existing) {
		v.errf("cluster.existing", "only applies to provider existing; remove it or set provider: existing")
	}
	if c.Provider == ProviderLocal && c.Timings != (Timings{}) {
		v.errf("cluster.timings", "only applies to Kubernetes providers (kind, existing); provider local has no nodes")
	}
	if c.Provider == ProviderKind {
		v.dnsLabel("cluster.kind.name", "cluster name", c.Kind.Name)
		if c.Kind.Workers < 1 || c.Kind.Workers > 10 {
			v.errf("cluster.kind.workers", "must be between 1 and 10, got %d", c.Kind.Workers)
		}
		if c.Kind.Fresh && c.Kind.Reuse {
			v.errf("cluster.kind.fresh", "contradicts reuse: a scenario either needs a new cluster (fresh) or adopts a running one (reuse); remove one")
		}
	}
	if c.Provider == ProviderExisting {
		if len(c.Existing.Namespaces) == 0 {
			v.errf("cluster.existing.namespaces", "is required: list the namespaces the framework may touch (at least one)")
		}
		seen := map[string]int{}
		for i, ns := range c.Existing.Namespaces {
			p := fmt.Sprintf("cluster.existing.namespaces[%d]", i)
			v.dnsLabel(p, "namespace", ns)
			if j, dup := seen[ns]; dup {
				v.errf(p, "namespace %q is listed twice (also at [%d])", clip(ns), j)
			}
			seen[ns] = i
		}
	}
	if c.Provider != ProviderLocal {
		t := c.Timings
		if t.NodeMonitorGracePeriod != 0 && t.NodeMonitorGracePeriod.D() < 10*time.Second {
			v.errf("cluster.timings.nodeMonitorGracePeriod", "must be at least 10s, got %s: kubelets report every 10s, so a shorter grace period makes healthy nodes flap NotReady", t.NodeMonitorGracePeriod)
		}
	}
}

func isZeroExisting(e ExistingCluster) bool {
	return e.Kubeconfig == "" && e.Context == "" && len(e.Namespaces) == 0
}

func orList(s []string) string {
	switch len(s) {
	case 0:
		return ""
	case 1:
		return s[0]
	}
	return strings.Join(s[:len(s)-1], ", ") + " or " + s[len(s)-1]
}

func (v *validator) storage() {
	st := &v.s.Storage
	external := v.s.Workload.Mode == ModeExternal
	if st.Backend == BackendStorageClass {
		if st.StorageClassName == "" && !external {
			v.errf("storage.storageClassName", "is required with backend storageclass: name the StorageClass to provision the ReadWriteMany volume from")
		}
	} else if st.StorageClassName != "" {
		v.errf("storage.storageClassName", "only applies to backend storageclass; remove it")
	}
	if st.StorageClassName != "" && (!dnsSubdomain.MatchString(st.StorageClassName) || len(st.StorageClassName) > 253) {
		v.errf("storage.storageClassName", "%q is not a valid StorageClass name (a DNS subdomain: lowercase letters, digits, '-' and '.')", clip(st.StorageClassName))
	}
	if len(st.MountOptions) > 0 && st.Backend != BackendNFS && st.Backend != BackendStorageClass && st.Backend != "" {
		v.errf("storage.mountOptions", "only apply to backends nfs and storageclass; backend %s is not mounted over NFS", st.Backend)
	} else {
		v.mountOptions(st.MountOptions)
	}
	v.nfs(st)
	if !quantity.MatchString(st.Size) {
		v.errf("storage.size", "%q is not a size; write a Kubernetes quantity such as 1Gi or 500Mi", clip(st.Size))
	}
}

func (v *validator) nfs(st *StorageSpec) {
	n := &st.NFS
	if st.Backend != BackendNFS {
		if *n != (NFSSpec{}) {
			v.errf("storage.nfs", "only applies to backend nfs; this scenario uses backend %s", st.Backend)
		}
		return
	}
	wholeSeconds := func(d Duration) bool { return d.D()%time.Second == 0 }
	if l := n.Lease.D(); l < time.Second || l > 180*time.Second || !wholeSeconds(n.Lease) {
		v.errf("storage.nfs.lease", "%s is not a lease nfs-ganesha can run with: whole seconds from 1s to 180s", n.Lease)
	}
	if g := n.Grace.D(); g > 180*time.Second || !wholeSeconds(n.Grace) {
		v.errf("storage.nfs.grace", "%s is not a grace period nfs-ganesha can run with: whole seconds, at most 180s", n.Grace)
	} else if g < n.Lease.D() {
		v.errf("storage.nfs.grace", "%s is shorter than the lease (%s): a restarted server would hand out locks before every client had a chance to reclaim its own; make it at least the lease", n.Grace, n.Lease)
	}
	if n.Client == NFSClientUserspace {
		for i, o := range st.MountOptions {
			if why := UserspaceNFSOption(o); why != "" {
				v.errf(fmt.Sprintf("storage.mountOptions[%d]", i), "%s; remove it or use storage.nfs.client kernel", why)
			}
		}
	}
}

// UserspaceNFSOption says why the userspace NFS client (rwxchaos-nfs)
// cannot honour mount option o, or "" when it does: it speaks NFSv4.1 only,
// always mounts hard, and has one attribute-cache timeout (actimeo; noac is
// actimeo=0). An option it would ignore is refused rather than silently
// dropped.
func UserspaceNFSOption(o string) string {
	k, val, _ := strings.Cut(o, "=")
	switch k {
	case "hard", "noac", "actimeo":
		return ""
	case "nfsvers", "vers":
		if val == "4.1" {
			return ""
		}
		return fmt.Sprintf("%s: the userspace NFS client speaks NFSv4.1 only (nfsvers=4.1)", o)
	case "soft":
		return "soft: the userspace NFS client always mounts hard (calls are retried until the server answers)"
	}
	return fmt.Sprintf("%s: the userspace NFS client does not implement this option (it honours nfsvers=4.1, hard, actimeo and noac)", o)
}

var numericMountOptions = map[string]bool{
	"timeo": true, "retrans": true, "actimeo": true, "acregmin": true, "acregmax": true,
	"acdirmin": true, "acdirmax": true, "rsize": true, "wsize": true, "port": true, "retry": true,
}

func (v *validator) mountOptions(opts []string) {
	seen := map[string]int{}
	for i, o := range opts {
		p := fmt.Sprintf("storage.mountOptions[%d]", i)
		if o == "" || strings.ContainsAny(o, " \t,") {
			if strings.Contains(o, ",") {
				v.errf(p, "%q holds several options; give one option per list entry", clip(o))
			} else {
				v.errf(p, "%q is not a mount option (one option per entry, no spaces)", clip(o))
			}
			continue
		}
		k, val, hasVal := strings.Cut(o, "=")
		switch {
		case k == "nfsvers" || k == "vers":
			if !contains([]string{"3", "4", "4.0", "4.1", "4.2"}, val) {
				v.errf(p, "%s=%s is not an NFS version; use 3, 4, 4.0, 4.1 or 4.2", k, clip(val))
			}
			k = "nfsvers"
		case numericMountOptions[k]:
			if n, err := strconv.ParseUint(val, 10, 32); !hasVal || err != nil {
				v.errf(p, "%s needs a whole number, as in %s=600", k, k)
			} else if k == "timeo" && n == 0 {
				v.errf(p, "timeo=0 is not allowed; timeo is in tenths of a second, for example timeo=600")
			}
		case k == "ro":
			v.errf(p, "ro makes the volume read-only, but every component writes to it; remove it")
		case k == "hard" || k == "soft":
			if j, ok := seen["hard/soft"]; ok {
				v.errf(p, "%s conflicts with %s in mountOptions[%d]; keep one", k, opts[j], j)
			}
			seen["hard/soft"] = i
			continue
		}
		if j, ok := seen[k]; ok {
			v.errf(p, "option %s repeats mountOptions[%d]; keep one", k, j)
		}
		seen[k] = i
	}
}

func (v *validator) workload() {
	w := &v.s.Workload
	prov := v.s.Cluster.Provider
	external := w.Mode == ModeExternal
	if external {
		if prov == ProviderLocal {
			v.errf("workload.mode", "mode external needs provider kind or existing: an already-deployed app runs in a cluster")
		}
		if w.Namespace == "" {
			v.errf("workload.namespace", "is required with mode external: the namespace the app runs in")
		}
		x := w.External
		if x.PVC == "" {
			v.errf("workload.external.pvc", "is required with mode external: the app's ReadWriteMany PersistentVolumeClaim")
		} else if !dnsSubdomain.MatchString(x.PVC) || len(x.PVC) > 253 {
			v.errf("workload.external.pvc", "%q is not a valid PVC name (a DNS subdomain: lowercase letters, digits, '-' and '.')", clip(x.PVC))
		}
		v.volumePath("workload.external.inputPath", x.InputPath)
		v.volumePath("workload.external.outputPath", x.OutputPath)
		if x.InputPath != "" && path.Clean(x.InputPath) == path.Clean(x.OutputPath) {
			v.errf("workload.external.outputPath", "must differ from inputPath, or outputs cannot be told from inputs")
		}
		if x.MountPath != "" && !path.IsAbs(x.MountPath) {
			v.errf("workload.external.mountPath", "%q must be an absolute path inside the pods, such as /data", clip(x.MountPath))
		}
		v.roleSelectors(x.Selectors)
		v.deployment(prov, &x)
		if w.Engine != (EngineSpec{}) {
			v.errf("workload.engine", "only applies to mode pipeline: the external app schedules its own engine")
		}
		if len(w.Defects) > 0 {
			v.errf("workload.defects", "only apply to mode pipeline: defects are built into the framework's own pipeline")
		}
	} else {
		if !isZeroExternal(w.External) {
			v.errf("workload.external", "only applies to mode external; remove it or set mode: external")
		}
	}
	if w.Namespace != "" {
		if w.Mode == ModePublishConsume {
			v.errf("workload.namespace", "does not apply to mode publish-consume: the kind environment runs it in a namespace of its own; remove it")
		} else if prov == ProviderLocal {
			v.errf("workload.namespace", "does not apply to provider local (no Kubernetes); remove it")
		} else {
			v.dnsLabel("workload.namespace", "namespace", w.Namespace)
			if prov == ProviderExisting && len(v.s.Cluster.Existing.Namespaces) > 0 && !contains(v.s.Cluster.Existing.Namespaces, w.Namespace) {
				v.errf("workload.namespace", "namespace %q is not in cluster.existing.namespaces (%s); add it there or use one of those", clip(w.Namespace), strings.Join(v.s.Cluster.Existing.Namespaces, ", "))
			}
		}
	}
	publish := w.Mode == ModePublishConsume
	switch {
	case publish:
		v.publish()
	case !isZeroPublish(w.Publish):
		v.errf("workload.publish", "only applies to mode publish-consume; remove it or set mode: publish-consume")
	}
	if !external && !publish {
		v.engine()
	}
	if !publish {
		v.traffic()
	}
	seen := map[Defect]int{}
	for i, d := range w.Defects {
		p := fmt.Sprintf("workload.defects[%d]", i)
		if j, dup := seen[d]; dup {
			v.errf(p, "defect %s is listed twice (also at [%d])", d, j)
		}
		seen[d] = i
		switch {
		case publish && !d.IsPublish() && contains(Defect("").enumValues(), string(d)):
			v.errf(p, "%s is a defect of the pipeline; mode publish-consume has %s", d, orList(defectNames(PublishDefects())))
		case !publish && d.IsPublish():
			v.errf(p, "%s is a defect of the publisher; it needs mode publish-consume", d)
		}
	}
	if _, a := seen[DefectPublishInPlace]; a {
		if j, b := seen[DefectRenameWithoutFsync]; b {
			v.errf(fmt.Sprintf("workload.defects[%d]", j), "publish-in-place and rename-without-fsync are two ways to write a file; pick one")
		}
	}
}

func defectNames(ds []Defect) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = string(d)
	}
	return out
}

func isZeroPublish(p PublishSpec) bool { return p == PublishSpec{} }

// publish checks the publish/consume workload (mode publish-consume).
func (v *validator) publish() {
	s := v.s
	w := &s.Workload
	prov := s.Cluster.Provider
	if w.Engine != (EngineSpec{}) {
		v.errf("workload.engine", "only applies to mode pipeline: mode publish-consume has a publisher and consumers (workload.publish)")
	}
	if w.Replicas != (Replicas{}) {
		v.errf("workload.replicas", "only applies to mode pipeline; set workload.publish.consumers (provider local) instead")
	}
	if !isZeroTraffic(w.Traffic) {
		v.errf("workload.traffic", "only applies to modes pipeline and external: in mode publish-consume the publisher is the traffic (workload.publish.rate and versions)")
	}
	p := &w.Publish
	if p.Rate <= 0 || p.Rate > 100 {
		v.errf("workload.publish.rate", "must be more than 0 and at most 100 rounds per second, got %g", p.Rate)
	}
	if p.LoadRate <= 0 || p.LoadRate > 1000 {
		v.errf("workload.publish.loadRate", "must be more than 0 and at most 1000 loads per second, got %g", p.LoadRate)
	}
	if p.Files < 1 || p.Files > 100 {
		v.errf("workload.publish.files", "must be between 1 and 100, got %d", p.Files)
	}
	if p.Size < 256 || p.Size > 16<<20 {
		v.errf("workload.publish.size", "must be between 256 and 16777216 bytes, got %d", p.Size)
	}
	if p.Versions < 1 {
		v.errf("workload.publish.versions", "must be at least 1, got %d", p.Versions)
	}
	switch {
	case p.WriteTime < 0 || p.WriteTime.D() > 10*time.Second:
		v.errf("workload.publish.writeTime", "%s is out of range: use 0 to 10s", p.WriteTime)
	case p.Rate > 0 && p.WriteTime.D()*time.Duration(max(p.Files, 1)) >= time.Duration(float64(time.Second)/p.Rate):
		v.errf("workload.publish.writeTime", "%s for each of %d files does not fit in a round (1/rate = %s); lower writeTime or rate", p.WriteTime, p.Files,
			time.Duration(float64(time.Second)/p.Rate).Round(time.Millisecond))
	}
	if prov == ProviderKind && p.Consumers != 0 {
		v.errf("workload.publish.consumers", "does not apply to provider kind: a consumer runs on every worker (set cluster.kind.workers)")
	} else if prov == ProviderLocal && (p.Consumers < 1 || p.Consumers > 20) {
		v.errf("workload.publish.consumers", "must be between 1 and 20, got %d", p.Consumers)
	}
}

func isZeroTraffic(t TrafficSpec) bool {
	return t.Count == 0 && t.Rate == 0 && t.Sizes == (SizeRange{}) && t.Mix == (Mix{}) && len(t.Routes) == 0 && t.Concurrency == 0
}

func isZeroExternal(x ExternalSpec) bool {
	return x.PVC == "" && x.InputPath == "" && x.OutputPath == "" && x.MountPath == "" && x.Match == "" && x.HolderFile == "" &&
		len(x.Selectors) == 0 && len(x.Manifests) == 0 && len(x.Images) == 0 && len(x.Ready.CronJobs) == 0 && x.Ready.Timeout == 0 && x.Upload == (UploadSpec{})
}

// roleSelectors checks the role names and their labels.
func (v *validator) roleSelectors(sel RoleSelectors) {
	for _, role := range sortedKeys(sel) {
		p := joinKey("workload.external.selectors", role)
		if !dnsLabel.MatchString(role) || len(role) > 63 {
			v.errf(p, "%q is not a role name: %s", clip(role), dnsLabelRule)
			continue
		}
		if contains(endpointKeywords, role) {
			v.errf(p, "%q is a partition keyword; name the role differently", role)
			continue
		}
		if len(sel[role]) == 0 {
			v.errf(p, "needs at least one label: the labels every pod of role %s carries", role)
			continue
		}
		v.labels(p, sel[role])
	}
}

// imageRef is a loose docker reference check: what docker tag would take.
var imageRef = regexp.MustCompile(`^[a-z0-9]+([._/:@-][A-Za-z0-9_.-]+)*$`)

// deployment checks what the framework needs to deploy an external app
// itself (provider kind), and that nothing of it is set where the app is
// already deployed (provider existing).
func (v *validator) deployment(prov Provider, x *ExternalSpec) {
	const p = "workload.external"
	if prov != ProviderKind {
		for _, f := range []struct {
			name string
			set  bool
		}{{"manifests", len(x.Manifests) > 0}, {"images", len(x.Images) > 0}, {"ready", len(x.Ready.CronJobs) > 0 || x.Ready.Timeout != 0}, {"holderFile", x.HolderFile != ""}, {"upload", x.Upload != (UploadSpec{})}} {
			if f.set && prov != "" {
				v.errf(p+"."+f.name, "only applies to provider kind, where the framework deploys the app from its manifests; with provider %s the app is already deployed", prov)
			}
		}
		return
	}
	if h := x.HolderFile; h != "" && (path.IsAbs(h) || path.Clean(h) == "." || strings.HasPrefix(path.Clean(h), "..")) {
		v.errf(p+".holderFile", "%q must be a file relative to the volume root, such as .lock/owner", clip(h))
	}
	if u := x.Upload; u != (UploadSpec{}) {
		switch {
		case u.Service == "":
			v.errf(p+".upload.service", "is required with upload: the app's Service that takes uploads")
		default:
			v.dnsLabel(p+".upload.service", "Service name", u.Service)
		}
		if u.Port == "" {
			v.errf(p+".upload.port", "is required with upload: the Service's port, by name or number")
		}
		if !strings.HasPrefix(u.Path, "/") {
			v.errf(p+".upload.path", "%q must be an absolute request path, such as /upload", clip(u.Path))
		}
	}
	for i, c := range x.Ready.CronJobs {
		if !dnsSubdomain.MatchString(c) || len(c) > 253 {
			v.errf(fmt.Sprintf("%s.ready.cronJobs[%d]", p, i), "%q is not a CronJob name (a DNS subdomain)", clip(c))
		}
	}
	if len(x.Manifests) == 0 {
		v.errf(p+".manifests", "is required with provider kind: the app's kustomization directories or manifest files, relative to the scenario file")
	}
	seen := map[string]int{}
	for i, m := range x.Manifests {
		mp := fmt.Sprintf("%s.manifests[%d]", p, i)
		if strings.TrimSpace(m) == "" {
			v.errf(mp, "is empty: give a kustomization directory or a YAML file")
			continue
		}
		if j, dup := seen[path.Clean(m)]; dup {
			v.errf(mp, "%q is listed twice (also at [%d])", clip(m), j)
		}
		seen[path.Clean(m)] = i
	}
	for i, im := range x.Images {
		ip := fmt.Sprintf("%s.images[%d]", p, i)
		var set []string
		for _, f := range []struct{ name, val string }{{"docker", im.Docker}, {"archive", im.Archive}, {"lab", string(im.Lab)}} {
			if f.val != "" {
				set = append(set, f.name)
			}
		}
		switch {
		case len(set) == 0:
			v.errf(ip, "set one of docker (a local image), archive (a docker save file) or lab (toolbox or pipeline)")
		case len(set) > 1:
			v.errf(ip, "set exactly one of docker, archive and lab, not %s", strings.Join(set, " and "))
		}
		if im.Docker != "" && !imageRef.MatchString(im.Docker) {
			v.errf(ip+".docker", "%q is not an image reference such as bots-edi:dev or registry.example/bots:4.0", clip(im.Docker))
		}
		if im.As != "" {
			if im.Archive != "" {
				v.errf(ip+".as", "does not apply to archive: an archive loads under the names it was saved with (docker save NAME:TAG)")
			} else if !imageRef.MatchString(im.As) {
				v.errf(ip+".as", "%q is not an image reference such as registry.example/bots:latest", clip(im.As))
			}
		}
	}
}

// isRole reports whether name is a role of the workload: the pipeline's
// three, or a selector of the external app.
func (v *validator) isRole(name string) bool {
	w := &v.s.Workload
	if w.Mode == ModeExternal {
		return len(w.External.Selectors[name]) > 0
	}
	return contains(wellKnownRoles, name)
}

func (v *validator) roleNames() string {
	w := &v.s.Workload
	if w.Mode == ModeExternal {
		if len(w.External.Selectors) == 0 {
			return "none: name roles in workload.external.selectors"
		}
		return strings.Join(sortedKeys(w.External.Selectors), ", ")
	}
	return strings.Join(wellKnownRoles, ", ")
}

func (v *validator) volumePath(p, s string) {
	switch {
	case s == "":
		v.errf(p, "is required with mode external: a directory relative to the volume root")
	case path.IsAbs(s) || path.Clean(s) == "." || strings.HasPrefix(path.Clean(s), ".."):
		v.errf(p, "%q must be a directory relative to the volume root, such as bots/input", clip(s))
	}
}

func (v *validator) engine() {
	e := &v.s.Workload.Engine
	local := v.s.Cluster.Provider == ProviderLocal
	if rest, ok := strings.CutPrefix(e.Schedule, "every"); ok {
		d, err := time.ParseDuration(strings.TrimSpace(rest))
		switch {
		case !local && v.s.Cluster.Provider != "":
			v.errf("workload.engine.schedule", "%q: interval schedules need provider local; a Kubernetes CronJob takes a 5-field cron expression such as \"* * * * *\"", clip(e.Schedule))
		case err != nil || !strings.HasPrefix(rest, " "):
			v.errf("workload.engine.schedule", "%q is not an interval; write \"every\" and a duration, such as \"every 1s\"", clip(e.Schedule))
		case d < 100*time.Millisecond:
			v.errf("workload.engine.schedule", "%q is too frequent; run the engine at most every 100ms", clip(e.Schedule))
		}
	} else if local {
		v.errf("workload.engine.schedule", "%q: provider local runs the engine on an interval; write \"every 1s\" (cron expressions are for CronJobs)", clip(e.Schedule))
	} else if msg := checkCron(e.Schedule); msg != "" {
		v.errf("workload.engine.schedule", "%q is not a cron schedule: %s", clip(e.Schedule), msg)
	}
	if e.LeaseTTL.D() < 100*time.Millisecond {
		v.errf("workload.engine.leaseTTL", "must be at least 100ms, got %s", e.LeaseTTL)
	}
	if e.StepDelay < 0 || e.StepDelay.D() > 10*time.Second {
		v.errf("workload.engine.stepDelay", "%s is out of range: use 0 to 10s (it slows every step of every file)", e.StepDelay)
	}
	if e.Heartbeat > 0 && 2*e.Heartbeat > e.LeaseTTL {
		v.errf("workload.engine.heartbeat", "%s must be at most half of leaseTTL (%s), or one late beat loses a live holder its lease (the engine refuses it); leaseTTL/3 is a good value", e.Heartbeat, e.LeaseTTL)
	}
}

var cronMacros = []string{"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"}

var cronFields = []struct {
	name     string
	min, max int
	names    []string
}{
	{"minute", 0, 59, nil},
	{"hour", 0, 23, nil},
	{"day of month", 1, 31, nil},
	{"month", 1, 12, []string{"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"}},
	{"day of week", 0, 7, []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}},
}

// checkCron returns what is wrong with a standard 5-field cron expression,
// or "".
func checkCron(expr string) string {
	if strings.HasPrefix(expr, "@") {
		if contains(cronMacros, expr) {
			return ""
		}
		return "unknown macro; use one of " + strings.Join(cronMacros, ", ")
	}
	fields := strings.Fields(expr)
	if len(fields) != 5 {
		return fmt.Sprintf("want 5 fields (minute hour day-of-month month day-of-week), got %d", len(fields))
	}
	for i, f := range fields {
		spec := cronFields[i]
		for _, part := range strings.Split(f, ",") {
			rng, step, hasStep := strings.Cut(part, "/")
			if hasStep {
				if n, err := strconv.Atoi(step); err != nil || n < 1 {
					return fmt.Sprintf("%s field %q has a bad step", spec.name, clip(f))
				}
			}
			if rng == "*" || rng == "?" {
				continue
			}
			lo, hi, isRange := strings.Cut(rng, "-")
			for _, x := range []string{lo, hi} {
				if x == "" && !isRange && x == hi {
					continue
				}
				if n, err := strconv.Atoi(x); err == nil {
					if n < spec.min || n > spec.max {
						return fmt.Sprintf("%s %d is out of range %d-%d", spec.name, n, spec.min, spec.max)
					}
				} else if !contains(spec.names, strings.ToLower(x)) {
					return fmt.Sprintf("%s field %q is not a number, range, list or step", spec.name, clip(f))
				}
			}
		}
	}
	return ""
}

func (v *validator) traffic() {
	t := &v.s.Workload.Traffic
	if t.Rate <= 0 || t.Rate > 10000 {
		v.errf("workload.traffic.rate", "must be more than 0 and at most 10000 uploads per second, got %g", t.Rate)
	}
	if t.Count < 1 {
		v.errf("workload.traffic.count", "must be at least 1, got %d", t.Count)
	}
	if t.Concurrency < 1 {
		v.errf("workload.traffic.concurrency", "must be at least 1, got %d", t.Concurrency)
	}
	if t.Sizes.Min > t.Sizes.Max {
		v.errf("workload.traffic.sizes.max", "%d is smaller than min (%d)", t.Sizes.Max, t.Sizes.Min)
	}
	if sum := t.Mix.X12 + t.Mix.Edifact; sum != 100 {
		v.errf("workload.traffic.mix", "must sum to 100 percent, got x12 %d + edifact %d = %d", t.Mix.X12, t.Mix.Edifact, sum)
	}
	seen := map[string]int{}
	for i, r := range t.Routes {
		p := fmt.Sprintf("workload.traffic.routes[%d]", i)
		if !routeName.MatchString(r) || len(r) > 64 {
			v.errf(p, "%q is not a route name: letters, digits, '_', '-' and '.', starting with a letter or digit, at most 64 characters", clip(r))
		}
		if j, dup := seen[r]; dup {
			v.errf(p, "route %q is listed twice (also at [%d])", clip(r), j)
		}
		seen[r] = i
	}
}

var endpointKeywords = []string{"control-plane", "nodes", "storage", string(SelectEngineNode), string(SelectLockHolder), string(SelectRandomWorker), string(SelectRandomWebserver),
	string(SelectPublisherNode), string(SelectConsumerNode)}

// MaxFaults is the most faults a scenario may hold. Real ones have a
// handful; a generated file with thousands is a mistake, and is reported
// once instead of once per fault.
const MaxFaults = 1000

func (v *validator) faults() {
	s := v.s
	if len(s.Faults) > MaxFaults {
		v.errf("faults", "holds %d faults; a scenario holds at most %d (use schedule.every and times to repeat one)", len(s.Faults), MaxFaults)
		return
	}
	names := map[string]int{}
	for i := range s.Faults {
		f := &s.Faults[i]
		p := fmt.Sprintf("faults[%d]", i)
		if f.Name == SteadyStateAfter {
			v.errf(p+".name", "%q is reserved for schedule.after; pick another name", SteadyStateAfter)
		} else {
			v.dnsLabel(p+".name", "fault name", f.Name)
		}
		if j, dup := names[f.Name]; dup && f.Name != "" {
			v.errf(p+".name", "duplicate fault name %q (also faults[%d]); names must be unique", clip(f.Name), j)
		} else {
			names[f.Name] = i
		}
		v.fault(p, f)
	}
	v.timeline(names)
}

func (v *validator) fault(p string, f *FaultSpec) {
	s := v.s
	v.on = f.Schedule.On != nil
	defer func() { v.on = false }()
	info, ok := actions[f.Action]
	if !ok {
		if f.Action == "" {
			v.errf(p+".action", "is required; valid: %s", strings.Join(Action("").enumValues(), ", "))
		}
		return
	}
	// duration
	switch info.duration {
	case durRequired:
		if f.Duration == 0 {
			v.errf(p+".duration", "%s needs a duration (more than 0): how long until it is healed", f.Action)
		}
	case durZero:
		if f.Duration != 0 {
			v.errf(p+".duration", "%s is instant; remove duration (what was hit comes back by itself)", f.Action)
		}
	}

	// target, from/to, direction
	t := &f.Target
	switch info.target {
	case targetNone:
		if *t != (TargetSpec{}) {
			v.errf(p+".target", "%s hits the storage server itself; remove target (to cut one node off the storage use storage-cutoff)", f.Action)
		}
	case targetEndpoints:
		if *t != (TargetSpec{}) {
			v.errf(p+".target", "partition takes from and to instead of target")
		}
		v.endpoint(p+".from", f.From)
		v.endpoint(p+".to", f.To)
		if f.From != "" && f.From == f.To {
			v.errf(p+".to", "is the same as from (%q); a partition needs two different sides", clip(f.From))
		}
	default:
		v.target(p+".target", f.Action, info.target, t)
	}
	if info.target != targetEndpoints && f.From != "" {
		v.errf(p+".from", "only applies to action partition")
	}
	switch {
	case f.Action == ActionChaosPartition:
		if f.To == "" {
			v.errf(p+".to", "is required for chaos-partition: the role the target is cut off from (webserver, engine or jobqueue)")
		} else if s.Workload.Mode != ModeExternal && !contains(wellKnownRoles, f.To) {
			v.errf(p+".to", "%q is not a role; chaos-partition cuts the target off webserver, engine or jobqueue", clip(f.To))
		} else {
			v.roleExists(p+".to", Role(f.To))
		}
	case info.target != targetEndpoints && f.To != "":
		v.errf(p+".to", "only applies to actions partition and chaos-partition")
	}
	if f.Direction != "" && f.Action != ActionPartition && f.Action != ActionChaosPartition {
		v.errf(p+".direction", "only applies to actions partition and chaos-partition")
	}

	// chaos io parameters
	io := f.Action == ActionChaosIOLatency || f.Action == ActionChaosIOFault
	if f.Action == ActionChaosIOLatency && f.Latency == 0 {
		v.errf(p+".latency", "is required for chaos-io-latency: the delay added to each file operation, such as 100ms")
	} else if f.Action != ActionChaosIOLatency && f.Latency != 0 {
		v.errf(p+".latency", "only applies to action chaos-io-latency")
	}
	errnoAction := f.Action == ActionChaosIOFault || f.Action == ActionStorageError
	if errnoAction && f.Errno == 0 {
		v.errf(p+".errno", "is required for %s: the errno to return, such as 5 (EIO) or 28 (ENOSPC)", f.Action)
	} else if !errnoAction && f.Errno != 0 {
		v.errf(p+".errno", "only applies to actions chaos-io-fault and storage-error")
	}
	if !io && f.Percent != 0 {
		v.errf(p+".percent", "only applies to actions chaos-io-latency and chaos-io-fault")
	}
	if io && s.Workload.Mode == ModeExternal && s.Workload.External.MountPath == "" {
		v.errf(p+".action", "%s needs workload.external.mountPath: where the volume is mounted in the app's pods", f.Action)
	}

	// schedule
	sc := &f.Schedule
	if sc.WhileRunning != "" {
		if prov := s.Cluster.Provider; prov != "" && prov != ProviderKind {
			v.errf(p+".schedule.whileRunning", "needs provider kind, where the framework watches the app's pods; this scenario uses provider %s", s.Cluster.Provider)
		} else {
			v.roleExists(p+".schedule.whileRunning", sc.WhileRunning)
		}
	}
	if sc.On != nil {
		v.trigger(p, f)
		return
	}
	if f.Action.NeedsTrigger() {
		v.errf(p+".schedule.on", "is required for %s: it acts on the file operation that fires it; say which one (op, path)", f.Action)
	}
	if sc.Every != 0 && sc.Times == 0 {
		v.errf(p+".schedule.every", "needs times: how many times to fire in total")
	}
	if sc.Times != 0 && sc.Every == 0 {
		v.errf(p+".schedule.times", "needs every: the pause between firings")
	}
}

// triggerActions lists the actions schedule.on can fire, for messages.
func triggerActions() string {
	var out []string
	for _, a := range actionOrder {
		if a.Triggerable() {
			out = append(out, string(a))
		}
	}
	return orList(out)
}

// trigger checks a fault fired by a file operation (schedule.on).
func (v *validator) trigger(p string, f *FaultSpec) {
	sc, on := &f.Schedule, f.Schedule.On
	pp := p + ".schedule.on"
	// Where a file operation can fire a fault (a storage layer in every
	// operation's path) is the support table's (feature trigger): supported
	// reports it at pp.
	if !f.Action.Triggerable() && f.Action != "" {
		v.errf(p+".action", "%s cannot be fired by a file operation; with schedule.on use %s", f.Action, triggerActions())
	}
	if f.Action == ActionNodePause && on.When == WhenBefore {
		v.errf(pp+".when", "node-pause cannot land before the operation: a process waiting on a held file call cannot be frozen by the cgroup freezer; use when: after, or process-pause")
	}
	if on.Path != "" {
		if err := trigger.Glob(on.Path).Check(); err != nil {
			v.errf(pp+".path", "%v", err)
		}
	}
	if on.By != "" {
		v.roleExists(pp+".by", on.By)
	}
	if sc.Every != 0 {
		v.errf(p+".schedule.every", "does not apply with schedule.on: use on.every, which counts file operations")
	}
	if sc.Times > 1 && on.Every == 0 {
		v.errf(p+".schedule.times", "%d firings need on.every: fire again at every on.every-th matching call", sc.Times)
	}
	if on.Every != 0 && sc.Times == 0 {
		v.errf(pp+".every", "needs schedule.times: how many firings at most")
	}
}

// endpoint checks one side of a partition.
func (v *validator) endpoint(p, e string) {
	s := v.s
	switch {
	case e == "":
		v.errf(p, "is required for partition: control-plane, nodes, storage, a worker (worker-1, worker-2, ...), or %s", strings.Join(v.selectors(), ", "))
	case e == "storage":
		if s.Storage.Backend != BackendNFS {
			v.errf(p, "storage is only on the network with backend nfs (this scenario uses %s); to cut a node off fuse storage use storage-cutoff", s.Storage.Backend)
		}
	case e == string(SelectLockHolder):
		v.needLockHolder(p)
	case e == string(SelectEngineNode):
		v.engineNodeExists(p)
	case e == string(SelectRandomWebserver):
		v.needPipeline(p, e)
	case e == string(SelectPublisherNode) || e == string(SelectConsumerNode):
		v.needPublish(p, e)
	case e == string(SelectCallerNode):
		if !v.on {
			v.errf(p, "caller-node needs schedule.on: it is the node of the process whose file operation fired the fault")
		}
	case contains(endpointKeywords, e):
	case v.isRole(e):
		// the node running a pod of that role
	case s.Cluster.Provider == ProviderKind:
		v.nodeRef(p, e, endpointKeywords)
	}
}

// needPipeline: a selector of the pipeline's pods; mode publish-consume
// has its own.
func (v *validator) needPipeline(p, what string) {
	if v.s.Workload.Mode == ModePublishConsume {
		v.errf(p, "%s needs mode pipeline; mode publish-consume has %s and %s", what, SelectPublisherNode, SelectConsumerNode)
	}
}

func (v *validator) needPublish(p, what string) {
	if v.s.Workload.Mode != ModePublishConsume {
		v.errf(p, "%s needs mode publish-consume (it names where the publisher or a consumer runs)", what)
	}
}

// engineNodeExists checks that engine-node can be resolved: an external
// app needs an engine or a jobqueue selector.
func (v *validator) engineNodeExists(p string) {
	w := &v.s.Workload
	switch {
	case w.Mode == ModePublishConsume:
		v.needPipeline(p, string(SelectEngineNode))
	case w.Mode == ModeExternal && len(w.External.Selectors.Of(RoleEngine)) == 0 && len(w.External.Selectors.Of(RoleJobqueue)) == 0:
		v.errf(p, "engine-node needs workload.external.selectors.engine (or jobqueue): the labels of the app's engine pods")
	}
}

// needLockHolder: lock-holder needs the pipeline's lease, or an external
// app that names its holder in holderFile.
func (v *validator) needLockHolder(p string) {
	w := &v.s.Workload
	switch {
	case w.Mode == ModePublishConsume:
		v.needPipeline(p, string(SelectLockHolder))
	case w.Mode == ModeExternal && w.External.HolderFile == "":
		v.errf(p, "lock-holder needs mode pipeline, or workload.external.holderFile: the framework cannot see an external app's lock otherwise")
	}
}

// roleExists checks that the workload has at least one instance of role.
func (v *validator) roleExists(p string, r Role) int {
	w := &v.s.Workload
	if w.Mode == ModeExternal {
		if len(w.External.Selectors.Of(r)) == 0 {
			others := ""
			if len(w.External.Selectors) > 0 {
				others = " (roles with selectors: " + v.roleNames() + ")"
			}
			v.errf(p, "role %s needs workload.external.selectors.%s: the labels of its pods%s", clip(string(r)), clip(string(r)), others)
		}
		return -1 // unknown
	}
	roles := wellKnownRoles
	if w.Mode == ModePublishConsume {
		roles = publishRoles
	}
	if !contains(roles, string(r)) {
		switch {
		case w.Mode == ModePublishConsume && contains(wellKnownRoles, string(r)):
			v.errf(p, "role %s is the pipeline's; mode publish-consume has roles publisher and consumer", r)
		case w.Mode != ModePublishConsume && contains(publishRoles, string(r)):
			v.errf(p, "role %s needs mode publish-consume; the pipeline's roles are webserver, engine and jobqueue", r)
		default:
			v.errf(p, "unknown role %q%s; valid: %s", clip(string(r)), suggest(string(r), roles), strings.Join(roles, ", "))
		}
		return -1
	}
	switch r {
	case RolePublisher:
		return 1
	case RoleConsumer:
		if v.s.Cluster.Provider == ProviderKind {
			return v.s.Cluster.Kind.Workers
		}
		return w.Publish.Consumers
	case RoleEngine:
		return 1
	case RoleWebserver:
		return w.Replicas.Webserver
	case RoleJobqueue:
		if w.Replicas.Jobqueue != nil {
			if *w.Replicas.Jobqueue == 0 {
				v.errf(p, "there is no jobqueue to hit: workload.replicas.jobqueue is 0")
			}
			return *w.Replicas.Jobqueue
		}
		return 1
	}
	return -1
}

func (v *validator) target(p string, a Action, kind targetKind, t *TargetSpec) {
	s := v.s
	var set []string
	if t.Role != "" {
		set = append(set, "role")
	}
	if t.Node != "" {
		set = append(set, "node")
	}
	if t.Select != "" {
		set = append(set, "select")
	}
	processSelect := []string{string(SelectLockHolder), string(SelectRandomWebserver)}
	if v.on {
		processSelect = append(processSelect, string(SelectCaller))
	}
	switch {
	case len(set) == 0:
		if kind == targetNode {
			v.errf(p, "%s needs a target: set node, or select (%s)", a, strings.Join(v.selectors(), ", "))
		} else {
			v.errf(p, "%s needs a target: set role, or select (%s)", a, strings.Join(processSelect, ", "))
		}
		return
	case len(set) > 1:
		v.errf(p, "set exactly one of role, node and select, not %s", strings.Join(set, " and "))
		return
	}
	available := -1 // unknown
	switch {
	case t.Role != "":
		if kind == targetNode && s.Cluster.Provider != ProviderKind {
			v.errf(p+".role", "%s hits nodes: use node, or select engine-node to hit the node running the engine", a)
			return
		}
		available = v.roleExists(p+".role", t.Role)
		if kind == targetNode {
			available = -1 // nodes running the role's pods: known at fault time
		}
	case t.Node != "":
		if kind != targetNode {
			v.errf(p+".node", "%s hits processes or pods, not nodes: use role, or select (%s)", a, strings.Join(processSelect, ", "))
			return
		}
		available = 1
		if s.Cluster.Provider == ProviderKind {
			v.nodeRef(p+".node", t.Node, nil)
		}
	case t.Select != "":
		if (t.Select == SelectCaller || t.Select == SelectCallerNode) && !v.on {
			v.errf(p+".select", "%s needs schedule.on: it is the process (or its node) whose file operation fired the fault", t.Select)
			return
		}
		if kind == targetNode && t.Select == SelectCaller {
			v.errf(p+".select", "caller is a process, but %s hits nodes: use caller-node", a)
			return
		}
		if kind != targetNode && !contains(processSelect, string(t.Select)) {
			v.errf(p+".select", "%s selects a node, but %s hits processes or pods: use %s", t.Select, a, orList(processSelect))
			return
		}
		switch t.Select {
		case SelectLockHolder:
			v.needLockHolder(p + ".select")
			available = 1
		case SelectEngineNode:
			v.engineNodeExists(p + ".select")
			available = 1
		case SelectCaller, SelectCallerNode:
			available = 1
		case SelectPublisherNode:
			v.needPublish(p+".select", string(t.Select))
			available = 1
		case SelectConsumerNode:
			v.needPublish(p+".select", string(t.Select))
			if s.Cluster.Provider == ProviderKind {
				available = max(s.Cluster.Kind.Workers-1, 1)
			}
		case SelectRandomWorker:
			if s.Cluster.Provider == ProviderKind {
				available = s.Cluster.Kind.Workers
			}
		case SelectRandomWebserver:
			v.needPipeline(p+".select", "random-webserver")
			switch s.Workload.Mode {
			case ModePipeline:
				available = s.Workload.Replicas.Webserver
			case ModeExternal:
				v.roleExists(p+".select", RoleWebserver)
			}
		}
	}
	if t.Count < 0 {
		v.errf(p+".count", "must be at least 1, got %d", t.Count)
	} else if available > 0 && t.Count > available {
		what := set[0] + " " + string(t.Role) + t.Node + string(t.Select)
		switch {
		case t.Node != "" || t.Select == SelectLockHolder || t.Select == SelectEngineNode || t.Select == SelectPublisherNode || t.Select == SelectCaller || t.Select == SelectCallerNode || t.Role == RoleEngine || t.Role == RolePublisher:
			v.errf(p+".count", "%s is a single target; count must be 1, got %d", what, t.Count)
		default:
			v.errf(p+".count", "%d is more than the %d available for %s", t.Count, available, what)
		}
	}
}

// timeline checks schedule.after references (unknown names, cycles) and
// that every fault ends before the run's timeout.
func (v *validator) timeline(names map[string]int) {
	s := v.s
	faults := s.Faults
	for i := range faults {
		a := faults[i].Schedule.After
		p := fmt.Sprintf("faults[%d].schedule.after", i)
		if a == "" || a == SteadyStateAfter {
			continue
		}
		j, ok := names[a]
		switch {
		case !ok:
			all := append(sortedKeys(names), SteadyStateAfter)
			shown := quoteAll(all)
			if len(shown) > 10 {
				shown = append(shown[:9], "...")
			}
			v.errf(p, "no fault is named %q%s; use %s", clip(a), suggest(a, all), orList(shown))
		case j == i:
			v.errf(p, "fault %q cannot wait for itself", clip(a))
		}
	}
	// end times, with cycle detection
	end := make([]time.Duration, len(faults))
	state := make([]int, len(faults)) // 0 new, 1 visiting, 2 done, 3 broken
	var visit func(i int, chain []string) (time.Duration, bool)
	visit = func(i int, chain []string) (time.Duration, bool) {
		switch state[i] {
		case 2:
			return end[i], true
		case 3:
			return 0, false
		case 1:
			return 0, false
		}
		state[i] = 1
		f := &faults[i]
		var start time.Duration // from steady state
		switch {
		case f.Schedule.After == "" || f.Schedule.After == SteadyStateAfter:
			start = 0
		default:
			j, ok := names[f.Schedule.After]
			if !ok || j == i {
				state[i] = 3
				return 0, false
			}
			if state[j] == 1 {
				cyc := append(chain, f.Name, faults[j].Name)
				k := 0
				for k < len(cyc) && cyc[k] != faults[j].Name {
					k++
				}
				v.errf(fmt.Sprintf("faults[%d].schedule.after", i), "faults wait for each other in a cycle: %s", strings.Join(cyc[k:], " -> "))
				state[i] = 3
				return 0, false
			}
			e, ok := visit(j, append(chain, f.Name))
			if !ok {
				state[i] = 3
				return 0, false
			}
			start = e
		}
		if f.Schedule.At != nil {
			start += f.Schedule.At.D()
		}
		times := max(f.Schedule.Times, 1)
		end[i] = start + time.Duration(times)*f.Duration.D() + time.Duration(times-1)*f.Schedule.Every.D()
		state[i] = 2
		return end[i], true
	}
	// Steady state takes at least minUploads / rate (or minVersions /
	// publish.rate) after traffic starts.
	var steady time.Duration
	if p := s.Workload.Publish; s.Workload.Mode == ModePublishConsume && p.Rate > 0 {
		steady = time.Duration(float64(s.Expect.SteadyState.MinVersions) / p.Rate * float64(time.Second))
	} else if tr := s.Workload.Traffic; tr.Rate > 0 {
		steady = time.Duration(float64(s.Expect.SteadyState.MinUploads) / tr.Rate * float64(time.Second))
	}
	for i := range faults {
		e, ok := visit(i, nil)
		if !ok || s.Run.Timeout == 0 {
			continue
		}
		if e+steady >= s.Run.Timeout.D() {
			v.errf(fmt.Sprintf("faults[%d].schedule", i), "fault %q ends %s after steady state at the earliest, and steady state takes at least %s, so it does not end before run.timeout (%s); raise run.timeout or shorten the schedule", clip(faults[i].Name), e, steady.Round(time.Millisecond), s.Run.Timeout)
		}
	}
}

func quoteAll(s []string) []string {
	out := make([]string, len(s))
	for i, x := range s {
		out[i] = strconv.Quote(x)
	}
	return out
}

func (v *validator) expect() {
	s := v.s
	x := &s.Expect
	if s.Workload.Mode == ModePublishConsume {
		v.expectPublish()
		return
	}
	if x.Publish != (PublishExpect{}) {
		v.errf("expect.publish", "only applies to mode publish-consume")
	}
	if x.SteadyState.MinVersions != 0 {
		v.errf("expect.steadyState.minVersions", "only applies to mode publish-consume; use minUploads")
	}
	pipeline := s.Workload.Mode != ModeExternal
	if !pipeline && x.LockExclusive != nil && *x.LockExclusive {
		v.errf("expect.lockExclusive", "needs mode pipeline: the framework cannot observe an external app's lock; remove it or set it to false")
	}
	if !pipeline && x.LockRecoveredWithin != 0 {
		v.errf("expect.lockRecoveredWithin", "needs mode pipeline: the framework cannot observe an external app's lock")
	}
	if pipeline && x.LockRecoveredWithin != 0 && x.LockRecoveredWithin <= s.Workload.Engine.LeaseTTL {
		v.errf("expect.lockRecoveredWithin", "%s cannot be met: a dead holder's lock is only taken over after leaseTTL (%s); allow more than that", x.LockRecoveredWithin, s.Workload.Engine.LeaseTTL)
	}
	if pipeline && x.LockRecoveredWithin != 0 {
		// No engine takes a lock over while the storage is frozen: a holder
		// that loses its lock to the freeze (an NFS server expiring every
		// client's lease when it thaws) is replaced only after the freeze.
		_, written := v.val["expect.lockRecoveredWithin"]
		for i, f := range s.Faults {
			if f.Action != ActionStoragePause || f.Duration < x.LockRecoveredWithin {
				continue
			}
			how := "set"
			if !written {
				how = "the default, 2 × leaseTTL + the engine's period"
			}
			v.errf(fmt.Sprintf("faults[%d].duration", i), "a %s storage pause is not shorter than expect.lockRecoveredWithin (%s, %s): no engine can take the lock over while the storage is frozen, so a holder that loses it to the freeze is replaced only after it; set expect.lockRecoveredWithin above the pause plus leaseTTL (%s) and an engine period",
				f.Duration, x.LockRecoveredWithin, how, s.Workload.Engine.LeaseTTL)
		}
	}
	switch s.Cluster.Provider {
	case ProviderKind, ProviderExisting:
		t := s.Cluster.Timings
		if x.RescheduledWithin != 0 && t.UnreachableTolerationSeconds != nil {
			floor := t.NodeMonitorGracePeriod.D() + time.Duration(*t.UnreachableTolerationSeconds)*time.Second
			if x.RescheduledWithin.D() <= floor {
				v.errf("expect.rescheduledWithin", "%s cannot be met: Kubernetes only evicts pods from a failed node after nodeMonitorGracePeriod + unreachableTolerationSeconds (%s); allow more, or shorten cluster.timings", x.RescheduledWithin, floor)
			}
			if _, written := v.val["expect.rescheduledWithin"]; written {
				v.nodesDownPastEviction(floor)
			}
		}
	}
	tr := &s.Workload.Traffic
	ss := &x.SteadyState
	if ss.MinUploads > tr.Count && tr.Count > 0 {
		v.errf("expect.steadyState.minUploads", "%d is more than traffic.count (%d); steady state could never be reached", ss.MinUploads, tr.Count)
	} else if tr.Rate > 0 {
		need := time.Duration(float64(ss.MinUploads) / tr.Rate * float64(time.Second))
		if need > ss.Within.D() {
			v.errf("expect.steadyState.within", "%s is too short: %d uploads at %g per second take %s; allow more or lower minUploads", ss.Within, ss.MinUploads, tr.Rate, need.Round(time.Millisecond))
		}
	}
	if s.Run.Timeout != 0 && ss.Within >= s.Run.Timeout {
		v.errf("expect.steadyState.within", "%s must be shorter than run.timeout (%s)", ss.Within, s.Run.Timeout)
	}
}

// expectPublish checks expect for mode publish-consume: the pipeline's
// invariants do not apply, the publish ones do.
func (v *validator) expectPublish() {
	s := v.s
	x := &s.Expect
	for _, f := range []struct {
		path string
		set  bool
	}{
		{"expect.noLoss", x.NoLoss != nil}, {"expect.noDuplicates", x.NoDuplicates != nil},
		{"expect.lockExclusive", x.LockExclusive != nil && *x.LockExclusive}, {"expect.lockRecoveredWithin", x.LockRecoveredWithin != 0},
		{"expect.maxStuck", x.MaxStuck != 0}, {"expect.maxIndeterminate", x.MaxIndeterminate != nil}, {"expect.latencyP99", x.LatencyP99 != 0},
		{"expect.steadyState.minUploads", x.SteadyState.MinUploads != 0},
	} {
		if f.set {
			v.errf(f.path, "does not apply to mode publish-consume (nothing is uploaded or locked); use expect.publish (visibleWithin, convergedWithin, maxTorn, monotonic, maxLoadErrors)")
		}
	}
	pe := &x.Publish
	if pe.VisibleWithin < 0 {
		v.errf("expect.publish.visibleWithin", "must not be negative, got %s", pe.VisibleWithin)
	}
	if pe.ConvergedWithin <= 0 {
		v.errf("expect.publish.convergedWithin", "must be more than 0, got %s", pe.ConvergedWithin)
	}
	if pe.MaxTorn < 0 {
		v.errf("expect.publish.maxTorn", "must be at least 0, got %d", pe.MaxTorn)
	}
	if pe.MaxLoadErrors != nil && *pe.MaxLoadErrors < 0 {
		v.errf("expect.publish.maxLoadErrors", "must be at least 0, got %d", *pe.MaxLoadErrors)
	}
	ss := &x.SteadyState
	p := s.Workload.Publish
	if ss.MinVersions > p.Versions && p.Versions > 0 {
		v.errf("expect.steadyState.minVersions", "%d is more than publish.versions (%d); steady state could never be reached", ss.MinVersions, p.Versions)
	} else if p.Rate > 0 {
		need := time.Duration(float64(ss.MinVersions) / p.Rate * float64(time.Second))
		if need > ss.Within.D() {
			v.errf("expect.steadyState.within", "%s is too short: %d versions at %g per second take %s; allow more or lower minVersions", ss.Within, ss.MinVersions, p.Rate, need.Round(time.Millisecond))
		}
	}
	if s.Run.Timeout != 0 && ss.Within >= s.Run.Timeout {
		v.errf("expect.steadyState.within", "%s must be shorter than run.timeout (%s)", ss.Within, s.Run.Timeout)
	}
}

func (v *validator) run() {
	s := v.s
	if s.Workload.Mode == ModePublishConsume {
		p := &s.Workload.Publish
		need := p.PublishDuration() + s.Run.Settle.D()
		if s.Run.Timeout.D() < need {
			v.errf("run.timeout", "%s leaves no room for the run: publishing takes %s (%d versions at %g per second) plus settle %s = %s; raise timeout or publish less", s.Run.Timeout, p.PublishDuration().Round(time.Millisecond), p.Versions, p.Rate, s.Run.Settle, need.Round(time.Millisecond))
		}
		return
	}
	tr := &s.Workload.Traffic
	need := tr.TrafficDuration() + s.Run.Settle.D()
	if s.Run.Timeout.D() < need {
		v.errf("run.timeout", "%s leaves no room for the run: traffic takes %s (%d at %g per second) plus settle %s = %s; raise timeout or send less", s.Run.Timeout, tr.TrafficDuration().Round(time.Millisecond), tr.Count, tr.Rate, s.Run.Settle, need.Round(time.Millisecond))
	}
}
