package proc

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rwxchaos/rwxchaos/framework/history"
)

func runnerJournal(t *testing.T, cfg *Config) string {
	t.Helper()
	dir := t.TempDir()
	j, err := history.OpenJournal(filepath.Join(dir, "runner.ndjson"), history.JournalOptions{Proc: "runner-test", Role: history.RoleRunner, Node: "test"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { j.Close() })
	cfg.Journal = j
	return dir
}

func start(t *testing.T, cfg Config) *Cluster {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := Start(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Stop(context.Background()) })
	return c
}

func alive(pid int) bool {
	st := kernelState(pid)
	return st != "" && st != "Z"
}

func TestKillRestartStop(t *testing.T) {
	cfg := fakeConfig(t)
	cfg.Webservers, cfg.Jobqueue = 3, true
	cfg.Defects = []string{"no-lock"}
	jdir := runnerJournal(t, &cfg)
	c := start(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := c.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	if n := len(c.WebserverURLs()); n != 3 || c.JobqueueURL() == "" {
		t.Fatalf("%d webserver URLs, jobqueue %q", n, c.JobqueueURL())
	}
	ps := c.Processes()
	if len(ps) != 4 {
		t.Fatalf("processes %+v, want 4", ps)
	}
	for _, p := range ps {
		// a child whose cwd is on the volume stalls the runner's starts
		// when the volume stalls
		cwd, err := os.Readlink("/proc/" + strconv.Itoa(p.PID) + "/cwd")
		if err != nil {
			t.Fatal(err)
		}
		if rel, err := filepath.Rel(cfg.Root, cwd); err == nil && !strings.HasPrefix(rel, "..") {
			t.Errorf("%s runs in %s, inside the volume %s", p.Target(), cwd, cfg.Root)
		}
	}
	for _, p := range ps {
		if !strings.Contains(strings.Join(p.Args, " "), "--defect no-lock") {
			t.Errorf("%s args %v lack the defect", p.Target(), p.Args)
		}
	}

	old, err := c.Process(RoleWebserver, 1)
	if err != nil {
		t.Fatal(err)
	}
	killed, err := c.Kill(ctx, RoleWebserver, 1)
	if err != nil {
		t.Fatal(err)
	}
	if killed.Status != "signal: killed" || killed.Code != -1 || alive(killed.PID) {
		t.Errorf("killed %+v", killed)
	}
	if err := c.WaitReady(ctx); err != nil {
		t.Fatalf("webserver 1 did not come back: %v", err)
	}
	now, err := c.Process(RoleWebserver, 1)
	if err != nil || now == old {
		t.Fatalf("webserver 1 not restarted: %v", err)
	}

	before, _ := c.Process(RoleWebserver, 0)
	t0 := time.Now()
	info, err := c.Restart(ctx, RoleWebserver, 0, 150*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if info.PID == before.Info().PID || time.Since(t0) < 150*time.Millisecond {
		t.Errorf("restart gave %+v after %v", info, time.Since(t0))
	}
	if st := before.Info().Status; st != "exit status 0" {
		t.Errorf("gracefully stopped webserver ended with %q, want exit status 0", st)
	}

	if err := c.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if ps := c.Processes(); len(ps) != 0 {
		t.Errorf("after Stop: %+v", ps)
	}
	if left, _ := listPidfiles(cfg.Root); len(left) != 0 {
		t.Errorf("pidfiles left: %v", left)
	}
	evs, _, err := history.ReadJournalDir(jdir)
	if err != nil {
		t.Fatal(err)
	}
	starts, exits, killedSeen := 0, 0, false
	for _, e := range evs {
		switch e.Type {
		case history.EvProcStart:
			starts++
		case history.EvProcExit:
			exits++
			if strings.HasPrefix(e.Target, "webserver-test-"+strconv.Itoa(killed.PID)+"-") && e.Detail == "signal: killed ("+killed.Target()+")" {
				killedSeen = true // named after the child's own proc id
			}
		}
	}
	if starts != 6 || exits != 6 || !killedSeen {
		t.Errorf("journal: %d starts, %d exits (want 6 each), kill of %s journaled: %v", starts, exits, killed.Target(), killedSeen)
	}
}

func TestPauseResumeAndStopResumesPaused(t *testing.T) {
	cfg := fakeConfig(t)
	cfg.Webservers = 1
	c := start(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	info, err := c.Pause(RoleWebserver, 0)
	if err != nil {
		t.Fatal(err)
	}
	waitKernel(t, info.PID, "T")
	if got := c.Processes()[0].State; got != StatePaused {
		t.Errorf("state %q, want paused", got)
	}
	if _, err := c.Resume(RoleWebserver, 0); err != nil {
		t.Fatal(err)
	}
	waitKernel(t, info.PID, "S")
	if _, err := c.Pause(RoleWebserver, 0); err != nil {
		t.Fatal(err)
	}
	waitKernel(t, info.PID, "T")
	if err := c.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	fin := c.Finished()
	if len(fin) != 1 || fin[0].Status != "exit status 0" {
		t.Errorf("paused webserver was not resumed and stopped gracefully: %+v", fin)
	}
}

func waitKernel(t *testing.T, pid int, want string) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		if st := kernelState(pid); st == want || (want == "S" && st == "R") {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("pid %d in state %q, want %q", pid, kernelState(pid), want)
}

func TestScheduleForbidsOverlap(t *testing.T) {
	cfg := fakeConfig(t)
	cfg.EngineEvery = 10 * time.Millisecond
	cfg.EngineArgs = []string{"--hold", "80ms"}
	c := start(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// An extra run overlaps on purpose and must not block the schedule.
	extra, err := c.RunEngine(ctx, "--hold", "300ms")
	if err != nil {
		t.Fatal(err)
	}
	// Wait for a few scheduled runs (slow on a loaded machine).
	for deadline := time.Now().Add(5 * time.Second); c.EngineRuns() < 5 && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
	}
	c.SuspendSchedule()
	for _, p := range c.Running(RoleEngine) {
		p.Wait(ctx)
	}
	var runs []ProcInfo
	for _, f := range c.Finished() {
		if f.Role == RoleEngine && f.Index != extra.Info().Index {
			runs = append(runs, f)
		}
	}
	if len(runs) < 2 {
		t.Fatalf("%d scheduled runs finished, want at least 2", len(runs))
	}
	for i := 1; i < len(runs); i++ {
		if runs[i].Started.Before(runs[i-1].Exited) {
			t.Errorf("run %d started at %v before run %d exited at %v", runs[i].Index, runs[i].Started, runs[i-1].Index, runs[i-1].Exited)
		}
	}
	if ex := extra.Info(); ex.Status != "exit status 0" {
		t.Errorf("extra run: %+v", ex)
	}
}

func TestDrain(t *testing.T) {
	cfg := fakeConfig(t)
	cfg.StepDelay = time.Millisecond
	c := start(t, cfg)
	in := filepath.Join(cfg.Root, history.DirInput, "r")
	os.MkdirAll(in, 0o755)
	for i := range 5 {
		os.WriteFile(filepath.Join(in, history.FileName(history.Key("X12", "A", "B", string(rune('0'+i))))+".edi"), []byte("x"), 0o644)
	}
	os.WriteFile(filepath.Join(in, ".upload.tmp"), []byte("x"), 0o644) // a temp file is not pending work
	ctx := context.Background()
	res, err := c.Drain(ctx, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if res.Passes != 1 || res.Input != 0 || res.Work != 0 {
		t.Errorf("drain %+v", res)
	}
	outs, _ := filepath.Glob(filepath.Join(cfg.Root, history.DirOutput, "r", "*.json"))
	if len(outs) != 5 {
		t.Errorf("%d outputs, want 5", len(outs))
	}

	// A paused run keeps Drain from finishing, and the error says so.
	os.WriteFile(filepath.Join(in, "X12+A+B+9.edi"), []byte("x"), 0o644)
	p, err := c.RunEngine(ctx, "--hold", "10s")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Pause(RoleEngine, p.Info().Index); err != nil {
		t.Fatal(err)
	}
	_, err = c.Drain(ctx, 300*time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "is paused: resume it") || !strings.Contains(err.Error(), "1 input") {
		t.Errorf("drain with a paused run: %v", err)
	}
	if _, err := c.Kill(ctx, RoleEngine, CurrentRun); err != nil {
		t.Fatal(err)
	}
	if res, err := c.Drain(ctx, 5*time.Second); err != nil || res.Input != 0 {
		t.Errorf("drain after kill: %+v %v", res, err)
	}
}

func TestDrainRetriesFailingRuns(t *testing.T) {
	cfg := fakeConfig(t)
	cfg.EngineArgs = []string{"--exit", "3"}
	c := start(t, cfg)
	os.MkdirAll(filepath.Join(cfg.Root, history.DirWork, "r"), 0o755)
	os.WriteFile(filepath.Join(cfg.Root, history.DirWork, "r", "X12+A+B+1.edi"), []byte("x"), 0o644)
	res, err := c.Drain(context.Background(), 400*time.Millisecond)
	if err == nil || res.Work != 1 || res.Failed < 1 || res.Passes-res.Failed > 1 {
		t.Errorf("drain of a failing engine: %+v %v", res, err)
	}
}

func TestStartRefusesLeftoverPidfiles(t *testing.T) {
	cfg := fakeConfig(t)
	os.MkdirAll(PidDir(cfg.Root), 0o755)
	os.WriteFile(filepath.Join(PidDir(cfg.Root), "webserver-0-1.json"), []byte(`{"pid":1}`), 0o644)
	if _, err := Start(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), "cleanup") {
		t.Errorf("Start with leftover pidfiles: %v", err)
	}
}

// A runner that is SIGKILLed takes its children with it (Pdeathsig), and
// Cleanup then finds only dead pidfiles.
func TestRunnerDeathLeavesNoOrphans(t *testing.T) {
	root := t.TempDir()
	exe, _ := os.Executable()
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), envRunner+"="+root)
	out, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(out)
	ready := false
	for sc.Scan() {
		if sc.Text() == "ready" {
			ready = true
			break
		}
		t.Log(sc.Text())
	}
	if !ready {
		cmd.Process.Kill()
		t.Fatal("runner did not get ready")
	}
	files, _ := listPidfiles(root)
	if len(files) != 3 {
		t.Fatalf("pidfiles %v, want 3", files)
	}
	var pids []int
	for _, f := range files {
		parts := strings.Split(strings.TrimSuffix(filepath.Base(f), ".json"), "-")
		pid, _ := strconv.Atoi(parts[len(parts)-1])
		pids = append(pids, pid)
	}
	// Cleanup leaves a live runner's children alone.
	res, err := Cleanup(context.Background(), root, false)
	if err != nil || len(res.Skipped) != 3 {
		t.Fatalf("cleanup with the runner alive: %+v %v", res, err)
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	deadline := time.Now().Add(3 * time.Second)
	for _, pid := range pids {
		for alive(pid) && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if alive(pid) {
			t.Errorf("child %d outlived its runner", pid)
			syscall.Kill(-pid, syscall.SIGKILL)
		}
	}
	res, err = Cleanup(context.Background(), root, false)
	if err != nil || len(res.Gone) != 3 || len(res.Killed) != 0 {
		t.Errorf("cleanup after the runner died: %+v %v", res, err)
	}
	if left, _ := listPidfiles(root); len(left) != 0 {
		t.Errorf("pidfiles left: %v", left)
	}
}

// Cleanup resumes and kills a stopped survivor whose runner is gone.
func TestCleanupKillsStoppedSurvivor(t *testing.T) {
	root := t.TempDir()
	cmd := exec.Command("sleep", "60")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	pid := cmd.Process.Pid
	syscall.Kill(-pid, syscall.SIGSTOP)
	waitKernel(t, pid, "T")
	os.MkdirAll(PidDir(root), 0o755)
	rec := `{"pid":` + strconv.Itoa(pid) + `,"startTicks":` + strconv.FormatUint(startTicks(pid), 10) + `,"role":"engine","index":7,"runner":999999999,"runnerStart":1}`
	os.WriteFile(filepath.Join(PidDir(root), "engine-7-"+strconv.Itoa(pid)+".json"), []byte(rec), 0o644)
	res, err := Cleanup(context.Background(), root, false)
	if err != nil || len(res.Killed) != 1 {
		t.Fatalf("cleanup: %+v %v", res, err)
	}
	st, _ := cmd.Process.Wait()
	if st == nil || st.String() != "signal: killed" {
		t.Errorf("survivor ended with %v", st)
	}
}

// A pidfile whose pid now names another process is stale: Cleanup must not
// signal that process, and must remove the pidfile so Start works again.
func TestCleanupIgnoresReusedPid(t *testing.T) {
	root := t.TempDir()
	os.MkdirAll(PidDir(root), 0o755)
	me := os.Getpid()
	rec := `{"pid":` + strconv.Itoa(me) + `,"startTicks":1,"role":"webserver","index":0,"runner":999999999,"runnerStart":1}`
	os.WriteFile(filepath.Join(PidDir(root), "webserver-0-"+strconv.Itoa(me)+".json"), []byte(rec), 0o644)
	res, err := Cleanup(context.Background(), root, false)
	if err != nil || len(res.Gone) != 1 || len(res.Killed) != 0 {
		t.Fatalf("cleanup: %+v %v", res, err)
	}
	if left, _ := listPidfiles(root); len(left) != 0 {
		t.Errorf("pidfiles left: %v", left)
	}
}
