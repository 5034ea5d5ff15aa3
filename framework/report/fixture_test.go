package report

import (
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rwxchaos/rwxchaos/framework/check"
	"github.com/rwxchaos/rwxchaos/framework/history"
)

var update = flag.Bool("update", false, "rewrite testdata/ from the hand-made fixture")

// fixtureDir is the saved run the tests re-check offline.
const fixtureDir = "testdata/engine-node-stop/20261123T141502Z-s42"

// fixtureT0 is the start of the fixture run.
var fixtureT0 = time.Date(2026, 11, 23, 14, 15, 2, 0, time.UTC)

// at is the fixture's clock: seconds after the run start, in Unix ns.
func at(s float64) int64 { return fixtureT0.UnixNano() + int64(s*1e9) }

const (
	fxWorker  = "rwxchaos-worker"
	fxWorker2 = "rwxchaos-worker2"
	fxWorker3 = "rwxchaos-worker3"
)

// fixtureBuilder collects the fixture's events.
type fixtureBuilder struct {
	evs []history.Event
}

// add appends e; sequence numbers are assigned once all events are sorted.
func (b *fixtureBuilder) add(e history.Event) { b.evs = append(b.evs, e) }

type fxProc struct{ id, role, node string }

func (p fxProc) ev(typ string, call, ret float64, e history.Event) history.Event {
	e.Proc, e.Role, e.Node, e.Type, e.Call = p.id, p.role, p.node, typ, at(call)
	if ret > 0 {
		e.Return = at(ret)
	}
	return e
}

func procID(role, host string, pid int, start float64) string {
	return fmt.Sprintf("%s-%s-%d-%d", role, host, pid, at(start))
}

func fxKey(i int) string {
	if i%2 == 1 {
		return history.Key("X12", "ACME", "GLOBEX", fmt.Sprintf("%09d", i))
	}
	return history.Key("EDIFACT", "ACME", "GLOBEX", fmt.Sprintf("%09d", i))
}

func fxSHA(i int) string {
	s := sha256.Sum256([]byte(fmt.Sprintf("interchange %d", i)))
	return hex.EncodeToString(s[:])
}

// buildFixture is a small, realistic run of scenario engine-node-stop on
// kind with the fuse backend and two defects switched on: worker (running
// webserver 2xkqp and the engine lock holder) is stopped for 30 s while the
// engine works through its ninth interchange. Key 10 was acked by the
// webserver on that node before it reached the disk (ack-before-fsync): lost.
// Key 9 had its output written but not its work file removed; the next
// engine run recovers it and appends a second document (append-output):
// duplicated. Key 13 times out against the dead webserver and is retried.
func buildFixture() (*Run, *history.History) {
	var b fixtureBuilder
	client := fxProc{procID("client", "rwxchaos-runner", 4242, 49.5), history.RoleClient, ""}
	wsA := fxProc{procID("webserver", "webserver-6d8f7b9c4-2xkqp", 1, 43.9), history.RoleWebserver, fxWorker}
	wsB := fxProc{procID("webserver", "webserver-6d8f7b9c4-8mzvn", 1, 44.2), history.RoleWebserver, fxWorker2}
	wsC := fxProc{procID("webserver", "webserver-6d8f7b9c4-tq5wd", 1, 44.0), history.RoleWebserver, fxWorker3}
	jq := fxProc{procID("jobqueue", "jobqueue-7f5c9d8b6-kx4jp", 1, 44.3), history.RoleJobqueue, fxWorker2}
	eng1 := fxProc{procID("engine", "engine-29391796-5lbvq", 1, 58.3), history.RoleEngine, fxWorker}
	eng2 := fxProc{procID("engine", "engine-29391797-q8w2n", 1, 118.3), history.RoleEngine, fxWorker3}
	runner := fxProc{procID("runner", "ci-host", 977, 0), history.RoleRunner, ""}

	inPath := func(i int) string { return history.DirInput + "/default/" + history.FileName(fxKey(i)) + ".edi" }
	workPath := func(i int) string { return history.DirWork + "/default/" + history.FileName(fxKey(i)) + ".edi" }
	outPath := func(i int) string { return history.DirOutput + "/default/" + history.FileName(fxKey(i)) + ".json" }
	size := func(i int) int64 { return int64(256 + (i*397)%3800) }

	// Uploads: one a second from +50s, round robin over the webservers until
	// worker dies; the client drops 2xkqp after its timeout.
	ws := []fxProc{wsA, wsB, wsC}
	for i := 1; i <= 30; i++ {
		u := 50 + float64(i-1)
		w := ws[(i-1)%3]
		if i >= 16 && w == wsA {
			w = wsB
		}
		k := history.Event{Key: fxKey(i), SHA: fxSHA(i), Size: size(i)}
		if i == 13 {
			e := k
			e.Outcome, e.Err = history.Unknown, `Post "http://10.244.1.7:8080/upload": context deadline exceeded (Client.Timeout exceeded while awaiting headers)`
			b.add(client.ev(history.EvUpload, u, u+2, e))
			u, w = u+2.1, wsB
		}
		st := k
		st.Path = inPath(i)
		b.add(w.ev(history.EvStored, u+0.02, u+0.045, st))
		if w == wsB && i%5 == 0 {
			b.add(jq.ev(history.EvJobEnqueue, u+0.05, 0, history.Event{Detail: "engine pass requested by upload"}))
		}
		ok := k
		ok.Outcome = history.OK
		b.add(client.ev(history.EvUpload, u, u+0.06, ok))
	}

	// Engine run 1 on worker: epoch 1, keys 1..9; killed with the node while
	// key 9's work file is still in work/.
	b.add(eng1.ev(history.EvRunStart, 58.3, 0, history.Event{}))
	b.add(eng1.ev(history.EvLockAcquire, 58.45, 58.5, history.Event{Epoch: 1}))
	for i := 1; i <= 9; i++ {
		c := 58.6 + 0.4*float64(i-1)
		b.add(eng1.ev(history.EvClaim, c, c+0.02, history.Event{Key: fxKey(i), Epoch: 1, Path: workPath(i)}))
		b.add(eng1.ev(history.EvOutput, c+0.15, c+0.19, history.Event{Key: fxKey(i), Epoch: 1, Path: outPath(i), Msgs: 1 + i%3}))
		if i < 9 {
			b.add(eng1.ev(history.EvDone, c+0.3, c+0.31, history.Event{Key: fxKey(i), Epoch: 1}))
		}
	}

	// The runner stops the node (docker stop) and starts it 30 s later.
	b.add(runner.ev(history.EvFault, 62.0, 92.0, history.Event{Detail: "node-stop", Target: fxWorker}))
	b.add(runner.ev(history.EvProcExit, 62.0, 0, history.Event{Target: eng1.id, Detail: "node rwxchaos-worker stopped"}))
	b.add(runner.ev(history.EvProcExit, 62.0, 0, history.Event{Target: wsA.id, Detail: "node rwxchaos-worker stopped"}))

	// Jobqueue passes every 15 s; the one at +105 s hits a stale handle on
	// the queue file the stopped node had open.
	for t := 45.0; t <= 165; t += 15 {
		b.add(jq.ev(history.EvJobStart, t, 0, history.Event{Detail: "engine pass"}))
		if t == 105 {
			b.add(jq.ev(history.EvError, t+0.1, 0, history.Event{ErrClass: "ESTALE", Err: "read botssys/data/jobqueue/queue.db: stale NFS file handle", Path: history.DirQueue + "/queue.db"}))
		}
		b.add(jq.ev(history.EvJobEnd, t+0.2, 0, history.Event{Outcome: history.OK}))
	}

	// Engine run 2 on worker3 at the next minute: breaks the stale lease,
	// recovers key 9 from work/ by appending a second document, then
	// processes everything left in input/ (key 10 never reached the disk).
	b.add(eng2.ev(history.EvRunStart, 118.3, 0, history.Event{}))
	b.add(eng2.ev(history.EvLockTakeover, 118.4, 118.42, history.Event{Holder: eng1.id, Epoch: 1, Detail: "age 59.9s ttl 15s"}))
	b.add(eng2.ev(history.EvLockAcquire, 118.42, 118.45, history.Event{Epoch: 2, Holder: eng1.id}))
	b.add(eng2.ev(history.EvOutput, 118.5, 118.55, history.Event{Key: fxKey(9), Epoch: 2, Path: outPath(9), Msgs: 1, Detail: "recovered from work/"}))
	b.add(eng2.ev(history.EvDone, 118.6, 118.61, history.Event{Key: fxKey(9), Epoch: 2}))
	c := 118.7
	for i := 11; i <= 30; i++ {
		b.add(eng2.ev(history.EvClaim, c, c+0.02, history.Event{Key: fxKey(i), Epoch: 2, Path: workPath(i)}))
		b.add(eng2.ev(history.EvOutput, c+0.15, c+0.19, history.Event{Key: fxKey(i), Epoch: 2, Path: outPath(i), Msgs: 1 + i%3}))
		b.add(eng2.ev(history.EvDone, c+0.3, c+0.31, history.Event{Key: fxKey(i), Epoch: 2}))
		if i == 22 {
			b.add(eng2.ev(history.EvLockRenew, c+0.35, c+0.37, history.Event{Epoch: 2}))
		}
		c += 0.4
	}
	b.add(eng2.ev(history.EvLockRelease, c, c+0.05, history.Event{Epoch: 2}))
	b.add(eng2.ev(history.EvRunEnd, c+0.1, 0, history.Event{Outcome: history.OK}))
	history.Sort(b.evs)
	seq := map[string]int64{}
	for i := range b.evs {
		seq[b.evs[i].Proc]++
		b.evs[i].Seq = seq[b.evs[i].Proc]
	}

	// The volume after settling.
	snap := &history.Snapshot{Taken: at(166.0), Lease: &history.Lease{Holder: eng2.id, Node: fxWorker3, Epoch: 2,
		Heartbeat: at(123.57), TTLMillis: 15000, Released: true}}
	for i := 1; i <= 30; i++ {
		if i == 10 {
			continue
		}
		f := history.File{Path: outPath(i), Stage: history.StageOutput, Key: fxKey(i)}
		doc := func(epoch uint64, eng string, t float64) history.OutputDoc {
			return history.OutputDoc{Key: fxKey(i), Format: map[bool]string{true: "X12", false: "EDIFACT"}[i%2 == 1], Sender: "ACME",
				Receiver: "GLOBEX", Control: fmt.Sprintf("%09d", i), Messages: 1 + i%3, InputSHA: fxSHA(i), Epoch: epoch, Engine: eng, Written: at(t)}
		}
		switch {
		case i < 9:
			f.Docs = []history.OutputDoc{doc(1, eng1.id, 58.6+0.4*float64(i-1)+0.19)}
		case i == 9:
			f.Docs = []history.OutputDoc{doc(1, eng1.id, 61.99), doc(2, eng2.id, 118.55)}
		default:
			f.Docs = []history.OutputDoc{doc(2, eng2.id, 118.7+0.4*float64(i-11)+0.19)}
		}
		f.Size = int64(240 * len(f.Docs))
		snap.Files = append(snap.Files, f)
	}
	snap.Files = append(snap.Files, history.File{Path: history.LeaseFile, Stage: history.StageLease, Size: 180})
	h := &history.History{Events: b.evs, Snapshot: snap}

	r := &Run{
		SchemaVersion: SchemaVersion,
		Scenario:      "engine-node-stop",
		Description:   "Stop the node running the engine while it holds the lock, with ack-before-fsync and append-output switched on: the checks must catch a lost and a duplicated interchange.",
		ScenarioFile:  "scenarios/library/engine-node-stop.yaml",
		RunID:         RunID(fixtureT0, 42),
		Seed:          42,
		Provider:      "kind",
		Backend:       "fuse",
		BackendNote:   BackendNote("fuse"),
		Started:       at(0),
		Ended:         at(180),
		Nodes:         []string{"rwxchaos-control-plane", fxWorker, fxWorker2, fxWorker3},
		Phases: []Phase{
			{PhaseProvision, at(0), at(35), ""},
			{PhaseDeploy, at(35), at(49.5), ""},
			{PhaseSteadyState, at(49.5), at(60.1), ""},
			{PhaseTrafficFaults, at(60.1), at(95), ""},
			{PhaseHeal, at(95), at(105.6), ""},
			{PhaseSettle, at(105.6), at(165), ""},
			{PhaseCollect, at(165), at(169.8), ""},
			{PhaseCheck, at(169.8), at(170.1), ""},
			{PhaseReport, at(170.1), at(170.6), ""},
			{PhaseTeardown, at(170.6), at(180), ""},
		},
		Faults: []Fault{{Name: "stop-engine-node", Action: "node-stop", Target: fxWorker,
			Injected: at(62.0), Verified: at(62.4), Healed: at(92.0), HealVerified: at(105.0)}},
		Expectations: []Expectation{
			{Name: "noLoss", Want: "0 lost", Got: "1 lost", Status: check.Fail, Message: "EDIFACT/ACME/GLOBEX/000000010 was acked at +59.1s and never output"},
			{Name: "noDuplicates", Want: "0 duplicated", Got: "1 duplicated", Status: check.Fail, Message: "X12/ACME/GLOBEX/000000009 has 2 documents in one output file"},
			{Name: "lockExclusive", Want: "one holder per epoch", Got: "2 epochs, no double grant", Status: check.Pass},
			{Name: "lockRecoveredWithin", Want: "≤ 1m30s", Got: "56.4s", Status: check.Pass},
			{Name: "rescheduledWithin", Want: "≤ 1m30s", Got: "33.3s", Status: check.Pass},
			{Name: "readyWithin", Want: "≤ 3m0s", Got: "13.6s", Status: check.Pass},
		},
		Pods: []Pod{
			{"webserver-6d8f7b9c4-2xkqp", "webserver", fxWorker, at(40.2), at(43.9), at(92.0), "Terminating"},
			{"webserver-6d8f7b9c4-8mzvn", "webserver", fxWorker2, at(40.2), at(44.2), 0, "Running"},
			{"webserver-6d8f7b9c4-tq5wd", "webserver", fxWorker3, at(40.2), at(44.0), 0, "Running"},
			{"jobqueue-7f5c9d8b6-kx4jp", "jobqueue", fxWorker2, at(40.3), at(44.3), 0, "Running"},
			{"engine-29391796-5lbvq", "engine", fxWorker, at(58.0), at(58.3), at(92.0), "Terminating"},
			{"webserver-6d8f7b9c4-hb7rl", "webserver", fxWorker2, at(92.1), at(95.3), 0, "Running"},
			{"engine-29391797-q8w2n", "engine", fxWorker3, at(118.0), at(118.3), at(127.0), "Succeeded"},
		},
		Events: []KubeEvent{
			{at(82.0), "Warning", "NodeNotReady", "Node/rwxchaos-worker", "Node rwxchaos-worker status is now: NodeNotReady", 1},
			{at(92.0), "Warning", "TaintManagerEviction", "Pod/webserver-6d8f7b9c4-2xkqp", "Marking for deletion Pod rwxchaos/webserver-6d8f7b9c4-2xkqp", 1},
			{at(92.1), "Normal", "SuccessfulCreate", "ReplicaSet/webserver-6d8f7b9c4", "Created pod: webserver-6d8f7b9c4-hb7rl", 1},
			{at(92.2), "Normal", "Scheduled", "Pod/webserver-6d8f7b9c4-hb7rl", "Successfully assigned rwxchaos/webserver-6d8f7b9c4-hb7rl to rwxchaos-worker2", 1},
			{at(105.0), "Normal", "NodeReady", "Node/rwxchaos-worker", "Node rwxchaos-worker status is now: NodeReady", 1},
			{at(118.0), "Normal", "SuccessfulCreate", "CronJob/engine", "Created job engine-29391797", 1},
			{at(127.0), "Normal", "SawCompletedJob", "CronJob/engine", "Saw completed job: engine-29391797, status: Complete", 1},
		},
		Artifacts: []Artifact{
			{"webserver-6d8f7b9c4-2xkqp log", "logs/webserver-6d8f7b9c4-2xkqp.log"},
			{"engine-29391797-q8w2n log", "logs/engine-29391797-q8w2n.log"},
		},
	}
	r.Observed = &Observed{Watched: true, Reschedules: []Reschedule{
		{Fault: "stop-engine-node", Component: "webserver", From: fxWorker + "/webserver-6d8f7b9c4-2xkqp", To: fxWorker2, After: 33300 * time.Millisecond}}}
	cfg := fixtureConfig()
	r.CheckConfig = &cfg
	r.Check = check.Run(check.FromHistory(h), cfg)
	// The fixture's verdict as framework/verdict decides it (its tests
	// re-check this directory): a lost and a duplicated interchange fail it.
	r.Verdict, r.ExitCode = VerdictFail, 1
	return r, h
}

func fixtureConfig() check.Config {
	cfg := check.DefaultConfig()
	cfg.LockRecoveredWithin = 90 * time.Second
	return cfg
}

// TestWriteFixture rewrites testdata/ with -update.
func TestWriteFixture(t *testing.T) {
	if !*update {
		t.Skip("run with -update to rewrite " + fixtureDir)
	}
	r, h := buildFixture()
	if err := os.RemoveAll(fixtureDir); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(fixtureDir), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := Write(fixtureDir, r, h); err != nil {
		t.Fatal(err)
	}
}
