package nfs4

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
)

// openKey names an open state: one per file and uid, like Linux's
// nfs4_state per open-owner (credential) and inode.
type openKey struct {
	fh  FH
	uid uint32
}

// openState is the NFSv4 open state of one file for one uid, shared by
// every File open on it. Fields are guarded by Client.mu; no RPC is made
// while holding it.
type openState struct {
	key    openKey
	cred   Cred
	sid    stateID
	access uint32
	refs   int  // Files using it, plus OPENs in flight for it
	valid  bool // the server holds it (CLOSE it when done)
	lost   bool // its state was lost: every File on it fails with EIO
	closed bool // last reference gone; a CLOSE may be under way
	locks  map[uint64]*lockState
}

// lockState is the NFSv4 lock state of one lock-owner (a FUSE lock owner)
// on one open state.
type lockState struct {
	st    *openState
	owner uint64
	wire  []byte
	// op serializes LOCK and LOCKU of this owner on this file: the first
	// LOCK creates the lock stateid (open_to_lock_owner4), later ones use
	// it. Held across the RPC; recovery never takes it.
	op sync.Mutex
	// guarded by Client.mu:
	sid  stateID
	has  bool // the server holds a lock stateid for it
	held rangeSet
	lost bool
}

func openOwner(uid uint32) []byte {
	b := make([]byte, 0, 16)
	b = append(b, "open"...)
	return binary.BigEndian.AppendUint32(b, uid)
}

func lockOwnerWire(owner uint64, uid uint32) []byte {
	b := make([]byte, 0, 16)
	b = append(b, "lk"...)
	b = binary.BigEndian.AppendUint64(b, owner)
	return binary.BigEndian.AppendUint32(b, uid)
}

// liveStates returns the open states the server should hold.
func (c *Client) liveStates() []*openState {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []*openState
	for _, st := range c.opens {
		if st.valid && !st.lost {
			out = append(out, st)
		}
	}
	return out
}

// markLost makes st and its locks fail with EIO from now on.
func (c *Client) markLost(st *openState, why string) {
	c.mu.Lock()
	if st.lost {
		c.mu.Unlock()
		return
	}
	st.lost = true
	st.valid = false
	nlocks := 0
	for _, ls := range st.locks {
		if !ls.held.empty() {
			nlocks++
			c.st.lostLocks.Add(1)
		}
		ls.lost = true
		ls.has = false
	}
	if c.opens[st.key] == st {
		delete(c.opens, st.key)
	}
	c.mu.Unlock()
	c.st.lostOpens.Add(1)
	c.cfg.Logf("LOST open state of file %x (uid %d, %d lock owners holding locks): %s; its open files fail with EIO until closed",
		shortFH(st.key.fh), st.key.uid, nlocks, why)
}

func shortFH(fh FH) []byte {
	b := []byte(fh)
	if len(b) > 8 {
		b = b[len(b)-8:]
	}
	return b
}

// reclaimOpen reclaims st and its locks after a server restart
// (OPEN CLAIM_PREVIOUS, LOCK reclaim=true) on session s.
func (c *Client) reclaimOpen(ctx context.Context, s *session, st *openState) error {
	c.mu.Lock()
	access := st.access
	c.mu.Unlock()
	var res openResult
	err := c.call(ctx, st.cred, "reclaim", func(rq *request) error {
		rq.putFH(st.key.fh)
		rq.open(openArgs{owner: openOwner(st.key.uid), clientID: s.clientID, access: access, claim: claimPrevious})
		return nil
	}, func(p *reply) error {
		if err := p.ok(opPutFH); err != nil {
			return err
		}
		var err error
		res, err = p.open()
		return err
	}, callOpts{sess: s})
	if err != nil {
		return recoveryErr(err)
	}
	c.mu.Lock()
	st.sid = res.state
	owners := c.lockOwners(st)
	c.mu.Unlock()
	c.st.reclaimedOpens.Add(1)
	for _, ls := range owners {
		if err := c.relock(ctx, s, ls, true); err != nil {
			return err
		}
	}
	return nil
}

// lockOwners returns st's lock states that hold locks (c.mu held).
func (c *Client) lockOwners(st *openState) []*lockState {
	var out []*lockState
	for _, ls := range st.locks {
		ls.has = false
		if !ls.held.empty() && !ls.lost {
			out = append(out, ls)
		}
	}
	return out
}

// relock takes every range ls held again, as reclaims (after a server
// restart, in grace) or as new locks (RecoverLostLocks).
func (c *Client) relock(ctx context.Context, s *session, ls *lockState, reclaim bool) error {
	c.mu.Lock()
	ranges := ls.held.list()
	c.mu.Unlock()
	for _, r := range ranges {
		var sid stateID
		err := c.call(ctx, ls.st.cred, "relock", func(rq *request) error {
			c.mu.Lock()
			a := lockArgs{typ: r.typ, reclaim: reclaim, off: r.start, length: r.length(),
				newOwner: !ls.has, openState: ls.st.sid.current(), lockState: ls.sid.current(),
				clientID: c.clientID, owner: ls.wire}
			c.mu.Unlock()
			rq.putFH(ls.st.key.fh)
			rq.lock(a)
			return nil
		}, func(p *reply) error {
			if err := p.ok(opPutFH); err != nil {
				return err
			}
			var err error
			sid, err = p.lock(opLock, nil)
			return err
		}, callOpts{sess: s})
		if err != nil {
			return recoveryErr(err)
		}
		c.mu.Lock()
		ls.sid, ls.has = sid, true
		c.mu.Unlock()
		if reclaim {
			c.st.reclaimedLocks.Add(1)
		} else {
			c.st.recoveredLocks.Add(1)
		}
	}
	return nil
}

// reopen re-takes st and its locks as new state (RecoverLostLocks): an
// OPEN by file handle and new LOCKs. It succeeds silently if nobody else
// holds the locks now; that another client held them meanwhile is not
// detected (the silent split brain of Linux's recover_lost_locks=1).
func (c *Client) reopen(ctx context.Context, s *session, st *openState) error {
	c.mu.Lock()
	access := st.access
	c.mu.Unlock()
	var res openResult
	err := c.call(ctx, st.cred, "reopen", func(rq *request) error {
		rq.putFH(st.key.fh)
		rq.open(openArgs{owner: openOwner(st.key.uid), clientID: c.clientIDNow(), access: access, claim: claimFH})
		return nil
	}, func(p *reply) error {
		if err := p.ok(opPutFH); err != nil {
			return err
		}
		var err error
		res, err = p.open()
		return err
	}, callOpts{sess: s})
	if err != nil {
		return recoveryErr(err)
	}
	c.mu.Lock()
	st.sid = res.state
	owners := c.lockOwners(st)
	c.mu.Unlock()
	c.st.recoveredOpens.Add(1)
	for _, ls := range owners {
		if err := c.relock(ctx, s, ls, false); err != nil {
			return err
		}
	}
	c.cfg.Logf("RECOVERED open state of file %x with %d lock owners as NEW state (recover_lost_locks): another client may have held these locks and changed the file meanwhile",
		shortFH(st.key.fh), len(owners))
	return nil
}

// stateErr is called when a stateful operation on st failed with err. A
// status saying the state is gone has the server's view checked
// (TEST_STATEID) and, in the default mode, marks st lost. With
// RecoverLostLocks it waits for the check, which re-takes the state, and
// says whether to retry the operation.
func (c *Client) stateErr(ctx context.Context, st *openState, err error) (bool, error) {
	var e *Error
	if !errors.As(err, &e) || !stateLossStatus(e.Status) {
		return false, err
	}
	c.st.revocations.Add(1)
	if !c.cfg.RecoverLostLocks {
		c.markLost(st, fmt.Sprintf("%s said %s", e.Op, e.Status))
		c.kickCheck()
		return false, fmt.Errorf("%w (%v)", ErrStateLost, err)
	}
	select {
	case <-c.kickCheck():
	case <-ctx.Done():
		return false, ctx.Err()
	}
	c.mu.Lock()
	lost := st.lost
	c.mu.Unlock()
	if lost {
		return false, fmt.Errorf("%w (%v)", ErrStateLost, err)
	}
	return true, nil
}
