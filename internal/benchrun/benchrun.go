// Package benchrun writes a saved run directory of any size as a real run
// writes it — the runner's check (result.json with its check config), the
// history (history.ndjson, snapshot.json) and the derived files through
// report.Write — so that `rwxchaos report` can be measured end to end on a
// million uploads without a cluster.
package benchrun

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/rwxchaos/rwxchaos/framework/history"
	"github.com/rwxchaos/rwxchaos/framework/report"
	"github.com/rwxchaos/rwxchaos/framework/scenario"
	"github.com/rwxchaos/rwxchaos/framework/verdict"
)

// Version changes whenever the generated run changes, so cached run
// directories are regenerated.
const Version = "2"

// PassSize is how many interchanges one engine pass moves.
const PassSize = 1000

// Dir is where a cached run of n uploads lives under root.
func Dir(root string, n int) string {
	return filepath.Join(root, fmt.Sprintf("report-%d-v%s", n, Version), "million", "20261130T020000Z-s42")
}

// Ensure writes the run of n uploads under root unless a complete one is
// there, and returns its directory.
func Ensure(root string, n int) (string, error) {
	dir := Dir(root, n)
	if _, err := os.Stat(filepath.Join(dir, report.HTMLFile)); err == nil {
		return dir, nil
	}
	if err := os.RemoveAll(filepath.Dir(filepath.Dir(dir))); err != nil {
		return "", err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	return dir, Write(dir, n)
}

// Write writes a passing run of n uploads into dir: n acked uploads, each
// stored by one of three webservers, claimed, output and done by an engine
// pass of PassSize files that holds its own lock epoch, run by the jobqueue.
func Write(dir string, n int) error {
	if n <= 0 {
		return errors.New("benchrun: n must be positive")
	}
	base := time.Date(2026, 11, 30, 2, 0, 0, 0, time.UTC).UnixNano()
	ms := int64(time.Millisecond)
	h := &history.History{Snapshot: &history.Snapshot{}}
	evs := make([]history.Event, 0, 5*n+7*(n/PassSize+1))
	seq := map[string]int64{}
	add := func(e history.Event) {
		seq[e.Proc]++
		e.Seq = seq[e.Proc]
		evs = append(evs, e)
	}
	client := fmt.Sprintf("client-rwxchaos-runner-4242-%d", base)
	webs := []string{"webserver-webserver-6d8f7b9c4-2xkqp-1-", "webserver-webserver-6d8f7b9c4-8mzvn-1-", "webserver-webserver-6d8f7b9c4-q7wlt-1-"}
	nodes := []string{"rwxchaos-worker", "rwxchaos-worker2", "rwxchaos-worker3"}
	for i := range webs {
		webs[i] += fmt.Sprint(base - int64(i+1)*ms)
	}
	jobq := fmt.Sprintf("jobqueue-jobqueue-7f5c9d8b6-kx4jp-1-%d", base-5*ms)
	keys := make([]string, n)
	shas := make([]string, n)
	for i := range n {
		format, sender := "X12", "ACME"
		if i%2 == 1 {
			format, sender = "EDIFACT", "INITECH"
		}
		keys[i] = history.Key(format, sender, "GLOBEX", fmt.Sprintf("%09d", i+1))
		sum := sha256.Sum256([]byte(keys[i]))
		shas[i] = hex.EncodeToString(sum[:])
	}
	// Uploads: one a millisecond, stored 20 ms later.
	for i := range n {
		t := base + int64(i)*ms
		size := int64(256 + i%3800)
		name := history.FileName(keys[i]) + ".edi"
		add(history.Event{Proc: client, Role: history.RoleClient, Type: history.EvUpload, Call: t, Return: t + 60*ms, Outcome: history.OK,
			Key: keys[i], SHA: shas[i], Size: size, Msgs: 1 + i%3, Detail: fmt.Sprintf("route=default target=http://172.18.0.%d:30080 status=201", 3+i%3)})
		w := i % 3
		add(history.Event{Proc: webs[w], Role: history.RoleWebserver, Node: nodes[w], Type: history.EvStored, Call: t + 20*ms, Return: t + 45*ms,
			Key: keys[i], SHA: shas[i], Size: size, Path: history.DirInput + "/default/" + name})
	}
	// Engine passes, each after its batch was stored.
	for p := 0; p*PassSize < n; p++ {
		lo, hi := p*PassSize, min((p+1)*PassSize, n)
		t := base + int64(hi)*ms + 100*ms
		eng := fmt.Sprintf("engine-jobqueue-7f5c9d8b6-kx4jp-%d-%d", 100+p, t)
		node := nodes[p%3]
		epoch := uint64(p + 1)
		add(history.Event{Proc: jobq, Role: history.RoleJobqueue, Node: nodes[1], Type: history.EvJobStart, Call: t - 5*ms, Detail: "engine pass"})
		add(history.Event{Proc: eng, Role: history.RoleEngine, Node: node, Type: history.EvRunStart, Call: t})
		add(history.Event{Proc: eng, Role: history.RoleEngine, Node: node, Type: history.EvLockAcquire, Call: t + ms, Return: t + 2*ms, Epoch: epoch})
		for i := lo; i < hi; i++ {
			c := t + 3*ms + int64(i-lo)*ms/4
			name := history.FileName(keys[i])
			add(history.Event{Proc: eng, Role: history.RoleEngine, Node: node, Type: history.EvClaim, Call: c, Return: c + 50_000,
				Key: keys[i], SHA: shas[i], Epoch: epoch, Path: history.DirWork + "/default/" + name + ".edi"})
			add(history.Event{Proc: eng, Role: history.RoleEngine, Node: node, Type: history.EvOutput, Call: c + 60_000, Return: c + 120_000,
				Key: keys[i], SHA: shas[i], Epoch: epoch, Msgs: 1 + i%3, Path: history.DirOutput + "/default/" + name + ".json"})
			add(history.Event{Proc: eng, Role: history.RoleEngine, Node: node, Type: history.EvDone, Call: c + 130_000, Return: c + 150_000,
				Key: keys[i], Epoch: epoch})
			h.Snapshot.Files = append(h.Snapshot.Files, history.File{Path: history.DirOutput + "/default/" + name + ".json", Stage: history.StageOutput,
				Size: 240, Key: keys[i], Docs: []history.OutputDoc{{Key: keys[i], Format: format(i), Sender: sender(i), Receiver: "GLOBEX",
					Control: fmt.Sprintf("%09d", i+1), Messages: 1 + i%3, InputSHA: shas[i], Epoch: epoch, Engine: eng, Written: c + 120_000}}})
		}
		end := t + 3*ms + int64(hi-lo)*ms/4 + ms
		add(history.Event{Proc: eng, Role: history.RoleEngine, Node: node, Type: history.EvLockRelease, Call: end, Epoch: epoch})
		add(history.Event{Proc: eng, Role: history.RoleEngine, Node: node, Type: history.EvRunEnd, Call: end + ms, Outcome: history.OK})
		add(history.Event{Proc: jobq, Role: history.RoleJobqueue, Node: nodes[1], Type: history.EvJobEnd, Call: end + 2*ms, Outcome: history.OK})
	}
	history.Sort(evs)
	h.Events = evs
	last := evs[len(evs)-1].End()
	h.Snapshot.Taken = last + 500*ms
	spec, err := scenario.Parse("million.yaml", []byte(fmt.Sprintf(`apiVersion: rwxchaos.dev/v1alpha1
kind: Scenario
metadata: {name: million, description: A generated run of many uploads.}
cluster: {provider: kind, kind: {workers: 3}}
workload:
  engine: {leaseTTL: 10s}
  traffic: {count: %d, rate: 1000}
run: {timeout: 2h, settle: 5m}
`, n)))
	if err != nil {
		return fmt.Errorf("benchrun: scenario: %w", err)
	}
	r := &report.Run{Spec: spec, SchemaVersion: report.SchemaVersion, Scenario: "million",
		Description: "A generated run of many uploads, to measure re-checking a saved run (rwxchaos report).",
		RunID:       "20261130T020000Z-s42", Seed: 42, Provider: "kind", Backend: "hostpath", BackendNote: report.BackendNote("hostpath"),
		Started: base - 60*int64(time.Second), Ended: h.Snapshot.Taken + int64(time.Second),
		Phases: []report.Phase{{Name: report.PhaseTrafficFaults, Start: base, End: last}, {Name: report.PhaseSettle, Start: last, End: h.Snapshot.Taken}},
		Nodes:  append([]string{"rwxchaos-control-plane"}, nodes...)}
	verdict.Judge(r, spec, h)
	if r.Verdict != report.VerdictPass {
		return fmt.Errorf("benchrun: the generated run does not pass (%s %s): the generator is out of step with the checker", r.Verdict, r.Reason)
	}
	return report.Write(dir, r, h)
}

func format(i int) string {
	if i%2 == 1 {
		return "EDIFACT"
	}
	return "X12"
}

func sender(i int) string {
	if i%2 == 1 {
		return "INITECH"
	}
	return "ACME"
}
