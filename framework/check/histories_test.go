package check

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rwxchaos/rwxchaos/framework/history"
)

// TestHandWrittenHistories judges every directory of testdata/histories:
// histories written by hand from the framework/history package doc, as an
// outsider would — every anomaly class, several under clock skew, every
// kind of damaged evidence, and correct histories that are easy to get
// wrong (kills, retries, takeovers, unknown outcomes resolved later). Each
// EXPECT file gives the status, the exact set of anomaly classes (- for
// none) and, optionally, ledger counts and thresholds.
func TestHandWrittenHistories(t *testing.T) {
	dirs, err := filepath.Glob("testdata/histories/*")
	if err != nil {
		t.Fatal(err)
	}
	if len(dirs) < 40 {
		t.Fatalf("only %d hand-written histories", len(dirs))
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			want := readExpect(t, dir)
			h, err := history.Load(dir)
			if err != nil {
				t.Fatal(err)
			}
			cfg := DefaultConfig()
			for _, kv := range strings.Fields(want["config"]) {
				setConfig(t, &cfg, kv)
			}
			r := Run(FromHistory(h), cfg)
			if r.Crash != "" {
				t.Fatalf("checker crashed: %s", r.Crash)
			}
			var got []string
			for _, c := range r.Checks {
				for _, a := range c.Anomalies {
					if !slices.Contains(got, a.Class) {
						got = append(got, a.Class)
					}
					if isLockClass(a.Class) && len(a.Evidence) == 0 {
						t.Errorf("%s anomaly names no evidence: %+v", a.Class, a)
					}
				}
			}
			slices.Sort(got)
			if len(got) == 0 {
				got = []string{"-"}
			}
			wantClasses := strings.Fields(want["anomalies"])
			slices.Sort(wantClasses)
			if string(r.Status) != want["status"] || !slices.Equal(got, wantClasses) {
				t.Errorf("%s: status %s, anomalies %v; EXPECT says %s, %v", want["#"], r.Status, got, want["status"], wantClasses)
				for _, c := range r.Checks {
					t.Logf("  %s %s: %s", c.Name, c.Status, c.Message)
					for _, a := range c.Anomalies {
						t.Logf("    %s %s %s %v", a.Class, a.Key, a.Detail, a.Evidence)
					}
				}
			}
			for _, kv := range strings.Fields(want["ledger"]) {
				k, v, _ := strings.Cut(kv, "=")
				n, _ := strconv.Atoi(v)
				if r.Classes[k] != n {
					t.Errorf("ledger %s = %d, EXPECT says %d (%v)", k, r.Classes[k], n, r.Classes)
				}
			}
		})
	}
}

func isLockClass(c string) bool {
	switch c {
	case ClassDoubleGrant, ClassStaleWrite, ClassUnfenced, ClassEpochRegress, ClassStolenLease, ClassSlowRecovery:
		return true
	}
	return false
}

func readExpect(t *testing.T, dir string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "EXPECT"))
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		if why, ok := strings.CutPrefix(line, "# "); ok {
			m["#"] = why
			continue
		}
		if k, v, ok := strings.Cut(line, ":"); ok {
			m[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	if m["status"] == "" || m["anomalies"] == "" {
		t.Fatalf("%s/EXPECT needs status: and anomalies: lines", dir)
	}
	return m
}

func setConfig(t *testing.T, c *Config, kv string) {
	t.Helper()
	k, v, _ := strings.Cut(kv, "=")
	dur := func() time.Duration {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("config %s: %v", kv, err)
		}
		return d
	}
	num := func() int {
		n, err := strconv.Atoi(v)
		if err != nil {
			t.Fatalf("config %s: %v", kv, err)
		}
		return n
	}
	switch k {
	case "lockRecoveredWithin":
		c.LockRecoveredWithin = dur()
	case "clockSkew":
		c.ClockSkew = dur()
	case "maxLeftovers":
		c.MaxLeftovers = num()
	case "maxIndeterminate":
		c.MaxIndeterminate = num()
	default:
		t.Fatalf("EXPECT config %s: unknown setting", kv)
	}
}

// FuzzCheck feeds arbitrary history and snapshot bytes through the reader
// and the checker: it must never crash, and damaged evidence must never
// pass. The hand-written histories are its seed corpus (run by go test).
// go test -fuzz FuzzCheck -fuzzminimizetime 0 ./framework/check: the seeds
// are large, and minimizing a new input takes minutes otherwise.
func FuzzCheck(f *testing.F) {
	dirs, _ := filepath.Glob("testdata/histories/*")
	for _, d := range dirs {
		evs, _ := os.ReadFile(filepath.Join(d, history.EventsFile))
		snap, _ := os.ReadFile(filepath.Join(d, history.SnapshotFile))
		f.Add(evs, snap)
	}
	f.Add([]byte(`{"proc":"p","seq":1,"role":"engine","type":"output","call":1,"key":"A/B/C/D","epoch":18446744073709551615}`), []byte(`{"files":[{"path":"botssys/outfile/x/A+B+C+D.json","docs":[{"key":"A/B/C/D"}]}]}`))
	f.Add([]byte("{}\n\x00\n"), []byte(`{"lease":{"epoch":1}}`))
	f.Fuzz(func(t *testing.T, events, snapshot []byte) {
		evs, st, err := history.ReadJournal("fuzz", bytes.NewReader(events), history.ReadOptions{Saved: true})
		if err != nil {
			t.Fatal(err)
		}
		h := &history.History{Events: evs, Stats: st}
		if snap, err := history.ParseSnapshot(snapshot); err == nil {
			h.Snapshot = snap
		}
		history.Sort(h.Events)
		r := Run(FromHistory(h), DefaultConfig())
		if r.Crash != "" {
			t.Fatalf("checker crashed: %s", r.Crash)
		}
		switch r.Status {
		case Pass, Fail, Void:
		default:
			t.Fatalf("status %q", r.Status)
		}
		if st.ProblemCount > 0 && r.Status == Pass {
			t.Fatalf("a history with %d damaged lines passed", st.ProblemCount)
		}
		n := 0
		for _, v := range r.Classes {
			n += v
		}
		if l := r.Check(CheckLedger); l != nil && l.Status != Skip && float64(n) != l.Numbers[ClassOK]+l.Numbers[ClassLost]+l.Numbers[ClassDuplicated]+
			l.Numbers[ClassCorrupt]+l.Numbers[ClassUnexpected]+l.Numbers[ClassIndeterminate]+l.Numbers[ClassStuck]+l.Numbers[ClassRejected] {
			t.Fatalf("ledger numbers %v do not add up to %d classes", l.Numbers, n)
		}
	})
}
