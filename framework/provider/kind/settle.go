package kind

import (
	"context"

	"github.com/rwxchaos/rwxchaos/framework/history"
)

// Backlog implements provider.Settler: the shared volume is a directory on
// this host (hostpath, or the fuse mount), so one walk of its names says
// what is left.
func (e *Env) Backlog(ctx context.Context, acked []string) (history.Backlog, error) {
	if err := ctx.Err(); err != nil {
		return history.Backlog{}, err
	}
	return history.ScanBacklog(e.volume, acked), nil
}
