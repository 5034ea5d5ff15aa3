// Package ganeshatest runs nfs-ganesha as a test fixture: an NFSv4.1-only
// server on 127.0.0.1, a free port and a temporary export, with a short
// lease and grace period, that tests can pause, kill and restart.
package ganeshatest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rwxchaos/rwxchaos/framework/nfs4"
	"github.com/rwxchaos/rwxchaos/framework/procid"
)

// Config configures a Server.
type Config struct {
	Lease time.Duration // default 10 s
	Grace time.Duration // default 10 s
}

// Server is a running ganesha.
type Server struct {
	t                                    testing.TB
	cfg                                  Config
	bin, dir, export, conf, logPath, out string
	port                                 int

	mu      sync.Mutex
	cmd     *exec.Cmd
	exited  chan struct{}
	paused  bool
	started time.Time
}

// LeaseSlack is how much earlier than "last renewal + lease" ganesha may
// expire a client: it keeps lease times in whole seconds (seen: a lock
// handed over 9.98 s after the holder's last renewal with a 10 s lease).
const LeaseSlack = time.Second

// Binary finds ganesha.nfsd.
func Binary() (string, error) {
	for _, p := range []string{"ganesha.nfsd", "/usr/bin/ganesha.nfsd", "/usr/sbin/ganesha.nfsd"} {
		if b, err := exec.LookPath(p); err == nil {
			return b, nil
		}
	}
	return "", errors.New("ganesha.nfsd not found (apt-get install -y nfs-ganesha nfs-ganesha-vfs)")
}

// Skip skips t, saying why, when ganesha cannot run here (not root, or
// not installed).
func Skip(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("SKIPPED: nfs-ganesha needs root")
	}
	if _, err := Binary(); err != nil {
		t.Skipf("SKIPPED: %v", err)
	}
	if _, err := os.Stat("/usr/lib/x86_64-linux-gnu/ganesha/libfsalvfs.so"); err != nil {
		if m, _ := filepath.Glob("/usr/lib/*/ganesha/libfsalvfs.so"); len(m) == 0 {
			t.Skip("SKIPPED: ganesha's VFS backend is missing (apt-get install -y nfs-ganesha-vfs)")
		}
	}
}

// Start starts a server (skipping t when it cannot run here) and stops it
// when the test ends, whatever state it is in.
func Start(t testing.TB, cfg Config) *Server {
	t.Helper()
	Skip(t)
	if cfg.Lease <= 0 {
		cfg.Lease = 10 * time.Second
	}
	if cfg.Grace <= 0 {
		cfg.Grace = 10 * time.Second
	}
	bin, _ := Binary()
	dir := t.TempDir()
	s := &Server{t: t, cfg: cfg, bin: bin, dir: dir, export: filepath.Join(dir, "export"),
		conf: filepath.Join(dir, "ganesha.conf"), logPath: filepath.Join(dir, "ganesha.log"),
		out: filepath.Join(dir, "ganesha.out")}
	for _, d := range []string{s.export, filepath.Join(dir, "recovery")} {
		if err := os.MkdirAll(d, 0o777); err != nil {
			t.Fatal(err)
		}
	}
	_ = os.Chmod(s.export, 0o777)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.port = l.Addr().(*net.TCPAddr).Port
	_ = l.Close()
	if err := os.WriteFile(s.conf, []byte(s.config()), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.killLocked()
		if t.Failed() {
			t.Logf("ganesha log (%s), last lines:\n%s", s.logPath, s.tail(40))
		}
	})
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	return s
}

func (s *Server) config() string {
	return fmt.Sprintf(`NFS_CORE_PARAM {
  Protocols = 4;
  NFS_Port = %d;
  Bind_Addr = 127.0.0.1;
  Enable_NLM = false;
  Enable_RQUOTA = false;
  Enable_UDP = false;
}
NFSv4 {
  Minor_Versions = 1;
  Lease_Lifetime = %d;
  Grace_Period = %d;
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
`, s.port, int(s.cfg.Lease/time.Second), int(s.cfg.Grace/time.Second), filepath.Join(s.dir, "recovery"), s.export)
}

// Addr is host:port of the server.
func (s *Server) Addr() string { return fmt.Sprintf("127.0.0.1:%d", s.port) }

// ExportDir is the exported directory on the local disk.
func (s *Server) ExportDir() string { return s.export }

// Dir holds the config, log and recovery state.
func (s *Server) Dir() string { return s.dir }

// Lease is the configured lease.
func (s *Server) Lease() time.Duration { return s.cfg.Lease }

// Grace is the configured grace period.
func (s *Server) Grace() time.Duration { return s.cfg.Grace }

// Start starts the server (again) and waits until it answers the NFS NULL
// procedure.
func (s *Server) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil && !s.dead() {
		return nil
	}
	out, err := os.OpenFile(s.out, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer out.Close()
	cmd := exec.Command(s.bin, "-F", "-f", s.conf, "-L", s.logPath, "-p", filepath.Join(s.dir, "ganesha.pid"))
	cmd.Dir = s.dir
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", s.bin, err)
	}
	s.cmd = cmd
	ch := make(chan struct{})
	s.exited = ch
	s.paused = false
	go func() { _ = cmd.Wait(); close(ch) }()
	deadline := time.Now().Add(20 * time.Second)
	var last error
	for time.Now().Before(deadline) {
		if s.dead() {
			return fmt.Errorf("ganesha exited at start; log:\n%s", s.tail(30))
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		last = nfs4.Probe(ctx, s.Addr())
		cancel()
		if last == nil {
			// ganesha took its epoch (the start of its client and
			// session IDs) before it answered: Restart waits past it.
			s.started = time.Now()
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.killLocked()
	return fmt.Errorf("ganesha did not answer on %s within 20 s (%v); log:\n%s", s.Addr(), last, s.tail(30))
}

func (s *Server) dead() bool {
	select {
	case <-s.exited:
		return true
	default:
		return false
	}
}

func (s *Server) killLocked() {
	if s.cmd == nil || s.dead() {
		return
	}
	_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGCONT)
	_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
	<-s.exited
}

// Pid is the server's process id (0 when it is not running).
func (s *Server) Pid() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil || s.dead() {
		return 0
	}
	return s.cmd.Process.Pid
}

// Pause stops the server (SIGSTOP) and waits until every thread of it is
// stopped: from then on every call hangs.
func (s *Server) Pause() error {
	if err := s.signal(syscall.SIGSTOP); err != nil {
		return err
	}
	return WaitStopped(s.Pid(), 10*time.Second)
}

// WaitStopped waits until every thread of process pid is stopped.
func WaitStopped(pid int, d time.Duration) error { return procid.WaitStopped(pid, d) }

// Resume continues a paused server (SIGCONT).
func (s *Server) Resume() error { return s.signal(syscall.SIGCONT) }

func (s *Server) signal(sig syscall.Signal) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil || s.dead() {
		return errors.New("ganesha is not running")
	}
	return syscall.Kill(-s.cmd.Process.Pid, sig)
}

// Kill kills the server (SIGKILL) and waits for it to die.
func (s *Server) Kill() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.killLocked()
}

// Restart kills the server and starts it again on the same port with the
// same recovery directory (so it enters its grace period). It waits for
// the wall clock to pass the second in which the previous run answered
// first: ganesha derives client and session IDs from its start time in
// seconds, and a restart within the same second would hand out the IDs of
// the previous run again.
func (s *Server) Restart() error {
	s.mu.Lock()
	s.killLocked()
	started := s.started
	s.mu.Unlock()
	for time.Now().Unix() <= started.Unix() {
		time.Sleep(20 * time.Millisecond)
	}
	return s.Start()
}

// Stop stops the server cleanly (SIGTERM), killing it after 10 s.
func (s *Server) Stop() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil || s.dead() {
		return nil
	}
	_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGCONT)
	_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-s.exited:
		return nil
	case <-time.After(10 * time.Second):
	}
	s.killLocked()
	return errors.New("ganesha ignored SIGTERM for 10 s and was killed")
}

// Log returns the server's log.
func (s *Server) Log() string {
	b, _ := os.ReadFile(s.logPath)
	return string(b)
}

func (s *Server) tail(n int) string {
	lines := strings.Split(strings.TrimRight(s.Log(), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
