package scenario

import "testing"

func TestNodeRefs(t *testing.T) {
	for ref, want := range map[string]int{"control-plane": 0, "worker-1": 1, "worker-2": 2, "worker-10": 10} {
		if got, ok := ParseNodeRef(ref); !ok || got != want {
			t.Errorf("ParseNodeRef(%q) = %d, %v; want %d, true", ref, got, ok, want)
		}
	}
	for _, bad := range []string{"", "worker", "worker-", "worker-0", "worker-01", "worker--1", "worker-x", "rwxchaos-worker", "worker1", "controlplane"} {
		if _, ok := ParseNodeRef(bad); ok {
			t.Errorf("ParseNodeRef(%q) accepted a reference that names no node", bad)
		}
	}
	for name, want := range map[string]string{
		"rwxchaos-worker": "worker-1", "rwxchaos-worker2": "worker-2", "rwxchaos-run-1a2b3c-worker12": "worker-12",
		"chaos-control-plane": "control-plane", "worker-1": "", "rwxchaos-worker1": "", "engine-node": "",
	} {
		if got := refForGenerated(name); got != want {
			t.Errorf("refForGenerated(%q) = %q, want %q", name, got, want)
		}
	}
	if got := WorkerRef(3); got != "worker-3" {
		t.Errorf("WorkerRef(3) = %q", got)
	}
}
