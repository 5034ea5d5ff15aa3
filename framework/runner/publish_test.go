package runner

import (
	"context"
	"errors"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rwxchaos/rwxchaos/framework/fault"
	"github.com/rwxchaos/rwxchaos/framework/history"
	"github.com/rwxchaos/rwxchaos/framework/provider"
	"github.com/rwxchaos/rwxchaos/framework/scenario"
	"github.com/rwxchaos/rwxchaos/framework/scenario/scenariotest"
)

func TestBackendNoteSaysCachingCannotShow(t *testing.T) {
	s := scenariotest.Parse(t, scenariotest.PublishLocal)
	if n := backendNote(s); !strings.Contains(n, "no client caching") {
		t.Errorf("local: %s", n)
	}
	s.Storage.Backend = scenario.BackendFuse
	if n := backendNote(s); !strings.Contains(n, "cannot show the client attribute and data caching") {
		t.Errorf("fuse: %s", n)
	}
	s.Storage.Backend = scenario.BackendNFS
	if n := backendNote(s); n != "" {
		t.Errorf("nfs: %q", n)
	}
}

// pubEnv is just enough of an environment for the publish phases.
type pubEnv struct {
	mu sync.Mutex
	st provider.PublishStatus
}

func (f *pubEnv) set(published uint64, seen map[string]uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.st = provider.PublishStatus{Files: 2, Consumers: 2, Published: published, Seen: seen}
}
func (f *pubEnv) PublishStatus() provider.PublishStatus {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.st
}
func (f *pubEnv) Name() string                               { return "fake" }
func (f *pubEnv) Provision(context.Context) error            { return nil }
func (f *pubEnv) Deploy(context.Context) error               { return nil }
func (f *pubEnv) Endpoints() []string                        { return nil }
func (f *pubEnv) Teardown(context.Context) error             { return nil }
func (f *pubEnv) Drain(context.Context, time.Duration) error { return nil }
func (f *pubEnv) Fault(context.Context, scenario.FaultSpec, *rand.Rand) ([]fault.Fault, error) {
	return nil, nil
}
func (f *pubEnv) Collect(context.Context, string) (*history.History, provider.Observations, error) {
	return nil, provider.Observations{}, nil
}

func newTestRun(t *testing.T, s *scenario.Scenario, env provider.Env) *run {
	return &run{o: Options{Clock: time.Now}, s: s, env: env, active: map[string]bool{}, faultsDone: make(chan struct{}), trafficEnded: make(chan struct{})}
}

func TestSteadyPublish(t *testing.T) {
	s := scenariotest.Parse(t, scenariotest.PublishLocal)
	env := &pubEnv{}
	r := newTestRun(t, s, env)
	env.set(5, map[string]uint64{"c0": 2, "c1": 1})
	done := make(chan error, 1)
	go func() { done <- r.steadyPublish(context.Background()) }()
	select {
	case err := <-done:
		t.Fatalf("steady before every consumer saw version 2: %v", err)
	case <-time.After(300 * time.Millisecond):
	}
	env.set(5, map[string]uint64{"c0": 2, "c1": 2})
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// Never steady: void with what was missing.
	env.set(1, map[string]uint64{"c0": 1})
	err := r.steadyPublish(context.Background())
	if err == nil || !strings.Contains(err.Error(), "need version 2 of every file published and loaded by all 2 consumers") {
		t.Fatalf("err %v", err)
	}
}

func TestStartPublishWaitsForTheLastVersionOrAStall(t *testing.T) {
	s := scenariotest.Parse(t, scenariotest.PublishLocal)
	env := &pubEnv{}
	r := newTestRun(t, s, env)
	env.set(3, nil)
	tr := &trafficRun{done: make(chan struct{})}
	if err := r.startPublish(context.Background(), tr); err != nil {
		t.Fatal(err)
	}
	// No progress while faults play is the fault at work: keep waiting.
	select {
	case <-tr.done:
		t.Fatalf("gave up while faults were still playing: %v", tr.err)
	case <-time.After(1500 * time.Millisecond):
	}
	env.set(10, nil)
	<-tr.done
	if tr.err != nil {
		t.Fatal(tr.err)
	}
	select {
	case <-r.trafficEnded:
	default:
		t.Fatal("trafficEnded still open after the publisher's last version")
	}
	// After the faults, a stall of more than convergedWithin (floored at
	// minStall) ends the wait without an error: the checks report it.
	defer func(d time.Duration) { minStall = d }(minStall)
	minStall = 200 * time.Millisecond
	s.Expect.Publish.ConvergedWithin = scenario.Duration(300 * time.Millisecond)
	r = newTestRun(t, s, env)
	env.set(4, nil)
	close(r.faultsDone)
	start := time.Now()
	tr = &trafficRun{done: make(chan struct{})}
	if err := r.startPublish(context.Background(), tr); err != nil {
		t.Fatal(err)
	}
	<-tr.done
	if tr.err != nil || time.Since(start) < 300*time.Millisecond {
		t.Fatalf("err %v after %s", tr.err, time.Since(start))
	}
	// Cancelled: the wait ends with the context's error.
	r = newTestRun(t, s, env)
	ctx, cancel := context.WithCancel(context.Background())
	tr = &trafficRun{done: make(chan struct{})}
	if err := r.startPublish(ctx, tr); err != nil {
		t.Fatal(err)
	}
	cancel()
	<-tr.done
	if !errors.Is(tr.err, context.Canceled) {
		t.Fatalf("cancelled: err %v", tr.err)
	}
}
