package kind

import (
	"archive/tar"
	"bufio"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/kind/pkg/cluster/nodeutils"
	"sigs.k8s.io/yaml"

	"github.com/rwxchaos/rwxchaos/fixtures/k8s"
	"github.com/rwxchaos/rwxchaos/framework/appdeploy"
	"github.com/rwxchaos/rwxchaos/framework/filedrop"
	"github.com/rwxchaos/rwxchaos/framework/history"
	"github.com/rwxchaos/rwxchaos/framework/intervals"
	"github.com/rwxchaos/rwxchaos/framework/lab"
	"github.com/rwxchaos/rwxchaos/framework/provider"
	"github.com/rwxchaos/rwxchaos/framework/report"
	"github.com/rwxchaos/rwxchaos/framework/scenario"
)

// ManifestsFile is where the run keeps the app's objects as applied.
const ManifestsFile = "app-manifests.yaml"

// external is workload external on kind: the team's own app, deployed from
// its manifests onto the run's cluster and volume, fed and read back from
// the host's view of the volume (filedrop), its roles found by label.
type external struct {
	e      *Env
	x      scenario.ExternalSpec
	paths  []string
	objs   []*unstructured.Unstructured
	loaded []string
	plan   *appdeploy.Plan
	drop   *filedrop.Adapter
	dir    filedrop.Dir
	srv    *http.Server
	// applied and ready: what Deploy did and when the app was ready.
	applied *appdeploy.Applied
	ready   *appdeploy.Readiness
	roles   []string // role names, sorted
	// imagesBefore: every node's images before the run loaded the app's,
	// on a pool's cluster (nil elsewhere); see resetStep.
	imagesBefore map[string]map[string]string
}

func newExternal(e *Env) *external {
	x := e.s.Workload.External
	roles := make([]string, 0, len(x.Selectors))
	for r := range x.Selectors {
		roles = append(roles, r)
	}
	sort.Strings(roles)
	return &external{e: e, x: x, roles: roles}
}

func (x *external) logf(format string, args ...any) { x.e.o.Logf("external app: "+format, args...) }

// render reads and checks the manifests before any cluster exists, so a
// typo costs nothing.
func (x *external) render() error {
	paths, err := appdeploy.ResolvePaths(x.e.s.File(), x.x.Manifests)
	if err != nil {
		return err
	}
	objs, err := appdeploy.Render(paths)
	if err != nil {
		return err
	}
	// A dry rewrite finds a claim no pod mounts and other mistakes now.
	dry := make([]*unstructured.Unstructured, len(objs))
	for i, o := range objs {
		dry[i] = o.DeepCopy()
	}
	if _, err := appdeploy.Rewrite(dry, appdeploy.Binding{Namespace: x.e.ns, Claim: x.x.PVC, PVName: "check",
		Volume: appdeploy.Volume{HostPath: "/check"}}); err != nil {
		return err
	}
	for _, c := range x.x.Ready.CronJobs {
		if !slices.ContainsFunc(objs, func(o *unstructured.Unstructured) bool { return o.GetKind() == "CronJob" && o.GetName() == c }) {
			return fmt.Errorf("workload.external.ready.cronJobs names %q, but the manifests hold no CronJob of that name", c)
		}
	}
	x.paths, x.objs = paths, objs
	x.logf("%d objects from %s", len(objs), strings.Join(x.x.Manifests, ", "))
	return nil
}

// provision loads the app's images into every node (the nodes pull
// nothing) and opens the run's volume to any user the app runs as.
func (x *external) provision(ctx context.Context) error {
	if err := os.Chmod(x.e.volume, 0o777); err != nil {
		return fmt.Errorf("volume dir: %w", err)
	}
	for i, im := range x.x.Images {
		refs, err := x.loadImage(ctx, im)
		if err != nil {
			return fmt.Errorf("workload.external.images[%d]: %w", i, err)
		}
		x.loaded = append(x.loaded, refs...)
	}
	if len(x.loaded) > 0 {
		x.logf("loaded into every node: %s", strings.Join(x.loaded, ", "))
	}
	return nil
}

func (x *external) loadImage(ctx context.Context, im scenario.ImageSpec) ([]string, error) {
	c := x.e.kindCluster()
	if im.Archive != "" {
		paths, err := appdeploy.ResolvePaths(x.e.s.File(), []string{im.Archive})
		if err != nil {
			return nil, err
		}
		return loadArchive(ctx, x.e, paths[0])
	}
	ref := im.Docker
	if im.Lab != "" {
		m, err := lab.LoadDefault()
		if err != nil {
			return nil, fmt.Errorf("lab image %s: %w", im.Lab, err)
		}
		switch im.Lab {
		case scenario.LabToolbox:
			ref = m.Images.Toolbox
		case scenario.LabPipeline:
			ref = m.Images.Pipeline
		}
		if ref == "" {
			return nil, fmt.Errorf("the lab has no %s image (built with a step skipped?): rerun `make lab`", im.Lab)
		}
	}
	if _, err := docker(ctx, "image", "inspect", "--format", "{{.Id}}", ref); err != nil {
		return nil, fmt.Errorf("docker image %s is not on this machine: build it (or `docker load` it) first; the nodes cannot pull", ref)
	}
	if im.As != "" {
		if _, err := docker(ctx, "tag", ref, im.As); err != nil {
			return nil, err
		}
		ref = im.As
	}
	if err := c.LoadImage(ctx, ref); err != nil {
		return nil, err
	}
	return []string{ref}, nil
}

// loadArchive imports a docker save archive (optionally gzipped) into every
// node and returns the image names it holds.
func loadArchive(ctx context.Context, e *Env, path string) ([]string, error) {
	open := func() (io.ReadCloser, error) {
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		br := bufio.NewReader(f)
		if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
			zr, err := gzip.NewReader(br)
			if err != nil {
				f.Close()
				return nil, fmt.Errorf("%s: %w", path, err)
			}
			return struct {
				io.Reader
				io.Closer
			}{zr, f}, nil
		}
		return struct {
			io.Reader
			io.Closer
		}{br, f}, nil
	}
	r, err := open()
	if err != nil {
		return nil, err
	}
	names, err := archiveNames(r)
	r.Close()
	if err != nil {
		return nil, fmt.Errorf("image archive %s: %w (write it with docker save NAME:TAG)", path, err)
	}
	ns, err := e.kindCluster().Nodes(ctx)
	if err != nil {
		return nil, err
	}
	for _, n := range ns {
		r, err := open()
		if err != nil {
			return nil, err
		}
		err = nodeutils.LoadImageArchive(n, r)
		r.Close()
		if err != nil {
			return nil, fmt.Errorf("load %s into node %s: %w", path, n.String(), err)
		}
	}
	return names, nil
}

// archiveNames reads the RepoTags of a docker save archive's manifest.json.
func archiveNames(r io.Reader) ([]string, error) {
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil, errors.New("no manifest.json in it")
		}
		if err != nil {
			return nil, err
		}
		if h.Name != "manifest.json" {
			continue
		}
		var m []struct{ RepoTags []string }
		if err := json.NewDecoder(tr).Decode(&m); err != nil {
			return nil, fmt.Errorf("manifest.json: %w", err)
		}
		var out []string
		for _, e := range m {
			out = append(out, e.RepoTags...)
		}
		if len(out) == 0 {
			return nil, errors.New("its images have no names")
		}
		return out, nil
	}
}

// sideDir holds the scratch directories of the app's other claims.
func (x *external) sideDir() string { return filepath.Join(x.e.shared, "runs", x.e.runID+"-side") }

func (x *external) runLabels() map[string]string {
	return map[string]string{k8s.LabelRun: x.e.runID, "app.kubernetes.io/managed-by": "rwxchaos"}
}

// deploy binds the app to the run's volume, applies it, watches its pods,
// waits until it is ready and opens the upload endpoint.
func (x *external) deploy(ctx context.Context) error {
	e := x.e
	plan, err := appdeploy.Rewrite(x.objs, x.binding(e.volume, x.sideDir()))
	if err != nil {
		return err
	}
	x.plan = plan
	for _, n := range plan.Notes {
		x.logf("%s", n)
	}
	if len(plan.Unloaded) > 0 {
		x.logf("images not loaded by the scenario (they must already be in the node image, the nodes cannot pull): %s", strings.Join(plan.Unloaded, ", "))
	}
	x.saveManifests(plan)
	cfg, err := clientcmd.BuildConfigFromFlags("", e.kindCluster().KubeconfigPath())
	if err != nil {
		return fmt.Errorf("kubeconfig: %w", err)
	}
	cfg.Timeout = 30 * time.Second
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return err
	}
	e.obs = newObserver(e.o.Clock)
	e.obs.roleOf, e.obs.anyRole = x.roleOf, true
	x.applied, err = appdeploy.Apply(ctx, appdeploy.Clients{Typed: e.cs, Dynamic: dyn, Discovery: e.cs.Discovery()}, plan, x.runLabels())
	if err != nil {
		return err
	}
	if len(x.applied.Skipped) > 0 {
		x.logf("skipped, not served by the cluster: %s", strings.Join(x.applied.Skipped, ", "))
	}
	x.logf("applied %d objects into namespace %s", len(x.applied.Objects), e.ns)
	if err := e.obs.start(ctx, e.cs, e.ns); err != nil {
		return fmt.Errorf("watch cluster: %w", err)
	}
	iv := intervals.Get(intervals.AppReady).WithTimeout(x.x.Ready.Timeout.D())
	x.ready, err = appdeploy.WaitReady(ctx, e.cs, plan, appdeploy.WaitOptions{
		Timeout: iv.Timeout, Poll: iv.Poll, CronJobs: x.x.Ready.CronJobs, Since: x.applied.Start, Now: e.o.Clock})
	if err != nil {
		return err
	}
	x.logf("%s", x.ready.Summary())
	x.dir = filedrop.Dir{Root: e.volume, InputPath: x.x.InputPath}
	var sink filedrop.Sink = x.dir
	to := x.x.InputPath + " on the run's volume (" + e.volume + ")"
	if u := x.x.Upload; u.Service != "" {
		tr, err := rest.TransportFor(cfg)
		if err != nil {
			return fmt.Errorf("API server transport: %w", err)
		}
		url := serviceProxyURL(cfg.Host, e.ns, u.Service, u.Port, u.Path)
		sink = filedrop.HTTPSink{Client: &http.Client{Transport: tr, Timeout: 30 * time.Second}, URL: url}
		to = fmt.Sprintf("POST %s (Service %s port %s, through the API server)", u.Path, u.Service, u.Port)
	}
	if x.drop, err = filedrop.New(filedrop.Options{InputPath: x.x.InputPath, OutputPath: x.x.OutputPath,
		Match: string(x.x.Match), Sink: sink, Clock: e.o.Clock}); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("local upload endpoint: %w", err)
	}
	x.srv = &http.Server{Handler: x.drop, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = x.srv.Serve(ln) }()
	e.urls = []string{"http://" + ln.Addr().String()}
	x.logf("uploads: %s → %s", e.urls[0], to)
	return nil
}

// serviceProxyURL is a path of a Service reached through the API server's
// service proxy (the runner needs no route to the pod network).
func serviceProxyURL(host, ns, svc, port, path string) string {
	return strings.TrimRight(host, "/") + "/api/v1/namespaces/" + ns + "/services/" + svc + ":" + port + "/proxy/" + strings.TrimLeft(path, "/")
}

// binding is how the app is bound to the run (volume: the run's volume on
// the nodes, side: the scratch directory of its other claims).
func (x *external) binding(volume, side string) appdeploy.Binding {
	e := x.e
	return appdeploy.Binding{
		Namespace: e.ns, Claim: x.x.PVC, PVName: "rwxchaos-" + e.ns, SideDir: side,
		Volume:    appdeploy.Volume{HostPath: volume, MountOptions: e.s.Storage.MountOptions, Size: e.s.Storage.Size},
		Propagate: e.s.Storage.Backend == scenario.BackendFuse, Loaded: x.loaded, Labels: x.runLabels(),
	}
}

// dryPlan describes what deploy would do, for a dry run: the images to load,
// the changes to the manifests and the objects as they would be applied.
func (x *external) dryPlan(volume, side string) (string, error) {
	if err := x.render(); err != nil {
		return "", err
	}
	var b strings.Builder
	for _, im := range x.x.Images {
		what := im.Docker
		switch {
		case im.Archive != "":
			what = "archive " + im.Archive
		case im.Lab != "":
			what = "the lab's " + string(im.Lab) + " image"
		}
		if im.As != "" {
			what += " as " + im.As
			x.loaded = append(x.loaded, im.As)
		} else if im.Docker != "" {
			x.loaded = append(x.loaded, im.Docker)
		}
		fmt.Fprintf(&b, "  would load into every node: %s\n", what)
	}
	p, err := appdeploy.Rewrite(x.objs, x.binding(volume, side))
	if err != nil {
		return "", err
	}
	for _, n := range p.Notes {
		fmt.Fprintf(&b, "  %s\n", n)
	}
	if len(p.Unloaded) > 0 {
		fmt.Fprintf(&b, "  images not loaded by the scenario (they must already be in the node image): %s\n", strings.Join(p.Unloaded, ", "))
	}
	fmt.Fprintf(&b, "  the app's manifests as it would apply them (namespace %s), then wait until ready and drop uploads into %s:\n", x.e.ns, x.x.InputPath)
	b.WriteString(manifestsYAML(p))
	return b.String(), nil
}

// saveManifests keeps the objects as they were applied, for the report.
func (x *external) saveManifests(p *appdeploy.Plan) {
	_ = os.WriteFile(filepath.Join(x.e.runDir, ManifestsFile), []byte(manifestsYAML(p)), 0o644)
}

func manifestsYAML(p *appdeploy.Plan) string {
	var b strings.Builder
	for _, pv := range p.PVs {
		if y, err := yaml.Marshal(pv); err == nil {
			b.WriteString("---\n")
			b.Write(y)
		}
	}
	for _, o := range p.Objects {
		if y, err := yaml.Marshal(o.Object); err == nil {
			b.WriteString("---\n")
			b.Write(y)
		}
	}
	return b.String()
}

// roleOf names a pod's role: the first role (by name) whose selector its
// labels match.
func (x *external) roleOf(p *corev1.Pod) string {
	for _, r := range x.roles {
		if labels.SelectorFromSet(x.x.Selectors[r]).Matches(labels.Set(p.Labels)) {
			return r
		}
	}
	return ""
}

// selector is the label selector of a role's pods.
func (x *external) selector(role string) (string, error) {
	sel := x.x.Selectors[role]
	if len(sel) == 0 {
		return "", fmt.Errorf("no pod selector for role %s: set workload.external.selectors.%s", role, role)
	}
	return labels.SelectorFromSet(sel).String(), nil
}

// engineNode is the node of a running engine pod, else of a jobqueue pod
// (which runs engine jobs), waiting up to a minute: an engine CronJob's pod
// comes and goes.
func (x *external) engineNode(ctx context.Context) (string, error) {
	var node string
	var last error
	iv := intervals.Get(intervals.AppEngineNode)
	err := iv.Until(ctx, func(ctx context.Context) (bool, error) {
		for _, role := range []string{string(scenario.RoleEngine), string(scenario.RoleJobqueue)} {
			if len(x.x.Selectors[role]) == 0 {
				continue
			}
			ns, err := x.e.podNodes(ctx, role, nil, 1)
			if err == nil && len(ns) > 0 {
				node = ns[0]
				return true, nil
			}
			last = err
		}
		return false, nil
	})
	if err != nil {
		return "", fmt.Errorf("no engine (or jobqueue) pod ran for %s, no engine node to target (last: %v)", iv.Timeout, last)
	}
	return node, nil
}

// holderNode is the node of the pod the app names as its lock holder in
// holderFile (first word), waiting up to 30 seconds for a live holder: the
// file names a pod that runs.
func (x *external) holderNode(ctx context.Context) (string, error) {
	if x.x.HolderFile == "" {
		return "", errors.New("lock-holder needs workload.external.holderFile: the app's lock is invisible otherwise")
	}
	file := filepath.Join(x.e.volume, filepath.FromSlash(x.x.HolderFile))
	var node, why string
	iv := intervals.Get(intervals.AppHolderNode)
	err := iv.Until(ctx, func(ctx context.Context) (bool, error) {
		b, err := os.ReadFile(file)
		if err != nil {
			why = "no holder file: " + err.Error()
			return false, nil
		}
		f := strings.Fields(string(b))
		if len(f) == 0 {
			why = "the holder file is empty"
			return false, nil
		}
		p, err := x.e.cs.CoreV1().Pods(x.e.ns).Get(ctx, f[0], metav1.GetOptions{})
		if err != nil {
			why = fmt.Sprintf("holder %s: %v", f[0], err)
			return false, nil
		}
		if p.Status.Phase != corev1.PodRunning || p.DeletionTimestamp != nil || p.Spec.NodeName == "" {
			why = fmt.Sprintf("holder %s is %s", p.Name, p.Status.Phase)
			return false, nil
		}
		node = p.Spec.NodeName
		return true, nil
	})
	if err != nil {
		return "", fmt.Errorf("no live lock holder named in %s for %s (%s): no lock-holder node to target", x.x.HolderFile, iv.Timeout, why)
	}
	return node, nil
}

// drain waits until the app has taken every file out of its input path.
func (x *external) drain(ctx context.Context, timeout time.Duration) error {
	if x.drop == nil {
		return nil
	}
	var n int
	err := intervals.Get(intervals.DrainVolume).WithTimeout(timeout).Until(ctx, func(context.Context) (bool, error) {
		var err error
		n, err = x.dir.Pending()
		return err == nil && n == 0, nil
	})
	if err != nil {
		x.logf("drain: %d files still in %s after %s", n, x.x.InputPath, timeout)
	}
	return nil
}

// outputs counts the files in the output path (progress display).
func (x *external) outputs() int {
	ents, err := os.ReadDir(filepath.Join(x.e.volume, filepath.FromSlash(x.x.OutputPath)))
	if err != nil {
		return 0
	}
	n := 0
	for _, d := range ents {
		if !d.IsDir() && !strings.HasPrefix(d.Name(), ".") {
			n++
		}
	}
	return n
}

// collect reads the app's input and output paths and says which checks
// the evidence allows.
func (x *external) collect(ctx context.Context, dir string, obs *provider.Observations) (*history.History, error) {
	if _, err := os.Stat(filepath.Join(x.e.runDir, ManifestsFile)); err == nil {
		obs.Artifacts = append(obs.Artifacts, report.Artifact{Name: "the app's objects as applied", Path: ManifestsFile})
	}
	obs.Coverage = x.coverage(obs)
	if x.drop == nil {
		return nil, errors.New("the app was never deployed: no uploads to match")
	}
	h, err := x.drop.Collect(ctx, x.dir, dir)
	if err != nil {
		return nil, err
	}
	obs.Artifacts = append(obs.Artifacts, report.Artifact{Name: "copy of the app's input and output paths", Path: "volume"})
	return h, nil
}

// coverage is the report's "what this run could check" for an app seen
// from outside.
func (x *external) coverage(obs *provider.Observations) []report.Coverage {
	in, out := x.x.InputPath, x.x.OutputPath
	matchBy := map[scenario.MatchRule]string{
		scenario.MatchControlReference: "the interchange control reference (and sender) in the output's content",
		scenario.MatchFilename:         "the output's file name stem (the name the input was dropped with, up to the first dot)",
		scenario.MatchContentHash:      "a sha256 of the output equal to the upload's",
	}[x.x.Match]
	nodeFaults := 0
	for _, f := range x.e.s.Faults {
		switch f.Action {
		case scenario.ActionNodeKill, scenario.ActionNodeStop, scenario.ActionNodePause, scenario.ActionNodeReboot, scenario.ActionPartition:
			nodeFaults++
		}
	}
	var longRoles []string
	for _, p := range obs.Pods {
		if p.Component != "" && !slices.Contains(longRoles, p.Component) {
			longRoles = append(longRoles, p.Component)
		}
	}
	sort.Strings(longRoles)
	how := "dropped into " + in
	if u := x.x.Upload; u.Service != "" {
		how = fmt.Sprintf("posted to the app's endpoint %s (Service %s)", u.Path, u.Service)
	}
	c := []report.Coverage{
		{Check: "ledger (ok, lost, duplicated, corrupt, unexpected)", Applied: true,
			Evidence: fmt.Sprintf("uploads the runner %s (recorded with their outcome); every output file under %s newer than the run, matched to an upload by %s", how, out, matchBy),
			Needs:    fmt.Sprintf("take inputs from %s; write one output per input under %s that carries its %s; never rewrite an output in place", in, out, x.x.Match)},
		{Check: "stuck", Applied: true,
			Evidence: fmt.Sprintf("files left under %s after the settle time", in),
			Needs:    "move or delete each input once it is done (files kept in other directories are not seen: a claimed but unfinished input there counts as lost)"},
		{Check: "leftovers", Applied: true,
			Evidence: fmt.Sprintf("temporary files (dot files, *.tmp, *.part) under %s and %s", in, out),
			Needs:    "write outputs under a temporary name, then rename them into place"},
		{Check: "lock-safety", Applied: false,
			Evidence: "not possible: the app writes no rwxchaos journal, so lock grants, renewals and the fencing epoch of each write are not seen; a duplicate that two holders cause still shows in the ledger",
			Needs:    "journal lock.acquire / lock.renew / lock.release and every claim and output with its fencing epoch (framework/history's NDJSON format), as the framework's own pipeline does"},
		{Check: "lock-recovery", Applied: false,
			Evidence: "not possible: no journal, so a dead holder's last sign of life and the next grant are not seen",
			Needs:    "the same journal as lock-safety"},
		{Check: "latency", Applied: false,
			Evidence: "not measured: outputs are seen only at the end of the run, not when they were written",
			Needs:    "journal an output event per output (or use the pipeline's webserver/engine journal format)"},
	}
	rs := report.Coverage{Check: "rescheduling (rescheduledWithin)", Applied: nodeFaults > 0 && len(obs.Pods) > 0,
		Needs: "pods labelled so that workload.external.selectors finds each role; Deployments or StatefulSets for the long-running ones"}
	switch {
	case rs.Applied:
		rs.Evidence = fmt.Sprintf("the watch of the app's pods per node over time (roles %s): for each node fault, the time until a pod of the same role was Ready on another node", orNoneStr(longRoles))
	case nodeFaults == 0:
		rs.Evidence = "no node fault in this scenario"
	default:
		rs.Evidence = "no pod of the app was seen"
	}
	c = append(c, rs)
	ov := report.Coverage{Check: "engine overlaps", Applied: len(x.x.Selectors[string(scenario.RoleEngine)]) > 0,
		Needs: "workload.external.selectors.engine naming the engine's pods"}
	if ov.Applied {
		ov.Evidence = fmt.Sprintf("times two engine pods were alive at once, from the watch (%d seen); whether the app's lock kept them apart shows only in the ledger", obs.OverlappingJobs)
	} else {
		ov.Evidence = "not possible: the scenario names no engine role"
	}
	c = append(c, ov)
	rd := report.Coverage{Check: "readiness (readyWithin, apply → ready)", Applied: x.ready != nil,
		Needs: "readiness probes on the app's containers (a pod without one is ready as soon as it runs)"}
	if x.ready != nil {
		rd.Evidence = x.ready.Summary() + "; after each fault, the time until its nodes were Ready again"
	} else {
		rd.Evidence = "the app never became ready"
	}
	c = append(c, rd)
	c = append(c, report.Coverage{Check: "pods stuck Terminating", Applied: len(obs.Pods) > 0,
		Evidence: fmt.Sprintf("the watch: %d pods of the app still Terminating when the run ended", obs.StuckTerminating)})
	return c
}

func orNoneStr(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}

// stopUploads closes the upload endpoint.
func (x *external) stopUploads() {
	if x.srv != nil {
		_ = x.srv.Close()
	}
}

// teardown stops the upload endpoint and removes the app's side PVs and
// scratch directories (the namespace, the data PV and the cluster go with
// the kind environment's own teardown). On a pool's cluster the reset
// removes them instead (see resetStep).
func (x *external) teardown(ctx context.Context) error {
	x.stopUploads()
	var errs []error
	if x.e.cs != nil && x.plan != nil {
		for _, pv := range x.plan.PVs {
			if err := x.e.cs.CoreV1().PersistentVolumes().Delete(ctx, pv.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
				errs = append(errs, fmt.Errorf("delete PV %s: %w", pv.Name, err))
			}
		}
	}
	if x.e.shared != "" {
		errs = append(errs, os.RemoveAll(x.sideDir()))
	}
	return errors.Join(errs...)
}
