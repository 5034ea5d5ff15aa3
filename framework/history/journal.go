package history

import (
	"bufio"
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"
)

// Journal appends events of one process as NDJSON. Each event is one write(2)
// of one line, so a process killed mid-append leaves at most one torn last line,
// which the reader tolerates.
type Journal struct {
	mu   sync.Mutex
	w    io.Writer
	f    *os.File
	sync bool
	seq  int64
	proc string
	role string
	node string
	now  func() time.Time
}

// JournalOptions configures a Journal.
type JournalOptions struct {
	Proc string // writer id; ProcID builds a good one
	Role string
	Node string
	// Sync fsyncs after every event. Off by default: a killed process keeps its
	// page-cache writes; only a lost kernel (host crash) loses unsynced lines.
	Sync bool
	Now  func() time.Time // clock; time.Now when nil
}

// ProcID returns a process id unique across restarts: role-host-pid-start.
func ProcID(role, host string) string {
	return fmt.Sprintf("%s-%s-%d-%d", role, host, os.Getpid(), time.Now().UnixNano())
}

// OpenJournal creates or appends to the journal file at path.
func OpenJournal(path string, o JournalOptions) (*Journal, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("journal dir: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open journal: %w", err)
	}
	j := NewJournal(f, o)
	j.f = f
	return j, nil
}

// NewJournal writes to w (for example stdout, collected as pod logs).
func NewJournal(w io.Writer, o JournalOptions) *Journal {
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Journal{w: w, sync: o.Sync, proc: o.Proc, role: o.Role, node: o.Node, now: o.Now}
}

// Now is the journal's clock in Unix nanoseconds.
func (j *Journal) Now() int64 { return j.now().UnixNano() }

// Proc is the writer id stamped on every event.
func (j *Journal) Proc() string { return j.proc }

// Append stamps e with proc, role, node and sequence number and writes it.
// A zero Call is set to now.
func (j *Journal) Append(e Event) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.seq++
	e.Proc, e.Seq = j.proc, j.seq
	if e.Role == "" {
		e.Role = j.role
	}
	if e.Node == "" {
		e.Node = j.node
	}
	if e.Call == 0 {
		e.Call = j.Now()
	}
	b, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("encode event: %w", err)
	}
	b = append(b, '\n')
	if _, err := j.w.Write(b); err != nil {
		return fmt.Errorf("append event: %w", err)
	}
	if j.sync && j.f != nil {
		if err := j.f.Sync(); err != nil {
			return fmt.Errorf("sync journal: %w", err)
		}
	}
	return nil
}

// Close closes the underlying file, if the journal opened one.
func (j *Journal) Close() error {
	if j.f == nil {
		return nil
	}
	return j.f.Close()
}

// ReadStats says what a reader passed over.
type ReadStats struct {
	Lines int `json:"lines"`
	// Torn counts unparsable last lines of a journal: the writer died mid-append.
	Torn int `json:"torn"`
	// Foreign counts lines that are not events (e.g. plain log lines in pod
	// output mixed with journal lines). Only counted when reading mixed streams.
	Foreign int `json:"foreign"`
	// Problems are the lines that break the format, with file:line; such a
	// line is not an event of the history (at most MaxProblems per file are
	// kept; ProblemCount counts them all).
	Problems     []Problem `json:"problems,omitempty"`
	ProblemCount int       `json:"problemCount,omitempty"`
	// Journals describes each journal file read (ReadJournalDir).
	Journals []JournalFile `json:"journals,omitempty"`
}

// Add merges o into s.
func (s *ReadStats) Add(o ReadStats) {
	s.Lines += o.Lines
	s.Torn += o.Torn
	s.Foreign += o.Foreign
	s.Problems = append(s.Problems, o.Problems...)
	s.ProblemCount += o.ProblemCount
	s.Journals = append(s.Journals, o.Journals...)
}

// Problem is one place where a history breaks the format: a line of a
// journal or of a saved history, or an entry of the snapshot. The checkers
// report every problem as damage; the line is not used as evidence.
type Problem struct {
	File string `json:"file,omitempty"`
	Line int    `json:"line,omitempty"`
	Proc string `json:"proc,omitempty"` // of the line, when it could be read
	Seq  int64  `json:"seq,omitempty"`
	Code string `json:"code"`
	Msg  string `json:"msg"`
}

func (p Problem) String() string {
	var b strings.Builder
	if p.File != "" {
		b.WriteString(p.File)
		if p.Line > 0 {
			fmt.Fprintf(&b, ":%d", p.Line)
		}
		b.WriteString(": ")
	}
	if p.Proc != "" {
		fmt.Fprintf(&b, "%s seq %d: ", p.Proc, p.Seq)
	}
	b.WriteString(p.Msg)
	return b.String()
}

// JournalFile is one journal a history was merged from, as the reader found
// it. History.Save keeps the list in the snapshot, so a re-check sees the
// torn lines and problems the live check saw.
type JournalFile struct {
	Path    string   `json:"path"`
	Procs   []string `json:"procs,omitempty"` // writers found in it
	Lines   int      `json:"lines"`
	Events  int      `json:"events"`
	Torn    int      `json:"torn,omitempty"`
	Foreign int      `json:"foreign,omitempty"`
	// Problems are its lines that break the format (dropped from the history).
	Problems     []Problem `json:"problems,omitempty"`
	ProblemCount int       `json:"problemCount,omitempty"`
}

// MaxProblems caps the problems kept per file; MaxLine is the longest line read.
const (
	MaxProblems = 1000
	MaxLine     = 1 << 20
)

// ReadOptions configures ReadJournal.
type ReadOptions struct {
	// Mixed accepts lines that are not JSON objects (a pod's stdout carrying
	// both log lines and events) and counts them as Foreign instead of
	// reporting them.
	Mixed bool
	// Saved reads a history written whole by History.Save (or by hand): a
	// last line cut short is damage, not the torn append of a killed writer.
	Saved bool
}

// ReadJournal parses NDJSON events from r. Lines that break the format
// (bad JSON, unknown fields, values the format does not allow) are not
// returned as events; each is a Problem in the stats with name:line. The last
// line of a live journal that ends without a newline in the middle of its
// JSON is a torn append (counted, not a problem). The error is only for I/O
// failures.
func ReadJournal(name string, r io.Reader, o ReadOptions) ([]Event, ReadStats, error) {
	return readJournalInto(nil, name, r, o, 0)
}

// readJournalInto is ReadJournal appending the events to dst, which is made
// with room for hint events when nil (the parallel reader knows how many
// lines a chunk has).
func readJournalInto(dst []Event, name string, r io.Reader, o ReadOptions, hint int) ([]Event, ReadStats, error) {
	var st ReadStats
	out := dst
	if out == nil && hint > 0 {
		out = make([]Event, 0, hint)
	}
	problem := func(p Problem) {
		st.ProblemCount++
		if len(st.Problems) < MaxProblems {
			p.File = name
			st.Problems = append(st.Problems, p)
		}
	}
	br := bufio.NewReaderSize(r, 64<<10)
	var (
		buf []byte
		in  interner
	)
	for lineNo := 1; ; lineNo++ {
		line, complete, tooLong, err := readLine(br, &buf)
		if err != nil {
			return out, st, fmt.Errorf("%s:%d: read: %w", name, lineNo, err)
		}
		if line == nil && !complete && !tooLong {
			break // EOF
		}
		if tooLong {
			st.Lines++
			problem(Problem{Line: lineNo, Code: CodeTooLong, Msg: fmt.Sprintf("line longer than %d bytes", MaxLine)})
			if !complete {
				break
			}
			continue
		}
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			if !complete {
				break
			}
			continue
		}
		st.Lines++
		if o.Mixed && line[0] != '{' {
			st.Foreign++
			if !complete {
				break
			}
			continue
		}
		// Decoded in place at the end of out: a local Event would escape to
		// the heap (the strict path hands it to encoding/json), one
		// allocation per event that is then copied into out.
		out = append(out, Event{})
		e := &out[len(out)-1]
		drop := func() {
			*e = Event{}
			out = out[:len(out)-1]
		}
		var perr error
		if !decodeEventFast(line, e, &in) {
			*e = Event{}
			perr = decodeStrict(line, e)
		}
		if perr != nil {
			drop()
			cut := !complete && errors.Is(perr, io.ErrUnexpectedEOF)
			switch {
			case cut && !o.Saved:
				st.Torn++
			case o.Mixed:
				st.Foreign++
			case cut:
				problem(Problem{Line: lineNo, Code: CodeTorn, Msg: "the last line is cut short (a saved history is written whole: it was truncated or edited): " + perr.Error()})
			default:
				code := CodeSyntax
				if strings.Contains(perr.Error(), "unknown field") {
					code = CodeUnknownField
				}
				// Name the line's writer when it can be read at all, so
				// the damage is not also counted as a gap in its seq.
				var id struct {
					Proc string `json:"proc"`
					Seq  int64  `json:"seq"`
				}
				_ = json.Unmarshal(line, &id)
				problem(Problem{Line: lineNo, Proc: id.Proc, Seq: id.Seq, Code: code, Msg: "not an event: " + perr.Error()})
			}
			if !complete {
				break
			}
			continue
		}
		if verr := e.Validate(); verr != nil {
			p := Problem{Line: lineNo, Proc: e.Proc, Seq: e.Seq, Code: CodeSyntax, Msg: verr.Error()}
			var fe *FormatError
			if errors.As(verr, &fe) {
				p.Code = fe.Code
			}
			drop()
			problem(p)
		}
		if !complete {
			break
		}
	}
	return out, st, nil
}

// readLine returns the next line without its newline. complete is false
// for a last line that has no newline; line is nil and complete false at
// EOF. A line longer than MaxLine is skipped (tooLong).
func readLine(br *bufio.Reader, buf *[]byte) (line []byte, complete, tooLong bool, err error) {
	*buf = (*buf)[:0]
	for {
		chunk, err := br.ReadSlice('\n')
		if len(*buf)+len(chunk) > MaxLine {
			tooLong = true
		} else {
			*buf = append(*buf, chunk...)
		}
		switch {
		case err == nil:
			if tooLong {
				return nil, true, true, nil
			}
			b := *buf
			return b[:len(b)-1], true, false, nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF):
			if tooLong {
				return nil, false, true, nil
			}
			if len(*buf) == 0 {
				return nil, false, false, nil
			}
			return *buf, false, false, nil
		default:
			return nil, false, false, err
		}
	}
}

func decodeStrict(b []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		return err
	}
	if d.More() {
		return errors.New("trailing data after the event")
	}
	return nil
}

// ReadJournalFile reads one live journal file (a torn last line is a killed
// writer's, not damage).
func ReadJournalFile(path string, o ReadOptions) ([]Event, ReadStats, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, ReadStats{}, fmt.Errorf("open journal: %w", err)
	}
	defer f.Close()
	name := filepath.Base(path)
	if o.Saved {
		name = path
	}
	evs, st, err := ReadJournal(name, f, o)
	if err != nil {
		return nil, st, err
	}
	jf := JournalFile{Path: filepath.Base(path), Lines: st.Lines, Events: len(evs), Torn: st.Torn, Foreign: st.Foreign,
		Problems: st.Problems, ProblemCount: st.ProblemCount}
	seen := map[string]bool{}
	for i := range evs {
		if p := evs[i].Proc; !seen[p] && len(jf.Procs) < 100 {
			seen[p] = true
			jf.Procs = append(jf.Procs, p)
		}
	}
	st.Journals = []JournalFile{jf}
	return evs, st, nil
}

// ReadJournalDir reads every *.ndjson file in dir (not recursive) and merges
// them. Stats.Journals lists every file, including empty ones: a process
// that journaled nothing still shows that it opened its journal.
func ReadJournalDir(dir string) ([]Event, ReadStats, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, ReadStats{}, fmt.Errorf("read journal dir: %w", err)
	}
	var (
		all []Event
		tot ReadStats
	)
	for _, de := range ents {
		if de.IsDir() || !strings.HasSuffix(de.Name(), ".ndjson") {
			continue
		}
		evs, st, err := ReadJournalFile(filepath.Join(dir, de.Name()), ReadOptions{})
		if err != nil {
			return nil, tot, err
		}
		tot.Add(st)
		all = append(all, evs...)
	}
	Sort(all)
	return all, tot, nil
}

// Sort orders events by call time, then writer and sequence, so merged
// journals are deterministic. The sort is stable; a slice already in order
// (every saved history is written sorted) is only scanned.
func Sort(evs []Event) {
	for i := 1; i < len(evs); i++ {
		if compareEvents(&evs[i], &evs[i-1]) < 0 {
			sort.SliceStable(evs, func(i, j int) bool { return compareEvents(&evs[i], &evs[j]) < 0 })
			return
		}
	}
}

func compareEvents(a, b *Event) int {
	if c := cmp.Compare(a.Call, b.Call); c != 0 {
		return c
	}
	if c := strings.Compare(a.Proc, b.Proc); c != 0 {
		return c
	}
	return cmp.Compare(a.Seq, b.Seq)
}

// WriteEvents writes events as NDJSON.
func WriteEvents(w io.Writer, evs []Event) error {
	bw := bufio.NewWriterSize(w, 256<<10)
	enc := json.NewEncoder(bw)
	for i := range evs {
		if err := enc.Encode(&evs[i]); err != nil {
			return fmt.Errorf("write event %d: %w", i, err)
		}
	}
	return bw.Flush()
}
