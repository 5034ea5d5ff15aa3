package kind

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/rwxchaos/rwxchaos/framework/history"
	"github.com/rwxchaos/rwxchaos/framework/provider"
)

// Backlog implements provider.Settler: the shared volume is a directory on
// this host (hostpath, or the fuse mount), so one walk of its names says
// what is left. (Backend nfs: the server exports a directory of this host,
// so the same walk reads it.) Settled also means no pod left Terminating
// that can still go: a node back from a fault confirms its pods' deletion
// once its kubelet is up again, which can take longer than the pipeline's
// catching up; whatever is still Terminating at the end counts as stuck.
// A publish/consume workload has settled once its consumers converged.
// The pipeline has not settled while the engine lock is held by a lease
// past its TTL: a holder died, and until an engine takes the lease over
// (the CronJob's or the jobqueue's next run) the lock has not recovered.
// (Quiesce then stops the engines, so nobody would take it over later.)
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
		if e.pubs == nil {
			if w := staleLease(e.volume, e.o.Clock()); w != "" {
				b.Waiting = append(b.Waiting, w)
			}
		}
	}
	if e.obs != nil {
		b.Waiting = e.obs.terminatingOnReady()
	}
	if e.pubs != nil {
		// The publish/consume workload leaves no input or work behind: it
		// has settled once every consumer loaded the last version of every
		// file (the convergence check judges how long that took).
		b.Waiting = append(b.Waiting, publishBehind(e.pubs.Status())...)
	}
	return b, nil
}

// publishBehind names the consumers not yet at the last published version
// of every file (nothing once every expected consumer is).
func publishBehind(st provider.PublishStatus) []string {
	if st.Converged() {
		return nil
	}
	if st.Published == 0 {
		return []string{"the publisher's first version of every file"}
	}
	var out []string
	for c, n := range st.Behind {
		if n > 0 {
			out = append(out, fmt.Sprintf("consumer on %s (%d of %d files behind the last version)", c, n, st.Files))
		}
	}
	sort.Strings(out)
	if len(st.Behind) < st.Consumers {
		out = append(out, fmt.Sprintf("%d of %d consumers never loaded a file", st.Consumers-len(st.Behind), st.Consumers))
	}
	return out
}

// staleLease names the engine lock's holder when its lease is past its TTL
// at now and not released ("" otherwise: free, live, or no lease yet).
func staleLease(root string, now time.Time) string {
	l, err := history.ReadLease(root)
	if err != nil || !l.Stale(now) {
		return ""
	}
	return fmt.Sprintf("a takeover of the engine lock (epoch %d held by %s on %s, lease expired %s ago)",
		l.Epoch, l.Holder, l.Node, now.Sub(time.Unix(0, l.Heartbeat).Add(time.Duration(l.TTLMillis)*time.Millisecond)).Round(100*time.Millisecond))
}
