package history

import (
	"encoding/json"
	"fmt"
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
}

// All yields every event in order.
func (h *History) All() iter.Seq[*Event] {
	return func(yield func(*Event) bool) {
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
		for i := range h.Snapshot.Files {
			if !yield(&h.Snapshot.Files[i]) {
				return
			}
		}
	}
}

// Save writes the history into dir (history.ndjson, snapshot.json). Each file
// is written to a temp name and renamed, so a crash leaves no half file.
func (h *History) Save(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("history dir: %w", err)
	}
	if err := writeAtomic(filepath.Join(dir, EventsFile), func(f *os.File) error {
		return WriteEvents(f, h.Events)
	}); err != nil {
		return err
	}
	snap := h.Snapshot
	if snap == nil {
		snap = &Snapshot{}
	}
	return writeAtomic(filepath.Join(dir, SnapshotFile), func(f *os.File) error {
		enc := json.NewEncoder(f)
		enc.SetIndent("", " ")
		return enc.Encode(snap)
	})
}

// Load reads a history saved by Save.
func Load(dir string) (*History, error) {
	evs, st, err := ReadJournalFile(filepath.Join(dir, EventsFile), ReadOptions{})
	if err != nil {
		return nil, err
	}
	Sort(evs)
	data, err := os.ReadFile(filepath.Join(dir, SnapshotFile))
	if err != nil {
		return nil, fmt.Errorf("load snapshot: %w", err)
	}
	var snap Snapshot
	if err := json.Unmarshal(data, &snap); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, SnapshotFile), err)
	}
	return &History{Events: evs, Snapshot: &snap, Stats: st}, nil
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
