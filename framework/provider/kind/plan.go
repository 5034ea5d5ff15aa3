package kind

import (
	"context"
	"fmt"
	"hash/fnv"
	"path/filepath"
	"strings"

	"github.com/rwxchaos/rwxchaos/fixtures/k8s"
	"github.com/rwxchaos/rwxchaos/framework/history"
	"github.com/rwxchaos/rwxchaos/framework/kindcluster"
	"github.com/rwxchaos/rwxchaos/framework/lab"
	"github.com/rwxchaos/rwxchaos/framework/scenario"
	"github.com/rwxchaos/rwxchaos/framework/selfexec"
)

// clusterName is the kind cluster's name without kindcluster.NamePrefix:
// the scenario's when it reuses a cluster, else one per run directory (so
// two test packages never share a cluster). Provision computes the same.
func (e *Env) clusterName() string {
	if e.s.Cluster.Kind.Reuse {
		return e.s.Cluster.Kind.Name
	}
	h := fnv.New32a()
	h.Write([]byte(e.runDir))
	return fmt.Sprintf("run-%06x", h.Sum32()&0xffffff)
}

// Plan implements provider.Planner: what Provision and Deploy would create,
// creating nothing (no cluster, no image build, no file server).
func (e *Env) Plan(ctx context.Context) (string, error) {
	name := e.clusterName()
	shared := filepath.Join(lab.CacheDir(), "kind-shared", kindcluster.NamePrefix+name)
	volume := filepath.Join(shared, "runs", e.runID)
	c, err := kindcluster.New(kindcluster.Options{Name: name, Workers: e.s.Cluster.Kind.Workers, SharedDir: shared})
	if err != nil {
		return "", err
	}
	var b strings.Builder
	verb := "create"
	if e.s.Cluster.Kind.Reuse {
		verb = "reuse (or create)"
	}
	image := c.NodeImage()
	if image == "" {
		image = "kind's default node image (no lab: run `make lab` first, there is no registry here)"
	}
	fmt.Fprintf(&b, "provider kind: would %s cluster %s: 1 control plane + %d workers, node image %s\n", verb, c.Name(), e.s.Cluster.Kind.Workers, image)
	nodes := []string{c.Name() + "-control-plane"}
	for i := 1; i <= e.s.Cluster.Kind.Workers; i++ {
		n := c.Name() + "-worker"
		if i > 1 {
			n += fmt.Sprint(i)
		}
		nodes = append(nodes, n)
	}
	fmt.Fprintf(&b, "  nodes: %s\n", strings.Join(nodes, ", "))
	t := e.s.Cluster.Timings
	fmt.Fprintf(&b, "  timings: node-monitor-grace-period %s", t.NodeMonitorGracePeriod)
	if t.NotReadyTolerationSeconds != nil && t.UnreachableTolerationSeconds != nil {
		fmt.Fprintf(&b, ", not-ready toleration %ds, unreachable toleration %ds", *t.NotReadyTolerationSeconds, *t.UnreachableTolerationSeconds)
	}
	b.WriteString("\n")
	if e.s.Storage.Backend != scenario.BackendNFS {
		fmt.Fprintf(&b, "  shared dir %s mounted into every node; the run's volume is %s\n", shared, volume)
	}
	if e.s.Storage.Backend == scenario.BackendFuse {
		fuse := "the fuse server"
		if argv, err := selfexec.Fuse.Command(); err == nil {
			fuse += " (" + strings.Join(argv, " ") + ")"
		}
		fmt.Fprintf(&b, "  backend fuse: would start %s on the host, mounted on %s (propagated into the nodes)", fuse, shared)
		if e.trigger != "" {
			fmt.Fprintf(&b, "; it dials the run's trigger socket %s", e.trigger)
		}
		b.WriteString("\n")
	}
	vol := k8s.Volume{HostPath: volume, MountOptions: e.s.Storage.MountOptions, Size: e.s.Storage.Size}
	var journal string
	journals := filepath.Join(volume, history.DirJournal)
	if e.s.Storage.Backend == scenario.BackendNFS {
		v, err := e.planNFS(&b, kindcluster.NamePrefix+name)
		if err != nil {
			return b.String(), err
		}
		vol, journal = v, journalNodeDir+"/"+e.runID
		journals = filepath.Join(lab.CacheDir(), "kind-nfs", kindcluster.NamePrefix+name, "journal", "<node>", e.runID)
	}
	if e.ext != nil {
		fmt.Fprintf(&b, "  kubeconfig: %s\n", filepath.Join(e.runDir, "kubeconfig"))
		p, err := e.ext.dryPlan(volume, filepath.Join(shared, "runs", e.runID+"-side"))
		if err != nil {
			return "", err
		}
		b.WriteString(p)
		return b.String(), ctx.Err()
	}
	image, command, pull, desc := planAppImage(e.o.AppImage)
	fmt.Fprintf(&b, "  %s\n", desc)
	fmt.Fprintf(&b, "  kubeconfig: %s\n", filepath.Join(e.runDir, "kubeconfig"))
	w := e.s.Workload
	if w.Mode == scenario.ModePublishConsume {
		objs, err := e.publishObjects(image, command, pull, vol, journal)
		if err != nil {
			return "", err
		}
		y, err := objs.YAML()
		if err != nil {
			return "", err
		}
		fmt.Fprintf(&b, "  manifests it would apply (namespace %s), then wait for the publisher and a consumer on every worker to be Ready; the runner follows their journals under %s:\n",
			e.ns, journals)
		b.Write(y)
		return b.String(), ctx.Err()
	}
	cron, _ := w.Engine.Cron()
	var defects []string
	for _, d := range w.Defects {
		defects = append(defects, string(d))
	}
	objs, err := k8s.Pipeline(k8s.PipelineInput{
		Namespace: e.ns, Run: e.runID, Image: image, Command: command, PullPolicy: pull,
		Webservers: w.Replicas.Webserver, Jobqueue: w.Replicas.Jobqueue != nil && *w.Replicas.Jobqueue > 0,
		JobqueueEvery: JobqueueEvery, EngineSchedule: cron,
		LeaseTTL: w.Engine.LeaseTTL.D(), Heartbeat: w.Engine.Heartbeat.D(), StepDelay: w.Engine.StepDelay.D(), Defects: defects,
		Volume: vol, JournalHostPath: journal, EngineAvoidsJobqueue: e.s.Storage.Backend == scenario.BackendNFS,
	})
	if err != nil {
		return "", err
	}
	y, err := objs.YAML()
	if err != nil {
		return "", err
	}
	fmt.Fprintf(&b, "  manifests it would apply (namespace %s), then wait for every webserver to be Ready and send traffic to each worker's NodePort:\n", e.ns)
	b.Write(y)
	return b.String(), ctx.Err()
}

// planNFS writes what backend nfs would start: the server container, the
// client on every worker and its unit, the mounts; and returns the volume
// the pipeline would mount. A scenario this host cannot run is the same
// *support.Unsupported Provision would return.
func (e *Env) planNFS(b *strings.Builder, cluster string) (k8s.Volume, error) {
	st := e.s.Storage
	client, why, args, err := chooseNFSClient(st)
	if err != nil {
		return k8s.Volume{}, err
	}
	dir := filepath.Join(lab.CacheDir(), "kind-nfs", cluster)
	image := "the lab's nfs-ganesha image"
	if m, err := lab.LoadDefault(); err == nil && m.Images.NFSServer != "" {
		image = m.Images.NFSServer
	} else {
		image += " (none here: run `make lab`; the run would be void)"
	}
	fmt.Fprintf(b, "  backend nfs: would start nfs-ganesha (%s) as container %s on the kind network: NFSv4 only, lease %s, grace %s, exporting %s (recovery dir and config under %s)\n",
		image, "rwxchaos-nfs-"+strings.TrimPrefix(cluster, kindcluster.NamePrefix), st.NFS.Lease, st.NFS.Grace, filepath.Join(dir, "export"), filepath.Join(dir, "server"))
	fmt.Fprintf(b, "  journals: %s/<node> on the host, mounted at %s in every node (off the volume under test)\n", filepath.Join(dir, "journal"), journalNodeDir)
	if client == scenario.NFSClientKernel {
		fmt.Fprintf(b, "  NFS client: the host kernel's (%s): an in-tree nfs volume of the server's /export/runs/%s, mounted by the kubelet with options %s\n",
			why, e.runID, strings.Join(st.MountOptions, ","))
		return k8s.Volume{NFSServer: "<the server container's address>", NFSPath: "/export/runs/" + e.runID, MountOptions: st.MountOptions, Size: st.Size}, nil
	}
	argv, err := selfexec.NFSMount.Command()
	if err != nil {
		return k8s.Volume{}, fmt.Errorf("the userspace NFS client: %w", err)
	}
	fmt.Fprintf(b, "  NFS client: userspace (%s): %s, bundled into %s (mounted read-only into every node), run as systemd unit %s in every worker (before the kubelet), mounting the export on %s over FUSE",
		why, strings.Join(argv, " "), filepath.Join(dir, "bin"), nfsUnit, nfsNodeMount)
	if len(args) > 0 {
		fmt.Fprintf(b, " with %s", strings.Join(args, " "))
	}
	if e.trigger != "" {
		fmt.Fprintf(b, "; each client dials the run's trigger socket %s (bind-mounted into the nodes)", e.trigger)
	}
	b.WriteString("\n")
	return k8s.Volume{HostPath: nfsNodeDir, Root: "mnt/runs/" + e.runID, Size: st.Size}, nil
}
