package proc

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/rwxchaos/rwxchaos/framework/history"
	"github.com/rwxchaos/rwxchaos/framework/procid"
)

// Process states as Processes reports them.
const (
	StateRunning = "running"
	StatePaused  = "paused" // SIGSTOPped by Pause
	StateExited  = "exited"
)

// ProcInfo describes one child process.
type ProcInfo struct {
	Role    string    `json:"role"`
	Index   int       `json:"index"` // replica index; for engine runs the run number (from 1)
	PID     int       `json:"pid"`
	State   string    `json:"state"`            // running | paused | exited
	Kernel  string    `json:"kernel,omitempty"` // state letter from /proc (R, S, D, T, Z) while alive
	Started time.Time `json:"started"`
	Exited  time.Time `json:"exited,omitzero"`
	Status  string    `json:"status,omitempty"` // e.g. "exit status 0", "signal: killed"
	Code    int       `json:"code"`             // exit code; -1 when killed by a signal
	Args    []string  `json:"args"`
	Log     string    `json:"log"`
}

// Target is the runner-event target naming the process: role/index/pid.
func (i ProcInfo) Target() string { return fmt.Sprintf("%s/%d/%d", i.Role, i.Index, i.PID) }

// Process is one started child. Its methods are safe for concurrent use.
type Process struct {
	c       *Cluster
	cmd     *exec.Cmd
	done    chan struct{}
	pidfile string

	mu   sync.Mutex
	info ProcInfo
}

// Info returns the process's current description.
func (p *Process) Info() ProcInfo {
	p.mu.Lock()
	i := p.info
	p.mu.Unlock()
	if i.State != StateExited {
		i.Kernel = kernelState(i.PID)
	}
	return i
}

// Done is closed when the process has exited and been reaped.
func (p *Process) Done() <-chan struct{} { return p.done }

// Exited reports whether the process has exited.
func (p *Process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Wait waits for the process to exit and returns its final description.
func (p *Process) Wait(ctx context.Context) (ProcInfo, error) {
	select {
	case <-p.done:
		return p.Info(), nil
	case <-ctx.Done():
		i := p.Info()
		return i, fmt.Errorf("wait for %s (pid %d, log %s): %w", i.Target(), i.PID, i.Log, ctx.Err())
	}
}

// signal sends sig to the process's whole group (the child and anything it
// started), so a pause freezes all of it and a kill leaves nothing behind.
func (p *Process) signal(sig syscall.Signal) error {
	if p.Exited() {
		return nil
	}
	err := syscall.Kill(-p.info.PID, sig)
	if errors.Is(err, syscall.ESRCH) {
		return nil // exited between the check and the kill
	}
	if err != nil {
		return fmt.Errorf("send %v to process group %d (%s): %w", sig, p.info.PID, p.info.Role, err)
	}
	return nil
}

func (p *Process) setPaused(paused bool) {
	p.mu.Lock()
	if p.info.State != StateExited {
		p.info.State = StateRunning
		if paused {
			p.info.State = StatePaused
		}
	}
	p.mu.Unlock()
}

func (p *Process) paused() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.info.State == StatePaused
}

// terminate ends the process gracefully: resume it if paused, SIGTERM, and
// SIGKILL after grace. It returns once the process has exited.
func (p *Process) terminate(ctx context.Context, grace time.Duration) error {
	if p.Exited() {
		return nil
	}
	_ = p.signal(syscall.SIGCONT) // a stopped process cannot act on SIGTERM
	p.setPaused(false)
	if err := p.signal(syscall.SIGTERM); err != nil {
		return err
	}
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-p.done:
		return nil
	case <-t.C:
	case <-ctx.Done():
	}
	if err := p.signal(syscall.SIGKILL); err != nil {
		return err
	}
	<-p.done // SIGKILL cannot be ignored; the reaper closes done
	return nil
}

// kill SIGKILLs the process group and waits until the child is reaped.
func (p *Process) kill() error {
	if err := p.signal(syscall.SIGKILL); err != nil {
		return err
	}
	<-p.done
	return nil
}

// spawner starts every child from one OS thread that never exits: Linux
// delivers Pdeathsig when the thread that forked the child ends, not the
// process, and Go may retire idle threads.
var (
	spawnOnce sync.Once
	spawnCh   chan spawnReq
)

type spawnReq struct {
	cmd *exec.Cmd
	err chan error
}

func startOnSpawner(cmd *exec.Cmd) error {
	spawnOnce.Do(func() {
		spawnCh = make(chan spawnReq)
		go func() {
			runtime.LockOSThread() // never unlocked: the thread lives as long as the process
			for r := range spawnCh {
				r.err <- r.cmd.Start()
			}
		}()
	})
	r := spawnReq{cmd: cmd, err: make(chan error, 1)}
	spawnCh <- r
	return <-r.err
}

// pidRecord is the pidfile content; Cleanup uses it to find children of a
// runner that died without stopping them.
type pidRecord struct {
	PID         int    `json:"pid"` // also the process group id
	StartTicks  uint64 `json:"startTicks"`
	Role        string `json:"role"`
	Index       int    `json:"index"`
	Binary      string `json:"binary"`
	Runner      int    `json:"runner"`
	RunnerStart uint64 `json:"runnerStart"`
}

// spawn starts one child and the goroutine that reaps it.
func (c *Cluster) spawn(role string, idx int, args []string) (*Process, error) {
	logPath := filepath.Join(c.cfg.LogDir, fmt.Sprintf("%s-%d.log", role, idx))
	logf, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open log for %s %d: %w", role, idx, err)
	}
	defer logf.Close() // the child holds its own descriptor
	c.mu.Lock()
	if c.stopping() {
		c.mu.Unlock()
		return nil, errStopped
	}
	c.reapers.Add(1) // before Stop can wait on reapers: Stop cancels under mu
	c.mu.Unlock()
	started := false
	defer func() {
		if !started {
			c.reapers.Done()
		}
	}()
	cmd := exec.Command(c.cfg.Binary, append(slices.Clip(c.cfg.BinaryArgs), args...)...)
	cmd.Dir = c.cfg.Root
	cmd.Env = append(os.Environ(), c.cfg.Env...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	fmt.Fprintf(logf, "=== rwxchaos local: %s %d starting at %s: %s %s\n", role, idx,
		time.Now().UTC().Format(time.RFC3339Nano), c.cfg.Binary, strings.Join(append(slices.Clip(c.cfg.BinaryArgs), args...), " "))
	if err := startOnSpawner(cmd); err != nil {
		return nil, fmt.Errorf("start %s %d (%s): %w", role, idx, c.cfg.Binary, err)
	}
	started = true
	p := &Process{c: c, cmd: cmd, done: make(chan struct{})}
	p.info = ProcInfo{Role: role, Index: idx, PID: cmd.Process.Pid, State: StateRunning,
		Started: time.Now(), Args: args, Log: logPath}
	rec := pidRecord{PID: p.info.PID, StartTicks: startTicks(p.info.PID), Role: role, Index: idx,
		Binary: c.cfg.Binary, Runner: os.Getpid(), RunnerStart: startTicks(os.Getpid())}
	p.pidfile = filepath.Join(PidDir(c.cfg.Root), fmt.Sprintf("%s-%d-%d.json", role, idx, p.info.PID))
	if b, err := json.Marshal(rec); err == nil {
		if err := os.WriteFile(p.pidfile, b, 0o644); err != nil {
			c.logf("pidfile for %s: %v (Cleanup will not find this process)", p.info.Target(), err)
		}
	}
	c.journal(history.Event{Type: history.EvProcStart, Call: p.info.Started.UnixNano(), Target: p.info.Target(),
		Detail: fmt.Sprintf("pid=%d %s", p.info.PID, strings.Join(args, " "))})

	c.mu.Lock()
	c.live[p] = struct{}{}
	stop := c.stopping() // Stop already collected the live set: end this one here
	c.mu.Unlock()
	if stop {
		go p.terminate(context.Background(), c.cfg.StopGrace)
	}
	go func() {
		defer c.reapers.Done()
		err := cmd.Wait()
		now := time.Now()
		status, code := "exit status 0", 0
		if cmd.ProcessState != nil {
			status = cmd.ProcessState.String()
			code = cmd.ProcessState.ExitCode()
		} else if err != nil {
			status, code = err.Error(), -1
		}
		p.mu.Lock()
		p.info.State, p.info.Exited, p.info.Status, p.info.Code = StateExited, now, status, code
		p.mu.Unlock()
		os.Remove(p.pidfile)
		// The child's journal is <role>-<node>-<pid>-<nanos>.ndjson: name the
		// exit after its proc id so checkers tie it to the child's events.
		target, detail := p.info.Target(), status
		if id := c.childProcID(p.info); id != "" {
			target, detail = id, status+" ("+p.info.Target()+")"
		}
		c.journal(history.Event{Type: history.EvProcExit, Call: now.UnixNano(), Target: target, Detail: detail})
		c.exited(p)
		close(p.done)
	}()
	return p, nil
}

// procStat returns the fields of /proc/<pid>/stat after the command name
// (field 3, the state, is index 0).
func procStat(pid int) []string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return nil
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return nil
	}
	return strings.Fields(string(b[i+1:]))
}

// startTicks is the process start time in clock ticks since boot (field
// 22; see procid); with the pid it identifies a process across pid reuse.
// 0 when there is no such process.
func startTicks(pid int) uint64 {
	st, _ := procid.StartTime(pid)
	return st
}

func kernelState(pid int) string {
	f := procStat(pid)
	if len(f) == 0 {
		return ""
	}
	return f[0]
}

// childProcID finds the proc id the child stamped on its journal
// (history.ProcID: role-node-pid-startnanos), or "".
func (c *Cluster) childProcID(i ProcInfo) string {
	ents, err := os.ReadDir(c.cfg.JournalDir)
	if err != nil {
		return ""
	}
	prefix := fmt.Sprintf("%s-%s-%d-", i.Role, c.cfg.Node, i.PID)
	best, bestNanos := "", int64(0)
	for _, e := range ents {
		name, ok := strings.CutSuffix(e.Name(), ".ndjson")
		if !ok || !strings.HasPrefix(name, prefix) {
			continue
		}
		nanos, err := strconv.ParseInt(name[len(prefix):], 10, 64)
		// A reused pid's old journal started before this process did.
		if err != nil || nanos < i.Started.Add(-time.Second).UnixNano() || nanos < bestNanos {
			continue
		}
		best, bestNanos = name, nanos
	}
	return best
}
