// Package procid names a process across pid reuse: its pid and its start
// time (field 22 of /proc/PID/stat, in clock ticks since boot). State files
// that outlive their runner (pidfiles, fault state, file-server records)
// store both, and cleanup signals a pid only while its start time still
// matches: a pid the kernel has since given to another process is left
// alone.
package procid

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// ID is one process: pid and start time. The zero Start means "unknown"
// (a record written before start times were kept).
type ID struct {
	Pid   int    `json:"pid"`
	Start uint64 `json:"start,omitempty"`
}

var (
	// ErrGone: no process has the pid (or only a zombie does).
	ErrGone = errors.New("process is gone")
	// ErrReused: the pid now belongs to another process.
	ErrReused = errors.New("pid now belongs to another process")
)

// procRoot is where /proc is; a variable so tests can fake it.
var procRoot = "/proc"

// stat returns the fields of /proc/<pid>/stat after the command name
// (index 0 is field 3, the state).
func stat(pid int) ([]string, error) {
	b, err := os.ReadFile(procRoot + "/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return nil, err
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return nil, fmt.Errorf("/proc/%d/stat does not parse", pid)
	}
	return bytes2fields(b[i+1:]), nil
}

func bytes2fields(b []byte) []string {
	var out []string
	for _, f := range bytes.Fields(b) {
		out = append(out, string(f))
	}
	return out
}

// StartTime is the process's start time in clock ticks since boot.
func StartTime(pid int) (uint64, error) {
	f, err := stat(pid)
	if err != nil {
		return 0, fmt.Errorf("pid %d: %w", pid, ErrGone)
	}
	if len(f) < 20 {
		return 0, fmt.Errorf("/proc/%d/stat has %d fields", pid, len(f)+2)
	}
	return strconv.ParseUint(f[19], 10, 64)
}

// Of identifies the running process pid.
func Of(pid int) (ID, error) {
	st, err := StartTime(pid)
	if err != nil {
		return ID{Pid: pid}, err
	}
	return ID{Pid: pid, Start: st}, nil
}

// Self identifies this process.
func Self() ID {
	id, _ := Of(os.Getpid())
	return id
}

// Check says whether id is still the same live process: nil, ErrGone (no
// such pid, or a zombie) or ErrReused (the pid names another process). An
// ID with no start time is only checked for being alive.
func (id ID) Check() error {
	if id.Pid <= 0 {
		return fmt.Errorf("pid %d: %w", id.Pid, ErrGone)
	}
	f, err := stat(id.Pid)
	if err != nil || len(f) < 20 || f[0] == "Z" || f[0] == "X" {
		return fmt.Errorf("pid %d: %w", id.Pid, ErrGone)
	}
	if id.Start == 0 {
		return nil
	}
	if st, _ := strconv.ParseUint(f[19], 10, 64); st != id.Start {
		return fmt.Errorf("pid %d started at tick %d, not %d: %w", id.Pid, st, id.Start, ErrReused)
	}
	return nil
}

// Alive reports whether id is still the same live process.
func (id ID) Alive() bool { return id.Check() == nil }

// Signal sends sig to id only if it is still the same process. It returns
// ErrGone or ErrReused (wrapped) instead of signalling a stranger.
func (id ID) Signal(sig syscall.Signal) error {
	if err := id.Check(); err != nil {
		return err
	}
	if err := syscall.Kill(id.Pid, sig); err != nil {
		if errors.Is(err, syscall.ESRCH) {
			return fmt.Errorf("pid %d: %w", id.Pid, ErrGone)
		}
		return fmt.Errorf("signal %d to pid %d: %w", sig, id.Pid, err)
	}
	return nil
}

// SignalGroup sends sig to the process group id leads. When the leader is
// gone its group may still hold members (which are still ours: Linux does
// not reuse a pid while it is a live group's id), so they are signalled;
// when the leader's pid belongs to another process, the group is long
// gone and nothing is signalled (ErrReused).
func (id ID) SignalGroup(sig syscall.Signal) error {
	err := id.Check()
	if errors.Is(err, ErrReused) {
		return err
	}
	if kerr := syscall.Kill(-id.Pid, sig); kerr != nil {
		if errors.Is(kerr, syscall.ESRCH) {
			return fmt.Errorf("process group %d: %w", id.Pid, ErrGone)
		}
		return fmt.Errorf("signal %d to process group %d: %w", sig, id.Pid, kerr)
	}
	return nil
}

// WaitStopped waits until every thread of process pid is in the stopped
// state: SIGSTOP takes effect asynchronously, and a thread still running
// can answer a request after the signal was sent. It gives up after d.
func WaitStopped(pid int, d time.Duration) error {
	deadline := time.Now().Add(d)
	for {
		tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/stat", pid))
		stopped := len(tasks) > 0
		for _, t := range tasks {
			b, err := os.ReadFile(t)
			if err != nil {
				continue // thread gone
			}
			// "pid (comm) S ...": the state follows the last ')'.
			i := strings.LastIndexByte(string(b), ')')
			if i < 0 || i+2 >= len(b) || (b[i+2] != 'T' && b[i+2] != 't') {
				stopped = false
				break
			}
		}
		if stopped {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("process %d not stopped %s after SIGSTOP", pid, d)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
