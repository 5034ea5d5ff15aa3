package check

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/rwxchaos/rwxchaos/framework/history"
)

// pubHist writes publish/consume histories by hand: every time is in
// milliseconds from t0, one clock for all, sequence numbers per proc.
type pubHist struct {
	t0  int64
	seq map[string]int64
	evs []*history.Event // pointers stay valid while a test edits events
	h   history.History
}

func newPubHist() *pubHist {
	return &pubHist{t0: time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC).UnixNano(), seq: map[string]int64{}}
}

func (b *pubHist) at(ms float64) int64 { return b.t0 + int64(ms*1e6) }

func bodySHA(file string, v uint64) string {
	s := sha256.Sum256([]byte(fmt.Sprintf("%s@%d", file, v)))
	return hex.EncodeToString(s[:])
}

func (b *pubHist) add(e history.Event) *history.Event {
	b.seq[e.Proc]++
	e.Seq = b.seq[e.Proc]
	b.evs = append(b.evs, &e)
	return &e
}

// publish journals version v of file, called at ms, returning 10 ms later.
func (b *pubHist) publish(proc, file string, v uint64, ms float64) *history.Event {
	return b.add(history.Event{Proc: proc, Role: history.RolePublisher, Node: "n-pub", Type: history.EvPublish, Call: b.at(ms), Return: b.at(ms + 10),
		Path: file, Version: v, SHA: bodySHA(file, v), Size: 100, Outcome: history.OK, Detail: "atomic"})
}

// load journals a verified load of version v by consumer node, taking 1 ms.
func (b *pubHist) load(node, proc, file string, v uint64, ms float64) *history.Event {
	return b.add(history.Event{Proc: proc, Role: history.RoleConsumer, Node: node, Type: history.EvLoad, Call: b.at(ms), Return: b.at(ms + 1),
		Path: file, Version: v, SHA: bodySHA(file, v), Size: 100, Outcome: history.OK})
}

func (b *pubHist) fail(node, proc, file string, v uint64, ms float64, cls string) *history.Event {
	e := b.load(node, proc, file, v, ms)
	e.Outcome, e.ErrClass, e.Err = history.Fail, cls, "test: "+cls
	if !history.IsTorn(cls) {
		e.SHA, e.Size, e.Version = "", 0, 0
	}
	return e
}

func (b *pubHist) fault(fromMs, toMs float64) {
	b.add(history.Event{Proc: "runner-1", Role: history.RoleRunner, Type: history.EvFault, Call: b.at(fromMs), Return: b.at(toMs), Detail: "storage-pause freeze", Outcome: history.OK})
}

// steady publishes versions 1..n of two files every 100 ms and lets two
// consumers (c1, c2) load both files every 50 ms, seeing what was published
// up to lag ms before.
func (b *pubHist) steady(n int, lag float64) {
	for v := 1; v <= n; v++ {
		for _, f := range []string{"a.py", "b.py"} {
			b.publish("pub-1", f, uint64(v), float64(v*100))
		}
	}
	for t := 50.0; t <= float64(n*100)+500; t += 50 {
		for _, c := range []string{"c1", "c2"} {
			for _, f := range []string{"a.py", "b.py"} {
				// Visible once its publish returned (+10 ms) and lag passed.
				v := int((t - 10 - lag) / 100)
				v = min(v, n)
				if v < 1 {
					continue
				}
				b.load(c, "cons-"+c, f, uint64(v), t)
			}
		}
	}
}

func (b *pubHist) check(pc PublishConfig) *Result {
	b.h.Events = b.h.Events[:0]
	for _, e := range b.evs {
		b.h.Events = append(b.h.Events, *e)
	}
	history.Sort(b.h.Events)
	cfg := DefaultConfig()
	cfg.Publish = &pc
	return Run(FromHistory(&b.h), cfg)
}

func mustStatus(t *testing.T, r *Result, name string, want Status) *CheckResult {
	t.Helper()
	c := r.Check(name)
	if c == nil {
		t.Fatalf("no check %s in %+v", name, r.Checks)
	}
	if c.Status != want {
		t.Fatalf("check %s: %s (%s), want %s", name, c.Status, c.Message, want)
	}
	return c
}

func TestPublishCleanRunPasses(t *testing.T) {
	b := newPubHist()
	b.steady(10, 0)
	pc := DefaultPublishConfig()
	pc.Versions, pc.Consumers, pc.VisibleWithin, pc.ConvergedWithin = 10, 2, 200*time.Millisecond, time.Second
	r := b.check(pc)
	if r.Status != Pass {
		for _, c := range r.Checks {
			t.Logf("%s %s: %s", c.Name, c.Status, c.Message)
		}
		t.Fatalf("status %s", r.Status)
	}
	for _, n := range []string{CheckHistory, CheckTornReads, CheckVersions, CheckMonotonic, CheckVisibility, CheckConvergence, CheckLoadErrors} {
		mustStatus(t, r, n, Pass)
	}
	p := r.Publish
	if p == nil || p.Files != 2 || p.LastVersion != 10 || len(p.Consumers) != 2 || p.Torn != 0 || p.Loads != p.LoadsOK {
		t.Fatalf("summary %+v", p)
	}
	// Published at v*100 (returns +10), loaded every 50 ms: each version is
	// first seen at the first poll at or after v*100+10, i.e. v*100+50,
	// returning 1 ms later: 41 ms after the publish returned. Version 1 was
	// published before the consumers' first load: not a lag sample.
	if p.Lag.N != 2*2*9 || p.Lag.P50 != 41 || p.Lag.Max != 41 || p.LagSteady.N != p.Lag.N {
		t.Fatalf("lag %+v steady %+v", p.Lag, p.LagSteady)
	}
	if c := p.Consumers[0]; c.Consumer != "c1" || c.Procs != 1 || c.Lag.N != 18 || c.ConvergedMs != 41 {
		t.Fatalf("consumer %+v", c)
	}
	if !strings.Contains(r.Check(CheckVisibility).Message, "p50 41ms") {
		t.Errorf("visibility message: %s", r.Check(CheckVisibility).Message)
	}
}

func TestPublishTornRead(t *testing.T) {
	b := newPubHist()
	b.steady(5, 0)
	e := b.fail("c2", "cons-c2", "a.py", 3, 333, history.LoadTornShort)
	r := b.check(DefaultPublishConfig())
	c := mustStatus(t, r, CheckTornReads, Fail)
	a := c.Anomalies[0]
	if c.AnomalyCount != 1 || a.Class != ClassTornRead || a.Proc != "cons-c2" || a.Evidence[0].Seq != e.Seq || a.Path != "a.py" ||
		!strings.Contains(a.Detail, "SHORT") || !strings.Contains(a.Detail, fmt.Sprintf("seq %d", e.Seq)) {
		t.Fatalf("anomaly %+v", a)
	}
	if r.Status != Fail || r.Publish.Torn != 1 || r.Publish.Consumers[1].Torn != 1 {
		t.Fatalf("status %s summary %+v", r.Status, r.Publish)
	}
	// The torn load is not a load error, and not counted as seen.
	mustStatus(t, r, CheckLoadErrors, Pass)
	mustStatus(t, r, CheckMonotonic, Pass)
}

func TestPublishRollback(t *testing.T) {
	b := newPubHist()
	b.steady(5, 0)
	// c1 saw version 5 of a.py (after 510 ms); at 700 ms it loads 4 again.
	e := b.load("c1", "cons-c1", "a.py", 4, 700)
	r := b.check(DefaultPublishConfig())
	c := mustStatus(t, r, CheckMonotonic, Fail)
	a := c.Anomalies[0]
	if c.AnomalyCount != 1 || a.Class != ClassRollback || a.Evidence[0].Seq != e.Seq || !strings.Contains(a.Detail, "version 4 after cons-c1 seq") ||
		!strings.Contains(a.Detail, "had seen version 5") {
		t.Fatalf("anomaly %+v", a)
	}
	// Not expected: reported, not failed.
	pc := DefaultPublishConfig()
	pc.Monotonic = false
	mustStatus(t, b.check(pc), CheckMonotonic, Skip)
}

// Across processes of one consumer, a rollback needs the loads not to
// overlap in time (one node's clock decides); within one process its
// sequence numbers decide.
func TestPublishRollbackAcrossRestarts(t *testing.T) {
	b := newPubHist()
	b.publish("pub-1", "a.py", 1, 0)
	b.publish("pub-1", "a.py", 2, 100)
	b.load("c1", "cons-old", "a.py", 2, 200)
	b.load("c1", "cons-new", "a.py", 1, 200.5) // overlaps the old one's load: undecided
	r := b.check(DefaultPublishConfig())
	mustStatus(t, r, CheckMonotonic, Pass)
	b.load("c1", "cons-new", "a.py", 1, 300) // after it: a rollback on node c1
	b.load("c1", "cons-new", "a.py", 2, 400)
	r = b.check(DefaultPublishConfig())
	c := mustStatus(t, r, CheckMonotonic, Fail)
	if c.AnomalyCount != 1 || c.Anomalies[0].Proc != "cons-new" || r.Publish.Consumers[0].Procs != 2 {
		t.Fatalf("%+v %+v", c.Anomalies, r.Publish.Consumers)
	}
}

func TestPublishVisibilityBoundOutsideFaults(t *testing.T) {
	// Version 11 of both files, published at 1600 ms (returning at 1610):
	// c1 sees both at once, c2 sees b.py at once and a.py only later.
	published11 := func() *pubHist {
		b := newPubHist()
		b.steady(10, 0)
		b.publish("pub-1", "a.py", 11, 1600)
		b.publish("pub-1", "b.py", 11, 1600)
		for _, c := range []string{"c1", "c2"} {
			b.load(c, "cons-"+c, "b.py", 11, 1650)
		}
		b.load("c1", "cons-c1", "a.py", 11, 1650)
		return b
	}
	b := published11()
	pc := DefaultPublishConfig()
	pc.VisibleWithin = 500 * time.Millisecond
	// c2 loaded nothing in between (its host was busy): the lag is
	// measured, but no load shows the version unseen past the bound.
	e := b.load("c2", "cons-c2", "a.py", 11, 2410)
	r := b.check(pc)
	mustStatus(t, r, CheckVisibility, Pass)
	if r.Publish.Lag.Max != 801 {
		t.Fatalf("lag %+v", r.Publish.Lag)
	}
	// c2 did load a.py in between, 640 ms after the publish returned (590
	// ms beyond the clocks' 50 ms allowance), and still got version 10:
	// that proves the late visibility.
	b = published11()
	b.load("c2", "cons-c2", "a.py", 10, 1900)
	stale := b.load("c2", "cons-c2", "a.py", 10, 2250)
	e = b.load("c2", "cons-c2", "a.py", 11, 2410)
	r = b.check(pc)
	c := mustStatus(t, r, CheckVisibility, Fail)
	a := c.Anomalies[0]
	if c.AnomalyCount != 1 || a.Class != ClassSlowVisibility || a.Evidence[0].Seq != stale.Seq || a.Evidence[1].Seq != e.Seq ||
		!strings.Contains(a.Detail, "a.py version 11 was still not visible on c2 590ms after its publish returned") || !strings.Contains(a.Detail, "801ms after the publish") {
		t.Fatalf("anomaly %+v", a)
	}
	if r.Publish.Lag.Max != 801 || r.Publish.Consumers[1].Lag.Max != 801 || r.Publish.Consumers[0].Lag.Max != 41 {
		t.Fatalf("lag %+v %+v", r.Publish.Lag, r.Publish.Consumers)
	}
	// The same lag while a fault was active is judged by convergence, not
	// by the visibility bound.
	b.fault(1500, 2000)
	r = b.check(pc)
	mustStatus(t, r, CheckVisibility, Pass)
	if r.Publish.LagSteady.Max >= 801 || r.Publish.Lag.Max != 801 {
		t.Fatalf("steady %+v all %+v", r.Publish.LagSteady, r.Publish.Lag)
	}
	// Once c2 has loaded a version published after the heal it has
	// recovered: a slow version after that is judged by the bound again.
	for _, v := range []struct {
		v         uint64
		pub, seen float64
	}{{12, 2100, 2450}, {13, 2500, 3200}} {
		for _, f := range []string{"a.py", "b.py"} {
			b.publish("pub-1", f, v.v, v.pub)
			b.load("c1", "cons-c1", f, v.v, v.pub+50)
		}
		b.load("c2", "cons-c2", "b.py", v.v, v.pub+50)
		if v.v == 13 {
			b.load("c2", "cons-c2", "a.py", 12, v.seen-100) // still 12, 590 ms after 13's publish
		}
		b.load("c2", "cons-c2", "a.py", v.v, v.seen)
	}
	r = b.check(pc)
	c = mustStatus(t, r, CheckVisibility, Fail)
	if c.AnomalyCount != 1 || !strings.Contains(c.Anomalies[0].Detail, "a.py version 13 was still not visible on c2 540ms") {
		t.Fatalf("after recovery: %+v", c.Anomalies)
	}
	pts := VisibilityLags(b.h.All(), pc)
	slow := 0
	for _, p := range pts {
		if p.LagMs == 801 && !p.Steady && p.Consumer == "c2" && p.Version == 11 && p.Seq == e.Seq {
			slow++
		}
	}
	if slow != 1 || len(pts) != r.Publish.Lag.N || r.Publish.LagSteady.Max != 691 {
		t.Fatalf("points %d (slow %d), summary n %d", len(pts), slow, r.Publish.Lag.N)
	}
}

// A load that found no file after a version was published (a negative
// lookup cache) shows that version unseen as an older version does; a
// failed load of another kind (EIO) shows nothing about visibility.
func TestPublishVisibilityNotFound(t *testing.T) {
	b := newPubHist()
	b.fail("c2", "cons-c2", "a.py", 0, 20, history.LoadNotFound)
	b.publish("pub-1", "a.py", 1, 100)
	b.load("c1", "cons-c1", "a.py", 1, 150)
	b.fail("c2", "cons-c2", "a.py", 0, 400, history.LoadNotFound)
	eio := b.fail("c2", "cons-c2", "a.py", 0, 1000, "EIO")
	b.load("c2", "cons-c2", "a.py", 1, 1100)
	pc := DefaultPublishConfig()
	pc.VisibleWithin = 200 * time.Millisecond
	c := mustStatus(t, b.check(pc), CheckVisibility, Fail)
	a := c.Anomalies[0]
	if c.AnomalyCount != 1 || a.Evidence[0].Seq == eio.Seq || !strings.Contains(a.Detail, "a.py version 1 was still not visible on c2 240ms") ||
		!strings.Contains(a.Detail, "found no file (ENOENT)") {
		t.Fatalf("anomaly %+v", a)
	}
	pc.VisibleWithin = 300 * time.Millisecond // the EIO, 840 ms after, does not count
	mustStatus(t, b.check(pc), CheckVisibility, Pass)
}

func TestPublishConvergence(t *testing.T) {
	b := newPubHist()
	b.steady(5, 0)
	b.fault(600, 1000)
	b.publish("pub-1", "a.py", 6, 1100)
	b.publish("pub-1", "b.py", 6, 1100)
	for _, f := range []string{"a.py", "b.py"} {
		b.load("c1", "cons-c1", f, 6, 1200)
	}
	b.load("c2", "cons-c2", "b.py", 6, 1200)
	last := b.load("c2", "cons-c2", "a.py", 5, 1300) // never sees a.py 6
	pc := DefaultPublishConfig()
	r := b.check(pc)
	c := mustStatus(t, r, CheckConvergence, Fail)
	a := c.Anomalies[0]
	if c.AnomalyCount != 1 || a.Class != ClassStaleForever || a.Evidence[0].Seq != last.Seq || !strings.Contains(a.Detail, "c2 never loaded a.py version 6") ||
		!strings.Contains(a.Detail, "saw version 5") {
		t.Fatalf("anomaly %+v", a)
	}
	if r.Publish.Consumers[1].ConvergedMs != -1 || r.Publish.Consumers[0].ConvergedMs != 91 {
		t.Fatalf("consumers %+v", r.Publish.Consumers)
	}
	// It sees it 3 s after the publish (the later of heal and publish): too
	// late for a 2 s bound, fine without one.
	seen := b.load("c2", "cons-c2", "a.py", 6, 4109)
	pc.ConvergedWithin = 2 * time.Second
	r = b.check(pc)
	c = mustStatus(t, r, CheckConvergence, Fail)
	if a := c.Anomalies[0]; a.Class != ClassStaleAfterHeal || a.Evidence[0].Seq != seen.Seq || !strings.Contains(a.Detail, "3s after") {
		t.Fatalf("anomaly %+v", a)
	}
	pc.ConvergedWithin = 0
	mustStatus(t, b.check(pc), CheckConvergence, Pass)
	// A consumer that never ran.
	pc.Consumers = 3
	c = mustStatus(t, b.check(pc), CheckConvergence, Fail)
	if !strings.Contains(c.Message, "only 2 of 3 consumers") {
		t.Fatal(c.Message)
	}
}

func TestPublishVersions(t *testing.T) {
	b := newPubHist()
	b.steady(5, 0)
	wrong := b.load("c1", "cons-c1", "a.py", 5, 900)
	wrong.SHA = bodySHA("other", 5)
	r := b.check(DefaultPublishConfig())
	c := mustStatus(t, r, CheckVersions, Fail)
	if a := c.Anomalies[0]; c.AnomalyCount != 1 || a.Class != ClassWrongContent || a.Evidence[0].Seq != wrong.Seq {
		t.Fatalf("%+v", c.Anomalies)
	}
	wrong.SHA = bodySHA("a.py", 5)

	// Version 6 of a.py was written by a publisher killed before it
	// journaled: explained. Version 8 cannot have been written by anyone.
	b.load("c1", "cons-c1", "a.py", 6, 950).SHA = bodySHA("x", 6)
	r = b.check(DefaultPublishConfig())
	c = mustStatus(t, r, CheckVersions, Pass)
	if c.Numbers["unjournaledLoads"] != 1 || !strings.Contains(c.Message, "never journaled") {
		t.Fatalf("%+v", c)
	}
	ph := b.load("c1", "cons-c1", "a.py", 8, 960)
	c = mustStatus(t, b.check(DefaultPublishConfig()), CheckVersions, Fail)
	if a := c.Anomalies[0]; a.Class != ClassPhantomVersion || a.Evidence[0].Seq != ph.Seq {
		t.Fatalf("%+v", c.Anomalies)
	}
	ph.Version = 6

	// Two publishers wrote version 3 of b.py with different content.
	p2 := b.publish("pub-2", "b.py", 3, 320)
	p2.SHA = bodySHA("pub-2", 3)
	c = mustStatus(t, b.check(DefaultPublishConfig()), CheckVersions, Fail)
	if a := c.Anomalies[0]; a.Class != ClassConflictingPublish || !strings.Contains(a.Detail, "pub-2 seq 1") {
		t.Fatalf("%+v", c.Anomalies)
	}
	p2.SHA = bodySHA("b.py", 3)

	// The publisher was to publish 7 versions.
	pc := DefaultPublishConfig()
	pc.Versions = 7
	c = mustStatus(t, b.check(pc), CheckVersions, Fail)
	if c.AnomalyCount != 2 || c.Anomalies[0].Class != ClassUnfinished || !strings.Contains(c.Anomalies[0].Detail, "5 of 7") {
		t.Fatalf("%+v", c.Anomalies)
	}
}

func TestPublishClockSkew(t *testing.T) {
	b := newPubHist()
	b.steady(5, 0)
	// c2's clock runs 2 s behind: it returns version 6 before it was published.
	b.publish("pub-1", "a.py", 6, 3000)
	e := b.load("c2", "cons-c2", "a.py", 6, 1000)
	r := b.check(DefaultPublishConfig())
	c := mustStatus(t, r, CheckVisibility, Skip)
	if c.AnomalyCount != 1 || c.Anomalies[0].Class != ClassClockSkew || c.Anomalies[0].Evidence[0].Seq != e.Seq || !strings.Contains(c.Message, "clocks disagree") {
		t.Fatalf("%+v", c)
	}
	// Whether c2 rolled back is decided by c2's own order (sequence
	// numbers), not by its clock: by seq, version 6 was its last load.
	mustStatus(t, r, CheckMonotonic, Pass)

	// The runner measured c2's clock 2.1 s behind its own (and the others
	// on time): on the runner's clock the load came 91 ms after the
	// publish returned, and the lag is judged.
	for _, n := range []string{"c2", "c1", "n-pub"} {
		off := "0s"
		if n == "c2" {
			off = "-2.1s"
		}
		b.add(history.Event{Proc: "runner-1", Role: history.RoleRunner, Type: history.EvClock, Call: b.at(10), Return: b.at(11), Target: n,
			Outcome: history.OK, Detail: "offset " + off + " uncertainty 1ms"})
	}
	r = b.check(DefaultPublishConfig())
	c = mustStatus(t, r, CheckVisibility, Pass)
	if c.Numbers["clockSkewed"] != 0 || !strings.Contains(c.Message, "offsets it measured for 3 node(s)") {
		t.Fatalf("%+v", c)
	}
	found := false
	for _, p := range VisibilityLags(b.h.All(), DefaultPublishConfig()) {
		if p.Consumer == "c2" && p.Version == 6 && p.LagMs > 89 && p.LagMs < 93 {
			found = true
		}
	}
	if !found {
		t.Error("the chart's samples are not on the runner's clock")
	}
}

func TestPublishLoadErrors(t *testing.T) {
	b := newPubHist()
	b.steady(5, 0)
	b.fail("c1", "cons-c1", "a.py", 0, 120, "ESTALE")
	b.fail("c1", "cons-c1", "a.py", 0, 130, "ENOTCONN")
	b.fail("c2", "cons-c2", "b.py", 0, 140, "ENOTCONN")
	pc := DefaultPublishConfig()
	r := b.check(pc)
	c := mustStatus(t, r, CheckLoadErrors, Pass)
	if c.Numbers["ENOTCONN"] != 2 || c.Numbers["ESTALE"] != 1 || r.Publish.Errors["ENOTCONN"] != 2 || !strings.Contains(c.Message, "not limited") {
		t.Fatalf("%+v %+v", c, r.Publish.Errors)
	}
	pc.MaxLoadErrors = 2
	mustStatus(t, b.check(pc), CheckLoadErrors, Fail)
}

func TestPublishVoid(t *testing.T) {
	for _, tc := range []struct {
		name  string
		build func(b *pubHist)
		want  string
	}{
		{"empty", func(b *pubHist) {}, "empty"},
		{"no publish", func(b *pubHist) { b.load("c1", "cons-c1", "a.py", 1, 10) }, "never published"},
		{"no load", func(b *pubHist) { b.publish("pub-1", "a.py", 1, 10) }, "no consumer ran"},
		{"too few versions", func(b *pubHist) { b.steady(2, 0) }, "only 2 versions"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := newPubHist()
			tc.build(b)
			pc := DefaultPublishConfig()
			pc.MinVersions = 3
			r := b.check(pc)
			if r.Status != Void || !strings.Contains(r.Checks[0].Message, tc.want) {
				t.Fatalf("status %s: %s", r.Status, r.Checks[0].Message)
			}
			for _, c := range r.Checks[1:] {
				if c.Status != Skip {
					t.Errorf("%s: %s", c.Name, c.Status)
				}
			}
		})
	}
	// A gap in a consumer's journal fails the history check.
	b := newPubHist()
	b.steady(5, 0)
	for _, e := range b.evs {
		if e.Proc == "cons-c1" && e.Seq == 3 {
			e.Seq = 100 // seq 3 missing, 100 beyond the last
			break
		}
	}
	mustStatus(t, b.check(DefaultPublishConfig()), CheckHistory, Fail)
}
