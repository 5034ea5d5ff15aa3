package nfs4

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// exchangeID establishes (or finds) our client ID (EXCHANGE_ID).
func (c *Client) exchangeID(ctx context.Context) (uint64, uint32, error) {
	var id uint64
	var seq uint32
	err := c.sessionless(ctx, "exchange_id", func(rq *request) {
		rq.op(opExchangeID)
		rq.e.fixed(c.verf[:])
		rq.e.opaque(c.owner)
		rq.e.u32(exchgidUseNonPNFS)
		rq.e.u32(sp4None)
		rq.e.u32(1) // eia_client_impl_id<1>
		rq.e.str("rwxchaos.dev")
		rq.e.str("rwxchaos-nfs")
		rq.e.i64(0)
		rq.e.u32(0)
	}, func(p *reply) error {
		if err := p.ok(opExchangeID); err != nil {
			return err
		}
		d := p.d
		id = d.u64()
		seq = d.u32()
		d.u32() // flags
		if how := d.u32(); how != sp4None && d.err() == nil {
			return fmt.Errorf("nfs4: server wants state protection %d; only SP4_NONE is supported", how)
		}
		d.u64()                  // so_minor_id
		d.opaque(opaqueLimit)    // so_major_id
		d.opaque(opaqueLimit)    // server scope
		if n := d.u32(); n > 0 { // server impl id
			d.str(opaqueLimit)
			d.str(opaqueLimit)
			d.i64()
			d.u32()
		}
		return d.err()
	})
	return id, seq, err
}

func encodeChannelAttrs(e *encoder, maxReq, maxResp, maxCached, maxOps, maxReqs uint32) {
	e.u32(0) // headerpadsize
	e.u32(maxReq)
	e.u32(maxResp)
	e.u32(maxCached)
	e.u32(maxOps)
	e.u32(maxReqs)
	e.u32(0) // rdma_ird<1>
}

type channelAttrs struct {
	maxReq, maxResp, maxCached, maxOps, maxReqs uint32
}

func decodeChannelAttrs(d *decoder) channelAttrs {
	var a channelAttrs
	d.u32()
	a.maxReq = d.u32()
	a.maxResp = d.u32()
	a.maxCached = d.u32()
	a.maxOps = d.u32()
	a.maxReqs = d.u32()
	if n := d.u32(); n > 0 {
		d.u32()
	}
	return a
}

// createSession creates a session for clientID (CREATE_SESSION) with
// fore-channel limits for our I/O size and slot count, and no back
// channel (so no delegations and no lock notifications).
func (c *Client) createSession(ctx context.Context, clientID uint64, seq uint32) (*session, error) {
	var s *session
	io := uint32(c.cfg.MaxIO) + 16<<10
	err := c.sessionless(ctx, "create_session", func(rq *request) {
		rq.op(opCreateSession)
		rq.e.u64(clientID)
		rq.e.u32(seq)
		rq.e.u32(0) // flags: not persistent, no back channel
		encodeChannelAttrs(rq.e, io, io, 64<<10, 16, uint32(c.cfg.Slots))
		encodeChannelAttrs(rq.e, 4096, 4096, 0, 2, 1)
		rq.e.u32(0x40000000) // cb_program (unused)
		rq.e.u32(1)          // csa_sec_parms<>
		rq.e.u32(authNone)
	}, func(p *reply) error {
		if err := p.ok(opCreateSession); err != nil {
			return err
		}
		var id [sessionIDSize]byte
		copy(id[:], p.d.fixed(sessionIDSize))
		p.d.u32() // sequenceid
		p.d.u32() // flags
		fore := decodeChannelAttrs(p.d)
		decodeChannelAttrs(p.d)
		if err := p.d.err(); err != nil {
			return err
		}
		n := int(fore.maxReqs)
		if n > c.cfg.Slots {
			n = c.cfg.Slots
		}
		if n < 1 {
			n = 1
		}
		s = newSession(id, clientID, n, fore.maxReq, fore.maxResp, fore.maxCached)
		return nil
	})
	if err == nil {
		c.st.sessions.Add(1)
	}
	return s, err
}

// establish gets a client ID and a session, retrying NFS4ERR_DELAY.
// recovering keeps c.sess nil (recovery installs it when done).
func (c *Client) establish(ctx context.Context, recovering bool) error {
	backoff := 50 * time.Millisecond
	for {
		id, seq, err := c.exchangeID(ctx)
		if err == nil {
			var s *session
			s, err = c.createSession(ctx, id, seq)
			if err == nil {
				c.mu.Lock()
				c.clientID = id
				c.csSeq = seq + 1
				c.lastRenew = time.Now()
				if !recovering {
					c.sess = s
				} else {
					c.pending = s
				}
				c.mu.Unlock()
				c.st.clientIDs.Add(1)
				return nil
			}
		}
		if !IsStatus(err, StatusDelay) && !IsStatus(err, StatusClientIDBusy) {
			return fmt.Errorf("nfs4: establish client ID with %s: %w", c.cfg.Server, err)
		}
		if err := c.sleep(ctx, backoff); err != nil {
			return err
		}
		if backoff *= 2; backoff > time.Second {
			backoff = time.Second
		}
	}
}

// reclaimComplete tells the server we are done reclaiming (RFC 8881
// section 18.51); needed after every new client ID before the server
// grants new opens and locks to us.
func (c *Client) reclaimComplete(ctx context.Context, s *session) error {
	err := c.call(ctx, Root, "reclaim_complete", func(rq *request) error {
		rq.reclaimComplete()
		return nil
	}, func(p *reply) error { return p.ok(opReclaimComplete) }, callOpts{sess: s})
	if IsStatus(err, StatusCompleteAlready) {
		return nil
	}
	return err
}

// sessionLost starts recovery when a call found session s gone (once per
// session).
func (c *Client) sessionLost(s *session, why Status) {
	if !s.dead.CompareAndSwap(false, true) {
		return
	}
	c.mu.Lock()
	if c.sess != s || c.closing {
		c.mu.Unlock()
		return
	}
	c.sess = nil
	ch := make(chan struct{})
	c.recovering = ch
	c.mu.Unlock()
	c.cfg.Logf("session %x lost (%s): recovering", s.id[:4], why)
	go c.recover(s, why, ch)
}

// recover re-establishes a session; when the client ID is gone too it
// gets a new one and then reclaims or gives up the state held under the
// old one. It retries until it succeeds or the client is closed.
func (c *Client) recover(old *session, why Status, done chan struct{}) {
	ctx := context.Background()
	defer close(done)
	backoff := 100 * time.Millisecond
	for attempt := 0; ; attempt++ {
		if c.closed() {
			return
		}
		if attempt > 0 {
			if c.sleep(ctx, backoff) != nil {
				return
			}
			if backoff *= 2; backoff > 2*time.Second {
				backoff = 2 * time.Second
			}
		}
		if why != StatusStaleClientID {
			c.mu.Lock()
			id, seq := c.clientID, c.csSeq
			c.mu.Unlock()
			s, err := c.createSession(ctx, id, seq)
			if err == nil {
				c.mu.Lock()
				c.csSeq++
				c.sess = s
				c.mu.Unlock()
				c.cfg.Logf("new session on client ID %016x: state kept", id)
				return
			}
			if !IsStatus(err, StatusStaleClientID) && !IsStatus(err, StatusExpired) && !IsStatus(err, StatusBadSession) {
				c.cfg.Logf("recovery: CREATE_SESSION: %v (retrying)", err)
				continue
			}
			why = StatusStaleClientID
		}
		// The client ID is gone: the server restarted, or it expired our
		// lease and purged us. Decide before the new one resets the clock.
		lost := c.leaseLost()
		oldID := old.clientID
		if err := c.establish(ctx, true); err != nil {
			c.cfg.Logf("recovery: %v (retrying)", err)
			continue
		}
		c.mu.Lock()
		s := c.pending
		c.pending = nil
		newID := c.clientID
		c.mu.Unlock()
		if lost {
			c.cfg.Logf("client ID %016x gone and our lease had lapsed: new client ID %016x", oldID, newID)
		} else {
			c.cfg.Logf("client ID %016x gone (server restarted?): new client ID %016x, reclaiming", oldID, newID)
		}
		if err := c.reclaimState(ctx, s, lost); err != nil {
			c.cfg.Logf("recovery: %v (starting over)", err)
			why = StatusBadSession
			continue
		}
		c.mu.Lock()
		c.sess = s
		c.mu.Unlock()
		return
	}
}

// reclaimState brings the open and lock state of the old client ID over
// to session s: reclaimed (CLAIM_PREVIOUS, reclaim LOCK) when the server
// is in its grace period and our lease had not lapsed, re-taken like new
// ones with RecoverLostLocks, or else marked lost (EIO).
func (c *Client) reclaimState(ctx context.Context, s *session, leaseLost bool) error {
	states := c.liveStates()
	var redo []*openState
	for _, st := range states {
		if leaseLost && !c.cfg.RecoverLostLocks {
			c.markLost(st, "the lease had expired")
			continue
		}
		err := c.reclaimOpen(ctx, s, st)
		if err == nil {
			continue
		}
		if errors.Is(err, errRecoveryFailed) {
			return err
		}
		if c.cfg.RecoverLostLocks {
			redo = append(redo, st)
			continue
		}
		c.markLost(st, fmt.Sprintf("reclaim refused: %v", err))
	}
	if err := c.reclaimComplete(ctx, s); err != nil {
		return fmt.Errorf("%w: RECLAIM_COMPLETE: %v", errRecoveryFailed, err)
	}
	for _, st := range redo {
		if err := c.reopen(ctx, s, st); err != nil {
			if errors.Is(err, errRecoveryFailed) {
				return err
			}
			c.markLost(st, fmt.Sprintf("re-open refused: %v", err))
		}
	}
	return nil
}

var errRecoveryFailed = errors.New("nfs4: session lost during recovery")

// recoveryErr turns a SEQUENCE failure during recovery into
// errRecoveryFailed (start over) and leaves operation errors alone.
func recoveryErr(err error) error {
	var e *Error
	if errors.As(err, &e) && e.Op == "SEQUENCE" || errors.Is(err, ErrClosed) {
		return fmt.Errorf("%w: %v", errRecoveryFailed, err)
	}
	return err
}

// stateRevoked handles SEQUENCE status flags saying some or all state was
// revoked (lease expired, admin revocation).
func (c *Client) stateRevoked(flags uint32) {
	c.st.revocations.Add(1)
	c.cfg.Logf("server says state was revoked (SEQUENCE flags %#x): checking every stateid", flags)
	c.kickCheck()
}

// kickCheck starts a state check unless one runs, and returns a channel
// closed when the running check ends.
func (c *Client) kickCheck() <-chan struct{} {
	c.mu.Lock()
	if c.checkDone != nil {
		ch := c.checkDone
		c.mu.Unlock()
		return ch
	}
	ch := make(chan struct{})
	if c.closing {
		c.mu.Unlock()
		close(ch)
		return ch
	}
	c.checkDone = ch
	c.mu.Unlock()
	go func() {
		defer func() {
			c.mu.Lock()
			c.checkDone = nil
			c.mu.Unlock()
			close(ch)
		}()
		if err := c.checkStates(context.Background()); err != nil && !errors.Is(err, ErrClosed) {
			c.cfg.Logf("state check: %v", err)
		}
	}()
	return ch
}

// checkStates asks the server which of our stateids are still valid
// (TEST_STATEID), frees the bad ones (FREE_STATEID), and re-takes or
// loses the state they carried.
func (c *Client) checkStates(ctx context.Context) error {
	states := c.liveStates()
	for _, st := range states {
		c.mu.Lock()
		ids := []stateID{st.sid}
		var owners []*lockState
		for _, ls := range st.locks {
			if ls.has && !ls.lost {
				ids = append(ids, ls.sid)
				owners = append(owners, ls)
			}
		}
		c.mu.Unlock()
		var res []Status
		err := c.call(ctx, Root, "test_stateid", func(rq *request) error {
			rq.testStateID(ids)
			return nil
		}, func(p *reply) error {
			var err error
			res, err = p.testStateID()
			return err
		}, callOpts{})
		if err != nil {
			return err
		}
		if len(res) != len(ids) {
			return fmt.Errorf("nfs4: TEST_STATEID answered %d of %d stateids", len(res), len(ids))
		}
		bad := false
		for i, r := range res {
			if r != StatusOK {
				bad = true
				c.freeStateID(ctx, ids[i])
			}
		}
		if !bad {
			continue
		}
		if c.cfg.RecoverLostLocks {
			if err := c.reopen(ctx, nil, st); err == nil {
				continue
			} else if errors.Is(err, ErrClosed) {
				return err
			} else {
				c.markLost(st, fmt.Sprintf("revoked, and re-open refused: %v", err))
			}
			continue
		}
		c.markLost(st, fmt.Sprintf("server revoked it (TEST_STATEID: %v)", res))
	}
	return nil
}

func (c *Client) freeStateID(ctx context.Context, s stateID) {
	_ = c.call(ctx, Root, "free_stateid", func(rq *request) error {
		rq.freeStateID(s)
		return nil
	}, func(p *reply) error { return p.ok(opFreeStateID) }, callOpts{})
}
