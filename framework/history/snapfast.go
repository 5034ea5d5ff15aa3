package history

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
)

// A fast path for snapshot.json, kept apart from ParseSnapshot (the
// reference) like the events' fast path (fastread.go): the files array —
// all but a few hundred bytes of a large snapshot — is decoded by hand,
// file by file, from a window over the stream, when it has the plain form
// Save writes: objects whose keys are File's and OutputDoc's JSON names,
// each at most once, with unescaped or simply escaped valid UTF-8 strings,
// integers and no nulls. The other top-level values (taken, lease,
// journals, unscanned: small) are cut out and decoded strictly with
// encoding/json. Anything else gives up (errSnapshotSlowPath), and the
// caller parses the file with ParseSnapshot, so errors and edge cases are
// the reference's. TestReadSnapshotFileMatchesParseSnapshot and
// FuzzSnapshotFast check both agree.

// snapWindow is the read window; snapMargin is how much of it must be
// ahead of the parser before one file is decoded: a file entry longer
// than that (thousands of documents) gives up to the reference.
const (
	snapWindow = 4 << 20
	snapMargin = 1 << 20
)

type snapStream struct {
	r   io.Reader
	buf []byte
	p   fastParser // p.b is buf's filled part
	eof bool
	err error // a read error other than EOF
	in  interner
	// size is the stream's length when known (0 if not), read how much of
	// it was read so far: they size the files slice.
	size, read int64
	// onFile, when set, gets each file instead of the files slice (a
	// streamed pass, stream.go); a false return stops the parse (stopped).
	// skipFiles passes over the files array without decoding it.
	onFile    func(*File) bool
	skipFiles bool
	stopped   bool
	skipped   int // values in the array skipArray passed over
}

// fill makes sure at least need bytes are ahead of the parser, unless the
// stream ends first; the window grows to hold them.
func (s *snapStream) fill(need int) {
	if len(s.p.b)-s.p.i >= need || s.eof || s.err != nil {
		return
	}
	rest := len(s.p.b) - s.p.i
	if cap(s.buf) < need || cap(s.buf) < snapWindow {
		nb := make([]byte, max(need, snapWindow, 2*cap(s.buf)))
		copy(nb, s.p.b[s.p.i:])
		s.buf = nb
	} else {
		copy(s.buf, s.p.b[s.p.i:])
	}
	s.buf = s.buf[:cap(s.buf)]
	n, err := io.ReadFull(s.r, s.buf[rest:])
	s.read += int64(n)
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		s.eof = true
	case err != nil:
		s.err = err
	}
	s.p.b, s.p.i = s.buf[:rest+n], 0
}

// parseSnapshotFast decodes r as ParseSnapshot would, or gives up with
// errSnapshotSlowPath; any other error is the reader's.
func parseSnapshotFast(r io.Reader, size int64) (*Snapshot, error) {
	s := &snapStream{r: r, size: size}
	snap, ok := s.snapshot()
	if s.err != nil {
		return nil, s.err
	}
	if !ok {
		return nil, errSnapshotSlowPath
	}
	return snap, nil
}

func (s *snapStream) snapshot() (*Snapshot, bool) {
	p := &s.p
	s.fill(snapMargin)
	p.ws()
	if !p.byte('{') {
		return nil, false
	}
	var snap Snapshot
	var seen uint8
	for first := true; ; first = false {
		s.fill(snapMargin)
		p.ws()
		if first && p.byte('}') {
			break
		}
		key, ok := p.key()
		if !ok {
			return nil, false
		}
		var bit uint8
		switch string(key) {
		case "taken":
			bit = 1
			snap.Taken, ok = p.int()
		case "files":
			bit = 2
			switch {
			case s.skipFiles:
				ok = s.skipArray()
			case s.onFile != nil:
				ok = s.eachFile(s.onFile)
			default:
				ok = s.files(&snap.Files)
			}
		case "lease":
			bit = 4
			ok = s.strict(&snap.Lease)
		case "journals":
			bit = 8
			ok = s.strict(&snap.Journals)
		case "unscanned":
			bit = 16
			ok = s.strict(&snap.Unscanned)
		default:
			return nil, false // unknown, or a case-insensitive match
		}
		if !ok || seen&bit != 0 {
			return nil, false
		}
		seen |= bit
		s.fill(snapMargin)
		p.ws()
		if p.byte(',') {
			continue
		}
		if !p.byte('}') {
			return nil, false
		}
		break
	}
	// Nothing but white space after the object.
	for {
		p.ws()
		if p.i < len(p.b) {
			return nil, false
		}
		if s.eof || s.err != nil {
			return &snap, s.err == nil
		}
		s.fill(snapMargin)
	}
}

// strict decodes the next value (a small one: the lease, the journals)
// with encoding/json into v, refusing unknown fields.
func (s *snapStream) strict(v any) bool {
	for need := snapMargin; ; need *= 2 {
		s.fill(need)
		n, ok := skipValue(s.p.b[s.p.i:])
		if ok {
			d := json.NewDecoder(bytes.NewReader(s.p.b[s.p.i : s.p.i+n]))
			d.DisallowUnknownFields()
			if err := d.Decode(v); err != nil || d.More() {
				return false
			}
			s.p.i += n
			return true
		}
		if s.eof || s.err != nil || need >= 64<<20 {
			return false
		}
	}
}

// skipValue returns the length of the JSON value b starts with, checking
// only its brackets and strings (the decoder that reads it checks the
// rest); ok is false when b ends first.
func skipValue(b []byte) (n int, ok bool) {
	depth := 0
	for i := 0; i < len(b); i++ {
		switch c := b[i]; c {
		case '"':
			for i++; i < len(b) && b[i] != '"'; i++ {
				if b[i] == '\\' {
					i++
				}
			}
			if i >= len(b) {
				return 0, false
			}
		case '{', '[':
			depth++
		case '}', ']':
			depth--
			if depth < 0 {
				return 0, false
			}
		default:
			if depth == 0 {
				// A scalar: up to the next delimiter.
				for i < len(b) {
					switch b[i] {
					case ',', '}', ']', ' ', '\t', '\r', '\n':
						return i, i > 0
					}
					i++
				}
				return 0, false
			}
		}
		if depth == 0 {
			return i + 1, true
		}
	}
	return 0, false
}

func (s *snapStream) files(files *[]File) bool {
	p := &s.p
	if !p.byte('[') {
		return false // null, or not an array
	}
	*files = make([]File, 0, 1024)
	s.fill(snapMargin)
	p.ws()
	if p.byte(']') {
		return true
	}
	for {
		s.fill(snapMargin)
		p.ws()
		if len(*files) == 1024 && s.size > 0 {
			// Sized once from the first files' bytes: a million files
			// grown by append allocate ~4 times their final slice.
			per := max((s.read-int64(len(s.p.b)-s.p.i))/1024, 1)
			if est := min(s.size/per+1024, 1<<22); est > 1024 {
				*files = append(make([]File, 0, est+est/32), *files...)
			}
		}
		*files = append(*files, File{})
		if !s.file(&(*files)[len(*files)-1]) {
			return false
		}
		p.ws()
		if p.byte(',') {
			continue
		}
		return p.byte(']')
	}
}

// eachFile decodes the files array like files, handing each file to fn
// (in its own File, which fn may keep) instead of keeping them.
func (s *snapStream) eachFile(fn func(*File) bool) bool {
	p := &s.p
	if !p.byte('[') {
		return false
	}
	s.fill(snapMargin)
	p.ws()
	if p.byte(']') {
		return true
	}
	var batch []File
	for {
		s.fill(snapMargin)
		p.ws()
		if len(batch) == 0 {
			batch = make([]File, 256)
		}
		f := &batch[0]
		batch = batch[1:]
		if !s.file(f) {
			return false
		}
		if !fn(f) {
			s.stopped = true
			return false
		}
		p.ws()
		if p.byte(',') {
			continue
		}
		return p.byte(']')
	}
}

// skipArray passes over the array the parser is at, window by window,
// checking only its brackets and strings (a pass that decodes it follows),
// and counts its objects, arrays and strings (skipped):
// strings are jumped with IndexByte, their closing quote told from an
// escaped one by the backslashes before it.
func (s *snapStream) skipArray() bool {
	p := &s.p
	if !p.byte('[') {
		return false
	}
	depth, inStr := 1, false
	trail := 0 // backslashes that ended the last window inside a string
	for {
		b := p.b[p.i:]
		for i := 0; i < len(b); {
			if inStr {
				j := bytes.IndexByte(b[i:], '"')
				if j < 0 {
					n := 0
					for n < len(b) && b[len(b)-1-n] == '\\' {
						n++
					}
					if n == len(b) {
						n += trail
					}
					trail = n
					break
				}
				k := i + j
				n := 0
				for k-n-1 >= 0 && b[k-n-1] == '\\' {
					n++
				}
				if k-n-1 < 0 {
					n += trail
				}
				trail = 0
				i = k + 1
				if n%2 == 0 {
					inStr = false
				}
				continue
			}
			switch b[i] {
			case '"':
				if depth == 1 {
					s.skipped++
				}
				inStr, trail = true, 0
			case '[', '{':
				if depth == 1 {
					s.skipped++
				}
				depth++
			case ']', '}':
				depth--
				if depth == 0 {
					p.i += i + 1
					return true
				}
			}
			i++
		}
		p.i = len(p.b)
		if s.eof || s.err != nil {
			return false
		}
		s.fill(snapMargin)
	}
}

// Field bits of a file and of a document, for duplicate detection.
const (
	sfPath = 1 << iota
	sfStage
	sfSize
	sfKey
	sfDocs
	sfErr
)

const (
	sdKey = 1 << iota
	sdFormat
	sdSender
	sdReceiver
	sdControl
	sdMessages
	sdInputSHA
	sdEpoch
	sdEngine
	sdWritten
)

func (s *snapStream) file(f *File) bool {
	p := &s.p
	if !p.byte('{') {
		return false
	}
	p.ws()
	if p.byte('}') {
		return true
	}
	var seen uint8
	for {
		key, ok := p.key()
		if !ok {
			return false
		}
		var bit uint8
		switch string(key) {
		case "path":
			bit = sfPath
			f.Path, ok = p.string()
		case "stage":
			bit = sfStage
			f.Stage, ok = p.interned(&s.in)
		case "size":
			bit = sfSize
			f.Size, ok = p.int()
		case "key":
			bit = sfKey
			f.Key, ok = p.string()
		case "docs":
			bit = sfDocs
			ok = s.docs(f)
		case "err":
			bit = sfErr
			f.Err, ok = p.string()
		default:
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
		return p.byte('}')
	}
}

func (s *snapStream) docs(f *File) bool {
	p := &s.p
	if !p.byte('[') {
		return false
	}
	p.ws()
	if p.byte(']') {
		f.Docs = []OutputDoc{}
		return true
	}
	for {
		p.ws()
		f.Docs = append(f.Docs, OutputDoc{})
		if !s.doc(&f.Docs[len(f.Docs)-1], f.Key) {
			return false
		}
		p.ws()
		if p.byte(',') {
			continue
		}
		return p.byte(']')
	}
}

func (s *snapStream) doc(d *OutputDoc, fileKey string) bool {
	p := &s.p
	if !p.byte('{') {
		return false
	}
	p.ws()
	if p.byte('}') {
		return true
	}
	var seen uint16
	for {
		key, ok := p.key()
		if !ok {
			return false
		}
		var bit uint16
		switch string(key) {
		case "key":
			bit = sdKey
			var b []byte
			if b, ok = p.str(); ok {
				if string(b) == fileKey {
					d.Key = fileKey // the file's own key, most often
				} else {
					d.Key = string(b)
				}
			}
		case "format":
			bit = sdFormat
			d.Format, ok = p.interned(&s.in)
		case "sender":
			bit = sdSender
			d.Sender, ok = p.interned(&s.in)
		case "receiver":
			bit = sdReceiver
			d.Receiver, ok = p.interned(&s.in)
		case "control":
			bit = sdControl
			d.Control, ok = p.string()
		case "messages":
			bit = sdMessages
			d.Messages, ok = p.goInt()
		case "inputSha256":
			bit = sdInputSHA
			d.InputSHA, ok = p.string()
		case "epoch":
			bit = sdEpoch
			d.Epoch, ok = p.uint()
		case "engine":
			bit = sdEngine
			d.Engine, ok = p.interned(&s.in)
		case "written":
			bit = sdWritten
			d.Written, ok = p.int()
		default:
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
		return p.byte('}')
	}
}
