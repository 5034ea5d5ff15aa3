package trigger

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"
)

func TestGlob(t *testing.T) {
	cases := []struct {
		pat, path string
		want      bool
	}{
		{"botssys/outfile/**", "botssys/outfile/default/a.json", true},
		{"botssys/outfile/**", "botssys/outfile", true},
		{"botssys/outfile/*/*.json", "botssys/outfile/default/a.json", true},
		{"botssys/outfile/*/*.json", "botssys/outfile/default/.a.json.123.tmp", false},
		{"botssys/outfile/*/*.json", "botssys/outfile/a.json", false},
		{"**/*.lease", "botssys/data/engine.lease", true},
		{"**", "x", true},
		{"botssys/data/engine.lease", "botssys/data/engine.lease", true},
		{"botssys/data/engine.lease", "botssys/data/engine.lock", false},
		{"a/**/b", "a/b", true},
		{"a/**/b", "a/x/y/b", true},
		{"a/**/b", "a/x/y/c", false},
		{"**", "../etc/passwd", false},
	}
	for _, c := range cases {
		if got := Glob(c.pat).Match(c.path); got != c.want {
			t.Errorf("Glob(%q).Match(%q) = %v, want %v", c.pat, c.path, got, c.want)
		}
	}
	for _, bad := range []string{"", "/abs", "a//b", "a/../b", "a**", "[", "./a"} {
		if err := Glob(bad).Check(); err == nil {
			t.Errorf("Glob(%q).Check() = nil, want an error", bad)
		}
	}
	if err := Glob("botssys/outfile/*/[a-z]*.json").Check(); err != nil {
		t.Errorf("valid glob refused: %v", err)
	}
}

func TestCounter(t *testing.T) {
	fires := func(c *Counter, n int) []int {
		var out []int
		for i := 0; i < n; i++ {
			if ok, k := c.Next(); ok {
				out = append(out, k)
			}
		}
		return out
	}
	c, _ := NewCounter(3, 0, 5, 0, 1, "x")
	if got := fires(c, 10); len(got) != 1 || got[0] != 3 {
		t.Errorf("nth 3: fired at %v, want [3]", got)
	}
	if !c.Exhausted() {
		t.Error("nth without every should be exhausted after the nth call")
	}
	c, _ = NewCounter(2, 3, 3, 0, 1, "x")
	if got := fires(c, 20); len(got) != 3 || got[0] != 2 || got[1] != 5 || got[2] != 8 {
		t.Errorf("nth 2 every 3 times 3: fired at %v, want [2 5 8]", got)
	}
	// Probability replays with the same seed and name, and differs by name.
	a, _ := NewCounter(1, 1, 1000, 0.3, 42, "kill")
	b, _ := NewCounter(1, 1, 1000, 0.3, 42, "kill")
	o, _ := NewCounter(1, 1, 1000, 0.3, 42, "other")
	fa, fb, fo := fires(a, 1000), fires(b, 1000), fires(o, 1000)
	if len(fa) != len(fb) || len(fa) < 200 || len(fa) > 400 {
		t.Fatalf("probability 0.3 over 1000 calls fired %d and %d times", len(fa), len(fb))
	}
	for i := range fa {
		if fa[i] != fb[i] {
			t.Fatalf("same seed, different firings at %d: %d vs %d", i, fa[i], fb[i])
		}
	}
	same := len(fa) == len(fo)
	for i := 0; same && i < len(fa); i++ {
		same = fa[i] == fo[i]
	}
	if same {
		t.Error("two faults with the same seed fire at the same calls: the name must be mixed into the seed")
	}
}

func TestCgroupParsing(t *testing.T) {
	node := "2f1a9c0e8b7d6c5b4a39281706f5e4d3c2b1a09f8e7d6c5b4a3928170f6e5d4c"
	ctr := "9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c8b7a6f5e4d3c2b1a0f9e8d"
	cg := "12:freezer:/docker/" + node + "/kubelet/kubepods/besteffort/pod3f2b1c0d-aaaa-bbbb-cccc-0123456789ab/" + ctr + "\n" +
		"11:cpu,cpuacct:/docker/" + node + "/kubelet/kubepods/besteffort/pod3f2b1c0d-aaaa-bbbb-cccc-0123456789ab/" + ctr
	if got := PodUID(cg); got != "3f2b1c0d-aaaa-bbbb-cccc-0123456789ab" {
		t.Errorf("PodUID = %q", got)
	}
	if got := ContainerIDs(cg); len(got) != 2 || got[0] != node || got[1] != ctr {
		t.Errorf("ContainerIDs = %q", got)
	}
	sd := "0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod3f2b1c0d_aaaa_bbbb_cccc_0123456789ab.slice/cri-containerd-" + ctr + ".scope"
	if got := PodUID(sd); got != "3f2b1c0d-aaaa-bbbb-cccc-0123456789ab" {
		t.Errorf("systemd PodUID = %q", got)
	}
	if got := PodUID("0::/user.slice/session-1.scope"); got != "" {
		t.Errorf("PodUID outside Kubernetes = %q, want empty", got)
	}
}

// rig is a controller and a hook in one process; calls go through Do.
type rig struct {
	c     *Controller
	h     *Hook
	calls chan *Call
	logs  chan string
}

func newRig(t *testing.T, rules []Rule, root string) *rig {
	t.Helper()
	r := &rig{calls: make(chan *Call, 16), logs: make(chan string, 64)}
	sock := filepath.Join(t.TempDir(), "t.sock")
	c, err := Listen(sock, func(call *Call) { r.calls <- call }, t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.SetRules(root, rules); err != nil {
		t.Fatal(err)
	}
	h, err := NewHook(HookConfig{Socket: sock, Server: "test", Logf: func(f string, a ...any) {
		select {
		case r.logs <- f:
		default:
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.WaitServers(ctx, 1); err != nil {
		t.Fatal(err)
	}
	for !h.Connected() {
		if ctx.Err() != nil {
			t.Fatal("hook never got its rules")
		}
		time.Sleep(time.Millisecond)
	}
	r.c, r.h = c, h
	return r
}

func (r *rig) do(op Op, p, to string, fn func() syscall.Errno) <-chan syscall.Errno {
	out := make(chan syscall.Errno, 1)
	go func() { out <- r.h.Do(op, p, to, uint32(os.Getpid()), fn) }()
	return out
}

func recvCall(t *testing.T, ch <-chan *Call) *Call {
	t.Helper()
	select {
	case c := <-ch:
		return c
	case <-time.After(5 * time.Second):
		t.Fatal("no call reported within 5s")
		return nil
	}
}

func recvErrno(t *testing.T, ch <-chan syscall.Errno) syscall.Errno {
	t.Helper()
	select {
	case e := <-ch:
		return e
	case <-time.After(5 * time.Second):
		t.Fatal("the call did not return within 5s")
		return 0
	}
}

func TestHookHoldsUntilRelease(t *testing.T) {
	r := newRig(t, []Rule{
		{Name: "kill", Op: OpRename, Path: "out/*.json", When: After},
		{Name: "eio", Op: OpUnlink, Path: "in/**", When: Before},
	}, "runs/r1")

	// Outside the root, other ops, other paths: not held, not reported.
	var performed sync.WaitGroup
	for _, c := range []struct {
		op    Op
		p, to string
	}{{OpRename, "out/a.json", ""}, {OpRename, "runs/r2/out/a.json", ""}, {OpUnlink, "runs/r1/out/a.json", ""}, {OpFsync, "runs/r1/out/a.json", ""}} {
		performed.Add(1)
		if e := recvErrno(t, r.do(c.op, c.p, c.to, func() syscall.Errno { performed.Done(); return 0 })); e != 0 {
			t.Fatalf("%s %s: errno %v", c.op, c.p, e)
		}
	}
	performed.Wait()
	select {
	case c := <-r.calls:
		t.Fatalf("unexpected report %s", c.Describe())
	default:
	}

	// After: the op is performed, the reply is withheld until the release.
	ran := make(chan struct{})
	res := r.do(OpRename, "runs/r1/out/.a.json.1.tmp", "runs/r1/out/a.json", func() syscall.Errno { close(ran); return 0 })
	call := recvCall(t, r.calls)
	<-ran
	if call.Op != OpRename || call.When != After || call.Path != "out/.a.json.1.tmp" || call.To != "out/a.json" || call.Rules[0] != "kill" {
		t.Fatalf("reported %+v", call.Report)
	}
	if call.Pid != os.Getpid() || call.Comm == "" || len(call.Args) == 0 {
		t.Errorf("caller not read from /proc: %+v", call.Report)
	}
	select {
	case e := <-res:
		t.Fatalf("the held call returned (%v) before its release", e)
	case <-time.After(50 * time.Millisecond):
	}
	if err := call.Release(syscall.EIO); err != nil {
		t.Fatal(err)
	}
	if e := recvErrno(t, res); e != syscall.EIO {
		t.Fatalf("after + release EIO: caller got %v", e)
	}
	if d := <-call.Done(); !d.Performed || d.Errno != int(syscall.EIO) || d.Expired {
		t.Fatalf("done = %+v", d)
	}

	// Before + errno: not performed.
	res = r.do(OpUnlink, "runs/r1/in/x/y.edi", "", func() syscall.Errno { t.Error("performed despite a failing release"); return 0 })
	call = recvCall(t, r.calls)
	if call.When != Before || call.Path != "in/x/y.edi" {
		t.Fatalf("reported %+v", call.Report)
	}
	_ = call.Release(syscall.EINTR)
	if e := recvErrno(t, res); e != syscall.EINTR {
		t.Fatalf("before + release EINTR: caller got %v", e)
	}
	if d := <-call.Done(); d.Performed {
		t.Fatalf("done = %+v, want not performed", d)
	}

	// Before + 0: performed after the release, with its own result.
	var did bool
	res = r.do(OpUnlink, "runs/r1/in/z.edi", "", func() syscall.Errno { did = true; return syscall.ENOENT })
	call = recvCall(t, r.calls)
	time.Sleep(20 * time.Millisecond)
	if did {
		t.Fatal("before: performed before the release")
	}
	_ = call.Release(0)
	if e := recvErrno(t, res); e != syscall.ENOENT || !did {
		t.Fatalf("before + release 0: got %v, performed %v", e, did)
	}

	// Disarm: no more reports.
	if err := r.c.SetRules("runs/r1", nil); err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond) // the rules message is asynchronous
	if e := recvErrno(t, r.do(OpRename, "runs/r1/out/b.json", "", func() syscall.Errno { return 0 })); e != 0 {
		t.Fatal(e)
	}
	select {
	case c := <-r.calls:
		t.Fatalf("reported %s after disarming", c.Describe())
	case <-time.After(50 * time.Millisecond):
	}
}

func TestHookHoldBoundExpires(t *testing.T) {
	r := newRig(t, []Rule{{Name: "slow", Op: OpFsync, Path: "**", When: Before, HoldMillis: 100}}, "")
	start := time.Now()
	res := r.do(OpFsync, "a", "", func() syscall.Errno { return 0 })
	call := recvCall(t, r.calls) // never released
	if e := recvErrno(t, res); e != 0 {
		t.Fatalf("expired hold: caller got %v, want the operation's own result", e)
	}
	if el := time.Since(start); el < 100*time.Millisecond {
		t.Fatalf("returned after %s, before the hold bound", el)
	}
	if d := <-call.Done(); !d.Expired || !d.Performed {
		t.Fatalf("done = %+v, want expired and performed", d)
	}
}

func TestHookReleasesWhenControllerGoes(t *testing.T) {
	r := newRig(t, []Rule{{Name: "k", Op: OpCloseWrite, Path: "**", When: After}}, "")
	res := r.do(OpCloseWrite, "f", "", func() syscall.Errno { return 0 })
	recvCall(t, r.calls)
	// The runner dies: its socket closes (simulated by closing every
	// connection without releasing anything first).
	r.c.mu.Lock()
	for sc := range r.c.servers {
		sc.conn.Close()
	}
	r.c.mu.Unlock()
	if e := recvErrno(t, res); e != 0 {
		t.Fatalf("caller got %v after the controller went away", e)
	}
	// Reconnects to the same controller and gets its rules again.
	deadline := time.Now().Add(5 * time.Second)
	for {
		ok := false
		res := r.do(OpCloseWrite, "g", "", func() syscall.Errno { return 0 })
		select {
		case c := <-r.calls:
			_ = c.Release(0)
			ok = true
		case <-time.After(50 * time.Millisecond):
		}
		recvErrno(t, res)
		if ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the hook did not reconnect within 5s")
		}
	}
	// Close releases calls held at that moment.
	res = r.do(OpCloseWrite, "h", "", func() syscall.Errno { return 0 })
	recvCall(t, r.calls)
	if err := r.c.Close(); err != nil {
		t.Fatal(err)
	}
	if e := recvErrno(t, res); e != 0 {
		t.Fatalf("caller got %v after Close", e)
	}
	if _, err := os.Stat(r.c.Path()); !os.IsNotExist(err) {
		t.Errorf("socket %s left behind (%v)", r.c.Path(), err)
	}
}

func TestNilHookAndNoController(t *testing.T) {
	var h *Hook
	if e := h.Do(OpRename, "a", "b", 1, func() syscall.Errno { return syscall.EXDEV }); e != syscall.EXDEV {
		t.Fatalf("nil hook: %v", e)
	}
	h, err := NewHook(HookConfig{Socket: filepath.Join(t.TempDir(), "none.sock")})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if e := h.Do(OpRename, "a", "b", 1, func() syscall.Errno { return 0 }); e != 0 || h.Connected() {
		t.Fatalf("no controller: %v, connected %v", e, h.Connected())
	}
}

// TestCallerStates checks the conditions the runner waits for before it
// releases a held call, on a real process.
func TestCallerStates(t *testing.T) {
	cmd := exec.Command("sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Skipf("no sleep binary: %v", err)
	}
	pid := cmd.Process.Pid
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() { _ = cmd.Process.Kill(); <-exited })
	if Doomed(pid, pid) || Stopping(pid, pid) {
		t.Fatal("a sleeping process counts as doomed or stopping")
	}
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "stopping after SIGSTOP", func() bool { return Stopping(pid, pid) })
	_ = syscall.Kill(pid, syscall.SIGCONT)
	waitFor(t, "running after SIGCONT", func() bool { return !Stopping(pid, pid) })
	_ = cmd.Process.Kill()
	<-exited
	if !Doomed(pid, pid) {
		t.Fatal("a reaped process is not doomed")
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not %s within 5s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
