package nfsfuse_test

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rwxchaos/rwxchaos/framework/nfs4"
	"github.com/rwxchaos/rwxchaos/framework/nfs4/internal/ganeshatest"
	"github.com/rwxchaos/rwxchaos/framework/nfs4/nfsfuse"
)

// The test binary doubles as the mount process and as the lock-holding
// processes the tests drive (so that lock owners differ as they do
// between real processes).
const helperEnv = "RWXCHAOS_NFS_TEST_HELPER"

// leaseSlack: ganesha may expire a lease up to a second early.
const leaseSlack = ganeshatest.LeaseSlack

func TestMain(m *testing.M) {
	switch os.Getenv(helperEnv) {
	case "mount":
		var args []string
		_ = json.Unmarshal([]byte(os.Getenv(helperEnv+"_ARGS")), &args)
		os.Exit(nfsfuse.Main(args))
	case "locker":
		os.Exit(lockerMain())
	}
	os.Exit(m.Run())
}

// needFUSE skips when this machine cannot mount FUSE.
func needFUSE(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("SKIPPED: mounting FUSE with mount(2) needs root")
	}
	if _, err := os.Stat("/dev/fuse"); err != nil {
		t.Skip("SKIPPED: no /dev/fuse")
	}
}

// startServer starts ganesha (lease 10 s, grace 10 s) or skips.
func startServer(t testing.TB) *ganeshatest.Server {
	t.Helper()
	needFUSE(t)
	return ganeshatest.Start(t, ganeshatest.Config{})
}

// mountProc is an rwxchaos-nfs mount process (this test binary) in its
// own process group.
type mountProc struct {
	t      testing.TB
	name   string
	dir    string
	log    string
	stats  string
	cmd    *exec.Cmd
	exited chan struct{}
	code   int
}

func startMount(t testing.TB, srv *ganeshatest.Server, name string, extra ...string) *mountProc {
	t.Helper()
	base := t.TempDir() // removed last: cleanups run in reverse order
	m := &mountProc{t: t, name: name, dir: filepath.Join(base, "mnt"), log: filepath.Join(base, "mount.log"),
		stats: filepath.Join(base, "stats.json"), exited: make(chan struct{})}
	if err := os.Mkdir(m.dir, 0o755); err != nil {
		t.Fatal(err)
	}
	ready := filepath.Join(base, "ready.json")
	args := append([]string{"--server", srv.Addr(), "--export", "/export", "--mount", m.dir, "--name", name,
		"--ready", ready, "--stats", m.stats}, extra...)
	m.start(args)
	t.Cleanup(m.cleanup)
	liveMounts.Store(m, true)
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := os.Stat(ready); err == nil {
			return m
		}
		select {
		case <-m.exited:
			t.Fatalf("mount %s exited with %d before it was ready:\n%s", name, m.code, m.logText())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("mount %s not ready after 30 s:\n%s", name, m.logText())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (m *mountProc) start(args []string) {
	js, _ := json.Marshal(args)
	out, err := os.OpenFile(m.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		m.t.Fatal(err)
	}
	defer out.Close()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"=mount", helperEnv+"_ARGS="+string(js))
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		m.t.Fatal(err)
	}
	m.cmd = cmd
	go func() {
		err := cmd.Wait()
		m.code = 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			m.code = ee.ExitCode()
		}
		close(m.exited)
	}()
}

// liveMounts are the mount processes of running tests.
var liveMounts sync.Map // *mountProc -> bool

// continueMounts sends SIGCONT to every mount process still running.
func continueMounts() {
	liveMounts.Range(func(k, _ any) bool {
		m := k.(*mountProc)
		if m.cmd != nil && m.cmd.Process != nil {
			_ = syscall.Kill(-m.cmd.Process.Pid, syscall.SIGCONT)
		}
		return true
	})
}

// cleanup runs whatever happened: a stopped FUSE server left mounted
// freezes anything that touches the mount, so continue, kill, detach.
func (m *mountProc) cleanup() {
	liveMounts.Delete(m)
	if m.cmd != nil && m.cmd.Process != nil {
		pg := m.cmd.Process.Pid
		_ = syscall.Kill(-pg, syscall.SIGCONT)
		select {
		case <-m.exited:
		default:
			_ = syscall.Kill(-pg, syscall.SIGKILL)
			<-m.exited
		}
	}
	for i := 0; i < 3; i++ { // FUSE mount, then the guard under it
		if err := syscall.Unmount(m.dir, syscall.MNT_DETACH); err != nil {
			break
		}
	}
	if m.t.Failed() {
		m.t.Logf("log of mount %s:\n%s", m.name, m.logText())
	}
}

func (m *mountProc) pid() int { return m.cmd.Process.Pid }

func (m *mountProc) signal(sig syscall.Signal) {
	m.t.Helper()
	if err := syscall.Kill(-m.pid(), sig); err != nil {
		m.t.Fatalf("%s to mount %s: %v", sig, m.name, err)
	}
	if sig == syscall.SIGSTOP {
		if err := ganeshatest.WaitStopped(m.pid(), 10*time.Second); err != nil {
			m.t.Fatal(err)
		}
	}
}

// terminate sends SIGTERM and waits for a clean exit.
func (m *mountProc) terminate() int {
	m.signal(syscall.SIGTERM)
	select {
	case <-m.exited:
	case <-time.After(20 * time.Second):
		m.t.Fatalf("mount %s did not exit 20 s after SIGTERM:\n%s", m.name, m.logText())
	}
	return m.code
}

func (m *mountProc) logText() string {
	b, _ := os.ReadFile(m.log)
	return string(b)
}

func (m *mountProc) path(name string) string { return filepath.Join(m.dir, name) }

// clientStats reads the counters the mount process writes every second.
func (m *mountProc) clientStats() nfs4.Stats {
	var rec nfsfuse.StatsRecord
	b, err := os.ReadFile(m.stats)
	if err == nil {
		_ = json.Unmarshal(b, &rec)
	}
	return rec.Stats
}

// waitStats polls the stats file until cond holds.
func (m *mountProc) waitStats(d time.Duration, what string, cond func(nfs4.Stats) bool) nfs4.Stats {
	m.t.Helper()
	deadline := time.Now().Add(d)
	for {
		s := m.clientStats()
		if cond(s) {
			return s
		}
		if time.Now().After(deadline) {
			m.t.Fatalf("mount %s: %s not seen within %s; stats %+v", m.name, what, d, s)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// locker is a helper process that opens one file and takes, tests and
// releases locks on command, reporting each result with a timestamp.
type locker struct {
	t     *testing.T
	name  string
	cmd   *exec.Cmd
	in    io.WriteCloser
	lines chan string
	done  chan struct{}
}

func startLocker(t *testing.T, name string) *locker {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"=locker")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	l := &locker{t: t, name: name, cmd: cmd, in: in, lines: make(chan string, 16), done: make(chan struct{})}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			l.lines <- sc.Text()
		}
		close(l.lines)
	}()
	go func() { _ = cmd.Wait(); close(l.done) }()
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGCONT)
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		select {
		case <-l.done:
			return
		case <-time.After(3 * time.Second):
		}
		// Blocked in a request a stopped mount process has read: the
		// kernel waits for its answer. Let every mount run again.
		continueMounts()
		select {
		case <-l.done:
		case <-time.After(20 * time.Second):
			t.Logf("locker %s (pid %d) still alive after SIGKILL: stuck on a FUSE request", name, cmd.Process.Pid)
		}
	})
	return l
}

// reply is one answer of a locker: ok or an errno name, when it happened.
type reply struct {
	ok   bool
	err  string // errno name (EAGAIN, EIO, ...)
	at   time.Time
	rest string
}

func (r reply) String() string {
	if r.ok {
		return "ok " + r.rest
	}
	return "err " + r.err
}

func parseReply(line string) reply {
	f := strings.SplitN(line, " ", 4)
	var r reply
	if len(f) >= 2 {
		ns, _ := strconv.ParseInt(f[1], 10, 64)
		r.at = time.Unix(0, ns)
	}
	r.ok = len(f) > 0 && f[0] == "ok"
	if len(f) >= 3 {
		if r.ok {
			r.rest = strings.Join(f[2:], " ")
		} else {
			r.err = f[2]
		}
	}
	return r
}

// send starts a command; wait collects its reply.
func (l *locker) send(cmd string) {
	l.t.Helper()
	if _, err := fmt.Fprintln(l.in, cmd); err != nil {
		l.t.Fatalf("locker %s: send %q: %v", l.name, cmd, err)
	}
}

// wait returns the next reply, or false if none came within d.
func (l *locker) wait(d time.Duration) (reply, bool) {
	select {
	case line, ok := <-l.lines:
		if !ok {
			return reply{err: "EXITED"}, true
		}
		return parseReply(line), true
	case <-time.After(d):
		return reply{}, false
	}
}

// do runs a command and returns its reply (failing after d).
func (l *locker) do(cmd string, d time.Duration) reply {
	l.t.Helper()
	l.send(cmd)
	r, ok := l.wait(d)
	if !ok {
		l.t.Fatalf("locker %s: %q did not answer within %s", l.name, cmd, d)
	}
	return r
}

// must runs a command that has to succeed.
func (l *locker) must(cmd string) reply {
	l.t.Helper()
	r := l.do(cmd, 30*time.Second)
	if !r.ok {
		l.t.Fatalf("locker %s: %q: %s", l.name, cmd, r)
	}
	return r
}

// lockerMain is the helper process: one command per stdin line, one
// reply per stdout line: "ok <unix-ns> [data]" or "err <unix-ns> ERRNO".
func lockerMain() int {
	runtime.LockOSThread() // blocking calls run on this thread (see "tid")
	var fd = -1
	out := bufio.NewWriter(os.Stdout)
	say := func(err error, data string) {
		now := time.Now().UnixNano()
		if err != nil {
			var en syscall.Errno
			name := err.Error()
			if errors.As(err, &en) {
				name = errnoName(en)
			}
			fmt.Fprintf(out, "err %d %s\n", now, name)
		} else {
			fmt.Fprintf(out, "ok %d %s\n", now, data)
		}
		out.Flush()
	}
	sc := bufio.NewScanner(os.Stdin)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		cmd, arg, _ := strings.Cut(sc.Text(), " ")
		var err error
		data := ""
		switch cmd {
		case "open":
			fd, err = syscall.Open(arg, syscall.O_RDWR|syscall.O_CREAT, 0o644)
		case "tid":
			data = strconv.Itoa(syscall.Gettid())
		case "flock-nb":
			err = syscall.Flock(fd, syscall.LOCK_EX|syscall.LOCK_NB)
		case "flock":
			err = syscall.Flock(fd, syscall.LOCK_EX)
		case "flock-un":
			err = syscall.Flock(fd, syscall.LOCK_UN)
		case "fcntl-nb", "fcntl":
			lk := syscall.Flock_t{Type: syscall.F_WRLCK, Whence: 0, Start: 0, Len: 0}
			op := syscall.F_SETLK
			if cmd == "fcntl" {
				op = syscall.F_SETLKW
			}
			err = syscall.FcntlFlock(uintptr(fd), op, &lk)
		case "fcntl-un":
			lk := syscall.Flock_t{Type: syscall.F_UNLCK}
			err = syscall.FcntlFlock(uintptr(fd), syscall.F_SETLK, &lk)
		case "getlk":
			lk := syscall.Flock_t{Type: syscall.F_WRLCK}
			err = syscall.FcntlFlock(uintptr(fd), syscall.F_GETLK, &lk)
			if lk.Type == syscall.F_UNLCK {
				data = "unlocked"
			} else {
				data = fmt.Sprintf("locked type=%d start=%d len=%d", lk.Type, lk.Start, lk.Len)
			}
		case "write":
			var n int
			n, err = syscall.Pwrite(fd, []byte(arg), 0)
			data = strconv.Itoa(n)
		case "read":
			buf := make([]byte, 4096)
			var n int
			n, err = syscall.Pread(fd, buf, 0)
			if n > 0 {
				data = string(buf[:n])
			}
		case "fsync":
			err = syscall.Fsync(fd)
		case "close":
			err = syscall.Close(fd)
			fd = -1
		case "exit":
			say(nil, "")
			return 0
		default:
			err = fmt.Errorf("unknown command %q", cmd)
		}
		say(err, data)
	}
	return 0
}

func errnoName(e syscall.Errno) string {
	switch e {
	case syscall.EAGAIN:
		return "EAGAIN"
	case syscall.EIO:
		return "EIO"
	case syscall.EINTR:
		return "EINTR"
	case syscall.ENOTCONN:
		return "ENOTCONN"
	case syscall.EBADF:
		return "EBADF"
	case syscall.ENOENT:
		return "ENOENT"
	case syscall.EACCES:
		return "EACCES"
	case syscall.ENOLCK:
		return "ENOLCK"
	case syscall.EDEADLK:
		return "EDEADLK"
	}
	return fmt.Sprintf("ERRNO%d", int(e))
}

// grantWatch records, in the background, the replies of a locker that
// was sent a blocking command.
type grantWatch struct {
	mu  sync.Mutex
	got *reply
	ch  chan reply
}

func watchReply(l *locker) *grantWatch {
	g := &grantWatch{ch: make(chan reply, 1)}
	go func() {
		r, ok := l.wait(10 * time.Minute)
		if ok {
			g.mu.Lock()
			g.got = &r
			g.mu.Unlock()
			g.ch <- r
		}
	}()
	return g
}

func (g *grantWatch) peek() *reply {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.got
}

func (g *grantWatch) wait(t *testing.T, d time.Duration, what string) reply {
	t.Helper()
	select {
	case r := <-g.ch:
		return r
	case <-time.After(d):
		t.Fatalf("%s: no reply within %s", what, d)
	}
	return reply{}
}
