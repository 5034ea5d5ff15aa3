package nfs4

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// transport is the client's TCP connection to the server with hard-mount
// semantics: roundTrip resends a call until it is answered, reconnecting
// whenever the connection breaks or a reply does not come within the call
// timeout. After a timeout the connection is dropped and the call resent
// on a new one: NFSv4.1 forbids resending on the same connection (RFC 8881
// section 2.9.2), and the session's slot replay cache makes the resend
// safe.
type transport struct {
	addr    string
	dial    func(ctx context.Context, addr string) (net.Conn, error)
	timeout time.Duration
	logf    func(string, ...any)
	st      *counters
	stop    <-chan struct{}

	xid atomic.Uint32

	mu      sync.Mutex
	cur     *conn
	dialing chan struct{} // closed when the dial in progress ends
	lastErr error
	// warned is set once "not responding" was logged; cleared (and "OK"
	// logged) when a reply arrives again, like the kernel's messages.
	warned atomic.Bool
}

type conn struct {
	nc      net.Conn
	wmu     sync.Mutex
	mu      sync.Mutex
	pending map[uint32]chan []byte
	dead    chan struct{}
	err     error
}

func newTransport(addr string, dial func(context.Context, string) (net.Conn, error), timeout time.Duration, logf func(string, ...any), st *counters, stop <-chan struct{}) *transport {
	t := &transport{addr: addr, dial: dial, timeout: timeout, logf: logf, st: st, stop: stop}
	var seed [4]byte
	binary.BigEndian.PutUint32(seed[:], uint32(time.Now().UnixNano()))
	t.xid.Store(binary.BigEndian.Uint32(seed[:]))
	return t
}

func (t *transport) nextXID() uint32 { return t.xid.Add(1) }

// get returns a live connection, dialing (with backoff) if there is none.
// It gives up only when stop is closed or ctx ends.
func (t *transport) get(ctx context.Context) (*conn, error) {
	backoff := 100 * time.Millisecond
	for {
		t.mu.Lock()
		if c := t.cur; c != nil && !c.isDead() {
			t.mu.Unlock()
			return c, nil
		}
		if ch := t.dialing; ch != nil {
			t.mu.Unlock()
			select {
			case <-ch:
				continue
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-t.stop:
				return nil, ErrClosed
			}
		}
		ch := make(chan struct{})
		t.dialing = ch
		hadConn := t.cur != nil
		t.mu.Unlock()

		dctx, cancel := context.WithTimeout(context.Background(), t.timeout)
		go func() {
			select {
			case <-t.stop:
				cancel()
			case <-dctx.Done():
			}
		}()
		nc, err := t.dial(dctx, t.addr)
		cancel()

		t.mu.Lock()
		t.dialing = nil
		close(ch)
		if err == nil {
			c := &conn{nc: nc, pending: map[uint32]chan []byte{}, dead: make(chan struct{})}
			t.cur = c
			t.lastErr = nil
			t.mu.Unlock()
			if hadConn {
				t.st.reconnects.Add(1)
				t.logf("reconnected to %s", t.addr)
			}
			go t.readLoop(c)
			return c, nil
		}
		first := t.lastErr == nil
		t.lastErr = err
		t.mu.Unlock()
		if first {
			t.logf("connect %s: %v (retrying until it answers: hard mount)", t.addr, err)
		}
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-t.stop:
			return nil, ErrClosed
		}
		if backoff *= 2; backoff > 2*time.Second {
			backoff = 2 * time.Second
		}
	}
}

func (c *conn) isDead() bool {
	select {
	case <-c.dead:
		return true
	default:
		return false
	}
}

// fail marks the connection broken and closes it; waiters resend.
func (c *conn) fail(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return
	}
	c.err = err
	close(c.dead)
	_ = c.nc.Close()
}

func (c *conn) register(xid uint32, ch chan []byte) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return false
	}
	c.pending[xid] = ch
	return true
}

func (c *conn) unregister(xid uint32) {
	c.mu.Lock()
	delete(c.pending, xid)
	c.mu.Unlock()
}

func (t *transport) readLoop(c *conn) {
	r := bufio.NewReaderSize(c.nc, 256<<10)
	for {
		rec, err := readRecord(r, maxRecord)
		if err != nil {
			c.fail(fmt.Errorf("read from %s: %w", t.addr, err))
			return
		}
		if len(rec) < 4 {
			continue
		}
		xid := binary.BigEndian.Uint32(rec[:4])
		c.mu.Lock()
		ch := c.pending[xid]
		delete(c.pending, xid)
		c.mu.Unlock()
		if ch != nil {
			ch <- rec // buffered, one reply per registration
		}
	}
}

// write sends one record (its parts are written with one writev).
func (c *conn) write(parts [][]byte, timeout time.Duration) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.nc.SetWriteDeadline(time.Now().Add(timeout))
	bufs := net.Buffers(append([][]byte(nil), parts...))
	_, err := bufs.WriteTo(c.nc)
	return err
}

// roundTrip sends the record (parts, whose first four bytes are the record
// mark and whose next four are xid) and returns the reply. It retries
// forever (hard mount) until a reply arrives or stop is closed (ErrClosed).
func (t *transport) roundTrip(xid uint32, parts [][]byte) ([]byte, error) {
	ctx := context.Background()
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			t.st.retransmits.Add(1)
		}
		c, err := t.get(ctx)
		if err != nil {
			return nil, err
		}
		ch := make(chan []byte, 1)
		if !c.register(xid, ch) {
			continue
		}
		if err := c.write(parts, t.timeout); err != nil {
			c.unregister(xid)
			c.fail(fmt.Errorf("write to %s: %w", t.addr, err))
			continue
		}
		timer := time.NewTimer(t.timeout)
		select {
		case rec := <-ch:
			timer.Stop()
			if t.warned.CompareAndSwap(true, false) {
				t.logf("server %s OK", t.addr)
			}
			return rec, nil
		case <-c.dead:
			timer.Stop()
			c.unregister(xid)
			// A reply that raced with the failure is still good.
			select {
			case rec := <-ch:
				return rec, nil
			default:
			}
		case <-timer.C:
			c.unregister(xid)
			t.st.timeouts.Add(1)
			if t.warned.CompareAndSwap(false, true) {
				t.logf("server %s not responding within %s, still trying (hard mount): reconnecting and resending", t.addr, t.timeout)
			}
			c.fail(errors.New("call timed out"))
		case <-t.stop:
			timer.Stop()
			c.unregister(xid)
			return nil, ErrClosed
		}
	}
}

// close drops the current connection.
func (t *transport) close() {
	t.mu.Lock()
	c := t.cur
	t.cur = nil
	t.mu.Unlock()
	if c != nil {
		c.fail(ErrClosed)
	}
}

// dropConn breaks the current connection (tests use it to simulate a lost
// TCP connection).
func (t *transport) dropConn() {
	t.mu.Lock()
	c := t.cur
	t.mu.Unlock()
	if c != nil {
		c.fail(errors.New("connection dropped"))
	}
}

var _ = errNotConnected
