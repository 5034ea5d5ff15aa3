package check

import (
	"fmt"
	"time"

	"github.com/rwxchaos/rwxchaos/framework/history"
)

// clockModel holds what the runner measured of each node's clock: the
// offset (node clock − runner clock) as an interval [lo, hi] covering every
// measurement ± its uncertainty (so drift between the first and the last
// probe widens it). Events without a node are the runner's own, on the
// reference clock.
type clockModel struct {
	lo, hi map[string]int64
	probes int
	failed int
	skew   int64 // assumed bound for nodes not measured
}

func newClockModel(skew time.Duration) *clockModel {
	return &clockModel{lo: map[string]int64{}, hi: map[string]int64{}, skew: skew.Nanoseconds()}
}

func (c *clockModel) observe(e *history.Event) {
	if e.Outcome == history.Fail {
		c.failed++
		return
	}
	off, u, err := history.ParseClock(e.Detail)
	if err != nil {
		return // validated before: unreachable
	}
	c.probes++
	lo, hi := int64(off-u), int64(off+u)
	if old, ok := c.lo[e.Target]; !ok || lo < old {
		c.lo[e.Target] = lo
	}
	if old, ok := c.hi[e.Target]; !ok || hi > old {
		c.hi[e.Target] = hi
	}
}

func (c *clockModel) bounds(node string) (lo, hi int64, ok bool) {
	if node == "" {
		return 0, 0, true
	}
	lo, ok = c.lo[node]
	return lo, c.hi[node], ok
}

// ref maps a node's timestamp to the reference clock (the measured
// offset's midpoint; unmeasured nodes unchanged).
func (c *clockModel) ref(node string, t int64) int64 {
	lo, hi, ok := c.bounds(node)
	if !ok {
		return t
	}
	return t - (lo+hi)/2
}

// later reports whether the moment a (node na's clock) certainly came after
// the moment b (node nb's clock), and on what basis. Same node: its clock
// is compared with itself. Both measured: a's earliest reference time must
// exceed b's latest. Otherwise the assumed skew bound is the slack.
func (c *clockModel) later(na string, a int64, nb string, b int64) (bool, string) {
	if na == nb {
		return a > b, "one clock (" + nodeName(na) + ")"
	}
	_, ahi, aok := c.bounds(na)
	blo, _, bok := c.bounds(nb)
	if aok && bok {
		return a-ahi > b-blo, fmt.Sprintf("clocks of %s and %s as measured by the runner", nodeName(na), nodeName(nb))
	}
	return a-b > c.skew, fmt.Sprintf("clocks of %s and %s not measured, skew assumed ≤ %s", nodeName(na), nodeName(nb), time.Duration(c.skew))
}

func nodeName(n string) string {
	if n == "" {
		return "the runner"
	}
	return n
}
