package existing

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/remotecommand"

	"github.com/rwxchaos/rwxchaos/fixtures/k8s"
	"github.com/rwxchaos/rwxchaos/framework/intervals"
	"github.com/rwxchaos/rwxchaos/framework/selfexec"
)

// VolumeMount is where the helper pod mounts the shared volume.
const VolumeMount = "/data"

// helper is a pod that mounts the shared volume so the runner can read and
// write it through exec of `rwxchaos __volume` (framework/volhelper): it
// runs the app's rwxchaos image, no shell needed.
type helper struct {
	e   *Env
	pod string
}

func (e *Env) helperPod(pvc string) *corev1.Pod {
	grace := int64(1)
	image := e.o.HelperImage
	if image == "" {
		image = "<" + EnvHelperImage + ">" // dry run of a build with no published image
	}
	labels := map[string]string{k8s.LabelRun: e.runID, k8s.LabelComponent: "rwxchaos-helper",
		"app.kubernetes.io/managed-by": "rwxchaos"}
	return &corev1.Pod{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{Name: "rwxchaos-helper-" + shortRun(e.runID), Namespace: e.ns, Labels: labels},
		Spec: corev1.PodSpec{
			TerminationGracePeriodSeconds: &grace,
			RestartPolicy:                 corev1.RestartPolicyAlways,
			Containers: []corev1.Container{{
				Name: "helper", Image: image, ImagePullPolicy: e.o.PullPolicy,
				Command:      volume("idle"),
				VolumeMounts: []corev1.VolumeMount{{Name: "data", MountPath: VolumeMount}},
			}},
			Volumes: []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{
				PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: pvc}}}},
		},
	}
}

// volume is the helper's command line for a volhelper command.
func volume(args ...string) []string {
	return append([]string{"rwxchaos", selfexec.Volume.Subcommand()}, args...)
}

func shortRun(runID string) string {
	s := strings.ToLower(runID)
	s = strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			return r
		}
		return '-'
	}, s)
	if len(s) > 40 {
		s = s[len(s)-40:]
	}
	return strings.Trim(s, "-")
}

// startHelper creates the helper pod on pvc and waits for it to run.
func (e *Env) startHelper(ctx context.Context, pvc string) (*helper, error) {
	if pvc == "" {
		return nil, errors.New("no PVC to mount in the helper pod: set workload.external.pvc")
	}
	p := e.helperPod(pvc)
	if err := e.cc.Create(ctx, p); err != nil {
		return nil, fmt.Errorf("create helper pod %s/%s: %s%s", e.ns, p.Name, redact(err.Error()), rbacHint(err))
	}
	var got *corev1.Pod
	var lastErr error
	iv := intervals.Get(intervals.HelperPod)
	err := iv.Until(ctx, func(ctx context.Context) (bool, error) {
		got, lastErr = e.cs.CoreV1().Pods(e.ns).Get(ctx, p.Name, metav1.GetOptions{})
		return lastErr == nil && got.Status.Phase == corev1.PodRunning, nil
	})
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		why := ""
		if got != nil {
			why = string(got.Status.Phase)
			for _, c := range got.Status.ContainerStatuses {
				if w := c.State.Waiting; w != nil {
					why += fmt.Sprintf(" (%s: %s)", w.Reason, w.Message)
				}
			}
		}
		return nil, fmt.Errorf("helper pod %s/%s not running after %s: %s %v: check that image %s is pullable (an rwxchaos image; set %s or --app-image) and PVC %s binds",
			e.ns, p.Name, iv.Timeout, why, lastErr, e.o.HelperImage, EnvHelperImage, pvc)
	}
	e.logf("helper pod %s running on %s with PVC %s at %s", p.Name, got.Spec.NodeName, pvc, VolumeMount)
	return &helper{e: e, pod: p.Name}, nil
}

// exec runs argv in the helper pod with stdin, returning stdout.
func (h *helper) exec(ctx context.Context, stdin io.Reader, stdout io.Writer, argv ...string) error {
	e := h.e
	req := e.cs.CoreV1().RESTClient().Post().Resource("pods").Namespace(e.ns).Name(h.pod).SubResource("exec").
		VersionedParams(&corev1.PodExecOptions{Container: "helper", Command: argv, Stdin: stdin != nil, Stdout: true, Stderr: true}, scheme.ParameterCodec)
	ex, err := remotecommand.NewSPDYExecutor(e.cl.cfg, http.MethodPost, req.URL())
	if err != nil {
		return fmt.Errorf("exec in helper pod: %w", err)
	}
	var stderr bytes.Buffer
	err = ex.StreamWithContext(ctx, remotecommand.StreamOptions{Stdin: stdin, Stdout: stdout, Stderr: &stderr})
	if err != nil {
		return fmt.Errorf("helper pod %s: %s: %w: %s%s", h.pod, strings.Join(argv, " "), err, strings.TrimSpace(stderr.String()), rbacHint(err))
	}
	return nil
}

// list returns the files under dir (relative to the volume), relative to dir.
func (h *helper) list(ctx context.Context, dir string) ([]string, error) {
	var out bytes.Buffer
	root := path.Join(VolumeMount, dir)
	if err := h.exec(ctx, nil, &out, volume("list", root)...); err != nil {
		return nil, err
	}
	var files []string
	for _, l := range strings.Split(out.String(), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			files = append(files, l)
		}
	}
	return files, nil
}

// write stores data at rel atomically (temp name in the same directory,
// then rename), creating directories.
func (h *helper) write(ctx context.Context, rel string, data []byte) error {
	p := path.Join(VolumeMount, rel)
	// The temp file lives outside the target directory (same volume, so the
	// rename is atomic): an app polling its input directory must never see
	// a half-written file, whatever its file pattern.
	return h.exec(ctx, bytes.NewReader(data), io.Discard, volume("write", p, path.Join(VolumeMount, ".rwxchaos-tmp"))...)
}

// copyOut copies dir (relative to the volume) into local through tar.
func (h *helper) copyOut(ctx context.Context, dir, local string) error {
	pr, pw := io.Pipe()
	errc := make(chan error, 1)
	go func() {
		err := h.exec(ctx, nil, pw, volume("tar", VolumeMount, dir)...)
		pw.CloseWithError(err)
		errc <- err
	}()
	terr := untar(pr, local)
	_ = pr.CloseWithError(terr)
	if err := <-errc; err != nil {
		return fmt.Errorf("copy %s out of the volume: %w", dir, err)
	}
	if terr != nil {
		return fmt.Errorf("copy %s out of the volume: %w", dir, terr)
	}
	return nil
}

func untar(r io.Reader, dst string) error {
	tr := tar.NewReader(r)
	for {
		hd, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		name := filepath.Clean(hd.Name)
		if strings.HasPrefix(name, "..") || filepath.IsAbs(name) {
			return fmt.Errorf("tar entry %q escapes the copy", hd.Name)
		}
		p := filepath.Join(dst, name)
		switch hd.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(p, 0o755); err != nil {
				return err
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				return err
			}
			f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
			if err != nil {
				return err
			}
			if _, err := io.Copy(f, tr); err != nil {
				f.Close()
				return err
			}
			if err := f.Close(); err != nil {
				return err
			}
			_ = os.Chtimes(p, hd.ModTime, hd.ModTime)
		}
	}
}

// serviceProxy forwards local requests to a Service through the API
// server's service proxy, with the kube context's credentials.
func (e *Env) serviceProxy(svc, port string) (http.Handler, error) {
	tr, err := rest.TransportFor(e.cl.cfg)
	if err != nil {
		return nil, fmt.Errorf("API server transport: %w", err)
	}
	base, err := url.Parse(e.cl.cfg.Host)
	if err != nil {
		return nil, fmt.Errorf("API server URL %q: %w", e.cl.cfg.Host, err)
	}
	prefix := strings.TrimSuffix(base.Path, "/") + fmt.Sprintf("/api/v1/namespaces/%s/services/%s:%s/proxy", e.ns, svc, port)
	rp := &httputil.ReverseProxy{
		Transport: tr,
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL.Scheme, pr.Out.URL.Host = base.Scheme, base.Host
			pr.Out.URL.Path = prefix + pr.In.URL.Path
			pr.Out.URL.RawPath = ""
			pr.Out.Host = base.Host
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			http.Error(w, "rwxchaos: API server proxy: "+redact(err.Error()), http.StatusBadGateway)
		},
	}
	return rp, nil
}
