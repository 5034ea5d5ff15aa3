package kindcluster

import (
	"strings"
	"testing"

	"github.com/rwxchaos/rwxchaos/framework/lab"
)

func TestNewPrefixesNameAndUsesLabImage(t *testing.T) {
	m := &lab.Manifest{Images: lab.Images{Node: "rwxchaos/kind-node:v1.34.4-abc"}}
	c, err := New(Options{Name: "x", Workers: 2, Lab: LabOn, LabManifest: m, SharedDir: "/srv/rwx"})
	if err != nil {
		t.Fatal(err)
	}
	if c.Name() != "rwxchaos-x" || c.NodeImage() != m.Images.Node {
		t.Fatalf("name %q image %q", c.Name(), c.NodeImage())
	}
	cfg := c.config()
	if len(cfg.Nodes) != 3 {
		t.Fatalf("%d nodes, want 3", len(cfg.Nodes))
	}
	for _, n := range cfg.Nodes {
		if len(n.ExtraMounts) != 1 || n.ExtraMounts[0].HostPath != "/srv/rwx" || n.ExtraMounts[0].ContainerPath != "/srv/rwx" {
			t.Fatalf("node %s mounts %+v", n.Role, n.ExtraMounts)
		}
	}
}

func TestNewOffUsesKindDefault(t *testing.T) {
	c, err := New(Options{Name: "rwxchaos-y", Lab: LabOff})
	if err != nil {
		t.Fatal(err)
	}
	if c.Name() != "rwxchaos-y" || c.NodeImage() != "" {
		t.Fatalf("name %q image %q", c.Name(), c.NodeImage())
	}
}

func TestNewLabRequestedWithoutManifestFails(t *testing.T) {
	t.Setenv(lab.EnvCache, t.TempDir())
	t.Setenv(lab.EnvLab, "1")
	if _, err := New(Options{Name: "z"}); err == nil || !strings.Contains(err.Error(), "make lab") {
		t.Fatalf("err = %v, want a hint to run make lab", err)
	}
	t.Setenv(lab.EnvLab, "")
	c, err := New(Options{Name: "z"})
	if err != nil || c.NodeImage() != "" {
		t.Fatalf("auto without lab: image %q err %v", c.NodeImage(), err)
	}
}

func TestTimingPatches(t *testing.T) {
	if p := timingPatches(Timings{}); p != nil {
		t.Fatalf("zero timings gave %+v", p)
	}
	p := timingPatches(FastFailover)
	if len(p) != 1 || p[0].Version != "v1beta4" {
		t.Fatalf("patches %+v", p)
	}
	for _, want := range []string{
		`path: /controllerManager/extraArgs/-`, `{name: "node-monitor-grace-period", value: "10s"}`,
		`{name: "default-not-ready-toleration-seconds", value: "10"}`,
		`{name: "default-unreachable-toleration-seconds", value: "10"}`,
	} {
		if !strings.Contains(p[0].Patch, want) {
			t.Errorf("patch lacks %s:\n%s", want, p[0].Patch)
		}
	}
}
