package proc

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/rwxchaos/rwxchaos/framework/check"
	"github.com/rwxchaos/rwxchaos/framework/history"
	"github.com/rwxchaos/rwxchaos/framework/traffic"
)

// Real-process tests build cmd/edi-pipeline once per test binary.
var (
	seedFlag = flag.Int64("seed", 0, "seed of the proof test's faults and traffic (0: from the clock; env RWXCHAOS_SEED)")
	keepFlag = flag.Bool("keep", false, "keep the volume and logs of passing real-process tests")
)

// testSeed is -seed, else $RWXCHAOS_SEED, else the clock; logged for replay.
func testSeed(tb testing.TB) int64 {
	seed := *seedFlag
	if seed == 0 {
		if v, err := strconv.ParseInt(os.Getenv("RWXCHAOS_SEED"), 10, 64); err == nil {
			seed = v
		}
	}
	if seed == 0 {
		seed = time.Now().UnixNano() % 1_000_000_007
	}
	tb.Logf("seed %d (replay: go test ./framework/proc -run '%s' -seed %d)", seed, tb.Name(), seed)
	return seed
}

// rig is one real-process run: a volume, a local cluster of the real
// edi-pipeline, and the runner and client journals beside the children's.
type rig struct {
	tb      testing.TB
	root    string
	jdir    string
	c       *Cluster
	runner  *history.Journal
	client  *history.Journal
	stopped bool
}

func newRig(tb testing.TB, cfg Config) *rig {
	tb.Helper()
	root, err := os.MkdirTemp("", "rwxchaos-local-")
	if err != nil {
		tb.Fatal(err)
	}
	r := &rig{tb: tb, root: root, jdir: filepath.Join(root, history.DirJournal)}
	tb.Cleanup(func() {
		if r.c != nil {
			r.c.Stop(context.Background())
		}
		r.runner.Close()
		r.client.Close()
		if tb.Failed() || *keepFlag {
			tb.Logf("volume, journals and logs kept in %s", root)
			return
		}
		os.RemoveAll(root)
	})
	open := func(name, role string) *history.Journal {
		j, err := history.OpenJournal(filepath.Join(r.jdir, name+".ndjson"), history.JournalOptions{
			Proc: history.ProcID(role, "test"), Role: role, Node: "test"})
		if err != nil {
			tb.Fatal(err)
		}
		return j
	}
	r.runner, r.client = open("runner", history.RoleRunner), open("client", history.RoleClient)
	// Binary empty: this test binary re-executes itself as the pipeline
	// (TestMain calls selfexec.Dispatch), as the rwxchaos binary does.
	cfg.Root = root
	cfg.Node = "test"
	cfg.Journal = r.runner
	cfg.Logf = tb.Logf
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r.c, err = Start(ctx, cfg)
	if err != nil {
		tb.Fatal(err)
	}
	if err := r.c.WaitReady(ctx); err != nil {
		tb.Fatal(err)
	}
	return r
}

// driver makes a traffic driver aimed at the rig's webservers.
func (r *rig) driver(o traffic.Options) *traffic.Driver {
	r.tb.Helper()
	o.Targets = r.c.WebserverURLs()
	o.Journal = r.client
	o.Run = r.root
	if o.Timeout == 0 {
		o.Timeout = 10 * time.Second
	}
	d, err := traffic.New(o)
	if err != nil {
		r.tb.Fatal(err)
	}
	return d
}

// fault journals a fault the test injected (Return 0 while still active).
func (r *rig) fault(action, target string, injected, healed time.Time) {
	e := history.Event{Type: history.EvFault, Call: injected.UnixNano(), Target: target, Detail: action}
	if !healed.IsZero() {
		e.Return = max(healed.UnixNano(), e.Call)
	}
	if err := r.runner.Append(e); err != nil {
		r.tb.Errorf("journal fault: %v", err)
	}
}

// verdict drains, stops the cluster, reads every journal, scans the volume
// and runs the checkers.
func (r *rig) verdict(drain time.Duration) *check.Result {
	r.tb.Helper()
	ctx := context.Background()
	if drain > 0 {
		res, err := r.c.Drain(ctx, drain)
		if err != nil {
			r.tb.Logf("drain: %v", err)
		} else {
			r.tb.Logf("drained in %v with %d passes (%d failed)", res.Elapsed.Round(time.Millisecond), res.Passes, res.Failed)
		}
	}
	if err := r.c.Stop(ctx); err != nil {
		r.tb.Errorf("stop: %v", err)
	}
	evs, st, err := history.ReadJournalDir(r.jdir)
	if err != nil {
		r.tb.Fatalf("read journals: %v", err)
	}
	snap, err := history.Scan(r.root, time.Now())
	if err != nil {
		r.tb.Fatalf("scan volume: %v", err)
	}
	h := &history.History{Events: evs, Snapshot: snap, Stats: st}
	res := check.Run(check.FromHistory(h), check.DefaultConfig())
	if err := res.Save(filepath.Join(r.root, "result.json")); err != nil {
		r.tb.Logf("save result: %v", err)
	}
	return res
}

// describe is a verdict in a few lines, with example anomalies.
func describe(res *check.Result) string {
	s := fmt.Sprintf("verdict %s, classes %v", res.Status, res.Classes)
	for _, c := range res.Checks {
		s += fmt.Sprintf("\n  %-13s %-4s %s", c.Name, c.Status, c.Message)
		for i, a := range c.Anomalies {
			if i == 3 {
				s += fmt.Sprintf("\n      … %d more", c.AnomalyCount-3)
				break
			}
			s += fmt.Sprintf("\n      %s %s epoch=%d: %s", a.Class, a.Key, a.Epoch, a.Detail)
		}
	}
	return s
}

// anomalies counts the anomalies of a class across all checks.
func anomalies(res *check.Result, class string) int {
	n := 0
	for _, c := range res.Checks {
		for _, a := range c.Anomalies {
			if a.Class == class {
				n++
			}
		}
	}
	return n
}
