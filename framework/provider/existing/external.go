package existing

import (
	"context"
	"fmt"
	"path"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/rwxchaos/rwxchaos/framework/filedrop"
	"github.com/rwxchaos/rwxchaos/framework/history"
)

// checkExternal checks what an external workload needs before anything is
// created: its PVC, its paths and its pods.
func (e *Env) checkExternal(ctx context.Context) error {
	x := e.s.Workload.External
	if x.PVC == "" || x.InputPath == "" || x.OutputPath == "" {
		return fmt.Errorf("workload external needs pvc, inputPath and outputPath")
	}
	pvc, err := e.cs.CoreV1().PersistentVolumeClaims(e.ns).Get(ctx, x.PVC, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("the external app's PVC %s/%s: %s%s", e.ns, x.PVC, redact(err.Error()), rbacHint(err))
	}
	if pvc.Status.Phase != corev1.ClaimBound {
		return fmt.Errorf("the external app's PVC %s/%s is %s, not Bound", e.ns, x.PVC, pvc.Status.Phase)
	}
	rwx := false
	for _, m := range pvc.Spec.AccessModes {
		rwx = rwx || m == corev1.ReadWriteMany
	}
	if !rwx {
		return fmt.Errorf("the external app's PVC %s/%s is not ReadWriteMany (%v): the helper pod could not mount it next to the app", e.ns, x.PVC, pvc.Spec.AccessModes)
	}
	for role, sel := range x.Selectors {
		if len(sel) == 0 {
			continue
		}
		pods, err := e.cs.CoreV1().Pods(e.ns).List(ctx, metav1.ListOptions{LabelSelector: labels.SelectorFromSet(sel).String()})
		if err == nil {
			e.logf("external %s: %d pods match %v", role, len(pods.Items), sel)
		}
	}
	e.logf("external app: lock checks are skipped: it writes no rwxchaos journal (no lock.* events), so lockExclusive and lockRecoveredWithin cannot be judged")
	return nil
}

// external is the upload adapter of workload external (framework/filedrop):
// the traffic driver POSTs /upload?route=R to it, and it drops the
// interchange into the app's input path through the helper pod.
type external struct {
	*filedrop.Adapter
	e *Env
}

func newExternal(e *Env) *external {
	x := e.s.Workload.External
	a, err := filedrop.New(filedrop.Options{InputPath: x.InputPath, OutputPath: x.OutputPath, Match: string(x.Match),
		Sink: helperIO{e}, Clock: e.o.Clock, Redact: redact})
	if err != nil {
		panic(err) // the options are fixed above
	}
	return &external{Adapter: a, e: e}
}

// collect copies the input and output paths out through the helper pod and
// matches outputs to uploads.
func (x *external) collect(ctx context.Context, dir string) (*history.History, error) {
	return x.Collect(ctx, helperIO{x.e}, dir)
}

// helperIO is the helper pod as filedrop's sink and reader.
type helperIO struct{ e *Env }

func (h helperIO) Drop(ctx context.Context, name string, data []byte) error {
	return h.e.helper.write(ctx, path.Join(h.e.s.Workload.External.InputPath, name), data)
}

func (h helperIO) CopyOut(ctx context.Context, dir, local string) error {
	return h.e.helper.copyOut(ctx, dir, local)
}
