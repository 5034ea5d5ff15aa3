package local

import (
	"context"
	"time"

	"github.com/rwxchaos/rwxchaos/framework/provider"
)

// ClockOffsets implements provider.ClockProber: every process runs on this
// host, whose clock is the runner's, so the one node's offset is zero.
func (e *Env) ClockOffsets(ctx context.Context) (map[string]provider.ClockOffset, error) {
	now := time.Now()
	return map[string]provider.ClockOffset{e.node: {Start: now, End: now}}, nil
}
