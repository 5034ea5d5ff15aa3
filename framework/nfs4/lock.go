package nfs4

import (
	"context"
	"errors"
	"fmt"
)

// ToEOF as a lock length means "to the end of the file, and beyond".
const ToEOF = allOnes64

// Conflict is a lock held by another owner, as LOCKT or a denied LOCK
// reports it.
type Conflict struct {
	Start, Length uint64
	Write         bool
	ClientID      uint64
	Owner         []byte
}

// lockState returns the lock state of owner on f's open state.
func (f *File) lockState(owner uint64) (*lockState, error) {
	c := f.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if f.st.lost {
		return nil, ErrStateLost
	}
	ls := f.st.locks[owner]
	if ls == nil {
		ls = &lockState{st: f.st, owner: owner, wire: lockOwnerWire(owner, f.st.key.uid)}
		f.st.locks[owner] = ls
	}
	return ls, nil
}

// Lock takes a byte-range lock [start, start+length) (length ToEOF: to
// the end) for lock owner owner (one NFSv4 lock-owner per owner). A
// conflicting lock held by another owner fails with NFS4ERR_DENIED
// (Errno EAGAIN) unless wait is set; then the lock is polled with backoff
// (LockPollMin..LockPollMax) until it is granted or ctx ends (EINTR).
func (f *File) Lock(ctx context.Context, owner uint64, write bool, start, length uint64, wait bool) error {
	c := f.c
	poll := c.cfg.LockPollMin
	for {
		ls, err := f.lockState(owner)
		if err != nil {
			return err
		}
		ls.op.Lock()
		err = f.lockOnce(ctx, ls, write, start, length, wait)
		if isAbandoned(err) {
			return err // the late handler unlocks ls.op
		}
		ls.op.Unlock()
		if err == nil {
			return nil
		}
		if retry, err2 := c.stateErr(ctx, f.st, err); retry {
			continue
		} else if !IsStatus(err2, StatusDenied) || !wait {
			return err2
		}
		c.st.lockPolls.Add(1)
		if err := c.sleep(ctx, poll); err != nil {
			return err
		}
		if poll *= 2; poll > c.cfg.LockPollMax {
			poll = c.cfg.LockPollMax
		}
	}
}

// lockOnce sends one LOCK (ls.op held). If the caller gives up while the
// LOCK is in flight, a lock granted later is released at once.
func (f *File) lockOnce(ctx context.Context, ls *lockState, write bool, start, length uint64, wait bool) error {
	c := f.c
	typ := uint32(lockRead)
	if write {
		typ = lockWrite
	}
	wireTyp := typ
	if wait {
		wireTyp += 2 // READW_LT, WRITEW_LT
	}
	end := rangeEnd(start, length)
	var sid stateID
	record := func() {
		c.mu.Lock()
		ls.sid, ls.has = sid, true
		ls.held.add(start, end, typ)
		c.mu.Unlock()
	}
	err := c.call(ctx, f.st.cred, "lock", func(rq *request) error {
		c.mu.Lock()
		if f.st.lost {
			c.mu.Unlock()
			return ErrStateLost
		}
		a := lockArgs{typ: wireTyp, off: start, length: length, newOwner: !ls.has,
			openState: f.st.sid.current(), lockState: ls.sid.current(), clientID: c.clientID, owner: ls.wire}
		c.mu.Unlock()
		rq.putFH(f.fh)
		rq.lock(a)
		return nil
	}, func(p *reply) error {
		if err := p.ok(opPutFH); err != nil {
			return err
		}
		var err error
		sid, err = p.lock(opLock, nil)
		return err
	}, callOpts{late: func(_ *reply, err error) {
		defer ls.op.Unlock()
		if err != nil {
			return
		}
		record()
		c.cfg.Logf("lock granted after its caller gave up: releasing it")
		_ = c.unlockLocked(context.Background(), ls, start, length)
	}})
	if err == nil {
		record()
	}
	return err
}

// Unlock releases [start, start+length) of owner's locks (LOCKU).
func (f *File) Unlock(ctx context.Context, owner uint64, start, length uint64) error {
	c := f.c
	c.mu.Lock()
	if f.st.lost {
		c.mu.Unlock()
		return ErrStateLost
	}
	ls := f.st.locks[owner]
	c.mu.Unlock()
	if ls == nil {
		return nil
	}
	ls.op.Lock()
	err := c.unlockLocked(ctx, ls, start, length)
	if isAbandoned(err) {
		return err
	}
	ls.op.Unlock()
	if _, err2 := c.stateErr(ctx, f.st, err); err2 != nil {
		return err2
	}
	return nil
}

// unlockLocked sends LOCKU for ls (ls.op held) and frees the lock stateid
// when no lock is left, as Linux does.
func (c *Client) unlockLocked(ctx context.Context, ls *lockState, start, length uint64) error {
	c.mu.Lock()
	if !ls.has || ls.lost {
		ls.held.remove(start, rangeEnd(start, length))
		c.mu.Unlock()
		return nil
	}
	c.mu.Unlock()
	end := rangeEnd(start, length)
	var sid stateID
	done := func() {
		c.mu.Lock()
		ls.sid = sid
		ls.held.remove(start, end)
		c.mu.Unlock()
	}
	err := c.call(ctx, ls.st.cred, "unlock", func(rq *request) error {
		c.mu.Lock()
		s := ls.sid.current()
		c.mu.Unlock()
		rq.putFH(ls.st.key.fh)
		rq.locku(lockWrite, s, start, length)
		return nil
	}, func(p *reply) error {
		if err := p.ok(opPutFH); err != nil {
			return err
		}
		var err error
		sid, err = p.stateid(opLockU)
		return err
	}, callOpts{late: func(_ *reply, err error) {
		if err == nil {
			done()
		}
		ls.op.Unlock()
	}})
	if err != nil {
		return err
	}
	done()
	c.mu.Lock()
	free := ls.held.empty()
	c.mu.Unlock()
	if free {
		c.freeLockStateID(ctx, ls)
	}
	return nil
}

func (c *Client) freeLockStateID(ctx context.Context, ls *lockState) {
	c.mu.Lock()
	s := ls.sid
	c.mu.Unlock()
	err := c.call(ctx, ls.st.cred, "free_stateid", func(rq *request) error {
		rq.freeStateID(s)
		return nil
	}, func(p *reply) error { return p.ok(opFreeStateID) }, callOpts{})
	if err == nil || IsStatus(err, StatusBadStateID) || IsStatus(err, StatusExpired) {
		c.mu.Lock()
		if ls.held.empty() {
			ls.has = false
		}
		c.mu.Unlock()
	}
}

// dropLockState releases whatever ls still holds and frees its stateid
// (before CLOSE).
func (c *Client) dropLockState(ctx context.Context, ls *lockState) {
	ls.op.Lock()
	defer ls.op.Unlock()
	c.mu.Lock()
	held := !ls.held.empty()
	has := ls.has
	c.mu.Unlock()
	if held {
		_ = c.unlockLocked(ctx, ls, 0, ToEOF)
	} else if has {
		c.freeLockStateID(ctx, ls)
	}
}

// ReleaseOwner releases every lock owner holds on the file: what the
// kernel asks for when the owner closes the file (POSIX locks on FLUSH,
// flock on RELEASE). Errors are not reported for lost state: there is
// nothing left to release.
func (f *File) ReleaseOwner(ctx context.Context, owner uint64) error {
	c := f.c
	c.mu.Lock()
	ls := f.st.locks[owner]
	held := ls != nil && !ls.held.empty() && !ls.lost
	c.mu.Unlock()
	if !held {
		return nil
	}
	ls.op.Lock()
	err := c.unlockLocked(ctx, ls, 0, ToEOF)
	if isAbandoned(err) {
		return err
	}
	ls.op.Unlock()
	var e *Error
	if errors.As(err, &e) && stateLossStatus(e.Status) {
		return nil
	}
	return err
}

// TestLock asks whether [start, start+length) could be locked by owner
// (LOCKT): nil when it could, else the conflicting lock.
func (f *File) TestLock(ctx context.Context, owner uint64, write bool, start, length uint64) (*Conflict, error) {
	c := f.c
	c.mu.Lock()
	lost := f.st.lost
	c.mu.Unlock()
	if lost {
		return nil, ErrStateLost
	}
	typ := uint32(lockRead)
	if write {
		typ = lockWrite
	}
	var den lockDenied
	err := c.call(ctx, f.st.cred, "lockt", func(rq *request) error {
		rq.putFH(f.fh)
		rq.lockt(typ, start, length, c.clientIDNow(), lockOwnerWire(owner, f.st.key.uid))
		return nil
	}, func(p *reply) error {
		if err := p.ok(opPutFH); err != nil {
			return err
		}
		_, err := p.lock(opLockT, &den)
		return err
	}, callOpts{})
	if err == nil {
		return nil, nil
	}
	if IsStatus(err, StatusDenied) {
		return &Conflict{Start: den.off, Length: den.length, Write: den.typ == lockWrite || den.typ == lockWriteW,
			ClientID: den.clientID, Owner: den.owner}, nil
	}
	return nil, fmt.Errorf("nfs4: LOCKT: %w", err)
}

// HeldLocks reports the ranges owner holds on the file (for tests and
// diagnostics).
func (f *File) HeldLocks(owner uint64) int {
	f.c.mu.Lock()
	defer f.c.mu.Unlock()
	ls := f.st.locks[owner]
	if ls == nil {
		return 0
	}
	return len(ls.held.r)
}

// releaseAll gives back every lock and open (Close).
func (c *Client) releaseAll(ctx context.Context) {
	for _, st := range c.liveStates() {
		c.mu.Lock()
		var owners []*lockState
		for _, ls := range st.locks {
			if ls.has && !ls.lost {
				owners = append(owners, ls)
			}
		}
		c.mu.Unlock()
		for _, ls := range owners {
			if ctx.Err() != nil {
				return
			}
			_ = c.unlockLocked(ctx, ls, 0, ToEOF)
		}
		_ = c.call(ctx, st.cred, "close", func(rq *request) error {
			c.mu.Lock()
			sid := st.sid.current()
			c.mu.Unlock()
			rq.putFH(st.key.fh)
			rq.close(sid)
			return nil
		}, func(p *reply) error { return p.ok(opPutFH) }, callOpts{})
		c.mu.Lock()
		st.valid = false
		c.mu.Unlock()
	}
}
