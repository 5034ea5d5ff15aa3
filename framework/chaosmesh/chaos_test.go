package chaosmesh

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chaos-mesh/chaos-mesh/api/v1alpha1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/rwxchaos/rwxchaos/framework/support"
)

var tmeta = Meta{Namespace: "bots", RunID: "20261123T141502Z-s42", Fault: "cut-engine-from-jobqueue"}

func TestNetworkPartition(t *testing.T) {
	nc, err := NetworkPartition(Partition{Meta: tmeta,
		From:      Target{Namespace: "bots", Labels: map[string]string{"component": "engine"}},
		To:        Target{Namespace: "bots", Labels: map[string]string{"component": "jobqueue"}},
		Direction: Egress, Duration: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if len(nc.Name) > 63 || !strings.HasPrefix(nc.Name, "rwxchaos-cut-engine-from-jobqueue-") {
		t.Errorf("name %q", nc.Name)
	}
	if nc.Labels[LabelRun] != tmeta.RunID || nc.Labels[LabelFault] != tmeta.Fault {
		t.Errorf("labels %v", nc.Labels)
	}
	s := nc.Spec
	if s.Action != v1alpha1.PartitionAction || s.Direction != v1alpha1.To || s.Mode != v1alpha1.AllMode {
		t.Errorf("spec %+v", s)
	}
	if s.Selector.LabelSelectors["component"] != "engine" || s.Target.Selector.LabelSelectors["component"] != "jobqueue" {
		t.Errorf("selectors %+v / %+v", s.Selector, s.Target.Selector)
	}
	if s.Selector.Namespaces[0] != "bots" || *s.Duration != "3m0s" {
		t.Errorf("namespace %v duration %v", s.Selector.Namespaces, *s.Duration)
	}
	y, err := YAML(nc)
	if err != nil || !strings.Contains(string(y), "kind: NetworkChaos") || strings.Contains(string(y), "status:") {
		t.Errorf("yaml (%v):\n%s", err, y)
	}
}

func TestBuildersRefuse(t *testing.T) {
	all := Target{Namespace: "bots"}
	if _, err := PodKill(tmeta, all, 0); err == nil {
		t.Error("pod-kill without labels or pods selects the whole namespace: want an error")
	}
	if _, err := PodFailure(tmeta, Target{Namespace: "bots", Pods: []string{"a"}}, 0); err == nil {
		t.Error("pod-failure without duration accepted")
	}
	if _, err := IOFault(IO{Meta: tmeta, Target: Target{Namespace: "bots", Pods: []string{"a"}}, Duration: time.Second}, 5); err == nil {
		t.Error("io chaos without VolumePath accepted")
	}
	if _, err := NetworkPartition(Partition{Meta: Meta{Namespace: "bots"}, Duration: time.Second}); err == nil {
		t.Error("meta without run id accepted")
	}
	long := tmeta
	long.Fault = strings.Repeat("x", 63)
	p, err := PodKill(long, Target{Namespace: "bots", Pods: []string{"web-1"}}, 0)
	if err != nil || len(p.Name) > 63 {
		t.Errorf("long name %q (%v)", p.Name, err)
	}
	if p.Spec.Selector.Pods["bots"][0] != "web-1" || p.Spec.Duration != nil {
		t.Errorf("pod-kill spec %+v", p.Spec)
	}
	io, err := IOLatency(IO{Meta: tmeta, Target: Target{Namespace: "bots", Labels: map[string]string{"a": "b"}, Count: 2},
		VolumePath: "/home/bots/.bots", Percent: 50, Duration: time.Minute}, 200*time.Millisecond)
	if err != nil || io.Spec.Delay != "200ms" || io.Spec.Mode != v1alpha1.FixedMode || io.Spec.Value != "2" || io.Spec.Path != "/home/bots/.bots/**/*" {
		t.Errorf("io latency %+v (%v)", io.Spec, err)
	}
}

func newFake(t *testing.T, objs ...client.Object) client.Client {
	s, err := Scheme()
	if err != nil {
		t.Fatal(err)
	}
	return fake.NewClientBuilder().WithScheme(s).WithObjects(objs...).
		WithStatusSubresource(&v1alpha1.NetworkChaos{}, &v1alpha1.PodChaos{}, &v1alpha1.IOChaos{}).Build()
}

func setCond(t *testing.T, c client.Client, o Object, typ v1alpha1.ChaosConditionType) {
	t.Helper()
	cur := o.DeepCopyObject().(Object)
	if err := c.Get(context.Background(), client.ObjectKeyFromObject(o), cur); err != nil {
		t.Fatal(err)
	}
	cur.GetStatus().Conditions = append(cur.GetStatus().Conditions, v1alpha1.ChaosCondition{Type: typ, Status: corev1.ConditionTrue})
	if err := c.Status().Update(context.Background(), cur); err != nil {
		t.Fatal(err)
	}
}

// The lifecycle against a fake API server: a fake cannot run Chaos Mesh, so
// the test plays its part by setting the conditions (the lab test in
// framework/provider/existing does it for real).
func TestFaultLifecycle(t *testing.T) {
	ctx := context.Background()
	c := newFake(t)
	pk, err := PodFailure(tmeta, Target{Namespace: "bots", Labels: map[string]string{"component": "webserver"}, Count: 1}, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	f := NewFault(c, pk, Options{Action: "chaos-pod-failure", Name: "fail-webserver", Kubeconfig: "/k", Context: "lab"})
	if err := f.Verify(ctx); err == nil {
		t.Fatal("verify before inject passed")
	}
	if err := f.Inject(ctx); err != nil {
		t.Fatal(err)
	}
	if err := f.Verify(ctx); err == nil || !strings.Contains(err.Error(), "not injected yet") {
		t.Fatalf("verify without AllInjected: %v", err)
	}
	setCond(t, c, pk, v1alpha1.ConditionAllInjected)
	if err := f.Verify(ctx); err != nil {
		t.Fatal(err)
	}
	if err := f.Heal(ctx); err != nil {
		t.Fatal(err)
	}
	var got v1alpha1.PodChaos
	if err := c.Get(ctx, client.ObjectKeyFromObject(pk), &got); err != nil || got.Annotations[v1alpha1.PauseAnnotationKey] != "true" {
		t.Fatalf("heal did not pause: %v %v", got.Annotations, err)
	}
	if err := f.VerifyHealed(ctx); err == nil {
		t.Fatal("healed before AllRecovered")
	}
	setCond(t, c, pk, v1alpha1.ConditionAllRecovered)
	if err := f.VerifyHealed(ctx); err == nil || !strings.Contains(err.Error(), "waiting for its deletion") {
		t.Fatalf("want deletion in progress, got %v", err)
	}
	if err := f.VerifyHealed(ctx); err != nil {
		t.Fatalf("object deleted, still not healed: %v", err)
	}
	inj, rec := f.Times()
	if inj.IsZero() || rec.IsZero() {
		t.Errorf("times %v %v", inj, rec)
	}
	u := f.Undo()
	if u.Kind != "kube-delete" || u.Obj != "chaos-mesh.org/v1alpha1/PodChaos/bots/"+pk.Name || len(u.Args) != 2 {
		t.Errorf("undo %+v", u)
	}
}

// Chaos Mesh never reports AllRecovered for a one-shot pod-kill (seen in
// the lab): healing it is deleting it.
func TestOneShotPodKillHealsByDeletion(t *testing.T) {
	ctx := context.Background()
	c := newFake(t)
	pk, _ := PodKill(tmeta, Target{Namespace: "bots", Pods: []string{"web-1"}}, 0)
	f := NewFault(c, pk, Options{})
	if !f.OneShot() {
		t.Fatal("pod-kill not one-shot")
	}
	if err := f.Inject(ctx); err != nil {
		t.Fatal(err)
	}
	setCond(t, c, pk, v1alpha1.ConditionAllInjected)
	if err := f.Verify(ctx); err != nil {
		t.Fatal(err)
	}
	if err := f.Heal(ctx); err != nil {
		t.Fatal(err)
	}
	if err := f.VerifyHealed(ctx); err != nil {
		t.Fatalf("pod-kill deleted by Heal, VerifyHealed: %v", err)
	}
}

func TestSweep(t *testing.T) {
	ctx := context.Background()
	mine, _ := PodKill(tmeta, Target{Namespace: "bots", Pods: []string{"a"}}, 0)
	other := tmeta
	other.RunID = "another-run"
	theirs, _ := PodKill(other, Target{Namespace: "bots", Pods: []string{"a"}}, 0)
	elsewhere, _ := PodKill(Meta{Namespace: "prod", RunID: tmeta.RunID, Fault: "x"}, Target{Namespace: "prod", Pods: []string{"a"}}, 0)
	c := newFake(t, mine, theirs, elsewhere)
	res, err := Sweep(ctx, c, []string{"bots"}, tmeta.RunID, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Deleted) != 1 || !strings.Contains(res.Deleted[0], mine.Name) {
		t.Fatalf("swept %v", res.Deleted)
	}
	var l v1alpha1.PodChaosList
	_ = c.List(ctx, &l)
	if len(l.Items) != 2 {
		t.Errorf("sweep touched other runs or namespaces: %d left", len(l.Items))
	}
}

func TestCheckDaemonAnnotation(t *testing.T) {
	ds := &appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Namespace: "chaos-mesh", Name: "chaos-daemon",
		Annotations: map[string]string{AnnotationUnsupported: "IOChaos, HTTPChaos", AnnotationUnsupportedReason: "no toda"}}}
	c := newFake(t, ds)
	err := Check(context.Background(), c, "IOChaos", "bots", DefaultDaemon)
	if !support.IsUnsupported(err) || !strings.Contains(err.Error(), "no toda") {
		t.Fatalf("IOChaos: %v", err)
	}
	if err := Check(context.Background(), c, "NetworkChaos", "bots", DefaultDaemon); err != nil {
		t.Fatalf("NetworkChaos: %v", err)
	}
}
