package verdict

import (
	"crypto/sha256"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rwxchaos/rwxchaos/framework/report"
)

// TestSavedRuns re-checks saved run directories offline — real runs of
// the local provider that passed, failed, were void, hit a framework error,
// were interrupted (SIGINT) or killed (SIGKILL: no result.json), plus a
// schema-1 result — and requires the verdict their EXPECT file states,
// which for every run that wrote a result is the verdict it got live.
// Re-checking reads and never writes the directory.
func TestSavedRuns(t *testing.T) {
	dirs, _ := filepath.Glob("testdata/runs/*")
	dirs = append(dirs, "../report/testdata/engine-node-stop/20261123T141502Z-s42")
	if len(dirs) < 7 {
		t.Fatalf("only %d saved runs", len(dirs))
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			want := expectFile(t, dir)
			before := tree(t, dir)
			sv, err := Load(dir)
			if err != nil {
				t.Fatal(err)
			}
			live := ""
			if _, err := os.Stat(filepath.Join(dir, report.ResultFile)); err == nil {
				live = string(sv.Run.Verdict)
			}
			r, err := Recheck(sv, Options{Now: func() time.Time { return time.Unix(0, 1) }})
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s: %s — %s (judged with %s)", dir, r.Verdict, r.Reason, r.JudgedWith)
			if string(r.Verdict) != want["verdict"] {
				t.Errorf("verdict %s (%s), EXPECT says %s", r.Verdict, r.Reason, want["verdict"])
			}
			if !strings.Contains(r.Reason, want["reason"]) {
				t.Errorf("reason %q lacks %q", r.Reason, want["reason"])
			}
			if f := want["failed"]; f != "" && strings.Join(r.Failed(), " ") != f {
				t.Errorf("failed %v, EXPECT says %s", r.Failed(), f)
			}
			if live != "" && live != string(r.Verdict) {
				t.Errorf("live verdict %s, offline %s: one verdict function must agree with itself", live, r.Verdict)
			}
			if r.ExitCode != r.Verdict.ExitCode() {
				t.Errorf("exit code %d for %s", r.ExitCode, r.Verdict)
			}
			if after := tree(t, dir); after != before {
				t.Errorf("re-checking changed the directory:\n%s\n---\n%s", before, after)
			}
		})
	}
}

func expectFile(t *testing.T, dir string) map[string]string {
	t.Helper()
	p := filepath.Join(dir, "EXPECT")
	if strings.Contains(dir, "report/testdata") {
		return map[string]string{"verdict": "fail", "failed": "ledger noLoss noDuplicates"}
	}
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if ok {
			m[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	if m["verdict"] == "" {
		t.Fatalf("%s has no verdict: line", p)
	}
	return m
}

// tree is every file's path, size, mode and sha256, sorted.
func tree(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		sum := ""
		if !d.IsDir() {
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			s := sha256.Sum256(data)
			sum = string(s[:8])
		}
		b.WriteString(p + " " + info.Mode().String() + " " + info.ModTime().String() + " " + sum + "\n")
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}
