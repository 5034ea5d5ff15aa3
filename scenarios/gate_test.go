package scenarios

import (
	"strings"
	"testing"

	"github.com/rwxchaos/rwxchaos/framework/scenario"
)

// RWXCHAOS_LAB picks which kind scenarios run: 1 (or CI=true) the CI tier,
// nightly the CI and nightly tiers, all every one; an unknown value runs
// none and says what to set.
func TestGateByLabEnv(t *testing.T) {
	kindTier := func(tier string) *scenario.Scenario {
		s := &scenario.Scenario{}
		s.Cluster.Provider = scenario.ProviderKind
		s.Metadata.Labels = map[string]string{}
		if tier != "" {
			s.Metadata.Labels["tier"] = tier
		}
		return s
	}
	local := &scenario.Scenario{}
	local.Cluster.Provider = scenario.ProviderLocal
	cases := []struct {
		lab, ci string
		runs    map[string]bool // tier → runs
	}{
		{"", "", map[string]bool{"ci": false, "nightly": false, "": false}},
		{"", "true", map[string]bool{"ci": true, "nightly": false, "": false}},
		{"1", "", map[string]bool{"ci": true, "nightly": false, "": false}},
		{"nightly", "", map[string]bool{"ci": true, "nightly": true, "": false, "smoke": false}},
		{"nightly", "true", map[string]bool{"ci": true, "nightly": true, "": false}},
		{"all", "", map[string]bool{"ci": true, "nightly": true, "": true}},
		{"nightlty", "true", map[string]bool{"ci": false, "nightly": false, "": false}},
	}
	for _, c := range cases {
		t.Setenv("RWXCHAOS_LAB", c.lab)
		t.Setenv("CI", c.ci)
		if why := Gate(local); why != "" {
			t.Errorf("RWXCHAOS_LAB=%q CI=%q: a local scenario is skipped: %s", c.lab, c.ci, why)
		}
		for tier, want := range c.runs {
			why := Gate(kindTier(tier))
			if (why == "") != want {
				t.Errorf("RWXCHAOS_LAB=%q CI=%q tier %q: runs %v (%q), want %v", c.lab, c.ci, tier, why == "", why, want)
			}
		}
	}
	t.Setenv("RWXCHAOS_LAB", "nightlty")
	err := CheckLabEnv()
	if err == nil || !strings.Contains(err.Error(), "nightly") {
		t.Fatalf("CheckLabEnv(nightlty) = %v, want an error naming the values", err)
	}
	if why := Gate(kindTier("ci")); !strings.Contains(why, `"nightlty"`) {
		t.Fatalf("Gate under a typo says %q, want the bad value named", why)
	}
}

// The selection `rwxchaos list --select` offers (and the GitHub Action
// uses) picks what the suites' RWXCHAOS_LAB picks: set=ci the scenarios
// RWXCHAOS_LAB=1 runs, set=nightly those RWXCHAOS_LAB=nightly runs, over
// the whole library; and bad selections say what is accepted.
func TestFilterAgreesWithGate(t *testing.T) {
	for _, c := range []struct{ lab, set string }{{"1", SetCI}, {"nightly", SetNightly}, {"all", SetAll}} {
		t.Setenv("RWXCHAOS_LAB", c.lab)
		t.Setenv("CI", "")
		f, err := ParseFilter("set=" + c.set)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, name := range Names() {
			s, err := Load(name)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if s.Cluster.Provider == scenario.ProviderExisting {
				if f.Match(s) != (c.set == SetAll) {
					t.Errorf("set=%s: existing-cluster scenario %s selected %v", c.set, name, f.Match(s))
				}
				continue
			}
			runs := Gate(s) == ""
			if f.Match(s) != runs {
				t.Errorf("set=%s selects %s: %v, but RWXCHAOS_LAB=%s runs it: %v", c.set, name, f.Match(s), c.lab, runs)
			}
			if runs {
				n++
			}
		}
		if n == 0 {
			t.Errorf("set=%s selects nothing", c.set)
		}
	}
	f, err := ParseFilter("provider=kind, set=nightly,backend=nfs")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range Names() {
		s, _ := Load(name)
		want := s.Cluster.Provider == scenario.ProviderKind && s.Storage.Backend == scenario.BackendNFS && InSet(s, SetNightly)
		if f.Match(s) != want {
			t.Errorf("%s: provider=kind,set=nightly,backend=nfs matches %v, want %v", name, f.Match(s), want)
		}
	}
	for expr, want := range map[string]string{
		"":                             "empty selection",
		"tier=ci":                      `unknown key "tier"`,
		"provider=kind,provider=local": "given twice",
		"provider=kinnd":               "want one of local, kind, existing",
		"backend=nfs4":                 "want one of local, hostpath",
		"set=weekly":                   "want ci",
		"provider":                     "not key=value",
		"provider=kind,":               "not key=value",
	} {
		if _, err := ParseFilter(expr); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseFilter(%q) = %v, want an error with %q", expr, err, want)
		}
	}
}
