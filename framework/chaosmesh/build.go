// Package chaosmesh turns scenario faults into Chaos Mesh objects
// (chaos-mesh.org/v1alpha1, from github.com/chaos-mesh/chaos-mesh/api) and
// runs each one as a fault.Fault through a controller-runtime client:
// Inject creates it (labelled with the run id), Verify waits for the
// AllInjected condition, Heal pauses it, VerifyHealed waits for AllRecovered
// and then deletes it (a one-shot pod-kill has nothing to recover: Heal
// deletes it), and Undo / Sweep delete whatever a run left behind.
//
// Every object also carries a spec.duration a little longer than the fault,
// so Chaos Mesh itself recovers the targets if the runner dies before Heal.
package chaosmesh

import (
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/chaos-mesh/chaos-mesh/api/v1alpha1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// LabelRun marks every object a run creates (same key as the pipeline
// fixtures), so Sweep can find them.
const LabelRun = "rwxchaos.dev/run"

// LabelFault names the scenario fault an object came from.
const LabelFault = "rwxchaos.dev/fault"

// SafetyMargin is added to a fault's duration in spec.duration: Chaos Mesh
// recovers on its own by then if nobody heals the fault.
const SafetyMargin = 2 * time.Minute

// Meta names an object and says which run made it.
type Meta struct {
	// Namespace the object lives in (one the run may change).
	Namespace string
	// RunID is stamped as LabelRun.
	RunID string
	// Fault is the scenario fault name (a DNS label).
	Fault string
	// Seq tells apart repeated firings of one fault.
	Seq int
}

// Target selects pods in one namespace: by name when Pods is set, else by
// labels; Count limits how many (0 = all that match).
type Target struct {
	Namespace string
	Labels    map[string]string
	Pods      []string
	Count     int
}

func (t Target) validate(what string) error {
	if t.Namespace == "" {
		return fmt.Errorf("%s: no namespace", what)
	}
	if len(t.Pods) == 0 && len(t.Labels) == 0 {
		return fmt.Errorf("%s: no pods and no labels: refusing to select every pod in namespace %s", what, t.Namespace)
	}
	return nil
}

func (t Target) selector() v1alpha1.PodSelector {
	s := v1alpha1.PodSelector{Mode: v1alpha1.AllMode}
	s.Selector.Namespaces = []string{t.Namespace}
	if len(t.Pods) > 0 {
		s.Selector.Pods = map[string][]string{t.Namespace: slices.Clone(t.Pods)}
	} else {
		s.Selector.LabelSelectors = maps.Clone(t.Labels)
		if t.Count > 0 {
			s.Mode, s.Value = v1alpha1.FixedMode, strconv.Itoa(t.Count)
		}
	}
	return s
}

// String describes the target for reports.
func (t Target) String() string {
	if len(t.Pods) > 0 {
		return t.Namespace + "/" + strings.Join(t.Pods, ",")
	}
	keys := slices.Sorted(maps.Keys(t.Labels))
	var kv []string
	for _, k := range keys {
		kv = append(kv, k+"="+t.Labels[k])
	}
	s := t.Namespace + "/{" + strings.Join(kv, ",") + "}"
	if t.Count > 0 {
		s += fmt.Sprintf(" ×%d", t.Count)
	}
	return s
}

var nonName = regexp.MustCompile(`[^a-z0-9-]+`)

// objectMeta names the object rwxchaos-<fault>-<run suffix>-<seq>, at most
// 63 characters, lowercase.
func (m Meta) objectMeta(kind string) (metav1.ObjectMeta, error) {
	if m.Namespace == "" || m.RunID == "" || m.Fault == "" {
		return metav1.ObjectMeta{}, fmt.Errorf("chaos %s: Meta needs Namespace, RunID and Fault (got %+v)", kind, m)
	}
	run := strings.Trim(nonName.ReplaceAllString(strings.ToLower(m.RunID), "-"), "-")
	if len(run) > 12 {
		run = run[len(run)-12:]
	}
	fault := strings.Trim(nonName.ReplaceAllString(strings.ToLower(m.Fault), "-"), "-")
	name := fmt.Sprintf("rwxchaos-%s-%s-%d", fault, strings.Trim(run, "-"), m.Seq)
	if len(name) > 63 {
		keep := 63 - (len(name) - len(fault))
		name = fmt.Sprintf("rwxchaos-%s-%s-%d", strings.Trim(fault[:max(keep, 1)], "-"), strings.Trim(run, "-"), m.Seq)
	}
	return metav1.ObjectMeta{
		Name: name, Namespace: m.Namespace,
		Labels: map[string]string{LabelRun: labelValue(m.RunID), LabelFault: labelValue(m.Fault),
			"app.kubernetes.io/managed-by": "rwxchaos"},
	}, nil
}

// labelValue makes s a valid label value (63 chars of [A-Za-z0-9_.-]).
func labelValue(s string) string {
	s = regexp.MustCompile(`[^A-Za-z0-9_.-]+`).ReplaceAllString(s, "-")
	if len(s) > 63 {
		s = s[len(s)-63:]
	}
	return strings.Trim(s, "-_.")
}

// RunLabel is the LabelRun value stamped for runID.
func RunLabel(runID string) string { return labelValue(runID) }

func durationPtr(d time.Duration) *string {
	if d <= 0 {
		return nil
	}
	s := (d + SafetyMargin).Round(time.Second).String()
	return &s
}

// Direction of a partition, seen from the target pods.
type Direction string

const (
	Both    Direction = "both"
	Ingress Direction = "ingress" // packets to the target are dropped
	Egress  Direction = "egress"  // packets from the target are dropped
)

// Partition cuts the From pods off the To pods for Duration.
type Partition struct {
	Meta
	From, To  Target
	Direction Direction
	Duration  time.Duration
}

// NetworkPartition builds a NetworkChaos partition: selector = From,
// target = To. Chaos Mesh's direction "to" drops From→To packets, "from"
// drops To→From packets.
func NetworkPartition(p Partition) (*v1alpha1.NetworkChaos, error) {
	om, err := p.objectMeta("NetworkChaos")
	if err != nil {
		return nil, err
	}
	if err := errors.Join(p.From.validate("partition source"), p.To.validate("partition target")); err != nil {
		return nil, err
	}
	if p.Duration <= 0 {
		return nil, errors.New("chaos partition: a duration is required")
	}
	dir := v1alpha1.Both
	switch p.Direction {
	case "", Both:
	case Egress:
		dir = v1alpha1.To
	case Ingress:
		dir = v1alpha1.From
	default:
		return nil, fmt.Errorf("chaos partition: direction %q: want both, ingress or egress", p.Direction)
	}
	to := p.To.selector()
	return &v1alpha1.NetworkChaos{
		TypeMeta:   metav1.TypeMeta{APIVersion: v1alpha1.SchemeGroupVersion.String(), Kind: "NetworkChaos"},
		ObjectMeta: om,
		Spec: v1alpha1.NetworkChaosSpec{
			PodSelector:       p.From.selector(),
			Action:            v1alpha1.PartitionAction,
			PartitionBehavior: v1alpha1.DropPartitionBehavior,
			Direction:         dir,
			Target:            &to,
			Duration:          durationPtr(p.Duration),
		},
	}, nil
}

// PodKill builds a PodChaos pod-kill of the target pods.
func PodKill(m Meta, t Target, gracePeriod time.Duration) (*v1alpha1.PodChaos, error) {
	return podChaos(m, t, v1alpha1.PodKillAction, 0, gracePeriod)
}

// PodFailure builds a PodChaos pod-failure (containers replaced by pause for
// d) of the target pods.
func PodFailure(m Meta, t Target, d time.Duration) (*v1alpha1.PodChaos, error) {
	if d <= 0 {
		return nil, errors.New("chaos pod-failure: a duration is required")
	}
	return podChaos(m, t, v1alpha1.PodFailureAction, d, 0)
}

func podChaos(m Meta, t Target, a v1alpha1.PodChaosAction, d, grace time.Duration) (*v1alpha1.PodChaos, error) {
	om, err := m.objectMeta("PodChaos")
	if err != nil {
		return nil, err
	}
	if err := t.validate("pod chaos"); err != nil {
		return nil, err
	}
	return &v1alpha1.PodChaos{
		TypeMeta:   metav1.TypeMeta{APIVersion: v1alpha1.SchemeGroupVersion.String(), Kind: "PodChaos"},
		ObjectMeta: om,
		Spec: v1alpha1.PodChaosSpec{
			ContainerSelector: v1alpha1.ContainerSelector{PodSelector: t.selector()},
			Action:            a,
			Duration:          durationPtr(d),
			GracePeriod:       int64(grace / time.Second),
		},
	}, nil
}

// IO is an IOChaos on the files under VolumePath (the mount path of the
// shared volume inside the target containers).
type IO struct {
	Meta
	Target     Target
	VolumePath string
	// Path glob of affected files; default every file under VolumePath.
	Path     string
	Percent  int // default 100
	Duration time.Duration
}

func (io IO) build(a v1alpha1.IOChaosType) (*v1alpha1.IOChaos, error) {
	om, err := io.objectMeta("IOChaos")
	if err != nil {
		return nil, err
	}
	if err := io.Target.validate("io chaos"); err != nil {
		return nil, err
	}
	if io.VolumePath == "" {
		return nil, errors.New("chaos io: VolumePath (the volume's mount path in the pods) is required")
	}
	if io.Duration <= 0 {
		return nil, errors.New("chaos io: a duration is required")
	}
	pct := io.Percent
	if pct <= 0 {
		pct = 100
	}
	path := io.Path
	if path == "" {
		path = strings.TrimSuffix(io.VolumePath, "/") + "/**/*"
	}
	return &v1alpha1.IOChaos{
		TypeMeta:   metav1.TypeMeta{APIVersion: v1alpha1.SchemeGroupVersion.String(), Kind: "IOChaos"},
		ObjectMeta: om,
		Spec: v1alpha1.IOChaosSpec{
			ContainerSelector: v1alpha1.ContainerSelector{PodSelector: io.Target.selector()},
			Action:            a,
			VolumePath:        io.VolumePath,
			Path:              path,
			Percent:           pct,
			Duration:          durationPtr(io.Duration),
		},
	}, nil
}

// IOLatency builds an IOChaos that delays file operations by latency.
func IOLatency(io IO, latency time.Duration) (*v1alpha1.IOChaos, error) {
	if latency <= 0 {
		return nil, errors.New("chaos io-latency: latency must be more than 0")
	}
	o, err := io.build(v1alpha1.IoLatency)
	if err != nil {
		return nil, err
	}
	o.Spec.Delay = latency.String()
	return o, nil
}

// IOFault builds an IOChaos that fails file operations with errno.
func IOFault(io IO, errno int) (*v1alpha1.IOChaos, error) {
	if errno < 1 || errno > 133 {
		return nil, fmt.Errorf("chaos io-fault: errno %d: want 1 to 133", errno)
	}
	o, err := io.build(v1alpha1.IoFaults)
	if err != nil {
		return nil, err
	}
	o.Spec.Errno = uint32(errno)
	return o, nil
}

// Object is any Chaos Mesh chaos this package builds.
type Object interface {
	client.Object
	GetStatus() *v1alpha1.ChaosStatus
}

var (
	_ Object = (*v1alpha1.NetworkChaos)(nil)
	_ Object = (*v1alpha1.PodChaos)(nil)
	_ Object = (*v1alpha1.IOChaos)(nil)
)
