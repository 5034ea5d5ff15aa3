package runner

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/rwxchaos/rwxchaos/framework/provider"
	"github.com/rwxchaos/rwxchaos/framework/report"
	"github.com/rwxchaos/rwxchaos/framework/scenario"
)

// The publish/consume workload (mode publish-consume) has no upload
// traffic: the publisher publishes on its own from Deploy on. Its
// "traffic" is the publisher getting through every version, read from the
// journals through the environment's provider.PublishWatcher.

// publishPoll is how often the runner looks at the publish progress.
const publishPoll = 100 * time.Millisecond

// minStall is the shortest no-progress time after the faults that ends the
// wait for the publisher (a variable for tests).
var minStall = 10 * time.Second

func (r *run) publishWatcher() (provider.PublishWatcher, error) {
	w, ok := r.env.(provider.PublishWatcher)
	if !ok {
		return nil, fmt.Errorf("provider %s cannot run mode publish-consume (it does not follow the publisher's progress)", r.env.Name())
	}
	return w, nil
}

// startPublish waits, in the background, until the publisher has published
// its last version. Once every fault has been played it gives up when
// publishing makes no progress for expect.publish.convergedWithin (the
// versions check then reports the stalled publisher); before that a stall
// is the fault at work.
func (r *run) startPublish(ctx context.Context, tr *trafficRun) error {
	w, err := r.publishWatcher()
	if err != nil {
		return err
	}
	p := r.s.Workload.Publish
	stall := max(r.s.Expect.Publish.ConvergedWithin.D(), minStall)
	go func() {
		defer func() {
			// trafficEnded first: whoever sees tr.done closed may rely on it.
			close(r.trafficEnded)
			close(tr.done)
		}()
		last, lastAt := uint64(0), r.now()
		for {
			st := w.PublishStatus()
			if st.Published >= uint64(p.Versions) {
				r.logf("publisher published version %d of every file", st.Published)
				return
			}
			if st.Published > last {
				last, lastAt = st.Published, r.now()
			}
			select {
			case <-r.faultsDone:
				if r.now().Sub(lastAt) > stall {
					r.logf("publishing stalled at version %d of %d for %s after the faults: not waiting longer", st.Published, p.Versions, stall)
					return
				}
			default:
				lastAt = r.now() // a stall only counts once every fault was played
			}
			select {
			case <-ctx.Done():
				tr.err = ctx.Err()
				return
			case <-time.After(publishPoll):
			}
		}
	}()
	return nil
}

// steadyPublish waits until steadyState.minVersions of every file are
// published and loaded by every consumer.
func (r *run) steadyPublish(ctx context.Context) error {
	w, err := r.publishWatcher()
	if err != nil {
		return err
	}
	ss := r.s.Expect.SteadyState
	min := uint64(max(ss.MinVersions, 1))
	within := ss.Within.D()
	if within <= 0 {
		within = 30 * time.Second
	}
	deadline := time.NewTimer(within)
	defer deadline.Stop()
	for {
		st := w.PublishStatus()
		if st.Steady(min) {
			r.logf("steady state: %s", st)
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-deadline.C:
			msg := fmt.Sprintf("publishing and loading do not flow: within %s need version %d of every file published and loaded by all %d consumers; got %s", within, min, st.Consumers, st)
			if st.Err != "" {
				msg += "; reading journals: " + st.Err
			}
			return errors.New(msg)
		case <-time.After(publishPoll):
		}
	}
}

// backendNote is the report's caveat about the storage backend; for mode
// publish-consume it also says whether client caching can show at all.
func backendNote(s *scenario.Scenario) string {
	note := report.BackendNote(string(s.Storage.Backend))
	if s.Workload.Mode != scenario.ModePublishConsume {
		return note
	}
	var cache string
	switch s.Storage.Backend {
	case scenario.BackendNFS, scenario.BackendStorageClass:
		return note
	case scenario.BackendFuse:
		cache = "the fuse server runs with kernel caching off (entry and attribute timeouts 0) and every node shares one host page cache, so it cannot show the client attribute and data caching that makes NFS consumers load stale versions: visibility lag here is polling and storage-fault delay only"
	default:
		cache = "every consumer reads through one host kernel and its page cache, so no client caching can make a consumer load a stale version: visibility lag here is polling and fault delay only"
	}
	if note == "" {
		return cache
	}
	return note + "; " + cache
}
