package runner

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/rwxchaos/rwxchaos/framework/history"
	"github.com/rwxchaos/rwxchaos/framework/provider"
	"github.com/rwxchaos/rwxchaos/framework/scenario"
	"github.com/rwxchaos/rwxchaos/framework/traffic"
)

// SettlePoll is how often the settle phase looks at the pipeline's backlog.
const SettlePoll = 500 * time.Millisecond

// ackLog collects the keys of acknowledged uploads as the traffic driver
// reports them (from its worker goroutines).
type ackLog struct {
	mu   sync.Mutex
	keys []string
}

func (a *ackLog) observe(at traffic.Attempt) {
	if at.Outcome != history.OK {
		return
	}
	a.mu.Lock()
	a.keys = append(a.keys, at.Key)
	a.mu.Unlock()
}

func (a *ackLog) snapshot() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.keys...)
}

// settle lets the pipeline finish after traffic and faults: it ends as soon
// as the environment's backlog is done (input and work empty, every acked
// upload has its output), with the scenario's settle time as the upper
// bound. Running out of time is not an error: the checkers report what is
// stuck or lost. Environments that cannot report a backlog drain their own way.
func (r *run) settle(ctx context.Context, env provider.Env, upper time.Duration) error {
	s, ok := env.(provider.Settler)
	if !ok {
		return env.Drain(ctx, upper)
	}
	if upper <= 0 {
		upper = 2 * time.Minute
	}
	acked := r.acks.snapshot()
	start := r.now()
	var (
		last    history.Backlog
		lastErr error
	)
	err := wait.PollUntilContextTimeout(ctx, SettlePoll, upper, true, func(ctx context.Context) (bool, error) {
		b, err := s.Backlog(ctx, acked)
		if err != nil {
			lastErr = err // a passing hiccup (e.g. an API timeout): look again
			return false, nil
		}
		last, lastErr = b, nil
		return b.Done(), nil
	})
	if err == nil {
		r.logf("settled in %s (upper bound %s): %s", r.now().Sub(start).Round(10*time.Millisecond), upper, settledWhat(r.s, len(acked)))
		r.quiesce(ctx, env)
		return nil
	}
	if ctx.Err() != nil && !wait.Interrupted(err) {
		return err
	}
	r.logf("settle: upper bound %s reached with %d input, %d work and %d of %d acked uploads without output (e.g. %s; still waiting for: %s; last error: %v); the checkers will report them",
		upper, last.Input, last.Work, last.Unprocessed, len(acked), last.Example, strings.Join(last.Waiting, ", "), lastErr)
	r.quiesce(ctx, env)
	return nil
}

// quiesce stops the workload's engine runs before collection when the
// environment can (provider.Quiescer). What it could not stop is logged:
// the evidence is judged as it is, by the checkers.
func (r *run) quiesce(ctx context.Context, env provider.Env) {
	q, ok := env.(provider.Quiescer)
	if !ok {
		return
	}
	start := r.now()
	did, err := q.Quiesce(ctx)
	took := r.now().Sub(start).Round(10 * time.Millisecond)
	switch {
	case err != nil:
		r.logf("quiesce (%s): %v; collecting as it is", took, err)
	case did != "":
		r.logf("quiesced in %s: %s", took, did)
	}
}

// settledWhat says what a done backlog means for the scenario's workload.
func settledWhat(s *scenario.Scenario, acked int) string {
	mode := scenario.WorkloadMode("")
	if s != nil {
		mode = s.Workload.Mode
	}
	switch mode {
	case scenario.ModePublishConsume:
		return "every consumer loaded the last published version of every file"
	case scenario.ModeExternal:
		return fmt.Sprintf("nothing left under the app's input path and all %d acked inputs have an output", acked)
	default:
		return fmt.Sprintf("input and work empty, all %d acked uploads have their output", acked)
	}
}
