package nfsfuse_test

import (
	"context"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Two clients (two mount processes) exclude each other's flock and POSIX
// locks, taken by different processes through the FUSE mounts; so do two
// processes on one client; closing the file releases the lock; a blocked
// waiter gets it soon after; an interrupted waiter returns EINTR.
func TestTwoClientsExcludeFlockAndPOSIXLocks(t *testing.T) {
	srv := startServer(t)
	a := startMount(t, srv, "node-a")
	b := startMount(t, srv, "node-b")
	for _, kind := range []string{"flock", "fcntl"} {
		t.Run(kind, func(t *testing.T) {
			file := "lock-" + kind
			la := startLocker(t, "a1")
			la2 := startLocker(t, "a2")
			lb := startLocker(t, "b1")
			la.must("open " + a.path(file))
			la2.must("open " + a.path(file))
			lb.must("open " + b.path(file))

			la.must(kind + "-nb")
			if r := lb.do(kind+"-nb", 10*time.Second); r.ok || r.err != "EAGAIN" {
				t.Fatalf("other client's %s while held: %s, want EAGAIN", kind, r)
			}
			if r := la2.do(kind+"-nb", 10*time.Second); r.ok || r.err != "EAGAIN" {
				t.Fatalf("other process on the same client: %s, want EAGAIN", r)
			}
			if kind == "fcntl" {
				if r := lb.must("getlk"); r.rest == "unlocked" {
					t.Fatalf("F_GETLK on the other client says unlocked")
				}
			}
			// A blocked waiter on the other client...
			lb.send(kind)
			w := watchReply(lb)
			time.Sleep(500 * time.Millisecond)
			if r := w.peek(); r != nil {
				t.Fatalf("blocking %s returned %s while the lock is held", kind, r)
			}
			// ...gets it soon after the holder closes its file (flock:
			// RELEASE; POSIX: FLUSH with the owner).
			closed := la.must("close").at
			r := w.wait(t, 10*time.Second, "blocked waiter after the holder closed")
			if !r.ok {
				t.Fatalf("blocked waiter: %s", r)
			}
			t.Logf("%s: waiter on the other client granted %s after the holder closed its file", kind, r.at.Sub(closed).Round(time.Millisecond))
			if r := la2.do(kind+"-nb", 10*time.Second); r.ok || r.err != "EAGAIN" {
				t.Fatalf("first client after the second took it: %s, want EAGAIN", r)
			}
			// An interrupted waiter returns EINTR (the FUSE INTERRUPT
			// cancels the poll): flock -w and a Python lockf with an alarm
			// use signal handlers without SA_RESTART (Go restarts its
			// locking calls, so the helper cannot show this).
			interrupted(t, kind, a.path(file))
			// A waiter killed while it waits must not get the lock later
			// (its poll is cancelled, not left running for a dead owner).
			lb2 := startLocker(t, "b2")
			lb2.must("open " + b.path(file))
			lb2.send(kind)
			time.Sleep(300 * time.Millisecond)
			_ = syscall.Kill(-lb2.cmd.Process.Pid, syscall.SIGKILL)
			<-lb2.done
			lb.must(kind + "-un")
			time.Sleep(2 * time.Second) // a leaked poll would have taken it by now
			la2.must(kind + "-nb")
			la2.must("close")
			// FUSE releases a flock on RELEASE, which the kernel sends
			// after close(2) returned (the kernel NFS client releases it
			// inside close): allow it a moment.
			deadline := time.Now().Add(5 * time.Second)
			for r := lb.do(kind+"-nb", 10*time.Second); !r.ok; r = lb.do(kind+"-nb", 10*time.Second) {
				if r.err != "EAGAIN" || time.Now().After(deadline) {
					t.Fatalf("lock after the holder closed: %s", r)
				}
				time.Sleep(20 * time.Millisecond)
			}
			lb.must("close")
		})
	}
	// Clean unmount (SIGTERM) while a process on it holds a lock: the
	// mount process gives back its state (DESTROY_CLIENTID) and exits 0;
	// the other client gets the lock at once, not after the lease.
	la := startLocker(t, "a-last")
	lb := startLocker(t, "b-last")
	la.must("open " + a.path("last"))
	la.must("fcntl-nb")
	lb.must("open " + b.path("last"))
	if r := lb.do("fcntl-nb", 10*time.Second); r.err != "EAGAIN" {
		t.Fatalf("lock while held: %s", r)
	}
	stopped := time.Now()
	if code := a.terminate(); code != 0 {
		t.Fatalf("mount exit status %d after SIGTERM:\n%s", code, a.logText())
	}
	lb.send("fcntl")
	r := watchReply(lb).wait(t, 30*time.Second, "lock after the holder's client unmounted")
	if !r.ok {
		t.Fatalf("lock after the other client unmounted: %s", r)
	}
	if took := r.at.Sub(stopped); took > srv.Lease()/2 {
		t.Fatalf("lock free %s after a clean unmount: the client did not give back its state", took)
	} else {
		t.Logf("lock free %s after the holder's client unmounted cleanly (lease %s)", took.Round(time.Millisecond), srv.Lease())
	}
	if r := la.do("read", 10*time.Second); r.ok {
		t.Fatalf("process on the unmounted client still reads: %s", r)
	}
}

// interrupted shows that a blocked lock request on the FUSE mount returns
// EINTR when its process gets a signal whose handler does not restart
// system calls.
func interrupted(t *testing.T, kind, path string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var cmd *exec.Cmd
	switch kind {
	case "flock":
		if _, err := exec.LookPath("flock"); err != nil {
			t.Log("SKIPPED the EINTR check: util-linux flock is not installed")
			return
		}
		cmd = exec.CommandContext(ctx, "flock", "-w", "1", path, "true")
	default:
		if _, err := exec.LookPath("python3"); err != nil {
			t.Log("SKIPPED the EINTR check: python3 is not installed")
			return
		}
		cmd = exec.CommandContext(ctx, "python3", "-c", `
import fcntl, signal, sys
def h(s, f): raise TimeoutError()
signal.signal(signal.SIGALRM, h)
fd = open(sys.argv[1], "r+")
signal.alarm(1)
try:
    fcntl.lockf(fd, fcntl.LOCK_EX)
    print("locked")
except TimeoutError:
    print("interrupted")
`, path)
	}
	start := time.Now()
	out, err := cmd.CombinedOutput()
	took := time.Since(start)
	if ctx.Err() != nil {
		t.Fatalf("%s waiter with a 1 s alarm still blocked after 20 s: the interrupt did not cancel the lock poll", kind)
	}
	switch kind {
	case "flock":
		if err == nil {
			t.Fatalf("flock -w 1 got the lock while another client holds it")
		}
	default:
		if strings.TrimSpace(string(out)) != "interrupted" {
			t.Fatalf("python lockf with alarm: %q %v, want interrupted", out, err)
		}
	}
	t.Logf("%s: blocked waiter interrupted by its 1 s alarm after %s", kind, took.Round(time.Millisecond))
}
