package nfs4

import (
	"fmt"
)

// FH is an NFSv4 file handle (opaque bytes, kept as a string so it can be
// a map key).
type FH string

// stateID is stateid4.
type stateID struct {
	seq   uint32
	other [stateIDOther]byte
}

// anonStateID is the anonymous stateid (all zeros): I/O and SETATTR
// without open state.
var anonStateID = stateID{}

func (s stateID) String() string { return fmt.Sprintf("%d:%x", s.seq, s.other) }

func encodeStateID(e *encoder, s stateID) {
	e.u32(s.seq)
	e.fixed(s.other[:])
}

// current is the stateid with seqid 0: "the most recent" in NFSv4.1
// (RFC 8881 section 8.2.2), so concurrent OPENs and LOCKs that bump the
// seqid never make another caller's copy OLD_STATEID.
func (s stateID) current() stateID { return stateID{other: s.other} }

func decodeStateID(d *decoder) stateID {
	var s stateID
	s.seq = d.u32()
	copy(s.other[:], d.fixed(stateIDOther))
	return s
}

// request is the operations of one COMPOUND after its SEQUENCE, encoded
// once; the SEQUENCE (which depends on the slot) is put in front per send.
type request struct {
	e   *encoder
	ops []uint32
	tag string
	// cache asks the server to keep the reply in the slot's replay cache
	// (non-idempotent operations, so a resend after a lost reply gets the
	// original answer).
	cache bool
	// fhs are the handles the compound puts, in order (PUTFH).
	fhs []FH
}

func newRequest(tag string) *request { return &request{e: newEncoder(), tag: tag} }

func (r *request) op(code uint32) {
	r.ops = append(r.ops, code)
	r.e.u32(code)
}

func (r *request) putRootFH() { r.op(opPutRootFH) }

func (r *request) putFH(fh FH) {
	r.fhs = append(r.fhs, fh)
	r.op(opPutFH)
	r.e.opaque([]byte(fh))
}

func (r *request) getFH() { r.op(opGetFH) }

func (r *request) saveFH()    { r.op(opSaveFH) }
func (r *request) restoreFH() { r.op(opRestoreFH) }

func (r *request) lookup(name string) {
	r.op(opLookup)
	r.e.str(name)
}

func (r *request) lookupP() { r.op(opLookupP) }

func (r *request) getattr(m []uint32) {
	r.op(opGetattr)
	r.e.bitmap(m)
}

func (r *request) access(bits uint32) {
	r.op(opAccess)
	r.e.u32(bits)
}

// openArgs are OPEN's arguments.
type openArgs struct {
	owner    []byte
	clientID uint64
	access   uint32
	// claim: claimNull (name in the current dir), claimFH (the current
	// fh), claimPrevious (reclaim after a server restart).
	claim  uint32
	name   string
	create bool
	how    uint32 // createUnchecked, createGuarded, createExclusive
	attrs  *SetAttr
	verf   [verifierSize]byte
}

func (r *request) open(a openArgs) {
	r.op(opOpen)
	r.cache = true
	r.e.u32(0) // seqid: ignored in 4.1
	r.e.u32(a.access | shareAccessWantNoDeleg)
	r.e.u32(shareDenyNone)
	r.e.u64(a.clientID)
	r.e.opaque(a.owner)
	if a.create {
		r.e.u32(openCreate)
		r.e.u32(a.how)
		switch a.how {
		case createUnchecked, createGuarded:
			encodeFattr(r.e, a.attrs)
		case createExclusive:
			r.e.fixed(a.verf[:])
			encodeFattr(r.e, a.attrs)
		}
	} else {
		r.e.u32(openNoCreate)
	}
	r.e.u32(a.claim)
	switch a.claim {
	case claimNull:
		r.e.str(a.name)
	case claimPrevious:
		r.e.u32(delegNone)
	case claimFH:
	}
}

func (r *request) close(s stateID) {
	r.op(opClose)
	r.cache = true
	r.e.u32(0)
	encodeStateID(r.e, s)
}

func (r *request) read(s stateID, off uint64, n uint32) {
	r.op(opRead)
	encodeStateID(r.e, s)
	r.e.u64(off)
	r.e.u32(n)
}

func (r *request) write(s stateID, off uint64, stable uint32, data []byte) {
	r.op(opWrite)
	encodeStateID(r.e, s)
	r.e.u64(off)
	r.e.u32(stable)
	r.e.opaque(data)
}

func (r *request) commit(off uint64, n uint32) {
	r.op(opCommit)
	r.e.u64(off)
	r.e.u32(n)
}

func (r *request) mkdir(name string, attrs *SetAttr) {
	r.op(opCreate)
	r.cache = true
	r.e.u32(typeDir)
	r.e.str(name)
	encodeFattr(r.e, attrs)
}

func (r *request) symlink(name, target string, attrs *SetAttr) {
	r.op(opCreate)
	r.cache = true
	r.e.u32(typeLnk)
	r.e.str(target)
	r.e.str(name)
	encodeFattr(r.e, attrs)
}

func (r *request) readlink() { r.op(opReadLink) }

func (r *request) remove(name string) {
	r.op(opRemove)
	r.cache = true
	r.e.str(name)
}

func (r *request) rename(oldName, newName string) {
	r.op(opRename)
	r.cache = true
	r.e.str(oldName)
	r.e.str(newName)
}

func (r *request) link(name string) {
	r.op(opLink)
	r.cache = true
	r.e.str(name)
}

func (r *request) readdir(cookie uint64, verf [verifierSize]byte, dircount, maxcount uint32, m []uint32) {
	r.op(opReadDir)
	r.e.u64(cookie)
	r.e.fixed(verf[:])
	r.e.u32(dircount)
	r.e.u32(maxcount)
	r.e.bitmap(m)
}

func (r *request) setattr(s stateID, a *SetAttr) {
	r.op(opSetattr)
	r.cache = true
	encodeStateID(r.e, s)
	encodeFattr(r.e, a)
}

// lockArgs are LOCK's arguments.
type lockArgs struct {
	typ     uint32
	reclaim bool
	off     uint64
	length  uint64
	// newOwner: first lock of this lock-owner on this file (open_to_lock_owner4).
	newOwner  bool
	openState stateID
	lockState stateID
	clientID  uint64
	owner     []byte
}

func (r *request) lock(a lockArgs) {
	r.op(opLock)
	r.cache = true
	r.e.u32(a.typ)
	r.e.bool(a.reclaim)
	r.e.u64(a.off)
	r.e.u64(a.length)
	r.e.bool(a.newOwner)
	if a.newOwner {
		r.e.u32(0) // open_seqid
		encodeStateID(r.e, a.openState)
		r.e.u32(0) // lock_seqid
		r.e.u64(a.clientID)
		r.e.opaque(a.owner)
	} else {
		encodeStateID(r.e, a.lockState)
		r.e.u32(0)
	}
}

func (r *request) lockt(typ uint32, off, length uint64, clientID uint64, owner []byte) {
	r.op(opLockT)
	r.e.u32(typ)
	r.e.u64(off)
	r.e.u64(length)
	r.e.u64(clientID)
	r.e.opaque(owner)
}

func (r *request) locku(typ uint32, s stateID, off, length uint64) {
	r.op(opLockU)
	r.cache = true
	r.e.u32(typ)
	r.e.u32(0)
	encodeStateID(r.e, s)
	r.e.u64(off)
	r.e.u64(length)
}

func (r *request) freeStateID(s stateID) {
	r.op(opFreeStateID)
	encodeStateID(r.e, s)
}

func (r *request) testStateID(ids []stateID) {
	r.op(opTestStateID)
	r.e.u32(uint32(len(ids)))
	for _, s := range ids {
		encodeStateID(r.e, s)
	}
}

func (r *request) delegReturn(s stateID) {
	r.op(opDelegReturn)
	encodeStateID(r.e, s)
}

func (r *request) reclaimComplete() {
	r.op(opReclaimComplete)
	r.e.bool(false) // rca_one_fs
}

// reply walks the results of a COMPOUND after its SEQUENCE.
type reply struct {
	d      *decoder
	status Status // the COMPOUND's status: that of the last op executed
	n      int    // results the server returned after SEQUENCE's
	i      int    // results read so far
	ops    []uint32
}

// next reads the header of the next result, which must be for op. It
// returns an *Error for a status other than NFS4_OK (the body is then
// absent, except for the few results that carry one on error: see
// LOCK, LOCKT and SETATTR).
func (p *reply) next(op uint32) (Status, error) {
	if p.i >= p.n {
		// The server stopped before this op; the last status explains it.
		return p.status, &Error{Op: opNames[op], Status: p.status}
	}
	p.i++
	got := p.d.u32()
	st := Status(p.d.u32())
	if err := p.d.err(); err != nil {
		return 0, err
	}
	if got != op {
		return 0, fmt.Errorf("nfs4: reply has %s where %s was expected: the server's reply does not match the request", opNames[got], opNames[op])
	}
	return st, nil
}

// ok reads the header of the next result and turns a failure into *Error.
func (p *reply) ok(op uint32) error {
	st, err := p.next(op)
	if err != nil {
		return err
	}
	if st != StatusOK {
		return &Error{Op: opNames[op], Status: st}
	}
	return nil
}

func (p *reply) fh() (FH, error) {
	if err := p.ok(opGetFH); err != nil {
		return "", err
	}
	b := p.d.opaque(maxFHSize)
	return FH(b), p.d.err()
}

func (p *reply) attrs(a *Attr) error {
	if err := p.ok(opGetattr); err != nil {
		return err
	}
	return decodeFattr(p.d, attrValues{attr: a})
}

// changeInfo reads change_info4.
func (p *reply) changeInfo() {
	p.d.bool()
	p.d.u64()
	p.d.u64()
}

// openResult is OPEN4resok.
type openResult struct {
	state  stateID
	rflags uint32
	deleg  uint32
	dstate stateID
}

func (p *reply) open() (openResult, error) {
	var res openResult
	if err := p.ok(opOpen); err != nil {
		return res, err
	}
	d := p.d
	res.state = decodeStateID(d)
	p.changeInfo()
	res.rflags = d.u32()
	d.bitmap()
	res.deleg = d.u32()
	switch res.deleg {
	case delegNone:
	case delegRead, delegWrite:
		// Not expected (no callback channel); decoded so it can be returned.
		res.dstate = decodeStateID(d)
		d.bool() // recall
		if res.deleg == delegWrite {
			if d.u32() == 1 { // NFS_LIMIT_SIZE
				d.u64()
			} else {
				d.u32()
				d.u32()
			}
		}
		d.u32() // nfsace4: type, flag, access_mask, who
		d.u32()
		d.u32()
		d.str(opaqueLimit)
	case delegNoneExt:
		if why := d.u32(); why == 1 || why == 2 { // WND4_CONTENTION, WND4_RESOURCE
			d.bool()
		}
	default:
		return res, fmt.Errorf("nfs4: OPEN returned delegation type %d", res.deleg)
	}
	return res, d.err()
}

func (p *reply) stateid(op uint32) (stateID, error) {
	if err := p.ok(op); err != nil {
		return stateID{}, err
	}
	return decodeStateID(p.d), p.d.err()
}

// lockDenied is LOCK4denied.
type lockDenied struct {
	off, length uint64
	typ         uint32
	clientID    uint64
	owner       []byte
}

// lock reads LOCK's result: the lock stateid, or the conflicting lock on
// NFS4ERR_DENIED (returned as *Error with the conflict in *denied).
func (p *reply) lock(op uint32, denied *lockDenied) (stateID, error) {
	st, err := p.next(op)
	if err != nil {
		return stateID{}, err
	}
	switch st {
	case StatusOK:
		if op == opLockT {
			return stateID{}, nil
		}
		return decodeStateID(p.d), p.d.err()
	case StatusDenied:
		if denied != nil {
			denied.off = p.d.u64()
			denied.length = p.d.u64()
			denied.typ = p.d.u32()
			denied.clientID = p.d.u64()
			denied.owner = p.d.opaque(opaqueLimit)
		}
		return stateID{}, &Error{Op: opNames[op], Status: st}
	}
	return stateID{}, &Error{Op: opNames[op], Status: st}
}

func (p *reply) setattr() error {
	st, err := p.next(opSetattr)
	if err != nil {
		return err
	}
	p.d.bitmap() // SETATTR4res carries attrsset even on error
	if st != StatusOK {
		return &Error{Op: "SETATTR", Status: st}
	}
	return p.d.err()
}

// writeResult is WRITE4resok.
type writeResult struct {
	count     uint32
	committed uint32
	verf      [verifierSize]byte
}

func (p *reply) write() (writeResult, error) {
	var w writeResult
	if err := p.ok(opWrite); err != nil {
		return w, err
	}
	w.count = p.d.u32()
	w.committed = p.d.u32()
	copy(w.verf[:], p.d.fixed(verifierSize))
	return w, p.d.err()
}

func (p *reply) commit() ([verifierSize]byte, error) {
	var v [verifierSize]byte
	if err := p.ok(opCommit); err != nil {
		return v, err
	}
	copy(v[:], p.d.fixed(verifierSize))
	return v, p.d.err()
}

// read decodes READ4resok into buf and returns the count and eof.
func (p *reply) read(buf []byte) (int, bool, error) {
	if err := p.ok(opRead); err != nil {
		return 0, false, err
	}
	eof := p.d.bool()
	n := p.d.opaqueInto(buf)
	return n, eof, p.d.err()
}

// DirEntry is one READDIR entry.
type DirEntry struct {
	Name   string
	Cookie uint64
	Attr   Attr // Type and FileID (what READDIR asks for)
}

var readdirAttrs = mask(attrType, attrFileID)

func (p *reply) readdir() ([]DirEntry, [verifierSize]byte, bool, error) {
	var verf [verifierSize]byte
	if err := p.ok(opReadDir); err != nil {
		return nil, verf, false, err
	}
	d := p.d
	copy(verf[:], d.fixed(verifierSize))
	var out []DirEntry
	for d.bool() {
		var e DirEntry
		e.Cookie = d.u64()
		e.Name = d.str(opaqueLimit)
		if err := decodeFattr(d, attrValues{attr: &e.Attr}); err != nil {
			return nil, verf, false, err
		}
		out = append(out, e)
		if d.err() != nil {
			break
		}
	}
	eof := d.bool()
	return out, verf, eof, d.err()
}

func (p *reply) testStateID() ([]Status, error) {
	if err := p.ok(opTestStateID); err != nil {
		return nil, err
	}
	n := p.d.u32()
	if n > 4096 {
		return nil, errShort
	}
	out := make([]Status, 0, n)
	for i := uint32(0); i < n; i++ {
		out = append(out, Status(p.d.u32()))
	}
	return out, p.d.err()
}
