package kind

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/rwxchaos/rwxchaos/fixtures/k8s"
	"github.com/rwxchaos/rwxchaos/framework/lab/labtest"
	"github.com/rwxchaos/rwxchaos/framework/scenario"
)

// On the lab: a scenario leaves every kind of mess on the shared cluster;
// the check before the next scenario names each piece, the reset undoes all
// of it, and the next acquire finds the cluster clean. Also shows that a
// mount made below the shared dir after the nodes exist (a fuse scenario's
// server) appears inside the nodes.
func TestLabPoolReset(t *testing.T) {
	if os.Getenv("RWXCHAOS_LAB") == "" && os.Getenv("CI") != "true" {
		t.Skip("needs the kind lab: RWXCHAOS_LAB=1 after `make lab`")
	}
	labtest.Lock(t)
	s, err := scenario.Parse("pool.yaml", []byte(`apiVersion: rwxchaos.dev/v1alpha1
kind: Scenario
metadata: {name: pool-reset}
cluster:
  provider: kind
  kind: {workers: 2}
  timings: {nodeMonitorGracePeriod: 10s, notReadyTolerationSeconds: 10, unreachableTolerationSeconds: 10}
`))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	pool := NewPool(PoolOptions{Logf: t.Logf, Dir: t.TempDir()})
	defer func() {
		if err := pool.Close(context.Background()); err != nil {
			t.Errorf("close: %v", err)
		}
	}()
	pc, err := pool.acquire(ctx, s, t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	c := &pc.SharedCluster
	w1, w2 := c.workers[0], c.workers[1]

	// A mount made now below the shared dir reaches the nodes.
	mnt := filepath.Join(c.dir, sharedFuse, "probe")
	if err := os.MkdirAll(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("tmpfs", mnt, "tmpfs", 0, "size=1m"); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(mnt, "hello"), []byte("from the host"), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := c.Exec(ctx, w1, `cat "$1"`, filepath.Join(mnt, "hello")); err != nil || out != "from the host" {
		t.Errorf("a mount below the shared dir is not visible in node %s: %q %v", w1, out, err)
	}

	// The mess.
	must := func(_ string, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(c.Exec(ctx, w1, `iptables -I INPUT -s 192.0.2.1 -m comment --comment "$1" -j DROP`, FaultRuleTag+"test"))
	must(c.Docker(ctx, "pause", w2))
	n, err := c.cs.CoreV1().Nodes().Get(ctx, w1, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	n.Spec.Taints = append(n.Spec.Taints, corev1.Taint{Key: "chaos", Value: "1", Effect: corev1.TaintEffectNoSchedule})
	n.Spec.Unschedulable = true
	if _, err := c.cs.CoreV1().Nodes().Update(ctx, n, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "rwxchaos-leftover",
		Labels: map[string]string{k8s.LabelRun: "leftover"}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(c.dir, sharedRuns, "leftover", "botssys"), 0o755); err != nil {
		t.Fatal(err)
	}

	left := strings.Join(leftovers(ctx, c, resetSteps(nil, nil)), "\n")
	t.Logf("leftovers found:\n%s", left)
	for _, want := range []string{
		"node-containers: node container " + w2 + " is paused",
		"fault-rules: node " + w1 + " has iptables rule filter -A INPUT -s 192.0.2.1/32",
		"taints: node " + w1 + " is cordoned",
		"taints: node " + w1 + " has taint chaos:NoSchedule",
		"namespaces: namespace rwxchaos-leftover exists",
		"shared-dir: mount " + mnt + " is still there",
		"shared-dir: " + filepath.Join(c.dir, sharedRuns, "leftover") + " is left from a run",
	} {
		if !strings.Contains(left, want) {
			t.Errorf("the check misses %q", want)
		}
	}
	start := time.Now()
	if err := pool.release(ctx, pc); err != nil {
		t.Fatalf("reset: %v", err)
	}
	t.Logf("reset took %s", time.Since(start).Round(time.Millisecond))
	pc, err = pool.acquire(ctx, s, t.Logf)
	if err != nil {
		t.Fatalf("after the reset: %v", err)
	}
	if pool.Stats().Clusters != 1 {
		t.Errorf("the clean cluster was not reused: %+v", pool.Stats())
	}
	if err := pool.release(ctx, pc); err != nil {
		t.Fatal(err)
	}
}
