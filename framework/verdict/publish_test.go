package verdict

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/rwxchaos/rwxchaos/framework/history"

	"github.com/rwxchaos/rwxchaos/framework/check"
	"github.com/rwxchaos/rwxchaos/framework/report"
	"github.com/rwxchaos/rwxchaos/framework/scenario"
	"github.com/rwxchaos/rwxchaos/framework/scenario/scenariotest"
)

func TestPublishConfig(t *testing.T) {
	s := scenariotest.Parse(t, scenariotest.PublishLocal)
	c := Config(s)
	if c.Publish == nil || c.LockExclusive {
		t.Fatalf("config %+v", c)
	}
	want := check.PublishConfig{Files: 2, Versions: 10, Consumers: 2, MinVersions: 2, VisibleWithin: 300 * time.Millisecond,
		ConvergedWithin: time.Second, Monotonic: false, MaxLoadErrors: 3, ClockNote: clockNote(scenario.ProviderLocal)}
	if *c.Publish != want {
		t.Fatalf("publish config\n got %+v\nwant %+v", *c.Publish, want)
	}
	k := scenariotest.Parse(t, strings.Replace(strings.Replace(scenariotest.PublishLocal, "provider: local", "provider: kind, kind: {workers: 4}", 1), ", consumers: 2", "", 1))
	if pc := Config(k).Publish; pc.Consumers != 4 || !strings.Contains(pc.ClockNote, "one host kernel") {
		t.Fatalf("kind: %+v", pc)
	}
	// The pipeline keeps its own checks.
	if p := Config(scenariotest.Parse(t, "apiVersion: rwxchaos.dev/v1alpha1\nkind: Scenario\nmetadata: {name: q}\ncluster: {provider: local}\n")); p.Publish != nil || !p.LockExclusive {
		t.Fatalf("pipeline config %+v", p)
	}
}

func TestPublishExpectations(t *testing.T) {
	s := scenariotest.Parse(t, scenariotest.PublishLocal)
	res := &check.Result{Status: check.Fail, Checks: []check.CheckResult{
		{Name: check.CheckHistory, Status: check.Pass},
		{Name: check.CheckTornReads, Status: check.Fail, AnomalyCount: 3},
		{Name: check.CheckVersions, Status: check.Pass},
		{Name: check.CheckMonotonic, Status: check.Skip},
		{Name: check.CheckVisibility, Status: check.Pass, Numbers: map[string]float64{"steadymax": 120, "steadyp99": 100, "steadyn": 40, "steadyUnseenMax": 60}},
		{Name: check.CheckConvergence, Status: check.Fail, Numbers: map[string]float64{"neverConverged": 1}},
		{Name: check.CheckLoadErrors, Status: check.Pass, Numbers: map[string]float64{"total": 2}},
	}}
	got := map[string]report.Expectation{}
	for _, e := range Expectations(s, res, nil, nil) {
		got[e.Name] = e
	}
	for name, want := range map[string]check.Status{"noTornReads": check.Fail, "publishedAsLoaded": check.Pass, "visibleWithin": check.Pass,
		"convergedWithin": check.Fail, "maxLoadErrors": check.Pass} {
		if got[name].Status != want {
			t.Errorf("%s: %+v, want %s", name, got[name], want)
		}
	}
	if _, ok := got["monotonic"]; ok {
		t.Error("monotonic: false must not be judged")
	}
	for _, n := range []string{"noLoss", "noDuplicates", "noCorruption", "maxStuck", "lockExclusive"} {
		if _, ok := got[n]; ok {
			t.Errorf("pipeline expectation %s judged for a publish run", n)
		}
	}
	if got["convergedWithin"].Got != "1 never" || got["visibleWithin"].Got != "still unseen 60ms at worst; first seen: max 120ms (p99 100ms) over 40 samples" {
		t.Errorf("got %q / %q", got["convergedWithin"].Got, got["visibleWithin"].Got)
	}
}

// pb writes publish/consume histories: versions 1..n of one file published
// every 100 ms, consumers c1 and c2 loading every 50 ms.
type pb struct {
	t0  int64
	seq map[string]int64
	h   history.History
}

func newPB() *pb {
	return &pb{t0: time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC).UnixNano(), seq: map[string]int64{}}
}

func (b *pb) at(ms float64) int64 { return b.t0 + int64(ms*1e6) }

func bsha(v uint64) string {
	s := sha256.Sum256([]byte(fmt.Sprint(v)))
	return hex.EncodeToString(s[:])
}

func (b *pb) add(e history.Event) *history.Event {
	b.seq[e.Proc]++
	e.Seq = b.seq[e.Proc]
	b.h.Events = append(b.h.Events, e)
	return &b.h.Events[len(b.h.Events)-1]
}

func (b *pb) publish(v uint64, ms float64) {
	b.add(history.Event{Proc: "publisher-n0-1-1", Role: history.RolePublisher, Node: "n0", Type: history.EvPublish, Call: b.at(ms), Return: b.at(ms + 10),
		Path: "usersys/generated/gen_00.py", Version: v, SHA: bsha(v), Outcome: history.OK})
}

func (b *pb) load(c string, v uint64, ms float64) {
	b.add(history.Event{Proc: "consumer-" + c + "-1-1", Role: history.RoleConsumer, Node: c, Type: history.EvLoad, Call: b.at(ms), Return: b.at(ms + 1),
		Path: "usersys/generated/gen_00.py", Version: v, SHA: bsha(v), Outcome: history.OK})
}

func (b *pb) failed(c, cls string, ms float64) {
	b.add(history.Event{Proc: "consumer-" + c + "-1-1", Role: history.RoleConsumer, Node: c, Type: history.EvLoad, Call: b.at(ms), Return: b.at(ms + 1),
		Path: "usersys/generated/gen_00.py", Outcome: history.Fail, ErrClass: cls, Err: "test"})
}

// steady: n versions, both consumers see each 40 ms after it returned.
func (b *pb) steady(n int) *pb {
	for v := 1; v <= n; v++ {
		b.publish(uint64(v), float64(v*100))
		for _, c := range []string{"c1", "c2"} {
			b.load(c, uint64(v), float64(v*100)+50)
		}
	}
	return b
}

func (b *pb) done() (*history.History, *report.Run) {
	history.Sort(b.h.Events)
	return &b.h, &report.Run{}
}

// publishTeeth are the TestEveryExpectationHasTeeth cases of the
// publish/consume expectations.
func publishTeeth() map[string]teeth {
	pub := scenario.ModePublishConsume
	return map[string]teeth{
		"steadyState.minVersions": {mode: pub, set: func(e *scenario.ExpectSpec) { e.SteadyState.MinVersions = 5 },
			evidence: func() (*history.History, *report.Run) { return newPB().steady(3).done() }},
		"publish.visibleWithin": {mode: pub, set: func(e *scenario.ExpectSpec) { e.Publish.VisibleWithin = scenario.Duration(500 * time.Millisecond) },
			evidence: func() (*history.History, *report.Run) {
				b := newPB().steady(3)
				b.publish(4, 400)
				b.load("c1", 4, 450)
				b.load("c2", 3, 1000) // still version 3, 590 ms after version 4's publish, no fault
				b.load("c2", 4, 1300)
				return b.done()
			}},
		"publish.convergedWithin": {mode: pub, set: func(e *scenario.ExpectSpec) { e.Publish.ConvergedWithin = scenario.Duration(2 * time.Second) },
			evidence: func() (*history.History, *report.Run) {
				b := newPB().steady(3)
				b.add(history.Event{Proc: "runner-1", Role: history.RoleRunner, Type: history.EvFault, Call: b.at(400), Return: b.at(1000), Detail: "storage-cutoff cut", Outcome: history.OK})
				b.publish(4, 500)
				b.load("c1", 4, 1100)
				b.load("c2", 4, 4100) // 3 s after the heal
				return b.done()
			}},
		"publish.maxTorn": {mode: pub, set: func(e *scenario.ExpectSpec) { e.Publish.MaxTorn = 1 },
			evidence: func() (*history.History, *report.Run) {
				b := newPB().steady(3)
				b.failed("c1", history.LoadTornShort, 260)
				return b.done()
			}},
		"publish.monotonic": {mode: pub, set: func(e *scenario.ExpectSpec) { e.Publish.Monotonic = ptr(false) },
			evidence: func() (*history.History, *report.Run) {
				b := newPB().steady(3)
				b.load("c2", 2, 400)
				b.load("c2", 3, 420)
				return b.done()
			}},
		"publish.maxLoadErrors": {mode: pub, set: func(e *scenario.ExpectSpec) { e.Publish.MaxLoadErrors = ptr(1) },
			evidence: func() (*history.History, *report.Run) {
				b := newPB().steady(3)
				b.failed("c1", "ESTALE", 260)
				b.failed("c2", "ENOENT", 270)
				return b.done()
			}},
	}
}
