package trigger

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Signal bits in /proc/PID/status masks (bit n-1 for signal n).
const (
	sigKillBit = 1 << (9 - 1)
	sigStopBit = 1 << (19 - 1)
)

// taskStatus is what the runner reads of one thread in /proc.
type taskStatus struct {
	State          byte
	SigPnd, ShdPnd uint64
}

func readTask(proc string, pid, tid int) (taskStatus, bool) {
	p := fmt.Sprintf("%s/%d/status", proc, tid)
	if pid != tid && pid > 0 {
		p = fmt.Sprintf("%s/%d/task/%d/status", proc, pid, tid)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return taskStatus{}, false
	}
	var st taskStatus
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		switch k {
		case "State":
			if v != "" {
				st.State = v[0]
			}
		case "SigPnd":
			st.SigPnd, _ = strconv.ParseUint(v, 16, 64)
		case "ShdPnd":
			st.ShdPnd, _ = strconv.ParseUint(v, 16, 64)
		}
	}
	return st, true
}

// Doomed reports whether the calling thread tid of process pid can no
// longer run code of its own: it is gone or a zombie, or SIGKILL is
// pending for it (it dies on its way back from the call, before running
// another instruction of the program).
func Doomed(pid, tid int) bool { return doomed("/proc", pid, tid) }

func doomed(proc string, pid, tid int) bool {
	st, ok := readTask(proc, pid, tid)
	if !ok || st.State == 'Z' || st.State == 'X' {
		return true
	}
	return (st.SigPnd|st.ShdPnd)&sigKillBit != 0
}

// Stopping reports whether process pid is stopping or stopped (SIGSTOP):
// the calling thread tid, blocked in the held call, cannot stop until the
// call returns, so it counts as stopping when SIGSTOP is pending for it or
// every other thread of the process is stopped already (a group stop in
// progress, which tid joins on its way back).
func Stopping(pid, tid int) bool { return stopping("/proc", pid, tid) }

func stopping(proc string, pid, tid int) bool {
	st, ok := readTask(proc, pid, tid)
	if !ok {
		return false
	}
	if st.State == 'T' || st.State == 't' || (st.SigPnd|st.ShdPnd)&sigStopBit != 0 {
		return true
	}
	ents, err := os.ReadDir(fmt.Sprintf("%s/%d/task", proc, pid))
	if err != nil {
		return false
	}
	others := 0
	for _, e := range ents {
		t, err := strconv.Atoi(e.Name())
		if err != nil || t == tid {
			continue
		}
		ts, ok := readTask(proc, pid, t)
		if !ok {
			continue
		}
		if ts.State != 'T' && ts.State != 't' {
			return false
		}
		others++
	}
	return others > 0
}

// Freezing reports whether the cgroup freezer has started freezing the
// thread's cgroup (v1 freezer.state FREEZING or FROZEN; v2 cgroup.freeze
// set): it freezes on its way back from the held call.
func Freezing(tid int) bool { return freezing("/proc", "/sys/fs/cgroup", tid) }

func freezing(proc, cgroupfs string, tid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("%s/%d/cgroup", proc, tid))
	if err != nil {
		return false
	}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		switch {
		case strings.Contains(","+parts[1]+",", ",freezer,"):
			s, err := os.ReadFile(filepath.Join(cgroupfs, "freezer", parts[2], "freezer.state"))
			if err == nil {
				v := strings.TrimSpace(string(s))
				return v == "FREEZING" || v == "FROZEN"
			}
		case parts[0] == "0" && parts[1] == "":
			s, err := os.ReadFile(filepath.Join(cgroupfs, parts[2], "cgroup.freeze"))
			if err == nil && strings.TrimSpace(string(s)) == "1" {
				return true
			}
		}
	}
	return false
}

// PodUID returns the Kubernetes pod UID in a /proc/PID/cgroup text
// (kubepods/.../pod<uid>/... with the cgroupfs driver,
// kubepods-...-pod<uid_with_underscores>.slice with systemd), or "".
func PodUID(cgroup string) string {
	for _, line := range strings.Split(cgroup, "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 || !strings.Contains(parts[2], "kubepods") {
			continue
		}
		for _, el := range strings.Split(parts[2], "/") {
			el = strings.TrimSuffix(el, ".slice")
			i := strings.LastIndex(el, "pod")
			if i < 0 || (i > 0 && el[i-1] != '-') {
				continue
			}
			uid := strings.ReplaceAll(el[i+3:], "_", "-")
			if len(uid) == 36 && strings.Count(uid, "-") == 4 {
				return uid
			}
		}
	}
	return ""
}

// ContainerIDs returns the 64-hex ids in a cgroup text, outermost first:
// on kind, the node container's docker id and then the pod container's.
func ContainerIDs(cgroup string) []string {
	seen := map[string]bool{}
	var out []string
	for _, line := range strings.Split(cgroup, "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		for _, el := range strings.Split(parts[2], "/") {
			el = strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(el, "docker-"), "cri-containerd-"), ".scope")
			if len(el) == 64 && isHex(el) && !seen[el] {
				seen[el] = true
				out = append(out, el)
			}
		}
		if len(out) > 0 {
			return out
		}
	}
	return out
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// NSpid returns the NSpid line of /proc/<pid>/status under proc: the
// process's pid in its own pid namespace and in each one above it, as seen
// from proc's namespace outwards-in (the first is proc's own view).
func NSpid(proc, pid string) ([]int, error) {
	return nspid(fmt.Sprintf("%s/%s/status", proc, pid))
}

func nspid(path string) ([]int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		v, ok := strings.CutPrefix(line, "NSpid:")
		if !ok {
			continue
		}
		var out []int
		for _, f := range strings.Fields(v) {
			n, err := strconv.Atoi(f)
			if err != nil {
				return nil, fmt.Errorf("%s: NSpid %q does not parse", path, v)
			}
			out = append(out, n)
		}
		if len(out) > 0 {
			return out, nil
		}
	}
	return nil, fmt.Errorf("%s has no NSpid line", path)
}

// HostPid translates a caller reported by a file server that runs inside a
// container (the userspace NFS client in a kind node): pid and tid are
// numbers in that container's pid namespace, which sits at depth level
// below proc's; the container is the one whose id comes first in a
// process's cgroup (ContainerIDs). It returns the same process and thread
// as proc names them, or an error when no process matches.
func HostPid(proc, container string, level, pid, tid int) (hostPid, hostTid int, err error) {
	if level < 1 {
		return 0, 0, fmt.Errorf("pid namespace level %d: the container shares proc's namespace", level)
	}
	ents, err := os.ReadDir(proc)
	if err != nil {
		return 0, 0, err
	}
	for _, e := range ents {
		if e.Name()[0] < '0' || e.Name()[0] > '9' {
			continue
		}
		ns, err := nspid(filepath.Join(proc, e.Name(), "status"))
		if err != nil || len(ns) <= level || ns[level] != pid {
			continue
		}
		cg, err := os.ReadFile(filepath.Join(proc, e.Name(), "cgroup"))
		if err != nil {
			continue
		}
		if ids := ContainerIDs(string(cg)); len(ids) == 0 || ids[0] != container {
			continue
		}
		hostPid = ns[0]
		if tid == pid || tid == 0 {
			return hostPid, hostPid, nil
		}
		tasks, err := os.ReadDir(filepath.Join(proc, e.Name(), "task"))
		if err != nil {
			return 0, 0, err
		}
		for _, t := range tasks {
			tns, err := nspid(filepath.Join(proc, e.Name(), "task", t.Name(), "status"))
			if err == nil && len(tns) > level && tns[level] == tid {
				return hostPid, tns[0], nil
			}
		}
		return 0, 0, fmt.Errorf("process %d (pid %d in container %.12s) has no thread %d", hostPid, pid, container, tid)
	}
	return 0, 0, fmt.Errorf("no process has pid %d in container %.12s's pid namespace (it exited?)", pid, container)
}
