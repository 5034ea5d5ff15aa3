package nfs4

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
)

// Share access modes for Open and Create.
const (
	AccessRead      = shareAccessRead
	AccessWrite     = shareAccessWrite
	AccessReadWrite = shareAccessRead | shareAccessWrite
)

// maxDirty bounds the unstable (uncommitted) data a File keeps for resending
// after a server restart; beyond it the File commits.
const maxDirty = 32 << 20

// File is one open of a file (an open(2) in the FUSE layer). Its open
// state on the server is shared with other Files of the same file and uid.
type File struct {
	c      *Client
	st     *openState
	fh     FH
	access uint32

	mu     sync.Mutex
	closed bool

	// Unstable writes not yet committed, kept to be written again if the
	// server's write verifier changes (it restarted and may have lost
	// them), as the kernel keeps dirty pages until COMMIT.
	smu        sync.Mutex // one Sync at a time
	dmu        sync.Mutex
	dirty      []dirtyWrite
	dirtyBytes int
}

type dirtyWrite struct {
	off  uint64
	data []byte
	verf [verifierSize]byte
}

// FH is the file's handle.
func (f *File) FH() FH { return f.fh }

// Lost reports whether the file's open state was lost (its operations
// fail with EIO).
func (f *File) Lost() bool {
	f.c.mu.Lock()
	defer f.c.mu.Unlock()
	return f.st.lost
}

// openSID returns the stateid for I/O, or ErrStateLost.
func (f *File) openSID() (stateID, error) {
	f.c.mu.Lock()
	defer f.c.mu.Unlock()
	if f.st.lost {
		return stateID{}, ErrStateLost
	}
	return f.st.sid.current(), nil
}

// Open opens the file fh (OPEN with CLAIM_FH) for access (AccessRead,
// AccessWrite or both) as cred, and returns its attributes (close-to-open:
// an open always asks the server).
func (c *Client) Open(ctx context.Context, cred Cred, fh FH, access uint32) (*File, Attr, error) {
	key := openKey{fh, cred.Uid}
	ol := c.ownerLock(cred.Uid)
	ol.RLock()
	c.mu.Lock()
	st := c.opens[key]
	if st == nil || st.lost {
		st = &openState{key: key, cred: cred, locks: map[uint64]*lockState{}}
		c.opens[key] = st
	}
	st.refs++
	st.closed = false
	want := st.access | access
	need := !st.valid || st.access&access != access
	c.mu.Unlock()

	var a Attr
	if !need {
		ol.RUnlock()
		var err error
		if a, err = c.getattr(ctx, cred, fh); err != nil {
			c.release(st)
			return nil, Attr{}, err
		}
		return &File{c: c, st: st, fh: fh, access: access}, a, nil
	}
	var res openResult
	done := func(err error) {
		if err == nil {
			c.openDone(st, res, want)
		}
		ol.RUnlock()
	}
	err := c.call(ctx, cred, "open", func(rq *request) error {
		rq.putFH(fh)
		rq.open(openArgs{owner: openOwner(cred.Uid), clientID: c.clientIDNow(), access: want, claim: claimFH})
		rq.getattr(fileAttrs)
		return nil
	}, func(p *reply) error {
		if err := p.ok(opPutFH); err != nil {
			return err
		}
		var err error
		if res, err = p.open(); err != nil {
			return err
		}
		return p.attrs(&a)
	}, callOpts{late: func(_ *reply, err error) {
		done(err)
		c.release(st)
	}})
	if isAbandoned(err) {
		return nil, Attr{}, err
	}
	done(err)
	if err != nil {
		c.release(st)
		return nil, Attr{}, err
	}
	c.cache.put(fh, a)
	return &File{c: c, st: st, fh: fh, access: access}, a, nil
}

func (c *Client) openDone(st *openState, res openResult, want uint32) {
	c.mu.Lock()
	st.sid = res.state
	st.valid = true
	st.access |= want
	c.mu.Unlock()
	if res.deleg == delegRead || res.deleg == delegWrite {
		// Not asked for (no back channel); give it back.
		go func() {
			_ = c.call(context.Background(), st.cred, "delegreturn", func(rq *request) error {
				rq.putFH(st.key.fh)
				rq.delegReturn(res.dstate)
				return nil
			}, func(p *reply) error { return nil }, callOpts{})
		}()
	}
}

// CreateMode says how Create treats an existing file.
type CreateMode int

// Create modes.
const (
	CreateUnchecked CreateMode = iota // open it (O_CREAT)
	CreateGuarded                     // fail with EEXIST (O_CREAT|O_EXCL)
)

// Create creates and opens name in dir (OPEN with CLAIM_NULL and
// OPEN4_CREATE) with the attributes in attrs (mode), and returns the open
// file, its handle and attributes.
func (c *Client) Create(ctx context.Context, cred Cred, dir FH, name string, mode CreateMode, attrs *SetAttr, access uint32) (*File, FH, Attr, error) {
	ol := c.ownerLock(cred.Uid)
	ol.RLock()
	how := uint32(createUnchecked)
	if mode == CreateGuarded {
		how = createGuarded
	}
	var res openResult
	var fh FH
	var a Attr
	register := func() *openState {
		key := openKey{fh, cred.Uid}
		c.mu.Lock()
		defer c.mu.Unlock()
		st := c.opens[key]
		if st == nil || st.lost {
			st = &openState{key: key, cred: cred, locks: map[uint64]*lockState{}}
			c.opens[key] = st
		}
		st.refs++
		st.closed = false
		st.sid = res.state
		st.valid = true
		st.access |= access
		return st
	}
	err := c.call(ctx, cred, "create", func(rq *request) error {
		rq.putFH(dir)
		rq.open(openArgs{owner: openOwner(cred.Uid), clientID: c.clientIDNow(), access: access,
			claim: claimNull, name: name, create: true, how: how, attrs: attrs})
		rq.getFH()
		rq.getattr(fileAttrs)
		return nil
	}, func(p *reply) error {
		if err := p.ok(opPutFH); err != nil {
			return err
		}
		var err error
		if res, err = p.open(); err != nil {
			return err
		}
		if fh, err = p.fh(); err != nil {
			return err
		}
		return p.attrs(&a)
	}, callOpts{late: func(_ *reply, err error) {
		if err != nil {
			ol.RUnlock()
			return
		}
		st := register()
		ol.RUnlock()
		c.release(st)
	}})
	c.cache.dirChanged(dir, name)
	if isAbandoned(err) {
		return nil, "", Attr{}, err
	}
	if err != nil {
		ol.RUnlock()
		var e *Error
		if errors.As(err, &e) {
			e.Path = name
		}
		return nil, "", Attr{}, err
	}
	st := register()
	ol.RUnlock()
	c.cache.put(fh, a)
	return &File{c: c, st: st, fh: fh, access: access}, fh, a, nil
}

// release drops one reference to st and closes it on the server after
// the last one.
func (c *Client) release(st *openState) {
	c.mu.Lock()
	st.refs--
	if st.refs > 0 {
		c.mu.Unlock()
		return
	}
	if !st.valid {
		if c.opens[st.key] == st {
			delete(c.opens, st.key)
		}
		c.mu.Unlock()
		return
	}
	st.closed = true
	c.mu.Unlock()
	c.closeState(st)
}

// closeState releases leftover locks and CLOSEs st, unless an OPEN took
// it up again meanwhile. It holds the open-owner lock exclusively so no
// OPEN of this uid can be merged by the server into the state it closes.
func (c *Client) closeState(st *openState) {
	ctx := context.Background()
	ol := c.ownerLock(st.key.uid)
	ol.Lock()
	defer ol.Unlock()
	c.mu.Lock()
	if st.refs > 0 || !st.valid {
		st.closed = false
		if !st.valid && st.refs == 0 && c.opens[st.key] == st {
			delete(c.opens, st.key)
		}
		c.mu.Unlock()
		return
	}
	var owners []*lockState
	for _, ls := range st.locks {
		if ls.has {
			owners = append(owners, ls)
		}
	}
	c.mu.Unlock()
	for _, ls := range owners {
		c.dropLockState(ctx, ls)
	}
	err := c.call(ctx, st.cred, "close", func(rq *request) error {
		c.mu.Lock()
		sid := st.sid.current()
		c.mu.Unlock()
		rq.putFH(st.key.fh)
		rq.close(sid)
		return nil
	}, func(p *reply) error {
		if err := p.ok(opPutFH); err != nil {
			return err
		}
		_, err := p.stateid(opClose)
		return err
	}, callOpts{})
	if err != nil && !errors.Is(err, ErrClosed) {
		var e *Error
		if !errors.As(err, &e) || !stateLossStatus(e.Status) {
			c.cfg.Logf("CLOSE of file %x: %v", shortFH(st.key.fh), err)
		}
	}
	c.mu.Lock()
	st.valid = false
	if c.opens[st.key] == st {
		delete(c.opens, st.key)
	}
	c.mu.Unlock()
}

// Close closes the file: its open state is CLOSEd on the server when it
// was the last File of it. Locks must have been released
// (ReleaseOwner); any left are released here.
func (f *File) Close() error {
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return nil
	}
	f.closed = true
	f.mu.Unlock()
	f.c.release(f.st)
	return nil
}

// ReadAt reads len(p) bytes at off (fewer at the end of the file, with
// io.EOF).
func (f *File) ReadAt(ctx context.Context, p []byte, off int64) (int, error) {
	c := f.c
	total := 0
	for total < len(p) {
		n := len(p) - total
		if n > int(c.maxRead) {
			n = int(c.maxRead)
		}
		buf := p[total : total+n]
		var got int
		var eof bool
		for {
			at := uint64(off) + uint64(total)
			err := c.call(ctx, f.st.cred, "read", func(rq *request) error {
				// The stateid is read at every attempt: recovery may
				// have replaced it, or lost it, while we waited.
				sid, err := f.openSID()
				if err != nil {
					return err
				}
				rq.putFH(f.fh)
				rq.read(sid, at, uint32(n))
				return nil
			}, func(r *reply) error {
				if err := r.ok(opPutFH); err != nil {
					return err
				}
				var err error
				got, eof, err = r.read(buf)
				return err
			}, callOpts{})
			if err != nil {
				retry, err := c.stateErr(ctx, f.st, err)
				if retry {
					continue
				}
				return total, err
			}
			break
		}
		total += got
		if eof || got == 0 {
			return total, io.EOF
		}
	}
	return total, nil
}

// WriteAt writes p at off as UNSTABLE writes (committed by Sync, as the
// kernel does on fsync and close).
func (f *File) WriteAt(ctx context.Context, p []byte, off int64) (int, error) {
	c := f.c
	total := 0
	for total < len(p) {
		n := len(p) - total
		if n > int(c.maxWrite) {
			n = int(c.maxWrite)
		}
		at := uint64(off) + uint64(total)
		w, err := f.writeChunk(ctx, p[total:total+n], at, stableUnstable)
		if err != nil {
			return total, err
		}
		if w.count == 0 {
			return total, fmt.Errorf("nfs4: WRITE wrote 0 bytes at %d", at)
		}
		if w.committed == stableUnstable {
			f.dmu.Lock()
			f.dirty = append(f.dirty, dirtyWrite{off: at, data: append([]byte(nil), p[total:total+int(w.count)]...), verf: w.verf})
			f.dirtyBytes += int(w.count)
			over := f.dirtyBytes > maxDirty
			f.dmu.Unlock()
			if over {
				if err := f.Sync(ctx); err != nil {
					return total + int(w.count), err
				}
			}
		}
		total += int(w.count)
	}
	c.cache.invalidate(f.fh)
	return total, nil
}

func (f *File) writeChunk(ctx context.Context, data []byte, at uint64, stable uint32) (writeResult, error) {
	c := f.c
	for {
		var w writeResult
		err := c.call(ctx, f.st.cred, "write", func(rq *request) error {
			sid, err := f.openSID()
			if err != nil {
				return err
			}
			rq.putFH(f.fh)
			rq.write(sid, at, stable, data)
			return nil
		}, func(r *reply) error {
			if err := r.ok(opPutFH); err != nil {
				return err
			}
			var err error
			w, err = r.write()
			return err
		}, callOpts{})
		if err != nil {
			retry, err := c.stateErr(ctx, f.st, err)
			if retry {
				continue
			}
			return w, err
		}
		return w, nil
	}
}

// Sync commits the file's unstable writes (COMMIT) and writes again, with
// FILE_SYNC, those the server may have lost (its write verifier changed:
// it restarted). A file whose state was lost fails with ErrStateLost.
func (f *File) Sync(ctx context.Context) error {
	if _, err := f.openSID(); err != nil {
		return err
	}
	f.smu.Lock()
	defer f.smu.Unlock()
	f.dmu.Lock()
	pending := f.dirty
	f.dmu.Unlock()
	if len(pending) == 0 {
		return nil
	}
	c := f.c
	var verf [verifierSize]byte
	err := c.call(ctx, f.st.cred, "commit", func(rq *request) error {
		rq.putFH(f.fh)
		rq.commit(0, 0)
		return nil
	}, func(r *reply) error {
		if err := r.ok(opPutFH); err != nil {
			return err
		}
		var err error
		verf, err = r.commit()
		return err
	}, callOpts{})
	if err != nil {
		return err
	}
	lost := 0
	for _, w := range pending {
		if w.verf != verf {
			lost++
		}
	}
	if lost > 0 {
		// The server restarted and may have lost unstable data: write
		// everything pending again, oldest first, so later writes win.
		c.cfg.Logf("write verifier of file %x changed (server restarted): writing %d uncommitted writes again", shortFH(f.fh), len(pending))
		for _, w := range pending {
			if _, err := f.writeChunk(ctx, w.data, w.off, stableFileSync); err != nil {
				return err
			}
		}
	}
	f.dmu.Lock()
	// Writes appended while we committed stay for the next Sync.
	f.dirty = append([]dirtyWrite(nil), f.dirty[len(pending):]...)
	f.dirtyBytes = 0
	for _, w := range f.dirty {
		f.dirtyBytes += len(w.data)
	}
	f.dmu.Unlock()
	return nil
}

// Flush commits unstable writes, if there are any (close(2)): a file
// whose state was lost fails only when it had data to write, as on Linux.
func (f *File) Flush(ctx context.Context) error {
	f.dmu.Lock()
	n := len(f.dirty)
	f.dmu.Unlock()
	if n == 0 {
		return nil
	}
	return f.Sync(ctx)
}

// Setattr changes attributes through the open file (the open stateid
// authorizes a size change, as ftruncate on an open file does).
func (f *File) Setattr(ctx context.Context, a *SetAttr) (Attr, error) {
	for {
		if _, err := f.openSID(); err != nil {
			return Attr{}, err
		}
		attr, err := f.c.setattr(ctx, f.st.cred, f.fh, func() (stateID, error) {
			if a.Size == nil {
				return anonStateID, nil
			}
			return f.openSID()
		}, a)
		if err != nil {
			retry, err := f.c.stateErr(ctx, f.st, err)
			if retry {
				continue
			}
			return Attr{}, err
		}
		return attr, nil
	}
}
