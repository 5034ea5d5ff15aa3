package kindcluster_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/rwxchaos/rwxchaos/framework/intervals"
	"github.com/rwxchaos/rwxchaos/framework/kindcluster"
	"github.com/rwxchaos/rwxchaos/framework/lab"
	"github.com/rwxchaos/rwxchaos/framework/lab/labtest"
)

const workers = 3

// requireLab gates the lab e2e test: it runs with RWXCHAOS_LAB=1 or CI=true.
// Under CI (or when asked for explicitly) a missing lab is a failure, never a skip.
func requireLab(t *testing.T) *lab.Manifest {
	t.Helper()
	ci := os.Getenv("CI") == "true"
	if !ci && !lab.Requested() {
		t.Skip("lab e2e test needs the hermetic kind lab: run `make lab`, then RWXCHAOS_LAB=1 go test ./framework/kindcluster/ (CI=true runs it too)")
	}
	m, err := lab.LoadDefault()
	if err != nil {
		t.Fatalf("lab e2e test requested (CI=%v, %s=%q) but the lab is not usable: %v", ci, lab.EnvLab, os.Getenv(lab.EnvLab), err)
	}
	if out, err := exec.Command("docker", "image", "inspect", m.Images.Node, m.Images.Toolbox).CombinedOutput(); err != nil {
		t.Fatalf("lab images missing from docker (rerun `make lab`): %v: %s", err, out)
	}
	labtest.Lock(t)
	return m
}

// TestLabCluster creates 1 control-plane + 3 workers from the lab images and
// checks what every scenario relies on: cross-node pod networking, a
// ClusterIP Service, cluster DNS, and a host directory shared by all nodes.
func TestLabCluster(t *testing.T) {
	m := requireLab(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	shared, err := os.MkdirTemp("", "rwxchaos-e2e-shared-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(shared) })
	if err := os.Chmod(shared, 0o777); err != nil {
		t.Fatal(err)
	}

	name := fmt.Sprintf("e2e-%d", time.Now().UnixNano()%1_000_000)
	c, err := kindcluster.New(kindcluster.Options{
		Name: name, Workers: workers, Lab: kindcluster.LabOn, LabManifest: m,
		SharedDir: shared, Timings: kindcluster.FastFailover, Logf: t.Logf,
		LogsDir: filepath.Join(os.TempDir(), "rwxchaos-logs", "e2e-"+name),
	})
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	if err := c.Create(ctx); err != nil {
		t.Fatalf("create: %v", err)
	}
	created := time.Since(t0)
	disposed := false
	t.Cleanup(func() {
		if disposed {
			return
		}
		if t.Failed() {
			dir := filepath.Join(os.TempDir(), "rwxchaos-logs", c.Name()+"-failed")
			if err := c.CollectLogs(context.Background(), dir); err != nil {
				t.Logf("collect logs: %v", err)
			} else {
				t.Logf("node logs in %s", dir)
			}
		}
		if err := c.Dispose(context.Background()); err != nil {
			t.Errorf("dispose: %v", err)
		}
	})
	t.Logf("TIMING create (kind, control plane Ready): %s", created.Round(100*time.Millisecond))

	cs := clientFor(t, c.KubeconfigPath())
	nodeNames := waitNodesReady(ctx, t, cs, 1+workers)
	allReady := time.Since(t0)
	t.Logf("TIMING all %d nodes Ready: %s", 1+workers, allReady.Round(100*time.Millisecond))
	workerNodes := nodeNames[1:]

	// A second provider for the same name adopts the cluster only with Reuse.
	dup, err := kindcluster.New(kindcluster.Options{Name: name, Workers: workers, Lab: kindcluster.LabOn, LabManifest: m,
		KubeconfigPath: filepath.Join(t.TempDir(), "dup.kubeconfig")})
	if err != nil {
		t.Fatal(err)
	}
	if err := dup.Create(ctx); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("second Create without Reuse: err = %v, want 'already exists'", err)
	}
	again, err := kindcluster.New(kindcluster.Options{Name: name, Workers: workers, Lab: kindcluster.LabOn, LabManifest: m, Reuse: true,
		KeepOnDispose: true, KubeconfigPath: filepath.Join(t.TempDir(), "reuse.kubeconfig")})
	if err != nil {
		t.Fatal(err)
	}
	if err := again.Create(ctx); err != nil {
		t.Fatalf("reuse: %v", err)
	}
	if nl, err := clientFor(t, again.KubeconfigPath()).CoreV1().Nodes().List(ctx, metav1.ListOptions{}); err != nil || len(nl.Items) != 1+workers {
		t.Fatalf("reused cluster's kubeconfig: %d nodes, err %v", len(nl.Items), err)
	}
	if err := again.Dispose(ctx); err != nil {
		t.Fatalf("dispose with KeepOnDispose: %v", err)
	}
	t.Logf("reuse by name: ok")

	if m.Images.Pipeline != "" {
		tl := time.Now()
		if err := c.LoadImage(ctx, m.Images.Pipeline); err != nil {
			t.Fatalf("load pipeline image: %v", err)
		}
		t.Logf("TIMING load pipeline image into %d nodes: %s", 1+workers, time.Since(tl).Round(100*time.Millisecond))
		out := runOnce(ctx, t, cs, "default", "pipeline-image", nodeNames[len(nodeNames)-1], m.Images.Pipeline, shared,
			"test -x /usr/local/bin/edi-pipeline && echo loaded")
		if strings.TrimSpace(out) != "loaded" {
			t.Fatalf("pipeline image pod said %q", out)
		}
	} else {
		t.Logf("pipeline image not built (%s); LoadImage not exercised", m.Skipped["img-pipeline"])
	}

	// One web server per worker; each also writes a file into the shared dir.
	ns := "default"
	tw := time.Now()
	for _, n := range workerNodes {
		pod := toolboxPod("web-"+n, n, m.Images.Toolbox, shared,
			`mkdir -p /www && echo "$NODE" > /www/index.html && echo "$NODE" > "$SHARED/from-$NODE" && exec httpd -f -p 8080 -h /www`)
		pod.Labels = map[string]string{"app": "web", "node": n}
		pod.Spec.RestartPolicy = corev1.RestartPolicyAlways
		if _, err := cs.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
			t.Fatalf("create web pod on %s: %v", n, err)
		}
	}
	podIP := map[string]string{}
	for _, n := range workerNodes {
		p := waitPod(ctx, t, cs, ns, "web-"+n, func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodRunning && p.Status.PodIP != "" })
		if p.Spec.NodeName != n {
			t.Fatalf("web-%s runs on %s", n, p.Spec.NodeName)
		}
		podIP[n] = p.Status.PodIP
	}
	t.Logf("TIMING %d web pods Running: %s (IPs %v)", workers, time.Since(tw).Round(100*time.Millisecond), podIP)

	// Pod -> pod on another node, over HTTP, by pod IP.
	for i, n := range workerNodes {
		target := workerNodes[(i+1)%len(workerNodes)]
		out := runOnce(ctx, t, cs, ns, fmt.Sprintf("http-%d", i), n, m.Images.Toolbox, shared,
			"timeout 5 wget -qO- http://"+podIP[target]+":8080/")
		if strings.TrimSpace(out) != target {
			t.Fatalf("pod on %s fetched %q from web pod on %s, want %q", n, out, target, target)
		}
	}
	t.Logf("cross-node pod->pod HTTP: ok (%d pairs)", len(workerNodes))

	// ClusterIP Service selecting only the web pod on the last worker, reached
	// by DNS name from the first worker.
	svcTarget := workerNodes[len(workerNodes)-1]
	svc, err := cs.CoreV1().Services(ns).Create(ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: corev1.ServiceSpec{
			Selector: map[string]string{"app": "web", "node": svcTarget},
			Ports:    []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromInt32(8080)}},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create service: %v", err)
	}
	// The API has the Service at once; kube-proxy on the client's node
	// programs it later (1.6 s was not enough once). Wait for a ready
	// endpoint in the API, then let the client retry until its node's rules
	// route it: that is the condition, not a sleep.
	waitServiceEndpoints(ctx, t, cs, ns, svc.Name)
	out := runOnce(ctx, t, cs, ns, "svc-ip", workerNodes[0], m.Images.Toolbox, shared,
		retryScript("timeout 5 wget -qO- http://"+svc.Spec.ClusterIP+"/"))
	if strings.TrimSpace(out) != svcTarget {
		t.Fatalf("ClusterIP %s answered %q, want %q", svc.Spec.ClusterIP, out, svcTarget)
	}
	// CoreDNS may still be starting on a loaded machine: wait for it to be
	// available (a cluster's DNS is not ready when its nodes are).
	waitCoreDNS(ctx, t, cs)
	out = runOnce(ctx, t, cs, ns, "svc-dns", workerNodes[0], m.Images.Toolbox, shared,
		retryScript("nslookup web.default.svc.cluster.local && timeout 5 wget -qO- http://web.default.svc.cluster.local/"))
	if !strings.Contains(out, svc.Spec.ClusterIP) || !strings.HasSuffix(strings.TrimSpace(out), svcTarget) {
		t.Fatalf("DNS lookup + fetch of web.default.svc.cluster.local gave:\n%s\nwant address %s and body %q", out, svc.Spec.ClusterIP, svcTarget)
	}
	t.Logf("ClusterIP service %s and cluster DNS: ok", svc.Spec.ClusterIP)

	// The shared directory: every worker sees the files written on the others.
	for i, n := range workerNodes {
		out := runOnce(ctx, t, cs, ns, fmt.Sprintf("shared-%d", i), n, m.Images.Toolbox, shared,
			`for f in "$SHARED"/from-*; do echo "$(basename "$f")=$(cat "$f")"; done`)
		var want []string
		for _, w := range workerNodes {
			want = append(want, "from-"+w+"="+w)
		}
		got := strings.Fields(out)
		sort.Strings(got)
		sort.Strings(want)
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Fatalf("shared dir seen from %s: %v, want %v", n, got, want)
		}
	}
	hostFiles, _ := filepath.Glob(filepath.Join(shared, "from-*"))
	if len(hostFiles) != workers {
		t.Fatalf("host sees %d files in %s, want %d", len(hostFiles), shared, workers)
	}
	t.Logf("shared RWX dir %s: each of %d workers sees the files written by all", shared, workers)

	if mem, err := clusterMemory(ctx, c.Name()); err != nil {
		t.Logf("memory: %v", err)
	} else {
		t.Logf("MEMORY %d-node cluster (docker stats, sum of node containers): %s", 1+workers, mem)
	}

	td := time.Now()
	if err := c.Dispose(ctx); err != nil {
		t.Fatalf("dispose: %v", err)
	}
	disposed = true
	t.Logf("TIMING delete: %s", time.Since(td).Round(100*time.Millisecond))
	if left, err := kindcluster.List(ctx); err != nil {
		t.Fatal(err)
	} else if contains(left, c.Name()) {
		t.Fatalf("cluster %s still listed after Dispose", c.Name())
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func clientFor(t *testing.T, kubeconfig string) kubernetes.Interface {
	t.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		t.Fatalf("kubeconfig: %v", err)
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

// retryScript runs cmd in a pod until it succeeds, for up to 60 tries a
// second apart, and prints only the successful try's output: the pod waits
// for its own node's kube-proxy and resolver, which the API cannot show.
func retryScript(cmd string) string {
	return `log=; for i in $(seq 1 60); do if out=$(` + cmd + ` 2>&1); then printf '%s\n' "$out"; exit 0; fi; log="$log
try $i: $out"; sleep 1; done; printf '%s\n' "$log"; exit 1`
}

// waitServiceEndpoints waits until an EndpointSlice of Service name has a
// ready endpoint.
func waitServiceEndpoints(ctx context.Context, t *testing.T, cs kubernetes.Interface, ns, name string) {
	t.Helper()
	var last string
	err := intervals.Get(intervals.ServiceEndpoint).Until(ctx, func(ctx context.Context) (bool, error) {
		sl, err := cs.DiscoveryV1().EndpointSlices(ns).List(ctx, metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName + "=" + name})
		if err != nil {
			last = err.Error()
			return false, nil
		}
		for _, s := range sl.Items {
			for _, ep := range s.Endpoints {
				if ep.Conditions.Ready != nil && *ep.Conditions.Ready {
					return true, nil
				}
			}
		}
		last = fmt.Sprintf("%d EndpointSlices, none with a ready endpoint", len(sl.Items))
		return false, nil
	})
	if err != nil {
		t.Fatalf("service %s/%s has no ready endpoint: %v: %s", ns, name, err, last)
	}
}

// waitCoreDNS waits until the coredns Deployment has an available replica
// and the kube-dns Service has a ready endpoint.
func waitCoreDNS(ctx context.Context, t *testing.T, cs kubernetes.Interface) {
	t.Helper()
	var last string
	err := intervals.Get(intervals.CoreDNSReady).Until(ctx, func(ctx context.Context) (bool, error) {
		d, err := cs.AppsV1().Deployments("kube-system").Get(ctx, "coredns", metav1.GetOptions{})
		if err != nil {
			last = err.Error()
			return false, nil
		}
		if d.Status.AvailableReplicas == 0 {
			last = "coredns has no available replica"
			return false, nil
		}
		sl, err := cs.DiscoveryV1().EndpointSlices("kube-system").List(ctx, metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName + "=kube-dns"})
		if err != nil {
			last = err.Error()
			return false, nil
		}
		for _, s := range sl.Items {
			for _, ep := range s.Endpoints {
				if ep.Conditions.Ready != nil && *ep.Conditions.Ready {
					return true, nil
				}
			}
		}
		last = "kube-dns has no ready endpoint"
		return false, nil
	})
	if err != nil {
		t.Fatalf("coredns not available: %v: %s", err, last)
	}
}

// waitNodesReady returns the node names, control plane first, once all are Ready.
func waitNodesReady(ctx context.Context, t *testing.T, cs kubernetes.Interface, want int) []string {
	t.Helper()
	var names []string
	var last string
	err := intervals.Get(intervals.NodesReady).Until(ctx, func(ctx context.Context) (bool, error) {
		nl, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		if err != nil {
			last = err.Error()
			return false, nil
		}
		names = names[:0]
		var notReady []string
		for _, n := range nl.Items {
			ready := false
			for _, c := range n.Status.Conditions {
				if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue {
					ready = true
				}
			}
			if !ready {
				notReady = append(notReady, n.Name)
			}
			names = append(names, n.Name)
		}
		last = fmt.Sprintf("%d nodes, not ready: %v", len(nl.Items), notReady)
		return len(nl.Items) == want && len(notReady) == 0, nil
	})
	if err != nil {
		t.Fatalf("nodes not Ready: %v (last: %s)", err, last)
	}
	sort.Slice(names, func(i, j int) bool {
		ci, cj := strings.HasSuffix(names[i], "control-plane"), strings.HasSuffix(names[j], "control-plane")
		if ci != cj {
			return ci
		}
		return names[i] < names[j]
	})
	return names
}

func toolboxPod(name, node, image, shared, script string) *corev1.Pod {
	hostPathType := corev1.HostPathDirectory
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.PodSpec{
			NodeName:                      node,
			RestartPolicy:                 corev1.RestartPolicyNever,
			TerminationGracePeriodSeconds: new(int64),
			Containers: []corev1.Container{{
				Name: "main", Image: image, ImagePullPolicy: corev1.PullNever,
				Command:      []string{"sh", "-c", script},
				Env:          []corev1.EnvVar{{Name: "NODE", Value: node}, {Name: "SHARED", Value: "/shared"}},
				VolumeMounts: []corev1.VolumeMount{{Name: "shared", MountPath: "/shared"}},
			}},
			Volumes: []corev1.Volume{{Name: "shared", VolumeSource: corev1.VolumeSource{
				HostPath: &corev1.HostPathVolumeSource{Path: shared, Type: &hostPathType}}}},
		},
	}
}

func waitPod(ctx context.Context, t *testing.T, cs kubernetes.Interface, ns, name string, ok func(*corev1.Pod) bool) *corev1.Pod {
	t.Helper()
	var p *corev1.Pod
	err := intervals.Get(intervals.PodPhase).Until(ctx, func(ctx context.Context) (bool, error) {
		var err error
		p, err = cs.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		if p.Status.Phase == corev1.PodFailed && !ok(p) {
			return false, errors.New("pod failed")
		}
		return ok(p), nil
	})
	if err != nil {
		t.Fatalf("pod %s/%s: %v; status: %s", ns, name, err, describePod(ctx, cs, ns, name))
	}
	return p
}

func describePod(ctx context.Context, cs kubernetes.Interface, ns, name string) string {
	p, err := cs.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return err.Error()
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "phase=%s node=%s", p.Status.Phase, p.Spec.NodeName)
	for _, c := range p.Status.Conditions {
		fmt.Fprintf(&b, " %s=%s(%s)", c.Type, c.Status, c.Message)
	}
	for _, s := range p.Status.ContainerStatuses {
		fmt.Fprintf(&b, " container %s: %+v", s.Name, s.State)
	}
	if ev, err := cs.CoreV1().Events(ns).List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.name=" + name}); err == nil {
		for _, e := range ev.Items {
			fmt.Fprintf(&b, "\n  event %s %s: %s", e.Type, e.Reason, e.Message)
		}
	}
	return b.String()
}

// runOnce runs script in a pod on node and returns its output; the pod must
// exit 0.
func runOnce(ctx context.Context, t *testing.T, cs kubernetes.Interface, ns, name, node, image, shared, script string) string {
	t.Helper()
	if _, err := cs.CoreV1().Pods(ns).Create(ctx, toolboxPod(name, node, image, shared, script), metav1.CreateOptions{}); err != nil {
		t.Fatalf("create pod %s: %v", name, err)
	}
	p := waitPod(ctx, t, cs, ns, name, func(p *corev1.Pod) bool {
		return p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed
	})
	raw, err := cs.CoreV1().Pods(ns).GetLogs(name, &corev1.PodLogOptions{}).DoRaw(ctx)
	if err != nil {
		t.Fatalf("logs of %s: %v", name, err)
	}
	if p.Status.Phase != corev1.PodSucceeded {
		t.Fatalf("pod %s on %s (%q) failed: %s\noutput:\n%s", name, node, script, describePod(ctx, cs, ns, name), raw)
	}
	return string(raw)
}

// clusterMemory sums `docker stats` memory of the cluster's node containers.
func clusterMemory(ctx context.Context, cluster string) (string, error) {
	ids, err := exec.CommandContext(ctx, "docker", "ps", "-q", "--filter", "label=io.x-k8s.kind.cluster="+cluster).Output()
	if err != nil {
		return "", err
	}
	args := append([]string{"stats", "--no-stream", "--format", "{{.Name}} {{.MemUsage}}"}, strings.Fields(string(ids))...)
	out, err := exec.CommandContext(ctx, "docker", args...).Output()
	if err != nil {
		return "", err
	}
	var total float64
	var parts []string
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		mib, err := parseMiB(f[1])
		if err != nil {
			return "", fmt.Errorf("parse %q: %w", line, err)
		}
		total += mib
		parts = append(parts, fmt.Sprintf("%s=%.0fMiB", f[0], mib))
	}
	return fmt.Sprintf("%.0f MiB total (%s)", total, strings.Join(parts, ", ")), nil
}

func parseMiB(s string) (float64, error) {
	units := []struct {
		suffix string
		mib    float64
	}{{"GiB", 1024}, {"MiB", 1}, {"KiB", 1.0 / 1024}, {"B", 1.0 / 1024 / 1024}}
	for _, u := range units {
		if strings.HasSuffix(s, u.suffix) {
			v, err := strconv.ParseFloat(strings.TrimSuffix(s, u.suffix), 64)
			return v * u.mib, err
		}
	}
	return 0, fmt.Errorf("unknown unit in %q", s)
}
