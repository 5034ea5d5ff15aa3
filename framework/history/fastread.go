package history

import (
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
type interner struct{ m map[string]string }

const maxInterned = 1 << 16

func (in *interner) str(b []byte) string {
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
		p.ws()
		key, ok := p.str()
		if !ok {
			return false
		}
		p.ws()
		if !p.byte(':') {
			return false
		}
		p.ws()
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
			e.Role, ok = p.interned(in)
		case "node":
			bit = fNode
			e.Node, ok = p.interned(in)
		case "type":
			bit = fType
			e.Type, ok = p.interned(in)
		case "call":
			bit = fCall
			e.Call, ok = p.int()
		case "ret":
			bit = fReturn
			e.Return, ok = p.int()
		case "outcome":
			bit = fOutcome
			e.Outcome, ok = p.interned(in)
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
			var n int64
			n, ok = p.int()
			e.Msgs = int(n)
			ok = ok && int64(e.Msgs) == n
		case "epoch":
			bit = fEpoch
			e.Epoch, ok = p.uint()
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
			e.ErrClass, ok = p.interned(in)
		case "detail":
			bit = fDetail
			e.Detail, ok = p.string()
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
	for p.i < len(p.b) {
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

// str returns the bytes of a string with at most the simple escapes (\"
// \\ \/ \b \f \n \r \t); \u escapes, control characters and invalid
// UTF-8 are left to encoding/json (which rewrites some of them).
func (p *fastParser) str() ([]byte, bool) {
	if !p.byte('"') {
		return nil, false
	}
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

func (p *fastParser) string() (string, bool) {
	b, ok := p.str()
	return string(b), ok
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
	start := p.i
	var n uint64
	for p.i < len(p.b) && p.b[p.i] >= '0' && p.b[p.i] <= '9' {
		d := uint64(p.b[p.i] - '0')
		if n > (1<<64-1-d)/10 {
			return 0, false
		}
		n = n*10 + d
		p.i++
	}
	digits := p.i - start
	switch {
	case digits == 0, digits > 1 && p.b[start] == '0':
		return 0, false
	case p.i < len(p.b) && (p.b[p.i] == '.' || p.b[p.i] == 'e' || p.b[p.i] == 'E'):
		return 0, false
	}
	return n, true
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
