package scenarios

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/rwxchaos/rwxchaos/framework/appdeploy"
)

// A library scenario that deploys an example app runs outside a checkout:
// OnDisk writes it and fixtures/apps, as in the repository, and its
// manifests resolve there; in the checkout it is left alone.
func TestOnDisk(t *testing.T) {
	s, err := Load("filemover-node-kill")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := OnDisk(s, t.TempDir()); err != nil || got != s {
		t.Fatalf("in the checkout: %v, %v; want the scenario itself", got, err)
	}
	repo, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	t.Chdir(t.TempDir()) // not a checkout
	if _, err := appdeploy.ResolvePaths(s.File(), s.Workload.External.Manifests); err == nil {
		t.Fatal("the embedded scenario's manifests resolve outside the checkout without OnDisk: this test proves nothing")
	}
	dir := t.TempDir()
	got, err := OnDisk(s, dir)
	if err != nil {
		t.Fatal(err)
	}
	if !filepath.IsAbs(got.File()) || got.Metadata.Name != s.Metadata.Name {
		t.Fatalf("OnDisk gave %s (%s)", got.File(), got.Metadata.Name)
	}
	paths, err := appdeploy.ResolvePaths(got.File(), got.Workload.External.Manifests)
	if err != nil {
		t.Fatalf("manifests do not resolve: %v", err)
	}
	// What was written is the repository's fixtures/apps, file for file.
	root := filepath.Dir(filepath.Dir(filepath.Dir(got.File())))
	n := 0
	err = filepath.Walk(filepath.Join(repo, "fixtures", "apps", "filemover"), func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(repo, p)
		want, _ := os.ReadFile(p)
		have, err := os.ReadFile(filepath.Join(root, rel))
		if err != nil || string(have) != string(want) {
			t.Errorf("%s: written %q (%v), want the repository's", rel, have, err)
		}
		n++
		return nil
	})
	if err != nil || n < 5 {
		t.Fatalf("compared %d files: %v", n, err)
	}
	if again, err := OnDisk(s, dir); err != nil || again.File() != got.File() {
		t.Errorf("a second OnDisk: %v, %v; want the same directory", again, err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("%d entries in %s, want the one tree", len(ents), dir)
	}
	t.Logf("%s -> %v", got.File(), paths)

	plain, err := Load("engine-killed-mid-run")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := OnDisk(plain, dir); err != nil || got != plain {
		t.Errorf("a scenario naming no files: %v, %v; want itself", got, err)
	}
}
