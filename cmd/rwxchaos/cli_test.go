package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rwxchaos/rwxchaos/framework/scenario"
	"github.com/rwxchaos/rwxchaos/scenarios"
)

var cliBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "rwxchaos-cli-test")
	if err != nil {
		panic(err)
	}
	cliBin = filepath.Join(dir, "rwxchaos")
	// The one binary: it runs the pipeline and the file server itself.
	cmd := exec.Command("go", "build", "-o", cliBin, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build rwxchaos: %v\n%s", err, b)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// cli runs rwxchaos with an isolated state and cache dir.
func cli(t *testing.T, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(cliBin, args...)
	cmd.Env = append(os.Environ(), env...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return o.String(), e.String(), code
}

// A role starts from selfexec's init, before the rest of the binary is
// initialised: the engine, started every second, does not pay for
// client-go's scheme and the like.
func TestRolesStartBeforeTheCLIInitialises(t *testing.T) {
	inits := func(args ...string) string {
		cmd := exec.Command(cliBin, args...)
		cmd.Env = append(os.Environ(), "GODEBUG=inittrace=1")
		var e bytes.Buffer
		cmd.Stdout, cmd.Stderr = io.Discard, &e
		_ = cmd.Run()
		return e.String()
	}
	// inittrace prints a line per package once its init is done; the role
	// exits inside selfexec's init, so the packages after it never appear.
	heavy := []string{"init k8s.io/client-go/kubernetes/scheme ",
		"init github.com/chaos-mesh/chaos-mesh/api/v1alpha1 "}
	all, role := inits("version"), inits("__pipeline", "help")
	for _, h := range heavy {
		if !strings.Contains(all, h) {
			t.Fatalf("inittrace of the CLI lacks %q: the test no longer measures anything\n%.1500s", h, all)
		}
		if strings.Contains(role, h) {
			t.Errorf("rwxchaos __pipeline ran %s before the role", strings.TrimSpace(h))
		}
	}
	if n, m := strings.Count(role, "\ninit "), strings.Count(all, "\ninit "); n == 0 || n > m*3/4 {
		t.Errorf("the role initialised %d packages, the CLI %d", n, m)
	}
}

func TestValidateBrokenCorpus(t *testing.T) {
	files, _ := filepath.Glob("../../framework/scenario/testdata/invalid/*.yaml")
	if len(files) < 30 {
		t.Fatalf("only %d broken scenario files in the corpus", len(files))
	}
	pos := regexp.MustCompile(`:\d+(:\d+)?: `)
	for _, f := range files {
		_, stderr, code := cli(t, nil, "validate", f)
		if code != exitUsage {
			t.Errorf("%s: exit %d, want %d", f, code, exitUsage)
		}
		if !strings.Contains(stderr, filepath.Base(f)) || !(pos.MatchString(stderr) || strings.Contains(stderr, "file is empty")) {
			t.Errorf("%s: error does not say file:line: %q", f, stderr)
		}
	}
	// All at once: every file reported, still exit 2.
	_, stderr, code := cli(t, nil, append([]string{"validate"}, files...)...)
	if code != exitUsage || !strings.Contains(stderr, fmt.Sprintf("%d of %d scenario files are invalid", len(files), len(files))) {
		t.Fatalf("exit %d: %s", code, stderr)
	}
}

func TestValidateLibraryAndSchema(t *testing.T) {
	// Every library scenario validates, except those the support table
	// says no provider can run yet: exit 2 with the reason.
	for _, name := range scenarios.Names() {
		_, err := scenarios.Load(name)
		var list scenario.ErrorList
		cannot := errors.As(err, &list) && list.Unsupported()
		_, stderr, code := cli(t, nil, "validate", name)
		switch {
		case cannot && (code != exitUsage || !strings.Contains(stderr, "cannot run on")):
			t.Errorf("%s cannot run yet: validate exit %d, want 2 with the reason: %s", name, code, stderr)
		case !cannot && code != 0:
			t.Errorf("%s: validate exit %d: %s", name, code, stderr)
		}
	}
	out, _, code := cli(t, nil, "schema")
	if code != 0 || !strings.Contains(out, `"$schema"`) {
		t.Fatalf("schema exit %d: %.200s", code, out)
	}
	if _, _, code := cli(t, nil, "run", "no-such-scenario"); code != exitUsage {
		t.Fatalf("unknown scenario: exit %d, want %d", code, exitUsage)
	}
	if _, _, code := cli(t, nil, "frobnicate"); code != exitUsage {
		t.Fatalf("unknown command: exit %d, want %d", code, exitUsage)
	}
}

// leftovers lists live processes that belong to runs under cache (their
// command line names the cache dir), and whether any is stopped.
func leftovers(cache string) []string {
	var out []string
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		if e.Name()[0] < '0' || e.Name()[0] > '9' {
			continue
		}
		b, err := readQuick(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || !bytes.Contains(b, []byte(cache)) {
			continue
		}
		st, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if i := bytes.LastIndexByte(st, ')'); i > 0 && i+2 < len(st) && st[i+2] == 'Z' {
			continue
		}
		out = append(out, e.Name()+" "+strings.ReplaceAll(string(b), "\x00", " "))
	}
	return out
}

// readQuick reads a /proc file but gives up after a moment: reading another
// process's cmdline blocks while that process is stuck on a stalled FUSE
// mount (another test pausing its file server), and such a process is not
// ours (ours run on plain directories).
func readQuick(path string) ([]byte, error) {
	type res struct {
		b   []byte
		err error
	}
	ch := make(chan res, 1)
	go func() {
		b, err := os.ReadFile(path)
		ch <- res{b, err}
	}()
	select {
	case r := <-ch:
		return r.b, r.err
	case <-time.After(300 * time.Millisecond):
		return nil, errors.New("timed out")
	}
}

// TestInterruptedRunsLeaveNothing kills the runner at random moments (SIGINT:
// it must heal and tear down by itself; SIGKILL: `rwxchaos cleanup` must) and
// proves no process, paused process, fault state or volume is left behind.
func TestInterruptedRunsLeaveNothing(t *testing.T) {
	seed := time.Now().UnixNano()
	if s := os.Getenv("RWXCHAOS_TEST_SEED"); s != "" {
		fmt.Sscan(s, &seed)
	}
	t.Logf("seed %d (replay with RWXCHAOS_TEST_SEED)", seed)
	rng := rand.New(rand.NewPCG(uint64(seed), 1))
	rounds := 4
	if testing.Short() {
		rounds = 2
	}
	for i := 0; i < rounds; i++ {
		sig := syscall.SIGKILL
		if i%2 == 1 {
			sig = syscall.SIGINT
		}
		// The scenario pauses the lock holder for 7 s from about 2 s after
		// steady state: kills land before, during and after the pause.
		after := time.Duration(500+rng.IntN(11000)) * time.Millisecond
		t.Run(fmt.Sprintf("%s-after-%s", sig, after), func(t *testing.T) {
			tmp := t.TempDir()
			cache, state := filepath.Join(tmp, "cache"), filepath.Join(tmp, "state")
			env := []string{"RWXCHAOS_CACHE=" + cache, "RWXCHAOS_STATE=" + state}
			cmd := exec.Command(cliBin, "run", "engine-paused-past-lease", "-q", "--report-dir", filepath.Join(tmp, "reports"))
			cmd.Env = append(os.Environ(), env...)
			var logs bytes.Buffer
			cmd.Stdout, cmd.Stderr = &logs, &logs
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			select {
			case <-done:
				t.Logf("run finished before the interrupt")
			case <-time.After(after):
				_ = cmd.Process.Signal(sig)
				select {
				case <-done:
				case <-time.After(90 * time.Second):
					_ = cmd.Process.Kill()
					t.Fatalf("runner did not exit within 90s of %s:\n%s", sig, logs.String())
				}
			}
			if sig == syscall.SIGINT {
				// A graceful interrupt heals and tears down by itself.
				if left := leftovers(cache); len(left) > 0 {
					t.Errorf("after SIGINT, before cleanup, processes left: %v\n%s", left, logs.String())
				}
			}
			out, stderr, code := cli(t, env, "cleanup")
			if code != 0 {
				t.Fatalf("cleanup exit %d: %s %s", code, out, stderr)
			}
			deadline := time.Now().Add(5 * time.Second)
			for len(leftovers(cache)) > 0 && time.Now().Before(deadline) {
				time.Sleep(100 * time.Millisecond)
			}
			if left := leftovers(cache); len(left) > 0 {
				t.Fatalf("processes left after cleanup: %v\ncleanup said: %s", left, out)
			}
			if vols, _ := filepath.Glob(filepath.Join(cache, "volumes", "*")); len(vols) > 0 {
				t.Fatalf("volumes left after cleanup: %v\ncleanup said: %s", vols, out)
			}
			if sts, _ := filepath.Glob(filepath.Join(state, "faults", "*.json")); len(sts) > 0 {
				t.Fatalf("fault state left after cleanup: %v", sts)
			}
			// A second cleanup finds nothing to do.
			if out, _, code := cli(t, env, "cleanup"); code != 0 || !strings.Contains(out, "0 healed, 0 failed") {
				t.Fatalf("second cleanup: exit %d: %s", code, out)
			}
		})
	}
}

// `rwxchaos report` says when the build re-checking a run is not the one
// that judged it.
func TestReportWarnsAboutAnotherJudge(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	if err := os.CopyFS(dir, os.DirFS("../../framework/verdict/testdata/runs/pass")); err != nil {
		t.Fatal(err)
	}
	res := filepath.Join(dir, "result.json")
	b, err := os.ReadFile(res)
	if err != nil {
		t.Fatal(err)
	}
	b = bytes.Replace(b, []byte(`{`), []byte(`{"judgedBy":"v0.0.1 (0123456789ab)",`), 1)
	if err := os.WriteFile(res, b, 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "recheck")
	_, stderr, code := cli(t, nil, "report", dir, "--out", out)
	if code != 0 || !strings.Contains(stderr, "warning: this run was judged by v0.0.1 (0123456789ab); re-checking it with ") {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr)
	}
	// The new report names the build that re-judged it, and re-checking
	// that one again warns no more.
	nb, err := os.ReadFile(filepath.Join(out, "result.json"))
	if err != nil || bytes.Contains(nb, []byte("v0.0.1 (0123456789ab)")) || !bytes.Contains(nb, []byte(`"judgedBy"`)) {
		t.Fatalf("the re-check's result.json does not name its own judge: %v", err)
	}
	if _, stderr, code := cli(t, nil, "report", out, "--out", filepath.Join(t.TempDir(), "again")); code != 0 || strings.Contains(stderr, "warning: this run was judged") {
		t.Fatalf("re-check of a re-check: exit %d:\n%s", code, stderr)
	}
}

// `list --select ... --names` is what scripts (the GitHub Action, the
// nightly workflow) build their scenario lists from: the names it prints are
// exactly the library scenarios the selection matches, and a bad selection
// is a usage error (2) that prints no list.
func TestListSelect(t *testing.T) {
	out, errOut, code := cli(t, nil, "list", "--select", "provider=kind,set=nightly", "--select", "backend=fuse,provider=local", "--names")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	kind, _ := scenarios.ParseFilter("provider=kind,set=nightly")
	fuse, _ := scenarios.ParseFilter("backend=fuse,provider=local")
	var want []string
	for _, n := range scenarios.Names() {
		s, err := scenarios.Load(n)
		if err != nil {
			t.Fatal(err)
		}
		if kind.Match(s) || fuse.Match(s) {
			want = append(want, s.Metadata.Name)
		}
	}
	if got := strings.Fields(out); strings.Join(got, " ") != strings.Join(want, " ") || len(got) < 7 {
		t.Errorf("--names printed %q, want %q", got, want)
	}
	if strings.Contains(out, "NAME") {
		t.Errorf("--names printed the header:\n%s", out)
	}
	table, _, code := cli(t, nil, "list", "--select", "set=ci,provider=kind")
	if code != 0 || !strings.HasPrefix(table, "NAME") || !strings.Contains(table, "storage-restarted") || strings.Contains(table, "two-nodes-killed") {
		t.Errorf("list --select set=ci,provider=kind (exit %d):\n%s", code, table)
	}
	for args, msg := range map[string]string{
		"tier=ci":                     `unknown key "tier"`,
		"provider=existing,set=ci":    "no scenario matches",
		"provider=kind,provider=kind": "given twice",
	} {
		out, errOut, code := cli(t, nil, "list", "--select", args, "--names")
		if code != 2 || out != "" || !strings.Contains(errOut, msg) {
			t.Errorf("list --select %s: exit %d, stdout %q, stderr %q; want 2, nothing, %q", args, code, out, errOut, msg)
		}
	}
}

// `rwxchaos run A B` runs both through one suite (scenarios.Suite, as the
// nightly suites do) and writes an index; its exit code is the worst run's.
// B is the library's remove-after-copy drill without its expect-anomaly
// label: the duplicate the defect makes then fails it.
func TestRunSeveral(t *testing.T) {
	if testing.Short() {
		t.Skip("runs two local scenarios (~30 s)")
	}
	tmp := t.TempDir()
	env := []string{"RWXCHAOS_CACHE=" + filepath.Join(tmp, "cache"), "RWXCHAOS_STATE=" + filepath.Join(tmp, "state"), "GITHUB_STEP_SUMMARY=" + filepath.Join(tmp, "summary.md")}
	b, err := os.ReadFile(filepath.Join("..", "..", "scenarios", "library", "engine-killed-remove-after-copy.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	unlabelled := strings.Replace(string(b), "    expect-anomaly: duplicated\n", "", 1)
	if unlabelled == string(b) {
		t.Fatal("the library scenario no longer has the label this test removes")
	}
	file := filepath.Join(tmp, "remove-after-copy.yaml")
	if err := os.WriteFile(file, []byte(unlabelled), 0o644); err != nil {
		t.Fatal(err)
	}
	reports := filepath.Join(tmp, "reports")
	out, errOut, code := cli(t, env, "run", "engine-killed-mid-run", file, "engine-killed-mid-run", "-q", "--report-dir", reports)
	if code != exitFail {
		t.Fatalf("exit %d, want 1 (one scenario failed)\n%s\n%s", code, out, errOut)
	}
	for _, want := range []string{"pass      engine-killed-mid-run: " + reports, "FAIL      engine-killed-remove-after-copy: verdict: fail",
		"Index: " + filepath.Join(reports, "index.html"), "2 scenarios: 1 passed, 1 failed, 0 not judged"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.TrimSpace(errOut) != "rwxchaos: 1 of 2 scenarios failed" {
		t.Errorf("stderr under -q: want only the final error, got:\n%s", errOut)
	}
	var idx struct {
		Entries []struct{ Scenario, Outcome string }
	}
	raw, err := os.ReadFile(filepath.Join(reports, "index.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &idx); err != nil || len(idx.Entries) != 2 {
		t.Fatalf("index.json: %v, %d entries, want 2 (a scenario named twice runs once)\n%s", err, len(idx.Entries), raw)
	}
	if sum, _ := os.ReadFile(filepath.Join(tmp, "summary.md")); !strings.Contains(string(sum), "engine-killed-remove-after-copy") {
		t.Errorf("the index was not appended to $GITHUB_STEP_SUMMARY:\n%s", sum)
	}

	// Bad input: nothing starts, no report is written, exit 2.
	for _, args := range [][]string{
		{"run"},
		{"run", "engine-killed-mid-run", "no-such-scenario"},
		{"run", "engine-killed-mid-run", "--select", "tier=ci"},
		{"run", "--select", "provider=existing,set=ci"},
		{"run", "engine-killed-mid-run", "webserver-replica-killed", "--keep"},
	} {
		dir := filepath.Join(tmp, "bad")
		_, errOut, code := cli(t, env, append(args, "--report-dir", dir)...)
		if code != exitUsage {
			t.Errorf("%v: exit %d, want 2\n%s", args, code, errOut)
		}
		if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%v: wrote %s", args, dir)
		}
	}
}
