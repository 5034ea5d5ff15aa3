package kind

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/rwxchaos/rwxchaos/framework/scenario"
)

// kindWorkerIndex is the index (from 1) kind gave a worker node: its name
// ends in -worker (1), -worker2 (2), ...; 0 when it ends in neither.
func kindWorkerIndex(name string) int {
	i := strings.LastIndex(name, "-worker")
	if i < 0 {
		return 0
	}
	suffix := name[i+len("-worker"):]
	if suffix == "" {
		return 1
	}
	n, err := strconv.Atoi(suffix)
	if err != nil || n < 2 || suffix[0] == '0' {
		return 0
	}
	return n
}

// sortWorkers orders worker names by kind's index (worker, worker2, ...,
// worker10), not alphabetically (which puts worker10 before worker2).
func sortWorkers(workers []string) {
	slices.SortFunc(workers, func(a, b string) int {
		if d := kindWorkerIndex(a) - kindWorkerIndex(b); d != 0 {
			return d
		}
		return strings.Compare(a, b)
	})
}

// nodeByRef maps a scenario's node reference (control-plane, worker-1, ...)
// to the name of that node in the cluster the run got.
func nodeByRef(ref, cp string, workers []string) (string, error) {
	i, ok := scenario.ParseNodeRef(ref)
	if !ok {
		return "", fmt.Errorf("no node %q: address nodes by role and index (control-plane, worker-1 … worker-%d); this cluster's nodes are %s, %s",
			ref, len(workers), cp, strings.Join(workers, ", "))
	}
	if i == 0 {
		if cp == "" {
			return "", fmt.Errorf("no control-plane node in this cluster (nodes: %s)", strings.Join(workers, ", "))
		}
		return cp, nil
	}
	for _, w := range workers {
		if kindWorkerIndex(w) == i {
			return w, nil
		}
	}
	return "", fmt.Errorf("no node %s: this cluster has %d workers (%s)", ref, len(workers), strings.Join(workers, ", "))
}
