package history

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"
)

// Streaming a large saved history, for a consumer that reads it through
// All and Files only (the checkers and the report): a re-check of a
// million-upload run held ~2.8 GB as events and files in memory. A streamed
// history holds neither: every All or Files pass decodes history.ndjson or
// snapshot.json from disk (the events on every core, handed out in file
// order), and the consumer keeps what it needs.
//
// Only the plain form Save writes streams. A pass that meets anything the
// in-memory Load would read differently — a line that breaks the format,
// events out of the order Sort gives, a snapshot not in the plain form, a
// read error — stops early and StreamFailed says why; the consumer's result
// is then incomplete, and the caller must Load the history whole and start
// again (ErrStreamStopped).

// ErrStreamStopped says a pass over a streamed history stopped early: judge
// the history again from Load.
var ErrStreamStopped = errors.New("the streamed history stopped early; load it whole")

type stream struct {
	dir   string
	chunk int // bytes of the events file per decoder task

	mu     sync.Mutex
	failed string
	events int // events in a complete pass (-1 until one ran)
	files  int // files in the snapshot (fixed when opened)
}

// LoadStreamed is Load for a consumer that reads the history through All
// and Files only. When history.ndjson has at least minBytes and the
// snapshot's small fields (taken, lease, journals) read cleanly, the
// history is streamed: Events is nil, Snapshot.Files is nil, and each pass
// decodes from disk; EventCount and FileCount count them. Otherwise it is
// Load.
func LoadStreamed(dir string, minBytes int64) (*History, error) {
	st, err := os.Stat(filepath.Join(dir, EventsFile))
	if err != nil || st.Size() < minBytes {
		return Load(dir)
	}
	var (
		snap  *Snapshot
		files int // in the snapshot: the values of its files array
	)
	f, err := os.Open(filepath.Join(dir, SnapshotFile))
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return Load(dir)
	default:
		s := &snapStream{r: f, skipFiles: true}
		var ok bool
		snap, ok = s.snapshot()
		f.Close()
		if !ok || s.err != nil {
			return Load(dir) // the reference decides what is wrong with it
		}
		snap.Files = nil
		files = s.skipped
	}
	h := &History{stream: &stream{dir: dir, chunk: parallelChunk, events: -1, files: files}}
	if snap != nil {
		if !snap.Unscanned {
			h.Snapshot = snap
		}
		h.Stats.addJournals(snap.Journals)
	}
	return h, nil
}

// Streamed says whether the history is read from disk on every pass.
func (h *History) Streamed() bool { return h.stream != nil }

// StreamFailed says why a pass over a streamed history stopped early, or
// "" if none did.
func (h *History) StreamFailed() string {
	if h.stream == nil {
		return ""
	}
	h.stream.mu.Lock()
	defer h.stream.mu.Unlock()
	return h.stream.failed
}

// EventCount is the number of events: of a streamed history, as the last
// complete pass counted them (-1 before one).
func (h *History) EventCount() int {
	if h.stream == nil {
		return len(h.Events)
	}
	h.stream.mu.Lock()
	defer h.stream.mu.Unlock()
	return h.stream.events
}

// FileCount is the number of files in the snapshot (of a streamed
// history, the values its files array holds: a pass decodes each as a
// file or stops).
func (h *History) FileCount() int {
	if h.stream == nil {
		if h.Snapshot == nil {
			return 0
		}
		return len(h.Snapshot.Files)
	}
	return h.stream.files
}

func (s *stream) fail(why string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failed == "" {
		s.failed = why
	}
}

func (s *stream) counted(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.events = n
}

// streamChunk is one piece of the events file on its way through a
// decoder: res is filled once it is decoded.
type streamChunk struct {
	data  []byte
	line  int // the file's line number of its first line
	lines int // newlines in data
	res   chan streamResult
}

type streamResult struct {
	evs []Event
	st  ReadStats
	err error
}

// eachEvent decodes the events file on every core and yields its events in
// file order, checking that order is Sort's.
func (s *stream) eachEvent(yield func(*Event) bool) {
	f, err := os.Open(filepath.Join(s.dir, EventsFile))
	if err != nil {
		s.fail(err.Error())
		return
	}
	defer f.Close()
	workers := max(runtime.GOMAXPROCS(0), 1)
	work := make(chan *streamChunk, workers)
	order := make(chan *streamChunk, workers+1)
	stop := make(chan struct{})
	// Buffers go round instead of becoming garbage (for a 1M-upload
	// history, 1.7 GB of chunks and 1.2 GB of events): a chunk's bytes go
	// back to the reader once decoded (the decoder copies every string out
	// of them), its events back to the decoders once the consumer has read
	// them (a yielded event is valid until the next one is yielded).
	freeData := make(chan []byte, 2*workers+2)
	freeEvents := make(chan []Event, 2*workers+2)
	var readErr error
	go func() { // the reader: chunks cut at line ends, in order
		defer close(work)
		defer close(order)
		var carry []byte
		line := 1
		for {
			var buf []byte
			select {
			case buf = <-freeData:
			default:
			}
			data, rest, eof, err := nextLines(f, buf, carry, s.chunk)
			if err != nil {
				readErr = err
				return
			}
			carry = rest
			if len(data) > 0 {
				c := &streamChunk{data: data, line: line, lines: bytes.Count(data, []byte{'\n'}), res: make(chan streamResult, 1)}
				line += c.lines
				select {
				case order <- c:
				case <-stop:
					return
				}
				select {
				case work <- c:
				case <-stop:
					return
				}
			}
			if eof {
				return
			}
		}
	}()
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := range work {
				var dst []Event
				select {
				case dst = <-freeEvents:
					if cap(dst) < c.lines+1 {
						dst = nil // readJournalInto makes one of the right size
					}
				default:
				}
				evs, st, err := readJournalInto(dst, EventsFile, bytes.NewReader(c.data), ReadOptions{Saved: true}, c.lines+1)
				select {
				case freeData <- c.data:
				default:
				}
				c.data = nil
				c.res <- streamResult{evs, st, err}
			}
		}()
	}
	defer func() {
		close(stop)
		for range order { // let the reader end
		}
		wg.Wait()
	}()

	var (
		prev  *Event
		last  Event // a copy of prev once its chunk is read
		count int
	)
	for c := range order {
		r := <-c.res
		switch {
		case r.err != nil:
			s.fail(r.err.Error())
			return
		case r.st.ProblemCount > 0:
			why := fmt.Sprintf("%s: %d lines break the format", EventsFile, r.st.ProblemCount)
			if len(r.st.Problems) > 0 {
				p := r.st.Problems[0]
				p.Line += c.line - 1
				why = p.String()
			}
			s.fail(why)
			return
		}
		for i := range r.evs {
			e := &r.evs[i]
			if prev != nil && compareEvents(e, prev) < 0 {
				s.fail(fmt.Sprintf("%s: events out of order (%s seq %d before %s seq %d)", EventsFile, prev.Proc, prev.Seq, e.Proc, e.Seq))
				return
			}
			prev = e
			count++
			if !yield(e) {
				return
			}
		}
		if len(r.evs) > 0 {
			// The order check's last event, copied: the slice is decoded
			// into again.
			last = r.evs[len(r.evs)-1]
			prev = &last
		}
		clear(r.evs) // its strings are not held on to
		select {
		case freeEvents <- r.evs[:0]:
		default:
		}
	}
	if readErr != nil {
		s.fail(fmt.Sprintf("%s: read: %v", EventsFile, readErr))
		return
	}
	s.counted(count)
}

// eachFile decodes the snapshot's files on a goroutine of their own, a
// batch at a time, while the consumer reads the batch before.
func (s *stream) eachFile(yield func(*File) bool) {
	f, err := os.Open(filepath.Join(s.dir, SnapshotFile))
	if err != nil {
		s.fail(err.Error())
		return
	}
	defer f.Close()
	const batchSize = 512
	batches := make(chan []*File, 4)
	stop := make(chan struct{})
	var (
		count int
		ss    *snapStream
		ok    bool
	)
	go func() {
		defer close(batches)
		var batch []*File
		send := func() bool {
			select {
			case batches <- batch:
				batch = nil
				return true
			case <-stop:
				return false
			}
		}
		ss = &snapStream{r: f, onFile: func(file *File) bool {
			count++
			if batch = append(batch, file); len(batch) == batchSize {
				return send()
			}
			return true
		}}
		_, ok = ss.snapshot()
		if len(batch) > 0 && !ss.stopped {
			send()
		}
	}()
	stopped := false
	defer func() { // also when yield panics: the decoder must not block
		if !stopped {
			close(stop)
		}
		for range batches {
		}
	}()
	for batch := range batches {
		for _, file := range batch {
			if !stopped && !yield(file) {
				stopped = true
				close(stop)
			}
		}
	}
	// batches is closed: the decoder is done, and ss, ok, count are set.
	switch {
	case stopped || ss.stopped:
	case ss.err != nil:
		s.fail(fmt.Sprintf("%s: read: %v", SnapshotFile, ss.err))
	case !ok:
		s.fail(SnapshotFile + ": not in the plain form Save writes")
	case count != s.files:
		s.fail(fmt.Sprintf("%s: %d files, %d when the history was opened (it changed)", SnapshotFile, count, s.files))
	}
}
