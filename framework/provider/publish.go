package provider

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/rwxchaos/rwxchaos/framework/history"
	"github.com/rwxchaos/rwxchaos/framework/intervals"
)

// PublishWatcher is the Env capability the runner needs for workload mode
// publish-consume: how far publishing and loading have got.
type PublishWatcher interface {
	PublishStatus() PublishStatus
}

// PublishStatus is the progress of a publish/consume workload, read from
// its journals while it runs. It decides steady state, the end of
// publishing and the drain; the checker judges the final journals.
type PublishStatus struct {
	Files     int // files the publisher publishes
	Consumers int // consumers expected to load
	// Published is, over every file, the lowest of its highest versions
	// published ok (0 until every file has one).
	Published uint64
	// Seen is, per consumer (its node), over every file, the lowest of the
	// highest versions it loaded ok.
	Seen map[string]uint64
	// Behind is, per consumer, how many files it has not yet loaded at
	// their highest published version.
	Behind                   map[string]int
	Loads, Torn, LoadErrors  int
	Publishes, PublishFailed int
	// Err is the last error reading the journals ("" if none).
	Err string
}

// Steady reports whether min versions of every file are published and
// every expected consumer has loaded them.
func (s PublishStatus) Steady(min uint64) bool {
	if s.Published < min || len(s.Seen) < s.Consumers {
		return false
	}
	for _, v := range s.Seen {
		if v < min {
			return false
		}
	}
	return true
}

// Converged reports whether every expected consumer has loaded the
// highest published version of every file.
func (s PublishStatus) Converged() bool {
	if s.Published == 0 || len(s.Behind) < s.Consumers {
		return false
	}
	for _, n := range s.Behind {
		if n > 0 {
			return false
		}
	}
	return true
}

// String is a one-line progress summary.
func (s PublishStatus) String() string {
	var cs []string
	for c, v := range s.Seen {
		cs = append(cs, fmt.Sprintf("%s:%d", c, v))
	}
	sort.Strings(cs)
	return fmt.Sprintf("published v%d, consumers %d/%d [%s], loads %d (torn %d, errors %d)",
		s.Published, len(s.Seen), s.Consumers, strings.Join(cs, " "), s.Loads, s.Torn, s.LoadErrors)
}

// PublishTracker follows a journal directory in the background and keeps
// a PublishStatus. Status never blocks: journals on a stalled volume only
// delay the next update.
type PublishTracker struct {
	mu        sync.Mutex
	files     int
	consumers int
	pub       map[string]uint64            // file → highest version published ok
	seen      map[string]map[string]uint64 // consumer → file → highest version loaded ok
	st        PublishStatus
	stop      context.CancelFunc
	done      chan struct{}
}

// NewPublishTracker follows the journal directories dirs returns (asked
// again every interval: per-node directories appear as nodes start) until
// Stop.
func NewPublishTracker(dirs func() []string, files, consumers int, interval time.Duration) *PublishTracker {
	ctx, cancel := context.WithCancel(context.Background())
	t := &PublishTracker{files: files, consumers: consumers, pub: map[string]uint64{}, seen: map[string]map[string]uint64{},
		stop: cancel, done: make(chan struct{})}
	t.st = PublishStatus{Files: files, Consumers: consumers}
	tails := map[string]*history.Tail{}
	go func() {
		defer close(t.done)
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			var evs []history.Event
			var errs []error
			for _, d := range dirs() {
				tl := tails[d]
				if tl == nil {
					tl = history.NewTail(d)
					tails[d] = tl
				}
				e, err := tl.Next()
				evs = append(evs, e...)
				if err != nil {
					errs = append(errs, err)
				}
			}
			t.observe(evs, errors.Join(errs...))
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	return t
}

// Stop ends the background reading. It does not wait for a read blocked on
// a stalled volume.
func (t *PublishTracker) Stop() { t.stop() }

// Status is the latest progress.
func (t *PublishTracker) Status() PublishStatus {
	t.mu.Lock()
	defer t.mu.Unlock()
	st := t.st
	st.Seen, st.Behind = map[string]uint64{}, map[string]int{}
	for k, v := range t.st.Seen {
		st.Seen[k] = v
	}
	for k, v := range t.st.Behind {
		st.Behind[k] = v
	}
	return st
}

// Observe folds events into the status (NewPublishTracker calls it; tests
// may too).
func (t *PublishTracker) Observe(evs []history.Event) { t.observe(evs, nil) }

func (t *PublishTracker) observe(evs []history.Event, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	st := &t.st
	st.Files, st.Consumers = t.files, t.consumers
	st.Err = ""
	if err != nil {
		st.Err = err.Error()
	}
	for i := range evs {
		e := &evs[i]
		switch e.Type {
		case history.EvPublish:
			st.Publishes++
			if e.Outcome == history.OK {
				t.pub[e.Path] = max(t.pub[e.Path], e.Version)
			} else {
				st.PublishFailed++
			}
		case history.EvLoad:
			st.Loads++
			switch {
			case e.Outcome == history.OK:
				m := t.seen[e.Node]
				if m == nil {
					m = map[string]uint64{}
					t.seen[e.Node] = m
				}
				m[e.Path] = max(m[e.Path], e.Version)
			case history.IsTorn(e.ErrClass):
				st.Torn++
			default:
				st.LoadErrors++
			}
		}
	}
	// Lowest over files, once every expected file has a version.
	st.Published = 0
	if len(t.pub) >= max(t.files, 1) {
		first := true
		for _, v := range t.pub {
			if first || v < st.Published {
				st.Published, first = v, false
			}
		}
	}
	st.Seen, st.Behind = map[string]uint64{}, map[string]int{}
	for c, m := range t.seen {
		var low uint64
		if len(m) >= max(t.files, 1) {
			first := true
			for _, v := range m {
				if first || v < low {
					low, first = v, false
				}
			}
		}
		st.Seen[c] = low
		behind := 0
		for f, v := range t.pub {
			if m[f] < v {
				behind++
			}
		}
		st.Behind[c] = behind
	}
}

// WaitConverged waits until every consumer has loaded the highest
// published version of every file, looking every iv.Poll for at most
// iv.Timeout (then an error saying who is behind; the convergence check
// judges it, this only bounds the wait).
func WaitConverged(ctx context.Context, t *PublishTracker, iv intervals.Interval) (PublishStatus, error) {
	var st PublishStatus
	err := iv.Until(ctx, func(context.Context) (bool, error) {
		st = t.Status()
		return st.Converged(), nil
	})
	if err == nil {
		return st, nil
	}
	var behind []string
	for c, n := range st.Behind {
		if n > 0 {
			behind = append(behind, fmt.Sprintf("%s (%d files)", c, n))
		}
	}
	sort.Strings(behind)
	return st, fmt.Errorf("consumers not at the last version: %w: %s behind, %d of %d consumers seen (%s)",
		err, strings.Join(behind, ", "), len(st.Seen), st.Consumers, st)
}
