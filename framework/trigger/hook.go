package trigger

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// HookConfig configures the file-server side of the protocol.
type HookConfig struct {
	// Socket is the controller's unix socket. Required.
	Socket string
	// Server names this file server in the controller's log and reports
	// (the node or client it serves).
	Server string
	// Redial is the pause between connection attempts. Default 250 ms.
	Redial time.Duration
	// Logf receives notices (connected, lost, held calls that expired).
	Logf func(format string, args ...any)
	// Proc is the proc file system to read callers from. Default /proc.
	Proc string
}

// Hook is what a file server (the loopback server, the NFS client's FUSE
// layer) calls around every operation that a rule can name: Do performs
// the operation, but first or afterwards — as the rule says — reports it to
// the controller and holds it until the controller releases it, its hold
// bound runs out, or the connection to the controller breaks. Only calls
// that match a rule are held; with no controller connected there are no
// rules and Do is the bare operation. A nil *Hook is valid: Do then only
// performs the operation.
//
// It knows nothing about FUSE: callers pass the operation, the path
// relative to the served root, and the kernel's id of the calling thread.
type Hook struct {
	cfg    HookConfig
	nextID atomic.Uint64
	state  atomic.Pointer[hookState] // nil while disconnected
	stop   chan struct{}
	wg     sync.WaitGroup
	once   sync.Once
}

// hookState is one connection and the rules it sent.
type hookState struct {
	conn   net.Conn
	wmu    sync.Mutex
	root   string
	rules  []Rule
	mu     sync.Mutex
	held   map[uint64]chan int
	closed chan struct{}
}

// NewHook starts connecting to the controller at cfg.Socket (and
// reconnecting whenever the connection breaks) until Close.
func NewHook(cfg HookConfig) (*Hook, error) {
	if cfg.Socket == "" {
		return nil, errors.New("trigger: HookConfig.Socket is required (the runner's trigger socket)")
	}
	if cfg.Redial <= 0 {
		cfg.Redial = 250 * time.Millisecond
	}
	if cfg.Logf == nil {
		cfg.Logf = func(string, ...any) {}
	}
	if cfg.Proc == "" {
		cfg.Proc = "/proc"
	}
	h := &Hook{cfg: cfg, stop: make(chan struct{})}
	h.wg.Add(1)
	go h.dialLoop()
	return h, nil
}

// Close stops reconnecting, releases every held call and drops the
// connection.
func (h *Hook) Close() {
	if h == nil {
		return
	}
	h.once.Do(func() {
		close(h.stop)
		if st := h.state.Load(); st != nil {
			st.conn.Close()
		}
		h.wg.Wait()
	})
}

// Connected reports whether a controller is connected and has sent rules.
func (h *Hook) Connected() bool { return h != nil && h.state.Load() != nil }

func (h *Hook) dialLoop() {
	defer h.wg.Done()
	lastErr := ""
	for {
		conn, err := net.Dial("unix", h.cfg.Socket)
		if err == nil {
			lastErr = ""
			h.serve(conn)
		} else if msg := err.Error(); msg != lastErr {
			lastErr = msg
			h.cfg.Logf("trigger: cannot reach the controller at %s (%v); retrying every %s, calls are not held meanwhile", h.cfg.Socket, err, h.cfg.Redial)
		}
		select {
		case <-h.stop:
			return
		case <-time.After(h.cfg.Redial):
		}
	}
}

// serve runs one connection until it breaks.
func (h *Hook) serve(conn net.Conn) {
	st := &hookState{conn: conn, held: map[uint64]chan int{}, closed: make(chan struct{})}
	defer func() {
		h.state.CompareAndSwap(st, nil)
		st.mu.Lock()
		close(st.closed) // every held call proceeds
		st.held = nil
		st.mu.Unlock()
		conn.Close()
	}()
	if err := st.send(Message{T: MsgHello, Version: ProtocolVersion, Server: h.cfg.Server, Pid: os.Getpid()}); err != nil {
		return
	}
	sc := bufio.NewScanner(conn)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		var m Message
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			h.cfg.Logf("trigger: controller sent a bad message (%v); dropping the connection", err)
			return
		}
		switch m.T {
		case MsgRules:
			bad := false
			for _, r := range m.Rules {
				if err := r.Check(); err != nil {
					h.cfg.Logf("trigger: refusing the controller's rules: %v", err)
					bad = true
				}
			}
			if bad {
				return
			}
			st.mu.Lock()
			st.root, st.rules = strings.Trim(path.Clean("/"+m.Root), "/"), m.Rules
			st.mu.Unlock()
			if h.state.Swap(st) != st {
				h.cfg.Logf("trigger: connected to the controller at %s (%d rules)", h.cfg.Socket, len(m.Rules))
			}
		case MsgRelease:
			st.mu.Lock()
			ch := st.held[m.ID]
			delete(st.held, m.ID)
			st.mu.Unlock()
			if ch != nil {
				ch <- m.Errno
			}
		}
		select {
		case <-h.stop:
			return
		default:
		}
	}
	h.cfg.Logf("trigger: lost the controller at %s (%v): held calls proceed, none are held until it is back", h.cfg.Socket, sc.Err())
}

func (st *hookState) send(m Message) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	st.wmu.Lock()
	defer st.wmu.Unlock()
	_ = st.conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	_, err = st.conn.Write(append(b, '\n'))
	return err
}

// Wants reports whether a rule names op right now: callers whose paths
// are costly to compute skip Do (and the path) when it does not.
func (h *Hook) Wants(op Op) bool {
	if h == nil {
		return false
	}
	st := h.state.Load()
	if st == nil {
		return false
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	for _, r := range st.rules {
		if r.Op == op {
			return true
		}
	}
	return false
}

// matched returns the rules op on p (rename: also to) matches, split by
// when, and the paths relative to the controller's root.
func (st *hookState) matched(op Op, p, to string) (before, after []Rule, rp, rto string, ok bool) {
	st.mu.Lock()
	root, rules := st.root, st.rules
	st.mu.Unlock()
	rp, okp := under(root, p)
	rto, okto := "", false
	if to != "" {
		rto, okto = under(root, to)
	}
	if !okp && !okto {
		return nil, nil, "", "", false
	}
	for _, r := range rules {
		if r.Op != op {
			continue
		}
		if (okp && r.Path.Match(rp)) || (okto && r.Path.Match(rto)) {
			if r.When == Before {
				before = append(before, r)
			} else {
				after = append(after, r)
			}
		}
	}
	return before, after, rp, rto, len(before)+len(after) > 0
}

// under returns p relative to root, if it is inside.
func under(root, p string) (string, bool) {
	p = strings.Trim(path.Clean("/"+p), "/")
	if root == "" {
		return p, p != ""
	}
	rest, ok := strings.CutPrefix(p, root+"/")
	return rest, ok && rest != ""
}

// Do performs op on p (relative to the served root; for a rename p is the
// old name and to the new one) for the calling thread tid, by running fn,
// and holds the call before or after fn as the matching rules say. It
// returns what the caller must get: fn's result, or the errno the
// controller chose.
func (h *Hook) Do(op Op, p, to string, tid uint32, fn func() syscall.Errno) syscall.Errno {
	if h == nil {
		return fn()
	}
	st := h.state.Load()
	if st == nil {
		return fn()
	}
	before, after, rp, rto, ok := st.matched(op, p, to)
	if !ok {
		return fn()
	}
	var caller *Report
	report := func(when When, rules []Rule, errno syscall.Errno) *Report {
		if caller == nil {
			caller = readCaller(h.cfg.Proc, int(tid))
		}
		r := *caller
		r.Op, r.When, r.Path, r.To, r.Errno = op, when, rp, rto, int(errno)
		r.At = time.Now().UnixNano()
		for _, x := range rules {
			r.Rules = append(r.Rules, x.Name)
		}
		return &r
	}
	if len(before) > 0 {
		rel, finish := h.hold(st, report(Before, before, 0), before)
		if rel != 0 {
			finish(false, rel)
			return rel
		}
		errno := fn()
		finish(true, errno)
		if len(after) == 0 {
			return errno
		}
		return h.after(st, report(After, after, errno), after, errno)
	}
	errno := fn()
	return h.after(st, report(After, after, errno), after, errno)
}

func (h *Hook) after(st *hookState, r *Report, rules []Rule, errno syscall.Errno) syscall.Errno {
	rel, finish := h.hold(st, r, rules)
	if rel != 0 {
		errno = rel
	}
	finish(true, errno)
	return errno
}

// hold reports the call and waits for its release. It returns the errno
// the controller chose (0: proceed) and a function that reports how the
// call ended.
func (h *Hook) hold(st *hookState, r *Report, rules []Rule) (syscall.Errno, func(performed bool, errno syscall.Errno)) {
	id := h.nextID.Add(1)
	ch := make(chan int, 1)
	st.mu.Lock()
	if st.held == nil { // the connection is already gone
		st.mu.Unlock()
		return 0, func(bool, syscall.Errno) {}
	}
	st.held[id] = ch
	st.mu.Unlock()
	forget := func() {
		st.mu.Lock()
		if st.held != nil {
			delete(st.held, id)
		}
		st.mu.Unlock()
	}
	var hold time.Duration
	for _, x := range rules {
		hold = max(hold, x.Hold())
	}
	if err := st.send(Message{T: MsgOp, ID: id, Call: r}); err != nil {
		forget() // the controller is gone: the call proceeds
		return 0, func(bool, syscall.Errno) {}
	}
	d := &Done{}
	t := time.NewTimer(hold)
	defer t.Stop()
	var rel syscall.Errno
	select {
	case e := <-ch:
		rel = syscall.Errno(e)
	case <-t.C:
		forget()
		d.Expired = true
		h.cfg.Logf("trigger: %s was held %s without a release: it proceeds (is the runner stuck?)", r.Describe(), hold)
	case <-st.closed:
		d.LostController = true
	}
	return rel, func(performed bool, errno syscall.Errno) {
		d.Performed, d.Errno, d.At = performed, int(errno), time.Now().UnixNano()
		_ = st.send(Message{T: MsgDone, ID: id, Done: d})
	}
}

// readCaller reads who tid is from /proc while it is blocked in the call.
func readCaller(proc string, tid int) *Report {
	r := &Report{Tid: tid, Pid: tid}
	if tid <= 0 {
		return r
	}
	dir := proc + "/" + strconv.Itoa(tid)
	if b, err := os.ReadFile(dir + "/status"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "Tgid:"); ok {
				if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil {
					r.Pid = n
				}
				break
			}
		}
	}
	if b, err := os.ReadFile(dir + "/comm"); err == nil {
		r.Comm = strings.TrimSpace(string(b))
	}
	if b, err := os.ReadFile(fmt.Sprintf("%s/%d/cmdline", proc, r.Pid)); err == nil {
		args := strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
		if len(args) > 8 {
			args = args[:8]
		}
		for i, a := range args {
			if len(a) > 256 {
				args[i] = a[:256]
			}
		}
		r.Args = args
	}
	if b, err := os.ReadFile(dir + "/cgroup"); err == nil {
		s := string(b)
		if len(s) > 8192 {
			s = s[:8192]
		}
		r.Cgroup = strings.TrimSpace(s)
	}
	return r
}
