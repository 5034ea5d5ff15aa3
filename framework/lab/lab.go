// Package lab describes the hermetic kind lab that `make lab` builds: where
// its cache lives and which images it produced. The build writes a Manifest to
// <cache>/lab.json; providers and tests read it.
package lab

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// EnvCache names the cache directory; EnvLab=1 asks for the lab images.
const (
	EnvCache = "RWXCHAOS_CACHE"
	EnvLab   = "RWXCHAOS_LAB"
	// DefaultCache is used when EnvCache is unset. It is outside the repo so
	// that clones and worktrees share one build.
	DefaultCache = "/var/cache/rwxchaos"
	// ManifestName is the file name of the manifest inside the cache.
	ManifestName = "lab.json"
	// SchemaVersion changes when Manifest changes incompatibly.
	SchemaVersion = 1
)

// Manifest is what `make lab` built.
type Manifest struct {
	SchemaVersion int       `json:"schemaVersion"`
	K8sVersion    string    `json:"k8sVersion"`
	KindVersion   string    `json:"kindVersion"`
	BuiltAt       time.Time `json:"builtAt"`
	Cache         string    `json:"cache"`
	Images        Images    `json:"images"`
	// Steps maps a build step to the content hash of its inputs.
	Steps map[string]string `json:"steps"`
	// Skipped maps a step that did not run to the reason.
	Skipped map[string]string `json:"skipped,omitempty"`
}

// Images are docker image references present in the local docker daemon.
type Images struct {
	// Node is the kind node image (Kubernetes, containerd, CNI, preloaded images).
	Node string `json:"node"`
	// CNI is the route agent; it is already inside Node.
	CNI string `json:"cni"`
	// Toolbox is busybox (sh, httpd, wget, nslookup); it is already inside Node.
	Toolbox string `json:"toolbox"`
	// Pipeline is ./cmd/edi-pipeline; empty when it was skipped. Load it into
	// a cluster before use.
	Pipeline string `json:"pipeline,omitempty"`
	// NFSServer is a userspace NFSv4 server (nfs-ganesha) image.
	NFSServer string `json:"nfsServer"`
}

// CacheDir returns the lab cache directory.
func CacheDir() string {
	if d := os.Getenv(EnvCache); d != "" {
		return d
	}
	return DefaultCache
}

// ManifestPath is the manifest location inside cache.
func ManifestPath(cache string) string { return filepath.Join(cache, ManifestName) }

// Requested reports whether the environment asks for the lab (RWXCHAOS_LAB=1).
func Requested() bool { return os.Getenv(EnvLab) == "1" }

// ErrNoManifest means the lab was never built in this cache.
var ErrNoManifest = errors.New("lab manifest not found (run `make lab`)")

// Load reads the manifest at path.
func Load(path string) (*Manifest, error) {
	raw, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w", path, ErrNoManifest)
	}
	if err != nil {
		return nil, fmt.Errorf("read lab manifest: %w", err)
	}
	var m Manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("parse lab manifest %s: %w", path, err)
	}
	if m.SchemaVersion != SchemaVersion {
		return nil, fmt.Errorf("lab manifest %s has schema %d, want %d: rerun `make lab`", path, m.SchemaVersion, SchemaVersion)
	}
	if m.Images.Node == "" {
		return nil, fmt.Errorf("lab manifest %s names no node image: rerun `make lab`", path)
	}
	return &m, nil
}

// LoadDefault loads the manifest from CacheDir().
func LoadDefault() (*Manifest, error) { return Load(ManifestPath(CacheDir())) }

// Write stores m at path atomically.
func Write(path string, m *Manifest) error {
	m.SchemaVersion = SchemaVersion
	raw, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("encode lab manifest: %w", err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(raw, '\n'), 0o644); err != nil {
		return fmt.Errorf("write lab manifest: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write lab manifest: %w", err)
	}
	return nil
}

// TestLockPath is the file kind-creating tests flock so that only one of
// them builds a cluster at a time on a machine: `go test ./...` runs
// packages in parallel, and two 4-node clusters at once on 2 cores make
// every timing in both runs meaningless. It is a file of its own (not a
// lock a person might hold around `go test` by hand), so a test can never
// wait for a lock its own parent holds.
const TestLockPath = "/tmp/rwxchaos-kind-tests.lock"

// LocalLockPath is the file the scenario suites flock around each local
// scenario: `go test ./...` runs the e2e-framework and the ginkgo suites
// in parallel, and two local scenarios at once (each a set of engines,
// webservers and a FUSE file server) on 2 cores, beside -race builds, made
// engines drain slower than a settle bound allowed (CI12). Local scenarios
// take seconds each, so the suites take turns per scenario.
const LocalLockPath = "/tmp/rwxchaos-local-tests.lock"

// LockForTest waits (until ctx ends) for TestLockPath and returns its
// release. waited is how long it took, for the test log.
func LockForTest(ctx context.Context) (release func(), waited time.Duration, err error) {
	return lockFile(ctx, TestLockPath, "kind test lock")
}

// LockLocalForTest waits (until ctx ends) for LocalLockPath and returns its
// release and how long it waited.
func LockLocalForTest(ctx context.Context) (release func(), waited time.Duration, err error) {
	return lockFile(ctx, LocalLockPath, "local scenario lock")
}

// lockFile takes an exclusive flock on path, polling until ctx ends.
func lockFile(ctx context.Context, path, what string) (release func(), waited time.Duration, err error) {
	// Read-only: flock needs no write access, so a lock file another user
	// created (root's, say, under sudo) still serves everyone.
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDONLY, 0o666)
	if err != nil {
		return nil, 0, fmt.Errorf("%s: %w", what, err)
	}
	start := time.Now()
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() { f.Close() }, time.Since(start), nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, 0, fmt.Errorf("%s %s: %w", what, path, err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, time.Since(start), fmt.Errorf("%s %s still held by another test after %s: %w", what, path, time.Since(start).Round(time.Second), ctx.Err())
		case <-time.After(500 * time.Millisecond):
		}
	}
}
