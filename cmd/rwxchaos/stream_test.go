package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rwxchaos/rwxchaos/framework/history"
	"github.com/rwxchaos/rwxchaos/internal/benchrun"
)

// A re-check that streams the evidence from disk writes, byte for byte,
// the report a re-check holding it in memory writes — for every saved run
// and history in the repository's test data (passes, failures with their
// interchanges detailed, publish runs, damaged and edited histories, which
// stop the stream and are judged again from memory) and a generated run.
func TestStreamedRecheckMatchesInMemory(t *testing.T) {
	var dirs []string
	for _, glob := range []string{"../../framework/*/testdata/*/history.ndjson", "../../framework/*/testdata/*/*/history.ndjson", "../../framework/*/testdata/*/*/*/history.ndjson"} {
		m, _ := filepath.Glob(glob)
		for _, p := range m {
			dirs = append(dirs, filepath.Dir(p))
		}
	}
	gen := filepath.Join(t.TempDir(), "gen")
	if err := os.MkdirAll(gen, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := benchrun.Write(gen, 3000); err != nil {
		t.Fatal(err)
	}
	dirs = append(dirs, gen)
	if len(dirs) < 20 {
		t.Fatalf("found %d saved histories; the globs are wrong", len(dirs))
	}
	defer func(a int64, n func() time.Time) { streamAbove, recheckNow = a, n }(streamAbove, recheckNow)
	recheckNow = func() time.Time { return time.Unix(1800000000, 0) }
	run := func(dir, out string, above int64) (string, string) {
		streamAbove = above
		root := newRoot()
		var o, e bytes.Buffer
		root.SetArgs([]string{"report", dir, "--out", out})
		root.SetOut(&o)
		root.SetErr(&e)
		err := root.Execute()
		res := o.String() + "\nerr: " + errString(err)
		for _, f := range []string{"result.json", "summary.md", "junit.xml", "report.html", history.EventsFile, history.SnapshotFile} {
			b, err := os.ReadFile(filepath.Join(out, f))
			res += "\n== " + f + "\n" + string(b) + errString(err)
		}
		return strings.ReplaceAll(res, out, "OUT"), e.String()
	}
	streamedSome, fellBack := false, false
	for _, dir := range dirs {
		tmp := t.TempDir()
		want, _ := run(dir, filepath.Join(tmp, "memory"), 1<<62)
		got, stderr := run(dir, filepath.Join(tmp, "streamed"), 0)
		if got != want {
			t.Errorf("%s: the streamed re-check's report differs from the in-memory one's:\n%s", dir, firstDiff(got, want))
		}
		if strings.Contains(stderr, "judging it again from memory") {
			fellBack = true
		} else if _, err := os.Stat(filepath.Join(dir, history.EventsFile)); err == nil {
			streamedSome = true
		}
	}
	if !streamedSome || !fellBack {
		t.Errorf("streamed some %v, fell back for some %v: the corpus should have both", streamedSome, fellBack)
	}
}

func errString(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}

func firstDiff(a, b string) string {
	i := 0
	for i < len(a) && i < len(b) && a[i] == b[i] {
		i++
	}
	lo := max(i-200, 0)
	return "streamed:  …" + a[lo:min(i+200, len(a))] + "\nin memory: …" + b[lo:min(i+200, len(b))]
}

// A streamed re-check sets itself a soft memory limit for its run, unless
// GOMEMLIMIT is set; a re-check from memory sets none.
func TestStreamedRecheckSetsMemoryLimit(t *testing.T) {
	dir := "../../framework/report/testdata/engine-node-stop/20261123T141502Z-s42"
	defer func(a int64, f func(int64) int64) { streamAbove, setMemoryLimit = a, f }(streamAbove, setMemoryLimit)
	var calls []int64
	setMemoryLimit = func(l int64) int64 {
		calls = append(calls, l)
		return 12345
	}
	t.Setenv("GOMEMLIMIT", "")
	os.Unsetenv("GOMEMLIMIT")
	run := func(above int64) {
		t.Helper()
		streamAbove = above
		root := newRoot()
		root.SetArgs([]string{"report", dir, "--out", filepath.Join(t.TempDir(), "out")})
		root.SetOut(io.Discard)
		root.SetErr(io.Discard)
		root.Execute() // its verdict does not matter here
	}
	run(0)
	if want := []int64{400 << 20, 12345}; !slices.Equal(calls, want) {
		t.Errorf("streamed: SetMemoryLimit calls %v, want %v (set, then restored)", calls, want)
	}
	calls = nil
	run(1 << 62)
	if calls != nil {
		t.Errorf("in memory: SetMemoryLimit calls %v, want none", calls)
	}
	t.Setenv("GOMEMLIMIT", "1GiB")
	run(0)
	if calls != nil {
		t.Errorf("streamed with GOMEMLIMIT set: SetMemoryLimit calls %v, want none", calls)
	}
	if got := streamMemoryLimit(2_000_000); got != 800_000_000 {
		t.Errorf("limit for 2M files: %d", got)
	}
}
