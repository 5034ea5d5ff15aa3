package nfs4

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"time"
)

// Cred is the AUTH_SYS identity (RFC 5531 appendix A) a call is made with.
type Cred struct {
	Uid    uint32
	Gid    uint32
	Groups []uint32 // at most 16 are sent
}

// Root is uid 0, gid 0.
var Root = Cred{}

// lastFragment marks the last fragment of a record (RFC 5531 section 11).
const lastFragment = 0x80000000

// maxRecord bounds a reassembled reply: a READ of the largest size we
// negotiate plus headers fits easily.
const maxRecord = 8 << 20

// encodeCallHeader writes the record mark placeholder and an RPC call
// header for NFSv4 procedure proc with AUTH_SYS credentials cred.
// finishRecord fills in the record mark once the body is complete.
func encodeCallHeader(e *encoder, xid uint32, proc uint32, cred Cred, machine string) {
	e.u32(0) // record mark, patched by finishRecord
	e.u32(xid)
	e.u32(msgCall)
	e.u32(rpcVersion)
	e.u32(nfsProgram)
	e.u32(nfsVersion)
	e.u32(proc)
	// cred: opaque_auth{AUTH_SYS, authsys_parms}
	body := newEncoder()
	body.u32(0) // stamp
	if len(machine) > 255 {
		machine = machine[:255]
	}
	body.str(machine)
	body.u32(cred.Uid)
	body.u32(cred.Gid)
	groups := cred.Groups
	if len(groups) > 16 {
		groups = groups[:16]
	}
	body.u32(uint32(len(groups)))
	for _, g := range groups {
		body.u32(g)
	}
	e.u32(authSys)
	e.opaque(body.bytes())
	// verf: AUTH_NONE
	e.u32(authNone)
	e.u32(0)
}

// finishRecord writes the record mark of a single-fragment record whose
// first four bytes were reserved and whose total length is total.
func finishRecord(hdr []byte, total int) {
	binary.BigEndian.PutUint32(hdr[0:4], lastFragment|uint32(total-4))
}

// readRecord reads one record, reassembling its fragments.
func readRecord(r *bufio.Reader, max int) ([]byte, error) {
	var rec []byte
	var hdr [4]byte
	for {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return nil, err
		}
		v := binary.BigEndian.Uint32(hdr[:])
		n := int(v &^ lastFragment)
		if len(rec)+n > max {
			return nil, fmt.Errorf("nfs4: record of more than %d bytes from server: the connection is out of sync", max)
		}
		start := len(rec)
		rec = append(rec, make([]byte, n)...)
		if _, err := io.ReadFull(r, rec[start:]); err != nil {
			return nil, err
		}
		if v&lastFragment != 0 {
			return rec, nil
		}
	}
}

// writeFragments writes rec as a record of fragments of at most frag bytes
// (used by tests and the fake server; the client sends one fragment).
func writeFragments(w io.Writer, rec []byte, frag int) error {
	for {
		n := len(rec)
		last := true
		if n > frag {
			n, last = frag, false
		}
		var hdr [4]byte
		v := uint32(n)
		if last {
			v |= lastFragment
		}
		binary.BigEndian.PutUint32(hdr[:], v)
		if _, err := w.Write(hdr[:]); err != nil {
			return err
		}
		if _, err := w.Write(rec[:n]); err != nil {
			return err
		}
		rec = rec[n:]
		if last {
			return nil
		}
	}
}

// RPCError is a reply that the RPC layer refused (not an NFS status).
type RPCError struct {
	What string
}

func (e *RPCError) Error() string { return "nfs4: rpc: " + e.What }

// parseReplyHeader checks an RPC reply and returns its xid and a decoder
// positioned at the procedure's results.
func parseReplyHeader(rec []byte) (uint32, *decoder, error) {
	d := newDecoder(rec)
	xid := d.u32()
	if mt := d.u32(); d.err() == nil && mt != msgReply {
		return xid, nil, &RPCError{What: fmt.Sprintf("message type %d is not a reply", mt)}
	}
	switch stat := d.u32(); stat {
	case replyAccepted:
		d.u32()       // verifier flavor
		d.opaque(400) // verifier body
		as := d.u32()
		if err := d.err(); err != nil {
			return xid, nil, err
		}
		switch as {
		case acceptSuccess:
			return xid, d, nil
		case acceptProgMismatch:
			lo, hi := d.u32(), d.u32()
			return xid, nil, &RPCError{What: fmt.Sprintf("server does not speak NFS version 4 (versions %d-%d)", lo, hi)}
		case acceptProgUnavail:
			return xid, nil, &RPCError{What: "NFS program unavailable on this port: is it an NFS server?"}
		case acceptProcUnavail:
			return xid, nil, &RPCError{What: "procedure unavailable"}
		case acceptGarbageArgs:
			return xid, nil, &RPCError{What: "server could not decode the arguments (GARBAGE_ARGS)"}
		case acceptSystemErr:
			return xid, nil, &RPCError{What: "server system error (SYSTEM_ERR)"}
		default:
			return xid, nil, &RPCError{What: fmt.Sprintf("accept status %d", as)}
		}
	case replyDenied:
		rs := d.u32()
		if rs == rejectAuthError {
			return xid, nil, &RPCError{What: fmt.Sprintf("authentication refused (auth_stat %d): does the export allow AUTH_SYS (SecType = sys)?", d.u32())}
		}
		return xid, nil, &RPCError{What: "RPC version mismatch"}
	default:
		if err := d.err(); err != nil {
			return xid, nil, err
		}
		return xid, nil, &RPCError{What: fmt.Sprintf("reply status %d", stat)}
	}
}

var errNotConnected = errors.New("nfs4: not connected")

// Probe sends the NFSv4 NULL procedure to addr over a new TCP connection
// and waits for the reply: it proves an NFSv4 server answers there,
// without creating any state on it.
func Probe(ctx context.Context, addr string) error {
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("nfs4: probe %s: %w", addr, err)
	}
	defer nc.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = nc.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = nc.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	e := newEncoder()
	encodeCallHeader(e, 1, procNull, Root, "probe")
	rec := e.bytes()
	finishRecord(rec, len(rec))
	if _, err := nc.Write(rec); err != nil {
		return fmt.Errorf("nfs4: probe %s: %w", addr, err)
	}
	reply, err := readRecord(bufio.NewReader(nc), 1<<16)
	if err != nil {
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		return fmt.Errorf("nfs4: probe %s: no reply: %w", addr, err)
	}
	if _, _, err := parseReplyHeader(reply); err != nil {
		return fmt.Errorf("nfs4: probe %s: %w", addr, err)
	}
	return nil
}
