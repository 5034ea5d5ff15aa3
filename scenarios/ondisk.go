package scenarios

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"

	"github.com/rwxchaos/rwxchaos/fixtures/apps"
	"github.com/rwxchaos/rwxchaos/framework/appdeploy"
	"github.com/rwxchaos/rwxchaos/framework/scenario"
)

// OnDisk returns a library scenario whose file, and the example apps its
// paths name (workload.external.manifests and image archives are relative
// to the scenario file: ../../fixtures/apps/...), can be read from disk. In
// a checkout (where appdeploy.ScenarioDir, which the providers resolve
// those paths with, finds the file) it is s itself. Elsewhere,
// as for the installed binary, the embedded scenario and fixtures/apps are
// written under dir (os.TempDir() when ""), laid out as in the
// repository, in a directory named by their content, and the scenario is
// parsed again from there. A scenario that names no such path is s.
func OnDisk(s *scenario.Scenario, dir string) (*scenario.Scenario, error) {
	if !needsFiles(s) {
		return s, nil
	}
	if _, err := appdeploy.ScenarioDir(s.File()); err == nil {
		return s, nil // the providers find it, and its paths, from here
	}
	rel := s.File() // scenarios/library/NAME.yaml
	data, err := library.ReadFile(path.Join("library", path.Base(rel)))
	if err != nil {
		return nil, fmt.Errorf("%s is not a library scenario and not on disk here: run from the directory it is relative to", rel)
	}
	h := sha256.New()
	h.Write(data)
	if err := fs.WalkDir(apps.FS, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := apps.FS.ReadFile(p)
		h.Write([]byte(p))
		h.Write(b)
		return err
	}); err != nil {
		return nil, err
	}
	if dir == "" {
		dir = os.TempDir()
	}
	root := filepath.Join(dir, "rwxchaos-library-"+hex.EncodeToString(h.Sum(nil))[:16])
	if _, err := os.Stat(root); errors.Is(err, os.ErrNotExist) {
		if err := writeTree(root, rel, data); err != nil {
			return nil, fmt.Errorf("writing library scenario %s and its example apps to disk: %w", s.Metadata.Name, err)
		}
	} else if err != nil {
		return nil, err
	}
	return scenario.Parse(filepath.Join(root, rel), data)
}

// needsFiles says whether a scenario names files relative to itself.
func needsFiles(s *scenario.Scenario) bool {
	x := s.Workload.External
	if len(x.Manifests) > 0 {
		return true
	}
	for _, im := range x.Images {
		if im.Archive != "" {
			return true
		}
	}
	return false
}

// writeTree writes the scenario (at rel) and fixtures/apps into a new
// directory and renames it to root, so that root is complete or absent.
func writeTree(root, rel string, data []byte) error {
	tmp, err := os.MkdirTemp(filepath.Dir(root), filepath.Base(root)+".tmp-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	write := func(p string, b []byte) error {
		full := filepath.Join(tmp, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			return err
		}
		return os.WriteFile(full, b, 0o644)
	}
	if err := write(rel, data); err != nil {
		return err
	}
	if err := fs.WalkDir(apps.FS, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := apps.FS.ReadFile(p)
		if err != nil {
			return err
		}
		return write(path.Join("fixtures/apps", p), b)
	}); err != nil {
		return err
	}
	if err := os.Rename(tmp, root); err != nil {
		if _, serr := os.Stat(root); serr == nil {
			return nil // another process wrote the same content first
		}
		return err
	}
	return nil
}
