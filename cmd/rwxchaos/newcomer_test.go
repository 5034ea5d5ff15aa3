package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rwxchaos/rwxchaos/framework/lab/labtest"
)

// TestNewcomerInstall is the promise of a released rwxchaos: `go install
// ./cmd/rwxchaos` gives one binary that, copied alone into an empty
// directory outside the module, with no go on PATH and no module cache or
// checkout to lean on, runs a library scenario end to end and writes its
// report — the app under test is the binary itself (`rwxchaos __pipeline`).
// On the lab (RWXCHAOS_LAB=1 or CI=true) it also runs a kind scenario, the
// app image assembled from the same binary and loaded into the nodes.
func TestNewcomerInstall(t *testing.T) {
	if testing.Short() {
		t.Skip("installs rwxchaos and runs scenarios with it")
	}
	// Installed the way the README says, with the caller's own Go settings
	// (cgo on by default: the binary may be dynamically linked).
	gobin := t.TempDir()
	install := exec.Command("go", "install", "./cmd/rwxchaos")
	install.Dir = "../.."
	install.Env = append(os.Environ(), "GOBIN="+gobin)
	start := time.Now()
	if out, err := install.CombinedOutput(); err != nil {
		t.Fatalf("go install ./cmd/rwxchaos: %v\n%s", err, out)
	}
	st, err := os.Stat(filepath.Join(gobin, "rwxchaos"))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("go install took %s; binary %.1f MB", time.Since(start).Round(time.Second), float64(st.Size())/(1<<20))

	// Alone, in an empty directory outside the module.
	dir, err := os.MkdirTemp("", "rwxchaos-newcomer-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	modRoot, _ := filepath.Abs("../..")
	if rel, err := filepath.Rel(modRoot, dir); err == nil && !strings.HasPrefix(rel, "..") {
		t.Fatalf("temp dir %s is inside the module %s", dir, modRoot)
	}
	bin := filepath.Join(dir, "rwxchaos")
	copyBinary(t, filepath.Join(gobin, "rwxchaos"), bin)
	home := t.TempDir()
	env := []string{"PATH=" + pathWithoutGo(t), "HOME=" + home, "TERM=dumb",
		// Whatever a Go developer has set must not matter.
		"GOPATH=/nonexistent/gopath", "GOMODCACHE=/nonexistent/gomodcache"}
	for _, k := range []string{"RWXCHAOS_LAB", "CI"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	run := func(t *testing.T, args ...string) (string, int) {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Dir, cmd.Env = dir, env
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return out.String(), ee.ExitCode()
		}
		if err != nil {
			t.Fatal(err)
		}
		return out.String(), 0
	}

	out, code := run(t, "version")
	if code != 0 || !strings.HasPrefix(out, "rwxchaos ") || !strings.Contains(out, "  go      go1.") {
		t.Fatalf("version: exit %d: %s", code, out)
	}
	t.Logf("installed: %s", strings.ReplaceAll(strings.TrimSpace(out), "\n", "; "))
	if help, _ := run(t, "--help"); strings.Contains(help, "__pipeline") || strings.Contains(help, "__fuse") {
		t.Fatalf("the hidden subcommands show in --help:\n%s", help)
	}

	t.Run("local", func(t *testing.T) {
		res := runScenario(t, run, dir, "engine-killed-mid-run")
		// The app under test was this binary, re-executed.
		logs, _ := filepath.Glob(filepath.Join(res.dir, "logs", "*.log"))
		var ran bool
		for _, l := range logs {
			b, _ := os.ReadFile(l)
			ran = ran || bytes.Contains(b, []byte(": "+bin+" __pipeline "))
		}
		if len(logs) == 0 || !ran {
			t.Fatalf("no process log in %s shows %s __pipeline", res.dir, bin)
		}
	})
	// Nothing but the binary and the reports: nothing was built or fetched
	// into the working directory.
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if e.Name() != "rwxchaos" && e.Name() != "reports" {
			t.Errorf("the run left %s in the working directory", e.Name())
		}
	}

	t.Run("kind", func(t *testing.T) {
		if os.Getenv("RWXCHAOS_LAB") == "" && os.Getenv("CI") != "true" {
			t.Skip("kind scenario: set RWXCHAOS_LAB=1 after `make lab` (CI=true requires it)")
		}
		labtest.Lock(t)
		res := runScenario(t, run, dir, "node-kill-engine-node")
		if m := regexp.MustCompile(`app image \S+ \(.*\) assembled in \S+, archive written in \S+, loaded into the nodes in \S+`).FindString(res.out); m != "" {
			t.Log(m)
		} else {
			t.Fatalf("the run did not assemble and load the app image:\n%s", res.out)
		}
	})
}

type scenarioResult struct {
	dir string // the run's report directory
	out string
}

// runScenario runs a library scenario with the installed binary and checks
// that it passed and wrote a complete report naming its judge.
func runScenario(t *testing.T, run func(*testing.T, ...string) (string, int), dir, name string) scenarioResult {
	t.Helper()
	start := time.Now()
	out, code := run(t, "run", name, "--report-dir", "reports")
	t.Logf("rwxchaos run %s: exit %d in %s", name, code, time.Since(start).Round(time.Second))
	if code != 0 {
		t.Fatalf("rwxchaos run %s: exit %d\n%s", name, code, out)
	}
	runs, _ := filepath.Glob(filepath.Join(dir, "reports", name, "*", "result.json"))
	if len(runs) != 1 {
		t.Fatalf("want one report of %s, found %v\n%s", name, runs, out)
	}
	rd := filepath.Dir(runs[0])
	for _, f := range []string{"junit.xml", "summary.md", "report.html", "history.ndjson"} {
		if _, err := os.Stat(filepath.Join(rd, f)); err != nil {
			t.Errorf("report incomplete: %v", err)
		}
	}
	var r struct {
		Verdict  string `json:"verdict"`
		JudgedBy string `json:"judgedBy"`
	}
	b, err := os.ReadFile(runs[0])
	if err != nil || json.Unmarshal(b, &r) != nil {
		t.Fatalf("result.json: %v", err)
	}
	if r.Verdict != "pass" || r.JudgedBy == "" {
		t.Fatalf("result.json: verdict %q judgedBy %q", r.Verdict, r.JudgedBy)
	}
	return scenarioResult{dir: rd, out: out}
}

// pathWithoutGo is $PATH without any directory holding a go command.
func pathWithoutGo(t *testing.T) string {
	t.Helper()
	var keep []string
	for _, d := range filepath.SplitList(os.Getenv("PATH")) {
		if d == "" {
			continue
		}
		if _, err := os.Stat(filepath.Join(d, "go")); err == nil {
			continue
		}
		keep = append(keep, d)
	}
	p := strings.Join(keep, string(os.PathListSeparator))
	for _, d := range keep {
		if _, err := os.Stat(filepath.Join(d, "go")); err == nil {
			t.Fatalf("go still reachable in %s", d)
		}
	}
	return p
}

func copyBinary(t *testing.T, src, dst string) {
	t.Helper()
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}
