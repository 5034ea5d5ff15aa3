package trigger

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Controller is the runner's side of the protocol: it listens on a unix
// socket that every file server of the run dials, tells them which calls
// to report (SetRules), hands each reported call to its handler, and
// answers it (Call.Release).
type Controller struct {
	ln     net.Listener
	path   string
	handle func(*Call)
	logf   func(string, ...any)

	mu      sync.Mutex
	cond    *sync.Cond
	servers map[*serverConn]bool
	root    string
	rules   []Rule
	closed  bool
	wg      sync.WaitGroup
}

// serverConn is one connected file server.
type serverConn struct {
	c     *Controller
	conn  net.Conn
	name  string
	pid   int
	wmu   sync.Mutex
	mu    sync.Mutex
	calls map[uint64]*Call
}

// Call is one held call. Release answers it; Done delivers how it ended.
type Call struct {
	Report
	// ID is the server's id of the call; Server the server's name.
	ID     uint64
	Server string
	// Received is when the controller got the report (runner clock).
	Received time.Time

	sc       *serverConn
	mu       sync.Mutex
	released bool
	relErrno syscall.Errno
	done     chan Done
}

// Listen creates the socket at path (removing a stale one) and serves
// connections until Close. handle runs in its own goroutine for every
// reported call and must release it (or let the server's hold bound run
// out).
func Listen(path string, handle func(*Call), logf func(string, ...any)) (*Controller, error) {
	if handle == nil {
		return nil, errors.New("trigger: Listen needs a call handler")
	}
	if logf == nil {
		logf = func(string, ...any) {}
	}
	if len(path) >= 108 {
		return nil, fmt.Errorf("trigger: socket path %s is %d bytes; unix sockets allow 107: use a shorter directory", path, len(path))
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("trigger: remove stale socket %s: %w", path, err)
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("trigger: listen on %s: %w", path, err)
	}
	_ = os.Chmod(path, 0o600)
	c := &Controller{ln: ln, path: path, handle: handle, logf: logf, servers: map[*serverConn]bool{}}
	c.cond = sync.NewCond(&c.mu)
	c.wg.Add(1)
	go c.accept()
	return c, nil
}

// Path is the socket file servers dial.
func (c *Controller) Path() string { return c.path }

func (c *Controller) accept() {
	defer c.wg.Done()
	for {
		conn, err := c.ln.Accept()
		if err != nil {
			return
		}
		sc := &serverConn{c: c, conn: conn, calls: map[uint64]*Call{}}
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			sc.serve()
		}()
	}
}

func (sc *serverConn) serve() {
	c := sc.c
	defer func() {
		sc.conn.Close()
		c.mu.Lock()
		delete(c.servers, sc)
		c.cond.Broadcast()
		c.mu.Unlock()
		sc.mu.Lock()
		calls := sc.calls
		sc.calls = nil
		sc.mu.Unlock()
		for _, call := range calls {
			call.finish(Done{LostController: true, At: time.Now().UnixNano()})
		}
	}()
	r := bufio.NewScanner(sc.conn)
	r.Buffer(make([]byte, 64<<10), 4<<20)
	if !r.Scan() {
		return
	}
	var hello Message
	if err := json.Unmarshal(r.Bytes(), &hello); err != nil || hello.T != MsgHello {
		c.logf("trigger: a client of %s did not say hello (%q): dropped", c.path, clip(r.Text()))
		return
	}
	if hello.Version != ProtocolVersion {
		c.logf("trigger: file server %s speaks protocol %d, this runner %d: rebuild it from the same checkout", hello.Server, hello.Version, ProtocolVersion)
		return
	}
	sc.name, sc.pid = hello.Server, hello.Pid
	// Rules before counting the server as connected (it holds nothing
	// before it has them), under the lock so that SetRules cannot slip in
	// between.
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	if err := sc.send(Message{T: MsgRules, Root: c.root, Rules: c.rules}); err != nil {
		c.mu.Unlock()
		return
	}
	c.servers[sc] = true
	c.cond.Broadcast()
	c.mu.Unlock()
	c.logf("trigger: file server %s (pid %d) connected", sc.name, sc.pid)
	for r.Scan() {
		var m Message
		if err := json.Unmarshal(r.Bytes(), &m); err != nil {
			c.logf("trigger: file server %s sent a bad message (%v): dropped", sc.name, err)
			return
		}
		switch m.T {
		case MsgOp:
			if m.Call == nil {
				continue
			}
			call := &Call{Report: *m.Call, ID: m.ID, Server: sc.name, Received: time.Now(), sc: sc, done: make(chan Done, 1)}
			sc.mu.Lock()
			if sc.calls == nil {
				sc.mu.Unlock()
				return
			}
			sc.calls[m.ID] = call
			sc.mu.Unlock()
			go c.handle(call)
		case MsgDone:
			sc.mu.Lock()
			call := sc.calls[m.ID]
			delete(sc.calls, m.ID)
			sc.mu.Unlock()
			if call != nil && m.Done != nil {
				call.finish(*m.Done)
			}
		}
	}
	c.logf("trigger: file server %s (pid %d) disconnected", sc.name, sc.pid)
}

func (sc *serverConn) send(m Message) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	sc.wmu.Lock()
	defer sc.wmu.Unlock()
	// A stopped server (storage-pause) reads nothing: the kernel buffers
	// a few hundred KB, far more than we send, but never block forever.
	_ = sc.conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if _, err := sc.conn.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("trigger: send to file server %s: %w", sc.name, err)
	}
	return nil
}

// SetRules replaces the rules every file server reports by; root is the
// volume's directory relative to the servers' root ("" when they serve
// the volume itself). An empty list disarms them.
func (c *Controller) SetRules(root string, rules []Rule) error {
	for _, r := range rules {
		if err := r.Check(); err != nil {
			return err
		}
	}
	root = strings.Trim(path.Clean("/"+root), "/")
	c.mu.Lock()
	defer c.mu.Unlock()
	c.root, c.rules = root, append([]Rule(nil), rules...)
	var errs []error
	for sc := range c.servers {
		errs = append(errs, sc.send(Message{T: MsgRules, Root: root, Rules: rules}))
	}
	return errors.Join(errs...)
}

// Servers names the connected file servers.
func (c *Controller) Servers() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for sc := range c.servers {
		out = append(out, sc.name)
	}
	return out
}

// WaitServers returns once n file servers are connected, or fails when ctx
// ends first.
func (c *Controller) WaitServers(ctx context.Context, n int) error {
	stop := context.AfterFunc(ctx, func() {
		c.mu.Lock()
		c.cond.Broadcast()
		c.mu.Unlock()
	})
	defer stop()
	c.mu.Lock()
	defer c.mu.Unlock()
	for len(c.servers) < n {
		if ctx.Err() != nil {
			return fmt.Errorf("trigger: %d of %d file servers connected to %s: %w (see the file servers' logs)", len(c.servers), n, c.path, ctx.Err())
		}
		if c.closed {
			return errors.New("trigger: controller closed")
		}
		c.cond.Wait()
	}
	return nil
}

// Close releases every held call (it proceeds), disconnects the servers
// and removes the socket. The servers keep serving without triggers.
func (c *Controller) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	servers := make([]*serverConn, 0, len(c.servers))
	for sc := range c.servers {
		servers = append(servers, sc)
	}
	c.cond.Broadcast()
	c.mu.Unlock()
	err := c.ln.Close()
	for _, sc := range servers {
		sc.mu.Lock()
		calls := make([]*Call, 0, len(sc.calls))
		for _, call := range sc.calls {
			calls = append(calls, call)
		}
		sc.mu.Unlock()
		for _, call := range calls {
			_ = call.Release(0)
		}
		sc.conn.Close()
	}
	c.wg.Wait()
	_ = os.Remove(c.path)
	return err
}

// Release answers the held call: errno 0 lets it proceed (before: the
// operation is performed; after: the caller gets its real result); any
// other errno is what the caller gets instead (before: the operation is
// not performed; after: it was performed, but the caller is told it
// failed). Only the first release counts; later ones return nil.
func (call *Call) Release(errno syscall.Errno) error {
	call.mu.Lock()
	if call.released {
		call.mu.Unlock()
		return nil
	}
	call.released, call.relErrno = true, errno
	call.mu.Unlock()
	return call.sc.send(Message{T: MsgRelease, ID: call.ID, Errno: int(errno)})
}

// Released reports whether Release was called.
func (call *Call) Released() bool {
	call.mu.Lock()
	defer call.mu.Unlock()
	return call.released
}

// Done delivers how the call ended, once: after its release, its hold
// bound, or when its server disconnected.
func (call *Call) Done() <-chan Done { return call.done }

func (call *Call) finish(d Done) {
	select {
	case call.done <- d:
	default:
	}
}

func clip(s string) string {
	if len(s) > 60 {
		return s[:57] + "..."
	}
	return s
}
