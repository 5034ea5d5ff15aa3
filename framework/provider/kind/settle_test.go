package kind

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/rwxchaos/rwxchaos/framework/history"
	"github.com/rwxchaos/rwxchaos/framework/provider"
)

// A publish/consume run leaves no pipeline backlog: its settle waits until
// every consumer loaded the last version of every file, and says who is
// behind (it ended at once before, judging convergence on the spot).
func TestBacklogWaitsForPublishConvergence(t *testing.T) {
	e := &Env{volume: t.TempDir()}
	e.pubs = provider.NewPublishTracker(func() []string { return nil }, 2, 2, time.Hour)
	defer e.pubs.Stop()
	waiting := func() []string { return backlogWaiting(t, e) }
	if w := waiting(); len(w) != 1 || !strings.Contains(w[0], "first version") {
		t.Errorf("nothing published yet: %v", w)
	}
	ev := func(typ, node, path string, v uint64) history.Event {
		return history.Event{Type: typ, Node: node, Path: path, Version: v, Outcome: history.OK}
	}
	e.pubs.Observe([]history.Event{
		ev(history.EvPublish, "w1", "a", 3), ev(history.EvPublish, "w1", "b", 3),
		ev(history.EvLoad, "w1", "a", 3), ev(history.EvLoad, "w1", "b", 3),
		ev(history.EvLoad, "w2", "a", 3), ev(history.EvLoad, "w2", "b", 2),
	})
	if w := waiting(); len(w) != 1 || !strings.Contains(w[0], "consumer on w2 (1 of 2 files behind") {
		t.Errorf("w2 behind on b: %v", w)
	}
	e.pubs.Observe([]history.Event{ev(history.EvLoad, "w2", "b", 3)})
	if w := waiting(); len(w) != 0 {
		t.Errorf("converged: still waiting for %v", w)
	}
}

// backlogWaiting is what the settle would still wait for.
func backlogWaiting(t *testing.T, e *Env) []string {
	t.Helper()
	b, err := e.Backlog(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	return b.Waiting
}
