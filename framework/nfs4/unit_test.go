package nfs4

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"sync"
	"syscall"
	"testing"
	"time"
)

func TestRecordMarkingReassemblesFragments(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	for _, size := range []int{0, 1, 4, 999, 1000, 1001, 70000} {
		for _, frag := range []int{1, 7, 1000, 1 << 20} {
			rec := make([]byte, size)
			rng.Read(rec)
			var buf bytes.Buffer
			if err := writeFragments(&buf, rec, frag); err != nil {
				t.Fatal(err)
			}
			if err := writeFragments(&buf, []byte("next"), frag); err != nil {
				t.Fatal(err)
			}
			r := bufio.NewReader(&buf)
			got, err := readRecord(r, maxRecord)
			if err != nil || !bytes.Equal(got, rec) {
				t.Fatalf("size %d frag %d: %v, equal=%v", size, frag, err, bytes.Equal(got, rec))
			}
			if got, err := readRecord(r, maxRecord); err != nil || string(got) != "next" {
				t.Fatalf("second record: %q %v", got, err)
			}
		}
	}
	var buf bytes.Buffer
	_ = writeFragments(&buf, make([]byte, 100), 30)
	if _, err := readRecord(bufio.NewReader(&buf), 50); err == nil {
		t.Fatal("a record over the limit was accepted")
	}
	// A truncated record is an error, not a short read.
	buf.Reset()
	_ = writeFragments(&buf, make([]byte, 100), 1000)
	b := buf.Bytes()[:50]
	if _, err := readRecord(bufio.NewReader(bytes.NewReader(b)), maxRecord); err == nil {
		t.Fatal("a truncated record was accepted")
	}
}

func TestCallHeaderAndSingleFragmentMark(t *testing.T) {
	e := newEncoder()
	encodeCallHeader(e, 0x01020304, procCompound, Cred{Uid: 1000, Gid: 100, Groups: []uint32{4, 5}}, "node-1")
	e.u32(0xdeadbeef)
	b := e.bytes()
	finishRecord(b, len(b))
	got, err := readRecord(bufio.NewReader(bytes.NewReader(b)), maxRecord)
	if err != nil {
		t.Fatal(err)
	}
	d := newDecoder(got)
	want := []uint32{0x01020304, msgCall, rpcVersion, nfsProgram, nfsVersion, procCompound, authSys}
	for i, w := range want {
		if v := d.u32(); v != w {
			t.Fatalf("word %d = %d, want %d", i, v, w)
		}
	}
	cred := newDecoder(d.opaque(400))
	if cred.u32() != 0 || cred.str(255) != "node-1" || cred.u32() != 1000 || cred.u32() != 100 || cred.u32() != 2 || cred.u32() != 4 || cred.u32() != 5 {
		t.Fatal("AUTH_SYS body does not round-trip")
	}
	if d.u32() != authNone || len(d.opaque(400)) != 0 || d.u32() != 0xdeadbeef || d.left() != 0 || d.err() != nil {
		t.Fatalf("verifier or body wrong: %v", d.err())
	}
}

func TestXDRPrimitivesRoundTrip(t *testing.T) {
	e := newEncoder()
	e.u32(7)
	e.i32(-7)
	e.u64(1 << 40)
	e.i64(-1 << 40)
	e.bool(true)
	e.opaque([]byte{1, 2, 3})
	e.fixed([]byte{9, 9, 9, 9, 9})
	e.str("héllo")
	e.bitmap([]uint32{1, 2})
	d := newDecoder(e.bytes())
	if d.u32() != 7 || d.i32() != -7 || d.u64() != 1<<40 || d.i64() != -1<<40 || !d.bool() {
		t.Fatal("integers")
	}
	if b := d.opaque(0); !bytes.Equal(b, []byte{1, 2, 3}) {
		t.Fatalf("opaque %v", b)
	}
	if b := d.fixed(5); !bytes.Equal(b, []byte{9, 9, 9, 9, 9}) {
		t.Fatalf("fixed %v", b)
	}
	if s := d.str(100); s != "héllo" {
		t.Fatalf("str %q", s)
	}
	if m := d.bitmap(); len(m) != 2 || m[0] != 1 || m[1] != 2 {
		t.Fatalf("bitmap %v", m)
	}
	if d.err() != nil || d.left() != 0 {
		t.Fatalf("%v, %d left", d.err(), d.left())
	}
	// Past the end: sticky error, zero values, no panic.
	if d.u32() != 0 || d.err() == nil || !errors.Is(d.err(), errShort) {
		t.Fatalf("reading past the end: %v", d.err())
	}
	// A length longer than the input is refused without allocating it.
	e = newEncoder()
	e.u32(1 << 30)
	d = newDecoder(e.bytes())
	if d.opaque(0) != nil || d.err() == nil {
		t.Fatal("a huge opaque length was accepted")
	}
	buf := make([]byte, 2)
	e = newEncoder()
	e.opaque([]byte{1, 2, 3})
	if newDecoder(e.bytes()).opaqueInto(buf) != 0 {
		t.Fatal("opaqueInto overflowed its buffer")
	}
}

func TestFattrRoundTrip(t *testing.T) {
	size, mode, uid := uint64(12345), uint32(0o4755), uint32(1000)
	e := newEncoder()
	encodeFattr(e, &SetAttr{Size: &size, Mode: &mode, Uid: &uid, MtimeNow: true})
	d := newDecoder(e.bytes())
	m := d.bitmap()
	vals := d.opaque(0)
	if !hasBit(m, attrSize) || !hasBit(m, attrMode) || !hasBit(m, attrOwner) || !hasBit(m, attrTimeModifySet) || hasBit(m, attrTimeAccessSet) {
		t.Fatalf("mask %b", m)
	}
	v := newDecoder(vals)
	if v.u64() != size || v.u32() != mode || v.str(100) != "1000" || v.u32() != timeSetServer || v.left() != 0 {
		t.Fatal("settable attributes do not round-trip")
	}
	// A GETATTR answer for fileAttrs decodes into Attr.
	vals2 := newEncoder()
	vals2.u32(typeReg)
	vals2.u64(42)     // change
	vals2.u64(99)     // size
	vals2.u64(7)      // fileid
	vals2.u32(0o644)  // mode
	vals2.u32(3)      // nlink
	vals2.str("1001") // owner
	vals2.str("root@localdomain")
	vals2.u32(1) // rawdev
	vals2.u32(2)
	vals2.u64(4096) // used
	for i := 0; i < 3; i++ {
		vals2.i64(1700000000 + int64(i))
		vals2.u32(5)
	}
	var a Attr
	if err := decodeAttrVals(fileAttrs, vals2.bytes(), attrValues{attr: &a}); err != nil {
		t.Fatal(err)
	}
	if a.Type != TypeRegular || a.Change != 42 || a.Size != 99 || a.FileID != 7 || a.Mode != 0o644 || a.Nlink != 3 ||
		a.Uid != 1001 || a.Gid != 0 || a.Used != 4096 || a.Atime.Unix() != 1700000000 || a.Ctime.Unix() != 1700000001 || a.Mtime.Unix() != 1700000002 {
		t.Fatalf("decoded %+v", a)
	}
	if a.StatMode() != syscall.S_IFREG|0o644 {
		t.Fatalf("stat mode %o", a.StatMode())
	}
	if err := decodeAttrVals(mask(attrFsid+1), nil, attrValues{}); err == nil {
		t.Fatal("an attribute we did not ask for was accepted")
	}
	if err := decodeAttrVals(fileAttrs, vals2.bytes()[:20], attrValues{attr: &a}); err == nil {
		t.Fatal("truncated attributes were accepted")
	}
}

func TestErrnoMapping(t *testing.T) {
	for s, want := range map[Status]syscall.Errno{
		StatusNoEnt: syscall.ENOENT, StatusExist: syscall.EEXIST, StatusNotEmpty: syscall.ENOTEMPTY,
		StatusAccess: syscall.EACCES, StatusIsDir: syscall.EISDIR, StatusNotDir: syscall.ENOTDIR,
		StatusNoSpc: syscall.ENOSPC, StatusDQuot: syscall.EDQUOT, StatusROFS: syscall.EROFS,
		StatusStale: syscall.ESTALE, StatusFHExpired: syscall.ESTALE, StatusIO: syscall.EIO,
		StatusDenied: syscall.EAGAIN, StatusDeadlock: syscall.EDEADLK, StatusNameTooLong: syscall.ENAMETOOLONG,
		StatusPerm: syscall.EPERM, StatusFBig: syscall.EFBIG, StatusXDev: syscall.EXDEV,
		StatusExpired: syscall.EIO, StatusAdminRevoked: syscall.EIO, StatusBadStateID: syscall.EIO,
		StatusStaleClientID: syscall.EIO, StatusBadSession: syscall.EIO, StatusServerFault: syscall.EREMOTEIO,
		StatusNotSupp: syscall.EOPNOTSUPP, StatusSymlink: syscall.ELOOP, StatusInval: syscall.EINVAL,
	} {
		err := fmt.Errorf("wrapped: %w", &Error{Op: "X", Status: s})
		if got := Errno(err); got != want {
			t.Errorf("%s -> %v, want %v", s, got, want)
		}
		if !errors.Is(err, want) {
			t.Errorf("errors.Is(%s, %v) is false", s, want)
		}
	}
	if Errno(fmt.Errorf("x: %w", ErrStateLost)) != syscall.EIO {
		t.Error("lost state is not EIO")
	}
	if Errno(&abandonedError{err: context.Canceled}) != syscall.EINTR {
		t.Error("an interrupted call is not EINTR")
	}
	if Errno(nil) != 0 {
		t.Error("nil is not 0")
	}
	if StatusGrace.String() != "NFS4ERR_GRACE" || Status(4242).String() != "NFS4ERR_4242" {
		t.Error("status names")
	}
}

func TestRangeSetPOSIXSemantics(t *testing.T) {
	var s rangeSet
	s.add(0, 99, lockWrite)
	s.add(10, 19, lockRead) // splits the write lock
	if got := fmt.Sprint(s.list()); got != "[{0 9 2} {10 19 1} {20 99 2}]" {
		t.Fatalf("split: %s", got)
	}
	s.add(10, 19, lockWrite) // merges back
	if got := fmt.Sprint(s.list()); got != "[{0 99 2}]" {
		t.Fatalf("merge: %s", got)
	}
	s.remove(50, allOnes64)
	s.add(200, allOnes64, lockRead)
	if got := fmt.Sprint(s.list()); got != fmt.Sprint([]lockRange{{0, 49, 2}, {200, allOnes64, 1}}) {
		t.Fatalf("remove/to-EOF: %s", got)
	}
	if r := (lockRange{200, allOnes64, 1}); r.length() != allOnes64 {
		t.Fatal("to-EOF length")
	}
	if rangeEnd(10, allOnes64) != allOnes64 || rangeEnd(10, 5) != 14 || rangeEnd(allOnes64-1, 10) != allOnes64 {
		t.Fatal("rangeEnd")
	}
	s.remove(0, allOnes64)
	if !s.empty() {
		t.Fatal("not empty after removing everything")
	}
}

func TestSessionSetupAndLeaseFromServer(t *testing.T) {
	s := newFakeServer(t, 8)
	c := dialFake(t, s, nil)
	if c.Lease() != 30*time.Second {
		t.Fatalf("lease %s, want the server's 30 s", c.Lease())
	}
	if c.Root() != "fh-export" {
		t.Fatalf("root %q", c.Root())
	}
	c.mu.Lock()
	n := c.sess.nslots
	c.mu.Unlock()
	if n != 8 {
		t.Fatalf("%d slots, want the server's 8 (asked for 32)", n)
	}
}

// One stalled call holds one slot; the others keep flowing.
func TestStalledCallDoesNotBlockOtherSlots(t *testing.T) {
	s := newFakeServer(t, 4)
	release := make(chan struct{})
	var once sync.Once
	t.Cleanup(func() { once.Do(func() { close(release) }) })
	s.hook = func(tag string, attempt int) fakeAction {
		if tag == "stall" {
			return fakeAction{stall: release}
		}
		return fakeAction{}
	}
	c := dialFake(t, s, func(cfg *Config) { cfg.CallTimeout = 30 * time.Second })
	ctx := context.Background()
	stalled := make(chan error, 3)
	for i := 0; i < 3; i++ {
		go func() { stalled <- c.tagged(ctx, "stall") }()
	}
	waitUntil(t, func() bool { return s.count("stall") == 0 && s.seenCount("stall") == 3 })
	for i := 0; i < 50; i++ {
		if err := c.tagged(ctx, "other"); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case err := <-stalled:
		t.Fatalf("a stalled call returned early: %v", err)
	default:
	}
	once.Do(func() { close(release) })
	for i := 0; i < 3; i++ {
		if err := <-stalled; err != nil {
			t.Fatal(err)
		}
	}
}

func (s *fakeServer) seenCount(tag string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.seen[tag]
}

func waitUntil(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// A reply lost with its connection is fetched again from the slot's
// replay cache: the request is executed once.
func TestResendAfterConnectionLossIsAnsweredFromReplayCache(t *testing.T) {
	s := newFakeServer(t, 4)
	s.hook = func(tag string, attempt int) fakeAction {
		if tag == "once" && attempt == 1 {
			return fakeAction{drop: true}
		}
		return fakeAction{}
	}
	c := dialFake(t, s, nil)
	if err := c.tagged(context.Background(), "once"); err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	replays, dials := s.replays, s.dials
	s.mu.Unlock()
	if n := s.count("once"); n != 1 {
		t.Fatalf("executed %d times, want 1", n)
	}
	if replays != 1 || dials != 2 {
		t.Fatalf("replays %d dials %d, want 1 and 2", replays, dials)
	}
	if st := c.Stats(); st.Retransmits < 1 || st.Reconnects != 1 {
		t.Fatalf("stats %+v", st)
	}
}

// A server that does not answer within CallTimeout gets the call again
// on a new connection (hard mount), and the caller sees success.
func TestCallTimeoutReconnectsAndResends(t *testing.T) {
	s := newFakeServer(t, 4)
	s.hook = func(tag string, attempt int) fakeAction {
		if tag == "slow" && attempt == 1 {
			return fakeAction{silent: true}
		}
		return fakeAction{}
	}
	c := dialFake(t, s, func(cfg *Config) { cfg.CallTimeout = 200 * time.Millisecond })
	start := time.Now()
	if err := c.tagged(context.Background(), "slow"); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 200*time.Millisecond {
		t.Fatalf("answered after %s, before the call timeout", d)
	}
	// At least one timeout and reconnect (a loaded machine may add more).
	if st := c.Stats(); st.Timeouts < 1 || st.Reconnects < 1 {
		t.Fatalf("stats %+v", st)
	}
	if n := s.count("slow"); n != 1 {
		t.Fatalf("executed %d times, want 1 (the resend must hit the replay cache)", n)
	}
}

func TestDelayAndGraceAreRetried(t *testing.T) {
	s := newFakeServer(t, 4)
	s.hook = func(tag string, attempt int) fakeAction {
		switch {
		case tag == "busy" && attempt <= 2:
			return fakeAction{seqErr: StatusDelay}
		case tag == "grace" && attempt <= 3:
			return fakeAction{opErr: StatusGrace}
		}
		return fakeAction{}
	}
	c := dialFake(t, s, nil)
	ctx := context.Background()
	if err := c.tagged(ctx, "busy"); err != nil {
		t.Fatal(err)
	}
	if err := c.tagged(ctx, "grace"); err != nil {
		t.Fatal(err)
	}
	st := c.Stats()
	if st.Delays < 2 || st.GraceWaits != 3 {
		t.Fatalf("stats %+v", st)
	}
}

// An interrupted caller returns at once (EINTR); the request finishes in
// the background and frees its slot in step with the server, so the next
// request on that slot is not misordered.
func TestInterruptedCallReturnsAndSlotStaysInStep(t *testing.T) {
	s := newFakeServer(t, 1) // one slot: the next call must reuse it
	release := make(chan struct{})
	var once sync.Once
	t.Cleanup(func() { once.Do(func() { close(release) }) })
	s.hook = func(tag string, attempt int) fakeAction {
		if tag == "stall" {
			return fakeAction{stall: release}
		}
		return fakeAction{}
	}
	c := dialFake(t, s, func(cfg *Config) { cfg.CallTimeout = 30 * time.Second })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.tagged(ctx, "stall") }()
	waitUntil(t, func() bool { return s.seenCount("stall") == 1 })
	cancel()
	select {
	case err := <-done:
		if Errno(err) != syscall.EINTR {
			t.Fatalf("interrupted call: %v, want EINTR", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("interrupted call did not return")
	}
	next := make(chan error, 1)
	go func() { next <- c.tagged(context.Background(), "next") }()
	time.Sleep(100 * time.Millisecond)
	if s.seenCount("next") != 0 {
		t.Fatal("the only slot was reused while its request was still running")
	}
	once.Do(func() { close(release) })
	if err := <-next; err != nil {
		t.Fatalf("call after the interrupted one: %v", err)
	}
}

// A lost session is re-created on the same client ID; state is kept.
func TestBadSessionIsRecreated(t *testing.T) {
	s := newFakeServer(t, 4)
	s.hook = func(tag string, attempt int) fakeAction {
		if tag == "boom" && attempt == 1 {
			return fakeAction{badSlots: true}
		}
		return fakeAction{}
	}
	c := dialFake(t, s, nil)
	if err := c.tagged(context.Background(), "boom"); err != nil {
		t.Fatal(err)
	}
	if st := c.Stats(); st.Sessions != 2 || st.ClientIDs != 1 {
		t.Fatalf("stats %+v", st)
	}
}

func TestAttrCacheMimicsKernelTimeouts(t *testing.T) {
	var ac attrCache
	ac.init(Config{AcRegMin: 3 * time.Second, AcRegMax: 60 * time.Second, AcDirMin: 30 * time.Second, AcDirMax: 60 * time.Second})
	now := time.Unix(1000, 0)
	ac.now = func() time.Time { return now }
	ac.put("f", Attr{Type: TypeRegular, Change: 1})
	if _, ok := ac.get("f"); !ok {
		t.Fatal("fresh entry missed")
	}
	now = now.Add(3 * time.Second)
	if _, ok := ac.get("f"); ok {
		t.Fatal("entry older than acregmin was used")
	}
	ac.put("f", Attr{Type: TypeRegular, Change: 1}) // unchanged: timeout doubles
	now = now.Add(5 * time.Second)
	if _, ok := ac.get("f"); !ok {
		t.Fatal("unchanged file's timeout did not grow")
	}
	ac.put("f", Attr{Type: TypeRegular, Change: 2}) // changed: back to min
	now = now.Add(4 * time.Second)
	if _, ok := ac.get("f"); ok {
		t.Fatal("changed file kept a long timeout")
	}
	ac.put("d", Attr{Type: TypeDir, Change: 5})
	ac.putName("d", "x", "fx", false)
	ac.putName("d", "nope", "", true)
	if fh, neg, ok := ac.lookup("d", "x"); !ok || neg || fh != "fx" {
		t.Fatal("cached lookup missed")
	}
	if _, neg, ok := ac.lookup("d", "nope"); !ok || !neg {
		t.Fatal("negative lookup missed")
	}
	ac.dirChanged("d", "y")
	if _, _, ok := ac.lookup("d", "x"); ok {
		t.Fatal("lookup used after the directory changed")
	}
	// A stale handle is forgotten with every name leading to it or
	// lying in it; other names stay.
	ac.put("d", Attr{Type: TypeDir, Change: 6})
	ac.put("fx", Attr{Type: TypeRegular, Change: 1})
	ac.putName("d", "x", "fx", false)
	ac.putName("d", "hardlink", "fx", false)
	ac.putName("d", "other", "fo", false)
	ac.putName("fx", "child", "fc", false)
	ac.forget("fx")
	if _, ok := ac.get("fx"); ok {
		t.Fatal("stale handle's attributes still served")
	}
	for _, name := range []string{"x", "hardlink"} {
		if fh, _, ok := ac.lookup("d", name); ok {
			t.Fatalf("name %s still leads to the stale handle %s", name, fh)
		}
	}
	if fh, _, ok := ac.lookup("d", "other"); !ok || fh != "fo" {
		t.Fatal("forget dropped a name of another file")
	}
	if _, ok := ac.names[nameKey{"fx", "child"}]; ok {
		t.Fatal("name in the stale directory kept")
	}
	var off attrCache
	off.init(Config{})
	off.put("f", Attr{})
	if _, ok := off.get("f"); ok {
		t.Fatal("cache is on without actimeo")
	}
}

// SEQUENCE status flags saying state was revoked make the client test its
// stateids (TEST_STATEID): a revoked open is lost (EIO from then on) by
// default, and re-opened silently with RecoverLostLocks.
func TestRevocationFlagsLoseOrRecoverState(t *testing.T) {
	for _, recover := range []bool{false, true} {
		t.Run(fmt.Sprintf("recover=%v", recover), func(t *testing.T) {
			s := newFakeServer(t, 4)
			c := dialFake(t, s, func(cfg *Config) { cfg.RecoverLostLocks = recover })
			ctx := context.Background()
			f, _, err := c.Open(ctx, Root, "fh-file", AccessRead)
			if err != nil {
				t.Fatal(err)
			}
			buf := make([]byte, 4)
			if _, err := f.ReadAt(ctx, buf, 0); err != nil && !errors.Is(err, io.EOF) {
				t.Fatal(err)
			}
			s.mu.Lock()
			for id := uint32(1); id <= s.nextState; id++ {
				var o [stateIDOther]byte
				copy(o[:], fmt.Sprintf("open%08d", id))
				s.revoked[o] = true
			}
			s.seqFlags = seqStatusExpiredSome
			s.mu.Unlock()
			if err := c.Ping(ctx); err != nil { // its SEQUENCE carries the flags
				t.Fatal(err)
			}
			s.mu.Lock()
			s.seqFlags = 0
			s.mu.Unlock()
			waitUntil(t, func() bool {
				st := c.Stats()
				return st.LostOpens+st.RecoveredOpens >= 1
			})
			_, err = f.ReadAt(ctx, buf, 0)
			if recover {
				if err != nil && !errors.Is(err, io.EOF) {
					t.Fatalf("read after a silent re-open: %v", err)
				}
				s.mu.Lock()
				opens := s.opens
				s.mu.Unlock()
				if opens != 2 {
					t.Fatalf("%d OPENs, want 2 (the re-open)", opens)
				}
			} else if !errors.Is(err, ErrStateLost) || Errno(err) != syscall.EIO {
				t.Fatalf("read after revocation: %v, want ErrStateLost (EIO)", err)
			}
			if st := c.Stats(); st.Revocations < 1 {
				t.Fatalf("stats %+v", st)
			}
			f.Close()
		})
	}
}

// A resend of an idempotent request whose reply the server did not cache
// (NFS4ERR_RETRY_UNCACHED_REP, as ganesha answers a WRITE resent after a
// stall) is run again under a new sequence id, not failed.
func TestUncachedReplyIsRunAgain(t *testing.T) {
	s := newFakeServer(t, 4)
	s.honourCacheThis = true
	s.hook = func(tag string, attempt int) fakeAction {
		if tag == "idem" && attempt == 1 {
			return fakeAction{drop: true}
		}
		return fakeAction{}
	}
	c := dialFake(t, s, nil)
	if err := c.tagged(context.Background(), "idem"); err != nil {
		t.Fatalf("resent idempotent call: %v", err)
	}
	if n := s.count("idem"); n != 2 {
		t.Fatalf("executed %d times, want 2 (first, then again under a new sequence id)", n)
	}
}
