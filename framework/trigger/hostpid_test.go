package trigger

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A caller reported by a file server inside a container (pid 7 in node A)
// is found among the host's processes by its NSpid at the container's
// level and the container id its cgroup names first; another container's
// pid 7 and a process of the host are not it.
func TestHostPid(t *testing.T) {
	proc := t.TempDir()
	nodeA := strings.Repeat("a", 64)
	nodeB := strings.Repeat("b", 64)
	write := func(rel, content string) {
		t.Helper()
		p := filepath.Join(proc, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	proc1 := func(dir string, nspid []int, node string, tasks map[int][]int) {
		var ns []string
		for _, n := range nspid {
			ns = append(ns, fmt.Sprint(n))
		}
		write(dir+"/status", "Name:\tedi-pipeline\nState:\tS\nNSpid:\t"+strings.Join(ns, "\t")+"\n")
		cg := "12:freezer:/\n"
		if node != "" {
			cg = "12:freezer:/docker/" + node + "/kubepods/besteffort/pod11111111-2222-3333-4444-555555555555/" + strings.Repeat("c", 64) + "\n"
		}
		write(dir+"/cgroup", cg)
		for tid, tns := range tasks {
			var s []string
			for _, n := range tns {
				s = append(s, fmt.Sprint(n))
			}
			write(fmt.Sprintf("%s/task/%d/status", dir, tid), "NSpid:\t"+strings.Join(s, "\t")+"\n")
		}
	}
	proc1("900", []int{900, 1}, nodeA, nil)                                                        // node A's init
	proc1("4000", []int{4000, 7, 1}, nodeB, nil)                                                   // pid 7 in node B
	proc1("5000", []int{5000, 7, 1}, nodeA, map[int][]int{5000: {5000, 7, 1}, 5003: {5003, 9, 3}}) // pid 7 in node A
	proc1("7", []int{7}, "", nil)                                                                  // the host's own pid 7
	write("self/status", "NSpid:\t1\n")

	ns, err := NSpid(proc, "900")
	if err != nil || len(ns) != 2 {
		t.Fatalf("NSpid of the node's init: %v %v", ns, err)
	}
	level := len(ns) - 1
	pid, tid, err := HostPid(proc, nodeA, level, 7, 9)
	if err != nil || pid != 5000 || tid != 5003 {
		t.Fatalf("HostPid(A, 7, 9) = %d, %d, %v; want 5000, 5003", pid, tid, err)
	}
	if pid, tid, err = HostPid(proc, nodeB, level, 7, 7); err != nil || pid != 4000 || tid != 4000 {
		t.Fatalf("HostPid(B, 7, 7) = %d, %d, %v; want 4000, 4000", pid, tid, err)
	}
	if _, _, err = HostPid(proc, nodeA, level, 8, 8); err == nil || !strings.Contains(err.Error(), "no process has pid 8") {
		t.Fatalf("HostPid of a pid nobody has: %v", err)
	}
	if _, _, err = HostPid(proc, nodeA, level, 7, 10); err == nil || !strings.Contains(err.Error(), "no thread 10") {
		t.Fatalf("HostPid of a thread the process lacks: %v", err)
	}
	if _, _, err = HostPid(proc, nodeA, 0, 7, 7); err == nil {
		t.Fatal("HostPid at level 0 (no translation needed) did not refuse")
	}
}
