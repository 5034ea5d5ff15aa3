package existing

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/rwxchaos/rwxchaos/framework/chaosmesh"
	"github.com/rwxchaos/rwxchaos/framework/kindcluster"
	"github.com/rwxchaos/rwxchaos/framework/lab"
	"github.com/rwxchaos/rwxchaos/framework/lab/labtest"
	"github.com/rwxchaos/rwxchaos/framework/provider/kind"
)

// TestLabHelperPod runs the volume helper pod on a one-node lab cluster with
// the app image assembled from this test binary (no busybox anywhere):
// write, list and copy out through `rwxchaos __volume`, checked against the
// volume's directory on the host.
func TestLabHelperPod(t *testing.T) {
	if !lab.Requested() && os.Getenv("CI") != "true" {
		t.Skip("needs the lab's kind images: set RWXCHAOS_LAB=1 after `make lab`")
	}
	m, err := lab.LoadDefault()
	if err != nil {
		t.Fatal(err)
	}
	labtest.Lock(t)
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	shared := filepath.Join(lab.CacheDir(), "kind-shared", kindcluster.NamePrefix+"helper")
	vol := filepath.Join(shared, "vol")
	if err := os.MkdirAll(vol, 0o777); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(vol) })
	dir := t.TempDir()
	c, err := kindcluster.New(kindcluster.Options{Name: "helper", SharedDir: shared, LabManifest: m,
		KubeconfigPath: filepath.Join(dir, "kubeconfig"), LogsDir: filepath.Join(dir, "kind-logs"), Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Create(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		dctx, dcancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer dcancel()
		if err := c.Dispose(dctx); err != nil {
			t.Errorf("delete the cluster: %v", err)
		}
	})
	image, _, err := kind.PipelineImage(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", c.KubeconfigPath())
	if err != nil {
		t.Fatal(err)
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	cc, err := chaosmesh.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	const ns, pvc = "helper-test", "data"
	hp := corev1.HostPathDirectory
	for _, o := range []interface {
		GetName() string
	}{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}},
		&corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: "helper-test"}, Spec: corev1.PersistentVolumeSpec{
			AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteMany}, StorageClassName: "manual",
			Capacity:               corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")},
			PersistentVolumeSource: corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: vol, Type: &hp}}}},
		&corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: pvc, Namespace: ns}, Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteMany}, StorageClassName: ptr("manual"), VolumeName: "helper-test",
			Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}}}},
	} {
		var err error
		switch o := o.(type) {
		case *corev1.Namespace:
			_, err = cs.CoreV1().Namespaces().Create(ctx, o, metav1.CreateOptions{})
		case *corev1.PersistentVolume:
			_, err = cs.CoreV1().PersistentVolumes().Create(ctx, o, metav1.CreateOptions{})
		case *corev1.PersistentVolumeClaim:
			_, err = cs.CoreV1().PersistentVolumeClaims(ns).Create(ctx, o, metav1.CreateOptions{})
		}
		if err != nil {
			t.Fatalf("create %s: %v", o.GetName(), err)
		}
	}
	e := &Env{o: Options{HelperImage: image, PullPolicy: corev1.PullNever, Logf: t.Logf}, ns: ns, runID: "helper-test",
		cl: &cluster{cfg: cfg}, cs: cs, cc: cc}
	h, err := e.startHelper(ctx, pvc)
	if err != nil {
		t.Fatal(err)
	}
	data := []byte("UNB+UNOC:3+SENDER+RECEIVER'\n")
	if err := h.write(ctx, "botssys/infile/r1/a.edi", data); err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(filepath.Join(vol, "botssys/infile/r1/a.edi")); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("written through the helper, on the volume: %q %v", got, err)
	}
	files, err := h.list(ctx, "botssys/infile")
	if err != nil || strings.Join(files, ",") != "r1/a.edi" {
		t.Fatalf("list: %v %v", files, err)
	}
	if files, err := h.list(ctx, "missing"); err != nil || len(files) != 0 {
		t.Fatalf("list of a missing dir: %v %v", files, err)
	}
	local := filepath.Join(dir, "copy")
	if err := h.copyOut(ctx, "botssys", local); err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(filepath.Join(local, "botssys/infile/r1/a.edi")); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("copied out: %q %v", got, err)
	}
	if left, _ := os.ReadDir(filepath.Join(vol, ".rwxchaos-tmp")); len(left) != 0 {
		t.Fatalf("temp files left on the volume: %v", left)
	}
}

func ptr[T any](v T) *T { return &v }
