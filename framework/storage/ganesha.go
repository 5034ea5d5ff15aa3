package storage

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
)

// GaneshaContainer is nfs-ganesha run as a docker container beside the
// cluster, as users have their NFS server: outside Kubernetes, on the nodes'
// network. It serves one host directory (bind-mounted, so it is not
// overlayfs, which ganesha's VFS backend cannot export, and so the runner can
// read the volume directly) over NFSv4 only (minor versions 0, 1 and 2; no
// NLM, no rquota, no UDP), with the lease and grace lifetimes of the
// scenario. Its recovery directory (the clients it knows, which decide
// whether a restart enters the grace period) is a host directory too, so it
// outlives the container's restarts, as /var/lib/nfs does on a real server.
//
// The faults act on the container: storage-pause is `docker pause` (the
// cgroup freezer: every client call hangs, TCP connections stay open),
// storage-kill is `docker kill` (SIGKILL, no shutdown), storage-restart is
// `docker stop` (SIGTERM: a clean shutdown) then `docker start` (a new
// ganesha that reads the recovery directory and enters its grace period).
type GaneshaContainer struct {
	cfg GaneshaConfig
	mu  sync.Mutex
	ip  string
}

// GaneshaConfig configures a GaneshaContainer.
type GaneshaConfig struct {
	// Name of the container; it must start with "rwxchaos-" so that
	// `rwxchaos cleanup` finds leftovers. Required.
	Name string
	// Image is the nfs-ganesha image (the lab's images.nfsServer). Required.
	Image string
	// Network is the docker network to join. Default "kind".
	Network string
	// Dir keeps ganesha.conf, the recovery directory (recovery/) and, unless
	// Export says otherwise, the exported directory (export/). Required.
	Dir string
	// Export is the host directory served as /export. Default <Dir>/export.
	Export string
	// Lease is NFSv4's Lease_Lifetime: a client silent for this long (plus
	// ganesha's reaper period) loses its opens and locks. Default 90 s, as
	// Linux's nfsd; whole seconds, 1 s to 180 s (ganesha's limit).
	Lease time.Duration
	// Grace is Grace_Period: after a start with known clients, new opens
	// and locks are refused (NFS4ERR_GRACE) this long while clients reclaim.
	// Default 90 s; 0 s to 180 s.
	Grace time.Duration
	// ReadyTimeout bounds a start. Default 60 s.
	ReadyTimeout time.Duration
	// Cluster is the kind cluster the server serves (label LabelCluster):
	// `rwxchaos cleanup` removes servers whose cluster is gone.
	Cluster string
}

// NFSPort is the port ganesha serves on inside its container.
const NFSPort = 2049

// ReaperPeriod is how often ganesha's reaper expires clients whose lease
// ran out: a silent client loses its state between Lease and
// Lease+ReaperPeriod after its last renewal (measured 12.4–12.7 s with a
// 10 s lease).
const ReaperPeriod = 5 * time.Second

// LabelServer marks the containers GaneshaContainer starts (value: the
// container name), and LabelCluster names the cluster they serve, for
// `rwxchaos cleanup`.
const (
	LabelServer  = "rwxchaos.dev/nfs-server"
	LabelCluster = "rwxchaos.dev/cluster"
)

// DefaultNFSLease and DefaultNFSGrace are Linux nfsd's defaults.
const (
	DefaultNFSLease = 90 * time.Second
	DefaultNFSGrace = 90 * time.Second
)

// NewGanesha checks cfg; Start starts the container.
func NewGanesha(cfg GaneshaConfig) (*GaneshaContainer, error) {
	var missing []string
	if cfg.Name == "" {
		missing = append(missing, "Name")
	}
	if cfg.Image == "" {
		missing = append(missing, "Image (the lab's nfs-ganesha image: run `make lab`)")
	}
	if cfg.Dir == "" {
		missing = append(missing, "Dir")
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("storage: GaneshaConfig is missing %s", strings.Join(missing, ", "))
	}
	if !strings.HasPrefix(cfg.Name, "rwxchaos-") {
		return nil, fmt.Errorf("storage: container name %q must start with rwxchaos- (cleanup finds leftovers by it)", cfg.Name)
	}
	var err error
	if cfg.Dir, err = filepath.Abs(cfg.Dir); err != nil {
		return nil, err
	}
	if cfg.Export == "" {
		cfg.Export = filepath.Join(cfg.Dir, "export")
	}
	if cfg.Network == "" {
		cfg.Network = "kind"
	}
	if cfg.Lease == 0 {
		cfg.Lease = DefaultNFSLease
	}
	if cfg.Grace == 0 {
		cfg.Grace = DefaultNFSGrace
	}
	if cfg.Lease < time.Second || cfg.Lease > 180*time.Second || cfg.Lease%time.Second != 0 {
		return nil, fmt.Errorf("storage: NFS lease %s: want whole seconds from 1s to 180s (ganesha's Lease_Lifetime)", cfg.Lease)
	}
	if cfg.Grace < 0 || cfg.Grace > 180*time.Second || cfg.Grace%time.Second != 0 {
		return nil, fmt.Errorf("storage: NFS grace %s: want whole seconds from 0s to 180s (ganesha's Grace_Period)", cfg.Grace)
	}
	if cfg.ReadyTimeout <= 0 {
		cfg.ReadyTimeout = 60 * time.Second
	}
	return &GaneshaContainer{cfg: cfg}, nil
}

// Name is the container's name.
func (g *GaneshaContainer) Name() string { return g.cfg.Name }

// Export is the host directory served as /export.
func (g *GaneshaContainer) Export() string { return g.cfg.Export }

// Lease and Grace are the lifetimes the server runs with.
func (g *GaneshaContainer) Lease() time.Duration { return g.cfg.Lease }

// Grace is the grace period after a restart.
func (g *GaneshaContainer) Grace() time.Duration { return g.cfg.Grace }

// IP is the server's address on its docker network (set by Start).
func (g *GaneshaContainer) IP() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.ip
}

// Addr is IP:2049.
func (g *GaneshaContainer) Addr() string {
	return net.JoinHostPort(g.IP(), strconv.Itoa(NFSPort))
}

// ConfigPath is the ganesha.conf the container runs with.
func (g *GaneshaContainer) ConfigPath() string { return filepath.Join(g.cfg.Dir, "ganesha.conf") }

const (
	containerExport   = "/export"
	containerRecovery = "/var/lib/rwxchaos/ganesha-recovery"
	containerConf     = "/etc/rwxchaos/ganesha.conf"
)

// Config is the ganesha.conf the container runs with.
func (g *GaneshaContainer) Config() string {
	return fmt.Sprintf(`# Written by rwxchaos (framework/storage.GaneshaContainer).
NFS_CORE_PARAM {
    Protocols = 4;
    NFS_Port = %d;
    Enable_NLM = false;
    Enable_RQUOTA = false;
    Enable_UDP = false;
}
NFSv4 {
    Lease_Lifetime = %d;
    Grace_Period = %d;
    Minor_Versions = 0, 1, 2;
    RecoveryBackend = fs;
    RecoveryRoot = %s;
}
EXPORT {
    Export_Id = 1;
    Path = %s;
    Pseudo = /export;
    Access_Type = RW;
    Squash = No_Root_Squash;
    Protocols = 4;
    Transports = TCP;
    SecType = sys;
    FSAL { Name = VFS; }
}
LOG { Default_Log_Level = EVENT; }
`, NFSPort, int(g.cfg.Lease.Seconds()), int(g.cfg.Grace.Seconds()), containerRecovery, containerExport)
}

func docker(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "docker", args...)
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("docker %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return strings.TrimSpace(string(out)), nil
}

// ContainerState is the part of `docker inspect` the faults look at.
type ContainerState struct {
	Status     string `json:"Status"`
	Running    bool   `json:"Running"`
	Paused     bool   `json:"Paused"`
	Pid        int    `json:"Pid"`
	StartedAt  string `json:"StartedAt"`
	FinishedAt string `json:"FinishedAt"`
	ExitCode   int    `json:"ExitCode"`
}

// State inspects the container.
func (g *GaneshaContainer) State(ctx context.Context) (ContainerState, error) {
	var st ContainerState
	out, err := docker(ctx, "inspect", "-f", "{{json .State}}", g.cfg.Name)
	if err != nil {
		return st, fmt.Errorf("storage: inspect %s: %w", g.cfg.Name, err)
	}
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		return st, fmt.Errorf("storage: inspect %s: %w", g.cfg.Name, err)
	}
	return st, nil
}

func (g *GaneshaContainer) inspectIP(ctx context.Context) (string, error) {
	out, err := docker(ctx, "inspect", "-f", "{{with index .NetworkSettings.Networks "+strconv.Quote(g.cfg.Network)+"}}{{.IPAddress}}{{end}}", g.cfg.Name)
	if err != nil {
		return "", fmt.Errorf("storage: inspect %s: %w", g.cfg.Name, err)
	}
	if out == "" {
		return "", fmt.Errorf("storage: %s has no address on docker network %s", g.cfg.Name, g.cfg.Network)
	}
	return out, nil
}

// Start writes the config and starts the container (replacing a leftover of
// the same name), then waits until it answers NFS NULL calls.
func (g *GaneshaContainer) Start(ctx context.Context) error {
	for _, d := range []string{g.cfg.Dir, g.cfg.Export, filepath.Join(g.cfg.Dir, "recovery")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("storage: %w", err)
		}
	}
	if err := notOverlay(g.cfg.Export); err != nil {
		return err
	}
	if err := os.WriteFile(g.ConfigPath(), []byte(g.Config()), 0o644); err != nil {
		return fmt.Errorf("storage: %w", err)
	}
	if _, err := docker(ctx, "image", "inspect", "-f", "{{.Id}}", g.cfg.Image); err != nil {
		return fmt.Errorf("storage: nfs-ganesha image %s is not in the local docker (run `make lab`): %w", g.cfg.Image, err)
	}
	if _, err := docker(ctx, "network", "inspect", "-f", "{{.Name}}", g.cfg.Network); err != nil {
		return fmt.Errorf("storage: docker network %s does not exist (create the kind cluster first): %w", g.cfg.Network, err)
	}
	_, _ = docker(ctx, "rm", "-f", g.cfg.Name)
	// The VFS backend works on file handles (name_to_handle_at,
	// open_by_handle_at): CAP_DAC_READ_SEARCH and a seccomp profile that
	// allows them (docker's default refuses them).
	args := []string{"run", "-d", "--name", g.cfg.Name, "--hostname", g.cfg.Name,
		"--label", LabelServer + "=" + g.cfg.Name, "--label", LabelCluster + "=" + g.cfg.Cluster,
		"--network", g.cfg.Network,
		"--cap-add", "DAC_READ_SEARCH", "--security-opt", "seccomp=unconfined",
		"-v", g.cfg.Export + ":" + containerExport,
		"-v", filepath.Join(g.cfg.Dir, "recovery") + ":" + containerRecovery,
		"-v", g.ConfigPath() + ":" + containerConf + ":ro",
		"--entrypoint", "ganesha.nfsd",
		g.cfg.Image,
		"-F", "-f", containerConf, "-L", "/dev/stdout", "-p", "/tmp/ganesha.pid"}
	if _, err := docker(ctx, args...); err != nil {
		return fmt.Errorf("storage: start nfs-ganesha: %w", err)
	}
	ip, err := g.inspectIP(ctx)
	if err != nil {
		return err
	}
	g.mu.Lock()
	g.ip = ip
	g.mu.Unlock()
	return g.waitServing(ctx)
}

// waitServing polls until the container runs, still has its address, and
// answers an NFS NULL call.
func (g *GaneshaContainer) waitServing(ctx context.Context) error {
	var last error
	err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, g.cfg.ReadyTimeout, true, func(ctx context.Context) (bool, error) {
		st, err := g.State(ctx)
		if err != nil {
			last = err
			return false, nil
		}
		if !st.Running {
			return false, fmt.Errorf("storage: nfs-ganesha exited (code %d) at start: see `docker logs %s`", st.ExitCode, g.cfg.Name)
		}
		ip, err := g.inspectIP(ctx)
		if err != nil {
			last = err
			return false, nil
		}
		if want := g.IP(); ip != want {
			return false, fmt.Errorf("storage: %s came back with address %s, not %s: the nodes' NFS clients still talk to %s; recreate the cluster", g.cfg.Name, ip, want, want)
		}
		pctx, cancel := context.WithTimeout(ctx, time.Second)
		last = NullPing(pctx, g.Addr())
		cancel()
		return last == nil, nil
	})
	if err != nil && !wait.Interrupted(err) {
		return err
	}
	if err != nil {
		return fmt.Errorf("storage: nfs-ganesha %s did not answer at %s within %s (last: %v): see `docker logs %s`", g.cfg.Name, g.Addr(), g.cfg.ReadyTimeout, last, g.cfg.Name)
	}
	return nil
}

// notOverlay refuses an export directory on overlayfs: ganesha's VFS
// backend cannot make file handles there.
func notOverlay(dir string) error {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return fmt.Errorf("storage: statfs %s: %w", dir, err)
	}
	const overlayMagic = 0x794c7630
	if st.Type == overlayMagic {
		return fmt.Errorf("storage: export directory %s is on overlayfs, which ganesha's VFS backend cannot export: put RWXCHAOS_CACHE on a plain file system", dir)
	}
	return nil
}

// Backend implements Server.
func (g *GaneshaContainer) Backend() string { return BackendNFS }

// Clients implements Server: one server for every client.
func (g *GaneshaContainer) Clients() []string { return nil }

// MountFor implements Server: the host does not mount the export (the
// nodes do); Export is the directory behind it.
func (g *GaneshaContainer) MountFor(string) string { return "" }

// Pids implements Server: the container's ganesha process, as the host sees it.
func (g *GaneshaContainer) Pids(string) []int {
	st, err := g.State(context.Background())
	if err != nil || !st.Running || st.Pid == 0 {
		return nil
	}
	return []int{st.Pid}
}

// Pause implements Server: docker pause (cgroup freezer). runc gives up
// ("unable to freeze") when a thread does not freeze in time, which a busy
// machine sees now and then: try a few times.
func (g *GaneshaContainer) Pause(ctx context.Context, _ string) error {
	var err error
	for i := range 5 {
		if _, err = docker(ctx, "pause", g.cfg.Name); err == nil || !strings.Contains(err.Error(), "unable to freeze") {
			return err
		}
		if !sleepCtx(ctx, time.Duration(i+1)*200*time.Millisecond) {
			break
		}
	}
	return err
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// Resume implements Server: docker unpause, if paused.
func (g *GaneshaContainer) Resume(ctx context.Context, _ string) error {
	st, err := g.State(ctx)
	if err != nil {
		return err
	}
	if !st.Paused {
		return nil
	}
	_, err = docker(ctx, "unpause", g.cfg.Name)
	return err
}

// Kill implements Server: docker kill (SIGKILL: no shutdown).
func (g *GaneshaContainer) Kill(ctx context.Context, _ string) error {
	st, err := g.State(ctx)
	if err != nil {
		return err
	}
	if !st.Running {
		return nil
	}
	if st.Paused {
		// A frozen process cannot be reaped until thawed; SIGKILL first so
		// it dies the moment it thaws.
		_, _ = docker(ctx, "kill", g.cfg.Name)
		_, err = docker(ctx, "unpause", g.cfg.Name)
		return err
	}
	_, err = docker(ctx, "kill", g.cfg.Name)
	return err
}

// Shutdown implements Server: docker stop (SIGTERM, SIGKILL after 10 s).
func (g *GaneshaContainer) Shutdown(ctx context.Context, _ string) error {
	if err := g.Resume(ctx, ""); err != nil {
		return err
	}
	_, err := docker(ctx, "stop", "-t", "10", g.cfg.Name)
	return err
}

// Restart implements Server: thaw or start the container as needed and wait
// until it serves again (a start with known clients enters the grace
// period: it answers NULL calls, but refuses new opens until the grace ends).
func (g *GaneshaContainer) Restart(ctx context.Context, _ string) error {
	st, err := g.State(ctx)
	if err != nil {
		return err
	}
	switch {
	case st.Paused:
		if _, err := docker(ctx, "unpause", g.cfg.Name); err != nil {
			return err
		}
	case !st.Running:
		if _, err := docker(ctx, "start", g.cfg.Name); err != nil {
			return err
		}
	}
	return g.waitServing(ctx)
}

// Healthy implements Server: an NFS NULL call answered before ctx's
// deadline (DefaultProbeTimeout if it has none).
func (g *GaneshaContainer) Healthy(ctx context.Context, _ string) error {
	ctx, cancel := probeContext(ctx)
	defer cancel()
	return NullPing(ctx, g.Addr())
}

// Stop implements Server: thaw, stop and remove the container. Idempotent.
func (g *GaneshaContainer) Stop(ctx context.Context) error {
	st, err := g.State(ctx)
	if err != nil {
		return nil // gone already
	}
	if st.Paused {
		_, _ = docker(ctx, "unpause", g.cfg.Name)
	}
	if st.Running {
		_, _ = docker(ctx, "stop", "-t", "10", g.cfg.Name)
	}
	if _, err := docker(ctx, "rm", "-f", g.cfg.Name); err != nil {
		return fmt.Errorf("storage: remove %s: %w", g.cfg.Name, err)
	}
	return nil
}

// SaveLogs writes the container's log (every start, with docker's
// timestamps) to path.
func (g *GaneshaContainer) SaveLogs(ctx context.Context, path string) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("storage: %w", err)
	}
	defer f.Close()
	cmd := exec.CommandContext(ctx, "docker", "logs", "--timestamps", g.cfg.Name)
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("storage: docker logs %s: %w", g.cfg.Name, err)
	}
	return nil
}

// GraceWindow is one grace period ganesha logged.
type GraceWindow struct {
	// End is zero when the log ends in grace, or the server stopped in it.
	Start, End time.Time
	// Clients is ganesha's "clid count" when it lifted the grace (the clients
	// it expected to reclaim), -1 if not logged.
	Clients int
}

// Duration is End-Start (0 while open).
func (w GraceWindow) Duration() time.Duration {
	if w.End.IsZero() {
		return 0
	}
	return w.End.Sub(w.Start)
}

// GraceWindows reads the grace periods from a log written by SaveLogs
// (docker timestamps). Starts with no known clients end at once and are
// left out (ganesha lifts the grace immediately then).
func GraceWindows(r io.Reader) ([]GraceWindow, error) {
	var (
		out  []GraceWindow
		cur  *GraceWindow
		clid = -1
	)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		ts, rest, ok := strings.Cut(line, " ")
		if !ok {
			continue
		}
		t, err := time.Parse(time.RFC3339Nano, ts)
		if err != nil {
			continue
		}
		switch {
		case strings.Contains(rest, "Now IN GRACE"):
			if cur != nil {
				out = append(out, *cur) // cut short by a stop: End stays zero
			}
			cur, clid = &GraceWindow{Start: t, Clients: -1}, -1
		case strings.Contains(rest, "clid count("):
			if i := strings.Index(rest, "clid count("); i >= 0 {
				n, _, _ := strings.Cut(rest[i+len("clid count("):], ")")
				if v, err := strconv.Atoi(n); err == nil {
					clid = v
				}
			}
		case strings.Contains(rest, "NOT IN GRACE"):
			if cur != nil {
				cur.End, cur.Clients = t, clid
				if clid != 0 {
					out = append(out, *cur)
				}
				cur = nil
			}
		}
	}
	if cur != nil {
		out = append(out, *cur)
	}
	return out, sc.Err()
}

// NullPing makes an ONC RPC NULL call to NFS version 4 at addr over TCP
// and waits for the reply: the cheapest proof that the server process
// answers (a frozen server's kernel still accepts the connection, but
// nobody replies).
func NullPing(ctx context.Context, addr string) error {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("nfs NULL to %s: %w", addr, err)
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	var xid [4]byte
	_, _ = rand.Read(xid[:])
	// Record mark (last fragment, 40 bytes) + call header with AUTH_NONE.
	call := make([]byte, 0, 44)
	call = binary.BigEndian.AppendUint32(call, 0x80000000|40)
	call = append(call, xid[:]...)
	for _, v := range []uint32{0 /* CALL */, 2 /* rpcvers */, 100003 /* NFS */, 4, 0 /* NULL */, 0, 0 /* cred */, 0, 0 /* verf */} {
		call = binary.BigEndian.AppendUint32(call, v)
	}
	if _, err := conn.Write(call); err != nil {
		return fmt.Errorf("nfs NULL to %s: %w", addr, ctxErr(ctx, err))
	}
	var hdr [4]byte
	if _, err := io.ReadFull(conn, hdr[:]); err != nil {
		return fmt.Errorf("nfs NULL to %s: %w", addr, ctxErr(ctx, err))
	}
	n := binary.BigEndian.Uint32(hdr[:]) & 0x7fffffff
	if n < 24 || n > 1<<16 {
		return fmt.Errorf("nfs NULL to %s: reply of %d bytes is not an RPC reply", addr, n)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(conn, body); err != nil {
		return fmt.Errorf("nfs NULL to %s: %w", addr, ctxErr(ctx, err))
	}
	// xid, REPLY(1), MSG_ACCEPTED(0), verf flavor+len, accept_stat SUCCESS(0).
	if !bytes.Equal(body[:4], xid[:]) || binary.BigEndian.Uint32(body[4:]) != 1 || binary.BigEndian.Uint32(body[8:]) != 0 {
		return fmt.Errorf("nfs NULL to %s: unexpected reply header % x", addr, body[:12])
	}
	vlen := binary.BigEndian.Uint32(body[16:])
	off := 20 + int((vlen+3)&^3)
	if off+4 > len(body) || binary.BigEndian.Uint32(body[off:]) != 0 {
		return fmt.Errorf("nfs NULL to %s: call not accepted (reply % x)", addr, body)
	}
	return nil
}

func ctxErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("%w (%v)", ErrStalled, ctx.Err())
	}
	return err
}

// CleanupServers removes the nfs-ganesha containers of clusters that no
// longer exist (every one with all set) and says what it removed.
func CleanupServers(ctx context.Context, clusters []string, all bool) ([]string, error) {
	out, err := docker(ctx, "ps", "-a", "--filter", "label="+LabelServer, "--format", `{{.Names}} {{.Label "`+LabelCluster+`"}}`)
	if err != nil {
		return nil, err
	}
	var did []string
	var errs []error
	for _, line := range strings.Split(out, "\n") {
		name, cluster, _ := strings.Cut(strings.TrimSpace(line), " ")
		if name == "" || (!all && cluster != "" && slices.Contains(clusters, cluster)) {
			continue
		}
		if _, err := docker(ctx, "rm", "-f", name); err != nil {
			errs = append(errs, err)
			continue
		}
		did = append(did, "removed nfs-ganesha container "+name+" of cluster "+cluster)
	}
	return did, errors.Join(errs...)
}

var _ Server = (*GaneshaContainer)(nil)
