package nfs4

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"
)

// fakeServer speaks just enough NFSv4.1 for the client's session layer:
// EXCHANGE_ID, CREATE_SESSION, SEQUENCE with a per-slot replay cache,
// RECLAIM_COMPLETE, PUTROOTFH, LOOKUP, GETFH, GETATTR and a test-only
// view of every compound by its tag, so tests can stall, drop or fail
// calls. It runs over net.Pipe connections handed out by its dial.
type fakeServer struct {
	t *testing.T

	mu       sync.Mutex
	clientID uint64
	sessions map[[sessionIDSize]byte]*fakeSession
	nslots   uint32
	executed map[string]int // compounds executed, by tag
	replays  int
	conns    []net.Conn
	dials    int

	// hook, when set, sees every compound (after SEQUENCE's slot check,
	// before execution) and says what to do with it.
	hook func(tag string, attempt int) fakeAction
	seen map[string]int

	// open state: stateids handed out by OPEN, and those revoked.
	nextState uint32
	revoked   map[[stateIDOther]byte]bool
	seqFlags  uint32 // status flags of every SEQUENCE reply
	// honourCacheThis keeps replies only for sa_cachethis requests, as
	// ganesha does (otherwise every reply is kept).
	honourCacheThis bool
	opens           int
}

type fakeAction struct {
	stall    <-chan struct{} // wait for this before executing
	drop     bool            // execute, then drop the connection without replying
	silent   bool            // execute, never reply on this connection
	seqErr   Status          // answer SEQUENCE with this status (not executed)
	opErr    Status          // answer the first op with this status
	badSlots bool            // forget every session
}

type fakeSession struct {
	clientID uint64
	slots    map[uint32]*fakeSlot
}

type fakeSlot struct {
	seq       uint32
	cached    []byte
	busy      bool
	wantCache bool // sa_cachethis: keep the reply for a resend
	uncached  bool // executed, reply not kept: a resend gets RETRY_UNCACHED_REP
}

func newFakeServer(t *testing.T, nslots uint32) *fakeServer {
	return &fakeServer{t: t, sessions: map[[sessionIDSize]byte]*fakeSession{}, nslots: nslots,
		executed: map[string]int{}, seen: map[string]int{}, revoked: map[[stateIDOther]byte]bool{}}
}

func (s *fakeServer) dial(ctx context.Context, _ string) (net.Conn, error) {
	cli, srv := net.Pipe()
	s.mu.Lock()
	s.conns = append(s.conns, srv)
	s.dials++
	s.mu.Unlock()
	go s.serve(srv)
	return cli, nil
}

func (s *fakeServer) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.conns {
		_ = c.Close()
	}
}

func (s *fakeServer) count(tag string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.executed[tag]
}

func (s *fakeServer) serve(c net.Conn) {
	r := bufio.NewReader(c)
	var wmu sync.Mutex
	for {
		rec, err := readRecord(r, maxRecord)
		if err != nil {
			_ = c.Close()
			return
		}
		go func() {
			reply, act := s.handle(rec)
			if act.drop {
				_ = c.Close()
				return
			}
			if act.silent || reply == nil {
				return
			}
			wmu.Lock()
			defer wmu.Unlock()
			_ = writeFragments(c, reply, 1000) // several fragments on purpose
		}()
	}
}

// replyHeader starts an accepted RPC reply for xid.
func replyHeader(xid uint32) *encoder {
	e := newEncoder()
	e.u32(xid)
	e.u32(msgReply)
	e.u32(replyAccepted)
	e.u32(authNone)
	e.u32(0)
	e.u32(acceptSuccess)
	return e
}

func (s *fakeServer) handle(rec []byte) ([]byte, fakeAction) {
	d := newDecoder(rec)
	xid := d.u32()
	d.u32() // call
	d.u32() // rpcvers
	d.u32() // prog
	d.u32() // vers
	proc := d.u32()
	d.u32()
	d.opaque(400)
	d.u32()
	d.opaque(400)
	if proc == procNull {
		return replyHeader(xid).bytes(), fakeAction{}
	}
	tag := d.str(opaqueLimit)
	d.u32() // minor
	nops := int(d.u32())
	out := newEncoder() // results
	nres := 0
	status := StatusOK
	var act fakeAction
	var slot *fakeSlot
	var sess *fakeSession
	first := true
	uncachedReplay := false
	for i := 0; i < nops && status == StatusOK; i++ {
		op := d.u32()
		if uncachedReplay {
			// RFC 8881: the operation after SEQUENCE carries it.
			out.u32(op)
			nres++
			status = StatusRetryUncachedRep
			out.u32(uint32(status))
			slot = nil
			break
		}
		out.u32(op)
		nres++
		switch op {
		case opExchangeID:
			d.fixed(verifierSize)
			d.opaque(opaqueLimit)
			d.u32()
			d.u32()
			if n := d.u32(); n > 0 {
				d.str(opaqueLimit)
				d.str(opaqueLimit)
				d.i64()
				d.u32()
			}
			s.mu.Lock()
			s.clientID++
			id := s.clientID
			s.mu.Unlock()
			out.u32(uint32(StatusOK))
			out.u64(id)
			out.u32(1)
			out.u32(0)
			out.u32(sp4None)
			out.u64(0)
			out.opaque([]byte("fake"))
			out.opaque([]byte("fake"))
			out.u32(0)
		case opCreateSession:
			id := d.u64()
			d.u32()
			d.u32()
			fore := decodeChannelAttrs(d)
			decodeChannelAttrs(d)
			d.u32()
			for n := d.u32(); n > 0; n-- {
				d.u32()
			}
			s.mu.Lock()
			var sid [sessionIDSize]byte
			copy(sid[:], fmt.Sprintf("sess%012d", len(s.sessions)+1))
			fs := &fakeSession{clientID: id, slots: map[uint32]*fakeSlot{}}
			s.sessions[sid] = fs
			n := s.nslots
			s.mu.Unlock()
			out.u32(uint32(StatusOK))
			out.fixed(sid[:])
			out.u32(1)
			out.u32(0)
			encodeChannelAttrs(out, fore.maxReq, fore.maxResp, fore.maxCached, fore.maxOps, n)
			encodeChannelAttrs(out, 4096, 4096, 0, 2, 1)
		case opSequence:
			var sid [sessionIDSize]byte
			copy(sid[:], d.fixed(sessionIDSize))
			seq, slotID := d.u32(), d.u32()
			d.u32()
			cacheThis := d.bool()
			s.mu.Lock()
			sess = s.sessions[sid]
			s.seen[tag]++
			attempt := s.seen[tag]
			if s.hook != nil && first {
				act = s.hook(tag, attempt)
			}
			if act.badSlots {
				s.sessions = map[[sessionIDSize]byte]*fakeSession{}
				sess = nil
			}
			var st Status
			switch {
			case sess == nil:
				st = StatusBadSession
			case act.seqErr != 0:
				st = act.seqErr
			default:
				slot = sess.slots[slotID]
				if slot == nil {
					slot = &fakeSlot{}
					sess.slots[slotID] = slot
				}
				switch {
				case seq == slot.seq && slot.uncached:
					uncachedReplay = true
				case seq == slot.seq && slot.cached != nil:
					s.replays++
					cached := slot.cached
					s.mu.Unlock()
					e := replyHeader(xid)
					b := append(e.bytes(), cached...)
					return b, fakeAction{}
				case seq == slot.seq && slot.busy:
					st = StatusDelay
				case seq != slot.seq+1:
					st = StatusSeqMisordered
				default:
					slot.seq, slot.cached, slot.busy, slot.uncached = seq, nil, true, false
					slot.wantCache = cacheThis
				}
			}
			s.mu.Unlock()
			out.u32(uint32(st))
			if st != StatusOK {
				status = st
				slot = nil
				break
			}
			if uncachedReplay {
				out.fixed(sid[:])
				out.u32(seq)
				out.u32(slotID)
				out.u32(s.nslots - 1)
				out.u32(s.nslots - 1)
				out.u32(0)
				break
			}
			if act.stall != nil {
				<-act.stall
			}
			out.fixed(sid[:])
			out.u32(seq)
			out.u32(slotID)
			out.u32(s.nslots - 1)
			out.u32(s.nslots - 1)
			s.mu.Lock()
			out.u32(s.seqFlags)
			s.mu.Unlock()
		case opReclaimComplete:
			d.bool()
			out.u32(uint32(StatusOK))
		case opPutRootFH, opPutFH, opLookup:
			if op == opPutFH {
				d.opaque(maxFHSize)
			}
			if op == opLookup {
				d.str(opaqueLimit)
			}
			if act.opErr != 0 {
				status = act.opErr
				act.opErr = 0
			}
			out.u32(uint32(status))
		case opGetFH:
			out.u32(uint32(StatusOK))
			out.opaque([]byte("fh-export"))
		case opGetattr:
			m := d.bitmap()
			out.u32(uint32(StatusOK))
			vals := newEncoder()
			for b := 0; b < len(m)*32; b++ {
				if !hasBit(m, b) {
					continue
				}
				switch b {
				case attrType:
					vals.u32(typeDir)
				case attrChange, attrSize, attrFileID, attrSpaceUsed:
					vals.u64(1)
				case attrMode:
					vals.u32(0o755)
				case attrNumLinks:
					vals.u32(2)
				case attrOwner, attrOwnerGroup:
					vals.str("0")
				case attrRawDev:
					vals.u32(0)
					vals.u32(0)
				case attrTimeAccess, attrTimeMetadata, attrTimeModify:
					vals.i64(1)
					vals.u32(0)
				case attrLeaseTime:
					vals.u32(30)
				case attrMaxName:
					vals.u32(255)
				case attrMaxRead, attrMaxWrite:
					vals.u64(1 << 20)
				}
			}
			out.bitmap(m)
			out.opaque(vals.bytes())
		case opOpen:
			d.u32()
			d.u32()
			d.u32()
			d.u64()
			d.opaque(opaqueLimit)
			if d.u32() != openNoCreate {
				s.t.Errorf("fake server: OPEN with create")
			}
			if claim := d.u32(); claim == claimNull {
				d.str(opaqueLimit)
			}
			s.mu.Lock()
			s.nextState++
			s.opens++
			var sid stateID
			sid.seq = 1
			copy(sid.other[:], fmt.Sprintf("open%08d", s.nextState))
			s.mu.Unlock()
			out.u32(uint32(StatusOK))
			encodeStateID(out, sid)
			out.bool(true)
			out.u64(1)
			out.u64(2)
			out.u32(0)      // rflags
			out.bitmap(nil) // attrset
			out.u32(delegNone)
		case opRead:
			sid := decodeStateID(d)
			d.u64()
			n := d.u32()
			s.mu.Lock()
			bad := s.revoked[sid.other]
			s.mu.Unlock()
			if bad {
				status = StatusExpired
				out.u32(uint32(status))
				break
			}
			out.u32(uint32(StatusOK))
			out.bool(true)
			out.opaque(bytes.Repeat([]byte("x"), int(min(n, 4))))
		case opTestStateID:
			n := d.u32()
			out.u32(uint32(StatusOK))
			out.u32(n)
			for i := uint32(0); i < n; i++ {
				sid := decodeStateID(d)
				s.mu.Lock()
				bad := s.revoked[sid.other]
				s.mu.Unlock()
				if bad {
					out.u32(uint32(StatusExpired))
				} else {
					out.u32(uint32(StatusOK))
				}
			}
		case opFreeStateID, opClose:
			if op == opClose {
				d.u32()
			}
			sid := decodeStateID(d)
			out.u32(uint32(StatusOK))
			if op == opClose {
				encodeStateID(out, sid)
			}
		default:
			s.t.Errorf("fake server: unexpected op %d", op)
			status = StatusNotSupp
			out.u32(uint32(status))
		}
		first = false
	}
	if d.err() != nil {
		s.t.Errorf("fake server: bad request: %v", d.err())
	}
	body := newEncoder()
	body.u32(uint32(status))
	body.str(tag)
	body.u32(uint32(nres))
	res := append(body.bytes(), out.bytes()...)
	s.mu.Lock()
	if slot != nil {
		slot.busy = false
		if slot.wantCache || !s.honourCacheThis {
			slot.cached = res
		} else {
			slot.uncached = true
		}
	}
	if status == StatusOK || slot != nil {
		s.executed[tag]++
	}
	s.mu.Unlock()
	e := replyHeader(xid)
	return append(e.bytes(), res...), act
}

// dialFake returns a client of a fake server.
func dialFake(t *testing.T, s *fakeServer, mod func(*Config)) *Client {
	t.Helper()
	cfg := Config{Server: "fake:2049", Export: "/export", Name: "unit", Dial: s.dial, CallTimeout: 2 * time.Second,
		Logf: func(f string, a ...any) { t.Logf("client: "+f, a...) }}
	if mod != nil {
		mod(&cfg)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := Dial(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.shutdown()
		s.close()
	})
	return c
}

// tagged sends a SEQUENCE + PUTROOTFH compound with tag.
func (c *Client) tagged(ctx context.Context, tag string) error {
	return c.call(ctx, Root, tag, func(rq *request) error {
		rq.putRootFH()
		return nil
	}, func(p *reply) error { return p.ok(opPutRootFH) }, callOpts{})
}
