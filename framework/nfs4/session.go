package nfs4

import (
	"context"
	"sync/atomic"
	"time"
)

// slot is one entry of the session's fore-channel slot table. A slot
// carries one request at a time; its sequence id advances by one for each
// new request and stays the same for a resend, which the server then
// answers from its replay cache (RFC 8881 section 2.10.6).
type slot struct {
	id  uint32
	seq uint32
	// unsure is set when a request on this slot ended without a
	// SEQUENCE result (the connection or the reply was garbage): the
	// server may or may not have seen seq. The next use sends seq+1 and
	// steps back on NFS4ERR_SEQ_MISORDERED.
	unsure bool
}

// session is an NFSv4.1 session: its id, client ID and slot pool. A
// caller takes a free slot for each compound (waiting, cancellably, when
// all are busy), so one stalled call holds one slot and never blocks the
// others.
type session struct {
	id        [sessionIDSize]byte
	clientID  uint64
	free      chan *slot
	nslots    int
	maxReq    uint32
	maxResp   uint32
	maxCached uint32
	created   time.Time
	// dead is set once a call found the session gone.
	dead atomic.Bool
}

func newSession(id [sessionIDSize]byte, clientID uint64, nslots int, maxReq, maxResp, maxCached uint32) *session {
	s := &session{id: id, clientID: clientID, free: make(chan *slot, nslots), nslots: nslots,
		maxReq: maxReq, maxResp: maxResp, maxCached: maxCached, created: time.Now()}
	for i := 0; i < nslots; i++ {
		s.free <- &slot{id: uint32(i), seq: 1}
	}
	return s
}

// acquire takes a free slot, waiting until one is free, ctx ends or stop
// is closed.
func (s *session) acquire(ctx context.Context, stop <-chan struct{}) (*slot, error) {
	select {
	case sl := <-s.free:
		return sl, nil
	default:
	}
	select {
	case sl := <-s.free:
		return sl, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-stop:
		return nil, ErrClosed
	}
}

func (s *session) release(sl *slot) { s.free <- sl }

// highest is sa_highest_slotid: the highest slot id the client may use.
func (s *session) highest() uint32 { return uint32(s.nslots - 1) }
