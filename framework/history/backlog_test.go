package history

import (
	"os"
	"path/filepath"
	"testing"
)

func TestScanBacklog(t *testing.T) {
	root := t.TempDir()
	put := func(dir, key, ext string) {
		t.Helper()
		p := filepath.Join(root, dir, "default", FileName(key)+ext)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	a, b, c := "X12/A/B/000000001", "EDIFACT/A/B/000000002", "X12/A/B/000000003"
	put(DirOutput, a, ".json")
	put(DirWork, b, ".edi")
	put(DirOutput, "X12/A/B/000000009", ".json.tmp") // a temp file is no output
	got := ScanBacklog(root, []string{a, b, c})
	if got.Input != 0 || got.Work != 1 || got.Unprocessed != 2 || got.Example != b || got.Done() {
		t.Errorf("ScanBacklog = %+v, want 1 work and 2 unprocessed (first %s)", got, b)
	}
	if err := os.Remove(filepath.Join(root, DirWork, "default", FileName(b)+".edi")); err != nil {
		t.Fatal(err)
	}
	put(DirOutput, b, ".json")
	put(DirOutput, c, ".json")
	if got := ScanBacklog(root, []string{a, b, c}); !got.Done() {
		t.Errorf("ScanBacklog = %+v, want done", got)
	}
	// An empty or missing volume with nothing acked is done; with an acked
	// upload it is not (the upload is lost or not yet visible).
	empty := t.TempDir()
	if got := ScanBacklog(empty, nil); !got.Done() {
		t.Errorf("empty volume: %+v", got)
	}
	if got := ScanBacklog(empty, []string{a}); got.Done() || got.Unprocessed != 1 {
		t.Errorf("empty volume with an ack: %+v", got)
	}
}

func TestBacklogWaitingIsNotDone(t *testing.T) {
	if (Backlog{Waiting: []string{"engine-1 on worker-2"}}).Done() {
		t.Error("a backlog still waiting for a pod is done")
	}
	if !(Backlog{}).Done() {
		t.Error("an empty backlog is not done")
	}
}
