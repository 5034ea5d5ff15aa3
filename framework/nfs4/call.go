package nfs4

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// callOpts tune one compound.
type callOpts struct {
	// sess is used as it is (recovery); the call does not wait for a
	// session and returns the SEQUENCE error if that one is gone.
	sess *session
	// late, when set, is called (in the background) with the outcome of
	// a call whose caller gave up (ctx ended) after the request was sent:
	// the server may still execute it, and stateful operations (OPEN,
	// LOCK) must then be undone or recorded. The caller then gets an
	// *abandonedError.
	late func(p *reply, err error)
}

// abandonedError is returned when ctx ended after a request was sent; the
// request still runs to completion in the background (opts.late sees it).
type abandonedError struct{ err error }

func (e *abandonedError) Error() string { return e.err.Error() }
func (e *abandonedError) Unwrap() error { return e.err }

func isAbandoned(err error) bool {
	var a *abandonedError
	return errors.As(err, &a)
}

type rtResult struct {
	rec []byte
	err error
}

type action int

const (
	actDone action = iota
	actRetryNow
	actRetryLater
	actSessionLost
)

// session returns the current session, waiting while one is being
// re-established.
func (c *Client) session(ctx context.Context) (*session, error) {
	for {
		c.mu.Lock()
		s, ch := c.sess, c.recovering
		c.mu.Unlock()
		if s != nil {
			return s, nil
		}
		if ch == nil {
			return nil, errors.New("nfs4: no session and no recovery running (bug)")
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-c.stop:
			return nil, ErrClosed
		}
	}
}

// encodeSequenced encodes the RPC call, the COMPOUND header and the
// SEQUENCE for slot sl; the request's operations follow as a second part.
func (c *Client) encodeSequenced(xid uint32, cred Cred, s *session, sl *slot, rq *request) [][]byte {
	e := newEncoder()
	encodeCallHeader(e, xid, procCompound, cred, c.machine)
	e.str(rq.tag)
	e.u32(minorVersion)
	e.u32(uint32(len(rq.ops) + 1))
	e.u32(opSequence)
	e.fixed(s.id[:])
	e.u32(sl.seq)
	e.u32(sl.id)
	e.u32(s.highest())
	e.bool(rq.cache)
	hdr := e.bytes()
	body := rq.e.bytes()
	finishRecord(hdr, len(hdr)+len(body))
	return [][]byte{hdr, body}
}

// do sends one COMPOUND (SEQUENCE + rq) on session sess and returns its
// reply, resending on a new slot after NFS4ERR_DELAY from SEQUENCE.
// Operation results are the caller's to read. If the session is gone it
// returns errSessionReset (recovery is started): the caller rebuilds the
// request, whose stateids and client ID recovery may have replaced.
func (c *Client) do(ctx context.Context, cred Cred, rq *request, sess *session, o callOpts) (*reply, error) {
	backoff := 10 * time.Millisecond
	for {
		if c.closed() {
			return nil, ErrClosed
		}
		sl, err := sess.acquire(ctx, c.stop)
		if err != nil {
			return nil, err
		}
		xid := c.t.nextXID()
		parts := c.encodeSequenced(xid, cred, sess, sl, rq)
		sent := time.Now()
		c.st.calls.Add(1)
		ch := make(chan rtResult, 1)
		go func() {
			rec, err := c.t.roundTrip(xid, parts)
			ch <- rtResult{rec, err}
		}()
		var res rtResult
		select {
		case res = <-ch:
		case <-ctx.Done():
			// The request is on its way: let it finish so the slot is
			// released in step with the server, and report the outcome.
			late := o.late
			go func() {
				res := <-ch
				p, act, err := c.finish(sess, sl, sent, res)
				if act != actDone && err == nil {
					err = errNotExecuted
				}
				if late != nil {
					late(p, err)
				}
			}()
			return nil, &abandonedError{err: ctx.Err()}
		}
		p, act, err := c.finish(sess, sl, sent, res)
		switch act {
		case actDone:
			return p, err
		case actRetryNow:
			continue
		case actRetryLater:
			if err := c.sleep(ctx, backoff); err != nil {
				return nil, err
			}
			if backoff *= 2; backoff > time.Second {
				backoff = time.Second
			}
		case actSessionLost:
			return nil, fmt.Errorf("%w: %w", errSessionReset, err)
		}
	}
}

// errSessionReset says the session a request was sent on is gone; the
// request must be built again and sent on the next session.
var errSessionReset = errors.New("nfs4: session reset")

var errNotExecuted = errors.New("nfs4: request was not executed (retry needed)")

// finish releases the slot according to the SEQUENCE result and decides
// what the caller does next.
func (c *Client) finish(sess *session, sl *slot, sent time.Time, res rtResult) (*reply, action, error) {
	if res.err != nil {
		sl.unsure = true
		sess.release(sl)
		return nil, actDone, res.err
	}
	_, d, err := parseReplyHeader(res.rec)
	if err != nil {
		sl.seq++
		sl.unsure = true
		sess.release(sl)
		return nil, actDone, err
	}
	status := Status(d.u32())
	d.str(opaqueLimit)
	nres := int(d.u32())
	if err := d.err(); err != nil {
		sl.seq++
		sl.unsure = true
		sess.release(sl)
		return nil, actDone, err
	}
	if nres == 0 {
		// Refused before SEQUENCE ran: the slot was not used.
		sess.release(sl)
		return nil, actDone, &Error{Op: "COMPOUND", Status: status}
	}
	if op := d.u32(); op != opSequence {
		sl.seq++
		sl.unsure = true
		sess.release(sl)
		return nil, actDone, fmt.Errorf("nfs4: first result is %s, not SEQUENCE", opNames[op])
	}
	seqSt := Status(d.u32())
	switch seqSt {
	case StatusOK:
		d.fixed(sessionIDSize)
		d.u32() // sequenceid
		d.u32() // slotid
		d.u32() // highest_slotid
		d.u32() // target_highest_slotid
		flags := d.u32()
		sl.seq++
		sl.unsure = false
		sess.release(sl)
		if err := d.err(); err != nil {
			return nil, actDone, err
		}
		c.noteRenewed(sent)
		if flags&seqStatusStateRevoked != 0 {
			c.stateRevoked(flags)
		}
		return &reply{d: d, status: status, n: nres - 1}, actDone, nil
	case StatusDelay:
		sess.release(sl)
		c.st.delays.Add(1)
		return nil, actRetryLater, nil
	case StatusSeqMisordered:
		if sl.unsure {
			// The server never saw the request we were unsure about.
			sl.seq--
			sl.unsure = false
			sess.release(sl)
			return nil, actRetryNow, nil
		}
	case StatusSeqFalseRetry:
		sl.seq++
		sess.release(sl)
		return nil, actRetryNow, nil
	case StatusRetryUncachedRep:
		// A resend of a request the server executed without caching its
		// reply (we ask for caching only for non-idempotent compounds):
		// run it again under a new sequence id, as Linux does.
		sl.seq++
		sess.release(sl)
		return nil, actRetryNow, nil
	}
	// BADSESSION, DEADSESSION, BADSLOT, SEQ_MISORDERED, ...: re-establish
	// the session (and the client ID if that is gone too).
	c.sessionLost(sess, seqSt)
	return nil, actSessionLost, &Error{Op: "SEQUENCE", Status: seqSt}
}

func (c *Client) sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-c.stop:
		return ErrClosed
	}
}

// call builds a compound (build runs again for every attempt, so it can
// pick up stateids and the client ID as recovery changes them), sends it
// and parses the reply, retrying NFS4ERR_DELAY and NFS4ERR_GRACE with
// backoff for as long as it takes (a hard mount waits out a grace
// period).
func (c *Client) call(ctx context.Context, cred Cred, tag string, build func(*request) error, parse func(*reply) error, o callOpts) error {
	backoff := 20 * time.Millisecond
	staleIDs := 0
	for {
		sess := o.sess
		if sess == nil {
			var err error
			if sess, err = c.session(ctx); err != nil {
				return err
			}
		}
		rq := newRequest(tag)
		if err := build(rq); err != nil {
			return err
		}
		lo := o
		if o.late != nil {
			late := o.late
			lo.late = func(p *reply, err error) {
				if err == nil {
					err = parse(p)
				}
				late(nil, err)
			}
		}
		p, err := c.do(ctx, cred, rq, sess, lo)
		if errors.Is(err, errSessionReset) && o.sess == nil {
			continue // rebuilt with what recovery left
		}
		if err == nil {
			err = parse(p)
		}
		var e *Error
		if !errors.As(err, &e) || e.Op == "SEQUENCE" || e.Op == "COMPOUND" && e.Status != StatusDelay {
			return err
		}
		if staleHandle(e.Status) && len(rq.fhs) == 1 {
			// The file is gone (renamed over or removed by another
			// client): what the cache knows about it must not be
			// served again, or the VFS's retry of an open or stat that
			// got ESTALE (with LOOKUP_REVAL) is answered with the same
			// dead handle. The kernel client drops the dentry
			// (d_drop) and marks the inode stale likewise.
			c.cache.forget(rq.fhs[0])
		}
		switch {
		case e.Status == StatusRetryUncachedRep:
			// A resend of a request the server executed without caching
			// its reply (only non-idempotent compounds ask for caching;
			// RFC 8881 puts this status on the operation after
			// SEQUENCE): run it again under a new sequence id, as Linux
			// does.
			continue
		case e.Status == StatusDelay:
			c.st.delays.Add(1)
		case e.Status == StatusGrace:
			c.st.graceWaits.Add(1)
		case e.Status == StatusStaleClientID && o.sess == nil:
			// The body named a client ID that recovery replaced meanwhile
			// (retry with the new one), or the server forgot us.
			if staleIDs++; staleIDs > 2 {
				c.mu.Lock()
				s := c.sess
				c.mu.Unlock()
				if s != nil {
					c.sessionLost(s, StatusStaleClientID)
				}
			}
			continue
		default:
			return err
		}
		if err := c.sleep(ctx, backoff); err != nil {
			return err
		}
		if backoff *= 2; backoff > time.Second {
			backoff = time.Second
		}
	}
}

// sessionless sends a COMPOUND without SEQUENCE (EXCHANGE_ID,
// CREATE_SESSION, DESTROY_SESSION, DESTROY_CLIENTID), resending it until
// it is answered or ctx ends.
func (c *Client) sessionless(ctx context.Context, tag string, build func(*request), parse func(*reply) error) error {
	rq := newRequest(tag)
	build(rq)
	xid := c.t.nextXID()
	e := newEncoder()
	encodeCallHeader(e, xid, procCompound, Root, c.machine)
	e.str(tag)
	e.u32(minorVersion)
	e.u32(uint32(len(rq.ops)))
	hdr := e.bytes()
	body := rq.e.bytes()
	finishRecord(hdr, len(hdr)+len(body))
	c.st.calls.Add(1)
	ch := make(chan rtResult, 1)
	go func() {
		rec, err := c.t.roundTrip(xid, [][]byte{hdr, body})
		ch <- rtResult{rec, err}
	}()
	var res rtResult
	select {
	case res = <-ch:
	case <-ctx.Done():
		return ctx.Err()
	}
	if res.err != nil {
		return res.err
	}
	_, d, err := parseReplyHeader(res.rec)
	if err != nil {
		return err
	}
	status := Status(d.u32())
	d.str(opaqueLimit)
	n := int(d.u32())
	if err := d.err(); err != nil {
		return err
	}
	return parse(&reply{d: d, status: status, n: n})
}
