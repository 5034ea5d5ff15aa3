package kind

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/rwxchaos/rwxchaos/framework/provider"
)

// clockExec runs a command in a node container and returns its output
// (docker exec); tests replace it.
var clockExec = func(ctx context.Context, node string, args ...string) (string, error) {
	return docker(ctx, append([]string{"exec", node}, args...)...)
}

// ClockOffsets implements provider.ClockProber: each node's clock is read
// with `docker exec <node> date +%s%N`, bracketed by two reads of the
// runner's clock. The offset is the node's reading minus the midpoint of
// the bracket; the whole round trip is the uncertainty (the reading was
// taken somewhere inside it). A node that cannot be probed (stopped,
// paused) is left out and named in the error.
func (e *Env) ClockOffsets(ctx context.Context) (map[string]provider.ClockOffset, error) {
	nodes := append([]string{}, e.workers...)
	if e.cpNode != "" {
		nodes = append(nodes, e.cpNode)
	}
	sort.Strings(nodes)
	return probeClocks(ctx, nodes, time.Now)
}

func probeClocks(ctx context.Context, nodes []string, now func() time.Time) (map[string]provider.ClockOffset, error) {
	out := map[string]provider.ClockOffset{}
	var errs []error
	for _, n := range nodes {
		pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		start := now()
		s, err := clockExec(pctx, n, "date", "+%s%N")
		end := now()
		cancel()
		if err != nil {
			errs = append(errs, fmt.Errorf("clock of %s: %w", n, err))
			continue
		}
		ns, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
		if err != nil || ns <= 0 {
			errs = append(errs, fmt.Errorf("clock of %s: `date +%%s%%N` printed %q, not nanoseconds", n, strings.TrimSpace(s)))
			continue
		}
		rtt := end.Sub(start)
		mid := start.Add(rtt / 2)
		out[n] = provider.ClockOffset{Offset: time.Duration(ns - mid.UnixNano()), Uncertainty: rtt, Start: start, End: end}
	}
	return out, errors.Join(errs...)
}
