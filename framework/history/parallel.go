package history

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"sync"
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
	return readParallel(f, name, opts, workers, parallelChunk)
}

type chunk struct {
	seq   int
	data  []byte
	lines int // newlines in data
}

type chunkResult struct {
	evs []Event
	st  ReadStats
	err error
}

func readParallel(r io.Reader, name string, opts ReadOptions, workers, chunkSize int) ([]Event, ReadStats, error) {
	chunks := make(chan chunk, workers)
	var readErr error
	go func() {
		defer close(chunks)
		var carry []byte
		for seq := 0; ; {
			buf := make([]byte, len(carry), len(carry)+chunkSize)
			copy(buf, carry)
			n, err := io.ReadFull(r, buf[len(carry):cap(buf)])
			buf = buf[:len(carry)+n]
			eof := errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
			if err != nil && !eof {
				readErr = err
				return
			}
			cut := len(buf)
			if !eof {
				// Up to the last newline; the rest starts the next chunk (a
				// line longer than a chunk grows the carry until it ends).
				cut = bytes.LastIndexByte(buf, '\n') + 1
			}
			carry = append([]byte(nil), buf[cut:]...)
			if cut > 0 {
				chunks <- chunk{seq: seq, data: buf[:cut], lines: bytes.Count(buf[:cut], []byte{'\n'})}
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
		lines   = map[int]int{}
		wg      sync.WaitGroup
	)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := range chunks {
				evs, st, err := readJournal(name, bytes.NewReader(c.data), opts, c.lines+1)
				mu.Lock()
				results[c.seq] = &chunkResult{evs: evs, st: st, err: err}
				lines[c.seq] = c.lines
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

	// Merge in file order as the chunks come back: the chunks' events are
	// kept until the last one is in, then copied once into a slice of the
	// exact size (a guess from the file size either wastes memory or grows
	// by copying; at 5M events either costs gigabytes).
	var parts [][]Event
	var total ReadStats
	offset, count := 0, 0
	for seq := 0; ; seq++ {
		mu.Lock()
		for results[seq] == nil && !closed(done) {
			cond.Wait()
		}
		res, n := results[seq], lines[seq]
		delete(results, seq)
		mu.Unlock()
		if res == nil {
			break // every chunk is merged
		}
		if res.err != nil {
			return concat(parts, count), total, res.err
		}
		parts = append(parts, res.evs)
		count += len(res.evs)
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
		offset += n
	}
	out := concat(parts, count)
	if readErr != nil {
		return out, total, fmt.Errorf("%s: read: %w", name, readErr)
	}
	return out, total, nil
}

// concat copies parts into one slice of n events, releasing each part as
// it goes so the peak is the result plus one part's worth less each step.
func concat(parts [][]Event, n int) []Event {
	if len(parts) == 1 {
		return parts[0]
	}
	out := make([]Event, 0, n)
	for i := range parts {
		out = append(out, parts[i]...)
		parts[i] = nil
	}
	return out
}

func closed(c chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}
