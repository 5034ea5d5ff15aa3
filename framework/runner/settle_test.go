package runner

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rwxchaos/rwxchaos/framework/history"
	"github.com/rwxchaos/rwxchaos/framework/provider"
	"github.com/rwxchaos/rwxchaos/framework/scenario"
	"github.com/rwxchaos/rwxchaos/framework/traffic"
)

// settleEnv reports a backlog that empties after a number of looks.
type settleEnv struct {
	provider.Env
	looks   atomic.Int32
	doneAt  int32 // the look at which the backlog is done; 0 = never
	acked   []string
	drained bool
}

func (e *settleEnv) Backlog(_ context.Context, acked []string) (history.Backlog, error) {
	e.acked = acked
	if n := e.looks.Add(1); e.doneAt > 0 && n >= e.doneAt {
		return history.Backlog{}, nil
	}
	return history.Backlog{Work: 1, Unprocessed: 1, Example: "X12/A/B/1"}, nil
}

func (e *settleEnv) Drain(context.Context, time.Duration) error { e.drained = true; return nil }

func TestSettleEndsWhenTheBacklogIsDone(t *testing.T) {
	r := &run{o: Options{Clock: time.Now}}
	r.acks.observe(traffic.Attempt{Key: "k1", Outcome: history.OK})
	r.acks.observe(traffic.Attempt{Key: "k2", Outcome: history.Unknown})
	env := &settleEnv{doneAt: 3}
	start := time.Now()
	if err := r.settle(context.Background(), env, time.Minute); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 10*SettlePoll {
		t.Errorf("settle took %s with a backlog done at the 3rd look (poll %s): it must not wait out the upper bound", took, SettlePoll)
	}
	if len(env.acked) != 1 || env.acked[0] != "k1" {
		t.Errorf("settle asked about %v, want only the acked upload k1", env.acked)
	}
}

func TestSettleStopsAtTheUpperBound(t *testing.T) {
	r := &run{o: Options{Clock: time.Now}}
	env := &settleEnv{}
	start := time.Now()
	if err := r.settle(context.Background(), env, 2*SettlePoll); err != nil {
		t.Fatalf("running out of settle time is not a framework error: %v", err)
	}
	if took := time.Since(start); took < 2*SettlePoll || took > 2*SettlePoll+5*time.Second {
		t.Errorf("settle took %s, want about its upper bound %s", took, 2*SettlePoll)
	}
	if env.looks.Load() < 2 {
		t.Errorf("settle looked %d times", env.looks.Load())
	}
}

// An environment without a backlog drains its own way.
func TestSettleFallsBackToDrain(t *testing.T) {
	r := &run{o: Options{Clock: time.Now}}
	env := &drainOnly{}
	if err := r.settle(context.Background(), env, time.Second); err != nil || !env.drained {
		t.Errorf("settle on an env without Backlog: err %v, drained %v", err, env.drained)
	}
}

type drainOnly struct {
	provider.Env
	drained bool
}

func (e *drainOnly) Drain(context.Context, time.Duration) error { e.drained = true; return nil }

// The settle line says what a done backlog meant for the workload: a
// publish/consume run has no uploads, inputs or outputs.
func TestSettleSaysWhatSettled(t *testing.T) {
	for mode, want := range map[scenario.WorkloadMode]string{
		scenario.ModePublishConsume: "every consumer loaded the last published version of every file",
		scenario.ModeExternal:       "nothing left under the app's input path and all 1 acked inputs have an output",
		scenario.ModePipeline:       "input and work empty, all 1 acked uploads have their output",
	} {
		var log strings.Builder
		s := &scenario.Scenario{}
		s.Workload.Mode = mode
		r := &run{o: Options{Clock: time.Now, Log: &log}, s: s}
		r.acks.observe(traffic.Attempt{Key: "k1", Outcome: history.OK})
		if err := r.settle(context.Background(), &settleEnv{doneAt: 1}, time.Minute); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(log.String(), want) {
			t.Errorf("mode %s: settle said %q, want %q", mode, log.String(), want)
		}
	}
}

// quiesceEnv settles at once and records when it was quiesced.
type quiesceEnv struct {
	settleEnv
	quiesced int
	err      error
}

func (e *quiesceEnv) Quiesce(context.Context) (string, error) {
	e.quiesced++
	return "engines stopped", e.err
}

// After the settle, done or out of time, an environment that can stops its
// engine runs before collection; what it could not stop is logged, not a
// framework error (the checkers judge the evidence as it is).
func TestSettleQuiescesBeforeCollection(t *testing.T) {
	for _, c := range []struct {
		name   string
		doneAt int32
		err    error
		say    string
	}{
		{"settled", 1, nil, "quiesced in"},
		{"upper bound", 0, nil, "quiesced in"},
		{"could not stop", 1, errors.New("jobqueue: forbidden"), "jobqueue: forbidden; collecting as it is"},
	} {
		var log strings.Builder
		r := &run{o: Options{Clock: time.Now, Log: &log}}
		env := &quiesceEnv{settleEnv: settleEnv{doneAt: c.doneAt}, err: c.err}
		if err := r.settle(context.Background(), env, SettlePoll); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if env.quiesced != 1 || !strings.Contains(log.String(), c.say) {
			t.Errorf("%s: quiesced %d times, log %q, want once saying %q", c.name, env.quiesced, log.String(), c.say)
		}
	}
}
