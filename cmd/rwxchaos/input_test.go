package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/rwxchaos/rwxchaos/framework/support"
)

// Bad input ends in exit 2 within a second with one clear message, for
// validate and for run (which must not start anything).
func TestBadInputFailsFast(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "scenario.yaml")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	var big bytes.Buffer
	big.WriteString("apiVersion: rwxchaos.dev/v1alpha1\nkind: Scenario\nmetadata: {name: many}\ncluster: {provider: local}\nfaults:\n")
	for i := 0; i < 200_000; i++ {
		fmt.Fprintf(&big, "  - {name: f%d, action: process-kill, target: {role: engine}}\n", i)
	}
	huge := filepath.Join(dir, "200k-faults.yaml")
	os.WriteFile(huge, big.Bytes(), 0o644)
	big.Reset()
	big.WriteString("apiVersion: rwxchaos.dev/v1alpha1\nkind: Scenario\nmetadata: {name: many}\ncluster: {provider: local}\nfaults:\n")
	for i := 0; i < 5000; i++ {
		fmt.Fprintf(&big, "  - {name: f%d, action: node-kill, target: {role: engine}}\n", i)
	}
	many := filepath.Join(dir, "5k-faults.yaml")
	os.WriteFile(many, big.Bytes(), 0o644)
	var broken bytes.Buffer
	broken.WriteString("apiVersion: rwxchaos.dev/v1alpha1\nkind: Scenario\nmetadata: {name: x}\ncluster: {provider: local}\nworkload:\n  traffic:\n    routes:\n")
	for i := 0; i < 120; i++ {
		fmt.Fprintf(&broken, "      - \"bad route %d\"\n", i)
	}
	manyErrs := filepath.Join(dir, "120-errors.yaml")
	os.WriteFile(manyErrs, broken.Bytes(), 0o644)

	for _, tc := range []struct {
		name, arg, want string
	}{
		{"fifo", fifo, "is a named pipe (FIFO), not a regular file"},
		{"dev-zero", "/dev/zero", "is a character device, not a regular file"},
		{"directory", dir, "is a directory, not a regular file"},
		{"200k faults", huge, "a scenario file is at most 1048576 (1 MiB)"},
		{"5k faults", many, "holds 5000 faults; a scenario holds at most 1000"},
		{"120 errors", manyErrs, "... and 70 more errors"},
		{"missing file", "./typo.yaml", "./typo.yaml: no such file"},
		{"missing file in a dir", "../../scenarios/library/engine-killed-mid-rum.yaml", "did you mean ../../scenarios/library/engine-killed-mid-run.yaml?"},
		{"library typo", "engine-killed-mid-rum", "did you mean engine-killed-mid-run?"},
		{"storage-pause on backend local", "../../framework/scenario/testdata/invalid/storage-pause-on-backend-local.yaml", "use storage backend fuse"},
		{"lock-holder without a lock", "../../framework/scenario/testdata/invalid/lock-holder-without-lock.yaml", "there is no lock holder"},
	} {
		for _, verb := range []string{"validate", "run"} {
			t.Run(tc.name+"/"+verb, func(t *testing.T) {
				tmp := t.TempDir()
				env := []string{"RWXCHAOS_CACHE=" + filepath.Join(tmp, "cache"), "RWXCHAOS_STATE=" + filepath.Join(tmp, "state")}
				args := []string{verb, tc.arg}
				if verb == "run" {
					args = append(args, "--report-dir", filepath.Join(tmp, "reports"))
				}
				start := time.Now()
				stdout, stderr, code := cliTimeout(t, 10*time.Second, env, args...)
				took := time.Since(start)
				if code != exitUsage {
					t.Errorf("exit %d, want 2\nstdout: %s\nstderr: %s", code, stdout, stderr)
				}
				if !strings.Contains(stderr, tc.want) {
					t.Errorf("stderr lacks %q:\n%.2000s", tc.want, stderr)
				}
				if lines := strings.Count(strings.TrimSpace(stderr), "\n") + 1; lines > 53 {
					t.Errorf("%d lines of errors; the first 50 and a count are enough", lines)
				}
				// Failing fast means not reading what it must refuse (a
				// FIFO, /dev/zero, a 200k-fault file): cliTimeout's 10 s
				// deadline fails a read that hangs. A wall-clock bound of
				// a second failed on a machine at load 15 and measured
				// only the machine; the time is logged.
				t.Logf("took %s", took.Round(time.Millisecond))
				if verb == "run" {
					if ents, _ := os.ReadDir(filepath.Join(tmp, "reports")); len(ents) > 0 {
						t.Errorf("run started (report dir written) on bad input")
					}
				}
			})
		}
	}
}

// cliTimeout is cli with a deadline: a hang is a failure, not a stuck test.
func cliTimeout(t *testing.T, d time.Duration, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(cliBin, args...)
	cmd.Env = append(os.Environ(), env...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(d):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("rwxchaos %s hung for %s:\n%s%s", strings.Join(args, " "), d, o.String(), e.String())
	}
	return o.String(), e.String(), cmd.ProcessState.ExitCode()
}

// validate prints "runs only where ..." (exit 0) for a scenario that needs
// what this host lacks: here a local fuse scenario as a non-root user.
func TestValidateNoticeForMissingCapability(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to run the CLI as another user")
	}
	dir, err := os.MkdirTemp("", "rwxchaos-nobody")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	os.Chmod(dir, 0o755) // the other user must reach the binary
	bin := filepath.Join(dir, "rwxchaos")
	b, err := os.ReadFile(cliBin)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(bin, b, 0o755)
	cmd := exec.Command(bin, "validate", "local-storage-paused")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	cmd.Env = []string{"HOME=" + dir, "PATH=/usr/bin:/bin"}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("validate as nobody: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "notice: runs only where the runner is root and /dev/fuse exists") || !strings.Contains(string(out), "not root") {
		t.Errorf("no capability notice:\n%s", out)
	}
}

// --dry-run prints what local and kind would create and do, creates
// nothing, and ends void (exit 3) — it is never ignored.
func TestDryRun(t *testing.T) {
	for _, tc := range []struct{ scenario, want string }{
		{"engine-paused-past-lease", "provider local on host"},
		{"node-kill-engine-node", "provider kind: would create cluster"},
		{"local-publisher-killed", "processes: a publisher (--files 4"},
		{"publisher-node-killed", "kind: DaemonSet"},
		{"storage-restarted", "backend nfs: would start nfs-ganesha"},
	} {
		t.Run(tc.scenario, func(t *testing.T) {
			if tc.scenario == "storage-restarted" && support.NFSClient.Check() != nil {
				t.Skipf("this host has no NFS client for the nodes: %v", support.NFSClient.Check())
			}
			tmp := t.TempDir()
			cache := filepath.Join(tmp, "cache")
			env := []string{"RWXCHAOS_CACHE=" + cache, "RWXCHAOS_STATE=" + filepath.Join(tmp, "state")}
			stdout, stderr, code := cliTimeout(t, 30*time.Second, env, "run", tc.scenario, "--dry-run", "-q", "--report-dir", filepath.Join(tmp, "reports"))
			if code != exitInfra {
				t.Errorf("exit %d, want 3 (void)\n%s\n%s", code, stdout, stderr)
			}
			for _, want := range []string{tc.want, "faults (from steady state", "steady+", "Dry run: nothing was created", "host check:"} {
				if !strings.Contains(stdout, want) {
					t.Errorf("plan lacks %q:\n%s", want, stdout)
				}
			}
			if !strings.Contains(stderr, "void — dry run") {
				t.Errorf("stderr: %s", stderr)
			}
			if ents, _ := os.ReadDir(cache); len(ents) > 0 {
				t.Errorf("dry run created %s/%s", cache, ents[0].Name())
			}
		})
	}
}

// syncBuffer is a bytes.Buffer safe to read while a process writes to it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// waitFor polls until out contains s, or fails.
func waitFor(t *testing.T, out *syncBuffer, s string, d time.Duration) {
	t.Helper()
	err := wait.PollUntilContextTimeout(context.Background(), 20*time.Millisecond, d, true, func(context.Context) (bool, error) {
		return strings.Contains(out.String(), s), nil
	})
	if err != nil {
		t.Fatalf("no %q within %s:\n%s", s, d, out.String())
	}
}

// SIGTERM is honoured after healing (the run ends by itself, nothing left
// behind); a second Ctrl-C exits at once, and cleanup heals what is left.
func TestSignals(t *testing.T) {
	for _, tc := range []struct {
		name    string
		signals []syscall.Signal
		want    string
		within  time.Duration
	}{
		{"sigterm-heals-then-exits", []syscall.Signal{syscall.SIGTERM}, "stopping — healing faults", 60 * time.Second},
		{"second-sigint-exits-at-once", []syscall.Signal{syscall.SIGINT, syscall.SIGINT}, "second interrupt: exiting now without healing", 2 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tmp := t.TempDir()
			cache, state := filepath.Join(tmp, "cache"), filepath.Join(tmp, "state")
			env := []string{"RWXCHAOS_CACHE=" + cache, "RWXCHAOS_STATE=" + state}
			cmd := exec.Command(cliBin, "run", "engine-paused-past-lease", "--report-dir", filepath.Join(tmp, "reports"))
			cmd.Env = append(os.Environ(), env...)
			var out syncBuffer
			cmd.Stdout, cmd.Stderr = &out, &out
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			defer func() {
				_ = cmd.Process.Kill()
				cli(t, env, "cleanup")
			}()
			// While the lock holder is paused: the fault is active.
			waitFor(t, &out, "fault freeze-lock-holder: process-pause", 60*time.Second)
			for i, sig := range tc.signals {
				if err := cmd.Process.Signal(sig); err != nil {
					t.Fatal(err)
				}
				if i == 0 {
					waitFor(t, &out, "stopping — healing faults", 5*time.Second)
				}
			}
			select {
			case <-done:
			case <-time.After(tc.within):
				t.Fatalf("still running %s after %v:\n%s", tc.within, tc.signals, out.String())
			}
			if code := cmd.ProcessState.ExitCode(); code != exitInfra {
				t.Errorf("exit %d, want 3", code)
			}
			if !strings.Contains(out.String(), tc.want) {
				t.Errorf("output lacks %q:\n%s", tc.want, out.String())
			}
			if len(tc.signals) == 1 {
				// Healed by itself: nothing left for cleanup.
				if left := leftovers(cache); len(left) > 0 {
					t.Errorf("processes left after SIGTERM: %v", left)
				}
				if sts, _ := filepath.Glob(filepath.Join(state, "faults", "*.json")); len(sts) > 0 {
					t.Errorf("fault state left after SIGTERM: %v", sts)
				}
				return
			}
			// Forced out mid-fault: cleanup heals the paused holder.
			o, e, code := cli(t, env, "cleanup")
			if code != 0 {
				t.Fatalf("cleanup exit %d: %s %s", code, o, e)
			}
		})
	}
}
