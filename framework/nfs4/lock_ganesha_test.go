package nfs4_test

import (
	"context"
	"errors"
	"net"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rwxchaos/rwxchaos/framework/nfs4"
	"github.com/rwxchaos/rwxchaos/framework/nfs4/internal/ganeshatest"
)

// leaseSlack: ganesha may expire a lease up to a second early.
const leaseSlack = ganeshatest.LeaseSlack

// partition cuts a client off from the server like iptables DROP would:
// while it is on, connections neither deliver nor fail and new ones do
// not connect.
type partition struct {
	mu    sync.Mutex
	on    bool
	heal  chan struct{}
	conns []net.Conn
}

func newPartition() *partition { return &partition{heal: make(chan struct{})} }

func (p *partition) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.on = true
	p.heal = make(chan struct{})
}

func (p *partition) restore() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.on {
		p.on = false
		close(p.heal)
	}
}

func (p *partition) wait() {
	p.mu.Lock()
	on, ch := p.on, p.heal
	p.mu.Unlock()
	if on {
		<-ch
	}
}

func (p *partition) dial(ctx context.Context, addr string) (net.Conn, error) {
	p.mu.Lock()
	on, ch := p.on, p.heal
	p.mu.Unlock()
	if on {
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	return &gatedConn{Conn: c, p: p}, nil
}

type gatedConn struct {
	net.Conn
	p *partition
}

func (g *gatedConn) Read(b []byte) (int, error) {
	n, err := g.Conn.Read(b)
	g.p.wait() // a reply that arrives during the cut is held back
	return n, err
}

func (g *gatedConn) Write(b []byte) (int, error) {
	g.p.wait()
	return g.Conn.Write(b)
}

func TestGaneshaLocksExcludeAcrossClients(t *testing.T) {
	srv := ganeshatest.Start(t, ganeshatest.Config{})
	a := dial(t, srv, "a", nil)
	b := dial(t, srv, "b", nil)
	ctx := context.Background()
	fa, fh, _, err := a.Create(ctx, nfs4.Root, a.Root(), "lock", nfs4.CreateUnchecked, nil, nfs4.AccessReadWrite)
	if err != nil {
		t.Fatal(err)
	}
	defer fa.Close()
	fb, _, err := b.Open(ctx, nfs4.Root, fh, nfs4.AccessReadWrite)
	if err != nil {
		t.Fatal(err)
	}
	defer fb.Close()

	if err := fa.Lock(ctx, 1, true, 0, nfs4.ToEOF, false); err != nil {
		t.Fatal(err)
	}
	err = fb.Lock(ctx, 7, true, 0, nfs4.ToEOF, false)
	if !errors.Is(err, syscall.EAGAIN) {
		t.Fatalf("second client's write lock: %v, want EAGAIN", err)
	}
	// Twice: a denied LOCK must not break the next one (seqid/owner state).
	if err := fb.Lock(ctx, 7, false, 10, 5, false); !errors.Is(err, syscall.EAGAIN) {
		t.Fatalf("second client's read lock: %v, want EAGAIN", err)
	}
	if c, err := fb.TestLock(ctx, 7, true, 100, 1); err != nil || c == nil || !c.Write {
		t.Fatalf("LOCKT: %+v %v, want a write conflict", c, err)
	}
	// The same client, another owner: excluded too (POSIX locks of two processes).
	if err := fa.Lock(ctx, 2, false, 0, 1, false); !errors.Is(err, syscall.EAGAIN) {
		t.Fatalf("same client, other owner: %v, want EAGAIN", err)
	}
	// Same owner: relocking and upgrading its own lock works.
	if err := fa.Lock(ctx, 1, false, 0, 100, false); err != nil {
		t.Fatalf("same owner downgrade part: %v", err)
	}
	if err := fa.Lock(ctx, 1, true, 0, nfs4.ToEOF, false); err != nil {
		t.Fatalf("same owner upgrade: %v", err)
	}

	got := make(chan error, 1)
	start := time.Now()
	go func() { got <- fb.Lock(ctx, 7, true, 0, nfs4.ToEOF, true) }()
	select {
	case err := <-got:
		t.Fatalf("blocking lock returned %v while the other client holds it", err)
	case <-time.After(500 * time.Millisecond):
	}
	if err := fa.ReleaseOwner(ctx, 1); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-got:
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("blocking lock granted %s after the holder released", time.Since(start).Round(time.Millisecond))
	case <-time.After(5 * time.Second):
		t.Fatal("blocking lock not granted 4.5 s after release")
	}
	if err := fa.Lock(ctx, 1, false, 0, 1, false); !errors.Is(err, syscall.EAGAIN) {
		t.Fatalf("first client after the second took it: %v, want EAGAIN", err)
	}
	// Cancelling a blocked waiter returns at once.
	cctx, cancel := context.WithCancel(ctx)
	go func() { time.Sleep(300 * time.Millisecond); cancel() }()
	if err := fa.Lock(cctx, 1, true, 0, nfs4.ToEOF, true); !errors.Is(err, context.Canceled) || nfs4.Errno(err) != syscall.EINTR {
		t.Fatalf("cancelled waiter: %v, want context.Canceled (EINTR)", err)
	}
}

// A client cut off past its lease loses its lock to the other client and
// then gets EIO on the open file, never a silent success; new opens work.
func TestGaneshaPartitionedClientLosesLockAndGetsEIO(t *testing.T) {
	if testing.Short() {
		t.Skip("SKIPPED in -short: waits past a 10 s lease")
	}
	srv := ganeshatest.Start(t, ganeshatest.Config{})
	p := newPartition()
	t.Cleanup(p.restore)
	a := dial(t, srv, "a", func(c *nfs4.Config) { c.Dial = p.dial; c.CallTimeout = 3 * time.Second })
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
	cut := time.Now()
	lctx, cancel := context.WithTimeout(ctx, srv.Lease()+20*time.Second)
	defer cancel()
	if err := fb.Lock(lctx, 9, true, 0, nfs4.ToEOF, true); err != nil {
		t.Fatalf("other client never got the lock: %v", err)
	}
	granted := time.Now()
	renewed := a.Stats().LastRenewal
	t.Logf("lock of the cut-off client granted to the other %s after the cut, %s after its last renewal (lease %s)",
		granted.Sub(cut).Round(100*time.Millisecond), granted.Sub(renewed).Round(100*time.Millisecond), srv.Lease())
	if granted.Before(renewed.Add(srv.Lease() - leaseSlack)) {
		t.Fatalf("lock granted %s after the holder's last renewal, before its lease (%s) ran out: two holders", granted.Sub(renewed), srv.Lease())
	}
	if _, err := fb.WriteAt(ctx, []byte("B was here"), 0); err != nil {
		t.Fatal(err)
	}
	p.restore()
	// Every operation on the old open file fails with EIO from now on.
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err := fa.WriteAt(ctx, []byte("A"), 0)
		if err == nil {
			t.Fatal("write under the lost lock succeeded")
		}
		if errors.Is(err, nfs4.ErrStateLost) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("write after heal: %v, want ErrStateLost", err)
		}
		t.Logf("write after heal: %v", err)
	}
	if nfs4.Errno(fa.Lock(ctx, 1, true, 0, nfs4.ToEOF, false)) != syscall.EIO {
		t.Fatal("lock on the lost file is not EIO")
	}
	if _, err := fa.ReadAt(ctx, make([]byte, 4), 0); nfs4.Errno(err) != syscall.EIO {
		t.Fatalf("read on the lost file: %v, want EIO", err)
	}
	if err := fa.Sync(ctx); nfs4.Errno(err) != syscall.EIO {
		t.Fatalf("sync on the lost file: %v, want EIO", err)
	}
	// New opens work with the new client ID.
	f2, _, err := a.Open(ctx, nfs4.Root, fh, nfs4.AccessRead)
	if err != nil {
		t.Fatalf("new open after the loss: %v", err)
	}
	buf := make([]byte, 10)
	if n, _ := f2.ReadAt(ctx, buf, 0); string(buf[:n]) != "B was here" {
		t.Fatalf("new open reads %q", buf[:n])
	}
	f2.Close()
	st := a.Stats()
	t.Logf("stats of the cut-off client: %+v", st)
	if st.ClientIDs < 2 || st.LostOpens < 1 || st.LostLocks < 1 {
		t.Fatalf("stats do not show the loss: %+v", st)
	}
}
