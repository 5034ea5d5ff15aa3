package history

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
)

// Reading a large saved history on several cores, kept apart from the
// reader's rules: the file is cut at line boundaries into chunks that
// ReadJournal itself decodes concurrently, and the events, counts and
// problems are merged back in file order (problem line numbers counted from
// the start of the file), so the result is the one a single ReadJournal
// over the whole file gives.

// parallelChunk is the size of one chunk; smaller files are read in one go.
const parallelChunk = 4 << 20

// readSavedFile reads the saved history at path like
// ReadJournal(name, file, opts), using every core for a large file.
func readSavedFile(path, name string, opts ReadOptions) ([]Event, ReadStats, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, ReadStats{}, fmt.Errorf("load history: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	workers := runtime.GOMAXPROCS(0)
	if err != nil || workers < 2 || st.Size() < 2*parallelChunk {
		return ReadJournal(name, f, opts)
	}
	lines, err := countLines(f, st.Size(), workers)
	if err != nil {
		return nil, ReadStats{}, fmt.Errorf("%s: read: %w", name, err)
	}
	return readParallel(f, name, opts, workers, parallelChunk, lines)
}

// countLines counts the newlines of f's first size bytes on workers
// goroutines (a few hundred ms for 2 GB in the page cache), so the reader
// can decode every event straight into its place in one slice.
func countLines(f io.ReaderAt, size int64, workers int) (int, error) {
	var (
		wg    sync.WaitGroup
		total atomic.Int64
		first error
		once  sync.Once
	)
	part := size/int64(workers) + 1
	for w := range workers {
		wg.Add(1)
		go func(off, end int64) {
			defer wg.Done()
			buf := make([]byte, 1<<20)
			var n int64
			for off < end {
				k, err := f.ReadAt(buf[:min(int64(len(buf)), end-off)], off)
				n += int64(bytes.Count(buf[:k], []byte{'\n'}))
				off += int64(k)
				if err != nil && !(errors.Is(err, io.EOF) && off >= end) {
					if !errors.Is(err, io.EOF) {
						once.Do(func() { first = err })
					}
					break
				}
			}
			total.Add(n)
		}(int64(w)*part, min(int64(w+1)*part, size))
	}
	wg.Wait()
	return int(total.Load()), first
}

type chunk struct {
	seq   int
	data  []byte
	lines int // newlines in data
	// start is the index in the shared slice where this chunk's events
	// go; -1 when they do not fit there (the file grew after it was
	// counted) and get a slice of their own.
	start int
}

type chunkResult struct {
	c   chunk // data released
	evs []Event
	st  ReadStats
	err error
}

// readParallel decodes r in chunks on workers goroutines. lines is the
// number of newlines in r when known (0 if not): every chunk's events are
// then decoded straight into their place in one slice of lines+1 events
// (a chunk of n lines gets n slots; only the last chunk can hold a line
// with no newline, the +1), and the slice is compacted in file order as
// the chunks finish. Without it each chunk has its own slice and they are
// copied into one at the end.
func readParallel(r io.Reader, name string, opts ReadOptions, workers, chunkSize, lines int) ([]Event, ReadStats, error) {
	var shared []Event
	if lines > 0 {
		shared = make([]Event, lines+1)
	}
	chunks := make(chan chunk, workers)
	// Chunk buffers go back to the reader once decoded (the decoder copies
	// every string out of them): a few buffers in all instead of one per
	// 4 MiB of file, ~1.7 GB of garbage for a 1M-upload history.
	free := make(chan []byte, 2*workers+2)
	var readErr error
	go func() {
		defer close(chunks)
		var carry []byte
		next := 0 // the next chunk's first slot in shared
		for seq := 0; ; {
			var buf []byte
			select {
			case b := <-free:
				buf = b[:0]
			default:
			}
			data, rest, eof, err := nextLines(r, buf, carry, chunkSize)
			if err != nil {
				readErr = err
				return
			}
			carry = rest
			if len(data) > 0 {
				c := chunk{seq: seq, data: data, lines: bytes.Count(data, []byte{'\n'}), start: -1}
				if next >= 0 && next+c.lines+1 <= len(shared) {
					c.start = next
					next += c.lines
				} else {
					next = -1 // from here on every chunk has its own slice
				}
				chunks <- c
				seq++
			}
			if eof {
				return
			}
		}
	}()

	var (
		mu      sync.Mutex
		cond    = sync.NewCond(&mu)
		results = map[int]*chunkResult{}
		wg      sync.WaitGroup
	)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := range chunks {
				var dst []Event
				if c.start >= 0 {
					// A non-final chunk fills at most its c.lines slots;
					// the extra one is for a final line with no newline.
					dst = shared[c.start:c.start:min(c.start+c.lines+1, len(shared))]
				}
				evs, st, err := readJournalInto(dst, name, bytes.NewReader(c.data), opts, c.lines+1)
				select {
				case free <- c.data:
				default:
				}
				c.data = nil
				mu.Lock()
				results[c.seq] = &chunkResult{c: c, evs: evs, st: st, err: err}
				cond.Broadcast()
				mu.Unlock()
			}
		}()
	}
	done := make(chan struct{})
	go func() {
		wg.Wait()
		mu.Lock()
		close(done)
		cond.Broadcast()
		mu.Unlock()
	}()

	// Merge in file order as the chunks come back: in-place events are
	// moved down over the slots of lines that held no event (problems,
	// blank lines); the events of a chunk with a slice of its own are
	// appended (only after the file grew while it was read).
	out := shared[:0]
	var total ReadStats
	offset := 0
	for seq := 0; ; seq++ {
		mu.Lock()
		for results[seq] == nil && !closed(done) {
			cond.Wait()
		}
		res := results[seq]
		delete(results, seq)
		mu.Unlock()
		if res == nil {
			break // every chunk is merged
		}
		c := res.c
		if res.err != nil {
			return out, total, res.err
		}
		if c.start >= 0 && len(res.evs) > 0 && &res.evs[0] == &shared[c.start] {
			if len(out) != c.start {
				out = append(out, res.evs...) // copy down: len(out) < c.start
				clear(shared[len(out) : c.start+len(res.evs)])
			} else {
				out = out[:len(out)+len(res.evs)]
			}
		} else {
			out = append(out, res.evs...)
		}
		for _, p := range res.st.Problems {
			p.Line += offset
			if len(total.Problems) < MaxProblems {
				total.Problems = append(total.Problems, p)
			}
		}
		total.Lines += res.st.Lines
		total.Torn += res.st.Torn
		total.Foreign += res.st.Foreign
		total.ProblemCount += res.st.ProblemCount
		offset += c.lines
	}
	if readErr != nil {
		return out, total, fmt.Errorf("%s: read: %w", name, readErr)
	}
	if len(out) == 0 {
		return nil, total, nil
	}
	return out[:len(out):len(out)], total, nil
}

// nextLines reads the next chunk of r into buf (a new buffer when buf
// cannot hold carry and chunkSize more bytes): the carried bytes, then
// chunkSize bytes of r, up to the last newline; the bytes after it are the
// next carry, copied out of buf (a line longer than a chunk grows the carry
// until it ends). At EOF, data ends with the last line, newline or not.
func nextLines(r io.Reader, buf, carry []byte, chunkSize int) (data, next []byte, eof bool, err error) {
	if cap(buf) < len(carry)+chunkSize {
		// Room for a longer carry than this one: the buffer can be used
		// again for the next chunks (their carries differ by a line).
		buf = make([]byte, 0, len(carry)+chunkSize+min(chunkSize/16, 64<<10))
	}
	buf = append(buf[:0], carry...)
	n, err := io.ReadFull(r, buf[len(carry):len(carry)+chunkSize])
	buf = buf[:len(carry)+n]
	eof = errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
	if err != nil && !eof {
		return nil, nil, false, err
	}
	cut := len(buf)
	if !eof {
		cut = bytes.LastIndexByte(buf, '\n') + 1
	}
	return buf[:cut], append([]byte(nil), buf[cut:]...), eof, nil
}

func closed(c chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}
