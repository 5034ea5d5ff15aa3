// Package appdeploy deploys a team's own application onto a cluster the
// framework created: it renders the app's manifests (kustomization
// directories, in-process with sigs.k8s.io/kustomize/api, or plain YAML
// files), rewrites them for the run (namespace, the app's data claim bound to
// the run's RWX volume, image pull policy, mount propagation), applies them
// with server-side apply and waits until the app is ready.
//
// It knows nothing of scenarios or providers: the kind provider calls it
// (framework/provider/kind, workload external).
package appdeploy

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/kustomize/api/konfig"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// Render reads every manifest source in order: a directory holding a
// kustomization (kustomization.yaml, .yml or Kustomization) is built like
// `kubectl kustomize DIR`; a file is read as YAML documents (a v1 List is
// expanded). Empty documents are skipped.
func Render(paths []string) ([]*unstructured.Unstructured, error) {
	if len(paths) == 0 {
		return nil, errors.New("render: no manifests given")
	}
	var out []*unstructured.Unstructured
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("render %s: %w", p, err)
		}
		var data []byte
		if st.IsDir() {
			if data, err = kustomize(p); err != nil {
				return nil, err
			}
		} else if data, err = os.ReadFile(p); err != nil {
			return nil, fmt.Errorf("render %s: %w", p, err)
		}
		objs, err := Decode(data)
		if err != nil {
			return nil, fmt.Errorf("render %s: %w", p, err)
		}
		if len(objs) == 0 {
			return nil, fmt.Errorf("render %s: no Kubernetes objects in it", p)
		}
		out = append(out, objs...)
	}
	return out, nil
}

// kustomize builds the kustomization in dir.
func kustomize(dir string) ([]byte, error) {
	found := false
	for _, n := range konfig.RecognizedKustomizationFileNames() {
		if _, err := os.Stat(filepath.Join(dir, n)); err == nil {
			found = true
		}
	}
	if !found {
		return nil, fmt.Errorf("render %s: a directory must hold a kustomization (%s); list plain manifest files one by one instead",
			dir, strings.Join(konfig.RecognizedKustomizationFileNames(), ", "))
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("render %s: %w", dir, err)
	}
	opts := krusty.MakeDefaultOptions() // plugins off, files only below the root
	rm, err := krusty.MakeKustomizer(opts).Run(filesys.MakeFsOnDisk(), abs)
	if err != nil {
		return nil, fmt.Errorf("kustomize build %s: %w", dir, err)
	}
	b, err := rm.AsYaml()
	if err != nil {
		return nil, fmt.Errorf("kustomize build %s: %w", dir, err)
	}
	return b, nil
}

// Decode splits YAML (or JSON) documents into objects; a List's items are
// expanded.
func Decode(data []byte) ([]*unstructured.Unstructured, error) {
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	var out []*unstructured.Unstructured
	for i := 1; ; i++ {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("document %d: %w", i, err)
		}
		if len(bytes.TrimSpace(doc)) == 0 {
			continue
		}
		var m map[string]any
		if err := utilyaml.Unmarshal(doc, &m); err != nil {
			return nil, fmt.Errorf("document %d: %w", i, err)
		}
		if len(m) == 0 {
			continue // only comments
		}
		u := &unstructured.Unstructured{Object: m}
		if u.GetKind() == "" || u.GetAPIVersion() == "" {
			return nil, fmt.Errorf("document %d: not a Kubernetes object (no apiVersion or kind)", i)
		}
		if u.IsList() {
			l, err := u.ToList()
			if err != nil {
				return nil, fmt.Errorf("document %d: %w", i, err)
			}
			for j := range l.Items {
				out = append(out, &l.Items[j])
			}
			continue
		}
		if u.GetName() == "" && u.GetGenerateName() == "" {
			return nil, fmt.Errorf("document %d: %s has no metadata.name", i, u.GetKind())
		}
		out = append(out, u)
	}
}

// ResolvePaths makes manifest paths absolute, relative to the directory of
// the scenario file. A library scenario is embedded in the binary (its file
// name is relative to the repository): then the repository is searched for
// upwards from the working directory, as `go test` runs in a package dir.
func ResolvePaths(scenarioFile string, paths []string) ([]string, error) {
	base, err := ScenarioDir(scenarioFile)
	if err != nil {
		return nil, err
	}
	out := make([]string, len(paths))
	for i, p := range paths {
		if filepath.IsAbs(p) {
			out[i] = filepath.Clean(p)
		} else {
			out[i] = filepath.Join(base, filepath.FromSlash(p))
		}
		if _, err := os.Stat(out[i]); err != nil {
			return nil, fmt.Errorf("manifests %q (relative to %s): %w: paths in workload.external.manifests are relative to the scenario file", p, base, err)
		}
	}
	return out, nil
}

// ScenarioDir is the directory a scenario's relative paths start from: the
// file's own, or, for a file name relative to the repository (an embedded
// library scenario), the first directory from the working directory up
// that holds it; an error when there is none.
func ScenarioDir(file string) (string, error) {
	if file == "" {
		return os.Getwd()
	}
	if filepath.IsAbs(file) {
		return filepath.Dir(file), nil
	}
	if _, err := os.Stat(file); err == nil {
		return filepath.Abs(filepath.Dir(file))
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := wd; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, file)); err == nil {
			return filepath.Dir(filepath.Join(d, file)), nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("scenario file %s is not on disk here (an embedded library scenario?): run from inside the repository, or copy the scenario next to its manifests", file)
		}
	}
}
