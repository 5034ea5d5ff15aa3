package kind

import (
	"context"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/rwxchaos/rwxchaos/fixtures/k8s"
	"github.com/rwxchaos/rwxchaos/framework/history"
	"github.com/rwxchaos/rwxchaos/framework/provider"
)

// The pipeline has not settled while a dead holder's expired lease is not
// taken over: the engines are stopped after the settle, so nobody would
// take it over before collection.
func TestBacklogWaitsForAStaleLease(t *testing.T) {
	now := time.Unix(1000, 0)
	e := &Env{volume: t.TempDir(), o: Options{Clock: func() time.Time { return now }}}
	waiting := func() []string { return backlogWaiting(t, e) }
	if w := waiting(); len(w) != 0 {
		t.Errorf("no lease yet: waiting for %v", w)
	}
	lease := history.Lease{Holder: "engine-a", Node: "w2", Epoch: 7, TTLMillis: 10_000, Heartbeat: now.Add(-15 * time.Second).UnixNano()}
	writeLease(t, e.volume, lease)
	if w := waiting(); len(w) != 1 || !strings.Contains(w[0], "epoch 7 held by engine-a on w2, lease expired 5s ago") {
		t.Errorf("expired lease: waiting for %v", w)
	}
	lease.Heartbeat = now.Add(-5 * time.Second).UnixNano()
	writeLease(t, e.volume, lease)
	if w := waiting(); len(w) != 0 {
		t.Errorf("a live holder is not waited for (it ends by itself): %v", w)
	}
	lease.Heartbeat, lease.Released = now.Add(-time.Hour).UnixNano(), true
	writeLease(t, e.volume, lease)
	if w := waiting(); len(w) != 0 {
		t.Errorf("released long ago: waiting for %v", w)
	}
	var _ provider.Settler = e
}

// Quiesce suspends the CronJob, scales the jobqueue to 0 and waits until no
// engine runner is left on a Ready node; a pod on a node not Ready is named,
// not waited for; what it could not stop is an error.
func TestQuiesceStopsTheEngineRunners(t *testing.T) {
	ns := "run-1"
	pod := func(name, comp, node string, phase corev1.PodPhase) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{k8s.LabelComponent: comp}},
			Spec: corev1.PodSpec{NodeName: node}, Status: corev1.PodStatus{Phase: phase}}
	}
	one := int32(1)
	cron := &batchv1.CronJob{ObjectMeta: metav1.ObjectMeta{Name: "engine", Namespace: ns}}
	jq := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "jobqueue", Namespace: ns}, Spec: appsv1.DeploymentSpec{Replicas: &one}}
	done := pod("engine-1", k8s.ComponentEngine, "w1", corev1.PodSucceeded)
	running := pod("jobqueue-x", k8s.ComponentJobq, "w1", corev1.PodRunning)
	stranded := pod("engine-2", k8s.ComponentEngine, "w3", corev1.PodRunning)
	web := pod("webserver-a", k8s.ComponentWeb, "w1", corev1.PodRunning)

	cs := fake.NewClientset(cron, jq, done, running, stranded, web)
	// The fake has no controllers: scaling the Deployment to 0 deletes its
	// pod as the ReplicaSet controller would.
	cs.PrependReactor("patch", "deployments", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if a.(k8stesting.PatchAction).GetName() == "jobqueue" {
			_ = cs.Tracker().Delete(corev1.SchemeGroupVersion.WithResource("pods"), ns, "jobqueue-x")
		}
		return false, nil, nil
	})
	vol := t.TempDir()
	writeLease(t, vol, history.Lease{Holder: "engine-a", Node: "w1", Epoch: 4, Released: true})
	e := &Env{cs: cs, ns: ns, volume: vol, obs: newObserver(time.Now)}
	e.obs.nodeLast = map[string]bool{"w1": true, "w3": false}
	did, err := e.Quiesce(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"engine CronJob suspended", "jobqueue scaled to 0", "no engine or jobqueue pod running",
		"except on nodes not Ready: engine-2 on w3", "lease epoch 4 released"} {
		if !strings.Contains(did, want) {
			t.Errorf("Quiesce said %q, want %q in it", did, want)
		}
	}
	got, err := cs.BatchV1().CronJobs(ns).Get(context.Background(), "engine", metav1.GetOptions{})
	if err != nil || got.Spec.Suspend == nil || !*got.Spec.Suspend {
		t.Errorf("CronJob not suspended: %v %v", got.Spec.Suspend, err)
	}
	if d, err := cs.AppsV1().Deployments(ns).Get(context.Background(), "jobqueue", metav1.GetOptions{}); err != nil || *d.Spec.Replicas != 0 {
		t.Errorf("jobqueue not scaled to 0: %v %v", d.Spec.Replicas, err)
	}

	// stuck quiesces pods (and a watch) on the Ready node w1 that never
	// end: the error must name want.
	stuck := func(what, want string, recs map[string]*podRec, pods ...runtime.Object) {
		t.Helper()
		e := &Env{cs: fake.NewClientset(pods...), ns: ns, volume: vol, obs: newObserver(time.Now)}
		e.obs.nodeLast = map[string]bool{"w1": true}
		for uid, r := range recs {
			e.obs.pods[uid] = r
		}
		ctx, cancel := context.WithTimeout(context.Background(), 600*time.Millisecond)
		defer cancel()
		if _, err := e.Quiesce(ctx); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want an error naming %s", what, err, want)
		}
	}
	stuck("a running engine on a Ready node", "engine-3 on w1", nil, pod("engine-3", k8s.ComponentEngine, "w1", corev1.PodRunning))
	// CI19: the jobqueue's container had exited (phase Succeeded) but its
	// pod was still Terminating, and the run ended with a pod stuck. A
	// deleted pod is waited for until it is gone, for the API and for the
	// watch.
	exited := pod("jobqueue-y", k8s.ComponentJobq, "w1", corev1.PodSucceeded)
	now := metav1.Now()
	exited.DeletionTimestamp = &now
	stuck("an exited pod still Terminating", "jobqueue-y on w1", nil, exited)
	stuck("gone for the API, Terminating for the watch", "jobqueue-z on w1",
		map[string]*podRec{"uid-z": {name: "jobqueue-z", component: k8s.ComponentJobq, node: "w1", deleting: 1}})
}
