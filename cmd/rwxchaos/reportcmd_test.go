package main

import (
	"crypto/sha256"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// A directory holding only a hand-written history.ndjson is re-checked
// offline; the new report goes to a sibling directory and the evidence is
// not touched.
func TestReportBareHistory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "bare")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	sha := strings.Repeat("ab", 32)
	key := "X12/ACME/GLOBEX/000000001"
	lines := []string{
		`{"proc":"client-1","seq":1,"role":"client","type":"upload","call":1000,"ret":2000,"outcome":"ok","key":"` + key + `","sha":"` + sha + `"}`,
		`{"proc":"engine-a","seq":1,"role":"engine","type":"lock.acquire","call":3000,"ret":3100,"epoch":1}`,
		`{"proc":"engine-a","seq":2,"role":"engine","type":"claim","call":3200,"ret":3300,"key":"` + key + `","epoch":1}`,
		`{"proc":"engine-a","seq":3,"role":"engine","type":"output","call":3400,"ret":3500,"key":"` + key + `","epoch":1}`,
		`{"proc":"engine-a","seq":4,"role":"engine","type":"done","call":3600,"ret":3700,"key":"` + key + `","epoch":1}`,
		`{"proc":"engine-a","seq":5,"role":"engine","type":"lock.release","call":3800,"ret":3900,"epoch":1}`,
	}
	if err := os.WriteFile(filepath.Join(dir, "history.ndjson"), []byte(strings.Join(lines, "\n")+"\n"), 0o444); err != nil {
		t.Fatal(err)
	}
	before := dirTree(t, dir)
	stdout, stderr, code := cli(t, nil, "report", dir)
	if code != 0 || !strings.Contains(stdout, "PASS") || !strings.Contains(stdout, "judged from the journals alone") {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	out := dir + "-recheck"
	for _, f := range []string{"result.json", "report.html", "summary.md", "junit.xml", "history.ndjson"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
	if after := dirTree(t, dir); after != before {
		t.Fatalf("report changed the evidence:\n%s---\n%s", before, after)
	}
	// `check` is the same command; --expect and --out are honoured, and a
	// second default out does not overwrite the first.
	stdout, _, code = cli(t, nil, "check", dir, "--expect", "steadyState.minUploads=2")
	if code != 3 || !strings.Contains(stdout, "only 1 acked uploads (need 2)") {
		t.Fatalf("--expect: exit %d\n%s", code, stdout)
	}
	if _, err := os.Stat(dir + "-recheck-2"); err != nil {
		t.Errorf("second re-check: %v", err)
	}
	if _, stderr, code = cli(t, nil, "report", dir, "--out", dir); code != 2 || !strings.Contains(stderr, "never rewritten") {
		t.Errorf("--out DIR: exit %d %s", code, stderr)
	}
	if _, stderr, code = cli(t, nil, "report", dir, "--expect", "noLos=false"); code != 2 || !strings.Contains(stderr, "no such expectation") {
		t.Errorf("bad --expect: exit %d %s", code, stderr)
	}
	if after := dirTree(t, dir); after != before {
		t.Fatalf("report changed the evidence:\n%s---\n%s", before, after)
	}
}

// A run directory left by a SIGKILLed run (no result.json, no history) is
// re-checked and said to be incomplete, not refused.
func TestReportPartialRun(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "partial")
	if err := os.CopyFS(dir, os.DirFS("../../framework/verdict/testdata/runs/partial")); err != nil {
		t.Fatal(err)
	}
	stdout, stderr, code := cli(t, nil, "report", dir, "--out", filepath.Join(t.TempDir(), "out"))
	if code != 3 || !strings.Contains(stdout, "incomplete run directory: no result.json") || !strings.Contains(stderr, "verdict: error") {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	if _, stderr, code := cli(t, nil, "report", t.TempDir()); code != 2 || !strings.Contains(stderr, "holds no evidence") {
		t.Errorf("empty dir: exit %d %s", code, stderr)
	}
}

func dirTree(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, _ := d.Info()
		sum := [32]byte{}
		if !d.IsDir() {
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			sum = sha256.Sum256(data)
		}
		st := info.Sys().(*syscall.Stat_t)
		fmt.Fprintf(&b, "%s %s %s %d %d %x\n", p, info.Mode(), info.ModTime(), st.Nlink, st.Ctim.Nano(), sum[:6])
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// The evidence is copied while the run is judged: the new report holds
// byte-identical copies, and no temporary directory is left beside it,
// whether the re-check succeeds or is refused.
func TestReportCopiesEvidenceWhole(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "run")
	if err := os.CopyFS(dir, os.DirFS("../../framework/report/testdata/engine-node-stop/20261123T141502Z-s42")); err != nil {
		t.Fatal(err)
	}
	leftovers := func() []string {
		m, _ := filepath.Glob(filepath.Join(parent, ".rwxchaos-evidence-*"))
		return m
	}
	if _, stderr, code := cli(t, nil, "report", dir, "--expect", "noLos=false"); code != 2 || !strings.Contains(stderr, "no such expectation") {
		t.Fatalf("bad --expect: exit %d %s", code, stderr)
	}
	if l := leftovers(); len(l) > 0 {
		t.Fatalf("a refused re-check left %v", l)
	}
	if _, err := os.Stat(dir + "-recheck"); err == nil {
		t.Fatal("a refused re-check wrote its report directory")
	}
	if stdout, stderr, code := cli(t, nil, "report", dir); !strings.Contains(stdout, "Report: ") {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	for _, name := range []string{"history.ndjson", "snapshot.json"} {
		want, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(filepath.Join(dir+"-recheck", name))
		if err != nil || string(got) != string(want) {
			t.Errorf("%s: the copy differs (%v)", name, err)
		}
	}
	if l := leftovers(); len(l) > 0 {
		t.Fatalf("the re-check left %v", l)
	}
}
