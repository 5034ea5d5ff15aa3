package report

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestIndex(t *testing.T) {
	t0 := time.Date(2026, 11, 30, 2, 0, 0, 0, time.UTC).UnixNano()
	sec := int64(time.Second)
	run := &Run{Scenario: "node-kill-engine-node", Provider: "kind", Seed: 42, Verdict: VerdictPass, Started: t0, Ended: t0 + 70*sec,
		Phases: []Phase{{Name: PhaseProvision, Start: t0, End: t0 + 5*sec}, {Name: PhaseTrafficFaults, Start: t0 + 20*sec, End: t0 + 60*sec},
			{Name: PhaseCheck, Start: t0 + 65*sec, End: t0 + 66*sec}, {Name: PhaseTeardown, Start: t0 + 70*sec, End: t0 + 80*sec}},
		Faults: []Fault{{Name: "kill", Injected: t0 + 30*sec}}}
	pass := NewIndexEntry(run, "node-kill-engine-node/20261130T020000Z-s42", OutcomePass, "")
	if pass.FaultToVerdict != 36*time.Second || pass.Duration() != 80*time.Second {
		t.Errorf("fault→verdict %s, duration %s; want 36s (injected → check end) and 80s (teardown included)", pass.FaultToVerdict, pass.Duration())
	}
	idx := &Index{Title: "nightly", Started: t0, Ended: t0 + 600*sec, Host: "2 cores, load 1.0",
		Entries: []IndexEntry{pass,
			{Scenario: "node-kill-steal-live-lock", Outcome: OutcomePass, Verdict: VerdictFail, Why: "bug zoo: failed as it must, with stolen-lease", Dir: "x/y"},
			{Scenario: "storage-restarted", Outcome: OutcomeSkip, Verdict: VerdictVoid, Why: "cannot run here: no NFS client"},
			{Scenario: "pre-upgrade-drill", Outcome: OutcomeSkip, Why: "existing-cluster scenario: set RWXCHAOS_KUBECONFIG"},
		},
		Notes: []string{"shared cluster created once in 41s"}}
	if !idx.Green() {
		t.Errorf("passes and explained skips are green")
	}
	md := idx.Markdown()
	for _, want := range []string{"✅ green", "4 scenarios: 2 pass, 0 fail, 2 skipped", "[report](node-kill-engine-node/20261130T020000Z-s42/report.html)",
		"| 36.0s |", "bug zoo: failed as it must", "no NFS client", "Where the time went", "shared cluster created once"} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
	idx.Entries = append(idx.Entries, IndexEntry{Scenario: "two-nodes-killed", Outcome: OutcomeFail, Verdict: VerdictFail, Why: "rescheduledWithin: 2 of 2 never rescheduled"})
	if idx.Green() {
		t.Errorf("a failed scenario makes the night red")
	}
	idx.Entries = idx.Entries[:len(idx.Entries)-1]
	idx.Entries = append(idx.Entries, IndexEntry{Scenario: "silent", Outcome: OutcomeSkip})
	if idx.Green() {
		t.Errorf("a skip without a reason is not green: green means passed or explained")
	}
	dir := t.TempDir()
	path, err := WriteIndex(dir, IndexName, idx)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := os.ReadFile(path)
	for _, want := range []string{"nightly · RED", `href="node-kill-engine-node/20261130T020000Z-s42/report.html"`, "no NFS client", "<td class=\"num\">36.0s</td>"} {
		if !strings.Contains(string(page), want) {
			t.Errorf("index.html lacks %q", want)
		}
	}
	for _, f := range []string{IndexName + ".md", IndexName + ".json"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}
