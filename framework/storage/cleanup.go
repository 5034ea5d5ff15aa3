package storage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/rwxchaos/rwxchaos/framework/procid"
	"github.com/rwxchaos/rwxchaos/framework/selfexec"
)

// Cleanup stops the fuse servers of an interrupted run whose state directory
// (FuseConfig.Dir) is dir: it resumes and terminates every server named in
// dir/run/*.json, then lazily unmounts whatever is still mounted on the
// mountpoints listed in dir/mounts.json (dead servers' stale mounts, the
// guards). It returns what it
// did, one line each. Safe to run on a directory with nothing left.
func Cleanup(ctx context.Context, dir string) ([]string, error) {
	files, err := filepath.Glob(filepath.Join(dir, "run", "*.json"))
	if err != nil {
		return nil, err
	}
	var (
		did  []string
		errs []error
	)
	mounts := map[string]bool{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		var r struct {
			Pid        int
			StartTicks uint64
			Mount      string
		}
		if err := json.Unmarshal(b, &r); err != nil {
			errs = append(errs, fmt.Errorf("%s does not parse (%v): delete it and unmount by hand", f, err))
			continue
		}
		if r.Mount != "" {
			mounts[r.Mount] = true
		}
		// The server by pid and start time; a record from before start
		// times were kept falls back to the command name.
		id := procid.ID{Pid: r.Pid, Start: r.StartTicks}
		switch err := id.Check(); {
		case r.Pid <= 0 || err != nil:
			if errors.Is(err, procid.ErrReused) {
				did = append(did, fmt.Sprintf("fuse server pid %d on %s is gone (the pid now names another process: left alone)", r.Pid, r.Mount))
			}
		case r.StartTicks == 0 && !isFuseServer(r.Pid):
		default:
			_ = id.Signal(syscall.SIGCONT)
			_ = id.Signal(syscall.SIGTERM)
			if !waitGone(ctx, r.Pid, 5*time.Second) {
				_ = id.Signal(syscall.SIGKILL)
			}
			did = append(did, fmt.Sprintf("stopped fuse server pid %d on %s", r.Pid, r.Mount))
		}
		_ = os.Remove(f)
	}
	// Every mountpoint the server set up (its guard stays when the server is
	// gone), and the default ones.
	if b, err := os.ReadFile(filepath.Join(dir, mountsFile)); err == nil {
		var ms []string
		if err := json.Unmarshal(b, &ms); err != nil {
			errs = append(errs, fmt.Errorf("%s does not parse (%v): unmount its mountpoints by hand", mountsFile, err))
		}
		for _, m := range ms {
			mounts[m] = true
		}
	}
	if ms, _ := filepath.Glob(filepath.Join(dir, "mnt", "*")); ms != nil {
		for _, m := range ms {
			mounts[m] = true
		}
	}
	for m := range mounts {
		if !Mounted(m) {
			continue
		}
		if err := unmountAll(m); err != nil {
			errs = append(errs, err)
			continue
		}
		did = append(did, "unmounted "+m)
	}
	return did, errors.Join(errs...)
}

// isFuseServer reports whether pid runs the fuse server, `rwxchaos __fuse`
// or rwxchaos-fuse (pids get reused).
func isFuseServer(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return false
	}
	return selfexec.Fuse.Runs(strings.Split(strings.TrimSuffix(string(b), "\x00"), "\x00"))
}

func waitGone(ctx context.Context, pid int, d time.Duration) bool {
	end := time.Now().Add(d)
	for time.Now().Before(end) && ctx.Err() == nil {
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
			return true
		}
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if i := strings.LastIndexByte(string(b), ')'); i > 0 && i+2 < len(b) && b[i+2] == 'Z' {
			return true
		}
		time.Sleep(20 * time.Millisecond)
	}
	return false
}
