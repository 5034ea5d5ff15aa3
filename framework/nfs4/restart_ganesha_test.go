package nfs4_test

import (
	"context"
	"errors"
	"syscall"
	"testing"
	"time"

	"github.com/rwxchaos/rwxchaos/framework/nfs4"
	"github.com/rwxchaos/rwxchaos/framework/nfs4/internal/ganeshatest"
)

// waitFor polls cond every 100 ms until it holds or d passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// After a server restart the lock holder reclaims its open and lock in
// the grace period; nobody else gets the lock; unstable writes the server
// lost are written again.
func TestGaneshaRestartGraceReclaim(t *testing.T) {
	if testing.Short() {
		t.Skip("SKIPPED in -short: waits out a 10 s grace period")
	}
	srv := ganeshatest.Start(t, ganeshatest.Config{})
	a := dial(t, srv, "a", func(c *nfs4.Config) { c.CallTimeout = 3 * time.Second })
	b := dial(t, srv, "b", func(c *nfs4.Config) { c.CallTimeout = 3 * time.Second })
	ctx := context.Background()
	fa, fh, _, err := a.Create(ctx, nfs4.Root, a.Root(), "lock", nfs4.CreateUnchecked, nil, nfs4.AccessReadWrite)
	if err != nil {
		t.Fatal(err)
	}
	defer fa.Close()
	if err := fa.Lock(ctx, 1, true, 0, nfs4.ToEOF, false); err != nil {
		t.Fatal(err)
	}
	if _, err := fa.WriteAt(ctx, []byte("before restart"), 0); err != nil {
		t.Fatal(err)
	}
	fb, _, err := b.Open(ctx, nfs4.Root, fh, nfs4.AccessReadWrite)
	if err != nil {
		t.Fatal(err)
	}
	defer fb.Close()

	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	restarted := time.Now()
	// A brand-new client measures the grace period: its first OPEN is
	// refused with NFS4ERR_GRACE until the grace period ends.
	graceDone := make(chan time.Duration, 1)
	go func() {
		c := dial(t, srv, "probe", nil)
		f, _, _, err := c.Create(ctx, nfs4.Root, c.Root(), "probe", nfs4.CreateUnchecked, nil, nfs4.AccessReadWrite)
		if err != nil {
			t.Error(err)
			graceDone <- 0
			return
		}
		graceDone <- time.Since(restarted)
		t.Logf("probe: grace waits %d", c.Stats().GraceWaits)
		f.Close()
	}()
	waitFor(t, 20*time.Second, "the holder to reclaim its lock", func() bool { return a.Stats().ReclaimedLocks >= 1 })
	t.Logf("holder reclaimed %s after the restart: %+v", time.Since(restarted).Round(100*time.Millisecond), a.Stats())
	// The other client can never take the lock, in grace or after it.
	if err := fb.Lock(ctx, 9, true, 0, nfs4.ToEOF, false); !errors.Is(err, syscall.EAGAIN) {
		t.Fatalf("other client's lock after the restart: %v, want EAGAIN", err)
	}
	g := <-graceDone
	t.Logf("grace period observed: new OPENs refused for %s after the restart (configured %s)", g.Round(100*time.Millisecond), srv.Grace())
	// ganesha lifts grace early once every client it remembers has sent
	// RECLAIM_COMPLETE (its reaper checks every few seconds), so the
	// observed grace lies between 0 and the configured one.
	if g <= 0 || g > srv.Grace()+5*time.Second {
		t.Errorf("grace period observed %s, configured %s", g, srv.Grace())
	}
	if err := fb.Lock(ctx, 9, true, 0, nfs4.ToEOF, false); !errors.Is(err, syscall.EAGAIN) {
		t.Fatalf("other client's lock after the grace period: %v, want EAGAIN", err)
	}
	if _, err := fa.WriteAt(ctx, []byte("after restart!"), 0); err != nil {
		t.Fatalf("holder's write after reclaim: %v", err)
	}
	if err := fa.Sync(ctx); err != nil {
		t.Fatalf("holder's sync after reclaim: %v", err)
	}
	buf := make([]byte, 14)
	if n, _ := fb.ReadAt(ctx, buf, 0); string(buf[:n]) != "after restart!" {
		t.Fatalf("other client reads %q", buf[:n])
	}
}

// With RecoverLostLocks a client cut off past its lease silently takes its
// lock back on heal, although the other client held it meanwhile: the
// silent split brain of Linux's nfs.recover_lost_locks=1.
func TestGaneshaRecoverLostLocksSilentlyRetakes(t *testing.T) {
	if testing.Short() {
		t.Skip("SKIPPED in -short: waits past a 10 s lease")
	}
	srv := ganeshatest.Start(t, ganeshatest.Config{})
	p := newPartition()
	t.Cleanup(p.restore)
	a := dial(t, srv, "a", func(c *nfs4.Config) { c.Dial = p.dial; c.CallTimeout = 3 * time.Second; c.RecoverLostLocks = true })
	b := dial(t, srv, "b", nil)
	ctx := context.Background()
	fa, fh, _, err := a.Create(ctx, nfs4.Root, a.Root(), "lock", nfs4.CreateUnchecked, nil, nfs4.AccessReadWrite)
	if err != nil {
		t.Fatal(err)
	}
	defer fa.Close()
	if err := fa.Lock(ctx, 1, true, 0, nfs4.ToEOF, false); err != nil {
		t.Fatal(err)
	}
	fb, _, err := b.Open(ctx, nfs4.Root, fh, nfs4.AccessReadWrite)
	if err != nil {
		t.Fatal(err)
	}
	defer fb.Close()
	p.cut()
	lctx, cancel := context.WithTimeout(ctx, srv.Lease()+20*time.Second)
	defer cancel()
	if err := fb.Lock(lctx, 9, true, 0, nfs4.ToEOF, true); err != nil {
		t.Fatalf("other client never got the lock: %v", err)
	}
	heldByB := time.Now()
	if _, err := fb.WriteAt(ctx, []byte("B"), 0); err != nil {
		t.Fatal(err)
	}
	if err := fb.ReleaseOwner(ctx, 9); err != nil {
		t.Fatal(err)
	}
	p.restore()
	// A carries on as if nothing happened.
	if _, err := fa.WriteAt(ctx, []byte("A"), 1); err != nil {
		t.Fatalf("write of the recovering client: %v (want silent success)", err)
	}
	waitFor(t, 20*time.Second, "the lock to be re-taken", func() bool { return a.Stats().RecoveredLocks >= 1 })
	if err := fb.Lock(ctx, 9, true, 0, nfs4.ToEOF, false); !errors.Is(err, syscall.EAGAIN) {
		t.Fatalf("other client can lock after the silent re-take: %v", err)
	}
	t.Logf("split brain shown: the other client held the lock at %s, the first client re-took it silently: %+v",
		heldByB.Format(time.TimeOnly), a.Stats())
}

// A server that is down for longer than the lease (storage killed, then
// started again) could not expire anyone meanwhile: the lock holder
// reclaims its lock in the grace period, as Linux does.
func TestGaneshaDownPastLeaseStillReclaims(t *testing.T) {
	if testing.Short() {
		t.Skip("SKIPPED in -short: keeps the server down past a 10 s lease")
	}
	srv := ganeshatest.Start(t, ganeshatest.Config{})
	a := dial(t, srv, "a", func(c *nfs4.Config) { c.CallTimeout = 3 * time.Second })
	ctx := context.Background()
	fa, fh, _, err := a.Create(ctx, nfs4.Root, a.Root(), "lock", nfs4.CreateUnchecked, nil, nfs4.AccessReadWrite)
	if err != nil {
		t.Fatal(err)
	}
	defer fa.Close()
	if err := fa.Lock(ctx, 1, true, 0, nfs4.ToEOF, false); err != nil {
		t.Fatal(err)
	}
	srv.Kill()
	time.Sleep(srv.Lease() + 3*time.Second) // the outage itself, not a synchronisation
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "the holder to reclaim", func() bool { st := a.Stats(); return st.ReclaimedLocks+st.LostLocks >= 1 })
	if st := a.Stats(); st.ReclaimedLocks != 1 || st.LostLocks != 0 {
		t.Fatalf("after an outage past the lease: %+v, want the lock reclaimed", st)
	}
	b := dial(t, srv, "b", nil)
	fb, _, err := b.Open(ctx, nfs4.Root, fh, nfs4.AccessReadWrite)
	if err != nil {
		t.Fatal(err)
	}
	defer fb.Close()
	if err := fb.Lock(ctx, 9, true, 0, nfs4.ToEOF, false); !errors.Is(err, syscall.EAGAIN) {
		t.Fatalf("other client after the outage: %v, want EAGAIN", err)
	}
	if _, err := fa.WriteAt(ctx, []byte("still mine"), 0); err != nil {
		t.Fatalf("holder's write after the outage: %v", err)
	}
}
