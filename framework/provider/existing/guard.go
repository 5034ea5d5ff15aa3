package existing

import (
	"fmt"
	"github.com/rwxchaos/rwxchaos/framework/version"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// Environment variables read by the provider when its Options leave the
// setting unset (the CLI passes its flags as Options instead).
const (
	// EnvKubeconfig is the kubeconfig path when the scenario names none.
	EnvKubeconfig = "RWXCHAOS_KUBECONFIG"
	// EnvAllowContext is the comma-separated list of kube contexts the
	// provider may touch (rwxchaos run --allow-context). Empty refuses all.
	EnvAllowContext = "RWXCHAOS_ALLOW_CONTEXT"
	// EnvDryRun=1 prints the objects a run would create and creates nothing.
	EnvDryRun = "RWXCHAOS_DRY_RUN"
	// EnvPipelineImage is the app image for workload mode pipeline, pullable
	// by the cluster's nodes: an rwxchaos image (the release's OCI image, or
	// any with rwxchaos on its PATH), run as `rwxchaos __pipeline`.
	EnvPipelineImage = "RWXCHAOS_PIPELINE_IMAGE"
	// EnvHelperImage is the image of the helper pod that mounts the shared
	// volume: an rwxchaos image (it runs `rwxchaos __volume`). Default: the
	// app image (EnvPipelineImage), else this release's published image.
	EnvHelperImage = "RWXCHAOS_HELPER_IMAGE"
)

// defaultHelperImage is the helper image when none is named: the app's
// rwxchaos image, else this release's published one; "" for a build that
// is not a release and has no app image.
func defaultHelperImage(pipelineImage string) string {
	if pipelineImage != "" {
		return pipelineImage
	}
	return version.Get().Image()
}

// cluster is the resolved connection (no secrets kept beyond rest.Config).
type cluster struct {
	kubeconfig string // path, for Undo records ("" = default rules)
	context    string
	server     string
	cfg        *rest.Config
}

func expandHome(p string) string {
	if rest, ok := strings.CutPrefix(p, "~/"); ok {
		if h, err := os.UserHomeDir(); err == nil {
			return filepath.Join(h, rest)
		}
	}
	return p
}

// resolve loads the kubeconfig (scenario path, then EnvKubeconfig, then
// $KUBECONFIG / ~/.kube/config) and the context (scenario's, else the
// current one), and refuses a context that is not allowed.
func resolve(path, kctx string, allowed []string) (*cluster, error) {
	if path == "" {
		path = os.Getenv(EnvKubeconfig)
	}
	path = expandHome(path)
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = path
	raw, err := rules.Load()
	if err != nil {
		return nil, fmt.Errorf("load kubeconfig %q: %w (set cluster.existing.kubeconfig or %s)", path, err, EnvKubeconfig)
	}
	if kctx == "" {
		kctx = raw.CurrentContext
	}
	if kctx == "" {
		return nil, fmt.Errorf("kubeconfig %q has no current context: set cluster.existing.context", path)
	}
	if _, ok := raw.Contexts[kctx]; !ok {
		var names []string
		for n := range raw.Contexts {
			names = append(names, n)
		}
		slices.Sort(names)
		return nil, fmt.Errorf("kubeconfig %q has no context %q (it has: %s)", path, kctx, strings.Join(names, ", "))
	}
	if !slices.Contains(allowed, kctx) {
		if len(allowed) == 0 {
			return nil, fmt.Errorf("provider existing refuses kube context %q: no context is allowed. If this cluster may be disrupted, rerun with --allow-context %s (env %s)", kctx, kctx, EnvAllowContext)
		}
		return nil, fmt.Errorf("provider existing refuses kube context %q: it is not in the allowed list (%s). If this cluster may be disrupted, add it with --allow-context (env %s)", kctx, strings.Join(allowed, ", "), EnvAllowContext)
	}
	cfg, err := clientcmd.NewNonInteractiveClientConfig(*raw, kctx, &clientcmd.ConfigOverrides{}, rules).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("kube context %q: %w", kctx, err)
	}
	return &cluster{kubeconfig: path, context: kctx, server: cfg.Host, cfg: cfg}, nil
}

// allowList parses EnvAllowContext.
func allowList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// secretish matches words after which a value must not be shown.
var secretWords = []string{"token", "password", "secret", "bearer", "client-key", "authorization"}

// redact blanks anything that looks like a credential in a message that may
// reach the report (API errors can echo request details).
func redact(s string) string {
	low := strings.ToLower(s)
	for _, w := range secretWords {
		for i := 0; ; {
			j := strings.Index(low[i:], w)
			if j < 0 {
				break
			}
			start := i + j + len(w)
			// skip separators, then blank the value up to whitespace.
			k := start
			for k < len(s) && strings.ContainsRune(` :="'`, rune(s[k])) {
				k++
			}
			end := k
			for end < len(s) && !strings.ContainsRune(" \t\n,;\"'", rune(s[end])) {
				end++
			}
			if end > k {
				s = s[:k] + "[redacted]" + s[end:]
				low = strings.ToLower(s)
			}
			i = k + 1
			if i >= len(s) {
				break
			}
		}
	}
	return s
}
