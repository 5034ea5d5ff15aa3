package kind

import (
	"context"
	"errors"

	"github.com/rwxchaos/rwxchaos/framework/history"
)

// Backlog implements provider.Settler: the shared volume is a directory on
// this host (hostpath, or the fuse mount), so one walk of its names says
// what is left. (Backend nfs: the server exports a directory of this host,
// so the same walk reads it.) Settled also means no pod left Terminating
// that can still go: a node back from a fault confirms its pods' deletion
// once its kubelet is up again, which can take longer than the pipeline's
// catching up; whatever is still Terminating at the end counts as stuck.
func (e *Env) Backlog(ctx context.Context, acked []string) (history.Backlog, error) {
	if err := ctx.Err(); err != nil {
		return history.Backlog{}, err
	}
	var b history.Backlog
	if e.ext != nil {
		if e.ext.drop == nil {
			return history.Backlog{}, errors.New("the app was never deployed")
		}
		// The app's own layout: its input path and its outputs, attributed
		// as the report attributes them.
		var err error
		if b, err = e.ext.drop.Backlog(e.volume, acked); err != nil {
			return b, err
		}
	} else {
		b = history.ScanBacklog(e.volume, acked)
	}
	if e.obs != nil {
		b.Waiting = e.obs.terminatingOnReady()
	}
	return b, nil
}
