package check

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rwxchaos/rwxchaos/framework/history"
)

// builder writes a history the way the services would, one clock for all.
type builder struct {
	t    int64
	seq  map[string]int64
	h    history.History
	shas map[string]string
}

func newBuilder() *builder {
	return &builder{t: time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC).UnixNano(), seq: map[string]int64{}, shas: map[string]string{},
		h: history.History{Snapshot: &history.Snapshot{}}}
}

func (b *builder) ev(proc, role, typ string, f func(*history.Event)) *history.Event {
	b.t += int64(time.Millisecond)
	b.seq[proc]++
	e := history.Event{Proc: proc, Seq: b.seq[proc], Role: role, Type: typ, Call: b.t, Return: b.t + int64(100*time.Microsecond)}
	if f != nil {
		f(&e)
	}
	b.h.Events = append(b.h.Events, e)
	return &b.h.Events[len(b.h.Events)-1]
}

func (b *builder) sha(key string) string {
	if s, ok := b.shas[key]; ok {
		return s
	}
	s := sha256.Sum256([]byte(key))
	b.shas[key] = hex.EncodeToString(s[:])
	return b.shas[key]
}

func (b *builder) upload(key, outcome string) {
	b.ev("client-1", history.RoleClient, history.EvUpload, func(e *history.Event) { e.Key, e.SHA, e.Outcome = key, b.sha(key), outcome })
}

func (b *builder) acquire(proc string, epoch uint64) {
	b.ev(proc, history.RoleEngine, history.EvLockAcquire, func(e *history.Event) { e.Epoch = epoch })
}

func (b *builder) release(proc string, epoch uint64) {
	b.ev(proc, history.RoleEngine, history.EvLockRelease, func(e *history.Event) { e.Epoch = epoch })
}

// process journals claim, output and done for key and leaves one output file.
func (b *builder) process(proc string, epoch uint64, key string) {
	for _, typ := range []string{history.EvClaim, history.EvOutput, history.EvDone} {
		b.ev(proc, history.RoleEngine, typ, func(e *history.Event) { e.Key, e.SHA, e.Epoch = key, b.sha(key), epoch })
	}
	b.outputBy(key, 1, proc, epoch)
}

// output leaves an output file of key with docs documents written by
// "engine-x" under epoch 0 (tests without engine journals).
func (b *builder) output(key string, docs int) { b.outputBy(key, docs, "engine-x", 0) }

func (b *builder) outputBy(key string, docs int, engine string, epoch uint64) {
	f := history.File{Path: history.DirOutput + "/default/" + history.FileName(key) + ".json", Stage: history.StageOutput, Key: key}
	for i := 0; i < docs; i++ {
		f.Docs = append(f.Docs, doc(key, b.sha(key), engine, epoch))
	}
	b.h.Snapshot.Files = append(b.h.Snapshot.Files, f)
}

// doc is a well-formed output document of key.
func doc(key, sha, engine string, epoch uint64) history.OutputDoc {
	p := strings.Split(key, "/")
	return history.OutputDoc{Key: key, Format: p[0], Sender: p[1], Receiver: p[2], Control: p[3], Messages: 1,
		InputSHA: sha, Epoch: epoch, Engine: engine, Written: 1}
}

func (b *builder) run() *Result { return Run(FromHistory(&b.h), DefaultConfig()) }

func TestCleanRunPasses(t *testing.T) {
	b := newBuilder()
	for i := 0; i < 10; i++ {
		b.upload(fmt.Sprintf("X12/A/B/%09d", i), history.OK)
	}
	b.acquire("engine-1", 1)
	for i := 0; i < 10; i++ {
		b.process("engine-1", 1, fmt.Sprintf("X12/A/B/%09d", i))
	}
	b.release("engine-1", 1)
	r := b.run()
	if r.Status != Pass {
		t.Fatalf("status %s, checks %+v", r.Status, r.Checks)
	}
	if r.Classes[ClassOK] != 10 || r.Latency.N != 10 {
		t.Fatalf("classes %v latency %+v", r.Classes, r.Latency)
	}
}

func TestLedgerClasses(t *testing.T) {
	cases := []struct {
		name  string
		build func(b *builder)
		class string
		fail  bool
	}{
		{"lost", func(b *builder) { b.upload("X12/A/B/000000001", history.OK) }, ClassLost, true},
		{"duplicated-files", func(b *builder) {
			b.upload("X12/A/B/000000001", history.OK)
			b.output("X12/A/B/000000001", 1)
			f := b.h.Snapshot.Files[0]
			f.Path = history.DirOutput + "/other/" + history.FileName("X12/A/B/000000001") + ".json"
			b.h.Snapshot.Files = append(b.h.Snapshot.Files, f)
		}, ClassDuplicated, true},
		{"duplicated-docs", func(b *builder) { b.upload("X12/A/B/000000001", history.OK); b.output("X12/A/B/000000001", 2) }, ClassDuplicated, true},
		{"processed-twice", func(b *builder) {
			b.upload("X12/A/B/000000001", history.OK)
			b.acquire("e1", 1)
			b.process("e1", 1, "X12/A/B/000000001")
			b.ev("e1", history.RoleEngine, history.EvOutput, func(e *history.Event) { e.Key, e.Epoch = "X12/A/B/000000001", 1 })
			b.release("e1", 1)
		}, ClassDuplicated, true},
		{"corrupt-torn", func(b *builder) {
			b.upload("X12/A/B/000000001", history.OK)
			b.h.Snapshot.Files = append(b.h.Snapshot.Files, history.File{Path: "botssys/outfile/d/X12+A+B+000000001.json", Stage: history.StageOutput, Key: "X12/A/B/000000001", Err: "unexpected EOF"})
		}, ClassCorrupt, true},
		{"corrupt-wrong-input", func(b *builder) {
			b.upload("X12/A/B/000000001", history.OK)
			b.h.Snapshot.Files = append(b.h.Snapshot.Files, history.File{Path: "botssys/outfile/d/X12+A+B+000000001.json", Stage: history.StageOutput, Key: "X12/A/B/000000001",
				Docs: []history.OutputDoc{doc("X12/A/B/000000001", b.sha("other"), "engine-x", 0)}})
		}, ClassCorrupt, true},
		{"unexpected", func(b *builder) {
			b.upload("X12/A/B/000000000", history.OK)
			b.output("X12/A/B/000000000", 1)
			b.output("X12/A/B/000000009", 1)
		}, ClassUnexpected, true},
		{"unexpected-refused", func(b *builder) {
			b.upload("X12/A/B/000000000", history.OK)
			b.output("X12/A/B/000000000", 1)
			b.upload("X12/A/B/000000001", history.Fail)
			b.output("X12/A/B/000000001", 1)
		}, ClassUnexpected, true},
		{"indeterminate", func(b *builder) {
			b.upload("X12/A/B/000000000", history.OK)
			b.output("X12/A/B/000000000", 1)
			b.upload("X12/A/B/000000001", history.Unknown)
		}, ClassIndeterminate, false},
		{"indeterminate-ok", func(b *builder) {
			b.upload("X12/A/B/000000000", history.OK)
			b.output("X12/A/B/000000000", 1)
			b.upload("X12/A/B/000000001", history.Unknown)
			b.output("X12/A/B/000000001", 1)
		}, ClassOK, false},
		{"stuck", func(b *builder) {
			b.upload("X12/A/B/000000001", history.OK)
			b.h.Snapshot.Files = append(b.h.Snapshot.Files, history.File{Path: history.DirWork + "/d/X12+A+B+000000001.edi", Stage: history.StageWork, Key: "X12/A/B/000000001"})
		}, ClassStuck, true},
		{"rejected", func(b *builder) {
			b.upload("X12/A/B/000000000", history.OK)
			b.output("X12/A/B/000000000", 1)
			b.upload("X12/A/B/000000001", history.Fail)
		}, ClassRejected, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := newBuilder()
			tc.build(b)
			r := b.run()
			if r.Classes[tc.class] == 0 {
				t.Fatalf("no %s in %v", tc.class, r.Classes)
			}
			l := r.Check(CheckLedger)
			if got := l.Status == Fail; got != tc.fail {
				t.Fatalf("ledger status %s, want fail=%v: %s", l.Status, tc.fail, l.Message)
			}
			if tc.fail && (len(l.Anomalies) == 0 || l.Anomalies[0].Class != tc.class) {
				t.Fatalf("anomalies %+v, want class %s", l.Anomalies, tc.class)
			}
		})
	}
}

func TestLockViolations(t *testing.T) {
	cases := []struct {
		name  string
		build func(b *builder)
		class string
	}{
		{"double-grant", func(b *builder) { b.acquire("e1", 1); b.acquire("e2", 1) }, ClassDoubleGrant},
		{"stale-write", func(b *builder) {
			b.acquire("e1", 1)
			b.acquire("e2", 2) // e1 paused past its lease, e2 took over
			b.t += int64(time.Second)
			b.process("e1", 1, "X12/A/B/0") // e1 resumes and keeps writing
		}, ClassStaleWrite},
		{"unfenced", func(b *builder) { b.process("e1", 0, "X12/A/B/0") }, ClassUnfenced},
		{"regress", func(b *builder) { b.acquire("e2", 5); b.acquire("e1", 3); b.acquire("e1", 2) }, ClassEpochRegress},
		{"foreign-epoch", func(b *builder) { b.acquire("e1", 1); b.process("e2", 1, "X12/A/B/0") }, ClassDoubleGrant},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := newBuilder()
			b.upload("X12/A/B/0", history.OK)
			b.output("X12/A/B/0", 1)
			tc.build(b)
			r := b.run()
			c := r.Check(CheckLockSafety)
			if c.Status != Fail {
				t.Fatalf("lock-safety %s: %s", c.Status, c.Message)
			}
			found := false
			for _, a := range c.Anomalies {
				found = found || a.Class == tc.class
			}
			if !found {
				t.Fatalf("no %s in %+v", tc.class, c.Anomalies)
			}
		})
	}
}

func TestSkewTolerated(t *testing.T) {
	// A write on one node that started just after another node's grant,
	// by less than the assumed skew of two unmeasured clocks, is not proven stale.
	b := newBuilder()
	b.upload("X12/A/B/000000001", history.OK)
	b.ev("e1", history.RoleEngine, history.EvLockAcquire, func(e *history.Event) { e.Epoch, e.Node = 1, "n1" })
	b.ev("e1", history.RoleEngine, history.EvClaim, func(e *history.Event) { e.Key, e.Epoch, e.Node = "X12/A/B/000000001", 1, "n1" })
	claimAt := b.h.Events[len(b.h.Events)-1].Call
	b.ev("e2", history.RoleEngine, history.EvLockAcquire, func(e *history.Event) { e.Epoch, e.Node = 2, "n2" })
	b.h.Events[len(b.h.Events)-1].Call = claimAt - 2*int64(time.Millisecond)
	b.h.Events[len(b.h.Events)-1].Return = claimAt - int64(time.Millisecond)
	b.output("X12/A/B/000000001", 1)
	r := b.run()
	if c := r.Check(CheckLockSafety); c.Status != Pass {
		t.Fatalf("lock-safety %s: %s %+v", c.Status, c.Message, c.Anomalies)
	}
	// On one clock (same node) the same order is proven: two holders at once.
	for i := range b.h.Events {
		if b.h.Events[i].Node == "n2" {
			b.h.Events[i].Node = "n1"
		}
	}
	if c := b.run().Check(CheckLockSafety); c.Status != Fail || c.Anomalies[0].Class != ClassStaleWrite || len(c.Anomalies[0].Evidence) != 2 {
		t.Fatalf("one clock: lock-safety %s: %+v", c.Status, c.Anomalies)
	}
}

func TestLockRecovery(t *testing.T) {
	b := newBuilder()
	b.upload("X12/A/B/000000001", history.OK)
	b.output("X12/A/B/000000001", 1)
	b.acquire("engine-node1-4242-1", 1)
	b.ev("runner", history.RoleRunner, history.EvProcExit, func(e *history.Event) { e.Target = "engine/0/4242"; e.Detail = "killed" })
	b.t += int64(3 * time.Second)
	b.acquire("engine-node1-4243-2", 2)
	b.release("engine-node1-4243-2", 2)
	cfg := DefaultConfig()
	cfg.LockRecoveredWithin = time.Second
	r := Run(FromHistory(&b.h), cfg)
	c := r.Check(CheckLockRecovery)
	if c.Status != Fail || c.Numbers["worstSeconds"] < 3 || c.Numbers["worstSeconds"] > 3.1 {
		t.Fatalf("recovery %s %v: %s", c.Status, c.Numbers, c.Message)
	}
	if r.Epochs[0].End != "died" {
		t.Fatalf("tenure end %q", r.Epochs[0].End)
	}
	cfg.LockRecoveredWithin = 5 * time.Second
	if c := Run(FromHistory(&b.h), cfg).Check(CheckLockRecovery); c.Status != Pass {
		t.Fatalf("recovery %s: %s", c.Status, c.Message)
	}
}

func TestVoidRuns(t *testing.T) {
	if r := Run(FromHistory(&history.History{Snapshot: &history.Snapshot{}}), DefaultConfig()); r.Status != Void {
		t.Fatalf("empty history: %s", r.Status)
	}
	b := newBuilder()
	b.upload("X12/A/B/000000001", history.Fail)
	if r := b.run(); r.Status != Void {
		t.Fatalf("no acked upload: %s", r.Status)
	}
}

// Without a snapshot the ledger judges outputs from the journals alone and
// says so.
func TestNoSnapshotJudgesFromJournals(t *testing.T) {
	b := newBuilder()
	b.upload("X12/A/B/000000001", history.OK)
	b.upload("X12/A/B/000000002", history.OK)
	b.acquire("e1", 1)
	b.process("e1", 1, "X12/A/B/000000001")
	b.release("e1", 1)
	b.h.Snapshot = nil
	r := b.run()
	l := r.Check(CheckLedger)
	if r.Status != Fail || r.Classes[ClassOK] != 1 || r.Classes[ClassLost] != 1 || !strings.Contains(l.Message, "no snapshot") {
		t.Fatalf("%s %v: %s", r.Status, r.Classes, l.Message)
	}
	if c := r.Check(CheckLeftovers); c.Status != Skip {
		t.Fatalf("leftovers %s", c.Status)
	}
}

func TestJournalGapFailsHistory(t *testing.T) {
	b := newBuilder()
	b.upload("X12/A/B/000000001", history.OK)
	b.output("X12/A/B/000000001", 1)
	b.upload("X12/A/B/000000002", history.OK)
	b.output("X12/A/B/000000002", 1)
	b.h.Events = append(b.h.Events[:0], b.h.Events[1:]...) // lose client seq 1
	r := b.run()
	if c := r.Check(CheckHistory); c.Status != Fail {
		t.Fatalf("history %s: %s", c.Status, c.Message)
	}
}

func TestLeftovers(t *testing.T) {
	b := newBuilder()
	b.upload("X12/A/B/000000001", history.OK)
	b.output("X12/A/B/000000001", 1)
	b.h.Snapshot.Files = append(b.h.Snapshot.Files,
		history.File{Path: "botssys/infile/d/.upload-1.tmp", Stage: history.StageTemp},
		history.File{Path: "botssys/outfile/d/.nfs000123", Stage: history.StageSilly})
	cfg := DefaultConfig()
	cfg.MaxLeftovers = 0
	c := Run(FromHistory(&b.h), cfg).Check(CheckLeftovers)
	if c.Status != Fail || c.AnomalyCount != 2 || c.Numbers["silly"] != 1 {
		t.Fatalf("leftovers %s %d %v", c.Status, c.AnomalyCount, c.Numbers)
	}
}

func TestResultRoundTrip(t *testing.T) {
	b := newBuilder()
	b.upload("X12/A/B/000000001", history.OK)
	r := b.run()
	p := t.TempDir() + "/result.json"
	if err := r.Save(p); err != nil {
		t.Fatal(err)
	}
	got, err := LoadResult(p)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != r.Status || len(got.Checks) != len(r.Checks) || got.Checks[1].Message != r.Checks[1].Message {
		t.Fatalf("round trip: %+v vs %+v", got, r)
	}
}

func TestCallOrderDiffersFromAppendOrder(t *testing.T) {
	// A long operation is appended when it returns, after shorter ones that
	// started later: sorted by call time, its seq comes out of order.
	b := newBuilder()
	b.upload("X12/A/B/000000001", history.OK)
	b.output("X12/A/B/000000001", 1)
	b.upload("X12/A/B/000000002", history.OK)
	b.output("X12/A/B/000000002", 1)
	b.h.Events[1].Call = b.h.Events[0].Call - 1
	history.Sort(b.h.Events)
	if c := b.run().Check(CheckHistory); c.Status != Pass {
		t.Fatalf("history %s: %s", c.Status, c.Message)
	}
}

func TestRecoveryOfHungHolderCountsFromLastSignOfLife(t *testing.T) {
	// Holder paused past its lease: taken over, then resumed and killed. Its
	// death comes after the next grant, so the gap runs from its last renewal.
	b := newBuilder()
	b.upload("X12/A/B/000000001", history.OK)
	b.output("X12/A/B/000000001", 1)
	b.acquire("engine-h-100-1", 1)
	b.ev("engine-h-100-1", history.RoleEngine, history.EvLockRenew, func(e *history.Event) { e.Epoch = 1 })
	b.t += int64(3 * time.Second)
	b.acquire("engine-h-200-2", 2)
	b.release("engine-h-200-2", 2)
	b.t += int64(4 * time.Second)
	b.ev("runner", history.RoleRunner, history.EvProcExit, func(e *history.Event) { e.Target = "engine/0/100" })
	cfg := DefaultConfig()
	cfg.LockRecoveredWithin = 10 * time.Second
	c := Run(FromHistory(&b.h), cfg).Check(CheckLockRecovery)
	if w := c.Numbers["worstSeconds"]; w < 2.9 || w > 3.1 {
		t.Fatalf("worst %v: %s", w, c.Message)
	}
}

func TestFrozenOperationDoesNotHideRecoveryGap(t *testing.T) {
	// The holder froze inside a claim: the claim returns after the takeover.
	// Its call time, not its return, is the last sign of life.
	b := newBuilder()
	b.upload("X12/A/B/000000001", history.OK)
	b.output("X12/A/B/000000001", 1)
	b.acquire("engine-h-100-1", 1)
	b.ev("engine-h-100-1", history.RoleEngine, history.EvClaim, func(e *history.Event) { e.Key, e.Epoch = "X12/A/B/000000001", 1 })
	claim := len(b.h.Events) - 1
	b.t += int64(3 * time.Second)
	b.acquire("engine-h-200-2", 2)
	b.release("engine-h-200-2", 2)
	b.h.Events[claim].Return = b.t + int64(5*time.Second) // the frozen claim returns late
	cfg := DefaultConfig()
	cfg.ClockSkew = 10 * time.Second // the late return is not a stale write here
	c := Run(FromHistory(&b.h), cfg).Check(CheckLockRecovery)
	if w := c.Numbers["worstSeconds"]; w < 2.9 || w > 3.1 {
		t.Fatalf("worst %v: %s", w, c.Message)
	}
}

func TestStolenLease(t *testing.T) {
	b := newBuilder()
	b.upload("X12/A/B/000000001", history.OK)
	b.output("X12/A/B/000000001", 1)
	b.acquire("e1", 1)
	b.ev("e2", history.RoleEngine, history.EvLockTakeover, func(e *history.Event) { e.Epoch, e.Holder, e.Detail = 1, "e1", "age 400ms ttl 3s" })
	b.acquire("e2", 2)
	b.process("e2", 2, "X12/A/B/000000002")
	b.upload("X12/A/B/000000002", history.OK)
	b.h.Snapshot.Lease = &history.Lease{Holder: "e2", Epoch: 2, TTLMillis: 3000, Released: true}
	c := b.run().Check(CheckLockSafety)
	if c.Status != Fail || c.Anomalies[0].Class != ClassStolenLease {
		t.Fatalf("%s %+v", c.Status, c.Anomalies)
	}
	// A takeover after the TTL is recovery, not theft.
	for i := range b.h.Events {
		if b.h.Events[i].Type == history.EvLockTakeover {
			b.h.Events[i].Detail = "age 3.2s ttl 3s"
		}
	}
	if c := b.run().Check(CheckLockSafety); c.Status != Pass {
		t.Fatalf("%s %+v", c.Status, c.Anomalies)
	}
}

func TestSplitBrainWritersAreReported(t *testing.T) {
	b := newBuilder()
	b.upload("X12/A/B/000000001", history.OK)
	b.upload("X12/A/B/000000002", history.OK)
	b.ev("runner", history.RoleRunner, history.EvFault, func(e *history.Event) {
		e.Detail, e.Return = "partition isolate", e.Call+int64(time.Hour)
	})
	b.acquire("e1", 1)
	b.ev("e1", history.RoleEngine, history.EvClaim, func(e *history.Event) { e.Key, e.Epoch, e.Node = "X12/A/B/000000001", 1, "n1" })
	b.release("e1", 1)
	b.acquire("e2", 2)
	b.ev("e2", history.RoleEngine, history.EvClaim, func(e *history.Event) { e.Key, e.Epoch, e.Node = "X12/A/B/000000002", 2, "n2" })
	b.release("e2", 2)
	b.output("X12/A/B/000000001", 1)
	b.output("X12/A/B/000000002", 1)
	c := b.run().Check(CheckLockSafety)
	if c.Status != Pass || c.Numbers["concurrentWriterNodes"] != 2 || !strings.Contains(c.Message, "engines on 2 nodes wrote (n1 1, n2 1)") {
		t.Fatalf("%s %v: %s", c.Status, c.Numbers, c.Message)
	}
}

// decodeSHA's table agrees with unhex for every byte at every position.
func TestDecodeSHAEveryByte(t *testing.T) {
	base := []byte(strings.Repeat("0123456789abcdefABCDEF0123456789", 2))
	want, ok := decodeSHA(string(base))
	if !ok || want[0] != 0x01 || want[5] != 0xab || want[10] != 0xef {
		t.Fatalf("decodeSHA(%s) = %x %v", base, want, ok)
	}
	for pos := range base {
		for c := range 256 {
			s := append([]byte(nil), base...)
			s[pos] = byte(c)
			v, valid := unhex(byte(c))
			got, ok := decodeSHA(string(s))
			if ok != valid {
				t.Fatalf("byte %#x at %d: ok %v, want %v", c, pos, ok, valid)
			}
			if ok {
				w := want
				if pos%2 == 0 {
					w[pos/2] = v<<4 | w[pos/2]&0x0f
				} else {
					w[pos/2] = w[pos/2]&0xf0 | v
				}
				if got != w {
					t.Fatalf("byte %#x at %d: %x, want %x", c, pos, got, w)
				}
			}
		}
	}
}

// A lease file left held fails recovery when its epoch was journaled (the
// holder never released and nobody took over); an epoch newer than every
// journaled grant is a tenure taken as the evidence was collected (CI13's
// storage-restarted), with no event to judge it by: said, not failed.
func TestLeaseHeldAtCollection(t *testing.T) {
	b := newBuilder()
	b.upload("X12/A/B/000000001", history.OK)
	b.acquire("e1", 1)
	b.process("e1", 1, "X12/A/B/000000001")
	cfg := DefaultConfig()
	cfg.LockRecoveredWithin = time.Minute
	b.h.Snapshot.Lease = &history.Lease{Holder: "e1", Epoch: 1, TTLMillis: 3000, Heartbeat: b.t}
	c := Run(FromHistory(&b.h), cfg).Check(CheckLockRecovery)
	if c.Status != Fail || !strings.Contains(c.Message, "epoch 1 was never recovered or released") {
		t.Fatalf("journaled epoch left held: %s %s", c.Status, c.Message)
	}
	// Taken while the lease was live (heartbeat 1 s before the snapshot,
	// TTL 3 s): nobody could have broken it yet; said, not judged. Past
	// its TTL it is a lease never recovered.
	b.h.Snapshot.Taken = b.t + int64(time.Second)
	c = Run(FromHistory(&b.h), cfg).Check(CheckLockRecovery)
	if c.Status != Pass || !strings.Contains(c.Message, "was live when the snapshot was taken (heartbeat 1s before it") {
		t.Fatalf("lease live at the snapshot: %s %s", c.Status, c.Message)
	}
	b.h.Snapshot.Taken = b.t + int64(4*time.Second)
	c = Run(FromHistory(&b.h), cfg).Check(CheckLockRecovery)
	if c.Status != Fail || !strings.Contains(c.Message, "epoch 1 was never recovered or released") {
		t.Fatalf("lease expired at the snapshot: %s %s", c.Status, c.Message)
	}
	b.h.Snapshot.Taken = 0
	// A newer lease than every journaled grant, after a tenure that was
	// never released: its takeover's time is unknown, so it fails.
	b.h.Snapshot.Lease = &history.Lease{Holder: "e2", Epoch: 2, TTLMillis: 3000, Heartbeat: b.t}
	c = Run(FromHistory(&b.h), cfg).Check(CheckLockRecovery)
	if c.Status != Fail || !strings.Contains(c.Message, "epoch 1's holder e1 ended (open) without a release") {
		t.Fatalf("newer lease after an unreleased tenure: %s %s", c.Status, c.Message)
	}
	// After a clean release, it is a tenure that began as the evidence
	// was collected: said, not judged.
	b.release("e1", 1)
	c = Run(FromHistory(&b.h), cfg).Check(CheckLockRecovery)
	if c.Status != Pass || !strings.Contains(c.Message, "holds epoch 2 by e2, newer than every journaled grant") {
		t.Fatalf("epoch taken at collection: %s %s", c.Status, c.Message)
	}
}

// The ledger counts and orders the interchanges it met, whatever else a
// shared key table numbers (Input.Keys: the report's pass numbers keys in
// it too, before the ledger sees them and for events the ledger skips):
// the same result, down to the anomalies kept as examples.
func TestSharedKeysLeaveTheLedgerAlone(t *testing.T) {
	b := newBuilder()
	b.acquire("engine-1", 1)
	var keys []string
	for i := range 2 * MaxAnomalies {
		k := fmt.Sprintf("X12/A/B/%06d", i)
		keys = append(keys, k)
		b.upload(k, history.OK)
		if i%3 == 0 {
			b.process("engine-1", 1, k)
		}
	}
	b.output("X12/A/B/unsent", 1)
	want := b.run()
	if want.Classes[ClassLost] <= MaxAnomalies {
		t.Fatalf("want more than %d lost, got %v", MaxAnomalies, want.Classes)
	}
	shared := history.NewKeys(0)
	shared.Add("only-the-report-saw-it")
	for i := len(keys) - 1; i >= 0; i-- {
		shared.Add(keys[i])
	}
	in := FromHistory(&b.h)
	in.Keys = shared
	got := Run(in, DefaultConfig())
	if g, w := fmt.Sprintf("%+v", got), fmt.Sprintf("%+v", want); g != w {
		t.Fatalf("with a shared table:\n%s\nwant\n%s", g, w)
	}
}

// steady needs the MinAcked-th ack: ackAt keeps only the MinAcked
// earliest, and that one is the one sorting every ack gives.
func TestAckAtKeepsTheEarliest(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, k := range []int{1, 2, 3, 7, 50} {
		for _, n := range []int{0, 1, k - 1, k, k + 1, 500} {
			h := &historyState{cfg: Config{MinAcked: k}}
			var all []int64
			for range n {
				v := r.Int64N(100) // repeats too
				all = append(all, v)
				h.ackAt(v)
			}
			if len(h.ackTimes) != min(n, k) {
				t.Fatalf("k %d n %d: kept %d", k, n, len(h.ackTimes))
			}
			if n >= k {
				slices.Sort(all)
				if h.ackTimes[0] != all[k-1] {
					t.Fatalf("k %d n %d: the %d-th is %d, want %d", k, n, k, h.ackTimes[0], all[k-1])
				}
			}
		}
	}
}
