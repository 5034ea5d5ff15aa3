package history

import (
	"bufio"
	"bytes"
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
}

// ReadOptions configures ReadJournal.
type ReadOptions struct {
	// Mixed accepts lines that are not JSON objects (a pod's stdout carrying
	// both log lines and events) and counts them as Foreign instead of failing.
	Mixed bool
}

// ReadJournal parses NDJSON events from r. A malformed line is an error with
// its line number, except the very last line without a newline (torn append).
func ReadJournal(name string, r io.Reader, o ReadOptions) ([]Event, ReadStats, error) {
	var (
		st  ReadStats
		out []Event
	)
	br := bufio.NewReaderSize(r, 64<<10)
	for lineNo := 1; ; lineNo++ {
		line, err := br.ReadBytes('\n')
		if len(line) == 0 && err == io.EOF {
			break
		}
		if err != nil && err != io.EOF {
			return out, st, fmt.Errorf("%s:%d: read: %w", name, lineNo, err)
		}
		complete := len(line) > 0 && line[len(line)-1] == '\n'
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			if err == io.EOF {
				break
			}
			continue
		}
		st.Lines++
		if o.Mixed && line[0] != '{' {
			st.Foreign++
			if err == io.EOF {
				break
			}
			continue
		}
		var e Event
		perr := decodeStrict(line, &e)
		if perr == nil {
			perr = e.Validate()
		}
		if perr != nil {
			if !complete {
				st.Torn++
				break
			}
			if o.Mixed {
				st.Foreign++
				continue
			}
			return out, st, fmt.Errorf("%s:%d: bad journal line (fix or remove it): %w", name, lineNo, perr)
		}
		out = append(out, e)
		if err == io.EOF {
			break
		}
	}
	return out, st, nil
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

// ReadJournalFile reads one journal file.
func ReadJournalFile(path string, o ReadOptions) ([]Event, ReadStats, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, ReadStats{}, fmt.Errorf("open journal: %w", err)
	}
	defer f.Close()
	return ReadJournal(path, f, o)
}

// ReadJournalDir reads every *.ndjson file in dir (not recursive) and merges them.
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
		tot.Lines += st.Lines
		tot.Torn += st.Torn
		tot.Foreign += st.Foreign
		all = append(all, evs...)
	}
	Sort(all)
	return all, tot, nil
}

// Sort orders events by call time, then writer and sequence, so merged
// journals are deterministic.
func Sort(evs []Event) {
	sort.SliceStable(evs, func(i, j int) bool {
		a, b := &evs[i], &evs[j]
		if a.Call != b.Call {
			return a.Call < b.Call
		}
		if a.Proc != b.Proc {
			return a.Proc < b.Proc
		}
		return a.Seq < b.Seq
	})
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
