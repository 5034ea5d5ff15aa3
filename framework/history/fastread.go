package history

import (
	"encoding/binary"
	"unicode/utf8"
)

// A fast path for reading events, kept apart from the reader's rules: it
// decodes a journal line only when the line has the plain form rwxchaos's
// own writers produce — one flat object whose keys are Event's JSON names,
// each at most once, with unescaped valid UTF-8 strings and integers — and
// gives up (ok false) on anything else, which the reader then decodes with
// encoding/json, the reference. Where it decodes, the result is the one
// encoding/json gives (FuzzFastEvent checks this). Repeated strings (writer
// ids, roles, types, keys, hashes) are interned: a saved history of a
// million uploads repeats each of them many times.

// interner returns one string per distinct byte sequence it has seen
// recently; it forgets everything past maxInterned entries to stay small.
type interner struct {
	m map[string]string
	// recent are the last strings returned: the same writer's id, node
	// and key come back line after line, and a hit costs a compare, not a
	// hash.
	recent [4]string
	next   int
}

const maxInterned = 1 << 16

func (in *interner) str(b []byte) string {
	for _, s := range in.recent {
		if s == string(b) {
			return s
		}
	}
	s := in.lookup(b)
	in.recent[in.next] = s
	in.next = (in.next + 1) % len(in.recent)
	return s
}

func (in *interner) lookup(b []byte) string {
	if in.m == nil {
		in.m = make(map[string]string, 1024)
	}
	if s, ok := in.m[string(b)]; ok {
		return s
	}
	if len(in.m) >= maxInterned {
		clear(in.m)
	}
	s := string(b)
	in.m[s] = s
	return s
}

// Field bits for duplicate detection.
const (
	fProc = 1 << iota
	fSeq
	fRole
	fNode
	fType
	fCall
	fReturn
	fOutcome
	fKey
	fSHA
	fSize
	fMsgs
	fEpoch
	fVersion
	fHolder
	fPath
	fTarget
	fErr
	fErrClass
	fDetail
)

// decodeEventFast decodes line into *e (which must be zero) or reports that
// the line needs the reference decoder.
func decodeEventFast(line []byte, e *Event, in *interner) bool {
	p := fastParser{b: line}
	p.ws()
	if !p.byte('{') {
		return false
	}
	p.ws()
	if p.byte('}') {
		p.ws()
		return p.i == len(p.b)
	}
	var seen uint32
	for {
		key, ok := p.key()
		if !ok {
			return false
		}
		var bit uint32
		switch string(key) {
		case "proc":
			bit = fProc
			e.Proc, ok = p.interned(in)
		case "seq":
			bit = fSeq
			e.Seq, ok = p.int()
		case "role":
			bit = fRole
			e.Role, ok = p.constant(in)
		case "node":
			bit = fNode
			e.Node, ok = p.interned(in)
		case "type":
			bit = fType
			e.Type, ok = p.constant(in)
		case "call":
			bit = fCall
			e.Call, ok = p.int()
		case "ret":
			bit = fReturn
			e.Return, ok = p.int()
		case "outcome":
			bit = fOutcome
			e.Outcome, ok = p.constant(in)
		case "key":
			bit = fKey
			e.Key, ok = p.interned(in)
		case "sha":
			bit = fSHA
			e.SHA, ok = p.interned(in)
		case "size":
			bit = fSize
			e.Size, ok = p.int()
		case "msgs":
			bit = fMsgs
			e.Msgs, ok = p.goInt()
		case "epoch":
			bit = fEpoch
			e.Epoch, ok = p.uint()
		case "version":
			bit = fVersion
			e.Version, ok = p.uint()
		case "holder":
			bit = fHolder
			e.Holder, ok = p.interned(in)
		case "path":
			bit = fPath
			e.Path, ok = p.string()
		case "target":
			bit = fTarget
			e.Target, ok = p.interned(in)
		case "err":
			bit = fErr
			e.Err, ok = p.string()
		case "errClass":
			bit = fErrClass
			e.ErrClass, ok = p.constant(in)
		case "detail":
			bit = fDetail
			e.Detail, ok = p.interned(in)
		default:
			// Unknown, or a case-insensitive match encoding/json accepts.
			return false
		}
		if !ok || seen&bit != 0 {
			return false
		}
		seen |= bit
		p.ws()
		if p.byte(',') {
			continue
		}
		if !p.byte('}') {
			return false
		}
		p.ws()
		return p.i == len(p.b)
	}
}

type fastParser struct {
	b []byte
	i int
}

func (p *fastParser) ws() {
	for p.i < len(p.b) && p.b[p.i] <= ' ' {
		switch p.b[p.i] {
		case ' ', '\t', '\r', '\n':
			p.i++
		default:
			return
		}
	}
}

func (p *fastParser) byte(c byte) bool {
	if p.i < len(p.b) && p.b[p.i] == c {
		p.i++
		return true
	}
	return false
}

// key reads an object member's key and the ':' after it, with the white
// space around them. The keys the fast paths know are all plain ASCII, so
// a key with an escape or a byte ≥ 0x80 gives up here: str would read it
// to a key none of them knows, or give up itself (\u, which can spell a
// known key, is encoding/json's). One call a key, not str's: it is on the
// path of every member of a million events and files.
func (p *fastParser) key() ([]byte, bool) {
	p.ws()
	if !p.byte('"') {
		return nil, false
	}
	b, start := p.b, p.i
	for i := start; i < len(b); i++ {
		switch c := b[i]; {
		case c == '"':
			p.i = i + 1
			p.ws()
			if !p.byte(':') {
				return nil, false
			}
			p.ws()
			return b[start:i], true
		case c == '\\' || c < 0x20 || c >= 0x80:
			return nil, false
		}
	}
	return nil, false
}

// str returns the bytes of a string with at most the simple escapes (\"
// \\ \/ \b \f \n \r \t); \u escapes, control characters and invalid
// UTF-8 are left to encoding/json (which rewrites some of them).
func (p *fastParser) str() ([]byte, bool) {
	b, i := p.b, p.i
	if i >= len(b) || b[i] != '"' {
		return nil, false
	}
	i++
	start := i
	// The common case: plain ASCII up to the closing quote, eight bytes at
	// a time, then byte by byte up to the first byte special8 flags.
	for i+8 <= len(b) && !special8(binary.LittleEndian.Uint64(b[i:])) {
		i += 8
	}
	for ; i < len(b); i++ {
		switch c := b[i]; {
		case c == '"':
			p.i = i + 1
			return b[start:i], true
		case c == '\\' || c < 0x20 || c >= 0x80:
			p.i = start
			return p.strEscaped()
		}
	}
	return nil, false
}

// strEscaped is str for a string, from p.i (just after its opening
// quote), that holds an escape or a byte ≥ 0x80.
func (p *fastParser) strEscaped() ([]byte, bool) {
	start, ascii := p.i, true
	var out []byte // the unescaped string, once an escape was seen
	for p.i < len(p.b) {
		c := p.b[p.i]
		switch {
		case c == '"':
			s := p.b[start:p.i]
			if out != nil {
				s = append(out, s...)
			}
			p.i++
			if !ascii && !utf8.Valid(s) {
				return nil, false
			}
			return s, true
		case c == '\\':
			if p.i+1 >= len(p.b) {
				return nil, false
			}
			var r byte
			switch p.b[p.i+1] {
			case '"', '\\', '/':
				r = p.b[p.i+1]
			case 'b':
				r = '\b'
			case 'f':
				r = '\f'
			case 'n':
				r = '\n'
			case 'r':
				r = '\r'
			case 't':
				r = '\t'
			default:
				return nil, false
			}
			out = append(append(out, p.b[start:p.i]...), r)
			p.i += 2
			start = p.i
			continue
		case c < 0x20:
			return nil, false
		case c >= 0x80:
			ascii = false
		}
		p.i++
	}
	return nil, false
}

// special8 reports whether any byte of w (eight bytes of a string) is one
// str must look at: '"', '\\', a control character or a byte ≥ 0x80. It may
// say true when none is (then str looks at each byte), never false when one
// is.
func special8(w uint64) bool {
	const lo, hi = 0x0101010101010101, 0x8080808080808080
	q := w ^ (lo * '"')
	b := w ^ (lo * '\\')
	return (((q-lo)&^q)|((b-lo)&^b)|((w-lo*0x20)&^w)|w)&hi != 0
}

func (p *fastParser) string() (string, bool) {
	b, ok := p.str()
	return string(b), ok
}

// constant returns the constant (a role, an event type, an outcome, an
// errClass) b spells, without a map lookup or an allocation.
func constant(b []byte) (string, bool) {
	switch string(b) {
	case RoleClient:
		return RoleClient, true
	case RoleWebserver:
		return RoleWebserver, true
	case RoleEngine:
		return RoleEngine, true
	case RoleJobqueue:
		return RoleJobqueue, true
	case RoleRunner:
		return RoleRunner, true
	case RolePublisher:
		return RolePublisher, true
	case RoleConsumer:
		return RoleConsumer, true
	case EvUpload:
		return EvUpload, true
	case EvStored:
		return EvStored, true
	case EvRejected:
		return EvRejected, true
	case EvDupe:
		return EvDupe, true
	case EvRunStart:
		return EvRunStart, true
	case EvRunEnd:
		return EvRunEnd, true
	case EvLockAcquire:
		return EvLockAcquire, true
	case EvLockTakeover:
		return EvLockTakeover, true
	case EvLockRenew:
		return EvLockRenew, true
	case EvLockLost:
		return EvLockLost, true
	case EvLockRelease:
		return EvLockRelease, true
	case EvClaim:
		return EvClaim, true
	case EvOutput:
		return EvOutput, true
	case EvSkip:
		return EvSkip, true
	case EvDone:
		return EvDone, true
	case EvJobEnqueue:
		return EvJobEnqueue, true
	case EvJobStart:
		return EvJobStart, true
	case EvJobEnd:
		return EvJobEnd, true
	case EvPublish:
		return EvPublish, true
	case EvLoad:
		return EvLoad, true
	case EvError:
		return EvError, true
	case EvProcStart:
		return EvProcStart, true
	case EvProcExit:
		return EvProcExit, true
	case EvFault:
		return EvFault, true
	case EvClock:
		return EvClock, true
	case EvTrigger:
		return EvTrigger, true
	case OK:
		return OK, true
	case Fail:
		return Fail, true
	case Unknown:
		return Unknown, true
	case LoadTornHeader:
		return LoadTornHeader, true
	case LoadTornShort:
		return LoadTornShort, true
	case LoadTornLong:
		return LoadTornLong, true
	case LoadTornChecksum:
		return LoadTornChecksum, true
	case "EIO":
		return "EIO", true
	case "ESTALE":
		return "ESTALE", true
	case "ENOTCONN":
		return "ENOTCONN", true
	case "EACCES":
		return "EACCES", true
	case "ENOSPC":
		return "ENOSPC", true
	case "TIMEOUT":
		return "TIMEOUT", true
	case "OTHER":
		return "OTHER", true
	case "ENOENT":
		return "ENOENT", true
	}
	return "", false
}

func (p *fastParser) constant(in *interner) (string, bool) {
	b, ok := p.str()
	if !ok {
		return "", false
	}
	if s, ok := constant(b); ok {
		return s, true
	}
	return in.str(b), true
}

func (p *fastParser) interned(in *interner) (string, bool) {
	b, ok := p.str()
	if !ok {
		return "", false
	}
	return in.str(b), true
}

// uint reads a JSON integer without sign, leading zeros, fraction or
// exponent, that fits in a uint64.
func (p *fastParser) uint() (uint64, bool) {
	b, i := p.b, p.i
	start := i
	var n uint64
	// Eight digits at a time while at most 19 are read (below 2^64).
	for i+8 <= len(b) && i-start <= 11 {
		w := binary.LittleEndian.Uint64(b[i:])
		if !eightDigits(w) {
			break
		}
		n = n*100_000_000 + eightDigitsValue(w)
		i += 8
	}
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		d := uint64(b[i] - '0')
		if i-start >= 19 && n > (1<<64-1-d)/10 {
			return 0, false
		}
		n = n*10 + d
		i++
	}
	p.i = i
	digits := i - start
	switch {
	case digits == 0, digits > 1 && b[start] == '0':
		return 0, false
	case i < len(b) && (b[i] == '.' || b[i] == 'e' || b[i] == 'E'):
		return 0, false
	}
	return n, true
}

// eightDigits reports whether the eight bytes of w are all '0'-'9' (a byte
// that carries when 6 is added has a high nibble F and fails by itself).
func eightDigits(w uint64) bool {
	return (w&0xF0F0F0F0F0F0F0F0)|(((w+0x0606060606060606)&0xF0F0F0F0F0F0F0F0)>>4) == 0x3333333333333333
}

// eightDigitsValue is the number eight ASCII digits spell, the first byte
// (lowest in w) most significant.
func eightDigitsValue(w uint64) uint64 {
	w = (w & 0x0F0F0F0F0F0F0F0F) * 2561 >> 8
	w = (w & 0x00FF00FF00FF00FF) * 6553601 >> 16
	return (w & 0x0000FFFF0000FFFF) * 42949672960001 >> 32
}

func (p *fastParser) int() (int64, bool) {
	neg := p.byte('-')
	u, ok := p.uint()
	switch {
	case !ok:
		return 0, false
	case neg && u > 1<<63:
		return 0, false
	case neg && u == 1<<63:
		return -1 << 63, true
	case neg:
		return -int64(u), true
	case u > 1<<63-1:
		return 0, false
	}
	return int64(u), true
}

// goInt reads an integer that fits in an int (what encoding/json decodes
// into an int field).
func (p *fastParser) goInt() (int, bool) {
	n, ok := p.int()
	return int(n), ok && int64(int(n)) == n
}
