package nfsfuse_test

import (
	"context"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/rwxchaos/rwxchaos/framework/nfs4"
)

func slow(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("SKIPPED in -short: waits for the NFSv4 lease or grace period (10 s each)")
	}
}

// A client frozen (SIGSTOP of its mount process) past the lease loses its
// lock to the other client within lease + ganesha's reaper, and after
// SIGCONT gets EIO on that open file and lock, never a silent success; new
// opens work again with a fresh client ID.
func TestFrozenClientLosesLockAndGetsEIO(t *testing.T) {
	slow(t)
	srv := startServer(t)
	a := startMount(t, srv, "node-a", "--timeo", "3s")
	b := startMount(t, srv, "node-b", "--timeo", "3s")
	la := startLocker(t, "a")
	lb := startLocker(t, "b")
	la.must("open " + a.path("engine.lock"))
	la.must("flock-nb")
	la.must("write held-by-a")
	lb.must("open " + b.path("engine.lock"))
	if r := lb.do("flock-nb", 10*time.Second); r.err != "EAGAIN" {
		t.Fatalf("lock of the other client while held: %s, want EAGAIN", r)
	}
	before := a.clientStats()

	a.signal(syscall.SIGSTOP)
	frozen := time.Now()
	// The stats file is at most a second old: its last renewal is no
	// later than the real one, so the bound below is never too strict.
	renewed := a.clientStats().LastRenewal
	lb.send("flock")
	r := watchReply(lb).wait(t, srv.Lease()+30*time.Second, "lock of the other client while the holder is frozen")
	if !r.ok {
		t.Fatalf("other client's blocking flock: %s", r)
	}
	took := r.at.Sub(frozen)
	t.Logf("MEASURED: frozen holder lost its lock to the other client %s after SIGSTOP, %s after its last renewal (lease %s)",
		took.Round(100*time.Millisecond), r.at.Sub(renewed).Round(100*time.Millisecond), srv.Lease())
	if renewed.IsZero() || r.at.Before(renewed.Add(srv.Lease()-leaseSlack)) {
		t.Fatalf("lock moved %s after the holder's last renewal (%s), before its lease (%s) ran out: two holders", r.at.Sub(renewed), renewed, srv.Lease())
	}
	if took > srv.Lease()+15*time.Second {
		t.Errorf("lock moved only after %s: more than lease + reaper", took)
	}
	lb.must("write held-by-b")
	lb.must("fsync")

	a.signal(syscall.SIGCONT)
	// Everything on the old open file fails with EIO now; nothing succeeds.
	for _, cmd := range []string{"write a-after-freeze", "read", "fsync", "flock-nb"} {
		r := la.do(cmd, 60*time.Second)
		if r.ok {
			t.Fatalf("revived client: %q succeeded (%s): silent success under a lost lock", cmd, r)
		}
		if r.err != "EIO" {
			t.Fatalf("revived client: %q: %s, want EIO", cmd, r)
		}
		t.Logf("revived client: %s -> %s", cmd, r.err)
	}
	after := a.waitStats(10*time.Second, "the loss in the stats", func(s nfs4.Stats) bool { return s.LostLocks >= 1 })
	if after.ClientID == before.ClientID {
		t.Fatalf("client ID unchanged after the loss: %s", after.ClientID)
	}
	t.Logf("revived client: client ID %s -> %s, stats %+v", before.ClientID, after.ClientID, after)
	// New opens work with the fresh client ID and see the other client's data.
	data, err := os.ReadFile(a.path("engine.lock"))
	if err != nil || string(data) != "held-by-b" {
		t.Fatalf("new open on the revived client: %q %v", data, err)
	}
	if err := os.WriteFile(a.path("after"), []byte("ok"), 0o644); err != nil {
		t.Fatalf("new file on the revived client: %v", err)
	}
	// Its lock is still the other client's.
	la2 := startLocker(t, "a2")
	la2.must("open " + a.path("engine.lock"))
	if r := la2.do("flock-nb", 10*time.Second); r.err != "EAGAIN" {
		t.Fatalf("new lock attempt on the revived client: %s, want EAGAIN (the other client holds it)", r)
	}
	la.do("close", 10*time.Second)
}

// A client killed (SIGKILL of its mount process, like docker kill of its
// node) leaves its lock held until the server's lease runs out.
func TestKilledClientLockFreeAfterLease(t *testing.T) {
	slow(t)
	srv := startServer(t)
	a := startMount(t, srv, "node-a")
	b := startMount(t, srv, "node-b")
	la := startLocker(t, "a")
	lb := startLocker(t, "b")
	la.must("open " + a.path("engine.lock"))
	la.must("fcntl-nb")
	lb.must("open " + b.path("engine.lock"))
	renewed := a.clientStats().LastRenewal
	a.signal(syscall.SIGKILL)
	killed := time.Now()
	<-a.exited
	lb.send("fcntl")
	r := watchReply(lb).wait(t, srv.Lease()+30*time.Second, "lock after the holder's client was killed")
	if !r.ok {
		t.Fatalf("blocking lock after the kill: %s", r)
	}
	took := r.at.Sub(killed)
	t.Logf("MEASURED: lock of a killed client free %s after the kill, %s after its last renewal (lease %s)",
		took.Round(100*time.Millisecond), r.at.Sub(renewed).Round(100*time.Millisecond), srv.Lease())
	if renewed.IsZero() || r.at.Before(renewed.Add(srv.Lease()-leaseSlack)) {
		t.Fatalf("lock free %s after the killed holder's last renewal: before its lease (%s) ran out", r.at.Sub(renewed), srv.Lease())
	}
	if took > srv.Lease()+15*time.Second {
		t.Errorf("lock free only %s after the kill: more than lease + reaper", took)
	}
	// The dead mount answers ENOTCONN, never stale local data.
	if r := la.do("read", 10*time.Second); r.ok || r.err != "ENOTCONN" {
		t.Errorf("process on the killed client's mount: %s, want ENOTCONN", r)
	}
}

// A server paused for less than the lease keeps every lock; callers hang
// while it is paused and complete after.
func TestServerPausedUnderLeaseLocksSurvive(t *testing.T) {
	slow(t)
	srv := startServer(t)
	// A short call timeout makes the client reconnect and resend during
	// the pause: the session replay cache must keep that safe.
	a := startMount(t, srv, "node-a", "--timeo", "2s")
	b := startMount(t, srv, "node-b", "--timeo", "2s")
	la := startLocker(t, "a")
	lb := startLocker(t, "b")
	la.must("open " + a.path("engine.lock"))
	la.must("fcntl-nb")
	lb.must("open " + b.path("engine.lock"))

	if err := srv.Pause(); err != nil {
		t.Fatal(err)
	}
	paused := time.Now()
	resumed := false
	t.Cleanup(func() {
		if !resumed {
			_ = srv.Resume()
		}
	})
	la.send("write during-pause")
	w := watchReply(la)
	pause := srv.Lease() / 2
	time.Sleep(pause)
	if r := w.peek(); r != nil {
		t.Fatalf("write returned %s while the server was paused", r)
	}
	if err := srv.Resume(); err != nil {
		t.Fatal(err)
	}
	resumed = true
	r := w.wait(t, 60*time.Second, "write after the server resumed")
	if !r.ok {
		t.Fatalf("write after resume: %s", r)
	}
	t.Logf("MEASURED: write issued during a %s server pause completed %s after the pause began", pause, r.at.Sub(paused).Round(10*time.Millisecond))
	if r := lb.do("fcntl-nb", 30*time.Second); r.err != "EAGAIN" {
		t.Fatalf("other client's lock after a pause under the lease: %s, want EAGAIN (lock kept); its client: %+v", r, b.clientStats())
	}
	la.must("fsync")
	la.must("write still-mine")
	st := a.clientStats()
	if st.LostLocks != 0 || st.LostOpens != 0 || st.ClientIDs != 1 {
		t.Fatalf("holder lost state in a pause under the lease: %+v", st)
	}
	t.Logf("holder's client after the pause: %+v", st)
}

// A restarted server enters its grace period (measured); the holder
// reclaims its open and lock, the other client never holds the lock at the
// same time, and new opens wait for the end of grace.
func TestServerRestartGraceReclaimNeverTwoHolders(t *testing.T) {
	slow(t)
	srv := startServer(t)
	a := startMount(t, srv, "node-a", "--timeo", "3s")
	b := startMount(t, srv, "node-b", "--timeo", "3s")
	la := startLocker(t, "a")
	lb := startLocker(t, "b")
	la.must("open " + a.path("engine.lock"))
	la.must("flock-nb")
	lb.must("open " + b.path("engine.lock"))
	lb.send("flock") // a waiter, polling through the restart
	waiter := watchReply(lb)

	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	restarted := time.Now()
	// A third client measures the grace period: its first OPEN is refused
	// (NFS4ERR_GRACE) until grace ends.
	probe, err := nfs4.Dial(context.Background(), nfs4.Config{Server: srv.Addr(), Export: "/export", Name: "grace-probe", CallTimeout: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer probe.Close(context.Background())
	f, _, _, err := probe.Create(context.Background(), nfs4.Root, probe.Root(), "probe", nfs4.CreateUnchecked, nil, nfs4.AccessReadWrite)
	if err != nil {
		t.Fatal(err)
	}
	grace := time.Since(restarted)
	f.Close()
	t.Logf("MEASURED: grace period observed after the restart: new OPENs refused for %s (configured %s; ganesha ends it early once every known client sent RECLAIM_COMPLETE); probe grace retries %d",
		grace.Round(100*time.Millisecond), srv.Grace(), probe.Stats().GraceWaits)
	if probe.Stats().GraceWaits == 0 {
		t.Errorf("the probe never saw NFS4ERR_GRACE: no grace period after the restart")
	}
	st := a.waitStats(30*time.Second, "the holder's recovery", func(s nfs4.Stats) bool { return s.ReclaimedLocks+s.LostLocks >= 1 })
	t.Logf("holder after the restart: %+v", st)
	if st.ReclaimedLocks >= 1 {
		// Reclaimed: the holder keeps working, the waiter keeps waiting.
		la.must("write after-restart")
		la.must("fsync")
		time.Sleep(2 * time.Second)
		if r := waiter.peek(); r != nil {
			t.Fatalf("the other client got the lock (%s) while the holder still holds it: two holders", r)
		}
		released := la.must("flock-un").at
		r := waiter.wait(t, 20*time.Second, "waiter after the holder released")
		if !r.ok || r.at.Before(released) {
			t.Fatalf("waiter: %s at %s, holder released at %s", r, r.at, released)
		}
		t.Logf("holder reclaimed its lock; the waiter got it %s after the holder released it", r.at.Sub(released).Round(time.Millisecond))
	} else {
		// Not reclaimed: the holder must see EIO, never success.
		if r := la.do("write after-restart", 30*time.Second); r.ok || r.err != "EIO" {
			t.Fatalf("holder whose reclaim failed: write %s, want EIO", r)
		}
		t.Logf("holder's reclaim failed: EIO, as it must")
	}
}

// With --recover-lost-locks (Linux nfs.recover_lost_locks=1) a client
// frozen past the lease silently takes its lock back after SIGCONT,
// although the other client held it (and wrote) meanwhile: the silent
// split brain this mode trades for fewer crashes.
func TestRecoverLostLocksSilentSplitBrain(t *testing.T) {
	slow(t)
	srv := startServer(t)
	a := startMount(t, srv, "node-a", "--timeo", "3s", "--recover-lost-locks")
	b := startMount(t, srv, "node-b", "--timeo", "3s")
	la := startLocker(t, "a")
	lb := startLocker(t, "b")
	la.must("open " + a.path("engine.lock"))
	la.must("fcntl-nb")
	lb.must("open " + b.path("engine.lock"))

	a.signal(syscall.SIGSTOP)
	frozen := time.Now()
	renewed := a.clientStats().LastRenewal
	lb.send("fcntl")
	r := watchReply(lb).wait(t, srv.Lease()+30*time.Second, "other client's lock")
	if !r.ok {
		t.Fatalf("other client's blocking lock: %s", r)
	}
	bGot := r.at
	if renewed.IsZero() || bGot.Before(renewed.Add(srv.Lease()-leaseSlack)) {
		t.Fatalf("lock moved %s after the holder's last renewal: before its lease ran out", bGot.Sub(renewed))
	}
	lb.must("write b-wrote-this")
	lb.must("fsync")
	bReleased := lb.must("fcntl-un").at
	a.signal(syscall.SIGCONT)

	// The revived client carries on as if nothing happened.
	if r := la.do("write a-overwrites", 60*time.Second); !r.ok {
		t.Fatalf("revived client with --recover-lost-locks: write %s, want silent success", r)
	}
	st := a.waitStats(20*time.Second, "the silent re-take", func(s nfs4.Stats) bool { return s.RecoveredLocks >= 1 })
	if r := lb.do("fcntl-nb", 10*time.Second); r.err != "EAGAIN" {
		t.Fatalf("other client after the re-take: %s, want EAGAIN", r)
	}
	t.Logf("SPLIT BRAIN SHOWN: client A froze at %s holding the lock; client B held it from %s to %s and wrote; A resumed and re-took it silently (no error to the app): %+v",
		frozen.Format("15:04:05.000"), bGot.Format("15:04:05.000"), bReleased.Format("15:04:05.000"), st)
}
