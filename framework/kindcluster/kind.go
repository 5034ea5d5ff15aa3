// Package kindcluster creates and disposes kind clusters for rwxchaos scenarios:
// one control-plane and N workers, every node bind-mounting the same host
// directory (the shared RWX volume), with kubeadm timings tuned for failover
// tests. It drives the kind Go library (which runs the docker CLI).
//
// The shape follows cluster-api's bootstrap provider: Create(ctx),
// KubeconfigPath(), Dispose(ctx).
package kindcluster

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"sigs.k8s.io/kind/pkg/apis/config/v1alpha4"
	"sigs.k8s.io/kind/pkg/cluster"
	"sigs.k8s.io/kind/pkg/cluster/nodes"
	"sigs.k8s.io/kind/pkg/cluster/nodeutils"
	kindexec "sigs.k8s.io/kind/pkg/exec"

	"github.com/rwxchaos/rwxchaos/framework/lab"
)

// NamePrefix starts the name of every cluster this package creates, so that
// leftovers can be found (docker label io.x-k8s.kind.cluster=rwxchaos-...).
const NamePrefix = "rwxchaos-"

// LabMode says whether to use the lab's node image.
type LabMode int

const (
	// LabAuto uses the lab image when RWXCHAOS_LAB=1 or lab.json exists.
	LabAuto LabMode = iota
	// LabOn requires the lab image.
	LabOn
	// LabOff uses kind's stock kindest/node image.
	LabOff
)

// Timings are control-plane settings that decide how fast a dead node's pods
// move. Zero values keep Kubernetes' defaults.
type Timings struct {
	// NodeMonitorGracePeriod: kube-controller-manager --node-monitor-grace-period.
	NodeMonitorGracePeriod time.Duration
	// NotReadyToleration, UnreachableToleration: kube-apiserver
	// --default-not-ready-toleration-seconds / --default-unreachable-toleration-seconds.
	NotReadyToleration    time.Duration
	UnreachableToleration time.Duration
}

// FastFailover are timings under which pods leave a killed node in ~25 s.
var FastFailover = Timings{NodeMonitorGracePeriod: 10 * time.Second, NotReadyToleration: 10 * time.Second, UnreachableToleration: 10 * time.Second}

// Options describe the cluster.
type Options struct {
	// Name of the cluster; NamePrefix is added when missing. Required.
	Name string
	// Workers is the number of worker nodes (0: the control plane runs pods).
	Workers int
	// NodeImage overrides the node image choice.
	NodeImage string
	// Lab selects the lab image (see LabMode); ignored when NodeImage is set.
	Lab LabMode
	// LabManifest is the lab to use; nil loads it from lab.CacheDir().
	LabManifest *lab.Manifest
	// SharedDir, when set, is a host directory mounted into every node at the
	// same path: a read-write-many volume for hostPath pods. Created if missing.
	SharedDir string
	// SharedPropagation is the mount propagation of SharedDir ("" = None;
	// "HostToContainer" when SharedDir is itself a mount, e.g. FUSE, made later).
	SharedPropagation v1alpha4.MountPropagation
	// ExtraMounts are added to every node (e.g. a host directory holding a
	// binary the nodes run, or one directory per node for evidence kept off
	// the volume under test). A HostPath containing "{node}" is expanded per
	// node to the node's role and index (control-plane, worker, worker2, ...),
	// so every node gets a directory of its own; it is created if missing.
	ExtraMounts []v1alpha4.Mount
	Timings     Timings
	// Reuse adopts an existing cluster of this name instead of failing.
	Reuse bool
	// KeepOnDispose makes Dispose leave the cluster running.
	KeepOnDispose bool
	// KubeconfigPath for the cluster; default <tmp>/<name>.kubeconfig.
	KubeconfigPath string
	// WaitForReady bounds the wait for the control plane (default 2m).
	WaitForReady time.Duration
	// LogsDir receives `kind export logs` when Create fails; default
	// <tmp>/rwxchaos-logs/<name>-<time>. Empty string keeps the default.
	LogsDir string
	// Logf receives progress lines; nil discards them.
	Logf func(format string, args ...any)
}

// Cluster is one kind cluster.
type Cluster struct {
	opts     Options
	name     string
	image    string
	provider *cluster.Provider
}

// New validates opts; nothing is created until Create.
func New(opts Options) (*Cluster, error) {
	if opts.Name == "" {
		return nil, errors.New("kind: Options.Name is required")
	}
	if opts.Workers < 0 {
		return nil, fmt.Errorf("kind: Options.Workers is %d, want >= 0", opts.Workers)
	}
	name := opts.Name
	if !strings.HasPrefix(name, NamePrefix) {
		name = NamePrefix + name
	}
	if opts.Logf == nil {
		opts.Logf = func(string, ...any) {}
	}
	if opts.KubeconfigPath == "" {
		opts.KubeconfigPath = filepath.Join(os.TempDir(), name+".kubeconfig")
	}
	if opts.WaitForReady == 0 {
		opts.WaitForReady = 2 * time.Minute
	}
	if opts.SharedDir != "" && !filepath.IsAbs(opts.SharedDir) {
		return nil, fmt.Errorf("kind: Options.SharedDir %q must be absolute", opts.SharedDir)
	}
	image, err := chooseImage(opts)
	if err != nil {
		return nil, err
	}
	return &Cluster{
		opts:     opts,
		name:     name,
		image:    image,
		provider: cluster.NewProvider(cluster.ProviderWithDocker(), cluster.ProviderWithLogger(logger{opts.Logf})),
	}, nil
}

// chooseImage returns "" for kind's default (stock kindest/node) image.
func chooseImage(opts Options) (string, error) {
	if opts.NodeImage != "" {
		return opts.NodeImage, nil
	}
	if opts.Lab == LabOff {
		return "", nil
	}
	m := opts.LabManifest
	if m == nil {
		var err error
		m, err = lab.LoadDefault()
		switch {
		case errors.Is(err, lab.ErrNoManifest) && opts.Lab == LabAuto && !lab.Requested():
			return "", nil
		case err != nil:
			return "", fmt.Errorf("kind: lab node image requested: %w", err)
		}
	}
	return m.Images.Node, nil
}

// Name is the kind cluster name (with NamePrefix).
func (c *Cluster) Name() string { return c.name }

// NodeImage is the node image in use ("" = kind's default).
func (c *Cluster) NodeImage() string { return c.image }

// KubeconfigPath is where Create wrote the kubeconfig.
func (c *Cluster) KubeconfigPath() string { return c.opts.KubeconfigPath }

// Create brings the cluster up (or adopts it when Options.Reuse is set) and
// writes the kubeconfig. On failure it exports the nodes' logs, deletes the
// half-made cluster and says where the logs are. kind's create cannot be
// interrupted; ctx is honoured before it starts and while waiting.
func (c *Cluster) Create(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	existing, err := c.provider.List()
	if err != nil {
		return fmt.Errorf("kind: list clusters (is dockerd running? `make lab` starts it): %w", err)
	}
	if slices.Contains(existing, c.name) {
		if !c.opts.Reuse {
			return fmt.Errorf("kind: cluster %s already exists; delete it (`kind delete cluster --name %s`) or set Options.Reuse", c.name, c.name)
		}
		return c.adopt(ctx)
	}
	if c.image != "" {
		if out, err := exec.CommandContext(ctx, "docker", "image", "inspect", "--format", "{{.Id}}", c.image).CombinedOutput(); err != nil {
			return fmt.Errorf("kind: node image %s is not in the local docker (run `make lab`): %w: %s", c.image, err, strings.TrimSpace(string(out)))
		}
	}
	if c.opts.SharedDir != "" {
		if err := os.MkdirAll(c.opts.SharedDir, 0o777); err != nil {
			return fmt.Errorf("kind: shared dir: %w", err)
		}
	}
	for _, n := range c.config().Nodes {
		for _, m := range n.ExtraMounts {
			if err := os.MkdirAll(m.HostPath, 0o755); err != nil && !errors.Is(err, syscall.ENOTDIR) {
				return fmt.Errorf("kind: extra mount %s: %w", m.HostPath, err)
			}
		}
	}
	opts := []cluster.CreateOption{
		cluster.CreateWithV1Alpha4Config(c.config()),
		cluster.CreateWithKubeconfigPath(c.opts.KubeconfigPath),
		cluster.CreateWithWaitForReady(c.opts.WaitForReady),
		// Keep failed nodes so their logs can be exported below.
		cluster.CreateWithRetain(true),
		cluster.CreateWithDisplayUsage(false),
		cluster.CreateWithDisplaySalutation(false),
	}
	if c.image != "" {
		opts = append(opts, cluster.CreateWithNodeImage(c.image))
	}
	c.opts.Logf("creating kind cluster %s (1 control-plane + %d workers, image %s)", c.name, c.opts.Workers, displayImage(c.image))
	done := make(chan error, 1)
	go func() { done <- c.provider.Create(c.name, opts...) }()
	var createErr error
	select {
	case createErr = <-done:
	case <-ctx.Done():
		createErr = <-done // cannot be cancelled; let it finish, then clean up
		if createErr == nil {
			createErr = ctx.Err()
		}
	}
	if createErr == nil {
		return nil
	}
	dir := c.opts.LogsDir
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "rwxchaos-logs", c.name+"-"+time.Now().UTC().Format("20060102T150405Z"))
	}
	logsErr := c.provider.CollectLogs(c.name, dir)
	delErr := c.provider.Delete(c.name, c.opts.KubeconfigPath)
	msg := fmt.Sprintf("kind: create cluster %s: %%w (node logs: %s)", c.name, dir)
	if logsErr != nil {
		msg = fmt.Sprintf("kind: create cluster %s: %%w (exporting node logs to %s failed too: %v)", c.name, dir, logsErr)
	}
	if delErr != nil {
		msg += fmt.Sprintf(" (and deleting it failed: %v)", delErr)
	}
	return fmt.Errorf(msg, createErr)
}

func (c *Cluster) adopt(ctx context.Context) error {
	ns, err := c.provider.ListNodes(c.name)
	if err != nil {
		return fmt.Errorf("kind: list nodes of %s: %w", c.name, err)
	}
	if len(ns) != 1+c.opts.Workers {
		return fmt.Errorf("kind: existing cluster %s has %d nodes, want %d; delete it or change Options.Workers", c.name, len(ns), 1+c.opts.Workers)
	}
	if err := c.provider.ExportKubeConfig(c.name, c.opts.KubeconfigPath, false); err != nil {
		return fmt.Errorf("kind: export kubeconfig of %s: %w", c.name, err)
	}
	c.opts.Logf("reusing kind cluster %s", c.name)
	return ctx.Err()
}

// commandOutput returns the output kind kept for a failed node command.
func commandOutput(err error) string {
	if re := kindexec.RunErrorForError(err); re != nil && len(re.Output) > 0 {
		return ": " + strings.TrimSpace(string(re.Output))
	}
	return ""
}

func displayImage(img string) string {
	if img == "" {
		return "kind default"
	}
	return img
}

// config builds the v1alpha4 cluster config.
func (c *Cluster) config() *v1alpha4.Cluster {
	cfg := &v1alpha4.Cluster{TypeMeta: v1alpha4.TypeMeta{Kind: "Cluster", APIVersion: "kind.x-k8s.io/v1alpha4"}}
	var mounts []v1alpha4.Mount
	if c.opts.SharedDir != "" {
		mounts = []v1alpha4.Mount{{HostPath: c.opts.SharedDir, ContainerPath: c.opts.SharedDir, Propagation: c.opts.SharedPropagation}}
	}
	cfg.Nodes = append(cfg.Nodes, v1alpha4.Node{Role: v1alpha4.ControlPlaneRole, ExtraMounts: c.nodeMounts(mounts, "control-plane")})
	for i := range c.opts.Workers {
		cfg.Nodes = append(cfg.Nodes, v1alpha4.Node{Role: v1alpha4.WorkerRole, ExtraMounts: c.nodeMounts(mounts, WorkerSuffix(i))})
	}
	cfg.KubeadmConfigPatchesJSON6902 = timingPatches(c.opts.Timings)
	cfg.KubeadmConfigPatches = append(timingMergePatches(c.opts.Timings), kubeletLeasePatches(c.opts.Timings)...)
	v1alpha4.SetDefaultsCluster(cfg)
	return cfg
}

// WorkerSuffix is the name suffix kind gives worker i (from 0): worker,
// worker2, worker3, ... Node i is named <cluster>-<suffix>.
func WorkerSuffix(i int) string {
	if i == 0 {
		return "worker"
	}
	return fmt.Sprintf("worker%d", i+1)
}

// nodeMounts is the shared mount plus ExtraMounts with {node} expanded.
func (c *Cluster) nodeMounts(shared []v1alpha4.Mount, suffix string) []v1alpha4.Mount {
	out := slices.Clone(shared)
	for _, m := range c.opts.ExtraMounts {
		m.HostPath = strings.ReplaceAll(m.HostPath, "{node}", suffix)
		m.ContainerPath = strings.ReplaceAll(m.ContainerPath, "{node}", suffix)
		out = append(out, m)
	}
	return out
}

// timingMergePatches sets the same flags for kubeadm v1beta3, whose
// extraArgs is a map (kind still writes v1beta3 for the lab's v1.34 nodes,
// and a v1beta4 JSON patch does not match it: it is silently skipped).
func timingMergePatches(t Timings) []string {
	var cm, api []string
	if t.NodeMonitorGracePeriod > 0 {
		cm = append(cm, fmt.Sprintf("      node-monitor-grace-period: %q", t.NodeMonitorGracePeriod.String()))
	}
	if t.NotReadyToleration > 0 {
		api = append(api, fmt.Sprintf("      default-not-ready-toleration-seconds: %q", fmt.Sprint(int(t.NotReadyToleration.Seconds()))))
	}
	if t.UnreachableToleration > 0 {
		api = append(api, fmt.Sprintf("      default-unreachable-toleration-seconds: %q", fmt.Sprint(int(t.UnreachableToleration.Seconds()))))
	}
	if len(cm)+len(api) == 0 {
		return nil
	}
	p := "apiVersion: kubeadm.k8s.io/v1beta3\nkind: ClusterConfiguration\n"
	if len(cm) > 0 {
		p += "controllerManager:\n    extraArgs:\n" + strings.Join(cm, "\n") + "\n"
	}
	if len(api) > 0 {
		p += "apiServer:\n    extraArgs:\n" + strings.Join(api, "\n") + "\n"
	}
	return []string{p}
}

// kubeletLeasePatches shortens the kubelets' node lease under a short
// node-monitor-grace-period. A kubelet renews its lease every quarter of
// nodeLeaseDurationSeconds (default 40 s: every 10 s); with a 10 s grace
// period one renewal that is a few seconds late on a loaded machine marks a
// healthy node NotReady (seen on the lab at load 14: a worker flapped
// NotReady and Unreachable while another node was partitioned). A lease as
// long as the grace period is renewed four times within it.
func kubeletLeasePatches(t Timings) []string {
	g := t.NodeMonitorGracePeriod
	if g <= 0 || g >= 40*time.Second {
		return nil
	}
	return []string{fmt.Sprintf("apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\nnodeLeaseDurationSeconds: %d\n", max(int(g.Seconds()), 4))}
}

// timingPatches appends extraArgs (a list in kubeadm v1beta4, which kind
// uses for Kubernetes >= 1.31; a merge patch would replace kind's own args).
func timingPatches(t Timings) []v1alpha4.PatchJSON6902 {
	var ops []string
	add := func(component, name string, d time.Duration, seconds bool) {
		if d <= 0 {
			return
		}
		v := d.String()
		if seconds {
			v = fmt.Sprint(int(d.Seconds()))
		}
		ops = append(ops, fmt.Sprintf("- op: add\n  path: /%s/extraArgs/-\n  value: {name: %q, value: %q}\n", component, name, v))
	}
	add("controllerManager", "node-monitor-grace-period", t.NodeMonitorGracePeriod, false)
	add("apiServer", "default-not-ready-toleration-seconds", t.NotReadyToleration, true)
	add("apiServer", "default-unreachable-toleration-seconds", t.UnreachableToleration, true)
	if len(ops) == 0 {
		return nil
	}
	return []v1alpha4.PatchJSON6902{{Group: "kubeadm.k8s.io", Version: "v1beta4", Kind: "ClusterConfiguration", Patch: strings.Join(ops, "")}}
}

// Nodes lists the cluster's node containers.
func (c *Cluster) Nodes(ctx context.Context) ([]nodes.Node, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	ns, err := c.provider.ListNodes(c.name)
	if err != nil {
		return nil, fmt.Errorf("kind: list nodes of %s: %w", c.name, err)
	}
	return ns, nil
}

// LoadImage copies a local docker image into every node's containerd, like
// `kind load docker-image` (docker save once, ctr import per node).
func (c *Cluster) LoadImage(ctx context.Context, image string) error {
	tmp, err := os.CreateTemp("", "rwxchaos-image-*.tar")
	if err != nil {
		return fmt.Errorf("kind: load image: %w", err)
	}
	tmp.Close()
	defer os.Remove(tmp.Name())
	if out, err := exec.CommandContext(ctx, "docker", "save", "-o", tmp.Name(), image).CombinedOutput(); err != nil {
		return fmt.Errorf("kind: docker save %s: %w: %s", image, err, strings.TrimSpace(string(out)))
	}
	return c.LoadArchive(ctx, tmp.Name(), image, "")
}

// LoadArchive imports an image archive (docker-archive, as `docker save`
// writes it) into every node's containerd like `kind load image-archive`,
// all nodes at once. With id (the image ID, "sha256:..."), a node that
// already holds ref as that image is skipped.
func (c *Cluster) LoadArchive(ctx context.Context, archive, ref, id string) error {
	ns, err := c.Nodes(ctx)
	if err != nil {
		return err
	}
	errs := make([]error, len(ns))
	var wg sync.WaitGroup
	for i, n := range ns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if ctx.Err() != nil {
				errs[i] = ctx.Err()
				return
			}
			if id != "" {
				if have, err := nodeutils.ImageID(n, ref); err == nil && have == id {
					return
				}
			}
			// Each node reads its own handle: docker save -o replaces the
			// file rather than writing into it, so open it only now.
			f, err := os.Open(archive)
			if err != nil {
				errs[i] = fmt.Errorf("kind: load %s: %w", ref, err)
				return
			}
			defer f.Close()
			if err := nodeutils.LoadImageArchive(n, f); err != nil {
				errs[i] = fmt.Errorf("kind: load %s into node %s: %w%s", ref, n.String(), err, commandOutput(err))
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// CollectLogs exports the nodes' logs (journal, containers, pods) into dir.
func (c *Cluster) CollectLogs(ctx context.Context, dir string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := c.provider.CollectLogs(c.name, dir); err != nil {
		return fmt.Errorf("kind: export logs of %s to %s: %w", c.name, dir, err)
	}
	return nil
}

// Dispose deletes the cluster and its kubeconfig (unless KeepOnDispose).
func (c *Cluster) Dispose(ctx context.Context) error {
	if c.opts.KeepOnDispose {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := c.provider.Delete(c.name, c.opts.KubeconfigPath); err != nil {
		return fmt.Errorf("kind: delete cluster %s: %w", c.name, err)
	}
	if err := os.Remove(c.opts.KubeconfigPath); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("kind: remove kubeconfig: %w", err)
	}
	return nil
}

// List returns the names of the rwxchaos clusters that exist.
func List(ctx context.Context) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	all, err := cluster.NewProvider(cluster.ProviderWithDocker()).List()
	if err != nil {
		return nil, fmt.Errorf("kind: list clusters: %w", err)
	}
	var ours []string
	for _, n := range all {
		if strings.HasPrefix(n, NamePrefix) {
			ours = append(ours, n)
		}
	}
	return ours, nil
}
