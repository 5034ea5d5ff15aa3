package kind

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/rwxchaos/rwxchaos/framework/binimage"
	"github.com/rwxchaos/rwxchaos/framework/lab"
	"github.com/rwxchaos/rwxchaos/framework/provider"
	"github.com/rwxchaos/rwxchaos/framework/scenario"
	"github.com/rwxchaos/rwxchaos/framework/selfexec"
)

// The app image is assembled from the running binary (here the test
// binary, which carries the pipeline like rwxchaos does), or is a
// published one the nodes pull.
func TestChooseAppImage(t *testing.T) {
	t.Setenv(EnvAppImage, "")
	t.Setenv(selfexec.Pipeline.Env, "")
	a, err := chooseAppImage("")
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
	if a, err := chooseAppImage(""); err != nil || !slices.Equal(a.command, []string{"/usr/local/bin/edi-pipeline"}) {
		t.Fatalf("override: %v %+v", err, a)
	}

	// --app-image reaches the provider as Options.AppImage; the
	// environment variable is its fallback.
	t.Setenv(EnvAppImage, "ghcr.io/rwxchaos/rwxchaos:v1.2.3")
	env, err := New(Options{})(provider.Config{Scenario: &scenario.Scenario{Cluster: scenario.ClusterSpec{Provider: scenario.ProviderKind}}, RunDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if got := env.(*Env).o.AppImage; got != "ghcr.io/rwxchaos/rwxchaos:v1.2.3" {
		t.Fatalf("Options.AppImage from %s: %q", EnvAppImage, got)
	}
	a, err = chooseAppImage(env.(*Env).o.AppImage)
	if err != nil || a.build != nil || a.ref != "ghcr.io/rwxchaos/rwxchaos:v1.2.3" || a.pull != corev1.PullIfNotPresent ||
		!slices.Equal(a.command, []string{"rwxchaos", "__pipeline"}) {
		t.Fatalf("published: %v %+v", err, a)
	}
}

// The seam for the userspace NFS client in kind nodes: the running binary
// (here this test binary, dynamically linked when cgo is on), bundled with
// binimage.Bundle into a directory the node mounts at the same path, runs
// `__nfs-mount` on the node image's root, whatever its libc.
func TestNFSClientRunsFromABundleInTheNodeImage(t *testing.T) {
	if !lab.Requested() && os.Getenv("CI") != "true" {
		t.Skip("needs the lab's kind node image: set RWXCHAOS_LAB=1 after `make lab`")
	}
	m, err := lab.LoadDefault()
	if err != nil {
		t.Fatal(err)
	}
	argv, err := selfexec.NFSMount.Command()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "bin")
	cmd, err := binimage.Bundle(argv, dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("bundle command: %q", cmd)
	// A container of the node image, not a cluster: no kind lock needed.
	out, err := exec.Command("docker", append([]string{"run", "--rm", "--network", "none", "-v", dir + ":" + dir + ":ro",
		"--entrypoint", cmd[0], m.Images.Node}, cmd[1:]...)...).CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 2 || !strings.Contains(string(out), "--server and --mount are required") {
		t.Fatalf("%q in %s: %v\n%s", cmd, m.Images.Node, err, out)
	}
}
