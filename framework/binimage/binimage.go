// Package binimage assembles, in process, the container image that runs one
// program — the running rwxchaos binary, which carries the app under test
// as a hidden subcommand — so that no Dockerfile, docker build, registry or
// Go toolchain is needed to put the app into a cluster.
//
// The image has no base: a single layer holds the program at
// /usr/local/bin, /tmp, and, when the program is dynamically linked (a
// `go install` with cgo enabled), its ELF interpreter and the shared
// libraries it needs, copied from this host. Layer and config are
// reproducible (fixed times and owners), so the same binary always gives
// the same image ID and a node that already has it can be skipped.
//
// WriteArchive writes the docker-archive format (`docker save`'s), which
// `ctr images import` reads: that is how kind loads images into its nodes.
package binimage

import (
	"archive/tar"
	"bytes"
	"debug/elf"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// DefaultRepo names images assembled here. The registry part never
// resolves: the image exists only where it was loaded (pull policy Never).
const DefaultRepo = "rwxchaos.local/rwxchaos"

// BinDir is where the program sits in the image; it is the image's PATH.
const BinDir = "/usr/local/bin"

// Image is an assembled image.
type Image struct {
	// Ref is Repo:<first 12 hex digits of the layer digest>.
	Ref string
	// ID is the image ID (the config's digest, "sha256:..."), as containerd
	// and crictl report it.
	ID string
	// Command runs the program inside the image; append its arguments.
	Command []string
	// Files are the regular files in the layer (image paths), sorted.
	Files []string
	// Size is the layer's size in bytes.
	Size int64

	ref name.Tag
	img v1.Image
}

// Options for Build.
type Options struct {
	// Repo of the image reference. Default DefaultRepo.
	Repo string
	// Name of the program in the image (BinDir/Name). Default: the base
	// name of argv[0].
	Name string
}

// Build assembles the image that runs argv: argv[0] is a program on this
// host, argv[1:] are arguments the image's command keeps (a hidden
// subcommand such as "__pipeline").
func Build(argv []string, o Options) (*Image, error) {
	if len(argv) == 0 {
		return nil, fmt.Errorf("binimage: no program to put in the image")
	}
	if o.Repo == "" {
		o.Repo = DefaultRepo
	}
	if o.Name == "" {
		o.Name = filepath.Base(argv[0])
	}
	prog, err := filepath.EvalSymlinks(argv[0])
	if err != nil {
		return nil, fmt.Errorf("binimage: %w", err)
	}
	rt, err := runtimeOf(prog)
	if err != nil {
		return nil, fmt.Errorf("binimage: %s: %w", argv[0], err)
	}
	files := map[string]string{path.Join(BinDir, o.Name): prog}
	for img, host := range rt.files {
		files[img] = host
	}
	layerTar, err := layer(files)
	if err != nil {
		return nil, fmt.Errorf("binimage: %w", err)
	}
	l := static.NewLayer(layerTar, types.DockerUncompressedLayer)
	img, err := mutate.AppendLayers(empty.Image, l)
	if err != nil {
		return nil, fmt.Errorf("binimage: %w", err)
	}
	command := append([]string{path.Join(BinDir, o.Name)}, argv[1:]...)
	env := []string{"PATH=" + BinDir}
	if len(rt.libDirs) > 0 {
		env = append(env, "LD_LIBRARY_PATH="+strings.Join(rt.libDirs, ":"))
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("binimage: %w", err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", rt.arch
	cf.Created = v1.Time{Time: time.Unix(0, 0).UTC()}
	cf.Config.Entrypoint = command
	cf.Config.Env = env
	cf.Config.WorkingDir = "/"
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		return nil, fmt.Errorf("binimage: %w", err)
	}
	digest, err := l.Digest()
	if err != nil {
		return nil, fmt.Errorf("binimage: %w", err)
	}
	tag, err := name.NewTag(o.Repo+":"+digest.Hex[:12], name.WeakValidation)
	if err != nil {
		return nil, fmt.Errorf("binimage: image name %s: %w", o.Repo, err)
	}
	id, err := img.ConfigName()
	if err != nil {
		return nil, fmt.Errorf("binimage: %w", err)
	}
	var names []string
	for f := range files {
		names = append(names, f)
	}
	sort.Strings(names)
	return &Image{Ref: tag.String(), ID: id.String(), Command: command, Files: names,
		Size: int64(len(layerTar)), ref: tag, img: img}, nil
}

// WriteArchive writes the image as a docker-archive tarball (`docker save`
// format; `docker load` and `ctr images import` read it).
func (i *Image) WriteArchive(w io.Writer) error {
	if err := tarball.Write(i.ref, i.img, w); err != nil {
		return fmt.Errorf("binimage: write %s: %w", i.Ref, err)
	}
	return nil
}

// WriteArchiveFile writes the archive to a new file at p.
func (i *Image) WriteArchiveFile(p string) error {
	f, err := os.Create(p)
	if err != nil {
		return fmt.Errorf("binimage: %w", err)
	}
	if err := i.WriteArchive(f); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("binimage: %w", err)
	}
	return nil
}

// layer is the uncompressed layer tar: the files (image path → host file),
// their parent directories, and /tmp.
func layer(files map[string]string) ([]byte, error) {
	epoch := time.Unix(0, 0).UTC()
	dirs := map[string]bool{"tmp": true}
	var names []string
	for p := range files {
		rel := strings.TrimPrefix(p, "/")
		names = append(names, rel)
		for d := path.Dir(rel); d != "." && d != "/"; d = path.Dir(d) {
			dirs[d] = true
		}
	}
	sort.Strings(names)
	var dl []string
	for d := range dirs {
		dl = append(dl, d)
	}
	sort.Strings(dl) // parents before children
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, d := range dl {
		mode := int64(0o755)
		if d == "tmp" {
			mode = 0o1777
		}
		if err := tw.WriteHeader(&tar.Header{Name: d + "/", Typeflag: tar.TypeDir, Mode: mode, ModTime: epoch, Format: tar.FormatPAX}); err != nil {
			return nil, err
		}
	}
	for _, rel := range names {
		host := files["/"+rel]
		f, err := os.Open(host)
		if err != nil {
			return nil, err
		}
		st, err := f.Stat()
		if err != nil {
			f.Close()
			return nil, err
		}
		err = tw.WriteHeader(&tar.Header{Name: rel, Typeflag: tar.TypeReg, Mode: 0o755, Size: st.Size(), ModTime: epoch, Format: tar.FormatPAX})
		if err == nil {
			_, err = io.Copy(tw, f)
		}
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("add %s: %w", host, err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// runtime is what a program needs besides itself.
type runtime struct {
	arch    string            // GOARCH of the program
	files   map[string]string // image path → host file (interpreter, libraries)
	libDirs []string          // image dirs of the libraries, for LD_LIBRARY_PATH
}

// runtimeOf reads the program's ELF headers: a static program needs
// nothing; a dynamic one needs its interpreter at the path it names, and
// every shared library it (transitively) needs, found like the dynamic
// loader finds them on this host.
func runtimeOf(prog string) (*runtime, error) {
	f, err := elf.Open(prog)
	if err != nil {
		return nil, fmt.Errorf("not an ELF program: %w", err)
	}
	defer f.Close()
	rt := &runtime{files: map[string]string{}}
	switch f.Machine {
	case elf.EM_X86_64:
		rt.arch = "amd64"
	case elf.EM_AARCH64:
		rt.arch = "arm64"
	default:
		return nil, fmt.Errorf("unsupported machine %s (want x86-64 or aarch64)", f.Machine)
	}
	interp := ""
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			b, err := io.ReadAll(p.Open())
			if err != nil {
				return nil, fmt.Errorf("read its ELF interpreter: %w", err)
			}
			interp = strings.TrimRight(string(b), "\x00")
		}
	}
	if interp == "" {
		return rt, nil // static
	}
	target, err := filepath.EvalSymlinks(interp)
	if err != nil {
		return nil, fmt.Errorf("its ELF interpreter %s is missing on this host: %w", interp, err)
	}
	rt.files[interp] = target
	dirs := searchDirs()
	seen := map[string]bool{}
	libDirs := map[string]bool{}
	queue, err := f.ImportedLibraries()
	if err != nil {
		return nil, err
	}
	for len(queue) > 0 {
		lib := queue[0]
		queue = queue[1:]
		if seen[lib] {
			continue
		}
		seen[lib] = true
		p, needs, err := findLib(lib, dirs, f.Class, f.Machine)
		if err != nil {
			return nil, err
		}
		target, err := filepath.EvalSymlinks(p)
		if err != nil {
			return nil, err
		}
		if p != interp {
			rt.files[p] = target
			libDirs[filepath.Dir(p)] = true
		}
		queue = append(queue, needs...)
	}
	for d := range libDirs {
		rt.libDirs = append(rt.libDirs, d)
	}
	sort.Strings(rt.libDirs)
	return rt, nil
}

// findLib finds a library by DT_NEEDED name, of the program's class and
// machine, and returns its path and what it needs in turn.
func findLib(lib string, dirs []string, class elf.Class, machine elf.Machine) (string, []string, error) {
	cands := []string{lib}
	if !strings.Contains(lib, "/") {
		cands = nil
		for _, d := range dirs {
			cands = append(cands, filepath.Join(d, lib))
		}
	}
	for _, c := range cands {
		f, err := elf.Open(c)
		if err != nil {
			continue
		}
		ok := f.Class == class && f.Machine == machine
		needs, _ := f.ImportedLibraries()
		f.Close()
		if ok {
			return c, needs, nil
		}
	}
	return "", nil, fmt.Errorf("shared library %s not found in %s: build rwxchaos static (CGO_ENABLED=0) instead", lib, strings.Join(dirs, ":"))
}

// searchDirs are the dynamic loader's directories on this host:
// /etc/ld.so.conf (with its includes), then the defaults.
func searchDirs() []string {
	var dirs []string
	seen := map[string]bool{}
	add := func(d string) {
		if d != "" && !seen[d] {
			seen[d] = true
			dirs = append(dirs, d)
		}
	}
	var read func(conf string, depth int)
	read = func(conf string, depth int) {
		b, err := os.ReadFile(conf)
		if err != nil || depth > 4 {
			return
		}
		for _, line := range strings.Split(string(b), "\n") {
			line, _, _ = strings.Cut(line, "#")
			line = strings.TrimSpace(line)
			if inc, ok := strings.CutPrefix(line, "include "); ok {
				pat := strings.TrimSpace(inc)
				if !filepath.IsAbs(pat) {
					pat = filepath.Join(filepath.Dir(conf), pat)
				}
				ms, _ := filepath.Glob(pat)
				sort.Strings(ms)
				for _, m := range ms {
					read(m, depth+1)
				}
				continue
			}
			if strings.HasPrefix(line, "/") {
				add(line)
			}
		}
	}
	read("/etc/ld.so.conf", 0)
	for _, d := range []string{"/lib64", "/usr/lib64", "/lib", "/usr/lib"} {
		add(d)
	}
	return dirs
}

// Bundle copies the program argv[0] — and, when it is dynamically linked,
// its ELF interpreter and shared libraries — into dir, and returns the
// command that runs it from there on another Linux root that sees dir at
// the same path (a kind node with dir in its extraMounts), whatever that
// root's own libc: the program directly when static, else through the
// bundled interpreter with the bundled libraries only. argv[1:] (a hidden
// subcommand) is kept. The program is written to a temp name and renamed,
// so a running copy is never overwritten.
func Bundle(argv []string, dir string) ([]string, error) {
	if len(argv) == 0 {
		return nil, fmt.Errorf("binimage: no program to bundle")
	}
	prog, err := filepath.EvalSymlinks(argv[0])
	if err != nil {
		return nil, fmt.Errorf("binimage: %w", err)
	}
	rt, err := runtimeOf(prog)
	if err != nil {
		return nil, fmt.Errorf("binimage: %s: %w", argv[0], err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("binimage: %w", err)
	}
	name := filepath.Base(argv[0])
	if err := copyExecutable(prog, filepath.Join(dir, name)); err != nil {
		return nil, err
	}
	if len(rt.files) == 0 {
		return append([]string{filepath.Join(dir, name)}, argv[1:]...), nil
	}
	lib := filepath.Join(dir, "lib")
	if err := os.MkdirAll(lib, 0o755); err != nil {
		return nil, fmt.Errorf("binimage: %w", err)
	}
	var loader string
	for img, host := range rt.files {
		dst := filepath.Join(lib, path.Base(img))
		if err := copyExecutable(host, dst); err != nil {
			return nil, err
		}
		if strings.Contains(path.Base(img), "ld-linux") {
			loader = dst
		}
	}
	if loader == "" {
		return nil, fmt.Errorf("binimage: %s: no ELF interpreter among %v", argv[0], rt.files)
	}
	return append([]string{loader, "--library-path", lib, filepath.Join(dir, name)}, argv[1:]...), nil
}

func copyExecutable(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("binimage: %w", err)
	}
	defer in.Close()
	tmp := dst + ".new"
	out, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		return fmt.Errorf("binimage: %w", err)
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return fmt.Errorf("binimage: copy %s: %w", src, err)
	}
	if err := out.Close(); err != nil {
		return fmt.Errorf("binimage: %w", err)
	}
	if err := os.Rename(tmp, dst); err != nil {
		return fmt.Errorf("binimage: %w", err)
	}
	return nil
}
