package kindcluster

import (
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"
)

// kind writes kubeadm v1beta3 for the lab's v1.34 nodes; the v1beta4 JSON
// patch alone is skipped silently there, so the timings need a v1beta3
// merge patch too (seen on the lab: without it a dead node stayed Ready for
// 50 s and its pods were never evicted).
func TestTimingMergePatchIsV1beta3(t *testing.T) {
	ps := timingMergePatches(FastFailover)
	if len(ps) != 1 {
		t.Fatalf("%d patches", len(ps))
	}
	var doc struct {
		APIVersion        string `json:"apiVersion"`
		Kind              string `json:"kind"`
		ControllerManager struct {
			ExtraArgs map[string]string `json:"extraArgs"`
		} `json:"controllerManager"`
		APIServer struct {
			ExtraArgs map[string]string `json:"extraArgs"`
		} `json:"apiServer"`
	}
	if err := yaml.UnmarshalStrict([]byte(ps[0]), &doc); err != nil {
		t.Fatalf("%v\n%s", err, ps[0])
	}
	if doc.APIVersion != "kubeadm.k8s.io/v1beta3" || doc.ControllerManager.ExtraArgs["node-monitor-grace-period"] != "10s" ||
		doc.APIServer.ExtraArgs["default-unreachable-toleration-seconds"] != "10" || doc.APIServer.ExtraArgs["default-not-ready-toleration-seconds"] != "10" {
		t.Fatalf("patch %+v", doc)
	}
	if timingMergePatches(Timings{}) != nil {
		t.Fatal("no timings, no patch")
	}
	if p := timingMergePatches(Timings{NodeMonitorGracePeriod: 20 * time.Second}); strings.Contains(p[0], "apiServer") {
		t.Fatal("apiServer section without apiServer flags")
	}
}

// Under a short grace period the kubelets renew their node lease four
// times within it, so a late renewal on a loaded machine is no NotReady.
func TestKubeletLeasePatch(t *testing.T) {
	ps := kubeletLeasePatches(FastFailover)
	if len(ps) != 1 {
		t.Fatalf("%d patches", len(ps))
	}
	var doc struct {
		APIVersion               string `json:"apiVersion"`
		Kind                     string `json:"kind"`
		NodeLeaseDurationSeconds int    `json:"nodeLeaseDurationSeconds"`
	}
	if err := yaml.UnmarshalStrict([]byte(ps[0]), &doc); err != nil {
		t.Fatalf("%v\n%s", err, ps[0])
	}
	if doc.APIVersion != "kubelet.config.k8s.io/v1beta1" || doc.Kind != "KubeletConfiguration" || doc.NodeLeaseDurationSeconds != 10 {
		t.Fatalf("patch %+v", doc)
	}
	if kubeletLeasePatches(Timings{}) != nil || kubeletLeasePatches(Timings{NodeMonitorGracePeriod: 40 * time.Second}) != nil {
		t.Fatal("Kubernetes' default grace period keeps the kubelets' default lease")
	}
}
