package scenario

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Scenario files address kind nodes by role and index — control-plane,
// worker-1, worker-2, ... — never by the names a cluster gives them: those
// carry the cluster's name, which differs per run (rwxchaos-run-1a2b3c-worker2)
// and per suite (one cluster shared by a night's scenarios). The provider
// maps a reference to the node of the cluster the run got.

// NodeControlPlane references the control-plane node.
const NodeControlPlane = "control-plane"

// WorkerRef is the reference of worker i, counted from 1: "worker-1" is the
// node kind names <cluster>-worker, "worker-2" is <cluster>-worker2, ...
func WorkerRef(i int) string { return "worker-" + strconv.Itoa(i) }

// ParseNodeRef reads a node reference: worker is the worker's index (from
// 1), or 0 for the control plane; ok is false when ref is neither.
func ParseNodeRef(ref string) (worker int, ok bool) {
	if ref == NodeControlPlane {
		return 0, true
	}
	n, found := strings.CutPrefix(ref, "worker-")
	if !found || n == "" || n[0] == '0' {
		return 0, false
	}
	i, err := strconv.Atoi(n)
	if err != nil || i < 1 {
		return 0, false
	}
	return i, true
}

// generatedName matches a name kind gives a node: <cluster>-control-plane,
// <cluster>-worker, <cluster>-worker2, ...
var generatedName = regexp.MustCompile(`^[a-z0-9][-a-z0-9]*-(control-plane|worker([0-9]*))$`)

// refForGenerated returns the reference a generated node name stands for
// ("rwxchaos-worker2" → "worker-2"), or "" when name is not one.
func refForGenerated(name string) string {
	m := generatedName.FindStringSubmatch(name)
	switch {
	case m == nil:
		return ""
	case m[1] == NodeControlPlane:
		return NodeControlPlane
	case m[2] == "":
		return WorkerRef(1)
	}
	i, err := strconv.Atoi(m[2])
	if err != nil || i < 2 {
		return ""
	}
	return WorkerRef(i)
}

// kindNodes lists the node references of the kind cluster the scenario
// runs on: the control plane first, then the workers.
func (s *Scenario) kindNodes() []string {
	nodes := []string{NodeControlPlane}
	for i := 1; i <= s.Cluster.Kind.Workers; i++ {
		nodes = append(nodes, WorkerRef(i))
	}
	return nodes
}

// NodeNames lists the node references of a kind scenario's cluster
// (control-plane, worker-1, ..., worker-N): what target.node, from and to
// accept. It is empty for other providers.
func (s *Scenario) NodeNames() []string {
	if s.Cluster.Provider != ProviderKind {
		return nil
	}
	return s.kindNodes()
}

// nodeRef checks a node reference of a kind scenario at path p; keywords
// are the other words allowed there (partition endpoints), for the message.
func (v *validator) nodeRef(p, ref string, keywords []string) {
	nodes := v.s.kindNodes()
	if contains(nodes, ref) {
		return
	}
	valid := strings.Join(nodes, ", ")
	if len(keywords) > 0 {
		valid = strings.Join(keywords, ", ") + ", or a node: " + valid
	}
	if r := refForGenerated(ref); r != "" {
		hint := "use " + r
		if !contains(nodes, r) {
			hint = "valid: " + strings.Join(nodes, ", ")
		}
		v.errf(p, "%q is a name a cluster gave its node, but every run gets its own cluster (nodes rwxchaos-run-<id>-worker, -worker2, ...): address nodes by role and index; %s", clip(ref), hint)
		return
	}
	if i, ok := ParseNodeRef(ref); ok && i > v.s.Cluster.Kind.Workers {
		v.errf(p, "%q is not a node of the kind cluster: it has %d workers (cluster.kind.workers); valid: %s", clip(ref), v.s.Cluster.Kind.Workers, valid)
		return
	}
	v.errf(p, "%q is not a node of the kind cluster%s; valid: %s", clip(ref), suggest(ref, nodes), valid)
}

// nodesDownPastEviction: a scenario that asks for rescheduling
// (expect.rescheduledWithin written in the file) must keep its failed nodes
// down past the eviction floor; shorter, the node is back before Kubernetes
// moves anything and its pods restart where they were — as two-nodes-killed
// (killed and restarted at once) and rolling-worker-restart (45 s down
// under a 50 s floor) did. Without the expectation written, a short node
// fault is fine (the default expectation only judges pods that were
// evicted).
func (v *validator) nodesDownPastEviction(floor time.Duration) {
	var short []int
	for i, f := range v.s.Faults {
		switch f.Action {
		case ActionNodeKill, ActionNodeStop, ActionNodePause, ActionPartition:
		default:
			continue
		}
		if f.Duration.D() > floor {
			// One fault that outlasts the floor evicts pods: the
			// expectation has something to judge, and shorter node faults
			// beside it (a freeze shorter than a lock's TTL) are fine.
			return
		}
		if f.Action != ActionPartition {
			short = append(short, i)
		}
	}
	for _, i := range short {
		f := v.s.Faults[i]
		p := fmt.Sprintf("faults[%d].duration", i)
		v.errf(p, "%s keeps the node down %s, but Kubernetes only evicts its pods after nodeMonitorGracePeriod + unreachableTolerationSeconds (%s), and no fault of this scenario lasts longer: the node is back first, its pods restart where they were and expect.rescheduledWithin cannot be met; keep it down longer than %s, allowing time for the replacements too, shorten cluster.timings, or drop expect.rescheduledWithin",
			f.Action, f.Duration, floor, floor)
	}
}
