package history

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"iter"
	"os"
	"path/filepath"
)

// Files a saved history consists of, inside a report directory.
const (
	EventsFile   = "history.ndjson"
	SnapshotFile = "snapshot.json"
)

// History is everything a run observed: the merged journals of every process
// and the final state of the volume.
type History struct {
	Events   []Event   `json:"-"`
	Snapshot *Snapshot `json:"-"`
	Stats    ReadStats `json:"-"`

	stream *stream // set by LoadStreamed: All and Files read from disk
}

// All yields every event in order. An event of a streamed history is valid
// until the next one is yielded (its memory is decoded into again): a
// consumer that keeps one keeps a copy.
func (h *History) All() iter.Seq[*Event] {
	return func(yield func(*Event) bool) {
		if h.stream != nil {
			h.stream.eachEvent(yield)
			return
		}
		for i := range h.Events {
			if !yield(&h.Events[i]) {
				return
			}
		}
	}
}

// Files yields every file of the snapshot.
func (h *History) Files() iter.Seq[*File] {
	return func(yield func(*File) bool) {
		if h.Snapshot == nil {
			return
		}
		if h.stream != nil {
			h.stream.eachFile(yield)
			return
		}
		for i := range h.Snapshot.Files {
			if !yield(&h.Snapshot.Files[i]) {
				return
			}
		}
	}
}

// Save writes the history into dir (history.ndjson, snapshot.json). Each file
// is written to a temp name and renamed, so a crash leaves no half file. The
// journals the history was read from (Stats.Journals: their torn lines and
// problems) are kept in the snapshot, so a re-check sees what the live
// check saw.
func (h *History) Save(dir string) error {
	if h.stream != nil {
		return errors.New("history: a streamed history holds no events to save (its evidence is in " + h.stream.dir + ")")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("history dir: %w", err)
	}
	if err := writeAtomic(filepath.Join(dir, EventsFile), func(f *os.File) error {
		return WriteEvents(f, h.Events)
	}); err != nil {
		return err
	}
	snap := Snapshot{Unscanned: true}
	if h.Snapshot != nil {
		snap = *h.Snapshot
	} else if len(h.Stats.Journals) == 0 {
		return nil // no snapshot, nothing to keep: snapshot.json stays absent
	}
	if len(h.Stats.Journals) > 0 {
		snap.Journals = h.Stats.Journals
	}
	return writeAtomic(filepath.Join(dir, SnapshotFile), func(f *os.File) error {
		enc := json.NewEncoder(f)
		enc.SetIndent("", " ")
		return enc.Encode(&snap)
	})
}

// Load reads a history from dir: history.ndjson (required) and
// snapshot.json (optional: without it, or with one marked unscanned, the
// volume's final state is unknown and Snapshot is nil). The events file is read as a saved history: every
// line must be a valid event, and a line cut short is damage. Lines and
// snapshot entries that break the format are Problems in Stats, never a
// silent skip; the error is only for a missing or unreadable file.
func Load(dir string) (*History, error) {
	// The snapshot is decoded while the events are: on a large run each
	// takes seconds, and the snapshot's decoder runs on one core.
	type snapResult struct {
		snap *Snapshot
		err  error
	}
	snapc := make(chan snapResult, 1)
	go func() {
		snap, err := readSnapshotFile(filepath.Join(dir, SnapshotFile))
		snapc <- snapResult{snap, err}
	}()
	evs, st, err := readSavedFile(filepath.Join(dir, EventsFile), EventsFile, ReadOptions{Saved: true})
	if err != nil {
		<-snapc
		return nil, err
	}
	Sort(evs)
	h := &History{Events: evs}
	sr := <-snapc
	snap, perr := sr.snap, sr.err
	var pathErr *fs.PathError
	switch {
	case errors.Is(perr, fs.ErrNotExist):
	case errors.As(perr, &pathErr):
		return nil, fmt.Errorf("load snapshot: %w", perr)
	default:
		if perr != nil {
			st.ProblemCount++
			st.Problems = append(st.Problems, Problem{File: SnapshotFile, Code: CodeSnapshot, Msg: perr.Error()})
			break
		}
		if !snap.Unscanned {
			h.Snapshot = snap
		}
		st.addJournals(snap.Journals)
	}
	h.Stats = st
	return h, nil
}

// ParseSnapshot decodes snapshot.json strictly: unknown fields and trailing
// data are errors.
func ParseSnapshot(data []byte) (*Snapshot, error) {
	d := json.NewDecoder(bytes.NewReader(data))
	d.DisallowUnknownFields()
	var snap Snapshot
	if err := d.Decode(&snap); err != nil {
		return nil, fmt.Errorf("snapshot.json does not parse: %w", err)
	}
	if d.More() {
		return nil, errors.New("snapshot.json has data after the snapshot object")
	}
	return &snap, nil
}

func writeAtomic(path string, fill func(*os.File) error) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if err := fill(tmp); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return fmt.Errorf("chmod %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("sync %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("close %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("rename %s: %w", path, err)
	}
	return nil
}

// addJournals adds what the snapshot says of the journals the history was
// merged from (their torn lines and problems, which are not in
// history.ndjson) and keeps the list.
func (st *ReadStats) addJournals(js []JournalFile) {
	for _, j := range js {
		st.Torn += j.Torn
		st.Foreign += j.Foreign
		st.ProblemCount += max(j.ProblemCount, len(j.Problems))
		for _, p := range j.Problems {
			if p.File == "" {
				p.File = j.Path
			}
			st.Problems = append(st.Problems, p)
		}
	}
	st.Journals = js
}
