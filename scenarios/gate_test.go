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
