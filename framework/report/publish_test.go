package report

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rwxchaos/rwxchaos/framework/check"
	"github.com/rwxchaos/rwxchaos/framework/history"
)

// publishRun is a small publish/consume run: 20 versions of two files, two
// consumers polling every 100 ms, one of them (c2) cut off from +1.0 s to
// +3.0 s, and one torn load on c1.
func publishRun() (*Run, *history.History) {
	var evs []history.Event
	seq := map[string]int64{}
	add := func(e history.Event) {
		seq[e.Proc]++
		e.Seq = seq[e.Proc]
		evs = append(evs, e)
	}
	sha := func(f string, v int) string { return fxSHA(v*10 + len(f)) }
	files := []string{history.DirPublish + "/gen_00.py", history.DirPublish + "/gen_01.py"}
	for v := 1; v <= 20; v++ {
		for _, f := range files {
			t := 0.2 * float64(v)
			add(history.Event{Proc: "publisher-w1-7-1", Role: history.RolePublisher, Node: "w1", Type: history.EvPublish, Call: at(t), Return: at(t + 0.01),
				Path: f, Version: uint64(v), SHA: sha(f, v), Size: 4096, Outcome: history.OK, Detail: "atomic"})
		}
	}
	for _, c := range []string{"w2", "w3"} {
		for t := 0.1; t < 5; t += 0.1 {
			for _, f := range files {
				v := int((t - 0.01) / 0.2)
				if c == "w3" && t > 1.0 && t < 3.0 {
					continue // cut off: no load returns
				}
				if v < 1 {
					continue
				}
				v = min(v, 20)
				e := history.Event{Proc: "consumer-" + c + "-9-1", Role: history.RoleConsumer, Node: c, Type: history.EvLoad, Call: at(t), Return: at(t + 0.002),
					Path: f, Version: uint64(v), SHA: sha(f, v), Size: 4096, Outcome: history.OK}
				if c == "w2" && v == 7 && f == files[0] {
					e.Outcome, e.ErrClass, e.Err, e.SHA = history.Fail, history.LoadTornShort, "torn file: 100 of 4096 body bytes", fxSHA(999)
				}
				add(e)
			}
		}
	}
	add(history.Event{Proc: "runner-x-1-1", Role: history.RoleRunner, Type: history.EvFault, Call: at(1.0), Return: at(3.0),
		Target: "w3", Detail: "storage-cutoff cut-consumer", Outcome: history.OK})
	history.Sort(evs)
	h := &history.History{Events: evs, Snapshot: &history.Snapshot{}}
	cfg := check.DefaultConfig()
	pc := check.DefaultPublishConfig()
	pc.Versions, pc.Consumers, pc.VisibleWithin, pc.ConvergedWithin = 20, 2, 500*time.Millisecond, time.Second
	pc.ClockNote = "one clock"
	cfg.Publish = &pc
	res := check.Run(check.FromHistory(h), cfg)
	r := &Run{SchemaVersion: SchemaVersion, Scenario: "publish-fixture", RunID: "20261201T120000Z-s7", Seed: 7, Provider: "kind", Backend: "fuse",
		Started: at(0), Ended: at(6), Check: res, CheckConfig: &cfg,
		Faults: []Fault{{Name: "cut-consumer", Action: "storage-cutoff", Target: "w3", Injected: at(1.0), Verified: at(1.1), Healed: at(3.0), HealVerified: at(3.2)}}}
	r.Verdict = VerdictPass
	if res.Status == check.Fail {
		r.Verdict = VerdictFail
	}
	r.ExitCode = r.Verdict.ExitCode()
	return r, h
}

func TestPublishReport(t *testing.T) {
	r, h := publishRun()
	if r.Verdict != VerdictFail || r.Check.Check(check.CheckTornReads).Status != check.Fail {
		t.Fatalf("verdict %s: %+v", r.Verdict, r.Check.Checks)
	}
	dir := filepath.Join(t.TempDir(), "run")
	if err := Write(dir, r, h); err != nil {
		t.Fatal(err)
	}
	sum, _ := os.ReadFile(filepath.Join(dir, SummaryFile))
	for _, want := range []string{"### Visibility lag", "| w2 | 1 |", "| w3 | 1 |", "| **all** |", "| clear of faults |", "Clocks: one clock."} {
		if !strings.Contains(string(sum), want) {
			t.Errorf("summary.md lacks %q:\n%s", want, sum)
		}
	}
	// c2 (w3) was cut off for 2 s: its worst lag is about that.
	var w3 check.ConsumerSummary
	for _, c := range r.Check.Publish.Consumers {
		if c.Consumer == "w3" {
			w3 = c
		}
	}
	if w3.Lag.Max < 1800 || w3.Lag.Max > 2100 {
		t.Errorf("w3 lag %+v", w3.Lag)
	}
	html, _ := os.ReadFile(filepath.Join(dir, HTMLFile))
	torn := r.Check.Check(check.CheckTornReads).Anomalies[0]
	for _, want := range []string{`id="visibility"`, `class="ll">w2<`, `class="ll">w3<`, `pt lag-fault`, "visibleWithin 500 ms",
		fmt.Sprintf("seq %d", torn.Evidence[0].Seq), `class="ll">publishes<`, `class="ll">loads<`, "last version (every file)"} {
		if !strings.Contains(string(html), want) {
			t.Errorf("report.html lacks %q", want)
		}
	}
	if strings.Contains(string(html), "uploads acked") {
		t.Error("a publish run shows upload stats")
	}
}

// The chart and the checker count the same samples.
func TestPublishChartMatchesChecker(t *testing.T) {
	r, h := publishRun()
	m := newModel(r, h, nil)
	doc, n := m.pub.chart(m)
	if n != r.Check.Publish.Lag.N || n == 0 {
		t.Fatalf("chart has %d samples, checker %d", n, r.Check.Publish.Lag.N)
	}
	pts := 0
	for _, s := range doc.Shapes {
		if s.Kind == "circle" {
			pts++
		}
	}
	if pts != n {
		t.Errorf("%d points drawn for %d samples", pts, n)
	}
}
