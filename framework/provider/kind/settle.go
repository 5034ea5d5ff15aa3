package kind

import (
	"context"
	"errors"

	"github.com/rwxchaos/rwxchaos/framework/history"
)

// Backlog implements provider.Settler: the shared volume is a directory on
// this host (hostpath, or the fuse mount), so one walk of its names says
// what is left.
func (e *Env) Backlog(ctx context.Context, acked []string) (history.Backlog, error) {
	if err := ctx.Err(); err != nil {
		return history.Backlog{}, err
	}
	if e.ext != nil {
		if e.ext.drop == nil {
			return history.Backlog{}, errors.New("the app was never deployed")
		}
		// The app's own layout: its input path and its outputs, attributed
		// as the report attributes them.
		return e.ext.drop.Backlog(e.volume, acked)
	}
	return history.ScanBacklog(e.volume, acked), nil
}
