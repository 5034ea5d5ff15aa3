package proc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// CleanupResult says what Cleanup found and did.
type CleanupResult struct {
	// Killed lists the processes (role/index/pid) that were still alive and
	// were resumed and killed.
	Killed []string
	// Gone lists pidfiles whose process had already exited.
	Gone []string
	// Skipped lists processes left alone because their runner is still
	// alive (a run in progress), with the reason.
	Skipped []string
}

func listPidfiles(root string) ([]string, error) {
	m, err := filepath.Glob(filepath.Join(PidDir(root), "*.json"))
	if err != nil {
		return nil, err
	}
	return m, nil
}

// Cleanup finds the children of an interrupted local run on root (from the
// pidfiles under root/.rwxchaos/pids), resumes their process groups (a
// SIGSTOPped process would otherwise stay frozen) and SIGKILLs them, then
// removes the pidfiles. Processes whose runner is still alive belong to a run
// in progress and are skipped unless force is set. `rwxchaos cleanup` calls
// this.
func Cleanup(ctx context.Context, root string, force bool) (*CleanupResult, error) {
	files, err := listPidfiles(root)
	if err != nil {
		return nil, fmt.Errorf("local cleanup: list pidfiles in %s: %w", PidDir(root), err)
	}
	res := &CleanupResult{}
	var errs []error
	for _, f := range files {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		b, err := os.ReadFile(f)
		if err != nil {
			errs = append(errs, fmt.Errorf("read %s: %w", f, err))
			continue
		}
		var r pidRecord
		if err := json.Unmarshal(b, &r); err != nil || r.PID <= 0 {
			errs = append(errs, fmt.Errorf("pidfile %s does not parse (%v): inspect and delete it by hand", f, err))
			continue
		}
		name := fmt.Sprintf("%s/%d/%d", r.Role, r.Index, r.PID)
		if r.Runner != os.Getpid() && r.Runner > 0 && startTicks(r.Runner) == r.RunnerStart && r.RunnerStart != 0 && !force {
			res.Skipped = append(res.Skipped, fmt.Sprintf("%s: its runner (pid %d) is still running; stop it, or force", name, r.Runner))
			continue
		}
		ticks := startTicks(r.PID)
		if kernelState(r.PID) == "Z" {
			ticks = 0 // dead, not yet reaped by its new parent
		}
		switch {
		case ticks == 0:
			// The leader is gone; its group may still hold children (a
			// jobqueue's engine run). Resume and kill whatever is left.
			if groupAlive(r.PID) {
				_ = syscall.Kill(-r.PID, syscall.SIGCONT)
				_ = syscall.Kill(-r.PID, syscall.SIGKILL)
				res.Killed = append(res.Killed, name+" (group members)")
			} else {
				res.Gone = append(res.Gone, name)
			}
		case ticks != r.StartTicks:
			// The child is gone and its pid reused: nothing of ours to end.
			res.Gone = append(res.Gone, name+" (pid since reused)")
		default:
			_ = syscall.Kill(-r.PID, syscall.SIGCONT)
			if err := syscall.Kill(-r.PID, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
				errs = append(errs, fmt.Errorf("kill %s: %w", name, err))
				continue
			}
			waitGone(ctx, r.PID, r.StartTicks)
			res.Killed = append(res.Killed, name)
		}
		if err := os.Remove(f); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, fmt.Errorf("remove %s: %w", f, err))
		}
	}
	if len(errs) > 0 {
		return res, fmt.Errorf("local cleanup of %s: %w", root, errors.Join(errs...))
	}
	return res, nil
}

// groupAlive reports whether a live (not zombie) process is in process
// group pgid.
func groupAlive(pgid int) bool {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return syscall.Kill(-pgid, 0) == nil
	}
	want := strconv.Itoa(pgid)
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if f := procStat(pid); len(f) > 2 && f[2] == want && f[0] != "Z" {
			return true
		}
	}
	return false
}

// waitGone waits briefly for a killed process to disappear (or become a
// zombie of a parent that is gone).
func waitGone(ctx context.Context, pid int, ticks uint64) {
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		if startTicks(pid) != ticks || strings.HasPrefix(kernelState(pid), "Z") {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}
