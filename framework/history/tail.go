package history

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Tail follows a journal directory while processes write to it: each Next
// returns the events appended since the previous call, complete lines only
// (a line still being written is picked up next time). It is for progress
// and steady-state decisions during a run; the evidence a checker judges is
// read once at the end (ReadJournalDir).
type Tail struct {
	dir  string
	off  map[string]int64
	part map[string][]byte // an incomplete last line, per file
}

// NewTail follows the *.ndjson files of dir (which may not exist yet).
func NewTail(dir string) *Tail {
	return &Tail{dir: dir, off: map[string]int64{}, part: map[string][]byte{}}
}

// maxTailRead bounds one Next per file, so a huge backlog is read in steps.
const maxTailRead = 8 << 20

// Next returns the events appended since the last call. Lines that are not
// valid events are skipped (the final read at the end of the run reports
// them); an unreadable directory is an error.
func (t *Tail) Next() ([]Event, error) {
	ents, err := os.ReadDir(t.dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		return nil, fmt.Errorf("tail journals: %w", err)
	}
	var out []Event
	for _, de := range ents {
		name := de.Name()
		if de.IsDir() || !strings.HasSuffix(name, ".ndjson") {
			continue
		}
		evs, err := t.file(filepath.Join(t.dir, name))
		if err != nil {
			return out, err
		}
		out = append(out, evs...)
	}
	return out, nil
}

func (t *Tail) file(path string) ([]Event, error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		return nil, fmt.Errorf("tail %s: %w", path, err)
	}
	defer f.Close()
	off := t.off[path]
	if _, err := f.Seek(off, io.SeekStart); err != nil {
		return nil, fmt.Errorf("tail %s: %w", path, err)
	}
	buf, err := io.ReadAll(io.LimitReader(f, maxTailRead))
	if err != nil {
		return nil, fmt.Errorf("tail %s: %w", path, err)
	}
	t.off[path] = off + int64(len(buf))
	data := append(t.part[path], buf...)
	end := bytes.LastIndexByte(data, '\n')
	if end < 0 {
		t.part[path] = data
		return nil, nil
	}
	t.part[path] = append([]byte(nil), data[end+1:]...)
	var out []Event
	for _, line := range bytes.Split(data[:end], []byte{'\n'}) {
		line = bytes.TrimSpace(line)
		if len(line) == 0 || line[0] != '{' {
			continue
		}
		var e Event
		if decodeStrict(line, &e) != nil || e.Validate() != nil {
			continue
		}
		out = append(out, e)
	}
	return out, nil
}
