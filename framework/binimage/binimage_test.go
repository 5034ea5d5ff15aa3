package binimage

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

const helloSrc = `package main

import (
	"fmt"
	"net"
	"os"
)

func main() {
	_, err := net.LookupPort("tcp", "80") // links the cgo resolver when cgo is on
	fmt.Printf("hello from %s %v err=%v\n", os.Args[0], os.Args[1:], err)
}
`

// buildHello compiles a small program that imports net, statically
// (cgo off) or dynamically linked against the host's libc (cgo on).
func buildHello(t *testing.T, cgo bool) string {
	t.Helper()
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go tool to build the sample programs")
	}
	if cgo {
		if _, err := exec.LookPath("gcc"); err != nil {
			t.Skip("no C compiler: cannot build a dynamically linked sample")
		}
	}
	dir := t.TempDir()
	for name, body := range map[string]string{"go.mod": "module hello\n\ngo 1.22\n", "main.go": helloSrc} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out := filepath.Join(dir, "hello")
	cmd := exec.Command("go", "build", "-o", out, ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=-mod=mod")
	if cgo {
		cmd.Env = append(cmd.Env, "CGO_ENABLED=1")
	}
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build sample: %v\n%s", err, b)
	}
	return out
}

func TestStaticProgramIsOneFile(t *testing.T) {
	prog := buildHello(t, false)
	img, err := Build([]string{prog, "__role"}, Options{Name: "rwxchaos"})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"/usr/local/bin/rwxchaos"}; strings.Join(img.Files, ",") != strings.Join(want, ",") {
		t.Fatalf("files %v, want %v", img.Files, want)
	}
	if strings.Join(img.Command, " ") != "/usr/local/bin/rwxchaos __role" {
		t.Fatalf("command %q", img.Command)
	}
	if !strings.HasPrefix(img.Ref, DefaultRepo+":") || !strings.HasPrefix(img.ID, "sha256:") {
		t.Fatalf("ref %s id %s", img.Ref, img.ID)
	}
	// Same program, same image: a node that has it can be skipped.
	again, err := Build([]string{prog, "__role"}, Options{Name: "rwxchaos"})
	if err != nil {
		t.Fatal(err)
	}
	if again.ID != img.ID || again.Ref != img.Ref {
		t.Fatalf("not reproducible: %s %s vs %s %s", img.Ref, img.ID, again.Ref, again.ID)
	}
	checkArchive(t, img)
	runInChroot(t, img, "hello from /usr/local/bin/rwxchaos [__role]")
	runInDocker(t, img, "hello from /usr/local/bin/rwxchaos [__role]")
}

func TestDynamicProgramCarriesItsLibraries(t *testing.T) {
	prog := buildHello(t, true)
	f, err := os.ReadFile(prog)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(f, []byte("libc.so")) {
		t.Skip("the cgo sample did not link libc dynamically on this host")
	}
	img, err := Build([]string{prog}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var libc, interp bool
	for _, p := range img.Files {
		libc = libc || strings.HasSuffix(p, "/libc.so.6")
		interp = interp || strings.Contains(p, "/ld-linux")
	}
	if !libc || !interp {
		t.Fatalf("a dynamic program's image lacks libc or the ELF interpreter: %v", img.Files)
	}
	checkArchive(t, img)
	runInChroot(t, img, "hello from /usr/local/bin/hello []")
	runInDocker(t, img, "hello from /usr/local/bin/hello []")
}

func TestRefusesWhatCannotRun(t *testing.T) {
	if _, err := Build(nil, Options{}); err == nil {
		t.Fatal("no program: no error")
	}
	script := filepath.Join(t.TempDir(), "script")
	if err := os.WriteFile(script, []byte("#!/bin/sh\necho hi\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := Build([]string{script}, Options{}); err == nil || !strings.Contains(err.Error(), "not an ELF program") {
		t.Fatalf("a script: %v", err)
	}
}

// checkArchive reads the archive back: one tag, the config, one layer
// holding every file.
func checkArchive(t *testing.T, img *Image) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "image.tar")
	if err := img.WriteArchiveFile(p); err != nil {
		t.Fatal(err)
	}
	m, err := tarball.LoadManifest(func() (io.ReadCloser, error) { return os.Open(p) })
	if err != nil {
		t.Fatal(err)
	}
	if len(m) != 1 || len(m[0].RepoTags) != 1 || m[0].RepoTags[0] != img.Ref || len(m[0].Layers) != 1 {
		t.Fatalf("manifest.json: %+v", m)
	}
	back, err := tarball.ImageFromPath(p, nil)
	if err != nil {
		t.Fatal(err)
	}
	id, err := back.ConfigName()
	if err != nil || id.String() != img.ID {
		t.Fatalf("image ID read back %v (%v), want %s", id, err, img.ID)
	}
	cf, err := back.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(cf.Config.Entrypoint, " ") != strings.Join(img.Command, " ") || cf.OS != "linux" {
		t.Fatalf("config: entrypoint %q os %s", cf.Config.Entrypoint, cf.OS)
	}
}

// runInChroot unpacks the layer into a directory and runs the command
// there under chroot: nothing from the host is visible, so a missing
// library shows. Needs root.
func runInChroot(t *testing.T, img *Image, want string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Log("not root: the image is not run under chroot")
		return
	}
	root := t.TempDir()
	layers, err := img.img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(root, h.Name)
		if h.Typeflag == tar.TypeDir {
			if err := os.MkdirAll(p, os.FileMode(h.Mode)&os.ModePerm); err != nil {
				t.Fatal(err)
			}
			continue
		}
		f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY, os.FileMode(h.Mode))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(f, tr); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	cf, _ := img.img.ConfigFile()
	cmd := exec.Command(img.Command[0], img.Command[1:]...)
	cmd.Env = cf.Config.Env
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Chroot: root}
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), want) {
		t.Fatalf("run %q in the unpacked image: %v: %s", img.Command, err, out)
	}
}

// runInDocker loads the archive into docker and runs it, when a docker
// daemon is reachable (required under CI=true, where the lab provides it).
func runInDocker(t *testing.T, img *Image, want string) {
	t.Helper()
	if err := exec.Command("docker", "info").Run(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("docker is not reachable under CI=true: %v", err)
		}
		t.Log("no docker: the image is not run in a container")
		return
	}
	p := filepath.Join(t.TempDir(), "image.tar")
	if err := img.WriteArchiveFile(p); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("docker", "load", "-i", p).CombinedOutput(); err != nil {
		t.Fatalf("docker load: %v: %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("docker", "image", "rm", "-f", img.Ref).Run() })
	out, err := exec.Command("docker", "run", "--rm", "--network", "none", img.Ref).CombinedOutput()
	if err != nil || !strings.Contains(string(out), want) {
		t.Fatalf("docker run %s: %v: %s", img.Ref, err, out)
	}
	var meta []struct{ Id string }
	b, _ := exec.Command("docker", "image", "inspect", img.Ref).Output()
	if json.Unmarshal(b, &meta) != nil || len(meta) != 1 || meta[0].Id != img.ID {
		t.Fatalf("docker reports image ID %s, want %s", b, img.ID)
	}
}

// Bundle: the program runs from the bundle directory on a root that has
// nothing else — no libc — as inside a kind node with the directory
// mounted at the same path.
func TestBundleRunsOnABareRoot(t *testing.T) {
	for _, cgo := range []bool{false, true} {
		t.Run(fmt.Sprintf("cgo=%v", cgo), func(t *testing.T) {
			prog := buildHello(t, cgo)
			root := t.TempDir()
			dir := "/opt/rwxchaos-bundle-test"
			cmd, err := Bundle([]string{prog, "__role"}, filepath.Join(root, dir))
			if err != nil {
				t.Fatal(err)
			}
			// The command names host paths under root; seen from inside
			// the chroot they are under dir.
			for i, a := range cmd {
				cmd[i] = strings.Replace(a, root, "", 1)
			}
			// A static program runs directly; a dynamic one through the
			// bundled loader with the bundled libraries.
			if direct := len(cmd) == 2; direct == cgo {
				t.Fatalf("command %q for a program built with cgo=%v", cmd, cgo)
			}
			if cmd[len(cmd)-1] != "__role" || cmd[len(cmd)-2] != dir+"/hello" {
				t.Fatalf("command %q does not run %s/hello __role", cmd, dir)
			}
			if os.Geteuid() != 0 {
				t.Skip("not root: the bundle is not run under chroot")
			}
			c := exec.Command(cmd[0], cmd[1:]...)
			c.Env = []string{}
			c.Dir = "/"
			c.SysProcAttr = &syscall.SysProcAttr{Chroot: root}
			out, err := c.CombinedOutput()
			if err != nil || !strings.Contains(string(out), "[__role]") {
				t.Fatalf("run %q on a bare root: %v: %s", cmd, err, out)
			}
			// Bundling again (a new run) replaces the files in place.
			if _, err := Bundle([]string{prog, "__role"}, filepath.Join(root, dir)); err != nil {
				t.Fatal(err)
			}
		})
	}
}
