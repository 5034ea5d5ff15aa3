package report

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rwxchaos/rwxchaos/framework/check"
	"github.com/rwxchaos/rwxchaos/framework/history"
)

func TestWriteLoadRoundTrip(t *testing.T) {
	r, h := buildFixture()
	dir := filepath.Join(t.TempDir(), "run")
	if err := Write(dir, r, h); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{ResultFile, history.EventsFile, history.SnapshotFile, JUnitFile, SummaryFile, HTMLFile} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("missing %s: %v", f, err)
		}
	}
	assertNoTemp(t, dir)
	r2, h2, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(r, r2) {
		a, _ := json.Marshal(r)
		b, _ := json.Marshal(r2)
		t.Fatalf("run changed in the round trip:\n%s\n%s", a, b)
	}
	if !reflect.DeepEqual(h.Events, h2.Events) {
		t.Fatalf("events changed in the round trip (%d vs %d)", len(h.Events), len(h2.Events))
	}
	if !reflect.DeepEqual(h.Snapshot, h2.Snapshot) {
		t.Fatal("snapshot changed in the round trip")
	}
}

func assertNoTemp(t *testing.T, dir string) {
	t.Helper()
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(p, ".tmp") {
			t.Errorf("temp file left behind: %s", p)
		}
		return nil
	})
}

func TestWriteErrorLeavesNothing(t *testing.T) {
	r, h := buildFixture()
	base := t.TempDir()
	blocker := filepath.Join(base, "file")
	if err := os.WriteFile(blocker, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := Write(filepath.Join(blocker, "run"), r, h); err == nil {
		t.Fatal("Write under a regular file succeeded")
	}
	if err := Write(filepath.Join(base, "x"), nil, h); err == nil {
		t.Fatal("Write of a nil run succeeded")
	}
	if _, err := os.Stat(filepath.Join(base, "x")); !os.IsNotExist(err) {
		t.Fatalf("a failed Write created its directory: %v", err)
	}
}

// TestFixtureUpToDate guards testdata/: the saved run must be what the
// fixture builder produces (run `go test -run TestWriteFixture -update`).
// The embedded check result is left out: it follows the checker, which
// TestRecheckFixture exercises.
func TestFixtureUpToDate(t *testing.T) {
	want, h := buildFixture()
	got, gh, err := Load(fixtureDir)
	if err != nil {
		t.Fatal(err)
	}
	want.Check, got.Check = nil, nil
	if !reflect.DeepEqual(want, got) {
		t.Fatalf("%s/%s is stale: run go test -run TestWriteFixture -update ./framework/report", fixtureDir, ResultFile)
	}
	if !reflect.DeepEqual(h.Events, gh.Events) || !reflect.DeepEqual(h.Snapshot, gh.Snapshot) {
		t.Fatalf("%s history is stale: run go test -run TestWriteFixture -update ./framework/report", fixtureDir)
	}
}

// TestFixtureCheck: the saved run's embedded check result is what the
// checker finds in its history today (the verdict package re-checks the
// whole directory).
func TestFixtureCheck(t *testing.T) {
	r, h, err := Load(fixtureDir)
	if err != nil {
		t.Fatal(err)
	}
	got := check.Run(check.FromHistory(h), *r.CheckConfig)
	c := got.Classes
	if c[check.ClassLost] != 1 || c[check.ClassDuplicated] != 1 || c[check.ClassOK] != 28 {
		t.Errorf("classes %v, want 1 lost, 1 duplicated, 28 ok", c)
	}
	if got.Status != r.Check.Status || !reflect.DeepEqual(got.Classes, r.Check.Classes) {
		t.Errorf("the checker (%s %v) disagrees with the saved result (%s %v): run go test -run TestWriteFixture -update", got.Status, got.Classes, r.Check.Status, r.Check.Classes)
	}
	if len(got.Epochs) != 2 || got.Epochs[0].End != "died" || got.Epochs[1].End != "released" {
		t.Errorf("epochs %+v", got.Epochs)
	}
}

func copyDir(t *testing.T, src string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), filepath.Base(src))
	if err := os.CopyFS(dst, os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
	return dst
}

func TestJUnit(t *testing.T) {
	r, _ := buildFixture()
	b, err := JUnit(r)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseJUnit(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Suites) != 1 || got.Suites[0].Name != "engine-node-stop" {
		t.Fatalf("suites %+v", got.Suites)
	}
	s := got.Suites[0]
	nChecks, nExp := len(r.Check.Checks), len(r.Expectations)
	if s.Tests != nChecks+nExp || len(s.Cases) != s.Tests || got.Tests != s.Tests {
		t.Errorf("tests=%d cases=%d, want %d", s.Tests, len(s.Cases), nChecks+nExp)
	}
	if s.Failures != 3 || s.Errors != 0 || got.Failures != 3 {
		t.Errorf("failures=%d errors=%d, want 3 and 0", s.Failures, s.Errors)
	}
	failed := map[string]*JUnitProblem{}
	for _, c := range s.Cases {
		if c.Failure != nil {
			failed[c.Classname+"/"+c.Name] = c.Failure
		}
	}
	led := failed["rwxchaos.engine-node-stop.check/ledger"]
	if led == nil {
		t.Fatalf("no ledger failure in %v", failed)
	}
	if !strings.Contains(led.Message, "1 lost") || !strings.Contains(led.Text, "EDIFACT/ACME/GLOBEX/000000010") ||
		!strings.Contains(led.Text, "X12/ACME/GLOBEX/000000009") {
		t.Errorf("ledger failure lacks message or examples: %+v", led)
	}
	if f := failed["rwxchaos.engine-node-stop.expect/noLoss"]; f == nil || !strings.Contains(f.Text, "want: 0 lost") {
		t.Errorf("noLoss failure: %+v", f)
	}
	props := map[string]string{}
	for _, p := range s.Properties {
		props[p.Name] = p.Value
	}
	if props["seed"] != "42" || props["replay"] != "rwxchaos run scenarios/library/engine-node-stop.yaml --seed 42" {
		t.Errorf("properties %v", props)
	}
	if s.Timestamp != "2026-11-23T14:15:02" || s.Time != "180.000" {
		t.Errorf("timestamp %q time %q", s.Timestamp, s.Time)
	}
}

func TestJUnitVoidAndError(t *testing.T) {
	for _, v := range []Verdict{VerdictVoid, VerdictError} {
		r := &Run{Scenario: "s", Verdict: v, Reason: "no traffic <flowed> & \x01 nothing judged"}
		r.Phases = []Phase{{Name: PhaseDeploy, Err: "image pull failed"}}
		b, err := JUnit(r)
		if err != nil {
			t.Fatal(err)
		}
		var got JUnitSuites
		if err := xml.Unmarshal(b, &got); err != nil {
			t.Fatalf("%s: junit does not parse: %v\n%s", v, err, b)
		}
		s := got.Suites[0]
		if s.Errors != 1 || len(s.Cases) != 1 || s.Cases[0].Error == nil || s.Cases[0].Error.Type != string(v) {
			t.Fatalf("%s: %+v", v, s)
		}
		if !strings.Contains(s.Cases[0].Error.Message, "no traffic <flowed>") || !strings.Contains(s.Cases[0].Error.Text, "image pull failed") {
			t.Errorf("%s: error %+v", v, s.Cases[0].Error)
		}
	}
}

func TestSummary(t *testing.T) {
	r, _ := buildFixture()
	s := Summary(r)
	for _, want := range []string{
		"## ❌ FAIL · engine-node-stop\n",
		"rwxchaos run scenarios/library/engine-node-stop.yaml --seed 42",
		"| `20261123T141502Z-s42` | `42` | kind | fuse |",
		"> [!WARNING]\n> fuse: a userspace file server stands in for NFS",
		"| ❌ fail | ledger | 2 | 1 lost (max 0), 1 duplicated (max 0)",
		"| ✅ pass | lock-safety | 0 |",
		"| ❌ fail | noLoss | 0 lost | 1 lost |",
		"| lost | 1 |\n| duplicated | 1 |\n",
		"| stop-engine-node | node-stop | rwxchaos-worker | +62.0s | +62.4s | +92.0s | +105.0s | 30s |",
		"| 28 | 51.0 s | 56.4 s | 58.8 s | 58.8 s |",
		"**Failed:** ledger, noLoss, noDuplicates",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("summary lacks %q", want)
		}
	}
	if n := len(s); n > 20000 {
		t.Errorf("summary is %d bytes", n)
	}
}

func TestSummaryEscapes(t *testing.T) {
	r := &Run{Scenario: "s", Verdict: VerdictFail, Check: &check.Result{Status: check.Fail, Checks: []check.CheckResult{
		{Name: "ledger", Status: check.Fail, Message: "a | b\n<script>alert(1)</script>"},
	}}}
	s := Summary(r)
	if strings.Contains(s, "<script>") || !strings.Contains(s, `a \| b<br>&lt;script&gt;`) {
		t.Errorf("cell not escaped:\n%s", s)
	}
	r.Check.Checks[0].Message = "fine"
	r.Verdict = VerdictVoid
	r.Reason = "steady state not reached"
	if s := Summary(r); !strings.Contains(s, "## ⚪ VOID · s") || !strings.Contains(s, "**void:** steady state not reached") {
		t.Errorf("void summary:\n%s", s)
	}
}

func TestHTML(t *testing.T) {
	r, h := buildFixture()
	files, err := render(r, h)
	if err != nil {
		t.Fatal(err)
	}
	html := string(files[2].data)
	for _, want := range []string{
		`<header class="banner fail"`,
		// lanes: nodes, services, lock, traffic
		`class="ll">rwxchaos-worker2<`, `class="ll">webserver<`, `class="ll">engine<`, `class="ll">jobqueue<`, `class="ll">lock holder<`, `class="ll">uploads<`,
		// fault window shaded across lanes, and its lane
		`class="fshade"`, `class="ll">stop-engine-node<`,
		// lock epochs as bars linked to their rows
		`href="#epoch-1"`, `id="epoch-2"`,
		// anomalies listed and linked to their interchange rows
		`id="an-1"`, `id="an-2"`, `href="#ix-1"`, `href="#ix-2"`,
		`<section class="ix" id="ix-1"><h3>X12/ACME/GLOBEX/000000009`,
		`<section class="ix" id="ix-2"><h3>EDIFACT/ACME/GLOBEX/000000010`,
		"fuse: a userspace file server stands in for NFS",
	} {
		if !strings.Contains(html, want) {
			t.Errorf("report.html lacks %q", want)
		}
	}
	// Self-contained: no external resources.
	if m := regexp.MustCompile(`(?i)(src|href)="(https?:)?//`).FindString(html); m != "" {
		t.Errorf("external reference %q", m)
	}
	if strings.Contains(html, "<link") || strings.Contains(html, "@import") {
		t.Error("external stylesheet")
	}
	// The ix-2 row holds the lost key's events and says nothing is on the volume.
	i := strings.Index(html, `id="ix-2"`)
	sec := html[i : i+strings.Index(html[i:], "</section>")]
	if !strings.Contains(sec, "stored") || !strings.Contains(sec, "nothing") {
		t.Errorf("ix-2 section: %s", sec)
	}
}

func TestHTMLEscapes(t *testing.T) {
	r, h := buildFixture()
	evil := `<script>alert("x")</script>`
	r.Description = evil
	r.Check.Checks[1].Anomalies[0].Detail = evil
	r.Check.Checks[1].Anomalies[0].Key = `K"><img src=x onerror=alert(1)>`
	r.Faults[0].Target = evil
	files, err := render(r, h)
	if err != nil {
		t.Fatal(err)
	}
	html := string(files[2].data)
	if strings.Contains(html, evil) || strings.Contains(html, "<img src=x") {
		t.Error("report.html does not escape")
	}
	if !strings.Contains(html, "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;") {
		t.Error("escaped text missing")
	}
}

// TestHTMLLarge: 10k uploads render to a sane size with sampling.
func TestHTMLLarge(t *testing.T) {
	r, h := bigRun(10000)
	start := time.Now()
	files, err := render(r, h)
	if err != nil {
		t.Fatal(err)
	}
	html := files[2].data
	t.Logf("10k uploads: report.html %d KB in %s", len(html)/1024, time.Since(start).Round(time.Millisecond))
	if len(html) > 5<<20 {
		t.Errorf("report.html is %d bytes for 10k uploads", len(html))
	}
	if n := strings.Count(string(html), `class="pt`); n > maxLatencyPoints+300 {
		t.Errorf("%d latency points drawn", n)
	}
	if !strings.Contains(string(html), "drawn (sampled)") {
		t.Error("no sampling note")
	}
}

// TestHTMLManyAnomalies: a badly broken 10k-upload run stays under 5 MB.
func TestHTMLManyAnomalies(t *testing.T) {
	r, h := bigRunLossy(10000, 4)
	files, err := render(r, h)
	if err != nil {
		t.Fatal(err)
	}
	html := string(files[2].data)
	t.Logf("2500 lost of 10k: report.html %d KB, %d anomalies", len(html)/1024, r.Check.Check(check.CheckLedger).AnomalyCount)
	if len(html) > 5<<20 {
		t.Errorf("report.html is %d bytes", len(html))
	}
	if !strings.Contains(html, "more not listed") {
		t.Error("capped anomaly list does not say so")
	}
}

// bigRun is a synthetic run of n uploads: local provider, engine every
// second, a storage pause in the middle and every 500th interchange lost.
func bigRun(n int) (*Run, *history.History) { return bigRunLossy(n, 500) }

// bigRunLossy loses every lossEvery-th interchange.
func bigRunLossy(n, lossEvery int) (*Run, *history.History) {
	var evs []history.Event
	seq := map[string]int64{}
	add := func(e history.Event) {
		seq[e.Proc]++
		e.Seq = seq[e.Proc]
		evs = append(evs, e)
	}
	client := "client-host-1-1"
	ws := []string{"webserver-host-11-1", "webserver-host-12-1", "webserver-host-13-1"}
	var files []history.File
	lost := map[int]bool{}
	rate := 50.0
	dur := float64(n) / rate
	// At +30s the runner kills webserver 0 (pid 11); the supervisor restarts
	// it as pid 21.
	killAt := 30.0
	add(history.Event{Proc: "runner-host-1-1", Role: history.RoleRunner, Type: history.EvFault, Call: at(killAt), Return: at(killAt), Detail: "process-kill", Target: "webserver/0/11"})
	add(history.Event{Proc: "runner-host-1-1", Role: history.RoleRunner, Type: history.EvProcExit, Call: at(killAt + 0.01), Target: "webserver/0/11", Detail: "signal: killed"})
	add(history.Event{Proc: "runner-host-1-1", Role: history.RoleRunner, Type: history.EvProcStart, Call: at(killAt + 0.5), Target: "webserver/0/21"})
	for i := 0; i < n; i++ {
		u := 10 + float64(i)/rate
		key := history.Key("X12", "A", "B", fmt.Sprintf("%09d", i))
		if i%3 == 0 && u > killAt {
			ws[0] = "webserver-host-21-2"
		}
		add(history.Event{Proc: ws[i%3], Role: history.RoleWebserver, Node: "host", Type: history.EvStored, Call: at(u + 0.01), Key: key})
		add(history.Event{Proc: client, Role: history.RoleClient, Type: history.EvUpload, Call: at(u), Return: at(u + 0.02), Outcome: history.OK, Key: key, SHA: fxSHA(i)})
		if i%lossEvery == 7%lossEvery {
			lost[i] = true
			continue
		}
		files = append(files, history.File{Path: "botssys/outfile/d/" + history.FileName(key) + ".json", Stage: history.StageOutput, Key: key,
			Docs: []history.OutputDoc{{Key: key, InputSHA: fxSHA(i)}}})
	}
	var epoch uint64
	for s := 10.0; s < 10+dur+2; s++ {
		epoch++
		p := fmt.Sprintf("engine-host-%d-%d", 100+int(s), at(s))
		add(history.Event{Proc: p, Role: history.RoleEngine, Node: "host", Type: history.EvRunStart, Call: at(s)})
		add(history.Event{Proc: p, Role: history.RoleEngine, Node: "host", Type: history.EvLockAcquire, Call: at(s + 0.01), Epoch: epoch})
		for i := int((s - 11) * rate); i < int((s-10)*rate); i++ {
			if i < 0 || i >= n || lost[i] {
				continue
			}
			key := history.Key("X12", "A", "B", fmt.Sprintf("%09d", i))
			t := s + 0.02 + float64(i%50)*0.01
			if s > 50 && s < 60 {
				t += 60 - s // storage paused: everything waits
			}
			add(history.Event{Proc: p, Role: history.RoleEngine, Node: "host", Type: history.EvClaim, Call: at(t), Key: key, Epoch: epoch})
			add(history.Event{Proc: p, Role: history.RoleEngine, Node: "host", Type: history.EvOutput, Call: at(t + 0.003), Key: key, Epoch: epoch})
			add(history.Event{Proc: p, Role: history.RoleEngine, Node: "host", Type: history.EvDone, Call: at(t + 0.005), Key: key, Epoch: epoch})
		}
		add(history.Event{Proc: p, Role: history.RoleEngine, Node: "host", Type: history.EvLockRelease, Call: at(s + 0.9), Epoch: epoch})
		add(history.Event{Proc: p, Role: history.RoleEngine, Node: "host", Type: history.EvRunEnd, Call: at(s + 0.95), Outcome: history.OK})
	}
	history.Sort(evs)
	h := &history.History{Events: evs, Snapshot: &history.Snapshot{Files: files}}
	r := &Run{Scenario: "big", RunID: "x", Seed: 1, Provider: "local", Backend: "local", BackendNote: BackendNote("local"),
		Started: at(0), Ended: at(dur + 20),
		Faults: []Fault{{Name: "kill-webserver", Action: "process-kill", Target: "webserver/0/11", Injected: at(killAt), Healed: at(killAt), HealVerified: at(killAt + 0.6)},
			{Name: "pause", Action: "storage-pause", Injected: at(50), Healed: at(60)}}}
	r.Check = check.Run(check.FromHistory(h), check.DefaultConfig())
	r.Verdict = VerdictPass
	if r.Check.Status == check.Fail {
		r.Verdict = VerdictFail
	}
	r.ExitCode = r.Verdict.ExitCode()
	return r, h
}

func TestNewRunDir(t *testing.T) {
	base := t.TempDir()
	ts := time.Date(2026, 11, 23, 14, 15, 2, 0, time.FixedZone("CET", 3600))
	dir, id, err := NewRunDir(base, "node-kill", ts, 42)
	if err != nil {
		t.Fatal(err)
	}
	if id != "20261123T131502Z-s42" || dir != filepath.Join(base, "node-kill", id) {
		t.Errorf("dir %s id %s", dir, id)
	}
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		t.Fatalf("not created: %v", err)
	}
	_, id2, err := NewRunDir(base, "node-kill", ts, 42)
	if err != nil || id2 != id+"-2" {
		t.Errorf("second run: %s %v", id2, err)
	}
	if _, _, err := NewRunDir(base, "../x", ts, 1); err == nil {
		t.Error("accepted a scenario name with a slash")
	}
}

func TestLoadRejectsNewerSchema(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, ResultFile), []byte(`{"schemaVersion": 99}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadRun(dir); err == nil || !strings.Contains(err.Error(), "newer") {
		t.Errorf("err %v", err)
	}
	if _, _, err := Load(t.TempDir()); err == nil {
		t.Error("Load of an empty dir succeeded")
	}
	// A history file that is there but broken is an error, not "no history".
	if err := os.WriteFile(filepath.Join(dir, ResultFile), []byte(`{"schemaVersion": 1}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, history.EventsFile), []byte("{bad\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// A history file that is there but damaged loads with its damage as
	// problems (the checker reports them), not as "no history".
	_, h, err := Load(dir)
	if err != nil || h == nil || h.Stats.ProblemCount != 1 || h.Stats.Problems[0].Line != 1 {
		t.Errorf("Load with a damaged history: %v %+v", err, h)
	}
}

func TestReportWithoutHistory(t *testing.T) {
	// An error run: no history, no check result. Every file still renders.
	r := &Run{Scenario: "s", RunID: "id", Started: at(0), Ended: at(5), Phases: []Phase{{PhaseProvision, at(0), at(5), "kind create cluster: exit 1"}},
		Errors: []string{"provision: kind create cluster: exit 1"}, Verdict: VerdictError, Reason: "provision: kind create cluster: exit 1"}
	dir := t.TempDir()
	if err := Write(dir, r, nil); err != nil {
		t.Fatal(err)
	}
	r2, h2, err := Load(dir)
	if err != nil || h2 != nil || r2.Verdict != VerdictError {
		t.Errorf("Load of a run without history: %v %v %v", r2, h2, err)
	}
	b, _ := os.ReadFile(filepath.Join(dir, HTMLFile))
	if !strings.Contains(string(b), `class="banner error"`) || !strings.Contains(string(b), "kind create cluster: exit 1") {
		t.Error("error report lacks banner or reason")
	}
}
