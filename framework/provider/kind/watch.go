package kind

import (
	"context"
	"sort"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"

	"github.com/rwxchaos/rwxchaos/fixtures/k8s"
	"github.com/rwxchaos/rwxchaos/framework/provider"
	"github.com/rwxchaos/rwxchaos/framework/report"
)

// observer records pod lifecycles, node readiness and events from informers.
// Informers relist and rewatch on their own, so it survives the API server
// hiccups that node faults and partitions cause.
type observer struct {
	now  func() time.Time
	mu   sync.Mutex
	pods map[string]*podRec // by UID
	// nodeReady: node → [time, ready] transitions as observed.
	nodeReady      map[string][]nodeTransition
	nodeLast       map[string]bool
	events         map[string]report.KubeEvent
	engineRunning  map[string]bool // engine Job pods alive (Running or Terminating)
	overlaps       int
	maxConcurrency int
	stop           context.CancelFunc
	// roleOf names a pod's role (default: its component label); set before
	// start. anyRole judges rescheduling for every role whose pods are not
	// Job pods (an external app's roles), not only webserver and jobqueue.
	roleOf  func(*corev1.Pod) string
	anyRole bool
}

type podRec struct {
	name, component, node string
	job                   bool // owned by a Job: it runs to completion, it is not rescheduled
	created, ready        int64
	deleting, gone        int64
	phase                 string
}

type nodeTransition struct {
	at    int64
	ready bool
}

func newObserver(now func() time.Time) *observer {
	return &observer{now: now, pods: map[string]*podRec{}, nodeReady: map[string][]nodeTransition{},
		nodeLast: map[string]bool{}, events: map[string]report.KubeEvent{}, engineRunning: map[string]bool{}}
}

// start runs informers until Stop; it returns once their caches synced.
func (o *observer) start(ctx context.Context, cs kubernetes.Interface, namespace string) error {
	ctx, cancel := context.WithCancel(ctx)
	o.stop = cancel
	nsf := informers.NewSharedInformerFactoryWithOptions(cs, 30*time.Second, informers.WithNamespace(namespace))
	all := informers.NewSharedInformerFactory(cs, 30*time.Second)
	pods := nsf.Core().V1().Pods().Informer()
	events := nsf.Core().V1().Events().Informer()
	nodes := all.Core().V1().Nodes().Informer()
	if _, err := pods.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { o.pod(obj, false) },
		UpdateFunc: func(_, obj any) { o.pod(obj, false) },
		DeleteFunc: func(obj any) { o.pod(obj, true) },
	}); err != nil {
		return err
	}
	if _, err := events.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    o.event,
		UpdateFunc: func(_, obj any) { o.event(obj) },
	}); err != nil {
		return err
	}
	if _, err := nodes.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    o.node,
		UpdateFunc: func(_, obj any) { o.node(obj) },
	}); err != nil {
		return err
	}
	nsf.Start(ctx.Done())
	all.Start(ctx.Done())
	sctx, scancel := context.WithTimeout(ctx, time.Minute)
	defer scancel()
	if !cache.WaitForCacheSync(sctx.Done(), pods.HasSynced, events.HasSynced, nodes.HasSynced) {
		return sctx.Err()
	}
	return nil
}

func (o *observer) Stop() {
	if o.stop != nil {
		o.stop()
	}
}

func (o *observer) pod(obj any, deleted bool) {
	if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = d.Obj
	}
	p, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	now := o.now().UnixNano()
	o.mu.Lock()
	defer o.mu.Unlock()
	r := o.pods[string(p.UID)]
	if r == nil {
		r = &podRec{name: p.Name, component: p.Labels[k8s.LabelComponent], created: p.CreationTimestamp.UnixNano()}
		if o.roleOf != nil {
			r.component = o.roleOf(p)
		}
		for _, ref := range p.OwnerReferences {
			r.job = r.job || ref.Kind == "Job"
		}
		o.pods[string(p.UID)] = r
	}
	r.node = p.Spec.NodeName
	r.phase = string(p.Status.Phase)
	if r.ready == 0 && podReady(p) {
		r.ready = now
	}
	if p.DeletionTimestamp != nil && r.deleting == 0 {
		r.deleting = now
	}
	if deleted {
		r.gone = now
		if r.deleting == 0 {
			r.deleting = now
		}
	}
	// Engine Job pods alive at once: the overlap that Forbid does not prevent
	// when a Job's pod is stuck Terminating on a lost node.
	if r.component == k8s.ComponentEngine {
		alive := !deleted && (p.Status.Phase == corev1.PodRunning || p.Status.Phase == corev1.PodPending)
		before := len(o.engineRunning)
		if alive {
			o.engineRunning[string(p.UID)] = true
		} else {
			delete(o.engineRunning, string(p.UID))
		}
		if n := len(o.engineRunning); n >= 2 && before < 2 {
			o.overlaps++
		}
		o.maxConcurrency = max(o.maxConcurrency, len(o.engineRunning))
	}
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func (o *observer) node(obj any) {
	n, ok := obj.(*corev1.Node)
	if !ok {
		return
	}
	ready := false
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			ready = c.Status == corev1.ConditionTrue
		}
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if last, seen := o.nodeLast[n.Name]; !seen || last != ready {
		o.nodeLast[n.Name] = ready
		o.nodeReady[n.Name] = append(o.nodeReady[n.Name], nodeTransition{at: o.now().UnixNano(), ready: ready})
	}
}

func (o *observer) event(obj any) {
	e, ok := obj.(*corev1.Event)
	if !ok {
		return
	}
	t := e.LastTimestamp.Time
	if t.IsZero() {
		t = e.EventTime.Time
	}
	if t.IsZero() {
		t = e.CreationTimestamp.Time
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	o.events[string(e.UID)] = report.KubeEvent{Time: t.UnixNano(), Type: e.Type, Reason: e.Reason,
		Object: e.InvolvedObject.Kind + "/" + e.InvolvedObject.Name, Message: e.Message, Count: int(e.Count)}
}

// terminatingOnReady lists the pods being deleted whose node is Ready: its
// kubelet is back (a node that returned from a kill or a cut) and confirms
// the deletion within seconds. Pods on a node that is still down are not
// listed: nothing can end their Terminating before it returns.
// ready says whether the watch last saw node Ready.
func (o *observer) ready(node string) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.nodeLast[node]
}

func (o *observer) terminatingOnReady() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	var out []string
	for _, r := range o.pods {
		if r.deleting != 0 && r.gone == 0 && o.nodeLast[r.node] {
			out = append(out, r.name+" on "+r.node)
		}
	}
	sort.Strings(out)
	return out
}

// nodeFault is a node-level fault's target and time, for rescheduling.
type nodeFault struct {
	name, node string
	at         int64
}

// observations summarises everything seen, judging rescheduling after each
// node fault: for each webserver, jobqueue or publisher pod on the faulted node, the
// first pod of the same component on another node that became Ready.
func (o *observer) observations(faults []nodeFault) provider.Observations {
	o.mu.Lock()
	defer o.mu.Unlock()
	var obs provider.Observations
	for n := range o.nodeLast {
		obs.Nodes = append(obs.Nodes, n)
	}
	sort.Strings(obs.Nodes)
	recs := make([]*podRec, 0, len(o.pods))
	for _, r := range o.pods {
		recs = append(recs, r)
		pod := report.Pod{Pod: r.name, Component: r.component, Node: r.node, Created: r.created, Ready: r.ready, Deleted: r.deleting, Phase: r.phase}
		obs.Pods = append(obs.Pods, pod)
		if r.deleting != 0 && r.gone == 0 {
			obs.StuckTerminating++
		}
	}
	sort.Slice(obs.Pods, func(i, j int) bool { return obs.Pods[i].Created < obs.Pods[j].Created })
	for _, e := range o.events {
		obs.Events = append(obs.Events, e)
	}
	sort.Slice(obs.Events, func(i, j int) bool { return obs.Events[i].Time < obs.Events[j].Time })
	obs.OverlappingJobs = o.overlaps
	for _, f := range faults {
		seen := map[string]bool{}
		for _, r := range recs {
			if r.node != f.node || r.created > f.at || (r.gone != 0 && r.gone < f.at) || seen[r.component] {
				continue
			}
			if o.anyRole && (r.component == "" || r.job) {
				continue
			}
			// A pod Kubernetes never deleted after the fault stayed where it
			// was (a reboot, a pause shorter than the tolerations): nothing
			// was rescheduled, nothing is owed.
			if o.anyRole && r.deleting < f.at {
				continue
			}
			if !o.anyRole && r.component != k8s.ComponentWeb && r.component != k8s.ComponentJobq && r.component != k8s.ComponentPublisher {
				continue
			}
			seen[r.component] = true
			rs := provider.Reschedule{Fault: f.name, Component: r.component, From: f.node + "/" + r.name}
			best := int64(0)
			for _, c := range recs {
				if c.component != r.component || c.node == f.node || c.created < f.at || c.ready == 0 {
					continue
				}
				if best == 0 || c.ready < best {
					best = c.ready
					rs.To = c.node + "/" + c.name
				}
			}
			if best != 0 {
				rs.After = time.Duration(best - f.at)
			}
			obs.Reschedules = append(obs.Reschedules, rs)
		}
	}
	return obs
}
