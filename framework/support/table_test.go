package support

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDecideMostSpecificWins(t *testing.T) {
	c := &Capability{Name: "c"}
	rules := []Rule{
		{Kind: FeatureSelect, Name: "s", When: []string{"defect=d"}, No: "never with d: do x"},
		{Provider: "p", Kind: FeatureAction, Name: "a", No: "needs backend f: use f"},
		{Provider: "p", Kind: FeatureAction, Name: "a", When: []string{"backend=f"}, Needs: []*Capability{c}},
		{Provider: "p", Kind: FeatureSelect, Name: "s"},
	}
	for _, tc := range []struct {
		q          Query
		ok         bool
		reason     string
		everywhere bool
		needs      int
		declared   bool
	}{
		{Query{Provider: "p", Kind: FeatureAction, Name: "a", Facts: []string{"backend=x"}}, false, "needs backend f", false, 0, true},
		{Query{Provider: "p", Kind: FeatureAction, Name: "a", Facts: []string{"backend=f"}}, true, "", false, 1, true},
		{Query{Provider: "p", Kind: FeatureSelect, Name: "s"}, true, "", false, 0, true},
		{Query{Provider: "p", Kind: FeatureSelect, Name: "s", Facts: []string{"defect=d"}}, false, "never with d", true, 0, true},
		{Query{Provider: "q", Kind: FeatureAction, Name: "a"}, false, "does not say", false, 0, false},
		{Query{Provider: "q", Kind: FeatureExpect, Name: "e"}, true, "", false, 0, true},
	} {
		d := decide(rules, tc.q)
		if d.OK != tc.ok || !strings.Contains(d.Reason, tc.reason) || d.Everywhere != tc.everywhere || len(d.Needs) != tc.needs || d.Declared != tc.declared {
			t.Errorf("%+v: got %+v", tc.q, d)
		}
	}
}

func TestDescribeMergesProviders(t *testing.T) {
	got := strings.Join(Describe(FeatureAction, "chaos-pod-kill"), "\n")
	if !strings.HasPrefix(got, "local, kind: no: Chaos Mesh objects") || !strings.Contains(got, "existing: yes") {
		t.Errorf("Describe(chaos-pod-kill):\n%s", got)
	}
	got = strings.Join(Describe(FeatureSelect, "lock-holder"), "\n")
	if !strings.Contains(got, "never with defect no-lock") {
		t.Errorf("Describe(lock-holder) misses the cross-provider refusal:\n%s", got)
	}
}

func TestCapabilityProbes(t *testing.T) {
	dir := t.TempDir()
	fs := filepath.Join(dir, "filesystems")
	saved := procFilesystems
	defer func() { procFilesystems = saved }()
	procFilesystems = fs
	os.WriteFile(fs, []byte("nodev\tsysfs\n\text4\nnodev\tfuse\n"), 0o644)
	if err := KernelNFS.Check(); err == nil || !strings.Contains(err.Error(), "neither nfs nor nfs4") {
		t.Errorf("no nfs listed: %v", err)
	}
	err := KernelNFS.Missing("backend nfs", "kind")
	var u *Unsupported
	if !errors.As(err, &u) || !strings.Contains(u.Reason, "runs only where the host kernel has an NFS client") {
		t.Errorf("Missing: %v", err)
	}
	os.WriteFile(fs, []byte("nodev\tsysfs\nnodev\tnfs\nnodev\tnfs4\n"), 0o644)
	if err := KernelNFS.Check(); err != nil {
		t.Errorf("nfs listed: %v", err)
	}
	if err := ChaosMeshIO.Check(); !errors.Is(err, ErrNotProbed) {
		t.Errorf("an unprobeable capability: %v", err)
	}
	if err := ChaosMeshIO.Missing("chaos-io-fault", "existing"); err != nil {
		t.Errorf("an unprobeable capability is not missing before the run: %v", err)
	}
}

// The publish/consume workload runs on every kind backend: on nfs its pods
// mount the nodes' NFS client like the pipeline's.
func TestKindPublishConsumeOnEveryBackend(t *testing.T) {
	for _, b := range []string{"hostpath", "fuse", "nfs"} {
		d := Decide(Query{Provider: Kind, Kind: FeatureMode, Name: "publish-consume", Facts: []string{"backend=" + b}})
		if !d.OK || !d.Declared {
			t.Errorf("publish-consume on kind/%s: %+v", b, d)
		}
	}
}
