package trigger

import (
	"fmt"
	"math/rand/v2"
	"sync"
)

// Counter decides which matching calls fire a triggered fault: the Nth
// eligible call fires first, then every Every-th one after it, Times
// firings at most; each candidate fires with Probability (drawn from a
// generator seeded by the run's seed and the fault's name, so a run
// replays). A call is eligible when it matches the rule and the caller
// filter, the trigger is armed, and no firing of the same fault is still
// in progress.
type Counter struct {
	nth, every, times int
	p                 float64
	rng               *rand.Rand

	mu    sync.Mutex
	seen  int
	fired int
}

// NewCounter returns a Counter. nth defaults to 1, times to 1; every 0
// means no candidate after the nth; probability 0 means 1.
func NewCounter(nth, every, times int, probability float64, seed int64, name string) (*Counter, error) {
	if nth <= 0 {
		nth = 1
	}
	if times <= 0 {
		times = 1
	}
	if probability == 0 {
		probability = 1
	}
	if every < 0 || probability < 0 || probability > 1 {
		return nil, fmt.Errorf("trigger: every %d and probability %g must be ≥ 0 and in (0, 1]", every, probability)
	}
	var h uint64 = 1469598103934665603
	for i := 0; i < len(name); i++ {
		h = (h ^ uint64(name[i])) * 1099511628211
	}
	return &Counter{nth: nth, every: every, times: times, p: probability, rng: rand.New(rand.NewPCG(uint64(seed), h))}, nil
}

// Next counts one eligible call and says whether it fires, and which
// eligible call it was (from 1).
func (c *Counter) Next() (fire bool, n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seen++
	if c.fired >= c.times {
		return false, c.seen
	}
	candidate := c.seen == c.nth || (c.every > 0 && c.seen > c.nth && (c.seen-c.nth)%c.every == 0)
	if !candidate {
		return false, c.seen
	}
	if c.p < 1 && c.rng.Float64() >= c.p {
		return false, c.seen
	}
	c.fired++
	return true, c.seen
}

// Exhausted reports whether no later call can fire: Times firings done,
// or the nth passed with no every.
func (c *Counter) Exhausted() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.fired >= c.times || (c.every == 0 && c.seen >= c.nth)
}

// Counts returns the eligible calls seen and the firings so far.
func (c *Counter) Counts() (seen, fired int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.seen, c.fired
}
