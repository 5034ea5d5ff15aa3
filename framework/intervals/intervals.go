// Package intervals names every wait on the Kubernetes side of the
// framework (kind and existing clusters, Chaos Mesh, the lab's e2e tests):
// how long to wait at most and how often to look, in one table, as
// cluster-api's e2e config does ("default/wait-nodes: [3m, 1s]"). Waits
// poll the condition they need with wait.PollUntilContextTimeout through
// Interval.Until; none sleeps on luck. RWXCHAOS_INTERVALS overrides
// entries for slow machines: "nodes-ready=5m/2s,pipeline-ready=6m".
package intervals

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
)

// Name names one wait.
type Name string

// The waits. Keep them sorted by area; Defaults holds their values.
const (
	// kind clusters
	NodesReady  Name = "nodes-ready"  // every node of a new cluster Ready
	EngineNode  Name = "engine-node"  // someone holds the engine lock (to target its node)
	DrainVolume Name = "drain-volume" // input and work dirs empty (timeout: the scenario's settle)
	Quiesce     Name = "quiesce"      // no engine or jobqueue pod left on a Ready node once their starts are stopped, before collection
	// publish/consume workload (kind and local)
	PublishConverged Name = "publish-converged" // every consumer loaded the last published version of every file (timeout: the scenario's settle)
	DrainPods        Name = "drain-pods"        // no pod Terminating on a Ready node (timeout: what the settle has left)
	// an external app on kind (workload external)
	AppReady       Name = "app-ready"       // claims bound, workloads available, Jobs done (timeout: ready.timeout)
	CRDEstablished Name = "crd-established" // a CustomResourceDefinition of the app's manifests Established
	AppEngineNode  Name = "app-engine-node" // an engine (or jobqueue) pod of the app runs (to target its node)
	AppHolderNode  Name = "app-holder-node" // the pod named in holderFile runs (to target its node)
	RoleRunning    Name = "role-running"    // a pod of a role runs (schedule.whileRunning)
	// the pipeline on any cluster
	PipelineReady    Name = "pipeline-ready"    // PVC bound, Deployments available, Service endpoints ready (kind: local images)
	PipelineExisting Name = "pipeline-existing" // the same on an existing cluster, which pulls images
	ServiceEndpoint  Name = "service-endpoint"  // an EndpointSlice of a Service has a ready endpoint
	CoreDNSReady     Name = "coredns-ready"     // coredns available and kube-dns has a ready endpoint
	PodPhase         Name = "pod-phase"         // a pod reaches the phase a test waits for
	// existing clusters
	HelperPod      Name = "helper-pod"       // the volume helper pod Running
	RunObjectsGone Name = "run-objects-gone" // a run's pods and PVCs deleted at teardown
	// Chaos Mesh
	ChaosCreate Name = "chaos-create" // creating a chaos object while the webhook warms up
	ChaosGone   Name = "chaos-gone"   // a deleted chaos object is gone (recovered)
	ChaosSweep  Name = "chaos-sweep"  // leftover chaos objects of a run gone
)

// Interval is one wait: at most Timeout, looking every Poll.
type Interval struct {
	Timeout time.Duration
	Poll    time.Duration
}

// Defaults are the values without overrides.
var Defaults = map[Name]Interval{
	NodesReady:       {3 * time.Minute, time.Second},
	EngineNode:       {30 * time.Second, 200 * time.Millisecond},
	DrainVolume:      {2 * time.Minute, time.Second},
	Quiesce:          {time.Minute, 250 * time.Millisecond},
	PublishConverged: {2 * time.Minute, 100 * time.Millisecond},
	DrainPods:        {time.Minute, time.Second},
	AppReady:         {5 * time.Minute, time.Second},
	CRDEstablished:   {time.Minute, 500 * time.Millisecond},
	AppEngineNode:    {time.Minute, 500 * time.Millisecond},
	AppHolderNode:    {30 * time.Second, 200 * time.Millisecond},
	RoleRunning:      {5 * time.Minute, 200 * time.Millisecond},
	PipelineReady:    {3 * time.Minute, time.Second},
	PipelineExisting: {5 * time.Minute, time.Second},
	ServiceEndpoint:  {2 * time.Minute, 250 * time.Millisecond},
	CoreDNSReady:     {3 * time.Minute, time.Second},
	PodPhase:         {2 * time.Minute, 500 * time.Millisecond},
	HelperPod:        {3 * time.Minute, time.Second},
	RunObjectsGone:   {time.Minute, time.Second},
	ChaosCreate:      {time.Minute, 2 * time.Second},
	ChaosGone:        {time.Minute, time.Second},
	ChaosSweep:       {time.Minute, 500 * time.Millisecond},
}

// Env overrides entries: "name=TIMEOUT[/POLL],...".
const Env = "RWXCHAOS_INTERVALS"

var (
	once      sync.Once
	overrides map[Name]Interval
	badEnv    error
)

// Get returns the interval for n, with RWXCHAOS_INTERVALS applied. An
// unknown name is a programming error: it panics.
func Get(n Name) Interval {
	once.Do(func() { overrides, badEnv = Parse(os.Getenv(Env)) })
	iv, ok := Defaults[n]
	if !ok {
		panic(fmt.Sprintf("intervals: no interval named %q", n))
	}
	testMu.Lock()
	o, ok := overrides[n]
	testMu.Unlock()
	if ok {
		if o.Timeout > 0 {
			iv.Timeout = o.Timeout
		}
		if o.Poll > 0 {
			iv.Poll = o.Poll
		}
	}
	return iv
}

// Check reports a malformed RWXCHAOS_INTERVALS (its good entries still
// apply); callers log it once.
func Check() error {
	once.Do(func() { overrides, badEnv = Parse(os.Getenv(Env)) })
	return badEnv
}

// Parse reads an override list.
func Parse(s string) (map[Name]Interval, error) {
	out := map[Name]Interval{}
	var bad []string
	for _, ent := range strings.Split(s, ",") {
		ent = strings.TrimSpace(ent)
		if ent == "" {
			continue
		}
		k, v, ok := strings.Cut(ent, "=")
		if _, known := Defaults[Name(k)]; !ok || !known {
			bad = append(bad, fmt.Sprintf("%q (want name=TIMEOUT[/POLL] with a name from %s)", ent, strings.Join(names(), ", ")))
			continue
		}
		t, p, _ := strings.Cut(v, "/")
		var iv Interval
		var err error
		if iv.Timeout, err = time.ParseDuration(t); err != nil || iv.Timeout <= 0 {
			bad = append(bad, fmt.Sprintf("%q: timeout %q is not a positive duration", ent, t))
			continue
		}
		if p != "" {
			if iv.Poll, err = time.ParseDuration(p); err != nil || iv.Poll <= 0 {
				bad = append(bad, fmt.Sprintf("%q: poll %q is not a positive duration", ent, p))
				continue
			}
		}
		out[Name(k)] = iv
	}
	if len(bad) > 0 {
		return out, fmt.Errorf("%s: ignoring %s", Env, strings.Join(bad, "; "))
	}
	return out, nil
}

func names() []string {
	var out []string
	for n := range Defaults {
		out = append(out, string(n))
	}
	sort.Strings(out)
	return out
}

// WithTimeout returns a copy with another timeout (a wait bounded by the
// scenario, such as the settle time).
func (iv Interval) WithTimeout(d time.Duration) Interval {
	if d > 0 {
		iv.Timeout = d
	}
	return iv
}

// Until polls cond (at once, then every Poll) until it returns true, an
// error, or Timeout passes; the error then says how long it waited.
func (iv Interval) Until(ctx context.Context, cond wait.ConditionWithContextFunc) error {
	err := wait.PollUntilContextTimeout(ctx, iv.Poll, iv.Timeout, true, cond)
	if err != nil && wait.Interrupted(err) && ctx.Err() == nil {
		return fmt.Errorf("still not so after %s: %w", iv.Timeout, err)
	}
	return err
}

var testMu sync.Mutex

// Set replaces one interval until restore is called: for tests that need a
// wait to give up quickly. Not for concurrent use with other Sets of n.
func Set(n Name, iv Interval) (restore func()) {
	Get(n) // parse the environment first
	testMu.Lock()
	defer testMu.Unlock()
	old, had := overrides[n]
	overrides[n] = iv
	return func() {
		testMu.Lock()
		defer testMu.Unlock()
		if had {
			overrides[n] = old
		} else {
			delete(overrides, n)
		}
	}
}
