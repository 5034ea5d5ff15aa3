package check

import (
	"encoding/hex"
	"fmt"
	"hash/maphash"
	"strings"

	"github.com/rwxchaos/rwxchaos/framework/history"
)

// The ledger classifies every interchange (key) as Jepsen's set-full does:
// from every upload attempt's outcome (ok / fail / unknown) and body (sha),
// every output attempt's outcome and writer (proc, epoch), and the output
// files and documents on the volume. Only what is proven is an anomaly;
// what the evidence leaves open is indeterminate, with the reason.

// body is one distinct uploaded body of a key and its attempts' outcomes.
type body struct {
	sha                    [32]byte
	msgs                   uint16
	acked, unknown, failed uint16
}

const (
	fUploaded    uint16 = 1 << iota
	fMultiBody          // more bodies in ledger.bodies
	fMultiWriter        // more output writers in ledger.extraW
	fDocByUnk           // a document on the volume was written by a writer whose attempt's outcome is unknown
	fFromRefused        // a document was made from a body whose every attempt was refused
	fUnkWriter          // an output's outcome was unknown: its writer in ledger.unkWriter
	fCorrupt            // why in ledger.why
	fStuck              // its input is still in input/work
)

// keyState is kept for every key of a run (a million of them in the
// benchmark): fields are ordered to pack without padding, and what few
// keys have is kept beside it (ledger.unkWriter, ledger.why, flags).
type keyState struct {
	ackTime  int64 // earliest ack return
	ackSeq   int64
	firstOut int64  // earliest ok output return
	outSeq   int64  // seq of the first ok output event (evidence)
	b        body   // the first body seen
	pathHash uint32 // of the first output file seen
	outPath  uint32 // hash of the path of the first ok output event (0: none journaled)
	ackProc  int32  // proc index of the earliest ack
	writer   int32  // 1+writer index of the first ok output
	outOK    uint16
	outFiles uint16
	docs     uint16
	flags    uint16
}

// writer is one (proc, epoch) that wrote outputs: one engine run under one
// epoch. Two writers outputting one key is processing it twice.
type writer struct {
	p     *procState
	epoch uint64
}

type writerRef struct {
	w    int32
	seq  int64
	ok   bool   // outcome ok (else unknown)
	path uint32 // hash of the output event's path (0: none)
}

type staleDoc struct {
	key      string
	path     string
	doc      writer
	newer    writer
	newerSeq int64
}

type ledger struct {
	hi   *historyState
	seed maphash.Seed // of output paths
	// keys numbers the keys (shared with the report's pass when the caller
	// gives one: Input.Keys). The ledger's own order is the order it met
	// its keys, which decides the anomalies kept as examples: a shared
	// table also numbers keys the ledger does not count (those of failed
	// outputs, of invalid events).
	keys  *history.Keys
	slot  []int32 // by key number: 1+the key's index in state (0: none)
	key   []int32 // by index in state: the key's number
	state []keyState
	// By index in state, for the few keys that have them: why the key is
	// corrupt (the first reason), the writer of its first output whose
	// outcome is unknown.
	why       map[int32]string
	unkWriter map[int32]int32

	bodies  map[int32][]body      // further bodies of fMultiBody keys
	extraW  map[int32][]writerRef // further output writers of fMultiWriter keys
	wIdx    map[writer]int32
	wList   []writer
	lastW   writer
	lastWI  int32
	outEvts int

	staleByVolume []staleDoc

	okScratch, unkScratch []writerRef
}

func newLedger(hint int, hi *historyState, keys *history.Keys) *ledger {
	if keys == nil {
		keys = history.NewKeys(hint)
	}
	return &ledger{hi: hi, seed: maphash.MakeSeed(), keys: keys,
		slot: make([]int32, 0, hint), key: make([]int32, 0, hint), state: make([]keyState, 0, hint),
		why: map[int32]string{}, unkWriter: map[int32]int32{},
		bodies: map[int32][]body{}, extraW: map[int32][]writerRef{}, wIdx: map[writer]int32{}, lastWI: -1}
}

// get returns the index in state of key, adding it.
func (l *ledger) get(key string) int32 {
	n := l.keys.Add(key)
	if int(n) >= len(l.slot) {
		l.slot = append(l.slot, make([]int32, int(n)+1-len(l.slot))...)
	}
	if l.slot[n] == 0 {
		l.key = append(l.key, n)
		l.state = append(l.state, keyState{})
		l.slot[n] = int32(len(l.state))
	}
	return l.slot[n] - 1
}

// pathHash is a file path's hash, never 0; 0 for no path.
func (l *ledger) pathHash(p string) uint32 {
	if p == "" {
		return 0
	}
	return uint32(maphash.String(l.seed, p)) | 1
}

func (l *ledger) writerOf(p *procState, epoch uint64) int32 {
	w := writer{p, epoch}
	if l.lastWI >= 0 && l.lastW == w {
		return l.lastWI
	}
	i, ok := l.wIdx[w]
	if !ok {
		i = int32(len(l.wList))
		l.wList = append(l.wList, w)
		l.wIdx[w] = i
	}
	l.lastW, l.lastWI = w, i
	return i
}

// decodeSHA decodes 64 hex digits without allocating (hex.Decode needs a
// []byte: a copy per event of a million-upload history).
func decodeSHA(s string) (sha [32]byte, ok bool) {
	if len(s) != 64 {
		return sha, false
	}
	var bad byte
	for i := range sha {
		hi, lo := unhexTable[s[2*i]], unhexTable[s[2*i+1]]
		bad |= hi | lo
		sha[i] = hi<<4 | lo
	}
	if bad&0x80 != 0 {
		return decodeSHASlow(s) // what it returned before the table
	}
	return sha, true
}

func decodeSHASlow(s string) (sha [32]byte, ok bool) {
	for i := range sha {
		hi, ok1 := unhex(s[2*i])
		lo, ok2 := unhex(s[2*i+1])
		if !ok1 || !ok2 {
			return sha, false
		}
		sha[i] = hi<<4 | lo
	}
	return sha, true
}

// unhexTable is unhex as a table: a digit's value, 0xff for any other byte.
var unhexTable = func() (t [256]byte) {
	for c := range t {
		v, ok := unhex(byte(c))
		t[c] = v
		if !ok {
			t[c] = 0xff
		}
	}
	return t
}()

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

func inc(n *uint16) {
	if *n < 1<<16-1 {
		*n++
	}
}

// bodyOf finds (or, with add, records) the body with this sha.
func (l *ledger) bodyOf(i int32, s *keyState, sha [32]byte, add bool) *body {
	if s.flags&fUploaded == 0 && !add {
		return nil
	}
	if s.b.sha == sha && (s.b.acked|s.b.unknown|s.b.failed) != 0 {
		return &s.b
	}
	if (s.b.acked | s.b.unknown | s.b.failed) == 0 {
		if !add {
			return nil
		}
		s.b.sha = sha
		return &s.b
	}
	bs := l.bodies[i]
	for j := range bs {
		if bs[j].sha == sha {
			return &bs[j]
		}
	}
	if !add {
		return nil
	}
	s.flags |= fMultiBody
	l.bodies[i] = append(bs, body{sha: sha})
	return &l.bodies[i][len(l.bodies[i])-1]
}

// eachBody calls f for every body of key i.
func (l *ledger) eachBody(i int32, s *keyState, f func(*body)) {
	if (s.b.acked | s.b.unknown | s.b.failed) != 0 {
		f(&s.b)
	}
	if s.flags&fMultiBody != 0 {
		for j := range l.bodies[i] {
			f(&l.bodies[i][j])
		}
	}
}

func (l *ledger) observe(e *history.Event, p *procState) {
	switch e.Type {
	case history.EvUpload:
		sha, ok := decodeSHA(e.SHA)
		if !ok {
			return // validated before: unreachable
		}
		i := l.get(e.Key)
		s := &l.state[i]
		s.flags |= fUploaded
		b := l.bodyOf(i, s, sha, true)
		if b.msgs == 0 && e.Msgs > 0 {
			b.msgs = uint16(min(e.Msgs, 1<<16-1))
		}
		switch e.Outcome {
		case history.OK:
			inc(&b.acked)
			if s.ackTime == 0 || e.End() < s.ackTime {
				s.ackTime, s.ackSeq, s.ackProc = e.End(), e.Seq, p.idx
			}
		case history.Unknown:
			inc(&b.unknown)
		default:
			inc(&b.failed)
		}
	case history.EvOutput:
		if e.Outcome == history.Fail {
			return // definitely not written
		}
		l.outEvts++
		i := l.get(e.Key)
		s := &l.state[i]
		w := l.writerOf(p, e.Epoch)
		ok := e.Outcome != history.Unknown
		if ok {
			inc(&s.outOK)
			if s.firstOut == 0 || e.End() < s.firstOut {
				s.firstOut = e.End()
			}
		}
		var unkWriter int32 // 1+writer index of the key's first unknown-outcome output
		switch {
		case ok && s.writer == 0:
			s.writer, s.outSeq, s.outPath = w+1, e.Seq, l.pathHash(e.Path)
		case !ok && s.flags&fUnkWriter == 0:
			s.flags |= fUnkWriter
			unkWriter = w + 1
			l.unkWriter[i] = unkWriter
		case !ok:
			unkWriter = l.unkWriter[i]
		}
		if (ok && s.writer != w+1) || (!ok && unkWriter != w+1) {
			s.flags |= fMultiWriter
			l.extraW[i] = append(l.extraW[i], writerRef{w: w, seq: e.Seq, ok: ok, path: l.pathHash(e.Path)})
		}
	}
}

// writers returns the distinct writers of key i with ok outputs and those
// with only unknown-outcome outputs. The slices are scratch space, valid
// until the next call.
func (l *ledger) writers(i int32, s *keyState) (okW, unkW []writerRef) {
	okW, unkW = l.okScratch[:0], l.unkScratch[:0]
	defer func() { l.okScratch, l.unkScratch = okW[:0], unkW[:0] }()
	if s.writer != 0 {
		okW = append(okW, writerRef{w: s.writer - 1, seq: s.outSeq, ok: true, path: s.outPath})
	}
	if s.flags&(fMultiWriter|fUnkWriter) == 0 {
		return okW, unkW
	}
	has := func(list []writerRef, w int32) bool {
		for _, r := range list {
			if r.w == w {
				return true
			}
		}
		return false
	}
	for _, r := range l.extraW[i] {
		if r.ok && !has(okW, r.w) {
			okW = append(okW, r)
		}
	}
	if s.flags&fUnkWriter != 0 && !has(okW, l.unkWriter[i]-1) {
		unkW = append(unkW, writerRef{w: l.unkWriter[i] - 1})
	}
	for _, r := range l.extraW[i] {
		if !r.ok && !has(okW, r.w) && !has(unkW, r.w) {
			unkW = append(unkW, r)
		}
	}
	return okW, unkW
}

func (l *ledger) file(f *history.File, stage, key string) {
	switch stage {
	case history.StageInput, history.StageWork:
		if key != "" {
			l.state[l.get(key)].flags |= fStuck
		}
	case history.StageOutput:
		if key == "" {
			key = "?" + f.Path
		}
		i := l.get(key)
		s := &l.state[i]
		ph := l.pathHash(f.Path)
		if s.outFiles > 0 && s.pathHash == ph {
			l.hi.damage(ClassBadSnapshot, f.Path, f.Path+": listed twice in the snapshot", Ref{Path: f.Path})
			return
		}
		if s.outFiles == 0 {
			s.pathHash = ph
		}
		inc(&s.outFiles)
		for range f.Docs {
			inc(&s.docs)
		}
		switch {
		case f.Err != "":
			l.corrupt(i, s, f.Path+": "+f.Err)
			return
		case len(f.Docs) == 0:
			l.corrupt(i, s, f.Path+": empty output file (no document)")
			return
		}
		for d := range f.Docs {
			l.doc(i, s, key, f.Path, ph, &f.Docs[d], d == len(f.Docs)-1)
		}
	}
}

// doc checks one output document against the uploads of its key and the
// journal of the engine that wrote it.
// last is true for a file's last document: the last write that landed.
func (l *ledger) doc(i int32, s *keyState, key, path string, ph uint32, d *history.OutputDoc, last bool) {
	if err := history.ValidateDoc(d); err != nil {
		l.corrupt(i, s, path+": "+err.Error())
		return
	}
	if d.Key != key {
		l.corrupt(i, s, fmt.Sprintf("%s: holds a document of %s", path, d.Key))
		return
	}
	sha, _ := decodeSHA(d.InputSHA) // validated
	if s.flags&fUploaded != 0 {
		acked := false
		l.eachBody(i, s, func(b *body) { acked = acked || b.acked > 0 })
		b := l.bodyOf(i, s, sha, false)
		switch {
		case b == nil:
			l.corrupt(i, s, fmt.Sprintf("%s: made from input %.12s…, which no upload attempt of %s sent", path, d.InputSHA, key))
			return
		case acked && b.acked == 0:
			var want string
			l.eachBody(i, s, func(b *body) {
				if b.acked > 0 && want == "" {
					want = hex.EncodeToString(b.sha[:6])
				}
			})
			l.corrupt(i, s, fmt.Sprintf("%s: made from input %.12s…, the acked upload was %s…", path, d.InputSHA, want))
			return
		case b.acked == 0 && b.unknown == 0:
			s.flags |= fFromRefused
		}
		if b.msgs > 0 && b.msgs < 1<<16-1 && d.Messages != int(b.msgs) {
			l.corrupt(i, s, fmt.Sprintf("%s: the document says %d messages, the upload had %d", path, d.Messages, b.msgs))
			return
		}
	}
	// Provenance: the engine and epoch the document names must have
	// journaled an output of it — unless that engine's last mutation is the
	// claim of this key under that epoch (killed while writing it: only
	// lock renewals or errors may follow).
	if l.hi.engineEvents == 0 {
		return // no engine journals at all (an adapter's app): nothing to tie it to
	}
	p := l.hi.procs[d.Engine]
	if p == nil {
		l.corrupt(i, s, fmt.Sprintf("%s: written by %s under epoch %d, which journaled nothing (an unjournaled write)", path, clipStr(d.Engine), d.Epoch))
		return
	}
	w, ok := l.wIdx[writer{p, d.Epoch}]
	okW, unkW := l.writers(i, s)
	isOK, isUnk := false, false
	for _, r := range okW {
		isOK = isOK || (ok && r.w == w)
	}
	for _, r := range unkW {
		isUnk = isUnk || (ok && r.w == w)
	}
	switch {
	case isOK:
	case isUnk:
		s.flags |= fDocByUnk
	case p.lastType == history.EvClaim && p.lastKey == key && p.lastEpoch == d.Epoch:
		// in flight: the engine died between writing and journaling it
	default:
		l.corrupt(i, s, fmt.Sprintf("%s: written by %s under epoch %d, which journaled no output of it (an unjournaled write)", path, d.Engine, d.Epoch))
		return
	}
	// The volume orders writes: the last document of a file is the last
	// write that landed. If it is of epoch N while another writer journaled
	// an output to this same file under a newer epoch, it landed after that
	// newer epoch was in use — a stale write.
	if !last {
		return
	}
	for _, r := range okW {
		nw := l.wList[r.w]
		if r.path == ph && nw.epoch > d.Epoch {
			l.staleByVolume = append(l.staleByVolume, staleDoc{key: key, path: path, doc: writer{p, d.Epoch}, newer: nw, newerSeq: r.seq})
			break
		}
	}
}

func (l *ledger) corrupt(i int32, s *keyState, why string) {
	if s.flags&fCorrupt == 0 {
		s.flags |= fCorrupt
		l.why[i] = why
	}
}

func (l *ledger) writerName(w int32) string {
	x := l.wList[w]
	return fmt.Sprintf("%s (epoch %d)", x.p.name, x.epoch)
}

// evidence names the ok outputs and the first ack of key i.
func (l *ledger) evidence(i int32, s *keyState) []Ref {
	var ev []Ref
	okW, _ := l.writers(i, s)
	for _, r := range okW {
		ev = append(ev, Ref{Proc: l.wList[r.w].p.name, Seq: r.seq, Type: history.EvOutput})
	}
	if s.ackTime != 0 {
		ev = append(ev, Ref{Proc: l.hi.list[s.ackProc].name, Seq: s.ackSeq, Type: history.EvUpload})
	}
	return ev
}

// evidenceIfKept is evidence for an anomaly that c will keep as an example.
func (l *ledger) evidenceIfKept(c *CheckResult, i int32, s *keyState) []Ref {
	if len(c.Anomalies) >= MaxAnomalies {
		return nil
	}
	return l.evidence(i, s)
}

func (l *ledger) classify(i int32, s *keyState, hasSnapshot bool) (class, why string) {
	var ackedBodies, acked, unknown int
	l.eachBody(i, s, func(b *body) {
		if b.acked > 0 {
			ackedBodies++
		}
		acked += int(b.acked)
		unknown += int(b.unknown)
	})
	okW, unkW := l.writers(i, s)
	present := s.outFiles > 0
	if !hasSnapshot {
		present = len(okW) > 0 || len(unkW) > 0
	}
	switch {
	case s.flags&fUploaded == 0:
		return ClassUnexpected, "an output exists for an interchange that was never uploaded"
	case s.flags&fCorrupt != 0:
		return ClassCorrupt, l.why[i]
	case ackedBodies > 1:
		return ClassDuplicated, "two different interchanges with this control reference were both acked"
	case s.outFiles > 1:
		return ClassDuplicated, fmt.Sprintf("%d output files", s.outFiles)
	case s.docs > 1:
		return ClassDuplicated, fmt.Sprintf("%d documents in one output file", s.docs)
	case len(okW) > 1:
		names := make([]string, len(okW))
		for j, r := range okW {
			names[j] = l.writerName(r.w)
		}
		return ClassDuplicated, fmt.Sprintf("processed %d times: output written by %s", len(okW), strings.Join(names, " and "))
	case len(okW) > 0 && int(s.outOK) > len(okW):
		return ClassDuplicated, fmt.Sprintf("processed twice: %d outputs journaled ok by %d writer(s) (a writer that knew its output was written wrote it again)", s.outOK, len(okW))
	case len(okW) == 1 && len(unkW) > 0 && s.flags&fDocByUnk != 0:
		return ClassDuplicated, fmt.Sprintf("processed twice: output written by %s and by %s, whose attempt's outcome was unknown but whose document is on the volume",
			l.writerName(okW[0].w), l.writerName(unkW[0].w))
	case s.flags&fStuck != 0:
		if present {
			return ClassStuck, "output exists but the input is still in input/work: the next pass would process it again"
		}
		return ClassStuck, "still in input/work when the run ended"
	case present && acked == 0 && unknown == 0:
		return ClassUnexpected, "output exists though every upload of it was refused"
	case present && s.flags&fFromRefused != 0:
		return ClassUnexpected, "output made from a body whose every upload was refused"
	case present && len(okW) == 1 && len(unkW) > 0:
		return ClassIndeterminate, fmt.Sprintf("output written by %s; an output attempt by %s had an unknown outcome and may have written it a second time",
			l.writerName(okW[0].w), l.writerName(unkW[0].w))
	case present && !hasSnapshot && len(okW) == 0:
		return ClassIndeterminate, "only output attempts of unknown outcome, and no snapshot to see whether one landed"
	case present:
		return ClassOK, ""
	case acked > 0:
		why := fmt.Sprintf("acked %d time(s), never output", acked)
		if !hasSnapshot {
			why += " (no snapshot: it may still be in input/work)"
		}
		return ClassLost, why
	case unknown > 0:
		return ClassIndeterminate, "upload outcome unknown and no output: may never have been stored"
	}
	return ClassRejected, ""
}

func (l *ledger) result(cfg Config, hasSnapshot bool) (CheckResult, map[string]int, Quantiles) {
	c := CheckResult{Name: CheckLedger}
	classes := map[string]int{}
	lat := make([]float64, 0, len(l.state))
	for i := range l.state {
		s := &l.state[i]
		cls, why := l.classify(int32(i), s, hasSnapshot)
		classes[cls]++
		switch cls {
		case ClassOK:
			if s.ackTime > 0 && s.firstOut > 0 {
				d := float64(s.firstOut-s.ackTime) / 1e6
				if d < 0 {
					d = 0 // output landed before the client saw the ack
				}
				lat = append(lat, d)
			}
		case ClassRejected:
		case ClassIndeterminate:
			if cfg.MaxIndeterminate != Unlimited {
				c.add(Anomaly{Class: cls, Key: l.keys.Key(l.key[i]), Detail: why, Evidence: l.evidenceIfKept(&c, int32(i), s)})
			}
		default:
			c.add(Anomaly{Class: cls, Key: l.keys.Key(l.key[i]), Time: s.firstOut, Detail: why, Evidence: l.evidenceIfKept(&c, int32(i), s)})
		}
	}
	for _, k := range []string{ClassOK, ClassLost, ClassDuplicated, ClassCorrupt, ClassUnexpected, ClassIndeterminate, ClassStuck, ClassRejected} {
		c.num(k, float64(classes[k]))
	}
	limits := []struct {
		class string
		max   int
	}{
		{ClassLost, cfg.MaxLost}, {ClassDuplicated, cfg.MaxDuplicated}, {ClassCorrupt, cfg.MaxCorrupt},
		{ClassUnexpected, cfg.MaxUnexpected}, {ClassStuck, cfg.MaxStuck}, {ClassIndeterminate, cfg.MaxIndeterminate},
	}
	var bad []string
	for _, lim := range limits {
		if lim.max != Unlimited && classes[lim.class] > lim.max {
			bad = append(bad, fmt.Sprintf("%d %s (max %d)", classes[lim.class], lim.class, lim.max))
		}
	}
	summary := fmt.Sprintf("%d interchanges: %d ok, %d lost, %d duplicated, %d corrupt, %d unexpected, %d stuck, %d indeterminate, %d rejected",
		len(l.state), classes[ClassOK], classes[ClassLost], classes[ClassDuplicated], classes[ClassCorrupt],
		classes[ClassUnexpected], classes[ClassStuck], classes[ClassIndeterminate], classes[ClassRejected])
	if !hasSnapshot {
		summary += " (no snapshot: outputs judged from output events, not verified on the volume)"
	} else if l.hi.engineEvents == 0 && classes[ClassOK] > 0 {
		summary += " (no engine journaled: documents not tied to their writers)"
	}
	if len(bad) > 0 {
		c.Status = Fail
		c.Message = strings.Join(bad, ", ") + " — " + summary
	} else {
		c.Status = Pass
		c.Message = summary
	}
	sortAnomalies(c.Anomalies)
	return c, classes, quantiles(lat)
}
