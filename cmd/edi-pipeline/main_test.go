package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rwxchaos/rwxchaos/fixtures/pipeline/edi"
	"github.com/rwxchaos/rwxchaos/fixtures/pipeline/engine"
	"github.com/rwxchaos/rwxchaos/fixtures/pipeline/publish"
	"github.com/rwxchaos/rwxchaos/framework/history"
)

var bin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "edi-pipeline-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bin = filepath.Join(dir, "edi-pipeline")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build edi-pipeline:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// Fast lease settings so that a crashed holder's lease goes stale quickly.
var fastLease = []string{"--lease-ttl", "1500ms", "--heartbeat", "250ms", "--lock-wait", "5s"}

type volume struct {
	t    *testing.T
	root string
	keys map[string]string // key → sha256
}

func newVolume(t *testing.T, n int, seed uint64) *volume {
	v := &volume{t: t, root: t.TempDir(), keys: map[string]string{}}
	rng := rand.New(rand.NewPCG(seed, 77))
	for i := 0; i < n; i++ {
		format := []string{edi.X12, edi.EDIFACT}[i%2]
		data := edi.Generate(rng, format, int(seed)*1000+i+1, 300, 3000)
		ic, err := edi.Parse(data)
		if err != nil {
			t.Fatal(err)
		}
		route := []string{"acme", "globex", "default"}[i%3]
		dir := filepath.Join(v.root, history.DirInput, route)
		os.MkdirAll(dir, 0o755)
		if err := os.WriteFile(filepath.Join(dir, history.FileName(ic.Key())+".edi"), data, 0o644); err != nil {
			t.Fatal(err)
		}
		v.keys[ic.Key()] = shaHex(data)
	}
	return v
}

func shaHex(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// cmd starts the binary on this volume.
func (v *volume) cmd(sub string, args ...string) *exec.Cmd {
	c := exec.Command(bin, append([]string{sub, "--root", v.root, "--node", "test"}, args...)...)
	return c
}

// engine runs one engine and returns its exit code and stderr.
func (v *volume) engine(args ...string) (int, string) {
	v.t.Helper()
	c := v.cmd("engine", append(append([]string{}, fastLease...), args...)...)
	var stderr bytes.Buffer
	c.Stderr = &stderr
	err := c.Run()
	if err != nil {
		if _, ok := err.(*exec.ExitError); !ok {
			v.t.Fatal(err)
		}
	}
	return c.ProcessState.ExitCode(), stderr.String()
}

func (v *volume) events() []history.Event {
	v.t.Helper()
	evs, _, err := history.ReadJournalDir(filepath.Join(v.root, history.DirJournal))
	if os.IsNotExist(err) || errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		v.t.Fatal(err)
	}
	return evs
}

// consistent asserts the end state every correct run must reach: exactly
// one output document per upload, nothing left in input, work or temp.
func (v *volume) consistent() {
	v.t.Helper()
	snap, err := history.Scan(v.root, time.Now())
	if err != nil {
		v.t.Fatal(err)
	}
	outs := map[string]int{}
	for _, f := range snap.Files {
		switch f.Stage {
		case history.StageInput, history.StageWork, history.StageTemp, history.StageSilly:
			v.t.Errorf("left behind: %s (%s)", f.Path, f.Stage)
		case history.StageOutput:
			if f.Err != "" || len(f.Docs) != 1 {
				v.t.Errorf("output %s: %d docs, err %q", f.Path, len(f.Docs), f.Err)
				continue
			}
			if v.keys[f.Key] != f.Docs[0].InputSHA {
				v.t.Errorf("output %s: sha %s, uploaded %s", f.Path, f.Docs[0].InputSHA, v.keys[f.Key])
			}
			outs[f.Key]++
		}
	}
	for k := range v.keys {
		if outs[k] != 1 {
			v.t.Errorf("key %s has %d output files, want 1", k, outs[k])
		}
	}
	if snap.Lease == nil || !snap.Lease.Released {
		v.t.Errorf("lease not released at the end: %+v", snap.Lease)
	}
}

func TestUsage(t *testing.T) {
	root := t.TempDir()
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{nil, 2, "usage: edi-pipeline"},
		{[]string{"bogus"}, 2, "unknown subcommand"},
		{[]string{"help"}, 0, "Subcommands"},
		{[]string{"engine", "--help"}, 0, "--crash-at"},
		{[]string{"webserver", "--nope"}, 2, "flag provided but not defined"},
		{[]string{"engine"}, 2, "--root is required"},
		{[]string{"engine", "--root", root + "/missing"}, 2, "not a directory"},
		{[]string{"engine", "--root", root, "--defect", "bogus"}, 2, "valid defects: remove-after-copy"},
		{[]string{"engine", "--root", root, "--crash-at", "never"}, 2, "unknown crash point"},
		{[]string{"engine", "--root", root, "--heartbeat", "3s"}, 2, "at most half"},
		{[]string{"jobqueue", "--root", root, "extra"}, 2, "unexpected arguments"},
		{[]string{"publisher", "--root", root, "--rate", "0"}, 2, "a positive --rate"},
		{[]string{"publisher", "--root", root, "--size", "10"}, 2, "--size 256..16777216"},
		{[]string{"consumer", "--root", root, "--files", "0"}, 2, "--files 1..100"},
		{[]string{"publisher", "--help"}, 0, "-write-time"},
	} {
		var out, errb bytes.Buffer
		code := run(tc.args, &out, &errb)
		if code != tc.code || !strings.Contains(out.String()+errb.String(), tc.want) {
			t.Errorf("%q: exit %d, want %d with %q; output:\n%s%s", tc.args, code, tc.code, tc.want, out.String(), errb.String())
		}
	}
}

func TestEngineRun(t *testing.T) {
	v := newVolume(t, 9, 1)
	code, stderr := v.engine()
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	v.consistent()
	// A second run finds nothing to do.
	if code, stderr := v.engine(); code != 0 || !strings.Contains(stderr, "claimed=0") {
		t.Errorf("second run: %d %s", code, stderr)
	}
}

// After a crash at any step, the next run completes: one output per
// upload, nothing lost, nothing left over, each key output exactly once.
func TestCrashPoints(t *testing.T) {
	points := append(append([]string{}, engine.Steps...), "after-claim:3", "mid-output:2", "before-done:4", "after-done:5")
	for i, cp := range points {
		t.Run(cp, func(t *testing.T) {
			t.Parallel()
			v := newVolume(t, 6, uint64(10+i))
			code, stderr := v.engine("--crash-at", cp)
			if code != engine.CrashExitCode {
				t.Fatalf("crash run exit %d, want %d: %s", code, engine.CrashExitCode, stderr)
			}
			code, stderr = v.engine()
			if code != 0 {
				t.Fatalf("recovery run exit %d: %s", code, stderr)
			}
			v.consistent()
			outputs := map[string]int{}
			var takeovers int
			for _, e := range v.events() {
				switch e.Type {
				case history.EvOutput:
					outputs[e.Key]++
				case history.EvLockTakeover:
					takeovers++
				}
			}
			for k := range v.keys {
				if outputs[k] != 1 {
					t.Errorf("key %s written %d times", k, outputs[k])
				}
			}
			if takeovers != 1 {
				t.Errorf("%d takeovers of the crashed run's lease, want 1", takeovers)
			}
		})
	}
}

// SIGKILL at seeded moments of a slowed-down run, twice, then a clean run.
func TestSIGKILLSeeded(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the crash-point matrix covers the same states deterministically")
	}
	for seed := uint64(1); seed <= 3; seed++ {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			t.Parallel()
			v := newVolume(t, 8, 100+seed)
			rng := rand.New(rand.NewPCG(seed, 5))
			for round := 0; round < 2; round++ {
				c := v.cmd("engine", append(append([]string{}, fastLease...), "--step-delay", "15ms")...)
				if err := c.Start(); err != nil {
					t.Fatal(err)
				}
				time.Sleep(time.Duration(50+rng.IntN(500)) * time.Millisecond)
				c.Process.Kill()
				c.Wait()
			}
			if code, stderr := v.engine(); code != 0 {
				t.Fatalf("final run exit %d: %s", code, stderr)
			}
			v.consistent()
		})
	}
}

// The defects are real: each leaves a state the snapshot shows as wrong.
func TestDefectsDetectable(t *testing.T) {
	for _, tc := range []struct {
		defect, crash string
		check         func(t *testing.T, v *volume, outs []history.File)
	}{
		{"remove-after-copy", "after-output", func(t *testing.T, v *volume, outs []history.File) {
			per := map[string]int{}
			for _, o := range outs {
				per[o.Key]++
			}
			dup := 0
			for _, n := range per {
				if n > 1 {
					dup++
				}
			}
			if dup == 0 {
				t.Errorf("no duplicate output files: %v", per)
			}
		}},
		{"append-output", "before-done", func(t *testing.T, v *volume, outs []history.File) {
			two := 0
			for _, o := range outs {
				if len(o.Docs) > 1 {
					two++
				}
			}
			if two != 1 {
				t.Errorf("%d output files with more than one document, want 1", two)
			}
		}},
		{"non-atomic-output", "mid-output", func(t *testing.T, v *volume, outs []history.File) {
			torn := 0
			for _, o := range outs {
				if o.Err != "" {
					torn++
				}
			}
			if torn != 1 {
				t.Errorf("%d torn outputs, want 1", torn)
			}
		}},
	} {
		t.Run(tc.defect, func(t *testing.T) {
			t.Parallel()
			v := newVolume(t, 3, 200)
			if code, stderr := v.engine("--defect", tc.defect, "--crash-at", tc.crash); code != engine.CrashExitCode {
				t.Fatalf("crash run: %d %s", code, stderr)
			}
			if code, stderr := v.engine("--defect", tc.defect); code != 0 {
				t.Fatalf("second run: %d %s", code, stderr)
			}
			snap, err := history.Scan(v.root, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			var outs []history.File
			for _, f := range snap.Files {
				if f.Stage == history.StageOutput {
					outs = append(outs, f)
				}
			}
			tc.check(t, v, outs)
		})
	}
}

// waitFor polls cond until it holds or the timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (v *volume) hasEvent(proc, typ string) bool {
	for _, e := range v.events() {
		if (proc == "" || strings.HasPrefix(e.Proc, proc)) && e.Type == typ {
			return true
		}
	}
	return false
}

// A frozen holder (SIGSTOP: like a node partitioned from the NFS server)
// keeps its flock; the next engine breaks the stale lease, finishes the
// work, and the frozen one, once resumed, is fenced and stops.
func TestFrozenHolderFenced(t *testing.T) {
	t.Parallel()
	v := newVolume(t, 6, 300)
	a := v.cmd("engine", "--lease-ttl", "1500ms", "--heartbeat", "250ms", "--step-delay", "150ms")
	var aErr bytes.Buffer
	a.Stderr = &aErr
	if err := a.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "the first engine to claim", func() bool { return v.hasEvent("engine", history.EvClaim) })
	a.Process.Signal(syscall.SIGSTOP)
	code, stderr := v.engine("--lease-ttl", "1500ms", "--heartbeat", "250ms", "--lock-wait", "5s")
	if code != 0 {
		a.Process.Kill()
		t.Fatalf("second engine exit %d: %s", code, stderr)
	}
	a.Process.Signal(syscall.SIGCONT)
	a.Wait()
	if c := a.ProcessState.ExitCode(); c != exitLockLost {
		t.Errorf("resumed holder exit %d, want %d (lock lost): %s", c, exitLockLost, aErr.String())
	}
	v.consistent()
	var lost, takeover, acquireNoFlock int
	for _, e := range v.events() {
		switch {
		case e.Type == history.EvLockLost:
			lost++
		case e.Type == history.EvLockTakeover:
			takeover++
		case e.Type == history.EvLockAcquire && strings.Contains(e.Detail, "without flock"):
			acquireNoFlock++
		}
	}
	if lost != 1 || takeover != 1 || acquireNoFlock != 1 {
		t.Errorf("lost %d takeover %d acquire-without-flock %d, want 1 each", lost, takeover, acquireNoFlock)
	}
}

func TestLockBusyAndSteal(t *testing.T) {
	t.Parallel()
	v := newVolume(t, 6, 400)
	a := v.cmd("engine", "--lease-ttl", "1500ms", "--heartbeat", "250ms", "--step-delay", "100ms")
	if err := a.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "the first engine to take the lock", func() bool { return v.hasEvent("engine", history.EvLockAcquire) })
	// A correct engine waits, then gives up: "lock busy", exit 0.
	code, stderr := v.engine("--lease-ttl", "1500ms", "--heartbeat", "250ms", "--lock-wait", "300ms")
	if code != 0 || !strings.Contains(stderr, "lock busy") {
		t.Errorf("contender: %d %s", code, stderr)
	}
	// steal-live-lock takes it from the live holder: split brain.
	code, stderr = v.engine("--lease-ttl", "1500ms", "--heartbeat", "250ms", "--defect", "steal-live-lock")
	if code != 0 {
		t.Errorf("thief: %d %s", code, stderr)
	}
	a.Wait()
	if c := a.ProcessState.ExitCode(); c != exitLockLost {
		t.Errorf("victim exit %d, want %d", c, exitLockLost)
	}
	var stolen bool
	for _, e := range v.events() {
		if e.Type == history.EvLockTakeover && strings.HasPrefix(e.Holder, "engine-test-") {
			stolen = true
		}
	}
	if !stolen {
		t.Error("no takeover of the live holder in the journal")
	}
}

// no-lock: two engines run at once, both at epoch 0.
func TestNoLockConcurrent(t *testing.T) {
	t.Parallel()
	v := newVolume(t, 6, 500)
	var cmds []*exec.Cmd
	for i := 0; i < 2; i++ {
		c := v.cmd("engine", "--defect", "no-lock", "--step-delay", "40ms")
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, c)
	}
	for _, c := range cmds {
		c.Wait()
	}
	type span struct{ start, end int64 }
	runs := map[string]*span{}
	for _, e := range v.events() {
		if e.Epoch != 0 {
			t.Errorf("no-lock event with epoch %d: %+v", e.Epoch, e)
		}
		switch e.Type {
		case history.EvRunStart:
			runs[e.Proc] = &span{start: e.Call}
		case history.EvRunEnd:
			if s := runs[e.Proc]; s != nil {
				s.end = e.End()
			}
		}
	}
	var spans []*span
	for _, s := range runs {
		spans = append(spans, s)
	}
	if len(spans) != 2 || spans[0].start > spans[1].end || spans[1].start > spans[0].end {
		t.Errorf("runs did not overlap: %+v", runs)
	}
}

// startServer starts a long-running subcommand and returns its address.
func startServer(t *testing.T, c *exec.Cmd) (string, *bytes.Buffer) {
	t.Helper()
	pr, err := c.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Process.Kill(); c.Wait() })
	addrc := make(chan string, 1)
	rest := &bytes.Buffer{}
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			if _, addr, ok := strings.Cut(sc.Text(), "listening on "); ok {
				addrc <- addr
			}
		}
	}()
	select {
	case addr := <-addrc:
		return "http://" + addr, rest
	case <-time.After(5 * time.Second):
		t.Fatal("server did not report its address")
	}
	return "", nil
}

func post(t *testing.T, url string, body []byte) (int, map[string]any) {
	t.Helper()
	resp, err := http.Post(url, "application/octet-stream", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	json.NewDecoder(resp.Body).Decode(&m)
	return resp.StatusCode, m
}

func TestWebserverProcess(t *testing.T) {
	t.Parallel()
	v := newVolume(t, 0, 600)
	ws := v.cmd("webserver", "--listen", "127.0.0.1:0")
	base, _ := startServer(t, ws)
	data := edi.Generate(rand.New(rand.NewPCG(1, 1)), edi.EDIFACT, 4242, 500, 1000)
	if code, body := post(t, base+"/upload?route=acme", data); code != 201 {
		t.Fatalf("upload: %d %v", code, body)
	}
	resp, err := http.Get(base + "/readyz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("readyz: %v %v", resp, err)
	}
	resp.Body.Close()
	ws.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- ws.Wait() }()
	select {
	case <-done:
		if c := ws.ProcessState.ExitCode(); c != 0 {
			t.Errorf("exit after SIGTERM: %d", c)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("webserver did not stop on SIGTERM")
	}
	if !v.hasEvent("webserver", history.EvStored) {
		t.Error("no stored event in the journal")
	}
}

// ack-before-fsync: a webserver killed right after the ack loses the upload.
func TestAckBeforeFsyncLoses(t *testing.T) {
	t.Parallel()
	v := newVolume(t, 0, 700)
	ws := v.cmd("webserver", "--listen", "127.0.0.1:0", "--defect", "ack-before-fsync")
	base, _ := startServer(t, ws)
	data := edi.Generate(rand.New(rand.NewPCG(2, 2)), edi.X12, 77, 500, 1000)
	code, body := post(t, base+"/upload", data)
	ws.Process.Kill()
	ws.Wait()
	if code != 201 {
		t.Fatalf("upload: %d %v", code, body)
	}
	if _, err := os.Stat(filepath.Join(v.root, body["path"].(string))); !os.IsNotExist(err) {
		t.Errorf("acknowledged file exists after the kill (%v): the defect did not bite", err)
	}
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v: %s", url, err, b)
	}
}

type jobsView struct {
	Running string `json:"running"`
	Pending []struct {
		ID string `json:"id"`
	} `json:"pending"`
}

// pids of engine processes working on root.
func enginePIDs(root string) []int {
	var out []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		var pid int
		if _, err := fmt.Sscanf(e.Name(), "%d", &pid); err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		args := strings.Split(string(b), "\x00")
		if len(args) > 2 && args[1] == "engine" && strings.Contains(string(b), root) {
			if st, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat")); err == nil && !strings.Contains(string(st), ") Z ") {
				out = append(out, pid)
			}
		}
	}
	return out
}

// The jobqueue runs jobs; killed mid-job it takes its engine with it, and a
// restarted jobqueue resumes the job from the volume.
func TestJobqueue(t *testing.T) {
	t.Parallel()
	v := newVolume(t, 6, 800)
	jq := v.cmd("jobqueue", "--listen", "127.0.0.1:0", "--engine-args", strings.Join(fastLease, " ")+" --step-delay 100ms")
	base, _ := startServer(t, jq)
	code, body := post(t, base+"/jobs", nil)
	if code != 202 || body["id"] == "" {
		t.Fatalf("enqueue: %d %v", code, body)
	}
	waitFor(t, 5*time.Second, "the engine job to claim a file", func() bool { return v.hasEvent("engine", history.EvClaim) })
	if len(enginePIDs(v.root)) != 1 {
		t.Fatalf("engine processes: %v", enginePIDs(v.root))
	}
	jq.Process.Kill()
	jq.Wait()
	waitFor(t, 3*time.Second, "the orphaned engine to die (Pdeathsig)", func() bool { return len(enginePIDs(v.root)) == 0 })
	jobs, _ := os.ReadDir(filepath.Join(v.root, history.DirQueue))
	if len(jobs) != 1 {
		t.Fatalf("queue after kill: %d files, want the interrupted job", len(jobs))
	}

	jq2 := v.cmd("jobqueue", "--listen", "127.0.0.1:0", "--engine-args", strings.Join(fastLease, " "))
	base2, _ := startServer(t, jq2)
	waitFor(t, 10*time.Second, "the resumed job to finish", func() bool {
		var jv jobsView
		getJSON(t, base2+"/jobs", &jv)
		return jv.Running == "" && len(jv.Pending) == 0 && v.hasEvent("jobqueue", history.EvJobEnd)
	})
	jq2.Process.Signal(syscall.SIGTERM)
	jq2.Wait()
	v.consistent()
	var enq, start, end int
	for _, e := range v.events() {
		switch e.Type {
		case history.EvJobEnqueue:
			enq++
		case history.EvJobStart:
			start++
		case history.EvJobEnd:
			end++
			if e.Outcome != history.OK {
				t.Errorf("job end %+v", e)
			}
		}
	}
	if enq != 1 || start != 2 || end != 1 {
		t.Errorf("job events: enqueue %d start %d end %d, want 1 2 1", enq, start, end)
	}
}

func TestJobqueueEvery(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	t.Parallel()
	v := newVolume(t, 3, 900)
	jq := v.cmd("jobqueue", "--listen", "127.0.0.1:0", "--every", "200ms", "--engine-args", strings.Join(fastLease, " "))
	startServer(t, jq)
	waitFor(t, 10*time.Second, "timer jobs to run", func() bool {
		n := 0
		for _, e := range v.events() {
			if e.Type == history.EvJobEnd {
				n++
			}
		}
		return n >= 2
	})
	jq.Process.Signal(syscall.SIGTERM)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	done := make(chan struct{})
	go func() { jq.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		t.Fatal("jobqueue did not stop on SIGTERM")
	}
	if c := jq.ProcessState.ExitCode(); c != 0 {
		t.Errorf("exit %d", c)
	}
	v.consistent()
}

// The publisher and a consumer as processes: the consumer loads every
// version the publisher published, SIGTERM stops both cleanly, and a
// restarted publisher continues after the last version.
func TestPublisherConsumerProcesses(t *testing.T) {
	v := &volume{t: t, root: t.TempDir()}
	pub := v.cmd("publisher", "--files", "2", "--size", "1024", "--rate", "50", "--versions", "5")
	con := v.cmd("consumer", "--files", "2", "--rate", "100")
	var perr, cerr bytes.Buffer
	pub.Stderr, con.Stderr = &perr, &cerr
	for _, c := range []*exec.Cmd{con, pub} {
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
	}
	// Wait on the journals, not on time: both files loaded at version 5.
	deadline := time.Now().Add(20 * time.Second)
	for {
		seen := map[string]uint64{}
		for _, e := range v.events() {
			if e.Type == history.EvLoad && e.Outcome == history.OK {
				seen[e.Path] = max(seen[e.Path], e.Version)
			}
		}
		if len(seen) == 2 && seen[publish.RelPath(0)] == 5 && seen[publish.RelPath(1)] == 5 {
			break
		}
		if time.Now().After(deadline) {
			pub.Process.Kill()
			con.Process.Kill()
			t.Fatalf("consumer did not load version 5 of both files: %v\npublisher: %s\nconsumer: %s", seen, perr.String(), cerr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, c := range []*exec.Cmd{pub, con} {
		c.Process.Signal(syscall.SIGTERM)
		if err := c.Wait(); err != nil {
			t.Errorf("%s: %v\n%s%s", c.Args[1], err, perr.String(), cerr.String())
		}
	}
	if !strings.Contains(perr.String(), "versions 1..5") || !strings.Contains(cerr.String(), "torn=0") {
		t.Errorf("publisher: %s\nconsumer: %s", perr.String(), cerr.String())
	}
	// Restart with a higher target: it continues at version 6.
	code := make(chan int, 1)
	pub2 := v.cmd("publisher", "--files", "2", "--size", "1024", "--rate", "50", "--versions", "7")
	var p2 bytes.Buffer
	pub2.Stderr = &p2
	if err := pub2.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { pub2.Wait(); code <- pub2.ProcessState.ExitCode() }()
	for deadline := time.Now().Add(20 * time.Second); ; {
		if l := publish.LoadFile(filepath.Join(v.root, history.DirPublish, publish.FileName(1))); l.Class == "" && l.Header.Version == 7 {
			break
		}
		if time.Now().After(deadline) {
			pub2.Process.Kill()
			t.Fatalf("restarted publisher never published version 7: %s", p2.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	pub2.Process.Signal(syscall.SIGTERM)
	if c := <-code; c != 0 || !strings.Contains(p2.String(), "versions 6..7 (found 5 at start)") {
		t.Errorf("exit %d: %s", c, p2.String())
	}
}
