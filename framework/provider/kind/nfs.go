package kind

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
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/kind/pkg/apis/config/v1alpha4"

	"github.com/rwxchaos/rwxchaos/framework/binimage"
	"github.com/rwxchaos/rwxchaos/framework/history"
	"github.com/rwxchaos/rwxchaos/framework/kindcluster"
	"github.com/rwxchaos/rwxchaos/framework/lab"
	"github.com/rwxchaos/rwxchaos/framework/report"
	"github.com/rwxchaos/rwxchaos/framework/scenario"
	"github.com/rwxchaos/rwxchaos/framework/selfexec"
	"github.com/rwxchaos/rwxchaos/framework/storage"
	"github.com/rwxchaos/rwxchaos/framework/support"
)

// Backend nfs on kind: an nfs-ganesha container beside the nodes (on kind's
// docker network, serving a host directory), and an NFS client on every
// worker:
//
//   - userspace: rwxchaos __nfs-mount (this binary, bundled by
//     binimage.Bundle into a host directory mounted read-only into every
//     node at the same path) runs as the systemd unit
//     rwxchaos-nfs.service inside each worker, ordered before the kubelet,
//     and mounts the export at nfsNodeMount with FUSE. The unit lives in the
//     node's writable layer, so it comes back after a node restart (node-
//     kill + start, node-reboot), and systemd restarts a client that dies.
//     Under the client's mount lies a read-only bind mount of an empty
//     directory (the guard, set up by the unit before every start): while no
//     client is mounted, a write lands on EROFS instead of the node's disk.
//     The PV is a hostPath of nfsNodeDir, one level above the mountpoint,
//     mounted into pods with HostToContainer propagation and the pipeline's
//     root below it, so a client's remount reaches running pods.
//   - kernel: the host kernel's client, through an in-tree nfs PV that the
//     kubelet mounts with the scenario's mountOptions (the lab's node image
//     carries mount.nfs).
//
// Either way the client runs in the node's network namespace and under its
// cgroup: docker kill of a node kills its client, docker pause freezes it,
// iptables in the node cut it off. Journals go to a per-node host directory
// (JournalHostPath), not to the volume under test, and the runner reads the
// volume from the server's export directory on the host.
const (
	nfsNodeDir     = "/var/lib/rwxchaos-nfs"
	nfsNodeMount   = nfsNodeDir + "/mnt"
	nfsNodeGuard   = nfsNodeDir + "/guard"
	nfsUnit        = "rwxchaos-nfs.service"
	nfsGuardScript = "/usr/local/sbin/rwxchaos-nfs-guard"
	nfsRunDir      = "/run/rwxchaos-nfs"
	nfsReady       = nfsRunDir + "/ready"
	nfsStats       = nfsRunDir + "/stats.json"
	journalNodeDir = "/var/lib/rwxchaos-journal"
	// nfsServeTimeout bounds the wait for the clients to mount.
	nfsServeTimeout = 90 * time.Second
)

// nfsEnv is the NFS side of one kind run.
type nfsEnv struct {
	spec    scenario.StorageSpec
	client  scenario.NFSClient // the client that runs: kernel or userspace
	why     string             // why that one
	args    []string           // rwxchaos-nfs flags from the mount options
	dir     string             // host: server state, export, client binary, journals
	command []string           // runs the userspace client inside a node
	image   string             // the lab's nfs-ganesha image
	server  *storage.GaneshaContainer
	workers []string // nodes with a client unit (userspace)
	// trigger is the runner's trigger socket the userspace clients dial
	// ("" without faults fired by file operations).
	trigger string
	cluster string // the kind cluster's name
	// runID is set on a pool's cluster: the server keeps its state per run
	// (a new server must not find an earlier run's clients to wait for),
	// and the run's trigger socket is relayed (relay) into the shared dir.
	runID string
	relay *socketRelay
}

// serverDir keeps the server's config and recovery state.
func (n *nfsEnv) serverDir() string {
	if n.runID != "" {
		return filepath.Join(n.dir, "server", n.runID)
	}
	return filepath.Join(n.dir, "server")
}

// kernelNFS is what the host kernel offers; a variable so tests can pretend.
var kernelNFS = func() (hasClient bool, recoverLostLocks string) {
	b, _ := os.ReadFile("/sys/module/nfs/parameters/recover_lost_locks")
	return storage.KernelCanMountNFS(), strings.TrimSpace(string(b))
}

// chooseNFSClient decides which NFS client runs a scenario here: the one
// place the kind provider decides whether backend nfs can run (the
// validator checks what does not depend on the host). An *Unsupported
// error makes the run void with the reason.
func chooseNFSClient(st scenario.StorageSpec) (client scenario.NFSClient, why string, args []string, err error) {
	n := st.NFS
	hasKernel, recover := kernelNFS()
	env := "kind"
	switch n.Client {
	case scenario.NFSClientKernel:
		if !hasKernel {
			return "", "", nil, &support.Unsupported{Action: "storage.nfs.client kernel", Env: env,
				Reason: storage.NoNFSMountReason + " (storage.nfs.client userspace runs the same scenario with the framework's NFSv4.1 client over FUSE)"}
		}
		client, why = scenario.NFSClientKernel, "asked for (storage.nfs.client kernel)"
	case scenario.NFSClientUserspace:
		client, why = scenario.NFSClientUserspace, "asked for (storage.nfs.client userspace)"
	default:
		if hasKernel {
			client, why = scenario.NFSClientKernel, "auto: the host kernel has an NFS client"
		} else {
			client, why = scenario.NFSClientUserspace, "auto: the host kernel has no NFS client (/proc/filesystems lists neither nfs nor nfs4)"
		}
	}
	if client == scenario.NFSClientKernel {
		if n.RecoverLostLocks != (recover == "Y" || recover == "1") {
			want := map[bool]string{true: "Y", false: "N"}[n.RecoverLostLocks]
			return "", "", nil, &support.Unsupported{Action: "storage.nfs.recoverLostLocks " + strconv.FormatBool(n.RecoverLostLocks), Env: env,
				Reason: fmt.Sprintf("the kernel client takes it from the host's nfs module parameter, which is %q here: run `echo %s > /sys/module/nfs/parameters/recover_lost_locks` on the host, or use storage.nfs.client userspace", recover, want)}
		}
		return client, why, nil, nil
	}
	for _, o := range st.MountOptions {
		if r := scenario.UserspaceNFSOption(o); r != "" {
			return "", "", nil, &support.Unsupported{Action: "storage.mountOptions " + o, Env: env,
				Reason: "the NFS client here is the userspace one (" + why + "), and " + r + ": remove the option, or run on a host whose kernel has an NFS client"}
		}
		k, v, _ := strings.Cut(o, "=")
		switch k {
		case "actimeo":
			secs, err := strconv.Atoi(v)
			if err != nil {
				return "", "", nil, fmt.Errorf("mount option %s: %w", o, err)
			}
			args = append(args, "--actimeo", (time.Duration(secs) * time.Second).String())
		case "noac":
			args = append(args, "--actimeo", "0s")
		}
	}
	if n.RecoverLostLocks {
		args = append(args, "--recover-lost-locks")
	}
	if _, err := os.Stat("/dev/fuse"); err != nil {
		return "", "", nil, &support.Unsupported{Action: "storage.nfs.client userspace", Env: env,
			Reason: fmt.Sprintf("the userspace NFS client mounts with FUSE, and this host has no /dev/fuse (%v): load the fuse module", err)}
	}
	return client, why, args, nil
}

// newNFS prepares the NFS side before the cluster exists: the client
// choice, the client binary and the extra mounts every node needs.
func (e *Env) newNFS(ctx context.Context, cluster string) (*nfsEnv, []v1alpha4.Mount, error) {
	client, why, args, err := chooseNFSClient(e.s.Storage)
	if err != nil {
		return nil, nil, err
	}
	if e.trigger != "" && client == scenario.NFSClientUserspace && e.s.Cluster.Kind.Reuse {
		// Mounts are fixed when a node is created: a reused cluster's
		// nodes have an older run's trigger socket, or none.
		return nil, nil, &support.Unsupported{Action: "schedule.on", Env: "kind/nfs",
			Reason: "the NFS clients reach the runner's trigger socket through a bind mount made when the nodes are created, and a reused cluster's nodes exist already: set cluster.kind.reuse false"}
	}
	image, err := nfsServerImage()
	if err != nil {
		return nil, nil, err
	}
	n := &nfsEnv{spec: e.s.Storage, client: client, why: why, args: args, image: image,
		dir: filepath.Join(lab.CacheDir(), "kind-nfs", cluster), cluster: cluster}
	mounts := nfsNodeMounts(n.dir)[:1]
	if client == scenario.NFSClientUserspace {
		// The client is this rwxchaos binary's own __nfs-mount (or
		// RWXCHAOS_NFS_BINARY), bundled into a directory every node mounts
		// at the same path: it runs there on the node's root, whatever its
		// libc. A copy per cluster, renamed into place: a later run must
		// not replace the binary that running nodes execute.
		argv, err := selfexec.NFSMount.Command()
		if err != nil {
			return nil, nil, fmt.Errorf("the userspace NFS client: %w", err)
		}
		if n.command, err = binimage.Bundle(argv, filepath.Join(n.dir, "bin")); err != nil {
			return nil, nil, fmt.Errorf("put the userspace NFS client where the nodes mount it: %w", err)
		}
		mounts = nfsNodeMounts(n.dir)
		if e.trigger != "" {
			// Faults fired by file operations: every node's client dials
			// the runner's trigger socket, bind-mounted at the same path.
			n.trigger = e.trigger
			mounts = append(mounts, v1alpha4.Mount{HostPath: e.trigger, ContainerPath: e.trigger})
		}
	}
	return n, mounts, nil
}

// nfsNodeMounts are the host directories below dir every node of a
// cluster that runs backend nfs mounts from creation: its journal
// directory (per node), then the userspace client's bin directory.
func nfsNodeMounts(dir string) []v1alpha4.Mount {
	bin := filepath.Join(dir, "bin")
	return []v1alpha4.Mount{
		{HostPath: filepath.Join(dir, "journal", "{node}"), ContainerPath: journalNodeDir},
		{HostPath: bin, ContainerPath: bin, Readonly: true},
	}
}

// nfsServerImage is the lab's nfs-ganesha image. No registry: the server
// image only comes from the lab.
func nfsServerImage() (string, error) {
	m, err := lab.LoadDefault()
	if err == nil && m.Images.NFSServer == "" {
		err = errors.New("the lab manifest names no nfs-ganesha image (images.nfsServer)")
	}
	if err != nil {
		return "", &support.Unsupported{Action: "storage backend nfs", Env: "kind",
			Reason: fmt.Sprintf("the nfs-ganesha server image is built by the lab, and there is none here (%v): run `make lab`", err)}
	}
	return m.Images.NFSServer, nil
}

// nfsServerName is the name of the nfs-ganesha container beside cluster.
func nfsServerName(cluster string) string {
	return "rwxchaos-nfs-" + strings.TrimPrefix(cluster, kindcluster.NamePrefix)
}

func copyFile(src, dst string, mode os.FileMode) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, b, mode)
}

func (n *nfsEnv) export() string { return filepath.Join(n.dir, "export") }

// volume is the run's directory on the host (in the export).
func (n *nfsEnv) volume(runID string) string { return filepath.Join(n.export(), "runs", runID) }

// start runs the server and, for the userspace client, the client unit on
// every worker, and waits until every worker's mount serves.
func (e *Env) startNFS(ctx context.Context) error {
	n := e.nfs
	srv, err := storage.NewGanesha(storage.GaneshaConfig{
		Name: nfsServerName(n.cluster), Image: n.image,
		Network: "kind", Dir: n.serverDir(), Export: n.export(),
		Lease: n.spec.NFS.Lease.D(), Grace: n.spec.NFS.Grace.D(), Cluster: n.cluster,
	})
	if err != nil {
		return err
	}
	e.o.Logf("starting nfs-ganesha %s (lease %s, grace %s)", srv.Name(), n.spec.NFS.Lease, n.spec.NFS.Grace)
	if err := srv.Start(ctx); err != nil {
		return err
	}
	n.server = srv
	if n.client != scenario.NFSClientUserspace {
		return nil
	}
	n.workers = append([]string(nil), e.workers...)
	for _, w := range n.workers {
		if err := n.installClient(ctx, w); err != nil {
			return err
		}
	}
	for _, w := range n.workers {
		if err := n.waitMounted(ctx, w, nfsServeTimeout); err != nil {
			return err
		}
	}
	e.o.Logf("userspace NFS client mounted %s:/export on %s in %d workers", srv.IP(), nfsNodeMount, len(n.workers))
	return nil
}

// guardScript runs before every start of the client unit: it detaches the
// stale FUSE mount a dead client leaves (calls on it fail with ENOTCONN),
// and puts the read-only guard under the mountpoint when nothing is there
// (first start, or after the node restarted and lost its mounts). The
// guard is made private, then shared: a bind mount joins its source's peer
// group, and the client's mount on top would otherwise propagate onto the
// guard directory itself.
const guardScript = `#!/bin/sh
# Written by rwxchaos: the guard under the userspace NFS client's mount.
set -eu
m=` + nfsNodeMount + ` g=` + nfsNodeGuard + `
mkdir -p "$g" ` + nfsRunDir + `
mkdir -p "$m" 2>/dev/null || true   # fails with ENOTCONN on a dead client's mount
rm -f ` + nfsReady + `
for i in 1 2 3 4 5 6 7 8; do
  case "$(findmnt -n -o FSTYPE --mountpoint "$m" | tail -n 1)" in
    fuse*) umount -l "$m" ;;
    *) break ;;
  esac
done
if ! findmnt -n --mountpoint "$m" >/dev/null; then
  mount --bind "$g" "$m"
  mount --make-private "$m"
  mount -o remount,bind,ro "$m"
  mount --make-shared "$m"
fi
`

// unit is the client's systemd unit on node.
func (n *nfsEnv) unit(node string) string {
	args := append(append(append([]string(nil), n.command...), "--server", n.server.Addr(), "--export", "/export",
		"--mount", nfsNodeMount, "--name", node, "--ready", nfsReady, "--stats", nfsStats,
		// The unit's guard outlives the client (and covers the time before
		// it starts); the client's own would stack up with every restart.
		"--no-guard"), n.args...)
	if n.trigger != "" {
		args = append(args, "--trigger", n.trigger)
	}
	return fmt.Sprintf(`# Written by rwxchaos: the userspace NFS client of this node.
[Unit]
Description=rwxchaos-nfs: userspace NFSv4.1 client of %[1]s:/export on %[2]s
Before=kubelet.service
StartLimitIntervalSec=0

[Service]
Type=exec
ExecStartPre=%[3]s
ExecStart=%[4]s
ExecStartPost=/bin/sh -c 'for i in $(seq 600); do [ -e %[5]s ] && exit 0; sleep 0.1; done; echo "rwxchaos-nfs did not mount within 60s" >&2; exit 1'
Restart=always
RestartSec=1
TimeoutStartSec=90

[Install]
WantedBy=multi-user.target
`, n.server.Addr(), nfsNodeMount, nfsGuardScript, strings.Join(args, " "), nfsReady)
}

// writeNodeFile writes content to path inside node.
func writeNodeFile(ctx context.Context, node, path, content string, mode os.FileMode) error {
	cmd := exec.CommandContext(ctx, "docker", "exec", "-i", node, "sh", "-c",
		fmt.Sprintf("mkdir -p %q && cat > %q.new && chmod %o %q.new && mv %q.new %q", filepath.Dir(path), path, mode, path, path, path))
	cmd.Stdin = strings.NewReader(content)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("write %s in node %s: %w: %s", path, node, err, strings.TrimSpace(string(out)))
	}
	return nil
}

func (n *nfsEnv) installClient(ctx context.Context, node string) error {
	if err := writeNodeFile(ctx, node, nfsGuardScript, guardScript, 0o755); err != nil {
		return err
	}
	if err := writeNodeFile(ctx, node, "/etc/systemd/system/"+nfsUnit, n.unit(node), 0o644); err != nil {
		return err
	}
	// restart, not start: a reused cluster's unit may serve an older server.
	if _, err := docker(ctx, "exec", node, "sh", "-c", "systemctl daemon-reload && systemctl enable "+nfsUnit+" && systemctl restart --no-block "+nfsUnit); err != nil {
		return fmt.Errorf("start the NFS client on %s: %w", node, err)
	}
	return nil
}

// clientMounted reports whether node's client serves: the unit is active,
// its ready file exists and the top mount on the mountpoint is its FUSE.
func clientMounted(ctx context.Context, node string) error {
	out, err := docker(ctx, "exec", node, "sh", "-c",
		"systemctl is-active "+nfsUnit+"; test -e "+nfsReady+" && echo ready; findmnt -n -o FSTYPE --mountpoint "+nfsNodeMount+" | tail -n 1")
	if err != nil && !strings.Contains(out, "\n") {
		return err
	}
	f := strings.Fields(out)
	if len(f) == 0 || f[0] != "active" {
		return fmt.Errorf("%s on %s is %s", nfsUnit, node, strings.Join(f, " "))
	}
	if !strings.Contains(out, "ready") {
		return fmt.Errorf("%s on %s has not mounted yet", nfsUnit, node)
	}
	if !strings.HasPrefix(f[len(f)-1], "fuse") {
		return fmt.Errorf("%s on %s: top mount on %s is %s, not the client's FUSE mount", nfsUnit, node, nfsNodeMount, f[len(f)-1])
	}
	return nil
}

func (n *nfsEnv) waitMounted(ctx context.Context, node string, timeout time.Duration) error {
	var last error
	err := wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		last = clientMounted(ctx, node)
		return last == nil, nil
	})
	if err != nil {
		log, _ := docker(context.WithoutCancel(ctx), "exec", node, "journalctl", "-u", nfsUnit, "--no-pager", "-n", "20")
		return fmt.Errorf("the NFS client on %s did not mount within %s (%v); its last log lines:\n%s", node, timeout, last, log)
	}
	return nil
}

// probeDir is the directory a node's probe writes in: the run's volume as
// the node's client mounts it.
func (e *Env) nfsProbeDir(ctx context.Context, node string) (string, error) {
	if e.nfs.client == scenario.NFSClientUserspace {
		return nfsNodeMount + "/runs/" + e.runID, nil
	}
	// The kubelet mounts the PV per pod; any of those mounts will do.
	out, err := docker(ctx, "exec", node, "sh", "-c", "findmnt -n -t nfs,nfs4 -o TARGET | grep -F "+shellQuote("rwxchaos-"+e.ns)+" | head -n 1")
	if err != nil || out == "" {
		return "", fmt.Errorf("no pod on %s mounts the NFS volume (%v)", node, err)
	}
	return out, nil
}

// nfsProbe writes, reads and removes a file through node's NFS mount within
// d. It returns nil when that worked, errStalled when it did not finish,
// and the error it got otherwise.
func (e *Env) nfsProbe(ctx context.Context, node string, d time.Duration) error {
	dir, err := e.nfsProbeDir(ctx, node)
	if err != nil {
		return err
	}
	script := fmt.Sprintf(`d=%s/.rwxchaos/storage-probe; mkdir -p "$d" && f="$d/$(hostname)-$$" && echo probe > "$f" && cat "$f" >/dev/null && rm -f "$f"`, shellQuote(dir))
	secs := strconv.FormatFloat(d.Seconds(), 'f', 1, 64)
	out, err := docker(ctx, "exec", node, "timeout", "-s", "KILL", secs, "sh", "-c", script)
	if err == nil {
		return nil
	}
	var xe *exec.ExitError
	if errors.As(err, &xe) && xe.ExitCode() == 137 {
		return fmt.Errorf("%w: a write through %s on %s did not finish within %s", storage.ErrStalled, dir, node, d)
	}
	return fmt.Errorf("a write through %s on %s failed: %s", dir, node, strings.TrimSpace(out))
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// probeNode is a worker whose container runs (any will do for a
// whole-storage fault).
func (e *Env) probeNode(ctx context.Context) (string, error) {
	for _, w := range e.workers {
		if st, err := inspectState(ctx, w); err == nil && st.Running && !st.Paused {
			if e.nfs.client != scenario.NFSClientUserspace || clientMounted(ctx, w) == nil {
				return w, nil
			}
		}
	}
	return "", errors.New("no worker with a running NFS client to probe from")
}

// nfsStalled is a storage fault's Stalled check: a probe through a
// worker's mount hangs.
func (e *Env) nfsStalled(ctx context.Context) error {
	w, err := e.probeNode(ctx)
	if err != nil {
		return err
	}
	err = e.nfsProbe(ctx, w, storage.StallWindow)
	if err == nil {
		return fmt.Errorf("a write through %s's NFS mount still completed", w)
	}
	if !errors.Is(err, storage.ErrStalled) {
		return fmt.Errorf("a write through %s's NFS mount failed instead of hanging (a hard mount hangs): %w", w, err)
	}
	return nil
}

// nfsHealed is a storage fault's Healed check: every worker's client
// serves and a probe through one of them completes.
func (e *Env) nfsHealed(ctx context.Context) error {
	if e.nfs.client == scenario.NFSClientUserspace {
		for _, w := range e.workers {
			if st, err := inspectState(ctx, w); err == nil && st.Running && !st.Paused {
				if err := clientMounted(ctx, w); err != nil {
					return err
				}
			}
		}
	}
	w, err := e.probeNode(ctx)
	if err != nil {
		return err
	}
	return e.nfsProbe(ctx, w, 5*time.Second)
}

// collectNFS saves the server's log and config, every client's log and
// statistics, and reads the journals from the per-node directories.
func (e *Env) collectNFS(ctx context.Context, dir string) ([]history.Event, history.ReadStats, []report.Artifact, string) {
	n := e.nfs
	out := filepath.Join(dir, "nfs")
	_ = os.MkdirAll(out, 0o755)
	var arts []report.Artifact
	note := e.nfsNote(nil)
	if n.server != nil {
		logPath := filepath.Join(out, "ganesha.log")
		if err := n.server.SaveLogs(ctx, logPath); err != nil {
			e.o.Logf("nfs: %v", err)
		} else {
			arts = append(arts, report.Artifact{Name: "nfs-ganesha log", Path: "nfs/ganesha.log"})
			if f, err := os.Open(logPath); err == nil {
				gw, _ := storage.GraceWindows(f)
				f.Close()
				note = e.nfsNote(gw)
			}
		}
		if copyFile(n.server.ConfigPath(), filepath.Join(out, "ganesha.conf"), 0o644) == nil {
			arts = append(arts, report.Artifact{Name: "nfs-ganesha config", Path: "nfs/ganesha.conf"})
		}
	}
	for _, w := range n.workers {
		lctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		if log, err := docker(lctx, "exec", w, "journalctl", "-u", nfsUnit, "--no-pager", "-o", "short-iso-precise"); err == nil {
			_ = os.WriteFile(filepath.Join(out, w+"-client.log"), []byte(log+"\n"), 0o644)
			arts = append(arts, report.Artifact{Name: "NFS client log " + w, Path: "nfs/" + w + "-client.log"})
		}
		if st, err := docker(lctx, "exec", w, "cat", nfsStats); err == nil {
			_ = os.WriteFile(filepath.Join(out, w+"-client-stats.json"), []byte(st+"\n"), 0o644)
			arts = append(arts, report.Artifact{Name: "NFS client stats " + w, Path: "nfs/" + w + "-client-stats.json"})
		}
		cancel()
	}
	evs, st, err := e.readNodeJournals()
	if err != nil {
		e.o.Logf("nfs: journals: %v", err)
	}
	return evs, st, arts, note
}

// journalDirs are the run's journal directories on the host, one per node
// whose pods journaled (JournalHostPath, mounted from journal/<node>).
func (n *nfsEnv) journalDirs(runID string) []string {
	dirs := mustGlob(filepath.Join(n.dir, "journal", "*", runID))
	sort.Strings(dirs)
	return dirs
}

// readNodeJournals merges the journals of every node's journal directory.
func (e *Env) readNodeJournals() ([]history.Event, history.ReadStats, error) {
	dirs := e.nfs.journalDirs(e.runID)
	var (
		all  []history.Event
		tot  history.ReadStats
		errs []error
	)
	for _, d := range dirs {
		evs, st, err := history.ReadJournalDir(d)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		all = append(all, evs...)
		tot.Lines += st.Lines
		tot.Torn += st.Torn
		tot.Foreign += st.Foreign
	}
	history.Sort(all)
	return all, tot, errors.Join(errs...)
}

// nfsNote is the report's line on the storage: server, lifetimes, client.
func (e *Env) nfsNote(grace []storage.GraceWindow) string {
	n := e.nfs
	var b bytes.Buffer
	fmt.Fprintf(&b, "nfs: nfs-ganesha (NFSv4 only) in a container beside the cluster; lease %s, grace %s", n.spec.NFS.Lease, n.spec.NFS.Grace)
	if n.server != nil {
		fmt.Fprintf(&b, " (%s at %s)", n.server.Name(), n.server.IP())
	}
	switch n.client {
	case scenario.NFSClientUserspace:
		fmt.Fprintf(&b, "; client: userspace (rwxchaos __nfs-mount: NFSv4.1 over FUSE, under systemd in every worker) — %s", n.why)
		if len(n.args) > 0 {
			fmt.Fprintf(&b, "; client flags %s", strings.Join(n.args, " "))
		}
	case scenario.NFSClientKernel:
		fmt.Fprintf(&b, "; client: the host kernel's NFS client (in-tree nfs volume) — %s", n.why)
	}
	if len(n.spec.MountOptions) > 0 {
		fmt.Fprintf(&b, "; mount options %s", strings.Join(n.spec.MountOptions, ","))
	}
	if n.spec.NFS.RecoverLostLocks {
		b.WriteString("; lost locks are recovered silently (recoverLostLocks)")
	}
	if len(grace) > 0 {
		var gs []string
		for _, g := range grace {
			if g.End.IsZero() {
				gs = append(gs, "still in grace at the end")
				continue
			}
			s := g.Duration().Round(100 * time.Millisecond).String()
			if g.Clients >= 0 {
				s += fmt.Sprintf(" (%d clients to reclaim)", g.Clients)
			}
			gs = append(gs, s)
		}
		fmt.Fprintf(&b, "; grace periods observed: %s", strings.Join(gs, ", "))
	}
	return b.String()
}

// teardownNFS stops the server and removes what the run left on the host.
func (e *Env) teardownNFS(ctx context.Context) error {
	n := e.nfs
	var errs []error
	if n.server != nil {
		errs = append(errs, n.server.Stop(ctx))
	}
	if e.s.Cluster.Kind.Reuse {
		errs = append(errs, os.RemoveAll(n.volume(e.runID)))
		for _, d := range n.journalDirs(e.runID) {
			errs = append(errs, os.RemoveAll(d))
		}
	} else {
		errs = append(errs, os.RemoveAll(n.dir))
	}
	return errors.Join(errs...)
}

func mustGlob(p string) []string {
	m, _ := filepath.Glob(p)
	return m
}

// poolNFSDir is where a pool cluster keeps its NFS runs' host state.
func poolNFSDir(cluster string) string { return filepath.Join(lab.CacheDir(), "kind-nfs", cluster) }

// stopNFSClientScript stops and removes the userspace client unit of a
// node and detaches everything on its mountpoint (the client's FUSE mount,
// a dead one's, the guard).
const stopNFSClientScript = `u=/etc/systemd/system/` + nfsUnit + `
if [ -e "$u" ]; then
  systemctl disable --now ` + nfsUnit + ` >/dev/null 2>&1 || true
  rm -f "$u"
  systemctl daemon-reload
fi
systemctl reset-failed ` + nfsUnit + ` >/dev/null 2>&1 || true
for i in 1 2 3 4 5 6 7 8; do
  findmnt -n --mountpoint ` + nfsNodeMount + ` >/dev/null || break
  umount -l ` + nfsNodeMount + ` || break
done
rm -f ` + nfsReady + `
`

// stopNFSClients stops the userspace NFS client on every worker of c.
func stopNFSClients(ctx context.Context, c *SharedCluster) error {
	var errs []error
	for _, w := range c.workers {
		if out, err := c.Exec(ctx, w, stopNFSClientScript); err != nil {
			errs = append(errs, fmt.Errorf("stop the NFS client on %s: %w: %s", w, err, strings.TrimSpace(out)))
		}
	}
	return errors.Join(errs...)
}

// stepNFS is the reset step for NFS runs on a pool's cluster: no client
// unit, nothing mounted on the client's mountpoint, no server container,
// and nothing of a run left in the cluster's NFS dir (export, server
// state, journals). A pooled NFS run's own step (Env.nfsResetStep) does the
// orderly stop; this one removes what a failed one left, and the check
// before every scenario sees it.
type stepNFS struct{}

func (stepNFS) Name() string { return "nfs" }

func (stepNFS) Reset(ctx context.Context, c *SharedCluster) error {
	errs := []error{stopNFSClients(ctx, c)}
	if out, err := c.docker(ctx, "rm", "-f", nfsServerName(c.name)); err != nil && !strings.Contains(out+err.Error(), "No such container") {
		errs = append(errs, fmt.Errorf("remove the NFS server: %w", err))
	}
	for _, pat := range nfsRunGlobs(c.name) {
		for _, d := range mustGlob(pat) {
			errs = append(errs, os.RemoveAll(d))
		}
	}
	return errors.Join(errs...)
}

// nfsRunGlobs match what NFS runs leave in a pool cluster's NFS dir.
func nfsRunGlobs(cluster string) []string {
	d := poolNFSDir(cluster)
	return []string{filepath.Join(d, "export", "runs", "*"), filepath.Join(d, "server", "*"), filepath.Join(d, "journal", "*", "*")}
}

func (stepNFS) Leftovers(ctx context.Context, c *SharedCluster) ([]string, error) {
	var out []string
	// A stopped or paused node is the node-containers step's leftover.
	for _, w := range runningNodes(ctx, c) {
		if w == c.cp {
			continue
		}
		res, err := c.Exec(ctx, w, `test -e /etc/systemd/system/`+nfsUnit+` && echo installed; systemctl is-active `+nfsUnit+` >/dev/null && echo active; findmnt -n -o FSTYPE --mountpoint `+nfsNodeMount+` | sed 's/^/mounted:/'; true`)
		if err != nil {
			return nil, fmt.Errorf("check the NFS client on %s: %w", w, err)
		}
		for _, f := range strings.Fields(res) {
			switch {
			case f == "installed" || f == "active":
				out = append(out, fmt.Sprintf("%s on %s is %s", nfsUnit, w, f))
			case strings.HasPrefix(f, "mounted:"):
				out = append(out, fmt.Sprintf("%s on %s still has a %s mount", nfsNodeMount, w, strings.TrimPrefix(f, "mounted:")))
			}
		}
	}
	if res, err := c.docker(ctx, "ps", "-aq", "--filter", "name=^/"+nfsServerName(c.name)+"$"); err != nil {
		return nil, fmt.Errorf("check for the NFS server: %w", err)
	} else if strings.TrimSpace(res) != "" {
		out = append(out, "NFS server container "+nfsServerName(c.name)+" is still there")
	}
	for _, pat := range nfsRunGlobs(c.name) {
		for _, d := range mustGlob(pat) {
			out = append(out, d+" is left from an NFS run")
		}
	}
	return out, nil
}
