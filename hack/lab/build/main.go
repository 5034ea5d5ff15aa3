// Command build assembles the hermetic kind lab into a cache directory outside
// the repo. Each step is a bash script under hack/lab/steps; a step runs only
// when the content hash of its inputs (pinned versions it uses, its script,
// its source files, the content hashes of the outputs of the steps it depends
// on) differs from the stamp of its last successful run, or when its output
// has gone missing. Keying on dependency outputs, not their inputs, stops a
// rebuild that produced identical bytes from cascading.
// Independent steps overlap: one CPU-heavy (Go builds) and one I/O-heavy
// (debootstrap) step at a time. At the end it writes <cache>/lab.json.
//
// Usage (from the repo root, as root, after hack/lab/host.sh):
//
//	go run ./hack/lab/build [-cache DIR] [-only step,...] [-force step,...]
package main

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/rwxchaos/rwxchaos/framework/lab"
)

// class limits concurrency: one step of each class runs at a time.
type class string

const (
	cpu class = "cpu" // Go compiles: memory-hungry, 2 cores
	io_ class = "io"  // debootstrap, docker import/save
)

// step is one cached unit of the build.
type step struct {
	name   string
	class  class
	vars   []string // versions.env keys the step uses
	deps   []string
	inputs []string // repo-relative files or directories hashed into the key
	// image, when set, is the docker repository the step produces; the tag
	// is derived from the step hash so a rebuild never reuses a stale tag.
	image string
	// tag prefix (a version) for image; the hash follows it.
	tagPrefix string
	// skip returns a non-empty reason when the step cannot run yet.
	skip func(repo string) string
	// extraInputs computes more inputs at run time (e.g. a package's sources).
	extraInputs func(ctx context.Context, repo string) ([]string, error)
}

func steps() []step {
	return []step{
		{name: "k8s-bins", class: cpu, vars: []string{"K8S_VERSION", "STAGING_VERSION"}},
		{name: "etcd", class: cpu, vars: []string{"ETCD_VERSION"}},
		{name: "coredns", class: cpu, vars: []string{"COREDNS_VERSION"}},
		{name: "crictl", class: cpu, vars: []string{"CRI_TOOLS_VERSION", "CRI_TOOLS_SUM", "CRI_TOOLS_GOMOD_SUM", "STAGING_VERSION"}},
		{name: "pause", class: cpu, vars: []string{"K8S_VERSION"}},
		{name: "cni-agent", class: cpu, inputs: []string{"hack/lab/cni", "go.mod"}},
		{name: "rootfs-slim", class: io_, vars: []string{"DEBIAN_SUITE", "DEBIAN_MIRROR"}},
		{name: "rootfs-nfs", class: io_, vars: []string{"DEBIAN_SUITE", "DEBIAN_MIRROR"}},
		{name: "rootfs-node", class: io_, vars: []string{"DEBIAN_SUITE", "DEBIAN_MIRROR"}},
		{name: "img-toolbox", class: io_, deps: []string{"rootfs-slim"}, image: "rwxchaos/toolbox", tagPrefix: "busybox"},
		{name: "img-cni", class: io_, deps: []string{"rootfs-slim", "cni-agent"}, image: "rwxchaos/cni-agent", tagPrefix: "v0"},
		{name: "img-nfs", class: io_, deps: []string{"rootfs-nfs"}, inputs: []string{"hack/lab/nfs"}, image: "rwxchaos/nfs-ganesha", tagPrefix: "v4"},
		{name: "images-k8s", class: io_, deps: []string{"k8s-bins", "etcd", "coredns", "pause", "rootfs-slim"},
			vars: []string{"K8S_VERSION", "ETCD_IMAGE_TAG", "COREDNS_VERSION", "PAUSE_IMAGE_TAG"}},
		{name: "img-node", class: io_, deps: []string{"rootfs-node", "k8s-bins", "crictl", "images-k8s", "img-cni", "img-toolbox"},
			vars: []string{"KIND_VERSION", "K8S_VERSION", "PAUSE_IMAGE_TAG"}, inputs: []string{"hack/lab/node"},
			image: "rwxchaos/kind-node", tagPrefix: "K8S_VERSION"},
		{name: "img-pipeline", class: cpu, deps: []string{"rootfs-slim"}, image: "rwxchaos/edi-pipeline", tagPrefix: "dev",
			skip: func(repo string) string {
				if _, err := os.Stat(filepath.Join(repo, "cmd", "edi-pipeline")); err != nil {
					return "./cmd/edi-pipeline does not exist yet; no pipeline image (rerun `make lab` once it does)"
				}
				return ""
			},
			extraInputs: pkgSources("./cmd/edi-pipeline")},
	}
}

// pkgSources lists the module-local source files a package builds from.
func pkgSources(pkg string) func(ctx context.Context, repo string) ([]string, error) {
	return func(ctx context.Context, repo string) ([]string, error) {
		cmd := exec.CommandContext(ctx, "go", "list", "-deps", "-f",
			`{{if .Module}}{{if .Module.Main}}{{$d := .Dir}}{{range .GoFiles}}{{$d}}/{{.}}{{"\n"}}{{end}}{{range .EmbedFiles}}{{$d}}/{{.}}{{"\n"}}{{end}}{{end}}{{end}}`, pkg)
		cmd.Dir = repo
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		out, err := cmd.Output()
		if err != nil {
			return nil, fmt.Errorf("go list %s: %w", pkg, err)
		}
		var files []string
		for _, f := range strings.Fields(string(out)) {
			rel, err := filepath.Rel(repo, f)
			if err != nil {
				return nil, err
			}
			files = append(files, rel)
		}
		return append(files, "go.mod", "go.sum"), nil
	}
}

// stamp records a step's last successful run.
type stamp struct {
	Hash    string    `json:"hash"`
	OutHash string    `json:"outHash"`
	Image   string    `json:"image,omitempty"`
	Seconds float64   `json:"seconds"`
	BuiltAt time.Time `json:"builtAt"`
}

type builder struct {
	repo, here, cache string
	versions          map[string]string
	versionOrder      []string
	force             map[string]bool
	mu                sync.Mutex
	hashes            map[string]string
	outHashes         map[string]string
	images            map[string]string
	skipped           map[string]string
	report            []string
}

func main() {
	cache := flag.String("cache", lab.CacheDir(), "cache directory (outside the repo)")
	force := flag.String("force", "", "comma-separated steps to rebuild even when current")
	only := flag.String("only", "", "comma-separated steps to run (the others are left out; no lab.json is written)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *cache, *force, *only); err != nil {
		fmt.Fprintf(os.Stderr, "lab: %v\n", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, cache, force, only string) error {
	repo, err := os.Getwd()
	if err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(repo, "hack", "lab", "versions.env")); err != nil {
		return fmt.Errorf("run from the repo root: %w", err)
	}
	if strings.HasPrefix(cache+"/", repo+"/") {
		return fmt.Errorf("cache %s must be outside the repo %s", cache, repo)
	}
	b := &builder{repo: repo, here: filepath.Join(repo, "hack", "lab"), cache: cache,
		force: map[string]bool{}, hashes: map[string]string{}, outHashes: map[string]string{}, images: map[string]string{}, skipped: map[string]string{}}
	for _, f := range strings.Split(force, ",") {
		if f != "" {
			b.force[f] = true
		}
	}
	if err := b.loadVersions(); err != nil {
		return err
	}
	for _, d := range []string{"out", "work", "logs", "stamps", "go-build"} {
		if err := os.MkdirAll(filepath.Join(cache, d), 0o755); err != nil {
			return err
		}
	}
	all := steps()
	byName := map[string]step{}
	for _, s := range all {
		byName[s.name] = s
	}
	for f := range b.force {
		if _, ok := byName[f]; !ok {
			return fmt.Errorf("-force: unknown step %q", f)
		}
	}
	selected := map[string]bool{}
	for _, o := range strings.Split(only, ",") {
		if o == "" {
			continue
		}
		if _, ok := byName[o]; !ok {
			return fmt.Errorf("-only: unknown step %q", o)
		}
		selected[o] = true
	}
	if len(selected) > 0 {
		for i := range all {
			if !selected[all[i].name] {
				all[i].skip = func(string) string { return "not selected by -only" }
			}
		}
	}
	start := time.Now()
	done := map[string]chan struct{}{}
	errs := map[string]error{}
	for _, s := range all {
		done[s.name] = make(chan struct{})
	}
	sems := map[class]chan struct{}{cpu: make(chan struct{}, 1), io_: make(chan struct{}, 1)}
	var wg sync.WaitGroup
	for _, s := range all {
		wg.Add(1)
		go func(s step) {
			defer wg.Done()
			defer close(done[s.name])
			if s.skip != nil {
				if why := s.skip(b.repo); why != "" {
					b.markSkipped(s.name, why)
					return
				}
			}
			for _, d := range s.deps {
				<-done[d]
				b.mu.Lock()
				derr, dskip := errs[d], b.skipped[d]
				b.mu.Unlock()
				if derr != nil || dskip != "" {
					b.mu.Lock()
					errs[s.name] = fmt.Errorf("dependency %s did not build", d)
					b.mu.Unlock()
					return
				}
			}
			sems[s.class] <- struct{}{}
			defer func() { <-sems[s.class] }()
			err := b.runStep(ctx, s)
			b.mu.Lock()
			errs[s.name] = err
			b.mu.Unlock()
		}(s)
	}
	wg.Wait()
	var failed []string
	for _, s := range all {
		if err := errs[s.name]; err != nil {
			failed = append(failed, fmt.Sprintf("%s: %v", s.name, err))
		}
	}
	fmt.Fprintf(os.Stderr, "\nlab summary (%s total):\n", time.Since(start).Round(time.Second))
	sort.Strings(b.report)
	for _, l := range b.report {
		fmt.Fprintln(os.Stderr, "  "+l)
	}
	if len(failed) > 0 {
		return fmt.Errorf("steps failed (logs in %s/logs):\n  %s", cache, strings.Join(failed, "\n  "))
	}
	if len(selected) > 0 {
		fmt.Fprintln(os.Stderr, "-only given: lab.json left as it was")
		return nil
	}
	m := &lab.Manifest{
		K8sVersion: b.versions["K8S_VERSION"], KindVersion: b.versions["KIND_VERSION"],
		BuiltAt: time.Now().UTC(), Cache: cache, Steps: b.hashes, Skipped: b.skipped,
		Images: lab.Images{Node: b.images["img-node"], CNI: b.images["img-cni"], Toolbox: b.images["img-toolbox"],
			Pipeline: b.images["img-pipeline"], NFSServer: b.images["img-nfs"]},
	}
	if err := lab.Write(lab.ManifestPath(cache), m); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "wrote %s\n", lab.ManifestPath(cache))
	return nil
}

func (b *builder) loadVersions() error {
	f, err := os.Open(filepath.Join(b.here, "versions.env"))
	if err != nil {
		return err
	}
	defer f.Close()
	b.versions = map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			return fmt.Errorf("versions.env: bad line %q", line)
		}
		b.versions[k] = v
		b.versionOrder = append(b.versionOrder, k)
	}
	return sc.Err()
}

// key hashes everything a step's output depends on.
func (b *builder) key(ctx context.Context, s step) (string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "step %s\n", s.name)
	for _, v := range s.vars {
		val, ok := b.versions[v]
		if !ok {
			return "", fmt.Errorf("versions.env has no %s", v)
		}
		fmt.Fprintf(h, "var %s=%s\n", v, val)
	}
	b.mu.Lock()
	for _, d := range s.deps {
		fmt.Fprintf(h, "dep %s=%s\n", d, b.outHashes[d])
	}
	b.mu.Unlock()
	inputs := append([]string{"hack/lab/steps/" + s.name + ".sh", "hack/lab/steps/lib.sh"}, s.inputs...)
	if s.extraInputs != nil {
		more, err := s.extraInputs(ctx, b.repo)
		if err != nil {
			return "", err
		}
		inputs = append(inputs, more...)
	}
	slices.Sort(inputs)
	inputs = slices.Compact(inputs)
	for _, in := range inputs {
		if err := hashPath(h, b.repo, in); err != nil {
			return "", fmt.Errorf("hash input %s: %w", in, err)
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// hashPath adds the names, modes and contents of the files under rel.
func hashPath(h io.Writer, repo, rel string) error {
	return filepath.WalkDir(filepath.Join(repo, rel), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		r, _ := filepath.Rel(repo, p)
		fmt.Fprintf(h, "file %s %o\n", r, info.Mode().Perm()&0o111)
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.Copy(h, f)
		return err
	})
}

func (b *builder) imageRef(s step, hash string) string {
	prefix := s.tagPrefix
	if v, ok := b.versions[prefix]; ok {
		prefix = v
	}
	return fmt.Sprintf("%s:%s-%s", s.image, prefix, hash[:12])
}

func (b *builder) outDir(name string) string { return filepath.Join(b.cache, "out", name) }

func (b *builder) runStep(ctx context.Context, s step) error {
	hash, err := b.key(ctx, s)
	if err != nil {
		return err
	}
	image := ""
	if s.image != "" {
		image = b.imageRef(s, hash)
	}
	stampPath := filepath.Join(b.cache, "stamps", s.name+".json")
	var old stamp
	if raw, err := os.ReadFile(stampPath); err == nil {
		_ = json.Unmarshal(raw, &old)
	}
	record := func(verb string, secs float64, outHash string) {
		b.mu.Lock()
		defer b.mu.Unlock()
		b.hashes[s.name] = hash
		b.outHashes[s.name] = outHash
		if image != "" {
			b.images[s.name] = image
		}
		b.report = append(b.report, fmt.Sprintf("%-12s %-7s %6.1fs  %s", s.name, verb, secs, hash[:12]))
	}
	if !b.force[s.name] && old.Hash == hash && old.OutHash != "" && b.outputsPresent(ctx, s, image) {
		record("cached", 0, old.OutHash)
		return nil
	}
	fmt.Fprintf(os.Stderr, "%s lab: %s building (log: %s)\n", clock(), s.name, b.logPath(s.name))
	t0 := time.Now()
	if err := b.exec(ctx, s, image); err != nil {
		if image != "" {
			_ = docker(context.WithoutCancel(ctx), "rmi", image) // no half-checked image under a valid-looking tag
		}
		return err
	}
	secs := time.Since(t0).Seconds()
	if image != "" {
		if err := docker(ctx, "image", "inspect", image); err != nil {
			return fmt.Errorf("step finished but image %s is missing", image)
		}
	}
	if old.Image != "" && old.Image != image {
		_ = docker(ctx, "rmi", old.Image) // best effort: drop the superseded tag
	}
	oh := sha256.New()
	if err := hashPath(oh, b.outDir(s.name), "."); err != nil {
		return fmt.Errorf("hash output: %w", err)
	}
	outHash := hex.EncodeToString(oh.Sum(nil))
	raw, _ := json.MarshalIndent(stamp{Hash: hash, OutHash: outHash, Image: image, Seconds: secs, BuiltAt: time.Now().UTC()}, "", "  ")
	if err := os.WriteFile(stampPath, raw, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "%s lab: %s built in %.0fs\n", clock(), s.name, secs)
	record("built", secs, outHash)
	return nil
}

func (b *builder) markSkipped(name, why string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.skipped[name] = why
	b.report = append(b.report, fmt.Sprintf("%-12s SKIPPED: %s", name, why))
	fmt.Fprintf(os.Stderr, "%s lab: %s skipped: %s\n", clock(), name, why)
}

func (b *builder) outputsPresent(ctx context.Context, s step, image string) bool {
	ents, err := os.ReadDir(b.outDir(s.name))
	if err != nil || len(ents) == 0 {
		return false
	}
	if image != "" && docker(ctx, "image", "inspect", image) != nil {
		return false
	}
	return true
}

func (b *builder) logPath(name string) string { return filepath.Join(b.cache, "logs", name+".log") }

func (b *builder) exec(ctx context.Context, s step, image string) error {
	out, work := b.outDir(s.name), filepath.Join(b.cache, "work", s.name)
	for _, d := range []string{out, work} {
		if err := os.RemoveAll(d); err != nil {
			return err
		}
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	logf, err := os.Create(b.logPath(s.name))
	if err != nil {
		return err
	}
	defer logf.Close()
	env := append(os.Environ(),
		"CACHE="+b.cache, "OUT="+out, "WORK="+work, "HERE="+b.here, "REPO="+b.repo,
		"IMAGE="+image, "GOCACHE="+filepath.Join(b.cache, "go-build"), "GOFLAGS=-buildvcs=false",
		"GOTOOLCHAIN=local", "DEBIAN_FRONTEND=noninteractive")
	for _, k := range b.versionOrder {
		env = append(env, k+"="+b.versions[k])
	}
	b.mu.Lock()
	for _, d := range s.deps {
		envName := strings.ToUpper(strings.ReplaceAll(d, "-", "_"))
		env = append(env, "DEP_"+envName+"="+b.outDir(d))
		if img, ok := b.images[d]; ok {
			env = append(env, "IMAGE_"+envName+"="+img)
		}
	}
	b.mu.Unlock()
	cmd := exec.CommandContext(ctx, "bash", filepath.Join(b.here, "steps", s.name+".sh"))
	cmd.Dir = b.repo
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM) }
	cmd.WaitDelay = 10 * time.Second
	if err := cmd.Run(); err != nil {
		tail, _ := tailFile(b.logPath(s.name), 25)
		return fmt.Errorf("%w; last lines of %s:\n%s", err, b.logPath(s.name), tail)
	}
	_ = os.RemoveAll(work)
	return nil
}

func tailFile(path string, n int) (string, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	lines := strings.Split(strings.TrimRight(string(raw), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return "    " + strings.Join(lines, "\n    "), nil
}

func docker(ctx context.Context, args ...string) error {
	cmd := exec.CommandContext(ctx, "docker", args...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("docker %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

func clock() string { return time.Now().UTC().Format("15:04:05") }
