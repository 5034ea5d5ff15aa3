package scenario

import (
	"cmp"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rwxchaos/rwxchaos/framework/support"
)

// The support table declares every backend, action and selector for every
// provider: a new enum value cannot slip through undecided.
func TestTableComplete(t *testing.T) {
	for _, p := range Provider("").enumValues() {
		for kind, names := range map[string][]string{
			support.FeatureBackend: Backend("").enumValues(),
			support.FeatureAction:  Action("").enumValues(),
			support.FeatureSelect:  Selector("").enumValues(),
		} {
			for _, n := range names {
				d := support.Decide(support.Query{Provider: p, Kind: kind, Name: n})
				if !d.Declared {
					t.Errorf("provider %s: %s %s is not in the support table", p, kind, n)
				}
				if !d.OK && !strings.Contains(d.Reason, ":") {
					t.Errorf("provider %s: %s %s is refused without saying what to do instead: %q", p, kind, n, d.Reason)
				}
			}
		}
		// schedule.on is decided for every backend (it needs a storage
		// layer in the path of every file operation).
		for _, b := range Backend("").enumValues() {
			d := support.Decide(support.Query{Provider: p, Kind: support.FeatureTrigger, Name: support.Trigger, Facts: []string{"backend=" + b}})
			if !d.Declared {
				t.Errorf("provider %s: schedule.on with backend %s is not in the support table", p, b)
			}
			if !d.OK && !strings.Contains(d.Reason, ":") {
				t.Errorf("provider %s: schedule.on with backend %s is refused without saying what to do instead: %q", p, b, d.Reason)
			}
		}
		if d := support.Decide(support.Query{Provider: p, Kind: support.FeatureProvider, Name: p}); !d.OK {
			t.Errorf("provider %s does not declare itself", p)
		}
	}
	if len(support.Providers) != len(Provider("").enumValues()) {
		t.Errorf("support.Providers %v differs from the provider enum %v", support.Providers, Provider("").enumValues())
	}
}

func mustParseSupport(t *testing.T, yaml string) (*Scenario, ErrorList) {
	t.Helper()
	s, err := Parse("t.yaml", []byte(yaml))
	var list ErrorList
	if err != nil && !errors.As(err, &list) {
		t.Fatalf("Parse: %v", err)
	}
	return s, list
}

const supportHead = "apiVersion: rwxchaos.dev/v1alpha1\nkind: Scenario\nmetadata: {name: t}\n"

// What the issue found validating and then failing at run time: each is now
// refused by Parse, with the table's reason, and marked Unsupported.
func TestParseRefusesWhatNoProviderRuns(t *testing.T) {
	for name, tc := range map[string]struct{ yaml, path, reason string }{
		"storage-pause on backend local": {supportHead + `cluster: {provider: local}
faults: [{name: p, action: storage-pause, duration: 2s}]
`, "faults[0].action", "use storage backend fuse"},
		"lock-holder with no-lock": {supportHead + `cluster: {provider: local}
workload: {defects: [no-lock]}
faults: [{name: p, action: process-pause, target: {select: lock-holder}, duration: 2s}]
`, "faults[0].target.select", "no lock holder"},
		"kind nfs trigger with client auto": {supportHead + `cluster: {provider: kind}
storage: {backend: nfs}
faults: [{name: k, action: node-kill, target: {select: caller-node}, schedule: {on: {op: rename, path: "botssys/outfile/*/*.json"}}}]
`, "faults[0].schedule.on", "storage.nfs.client userspace"},
		"kind process fault": {supportHead + `cluster: {provider: kind}
faults: [{name: k, action: process-kill, target: {role: engine}}]
`, "faults[0].action", "does not signal processes"},
		"existing lock-holder": {supportHead + `cluster: {provider: existing, existing: {namespaces: [a]}}
storage: {backend: storageclass, storageClassName: nfs}
workload: {namespace: a}
faults: [{name: k, action: chaos-pod-kill, target: {select: lock-holder}}]
`, "faults[0].target.select", "target pods"},
	} {
		t.Run(name, func(t *testing.T) {
			_, list := mustParseSupport(t, tc.yaml)
			if len(list) == 0 {
				t.Fatal("Parse accepted it")
			}
			if !list.Unsupported() {
				t.Errorf("not only support refusals: %v", list)
			}
			found := false
			for _, e := range list {
				found = found || (e.Path == tc.path && strings.Contains(e.Msg, tc.reason))
			}
			if !found {
				t.Errorf("no refusal at %s mentioning %q: %v", tc.path, tc.reason, list)
			}
		})
	}
}

// Needs and Gate read the same table: a capability this host lacks makes
// Gate refuse with the capability's wording; one it has lets it start.
func TestNeedsAndGate(t *testing.T) {
	s, list := mustParseSupport(t, supportHead+`cluster: {provider: local}
storage: {backend: fuse}
faults: [{name: p, action: storage-pause, duration: 2s}]
`)
	if len(list) > 0 {
		t.Fatal(list)
	}
	needs := s.Needs()
	if len(needs) != 1 || needs[0] != support.FuseMount {
		t.Fatalf("Needs = %v, want [FuseMount]", needs)
	}
	saved := support.FuseMount.Probe
	defer func() { support.FuseMount.Probe = saved }()
	support.FuseMount.Probe = func() error { return errors.New("no /dev/fuse here") }
	err := s.Gate("local")
	var u *support.Unsupported
	if !errors.As(err, &u) || !strings.Contains(u.Reason, "runs only where the runner is root") || !strings.Contains(u.Reason, "no /dev/fuse here") {
		t.Fatalf("Gate with the capability missing: %v", err)
	}
	support.FuseMount.Probe = func() error { return nil }
	if err := s.Gate("local"); err != nil {
		t.Fatalf("Gate with the capability present: %v", err)
	}
	// A Scenario built in Go, never validated: Gate still refuses.
	s.Storage.Backend = BackendLocal
	if err := s.Gate("local"); !support.IsUnsupported(err) || !strings.Contains(err.Error(), "use storage backend fuse") {
		t.Fatalf("Gate of storage-pause on backend local: %v", err)
	}
}

func TestFaultPlan(t *testing.T) {
	s, list := mustParseSupport(t, supportHead+`cluster: {provider: local}
workload: {traffic: {count: 300, rate: 30}}
faults:
  - {name: a, action: process-pause, target: {role: webserver}, duration: 2s, schedule: {at: 1s}}
  - {name: b, action: process-kill, target: {role: engine}, schedule: {after: a, at: 500ms, every: 1s, times: 3}}
  - {name: c, action: process-restart, target: {role: jobqueue}, duration: 1s, schedule: {after: b}}
run: {timeout: 1m}
`)
	if len(list) > 0 {
		t.Fatal(list)
	}
	p := s.FaultPlan()
	sec := func(f float64) time.Duration { return time.Duration(f * float64(time.Second)) }
	want := map[string][]Firing{
		"a": {{sec(1), sec(3)}},
		"b": {{sec(3.5), sec(3.5)}, {sec(4.5), sec(4.5)}, {sec(5.5), sec(5.5)}},
		"c": {{sec(5.5), sec(6.5)}},
	}
	for _, pf := range p {
		if !reflect.DeepEqual(pf.Firings, want[pf.Name]) {
			t.Errorf("%s: firings %v, want %v", pf.Name, pf.Firings, want[pf.Name])
		}
	}
	if got := p[1].String(); !strings.Contains(got, "steady+3.5s → steady+3.5s  b process-kill on role engine (firing 1 of 3) (after a)") {
		t.Errorf("String:\n%s", got)
	}
}

// A fault fired by a file operation is planned as when its trigger is
// armed and what fires it (the application decides when).
func TestFaultPlanTriggered(t *testing.T) {
	s, list := mustParseSupport(t, supportHead+`cluster: {provider: local}
storage: {backend: fuse}
faults:
  - name: k
    action: process-kill
    schedule: {at: 2s, on: {op: rename, path: "botssys/outfile/*/*.json", by: engine, nth: 5, every: 40}, times: 2}
`)
	if len(list) > 0 {
		t.Fatal(list)
	}
	p := s.FaultPlan()
	if len(p) != 1 || len(p[0].Firings) != 1 || p[0].Firings[0].Start != 2*time.Second {
		t.Fatalf("plan %+v", p)
	}
	want := "steady+2s → until the traffic ends  k process-kill on select caller, armed: fires at rename of botssys/outfile/*/*.json by engine (after it is performed), eligible call 5 then every 40, at most 2 time(s)"
	if got := p[0].String(); got != want {
		t.Errorf("String:\n%s\nwant:\n%s", got, want)
	}
}

// Backend nfs on kind needs the client the scenario names: the kernel's,
// the userspace one (FUSE), or for auto either. Its storage faults run;
// schedule.on runs only with the userspace client, which has the hook.
func TestKindNFSRules(t *testing.T) {
	for client, want := range map[string]*support.Capability{
		"":          support.NFSClient,
		"auto":      support.NFSClient,
		"kernel":    support.KernelNFS,
		"userspace": support.FuseMount,
	} {
		s, list := mustParseSupport(t, supportHead+`cluster: {provider: kind}
storage: {backend: nfs, nfs: {client: `+cmp.Or(client, `auto`)+`, lease: 10s, grace: 10s}}
faults:
  - {name: p, action: storage-pause, duration: 5s}
  - {name: r, action: storage-restart}
  - {name: k, action: storage-kill, duration: 5s}
  - {name: c, action: storage-cutoff, target: {select: lock-holder}, duration: 5s}
`)
		if len(list) > 0 {
			t.Fatalf("client %q: %v", client, list)
		}
		if !slices.Contains(s.Needs(), want) || slices.Contains(s.Needs(), support.FuseMount) && want != support.FuseMount {
			t.Errorf("client %q: needs %v, want %s", client, s.Needs(), want.Name)
		}
	}
	trig := `
faults:
  - name: cut
    action: storage-cutoff
    target: {select: caller-node}
    duration: 5s
    schedule: {on: {op: rename, path: "botssys/data/work/*/*.edi", by: engine}}
`
	if _, list := mustParseSupport(t, supportHead+"cluster: {provider: kind}\nstorage: {backend: nfs, nfs: {client: userspace}}"+trig); len(list) > 0 {
		t.Errorf("schedule.on with the userspace client: %v", list)
	}
	for _, client := range []string{"auto", "kernel"} {
		_, list := mustParseSupport(t, supportHead+"cluster: {provider: kind}\nstorage: {backend: nfs, nfs: {client: "+client+"}}"+trig)
		if len(list) != 1 || list[0].Path != "faults[0].schedule.on" || !strings.Contains(list[0].Msg, "kernel") {
			t.Errorf("schedule.on with client %s: %v", client, list)
		}
	}
}

// NFSClient (auto) is there when either client is.
func TestNFSClientCapability(t *testing.T) {
	k, f := support.KernelNFS.Probe, support.FuseMount.Probe
	defer func() { support.KernelNFS.Probe, support.FuseMount.Probe = k, f }()
	no := func() error { return errors.New("absent") }
	yes := func() error { return nil }
	for _, tc := range []struct {
		kernel, fuse func() error
		ok           bool
	}{{yes, no, true}, {no, yes, true}, {yes, yes, true}, {no, no, false}} {
		support.KernelNFS.Probe, support.FuseMount.Probe = tc.kernel, tc.fuse
		if err := support.NFSClient.Check(); (err == nil) != tc.ok {
			t.Errorf("kernel %v fuse %v: %v", tc.kernel() == nil, tc.fuse() == nil, err)
		}
	}
}
