package storage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// NFSPackages are the Debian packages the nfs backend needs on the host:
// the server (nfs-ganesha with its VFS backend) and the userspace client
// that proves it (nfs-ls, nfs-cp, nfs-cat).
var NFSPackages = []string{"nfs-ganesha", "nfs-ganesha-vfs", "libnfs-utils"}

// NFSConfig configures an NFSServer.
type NFSConfig struct {
	// Dir keeps ganesha's config, log, pidfile and recovery state, and the
	// exported directory (<Dir>/export) unless Export is set. Required.
	Dir string
	// Export is the directory served. Default <Dir>/export.
	Export string
	// Port on 127.0.0.1. Default: a free one.
	Port int
	// Binary is ganesha.nfsd. Default: found on PATH.
	Binary string
	// Grace keeps NFSv4's grace period after a (re)start (clients reclaim
	// their locks first, new opens wait). Off by default (Graceless), so a
	// restarted server serves at once.
	Grace bool
	// ReadyTimeout bounds a start. Default 20 s.
	ReadyTimeout time.Duration
}

// NFSServer is an nfs-ganesha server run as a userspace process on
// 127.0.0.1, NFSv4 only. It has no host mount here (MountFor is "") unless
// the kernel has an NFS client; ProbeNFS proves it at the protocol level.
type NFSServer struct {
	cfg    NFSConfig
	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{}
}

// NewNFS returns an NFSServer; Start starts it.
func NewNFS(cfg NFSConfig) (*NFSServer, error) {
	if cfg.Dir == "" {
		return nil, errors.New("storage: NFSConfig.Dir is required (ganesha's state directory)")
	}
	var err error
	if cfg.Dir, err = filepath.Abs(cfg.Dir); err != nil {
		return nil, err
	}
	if cfg.Export == "" {
		cfg.Export = filepath.Join(cfg.Dir, "export")
	}
	if cfg.ReadyTimeout <= 0 {
		cfg.ReadyTimeout = 20 * time.Second
	}
	return &NFSServer{cfg: cfg}, nil
}

// GaneshaBinary finds ganesha.nfsd, or says how to install it.
func GaneshaBinary() (string, error) {
	for _, p := range []string{"ganesha.nfsd", "/usr/bin/ganesha.nfsd", "/usr/sbin/ganesha.nfsd"} {
		if b, err := exec.LookPath(p); err == nil {
			return b, nil
		}
	}
	return "", fmt.Errorf("ganesha.nfsd not found: apt-get install -y %s", strings.Join(NFSPackages, " "))
}

// Backend implements Server.
func (s *NFSServer) Backend() string { return BackendNFS }

// Export is the directory served.
func (s *NFSServer) Export() string { return s.cfg.Export }

// URL is the libnfs URL of the export's root (NFSv4 on 127.0.0.1).
func (s *NFSServer) URL() string { return s.FileURL("") }

// FileURL is the libnfs URL of a path inside the export.
func (s *NFSServer) FileURL(rel string) string {
	p := "/export"
	if rel = strings.Trim(rel, "/"); rel != "" {
		p += "/" + rel
	}
	return fmt.Sprintf("nfs://127.0.0.1%s?version=4&nfsport=%d", p, s.cfg.Port)
}

// Port is the server's TCP port on 127.0.0.1.
func (s *NFSServer) Port() int { return s.cfg.Port }

// Clients implements Server: one server for every client.
func (s *NFSServer) Clients() []string { return nil }

// MountFor implements Server: "" when this kernel cannot mount NFS.
func (s *NFSServer) MountFor(string) string { return "" }

// Pids implements Server.
func (s *NFSServer) Pids(string) []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil || s.dead() {
		return nil
	}
	return []int{s.cmd.Process.Pid}
}

func (s *NFSServer) dead() bool {
	select {
	case <-s.exited:
		return true
	default:
		return false
	}
}

func (s *NFSServer) config() string {
	grace := "Graceless = true;"
	if s.cfg.Grace {
		grace = "Grace_Period = 15; Lease_Lifetime = 10;"
	}
	return fmt.Sprintf(`NFS_CORE_PARAM {
  Protocols = 4;
  NFS_Port = %d;
  Bind_addr = 127.0.0.1;
  Enable_NLM = false;
  Enable_RQUOTA = false;
}
NFSv4 {
  %s
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
`, s.cfg.Port, grace, filepath.Join(s.cfg.Dir, "recovery"), s.cfg.Export)
}

// Start implements Server: writes an NFSv4-only config, starts ganesha.nfsd
// in the foreground (its own process group) and waits until nfs-ls answers.
func (s *NFSServer) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.startLocked(ctx)
}

func (s *NFSServer) startLocked(ctx context.Context) error {
	if s.cmd != nil && !s.dead() {
		return nil
	}
	bin := s.cfg.Binary
	if bin == "" {
		var err error
		if bin, err = GaneshaBinary(); err != nil {
			return fmt.Errorf("storage: %w", err)
		}
	}
	if _, err := exec.LookPath("nfs-ls"); err != nil {
		return fmt.Errorf("storage: nfs-ls not found (needed to see the server answer): apt-get install -y libnfs-utils")
	}
	if os.Geteuid() != 0 {
		return errors.New("storage: nfs-ganesha needs root: run as root or use backend fuse")
	}
	for _, d := range []string{s.cfg.Dir, s.cfg.Export, filepath.Join(s.cfg.Dir, "recovery")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("storage: %w", err)
		}
	}
	if s.cfg.Port == 0 {
		p, err := freePort()
		if err != nil {
			return fmt.Errorf("storage: pick a port for ganesha: %w", err)
		}
		s.cfg.Port = p
	}
	conf := filepath.Join(s.cfg.Dir, "ganesha.conf")
	if err := os.WriteFile(conf, []byte(s.config()), 0o644); err != nil {
		return fmt.Errorf("storage: %w", err)
	}
	logPath := filepath.Join(s.cfg.Dir, "ganesha.log")
	out, err := os.OpenFile(filepath.Join(s.cfg.Dir, "ganesha.out"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("storage: %w", err)
	}
	defer out.Close()
	cmd := exec.Command(bin, "-F", "-f", conf, "-L", logPath, "-p", filepath.Join(s.cfg.Dir, "ganesha.pid"))
	cmd.Dir = s.cfg.Dir
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("storage: start %s: %w", bin, err)
	}
	s.cmd = cmd
	s.exited = make(chan struct{})
	go func(ch chan struct{}) { _ = cmd.Wait(); close(ch) }(s.exited)

	deadline := time.Now().Add(s.cfg.ReadyTimeout)
	var last error
	for time.Now().Before(deadline) {
		if s.dead() {
			return fmt.Errorf("storage: ganesha.nfsd exited at start: see %s", logPath)
		}
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		last = nfsLs(pctx, s.URL())
		cancel()
		if last == nil {
			return nil
		}
		if ctx.Err() != nil {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	_ = cmd.Process.Kill()
	<-s.exited
	return fmt.Errorf("storage: ganesha did not serve %s within %s (last: %v): see %s", s.URL(), s.cfg.ReadyTimeout, last, logPath)
}

// Pause implements Server.
func (s *NFSServer) Pause(context.Context, string) error { return s.signal(syscall.SIGSTOP) }

// Resume implements Server.
func (s *NFSServer) Resume(context.Context, string) error { return s.signal(syscall.SIGCONT) }

func (s *NFSServer) signal(sig syscall.Signal) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil || s.dead() {
		if sig == syscall.SIGCONT {
			return nil
		}
		return errors.New("storage: ganesha is not running: Restart it")
	}
	if err := s.cmd.Process.Signal(sig); err != nil {
		return fmt.Errorf("storage: %s ganesha: %w", sig, err)
	}
	return nil
}

// Kill implements Server.
func (s *NFSServer) Kill(ctx context.Context, _ string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil || s.dead() {
		return nil
	}
	_ = s.cmd.Process.Kill()
	select {
	case <-s.exited:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("storage: ganesha did not die: %w", ctx.Err())
	}
}

// Shutdown implements Server: SIGTERM, SIGKILL after 10 s.
func (s *NFSServer) Shutdown(ctx context.Context, _ string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.terminateLocked(ctx)
}

func (s *NFSServer) terminateLocked(ctx context.Context) error {
	if s.cmd == nil || s.dead() {
		return nil
	}
	_ = s.cmd.Process.Signal(syscall.SIGCONT)
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	t := time.NewTimer(10 * time.Second)
	defer t.Stop()
	select {
	case <-s.exited:
		return nil
	case <-t.C:
	case <-ctx.Done():
	}
	_ = s.cmd.Process.Kill()
	<-s.exited
	return errors.New("storage: ganesha ignored SIGTERM and was killed: see its log in " + s.cfg.Dir)
}

// Restart implements Server: kill what still runs, start again.
func (s *NFSServer) Restart(ctx context.Context, _ string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil && !s.dead() {
		_ = s.cmd.Process.Signal(syscall.SIGCONT)
		_ = s.cmd.Process.Kill()
		<-s.exited
	}
	return s.startLocked(ctx)
}

// Healthy implements Server: ProbeNFS within ctx's deadline (2 s if none).
func (s *NFSServer) Healthy(ctx context.Context, _ string) error {
	return ProbeNFS(ctx, s.URL())
}

// Stop implements Server: resume, SIGTERM, wait.
func (s *NFSServer) Stop(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.terminateLocked(ctx)
}

// ProbeNFS proves an NFS export at the protocol level with the userspace
// client (libnfs-utils): it writes a small file with nfs-cp, reads it back
// with nfs-cat, and removes its local copy. url is the export's root, as
// NFSServer.URL gives it. The probe file stays in the export's
// .rwxchaos-probe-* (libnfs-utils has no rm). It returns ErrStalled (wrapped)
// when ctx ends first: a paused server never answers.
func ProbeNFS(ctx context.Context, url string) error {
	ctx, cancel := probeContext(ctx)
	defer cancel()
	base, query, _ := strings.Cut(url, "?")
	name := ".rwxchaos-probe-" + randHex(6)
	fileURL := strings.TrimSuffix(base, "/") + "/" + name
	if query != "" {
		fileURL += "?" + query
	}
	tmp, err := os.CreateTemp("", "rwxchaos-nfs-probe-")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	want := randHex(8)
	_, _ = tmp.WriteString(want)
	_ = tmp.Close()
	if err := runNFS(ctx, "nfs-cp", tmp.Name(), fileURL); err != nil {
		return fmt.Errorf("nfs probe write %s: %w", fileURL, err)
	}
	got, err := outputNFS(ctx, "nfs-cat", fileURL)
	if err != nil {
		return fmt.Errorf("nfs probe read %s: %w", fileURL, err)
	}
	if strings.TrimSpace(got) != want {
		return fmt.Errorf("nfs probe read %s: got %q, wrote %q", fileURL, got, want)
	}
	return nil
}

func nfsLs(ctx context.Context, url string) error {
	_, err := outputNFS(ctx, "nfs-ls", url)
	return err
}

func runNFS(ctx context.Context, tool string, args ...string) error {
	_, err := outputNFS(ctx, tool, args...)
	return err
}

// outputNFS runs a libnfs-utils tool, killing it when ctx ends (a paused
// server makes it hang until its own long timeout).
func outputNFS(ctx context.Context, tool string, args ...string) (string, error) {
	start := time.Now()
	cmd := exec.CommandContext(ctx, tool, args...)
	cmd.WaitDelay = time.Second
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if ctx.Err() != nil {
		return "", fmt.Errorf("%s: %w within %s: the server is stalled or gone", tool, ErrStalled, time.Since(start).Round(time.Millisecond))
	}
	if err != nil {
		if errors.Is(err, exec.ErrNotFound) {
			return "", fmt.Errorf("%s not found: apt-get install -y libnfs-utils", tool)
		}
		return "", fmt.Errorf("%s: %w: %s", tool, err, strings.TrimSpace(errb.String()))
	}
	return out.String(), nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	_, p, _ := net.SplitHostPort(l.Addr().String())
	return strconv.Atoi(p)
}
