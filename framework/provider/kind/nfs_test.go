package kind

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/rwxchaos/rwxchaos/fixtures/k8s"
	"github.com/rwxchaos/rwxchaos/framework/scenario"
	"github.com/rwxchaos/rwxchaos/framework/storage"
	"github.com/rwxchaos/rwxchaos/framework/support"
	"github.com/rwxchaos/rwxchaos/framework/trigger"
)

func fakeKernel(t *testing.T, has bool, recover string) {
	t.Helper()
	old := kernelNFS
	kernelNFS = func() (bool, string) { return has, recover }
	t.Cleanup(func() { kernelNFS = old })
}

func nfsSpec(client scenario.NFSClient, opts ...string) scenario.StorageSpec {
	return scenario.StorageSpec{Backend: scenario.BackendNFS, MountOptions: opts,
		NFS: scenario.NFSSpec{Client: client, Lease: scenario.Duration(10 * time.Second), Grace: scenario.Duration(10 * time.Second)}}
}

func TestChooseNFSClient(t *testing.T) {
	t.Run("auto without a kernel client is userspace, and says why", func(t *testing.T) {
		fakeKernel(t, false, "")
		c, why, args, err := chooseNFSClient(nfsSpec(scenario.NFSClientAuto, "nfsvers=4.1", "hard", "actimeo=3"))
		if err != nil || c != scenario.NFSClientUserspace || !strings.Contains(why, "no NFS client") {
			t.Fatalf("%s %q %v", c, why, err)
		}
		if strings.Join(args, " ") != "--actimeo 3s" {
			t.Errorf("args %v", args)
		}
	})
	t.Run("auto with a kernel client is kernel", func(t *testing.T) {
		fakeKernel(t, true, "N")
		c, _, args, err := chooseNFSClient(nfsSpec(scenario.NFSClientAuto, "timeo=600"))
		if err != nil || c != scenario.NFSClientKernel || args != nil {
			t.Fatalf("%s %v %v", c, args, err)
		}
	})
	t.Run("kernel without a kernel client is unsupported, with the reason", func(t *testing.T) {
		fakeKernel(t, false, "")
		_, _, _, err := chooseNFSClient(nfsSpec(scenario.NFSClientKernel))
		if !support.IsUnsupported(err) || !strings.Contains(err.Error(), storage.NoNFSMountReason) {
			t.Fatalf("%v", err)
		}
	})
	t.Run("kernel with the other recover_lost_locks is unsupported", func(t *testing.T) {
		fakeKernel(t, true, "N")
		s := nfsSpec(scenario.NFSClientKernel)
		s.NFS.RecoverLostLocks = true
		_, _, _, err := chooseNFSClient(s)
		if !support.IsUnsupported(err) || !strings.Contains(err.Error(), "echo Y > /sys/module/nfs/parameters/recover_lost_locks") {
			t.Fatalf("%v", err)
		}
	})
	t.Run("an option the userspace client would ignore voids the run", func(t *testing.T) {
		fakeKernel(t, false, "")
		_, _, _, err := chooseNFSClient(nfsSpec(scenario.NFSClientAuto, "timeo=600"))
		if !support.IsUnsupported(err) || !strings.Contains(err.Error(), "timeo=600") {
			t.Fatalf("%v", err)
		}
	})
	t.Run("userspace flags", func(t *testing.T) {
		fakeKernel(t, true, "N")
		s := nfsSpec(scenario.NFSClientUserspace, "noac")
		s.NFS.RecoverLostLocks = true
		_, _, args, err := chooseNFSClient(s)
		if err != nil || strings.Join(args, " ") != "--actimeo 0s --recover-lost-locks" {
			t.Fatalf("%v %v", args, err)
		}
	})
}

func TestUnitAndGuard(t *testing.T) {
	g, err := storage.NewGanesha(storage.GaneshaConfig{Name: "rwxchaos-nfs-x", Image: "i", Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	n := &nfsEnv{server: g, args: []string{"--actimeo", "3s"}, command: []string{"/b/rwxchaos", "__nfs-mount"}}
	u := n.unit("rwxchaos-x-worker2")
	for _, want := range []string{"Before=kubelet.service", "StartLimitIntervalSec=0", "Restart=always",
		"ExecStartPre=" + nfsGuardScript, "ExecStart=/b/rwxchaos __nfs-mount --server", "--name rwxchaos-x-worker2", "--mount " + nfsNodeMount, "--no-guard", "--actimeo 3s",
		"--ready " + nfsReady, "WantedBy=multi-user.target"} {
		if !strings.Contains(u, want) {
			t.Errorf("unit lacks %q:\n%s", want, u)
		}
	}
	for _, want := range []string{"umount -l", "mount --make-private", "remount,bind,ro", "mount --make-shared", "rm -f " + nfsReady} {
		if !strings.Contains(guardScript, want) {
			t.Errorf("guard script lacks %q", want)
		}
	}
}

func TestStorageCutScripts(t *testing.T) {
	c := cutChain("run-1", "cut", "rwxchaos-x-worker")
	if len(c) > 28 || !strings.HasPrefix(c, "RWXCHAOS-NFS-") || c == cutChain("run-1", "cut", "rwxchaos-x-worker2") {
		t.Fatalf("chain %q", c)
	}
	f := &storageCut{node: "w", ip: "172.19.0.9", chain: c, egress: true}
	s := f.script()
	if !strings.Contains(s, "-d 172.19.0.9 -j DROP") || strings.Contains(s, "-s 172.19.0.9") {
		t.Errorf("egress-only script %q", s)
	}
	if !strings.Contains(s, "iptables -I OUTPUT -j "+c) || !strings.Contains(s, "iptables -I INPUT -j "+c) {
		t.Errorf("script does not jump to the chain: %q", s)
	}
	if u := f.undoScript(); !strings.Contains(u, "iptables -X "+c) || !strings.Contains(u, "iptables -D $c -j "+c) {
		t.Errorf("undo %q", u)
	}
	if f.Target() != "w →⟂ nfs 172.19.0.9" {
		t.Errorf("target %q", f.Target())
	}
}

func TestPartitionStorage(t *testing.T) {
	g, err := storage.NewGanesha(storage.GaneshaConfig{Name: "rwxchaos-nfs-x", Image: "i", Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	e := &Env{s: &scenario.Scenario{}, runID: "r1", cpNode: "x-control-plane", workers: []string{"x-worker", "x-worker2"}, nfs: &nfsEnv{server: g}}
	ctx := t.Context()
	fs, err := e.partition(ctx, scenario.FaultSpec{Name: "p", Action: scenario.ActionPartition, From: "worker-2", To: "storage", Direction: scenario.DirectionEgress}, nil)
	if err != nil || len(fs) != 1 {
		t.Fatalf("%v %v", fs, err)
	}
	if c := fs[0].(*storageCut); c.node != "x-worker2" || !c.egress || c.ingress {
		t.Errorf("node→storage egress: %+v", c)
	}
	// From the storage's side, its ingress is the nodes' egress.
	fs, err = e.partition(ctx, scenario.FaultSpec{Name: "p", Action: scenario.ActionPartition, From: "storage", To: "nodes", Direction: scenario.DirectionIngress}, nil)
	if err != nil || len(fs) != 2 {
		t.Fatalf("%v %v", fs, err)
	}
	for _, f := range fs {
		if c := f.(*storageCut); !c.egress || c.ingress {
			t.Errorf("storage ingress from nodes: %+v", c)
		}
	}
	if _, err := e.partition(ctx, scenario.FaultSpec{Name: "p", Action: scenario.ActionPartition, From: "control-plane", To: "storage"}, nil); err == nil {
		t.Error("the control plane (no NFS client) was cut off the storage")
	}
	e.nfs = nil
	if _, err := e.partition(ctx, scenario.FaultSpec{Name: "p", Action: scenario.ActionPartition, From: "worker-1", To: "storage"}, nil); err == nil {
		t.Error("a partition with storage worked without an NFS server")
	}
}

// Faults fired by file operations on NFS: every worker's userspace client
// dials the runner's socket (bind-mounted at the same path), the servers
// are the clients and the root the run's directory in the export, a
// storage-cutoff aimed at the caller's node cuts that node, and a reused
// cluster (nodes made without the socket) is refused with the reason.
func TestNFSTriggerWiring(t *testing.T) {
	g, err := storage.NewGanesha(storage.GaneshaConfig{Name: "rwxchaos-nfs-x", Image: "i", Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	sock := "/tmp/rwxchaos-trigger-x.sock"
	n := &nfsEnv{server: g, command: []string{"/b/rwxchaos", "__nfs-mount"}, trigger: sock, workers: []string{"x-worker", "x-worker2", "x-worker3"}}
	if u := n.unit("x-worker"); !strings.Contains(u, "--trigger "+sock) {
		t.Errorf("unit does not dial the trigger socket:\n%s", u)
	}
	s := &scenario.Scenario{Storage: nfsSpec(scenario.NFSClientUserspace)}
	s.Cluster.Provider = scenario.ProviderKind
	e := &Env{s: s, runID: "r1", cpNode: "x-control-plane", workers: n.workers, nfs: n, trigger: sock}
	if k, root := e.TriggerServers(); k != 3 || root != "runs/r1" {
		t.Errorf("TriggerServers = %d, %q; want 3 clients, runs/r1", k, root)
	}
	spec := scenario.FaultSpec{Name: "cut", Action: scenario.ActionStorageCutoff, Duration: scenario.Duration(time.Second),
		Target: scenario.TargetSpec{Select: scenario.SelectCallerNode}}
	fs, err := e.CallerFault(t.Context(), spec, trigger.Caller{Node: "x-worker2", Role: "engine", Desc: "engine"}, nil)
	if err != nil || len(fs) != 1 {
		t.Fatalf("CallerFault: %v %v", fs, err)
	}
	if c, ok := fs[0].(*storageCut); !ok || c.node != "x-worker2" || !c.egress || !c.ingress {
		t.Errorf("cut %+v, want x-worker2 both ways", fs[0])
	}
	if _, err := e.CallerFault(t.Context(), spec, trigger.Caller{Desc: "sh pid 9 (not in a pod)"}, nil); err == nil {
		t.Error("a caller outside the run's pods had a node to cut")
	}
	// The kernel client has no hook.
	n.trigger = ""
	if k, _ := e.TriggerServers(); k != 0 {
		t.Errorf("TriggerServers with the kernel client = %d", k)
	}
	// A reused cluster's nodes lack the socket.
	fakeKernel(t, false, "")
	s.Cluster.Kind.Reuse = true
	if _, _, err := e.newNFS(t.Context(), "rwxchaos-x"); !support.IsUnsupported(err) || !strings.Contains(err.Error(), "reuse false") {
		t.Errorf("newNFS with a trigger on a reused cluster: %v", err)
	}
}

// On NFS the publisher and consumers mount the node's userspace client
// (never a host path carrying NFS mount options, which the kubelet
// refuses), journal to a node directory off the faulted volume, and the
// runner follows every node's journal directory on the host.
func TestPublishOnNFS(t *testing.T) {
	dir := t.TempDir()
	s := &scenario.Scenario{Storage: nfsSpec(scenario.NFSClientUserspace, "nfsvers=4.1", "hard", "actimeo=3"),
		Workload: scenario.WorkloadSpec{Mode: scenario.ModePublishConsume,
			Publish: scenario.PublishSpec{Files: 2, Size: 1024, Rate: 1, Versions: 10, LoadRate: 2}}}
	e := &Env{s: s, runID: "r1", ns: "rwxchaos-r1", volume: filepath.Join(dir, "export", "runs", "r1"),
		nfs: &nfsEnv{spec: s.Storage, client: scenario.NFSClientUserspace, dir: dir}}
	objs, err := e.publishObjects("app:lab", []string{"rwxchaos", "__pipeline"}, "Never", e.pipelineVolume(), e.journalHostPath())
	if err != nil {
		t.Fatal(err)
	}
	if hp := objs.PV.Spec.HostPath; hp == nil || hp.Path != nfsNodeDir || len(objs.PV.Spec.MountOptions) != 0 {
		t.Errorf("PV %+v: want a host path of %s without mount options", objs.PV.Spec, nfsNodeDir)
	}
	for _, tmpl := range []corev1.PodTemplateSpec{objs.Publisher.Spec.Template, objs.Consumer.Spec.Template} {
		args := strings.Join(tmpl.Spec.Containers[0].Args, " ")
		if !strings.Contains(args, "--root "+k8s.MountPath+"/mnt/runs/r1") || !strings.Contains(args, "--journal-dir "+k8s.JournalPath) {
			t.Errorf("%s args %s", tmpl.Labels[k8s.LabelComponent], args)
		}
		if v := tmpl.Spec.Volumes[len(tmpl.Spec.Volumes)-1]; v.HostPath == nil || v.HostPath.Path != journalNodeDir+"/r1" {
			t.Errorf("%s journal volume %+v", tmpl.Labels[k8s.LabelComponent], v)
		}
	}
	if got := e.journalDirs(); len(got) != 0 {
		t.Errorf("journal dirs before any pod wrote: %v", got)
	}
	for _, n := range []string{"w2", "w1"} {
		if err := os.MkdirAll(filepath.Join(dir, "journal", n, "r1"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	_ = os.MkdirAll(filepath.Join(dir, "journal", "w1", "other-run"), 0o755)
	want := []string{filepath.Join(dir, "journal", "w1", "r1"), filepath.Join(dir, "journal", "w2", "r1")}
	if got := e.journalDirs(); !slices.Equal(got, want) {
		t.Errorf("journal dirs %v, want %v", got, want)
	}
}
