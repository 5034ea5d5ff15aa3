package storage

import (
	"context"
	"encoding/json"
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

	"github.com/rwxchaos/rwxchaos/framework/procid"
	"github.com/rwxchaos/rwxchaos/framework/selfexec"
)

// FuseConfig configures a FuseServer.
type FuseConfig struct {
	// Binary runs the file server, after BinaryArgs: rwxchaos-fuse, or
	// rwxchaos with BinaryArgs ["__fuse"]. Empty: selfexec.Fuse (this
	// rwxchaos binary itself, or $RWXCHAOS_FUSE_BINARY).
	Binary     string
	BinaryArgs []string
	// Dir keeps the server's state: run/<name>.json (ready records that
	// Cleanup reads), logs/<name>.log, the guard directory, and backing/ and
	// mnt/<name>/ unless Backing and Mounts say otherwise. Required.
	Dir string
	// Backing is the directory served. Default <Dir>/backing.
	Backing string
	// Clients get one server process and mount each. Empty: one shared
	// server (named "shared") for everyone.
	Clients []string
	// Mounts overrides mountpoints, by client ("" for the shared server).
	// Default <Dir>/mnt/<name>.
	Mounts map[string]string
	// Shared makes every mount shared (mount --make-shared), for kind
	// extraMounts with HostToContainer propagation.
	Shared bool
	// ReadyTimeout bounds one server's start. Default 10 s.
	ReadyTimeout time.Duration
	// Trigger is the unix socket of the runner's trigger controller
	// (framework/trigger); every server dials it and holds the calls its
	// rules name. "" runs without triggers.
	Trigger string
}

// FuseServer runs rwxchaos-fuse processes over one backing directory. See
// the package doc for the design.
type FuseServer struct {
	cfg   FuseConfig
	mu    sync.Mutex
	procs map[string]*fuseProc // by client ("" when shared)
	order []string
}

type fuseProc struct {
	client, name, mount string
	cmd                 *exec.Cmd
	exited              chan struct{}
	guard               bool // the guard bind mount is in place
}

// mountsFile, in FuseConfig.Dir, lists every mountpoint (JSON) for Cleanup.
const mountsFile = "mounts.json"

// sharedName names the one shared server.
const sharedName = "shared"

// NewFuse returns a FuseServer; Start starts it.
func NewFuse(cfg FuseConfig) (*FuseServer, error) {
	if cfg.Binary == "" {
		argv, err := selfexec.Fuse.Command()
		if err != nil {
			return nil, fmt.Errorf("storage: %w", err)
		}
		cfg.Binary, cfg.BinaryArgs = argv[0], argv[1:]
	}
	if cfg.Dir == "" {
		return nil, errors.New("storage: FuseConfig.Dir is required (the server's state directory)")
	}
	var err error
	if cfg.Dir, err = filepath.Abs(cfg.Dir); err != nil {
		return nil, err
	}
	if cfg.Backing == "" {
		cfg.Backing = filepath.Join(cfg.Dir, "backing")
	}
	if cfg.ReadyTimeout <= 0 {
		cfg.ReadyTimeout = 10 * time.Second
	}
	s := &FuseServer{cfg: cfg, procs: map[string]*fuseProc{}}
	clients := cfg.Clients
	if len(clients) == 0 {
		clients = []string{""}
	}
	for _, c := range clients {
		if _, dup := s.procs[c]; dup {
			return nil, fmt.Errorf("storage: client %q is listed twice", c)
		}
		name := c
		if name == "" {
			name = sharedName
		}
		if strings.ContainsAny(name, "/ \t\n") {
			return nil, fmt.Errorf("storage: client name %q must not contain / or spaces", c)
		}
		m := cfg.Mounts[c]
		if m == "" {
			m = filepath.Join(cfg.Dir, "mnt", name)
		}
		if m, err = filepath.Abs(m); err != nil {
			return nil, err
		}
		s.procs[c] = &fuseProc{client: c, name: name, mount: m}
		s.order = append(s.order, c)
	}
	return s, nil
}

// Backend implements Server.
func (s *FuseServer) Backend() string { return BackendFuse }

// Backing is the directory every server serves.
func (s *FuseServer) Backing() string { return s.cfg.Backing }

// Clients implements Server.
func (s *FuseServer) Clients() []string {
	if len(s.cfg.Clients) == 0 {
		return nil
	}
	return slices.Clone(s.order)
}

// MountFor implements Server.
func (s *FuseServer) MountFor(client string) string {
	if p := s.procs[client]; p != nil {
		return p.mount
	}
	if p := s.procs[""]; p != nil {
		return p.mount
	}
	return ""
}

// Pids implements Server.
func (s *FuseServer) Pids(client string) []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []int
	for _, p := range s.select_(client) {
		if p.cmd != nil && !p.dead() {
			out = append(out, p.cmd.Process.Pid)
		}
	}
	return out
}

// select_ returns the processes for client ("" = all). Callers hold mu.
func (s *FuseServer) select_(client string) []*fuseProc {
	if client == "" {
		out := make([]*fuseProc, 0, len(s.order))
		for _, c := range s.order {
			out = append(out, s.procs[c])
		}
		return out
	}
	if p := s.procs[client]; p != nil {
		return []*fuseProc{p}
	}
	return nil
}

func (s *FuseServer) pick(client string) ([]*fuseProc, error) {
	ps := s.select_(client)
	if len(ps) == 0 {
		return nil, fmt.Errorf("storage: no fuse server for client %q (clients: %q)", client, s.order)
	}
	return ps, nil
}

func (p *fuseProc) dead() bool {
	select {
	case <-p.exited:
		return true
	default:
		return false
	}
}

// Start implements Server: creates the directories, puts the guard under
// each mountpoint and starts every server.
func (s *FuseServer) Start(ctx context.Context) error {
	if os.Geteuid() != 0 {
		return errors.New("storage: backend fuse needs root (it mounts with mount(2); there is no fusermount): run as root or use backend local")
	}
	if _, err := os.Stat("/dev/fuse"); err != nil {
		return fmt.Errorf("storage: backend fuse needs /dev/fuse (%v): load the fuse module or use backend local", err)
	}
	for _, d := range []string{s.cfg.Backing, s.guardDir(), filepath.Join(s.cfg.Dir, "run"), filepath.Join(s.cfg.Dir, "logs")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("storage: %w", err)
		}
	}
	// Record every mountpoint before mounting anything, so Cleanup finds
	// them (and the guards) even after the servers are gone.
	var mounts []string
	for _, c := range s.order {
		mounts = append(mounts, s.procs[c].mount)
	}
	b, _ := json.Marshal(mounts)
	if err := os.WriteFile(filepath.Join(s.cfg.Dir, mountsFile), b, 0o644); err != nil {
		return fmt.Errorf("storage: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.order {
		if err := s.startLocked(ctx, s.procs[c]); err != nil {
			s.stopLocked(context.WithoutCancel(ctx))
			return err
		}
	}
	return nil
}

func (s *FuseServer) guardDir() string { return filepath.Join(s.cfg.Dir, "guard") }

func (s *FuseServer) readyFile(p *fuseProc) string {
	return filepath.Join(s.cfg.Dir, "run", p.name+".json")
}

// startLocked detaches whatever stale FUSE mount is on p.mount, makes sure
// the guard is there, starts a server and waits for its ready record.
func (s *FuseServer) startLocked(ctx context.Context, p *fuseProc) error {
	if p.cmd != nil && !p.dead() {
		return nil
	}
	if err := os.MkdirAll(p.mount, 0o755); err != nil && !errors.Is(err, syscall.ENOTCONN) && !errors.Is(err, syscall.EEXIST) {
		return fmt.Errorf("storage: mountpoint %s: %w", p.mount, err)
	}
	if err := detachFuse(p.mount); err != nil {
		return err
	}
	if !p.guard {
		if err := s.mountGuard(p.mount); err != nil {
			return err
		}
		p.guard = true
	}
	ready := s.readyFile(p)
	_ = os.Remove(ready)
	logf, err := os.OpenFile(filepath.Join(s.cfg.Dir, "logs", p.name+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("storage: %w", err)
	}
	defer logf.Close()
	args := []string{"--backing", s.cfg.Backing, "--mount", p.mount, "--name", p.name, "--ready", ready}
	if s.cfg.Shared {
		args = append(args, "--shared")
	}
	if s.cfg.Trigger != "" {
		args = append(args, "--trigger", s.cfg.Trigger)
	}
	cmd := exec.Command(s.cfg.Binary, append(slices.Clip(s.cfg.BinaryArgs), args...)...)
	cmd.Stdout, cmd.Stderr = logf, logf
	// Its own process group: a Ctrl-C to the runner must not take the
	// storage away before the pipeline is stopped; Stop ends it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("storage: start %s: %w", s.cfg.Binary, err)
	}
	p.cmd = cmd
	p.exited = make(chan struct{})
	go func(ch chan struct{}) { _ = cmd.Wait(); close(ch) }(p.exited)

	deadline := time.NewTimer(s.cfg.ReadyTimeout)
	defer deadline.Stop()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		if b, err := os.ReadFile(ready); err == nil {
			var r struct{ Pid int }
			if json.Unmarshal(b, &r) == nil && r.Pid == cmd.Process.Pid {
				return nil
			}
		}
		select {
		case <-p.exited:
			return fmt.Errorf("storage: fuse server %s exited before it served %s: see %s", p.name, p.mount, logf.Name())
		case <-ctx.Done():
			_ = cmd.Process.Kill()
			<-p.exited
			return fmt.Errorf("storage: start fuse server %s: %w", p.name, ctx.Err())
		case <-deadline.C:
			_ = cmd.Process.Kill()
			<-p.exited
			return fmt.Errorf("storage: fuse server %s did not serve %s within %s: see %s", p.name, p.mount, s.cfg.ReadyTimeout, logf.Name())
		case <-tick.C:
		}
	}
}

// mountGuard bind-mounts the empty guard directory read-only on m.
func (s *FuseServer) mountGuard(m string) error {
	if err := syscall.Mount(s.guardDir(), m, "", syscall.MS_BIND, ""); err != nil {
		return fmt.Errorf("storage: guard bind mount on %s: %w", m, err)
	}
	if err := syscall.Mount("", m, "", syscall.MS_REMOUNT|syscall.MS_BIND|syscall.MS_RDONLY, ""); err != nil {
		_ = syscall.Unmount(m, syscall.MNT_DETACH)
		return fmt.Errorf("storage: make the guard on %s read-only: %w", m, err)
	}
	if s.cfg.Shared {
		if err := syscall.Mount("", m, "", syscall.MS_SHARED, ""); err != nil {
			_ = syscall.Unmount(m, syscall.MNT_DETACH)
			return fmt.Errorf("storage: make %s shared: %w", m, err)
		}
	}
	return nil
}

// Pause implements Server.
func (s *FuseServer) Pause(_ context.Context, client string) error {
	return s.signal(client, syscall.SIGSTOP)
}

// Resume implements Server.
func (s *FuseServer) Resume(_ context.Context, client string) error {
	return s.signal(client, syscall.SIGCONT)
}

func (s *FuseServer) signal(client string, sig syscall.Signal) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	ps, err := s.pick(client)
	if err != nil {
		return err
	}
	var errs []error
	for _, p := range ps {
		if p.cmd == nil || p.dead() {
			if sig == syscall.SIGCONT {
				continue
			}
			errs = append(errs, fmt.Errorf("storage: fuse server %s is not running: Restart it", p.name))
			continue
		}
		if err := p.cmd.Process.Signal(sig); err != nil {
			errs = append(errs, fmt.Errorf("storage: %s fuse server %s: %w", sig, p.name, err))
			continue
		}
		if sig == syscall.SIGSTOP {
			// Paused means paused when Pause returns: a thread still
			// running could answer one more call (CI18: a write completed
			// "during the pause" on a loaded machine).
			if err := procid.WaitStopped(p.cmd.Process.Pid, 10*time.Second); err != nil {
				errs = append(errs, fmt.Errorf("storage: fuse server %s: %w", p.name, err))
			}
		}
	}
	return errors.Join(errs...)
}

// Kill implements Server. The mounts stay, dead: every call on them fails
// with ENOTCONN until Restart.
func (s *FuseServer) Kill(ctx context.Context, client string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	ps, err := s.pick(client)
	if err != nil {
		return err
	}
	for _, p := range ps {
		if p.cmd == nil || p.dead() {
			continue
		}
		_ = p.cmd.Process.Kill()
	}
	for _, p := range ps {
		if p.cmd == nil {
			continue
		}
		select {
		case <-p.exited:
		case <-ctx.Done():
			return fmt.Errorf("storage: fuse server %s did not die: %w", p.name, ctx.Err())
		}
	}
	return nil
}

// Shutdown implements Server: SIGTERM (the server unmounts, lazily if files
// are open), then SIGKILL after 5 s.
func (s *FuseServer) Shutdown(ctx context.Context, client string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	ps, err := s.pick(client)
	if err != nil {
		return err
	}
	var errs []error
	for _, p := range ps {
		errs = append(errs, s.terminateLocked(ctx, p))
	}
	return errors.Join(errs...)
}

func (s *FuseServer) terminateLocked(ctx context.Context, p *fuseProc) error {
	if p.cmd == nil || p.dead() {
		return nil
	}
	_ = p.cmd.Process.Signal(syscall.SIGCONT) // a stopped process cannot act on SIGTERM
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	t := time.NewTimer(5 * time.Second)
	defer t.Stop()
	select {
	case <-p.exited:
		return nil
	case <-t.C:
	case <-ctx.Done():
	}
	_ = p.cmd.Process.Kill()
	<-p.exited
	return fmt.Errorf("storage: fuse server %s ignored SIGTERM and was killed: see %s", p.name, filepath.Join(s.cfg.Dir, "logs", p.name+".log"))
}

// Restart implements Server.
func (s *FuseServer) Restart(ctx context.Context, client string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	ps, err := s.pick(client)
	if err != nil {
		return err
	}
	var errs []error
	for _, p := range ps {
		if p.cmd != nil && !p.dead() {
			_ = p.cmd.Process.Signal(syscall.SIGCONT)
			_ = p.cmd.Process.Kill()
			<-p.exited
		}
		errs = append(errs, s.startLocked(ctx, p))
	}
	return errors.Join(errs...)
}

// Healthy implements Server.
func (s *FuseServer) Healthy(ctx context.Context, client string) error {
	s.mu.Lock()
	ps, err := s.pick(client)
	s.mu.Unlock()
	if err != nil {
		return err
	}
	var errs []error
	for _, p := range ps {
		if err := ProbeDir(ctx, p.mount); err != nil {
			errs = append(errs, fmt.Errorf("fuse server %s: %w", p.name, err))
		}
	}
	return errors.Join(errs...)
}

// Stop implements Server: resumes every server, stops it (unmounting), and
// removes the guards. Nothing is left mounted or stopped.
func (s *FuseServer) Stop(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stopLocked(ctx)
}

func (s *FuseServer) stopLocked(ctx context.Context) error {
	var errs []error
	for _, c := range s.order {
		p := s.procs[c]
		if err := s.terminateLocked(ctx, p); err != nil {
			errs = append(errs, err)
		}
		if err := unmountAll(p.mount); err != nil {
			errs = append(errs, err)
		}
		p.guard = false
		_ = os.Remove(s.readyFile(p))
	}
	return errors.Join(errs...)
}

// detachFuse lazily unmounts FUSE mounts stacked on m (a dead server's
// stale mount, or a live one's), leaving other mounts (the guard) alone.
func detachFuse(m string) error {
	for range 8 {
		top, ok := topMount(m)
		if !ok || !strings.HasPrefix(top, "fuse") {
			return nil
		}
		if err := syscall.Unmount(m, syscall.MNT_DETACH); err != nil {
			return fmt.Errorf("storage: detach the %s mount on %s: %w: run umount -l %s", top, m, err, m)
		}
	}
	return fmt.Errorf("storage: %s still has FUSE mounts after 8 detaches: inspect /proc/self/mountinfo", m)
}

// unmountAll lazily unmounts everything stacked on m.
func unmountAll(m string) error {
	for range 16 {
		if _, ok := topMount(m); !ok {
			return nil
		}
		if err := syscall.Unmount(m, syscall.MNT_DETACH); err != nil {
			return fmt.Errorf("storage: unmount %s: %w: run umount -l %s", m, err, m)
		}
	}
	return fmt.Errorf("storage: %s is still mounted after 16 unmounts: inspect /proc/self/mountinfo", m)
}

// topMount returns the file system type of the topmost mount exactly at m
// (from /proc/self/mountinfo), and whether there is one.
func topMount(m string) (string, bool) {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return "", false
	}
	return topMountIn(string(b), m)
}

func topMountIn(mountinfo, m string) (string, bool) {
	fstype, found := "", false
	for _, line := range splitLines(mountinfo) {
		// id parent maj:min root mountpoint opts [optional...] - fstype source superopts
		f := fieldsOf(line)
		if len(f) < 7 || unescapeMount(f[4]) != m {
			continue
		}
		for i := 6; i < len(f)-1; i++ {
			if f[i] == "-" {
				fstype, found = f[i+1], true // later lines are mounted on top
				break
			}
		}
	}
	return fstype, found
}

// Mounted reports whether anything is mounted exactly at m.
func Mounted(m string) bool {
	_, ok := topMount(m)
	return ok
}

func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			var v int
			if _, err := fmt.Sscanf(s[i+1:i+4], "%03o", &v); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func splitLines(s string) []string { return strings.Split(strings.TrimSpace(s), "\n") }
func fieldsOf(s string) []string   { return strings.Fields(s) }
