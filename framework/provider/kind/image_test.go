package kind

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/rwxchaos/rwxchaos/framework/binimage"
	"github.com/rwxchaos/rwxchaos/framework/selfexec"
)

// The app image is assembled from the running binary (here the test
// binary, which carries the pipeline like rwxchaos does), or is a
// published one the nodes pull.
func TestChooseAppImage(t *testing.T) {
	t.Setenv(EnvAppImage, "")
	t.Setenv(selfexec.Pipeline.Env, "")
	a, err := chooseAppImage()
	if err != nil {
		t.Fatal(err)
	}
	if a.build == nil || a.pull != corev1.PullNever || !strings.HasPrefix(a.ref, binimage.DefaultRepo+":") ||
		!slices.Equal(a.command, []string{"/usr/local/bin/rwxchaos", "__pipeline"}) {
		t.Fatalf("assembled: ref %s command %q pull %s", a.ref, a.command, a.pull)
	}
	if !slices.Contains(a.build.Files, "/usr/local/bin/rwxchaos") {
		t.Fatalf("files %v", a.build.Files)
	}

	// A standalone edi-pipeline named by the development override goes in
	// under its own name and runs without a subcommand.
	exe, _ := os.Executable()
	alone := filepath.Join(t.TempDir(), "edi-pipeline")
	if err := os.Link(exe, alone); err != nil {
		b, _ := os.ReadFile(exe)
		if err := os.WriteFile(alone, b, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv(selfexec.Pipeline.Env, alone)
	if a, err := chooseAppImage(); err != nil || !slices.Equal(a.command, []string{"/usr/local/bin/edi-pipeline"}) {
		t.Fatalf("override: %v %+v", err, a)
	}

	t.Setenv(EnvAppImage, "ghcr.io/rwxchaos/rwxchaos:v1.2.3")
	a, err = chooseAppImage()
	if err != nil || a.build != nil || a.ref != "ghcr.io/rwxchaos/rwxchaos:v1.2.3" || a.pull != corev1.PullIfNotPresent ||
		!slices.Equal(a.command, []string{"rwxchaos", "__pipeline"}) {
		t.Fatalf("published: %v %+v", err, a)
	}
}
