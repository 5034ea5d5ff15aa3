package nfs4

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Config configures a Client.
type Config struct {
	// Server is host:port of the NFSv4 server. Required.
	Server string
	// Export is the path of the export in the server's pseudo file
	// system, e.g. "/export". Default "/".
	Export string
	// Name identifies this client (a node name). The client owner sent in
	// EXCHANGE_ID is "rwxchaos-nfs:" + Name, so two clients on one host
	// need different names. Default: the host name.
	Name string
	// RecoverLostLocks mimics Linux's nfs.recover_lost_locks=1: when the
	// lease was lost (expiry, revocation, or a server restart whose
	// reclaim the server refused) the client re-opens the files and
	// re-takes the locks instead of failing them with EIO, and carries on
	// silently if that works. Another client may have held the lock and
	// changed the file in between: this is the silent split-brain mode.
	// Default false (Linux's default =0): such files and locks fail with
	// EIO until closed.
	RecoverLostLocks bool
	// Attribute cache, like the kernel's acregmin/acregmax (files) and
	// acdirmin/acdirmax (directories). All zero (the default) turns the
	// cache off: every GETATTR and LOOKUP goes to the server. SetActimeo
	// sets all four, like mount -o actimeo=N.
	AcRegMin, AcRegMax, AcDirMin, AcDirMax time.Duration
	// CallTimeout is how long a call waits for a reply before the client
	// drops the connection, reconnects and resends it (it never gives up:
	// a hard mount). Default 60 s, Linux's timeo=600 for TCP.
	CallTimeout time.Duration
	// Slots is the number of session slots asked for (concurrent calls).
	// Default 32; the server may grant fewer.
	Slots int
	// LockPollMin and LockPollMax bound the backoff between attempts of a
	// blocking lock (NFSv4.1 without a callback channel has no lock
	// notification). Default 100 ms and 1 s.
	LockPollMin, LockPollMax time.Duration
	// MaxIO caps READ and WRITE sizes. Default 1 MiB; the server's
	// maxread/maxwrite and session limits may lower it.
	MaxIO int
	// Logf receives the client's notices (not responding, state lost,
	// recovery). Default: discarded.
	Logf func(format string, args ...any)
	// Dial opens the TCP connection. Default net.Dialer.DialContext.
	Dial func(ctx context.Context, addr string) (net.Conn, error)
}

// SetActimeo sets the four attribute cache bounds to d, like
// mount -o actimeo=N.
func (c *Config) SetActimeo(d time.Duration) {
	c.AcRegMin, c.AcRegMax, c.AcDirMin, c.AcDirMax = d, d, d, d
}

// Client is an NFSv4.1 client of one export. It is safe for concurrent
// use.
type Client struct {
	cfg     Config
	t       *transport
	st      counters
	stop    chan struct{}
	stopped sync.Once
	machine string
	owner   []byte // client owner id
	verf    [verifierSize]byte
	bg      sync.WaitGroup

	mu         sync.Mutex
	sess       *session
	recovering chan struct{} // closed when the recovery in progress ends
	clientID   uint64
	csSeq      uint32 // CREATE_SESSION sequence id of the client ID
	lastRenew  time.Time
	downSince  time.Time // first sign the server process was gone after lastRenew
	opens      map[openKey]*openState
	owners     map[uint32]*sync.RWMutex // per-uid open-owner: OPEN vs CLOSE
	checkDone  chan struct{}            // closed when the running state check (TEST_STATEID) ends
	pending    *session                 // session being set up by recovery
	closing    bool

	root     FH
	fsi      fsInfo
	maxRead  uint32
	maxWrite uint32

	cache attrCache
}

// counters are the client's statistics.
type counters struct {
	calls, retransmits, timeouts, reconnects, renewals, delays, graceWaits    atomic.Int64
	sessions, clientIDs, lostOpens, lostLocks, reclaimedOpens, reclaimedLocks atomic.Int64
	recoveredOpens, recoveredLocks, revocations, lockPolls                    atomic.Int64
}

// Stats are the client's counters since Dial.
type Stats struct {
	Calls          int64  `json:"calls"`          // COMPOUNDs sent (not counting resends)
	Retransmits    int64  `json:"retransmits"`    // resends after a lost connection or a timeout
	Timeouts       int64  `json:"timeouts"`       // calls that got no reply within CallTimeout
	Reconnects     int64  `json:"reconnects"`     // new TCP connections after the first
	Renewals       int64  `json:"renewals"`       // SEQUENCE-only lease renewals
	Delays         int64  `json:"delays"`         // NFS4ERR_DELAY retries
	GraceWaits     int64  `json:"graceWaits"`     // NFS4ERR_GRACE retries
	Sessions       int64  `json:"sessions"`       // sessions created
	ClientIDs      int64  `json:"clientIDs"`      // client IDs established (1 + recoveries)
	LostOpens      int64  `json:"lostOpens"`      // open files whose state was lost (EIO)
	LostLocks      int64  `json:"lostLocks"`      // lock owners whose locks were lost (EIO)
	ReclaimedOpens int64  `json:"reclaimedOpens"` // opens reclaimed after a server restart
	ReclaimedLocks int64  `json:"reclaimedLocks"` // locks reclaimed after a server restart
	RecoveredOpens int64  `json:"recoveredOpens"` // RecoverLostLocks: opens silently re-opened
	RecoveredLocks int64  `json:"recoveredLocks"` // RecoverLostLocks: locks silently re-taken
	Revocations    int64  `json:"revocations"`    // SEQUENCE flags or errors saying state was revoked
	LockPolls      int64  `json:"lockPolls"`      // attempts of blocking locks that were denied
	ClientID       string `json:"clientID"`       // current client ID (hex)
	Lease          string `json:"lease"`          // the server's lease time
	// LastRenewal is when the last SEQUENCE the server answered was sent:
	// the server cannot expire this client before LastRenewal + lease.
	LastRenewal time.Time `json:"lastRenewal"`
}

// Stats returns the counters.
func (c *Client) Stats() Stats {
	c.mu.Lock()
	id := c.clientID
	last := c.lastRenew
	c.mu.Unlock()
	s := &c.st
	return Stats{
		Calls: s.calls.Load(), Retransmits: s.retransmits.Load(), Timeouts: s.timeouts.Load(),
		Reconnects: s.reconnects.Load(), Renewals: s.renewals.Load(), Delays: s.delays.Load(),
		GraceWaits: s.graceWaits.Load(), Sessions: s.sessions.Load(), ClientIDs: s.clientIDs.Load(),
		LostOpens: s.lostOpens.Load(), LostLocks: s.lostLocks.Load(),
		ReclaimedOpens: s.reclaimedOpens.Load(), ReclaimedLocks: s.reclaimedLocks.Load(),
		RecoveredOpens: s.recoveredOpens.Load(), RecoveredLocks: s.recoveredLocks.Load(),
		Revocations: s.revocations.Load(), LockPolls: s.lockPolls.Load(),
		ClientID: fmt.Sprintf("%016x", id), Lease: c.fsi.lease.String(), LastRenewal: last,
	}
}

// Dial connects to the server, establishes a client ID and a session and
// looks up the export. ctx bounds only the dial: later calls are governed
// by their own contexts and the hard-mount policy.
func Dial(ctx context.Context, cfg Config) (*Client, error) {
	if cfg.Server == "" {
		return nil, errors.New("nfs4: Config.Server (host:port) is required")
	}
	if cfg.Export == "" {
		cfg.Export = "/"
	}
	if cfg.Name == "" {
		h, err := osHostname()
		if err != nil {
			return nil, fmt.Errorf("nfs4: Config.Name is empty and the host name is unknown (%v): set Config.Name", err)
		}
		cfg.Name = h
	}
	if cfg.CallTimeout <= 0 {
		cfg.CallTimeout = 60 * time.Second
	}
	if cfg.Slots <= 0 {
		cfg.Slots = 32
	}
	if cfg.LockPollMin <= 0 {
		cfg.LockPollMin = 100 * time.Millisecond
	}
	if cfg.LockPollMax < cfg.LockPollMin {
		cfg.LockPollMax = time.Second
		if cfg.LockPollMax < cfg.LockPollMin {
			cfg.LockPollMax = cfg.LockPollMin
		}
	}
	if cfg.MaxIO <= 0 {
		cfg.MaxIO = defaultMaxIO
	}
	if cfg.Logf == nil {
		cfg.Logf = func(string, ...any) {}
	}
	if cfg.Dial == nil {
		d := &net.Dialer{KeepAlive: 15 * time.Second}
		cfg.Dial = func(ctx context.Context, addr string) (net.Conn, error) {
			return d.DialContext(ctx, "tcp", addr)
		}
	}
	c := &Client{
		cfg:     cfg,
		stop:    make(chan struct{}),
		machine: cfg.Name,
		owner:   []byte("rwxchaos-nfs:" + cfg.Name),
		opens:   map[openKey]*openState{},
		owners:  map[uint32]*sync.RWMutex{},
	}
	c.cache.init(cfg)
	if _, err := rand.Read(c.verf[:]); err != nil {
		return nil, fmt.Errorf("nfs4: boot verifier: %w", err)
	}
	dial := cfg.Dial
	c.t = newTransport(cfg.Server, func(ctx context.Context, addr string) (net.Conn, error) {
		nc, err := dial(ctx, addr)
		if err != nil && (errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET)) {
			c.noteServerDown()
		}
		return nc, err
	}, cfg.CallTimeout, cfg.Logf, &c.st, c.stop)

	fail := func(err error) (*Client, error) {
		c.shutdown()
		return nil, err
	}
	// Dial is bounded by ctx: run setup in the background and abandon it
	// (closing the client) if ctx ends first.
	done := make(chan error, 1)
	go func() { done <- c.setup(ctx) }()
	select {
	case err := <-done:
		if err != nil {
			return fail(err)
		}
	case <-ctx.Done():
		c.shutdown()
		<-done
		return nil, fmt.Errorf("nfs4: dial %s: %w: is the server up and reachable?", cfg.Server, ctx.Err())
	}
	c.bg.Add(1)
	go c.renewLoop()
	return c, nil
}

func (c *Client) setup(ctx context.Context) error {
	if err := c.establish(ctx, false); err != nil {
		return err
	}
	if err := c.reclaimComplete(ctx, nil); err != nil {
		return err
	}
	return c.lookupExport(ctx)
}

// lookupExport finds the export's root file handle and the server's lease
// time and I/O sizes.
func (c *Client) lookupExport(ctx context.Context) error {
	var root FH
	var fi fsInfo
	var ra Attr
	err := c.call(ctx, Root, "mount", func(rq *request) error {
		rq.putRootFH()
		for _, comp := range strings.Split(c.cfg.Export, "/") {
			if comp != "" {
				rq.lookup(comp)
			}
		}
		rq.getFH()
		rq.getattr(fileAttrs)
		rq.getattr(fsAttrs)
		return nil
	}, func(p *reply) error {
		var err error
		if err := p.ok(opPutRootFH); err != nil {
			return err
		}
		for range rqLookups(c.cfg.Export) {
			if err := p.ok(opLookup); err != nil {
				return err
			}
		}
		if root, err = p.fh(); err != nil {
			return err
		}
		if err := p.attrs(&ra); err != nil {
			return err
		}
		if err := p.ok(opGetattr); err != nil {
			return err
		}
		return decodeFattr(p.d, attrValues{fs: &fi})
	}, callOpts{})
	if err != nil {
		var e *Error
		if errors.As(err, &e) {
			e.Path = c.cfg.Export
			if e.Status == StatusNoEnt {
				return fmt.Errorf("nfs4: export %s not found on %s: check the server's Pseudo path: %w", c.cfg.Export, c.cfg.Server, err)
			}
		}
		return fmt.Errorf("nfs4: look up export %s: %w", c.cfg.Export, err)
	}
	if ra.Type != TypeDir {
		return fmt.Errorf("nfs4: export %s is not a directory", c.cfg.Export)
	}
	if fi.lease <= 0 {
		fi.lease = 90 * time.Second
	}
	c.mu.Lock()
	c.root = root
	c.fsi = fi
	sess := c.sess
	c.mu.Unlock()
	c.maxRead, c.maxWrite = ioSizes(c.cfg.MaxIO, fi, sess)
	c.cache.put(root, ra)
	c.cfg.Logf("mounted %s:%s as client %016x (lease %s, rsize %d, wsize %d, %d slots)",
		c.cfg.Server, c.cfg.Export, sess.clientID, fi.lease, c.maxRead, c.maxWrite, sess.nslots)
	return nil
}

func rqLookups(export string) int {
	n := 0
	for _, comp := range strings.Split(export, "/") {
		if comp != "" {
			n++
		}
	}
	return n
}

func ioSizes(max int, fi fsInfo, s *session) (uint32, uint32) {
	r, w := uint64(max), uint64(max)
	if fi.maxRead > 0 && fi.maxRead < r {
		r = fi.maxRead
	}
	if fi.maxWrite > 0 && fi.maxWrite < w {
		w = fi.maxWrite
	}
	if lim := uint64(s.maxResp) - compoundReserve; s.maxResp > compoundReserve && lim < r {
		r = lim
	}
	if lim := uint64(s.maxReq) - compoundReserve; s.maxReq > compoundReserve && lim < w {
		w = lim
	}
	// Keep them page multiples.
	r &^= 4095
	w &^= 4095
	if r == 0 {
		r = 4096
	}
	if w == 0 {
		w = 4096
	}
	return uint32(r), uint32(w)
}

// Root is the export's root file handle.
func (c *Client) Root() FH { return c.root }

// Lease is the server's lease time.
func (c *Client) Lease() time.Duration { return c.fsi.lease }

// MaxIO returns the READ and WRITE sizes in use.
func (c *Client) MaxIO() (int, int) { return int(c.maxRead), int(c.maxWrite) }

// Close releases every lock and open the client still holds, destroys
// the session and the client ID (so the server frees our state at once
// instead of after the lease) when the server answers before ctx ends,
// and closes the connection. Files still open fail from then on.
func (c *Client) Close(ctx context.Context) error {
	c.mu.Lock()
	if c.closing {
		c.mu.Unlock()
		return nil
	}
	c.closing = true
	sess := c.sess
	c.mu.Unlock()
	var err error
	if sess != nil {
		done := make(chan error, 1)
		go func() {
			// The server refuses DESTROY_CLIENTID while we hold state:
			// give back locks and opens first (their files are gone with
			// the mount), so other clients get the locks at once.
			c.releaseAll(ctx)
			if err := c.sessionless(ctx, "umount", func(rq *request) {
				rq.op(opDestroySession)
				rq.e.fixed(sess.id[:])
			}, func(p *reply) error { return p.ok(opDestroySession) }); err != nil {
				done <- err
				return
			}
			done <- c.sessionless(ctx, "umount", func(rq *request) {
				rq.op(opDestroyClientID)
				rq.e.u64(sess.clientID)
			}, func(p *reply) error { return p.ok(opDestroyClientID) })
		}()
		select {
		case err = <-done:
		case <-ctx.Done():
			err = fmt.Errorf("nfs4: server did not answer DESTROY_SESSION/DESTROY_CLIENTID in time (%w): it frees our state after the lease", ctx.Err())
		}
	}
	c.shutdown()
	return err
}

func (c *Client) shutdown() {
	c.stopped.Do(func() {
		close(c.stop)
		c.t.close()
	})
	c.bg.Wait()
}

func (c *Client) closed() bool {
	select {
	case <-c.stop:
		return true
	default:
		return false
	}
}

// renewLoop sends a SEQUENCE-only compound about every lease/3 so the
// lease never lapses while the client is alive and the server answers.
// A renewal still outstanding (server stalled) is not stacked.
func (c *Client) renewLoop() {
	defer c.bg.Done()
	every := c.fsi.lease / 3
	if every <= 0 {
		every = time.Second
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	var busy atomic.Bool
	for {
		select {
		case <-c.stop:
			return
		case <-tick.C:
		}
		if !busy.CompareAndSwap(false, true) {
			continue
		}
		c.bg.Add(1)
		go func() {
			defer c.bg.Done()
			defer busy.Store(false)
			err := c.call(context.Background(), Root, "renew", func(*request) error { return nil },
				func(*reply) error { return nil }, callOpts{})
			if err == nil {
				c.st.renewals.Add(1)
			} else if !errors.Is(err, ErrClosed) {
				c.cfg.Logf("lease renewal: %v", err)
			}
		}()
	}
}

// noteRenewed records that the server processed a SEQUENCE sent at t.
func (c *Client) noteRenewed(t time.Time) {
	c.mu.Lock()
	if t.After(c.lastRenew) {
		c.lastRenew = t
	}
	c.mu.Unlock()
}

// noteServerDown records the first refused connection after the last
// renewal: the server process was gone, so it could not expire our lease
// from then on (it restarts into its grace period).
func (c *Client) noteServerDown() {
	c.mu.Lock()
	if c.downSince.Before(c.lastRenew) {
		c.downSince = time.Now()
	}
	c.mu.Unlock()
}

// leaseLost says whether our lease lapsed while the server was up: the
// time from the last renewal to now (or to when the server was seen gone)
// exceeds the lease.
func (c *Client) leaseLost() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	end := time.Now()
	if c.downSince.After(c.lastRenew) {
		end = c.downSince
	}
	return end.Sub(c.lastRenew) > c.fsi.lease
}

// ownerLock returns the open-owner lock of uid. OPENs take it shared,
// CLOSE exclusively: the server merges OPENs of one open-owner on one
// file into one open state, so a CLOSE must not overtake an OPEN that the
// server may have merged into the state being closed.
func (c *Client) ownerLock(uid uint32) *sync.RWMutex {
	c.mu.Lock()
	defer c.mu.Unlock()
	l := c.owners[uid]
	if l == nil {
		l = &sync.RWMutex{}
		c.owners[uid] = l
	}
	return l
}

// clientIDNow is the current client ID.
func (c *Client) clientIDNow() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.clientID
}
