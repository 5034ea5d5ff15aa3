package check

import (
	"fmt"
	"testing"
	"time"

	"github.com/rwxchaos/rwxchaos/framework/history"
)

// BenchmarkPublishChecks judges a history of 1,000,000 loads: 10 consumers
// loading 4 files 10 times a second for 2500 s while 4 files are published
// twice a second.
func BenchmarkPublishChecks(b *testing.B) {
	t0 := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC).UnixNano()
	files := []string{"f0", "f1", "f2", "f3"}
	var evs []history.Event
	seq := map[string]int64{}
	add := func(e history.Event) {
		seq[e.Proc]++
		e.Seq = seq[e.Proc]
		evs = append(evs, e)
	}
	const secs = 2500
	for v := 1; v <= 2*secs; v++ {
		for _, f := range files {
			t := t0 + int64(v)*int64(500*time.Millisecond)
			add(history.Event{Proc: "pub", Role: history.RolePublisher, Type: history.EvPublish, Call: t, Return: t + 1e6, Path: f, Version: uint64(v),
				SHA: bodySHA(f, uint64(v)), Outcome: history.OK})
		}
	}
	for c := 0; c < 10; c++ {
		proc, node := fmt.Sprintf("con-%d", c), fmt.Sprintf("n%d", c)
		for i := 1; i <= 10*secs+10; i++ {
			t := t0 + int64(i)*int64(100*time.Millisecond) + int64(c)*1e6
			v := min(uint64((t-t0-1e6)/int64(500*time.Millisecond)), 2*secs)
			if v < 1 {
				continue
			}
			for _, f := range files {
				add(history.Event{Proc: proc, Role: history.RoleConsumer, Node: node, Type: history.EvLoad, Call: t, Return: t + 2e5, Path: f, Version: v,
					SHA: bodySHA(f, v), Outcome: history.OK})
			}
		}
	}
	history.Sort(evs)
	h := &history.History{Events: evs}
	cfg := DefaultConfig()
	pc := DefaultPublishConfig()
	pc.VisibleWithin = time.Second
	cfg.Publish = &pc
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r := Run(FromHistory(h), cfg)
		if r.Status != Pass {
			b.Fatalf("%s: %+v", r.Status, r.Checks)
		}
	}
	b.ReportMetric(float64(len(evs)), "events")
}
