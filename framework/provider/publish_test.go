package provider

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rwxchaos/rwxchaos/framework/history"
)

func ev(typ, node, path string, v uint64, outcome, cls string) history.Event {
	return history.Event{Proc: "p", Seq: 1, Type: typ, Node: node, Path: path, Version: v, Outcome: outcome, ErrClass: cls, Call: 1}
}

func TestPublishStatus(t *testing.T) {
	tr := &PublishTracker{files: 2, consumers: 2, pub: map[string]uint64{}, seen: map[string]map[string]uint64{}}
	tr.st = PublishStatus{Files: 2, Consumers: 2}
	tr.Observe([]history.Event{
		ev(history.EvPublish, "n0", "a", 1, history.OK, ""),
		ev(history.EvPublish, "n0", "a", 2, history.OK, ""),
		ev(history.EvLoad, "c1", "a", 2, history.OK, ""),
	})
	st := tr.Status()
	if st.Published != 0 || st.Steady(1) || st.Converged() {
		t.Fatalf("one of two files published: %+v", st)
	}
	tr.Observe([]history.Event{
		ev(history.EvPublish, "n0", "b", 1, history.OK, ""),
		ev(history.EvPublish, "n0", "b", 2, history.Unknown, "EIO"),
		ev(history.EvLoad, "c1", "b", 1, history.OK, ""),
		ev(history.EvLoad, "c2", "a", 1, history.OK, ""),
		ev(history.EvLoad, "c2", "b", 0, history.Fail, history.LoadTornShort),
		ev(history.EvLoad, "c2", "b", 0, history.Fail, "ENOENT"),
	})
	st = tr.Status()
	if st.Published != 1 || st.Seen["c1"] != 1 || st.Seen["c2"] != 0 || st.Steady(1) || st.Torn != 1 || st.LoadErrors != 1 || st.PublishFailed != 1 {
		t.Fatalf("%+v", st)
	}
	tr.Observe([]history.Event{ev(history.EvLoad, "c2", "b", 1, history.OK, "")})
	st = tr.Status()
	if !st.Steady(1) || st.Steady(2) || st.Converged() || st.Behind["c2"] != 1 || st.Behind["c1"] != 0 {
		t.Fatalf("%+v", st)
	}
	tr.Observe([]history.Event{ev(history.EvLoad, "c2", "a", 2, history.OK, "")})
	if st = tr.Status(); !st.Converged() {
		t.Fatalf("%+v (%s)", st, st)
	}
	// A third expected consumer that never loaded: not converged.
	tr.consumers = 3
	tr.Observe(nil)
	if st = tr.Status(); st.Converged() {
		t.Fatal(st)
	}
}

func TestPublishTrackerFollowsJournals(t *testing.T) {
	dir := t.TempDir()
	j, err := history.OpenJournal(filepath.Join(dir, "c.ndjson"), history.JournalOptions{Proc: "consumer-x-1-1", Role: history.RoleConsumer, Node: "c1"})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	tr := NewPublishTracker(func() []string { return []string{dir} }, 1, 1, 5*time.Millisecond)
	defer tr.Stop()
	pj := history.NewJournal(mustAppend(t, filepath.Join(dir, "p.ndjson")), history.JournalOptions{Proc: "publisher-x-1-1", Role: history.RolePublisher})
	sha := strings.Repeat("ab", 32)
	_ = pj.Append(history.Event{Type: history.EvPublish, Path: "a", Version: 1, Outcome: history.OK, SHA: sha})
	_ = j.Append(history.Event{Type: history.EvLoad, Path: "a", Version: 1, Outcome: history.OK, SHA: sha})
	deadline := time.Now().Add(5 * time.Second)
	for !tr.Status().Converged() {
		if time.Now().After(deadline) {
			t.Fatalf("tracker never saw the journals: %+v", tr.Status())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func mustAppend(t *testing.T, path string) *os.File {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}
