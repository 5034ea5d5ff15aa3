package scenarios

import (
	"fmt"
	"slices"
	"strings"

	"github.com/rwxchaos/rwxchaos/framework/scenario"
)

// The run sets, from the smallest: what RWXCHAOS_LAB=1 (or CI=true),
// RWXCHAOS_LAB=nightly and RWXCHAOS_LAB=all run, and what `rwxchaos list
// --select set=...` selects.
const (
	// SetCI is every local scenario and the kind scenarios labelled `tier: ci`.
	SetCI = "ci"
	// SetNightly is every local scenario and the kind scenarios labelled
	// `tier: ci` or `tier: nightly`: the nightly set.
	SetNightly = "nightly"
	// SetAll is the whole library.
	SetAll = "all"
)

// InSet reports whether a scenario belongs to a run set (SetCI, SetNightly,
// SetAll). Existing-cluster scenarios need a cluster of the user's, so only
// SetAll holds them.
func InSet(s *scenario.Scenario, set string) bool {
	tier := s.Metadata.Labels["tier"]
	switch set {
	case SetAll:
		return true
	case SetNightly:
		return s.Cluster.Provider == scenario.ProviderLocal ||
			s.Cluster.Provider == scenario.ProviderKind && (tier == "ci" || tier == "nightly")
	case SetCI:
		return s.Cluster.Provider == scenario.ProviderLocal ||
			s.Cluster.Provider == scenario.ProviderKind && tier == "ci"
	}
	return false
}

// A Filter selects scenarios by what their specs say: provider, backend and
// run set, each optional; a scenario matches when every given one holds.
type Filter struct {
	Provider scenario.Provider
	Backend  scenario.Backend
	Set      string
}

// ParseFilter reads key=value conditions joined by commas, e.g.
// "provider=kind,set=nightly". Keys: provider (local, kind, existing),
// backend (local, hostpath, fuse, nfs, storageclass) and set (ci, nightly,
// all). An unknown key or value, or a key given twice, is an error that
// names what is accepted.
func ParseFilter(expr string) (Filter, error) {
	var f Filter
	if strings.TrimSpace(expr) == "" {
		return f, fmt.Errorf("empty selection: want key=value[,key=value...] with keys provider, backend, set")
	}
	seen := map[string]bool{}
	for _, cond := range strings.Split(expr, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(cond), "=")
		if !ok || k == "" || v == "" {
			return f, fmt.Errorf("selection %q: %q is not key=value (keys provider, backend, set)", expr, cond)
		}
		if seen[k] {
			return f, fmt.Errorf("selection %q: %s is given twice", expr, k)
		}
		seen[k] = true
		switch k {
		case "provider":
			ps := []string{string(scenario.ProviderLocal), string(scenario.ProviderKind), string(scenario.ProviderExisting)}
			if !slices.Contains(ps, v) {
				return f, fmt.Errorf("selection %q: provider %q: want one of %s", expr, v, strings.Join(ps, ", "))
			}
			f.Provider = scenario.Provider(v)
		case "backend":
			bs := []string{string(scenario.BackendLocal), string(scenario.BackendHostPath), string(scenario.BackendFuse),
				string(scenario.BackendNFS), string(scenario.BackendStorageClass)}
			if !slices.Contains(bs, v) {
				return f, fmt.Errorf("selection %q: backend %q: want one of %s", expr, v, strings.Join(bs, ", "))
			}
			f.Backend = scenario.Backend(v)
		case "set":
			if v != SetCI && v != SetNightly && v != SetAll {
				return f, fmt.Errorf("selection %q: set %q: want ci (the CI tier), nightly (the nightly set) or all (the whole library)", expr, v)
			}
			f.Set = v
		default:
			return f, fmt.Errorf("selection %q: unknown key %q: want provider, backend or set", expr, k)
		}
	}
	return f, nil
}

// Match reports whether a scenario meets every condition of the filter.
func (f Filter) Match(s *scenario.Scenario) bool {
	return (f.Provider == "" || s.Cluster.Provider == f.Provider) &&
		(f.Backend == "" || s.Storage.Backend == f.Backend) &&
		(f.Set == "" || InSet(s, f.Set))
}
