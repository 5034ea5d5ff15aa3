// Package release checks the release and CI packaging: the goreleaser
// config (.goreleaser.yaml), the release image's Dockerfile, the GitHub
// Action (action.yml and its scripts in hack/action) and the nightly
// workflow that uses it. goreleaser itself runs `goreleaser check` when it
// is on PATH (hack/ci-deps.sh installs it); these tests check what the
// config means for rwxchaos, and run the action's scripts for real.
package release

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/rwxchaos/rwxchaos/framework/version"
)

const root = "../.."

// decodeStrict decodes a YAML file into v, refusing keys v does not model.
func decodeStrict(t *testing.T, path string, v any) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, path))
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return b
}

type goreleaserConfig struct {
	Version     int    `yaml:"version"`
	ProjectName string `yaml:"project_name"`
	Builds      []struct {
		ID           string   `yaml:"id"`
		Main         string   `yaml:"main"`
		Binary       string   `yaml:"binary"`
		Env          []string `yaml:"env"`
		Goos         []string `yaml:"goos"`
		Goarch       []string `yaml:"goarch"`
		Flags        []string `yaml:"flags"`
		Ldflags      []string `yaml:"ldflags"`
		ModTimestamp string   `yaml:"mod_timestamp"`
	} `yaml:"builds"`
	Archives []struct {
		ID           string   `yaml:"id"`
		IDs          []string `yaml:"ids"`
		Formats      []string `yaml:"formats"`
		NameTemplate string   `yaml:"name_template"`
		Files        []string `yaml:"files"`
	} `yaml:"archives"`
	Checksum struct {
		NameTemplate string `yaml:"name_template"`
		Algorithm    string `yaml:"algorithm"`
	} `yaml:"checksum"`
	DockersV2 []struct {
		ID         string            `yaml:"id"`
		IDs        []string          `yaml:"ids"`
		Dockerfile string            `yaml:"dockerfile"`
		Images     []string          `yaml:"images"`
		Tags       []string          `yaml:"tags"`
		Platforms  []string          `yaml:"platforms"`
		Labels     map[string]string `yaml:"labels"`
	} `yaml:"dockers_v2"`
	Snapshot struct {
		VersionTemplate string `yaml:"version_template"`
	} `yaml:"snapshot"`
	Changelog struct {
		Sort    string `yaml:"sort"`
		Filters struct {
			Exclude []string `yaml:"exclude"`
		} `yaml:"filters"`
	} `yaml:"changelog"`
	Release struct {
		GitHub struct {
			Owner string `yaml:"owner"`
			Name  string `yaml:"name"`
		} `yaml:"github"`
	} `yaml:"release"`
}

// TestGoreleaserConfig: one static linux amd64/arm64 build of
// cmd/rwxchaos stamped with the version package's variables, archives
// named as the action's installer expects, checksums, and an image built
// from a Dockerfile that copies that binary.
func TestGoreleaserConfig(t *testing.T) {
	var c goreleaserConfig
	decodeStrict(t, ".goreleaser.yaml", &c)
	if c.Version != 2 || c.ProjectName != "rwxchaos" || len(c.Builds) != 1 {
		t.Fatalf("want goreleaser v2 config of project rwxchaos with one build: %+v", c)
	}
	b := c.Builds[0]
	if b.Main != "./cmd/rwxchaos" || b.Binary != "rwxchaos" {
		t.Errorf("build main %q binary %q, want ./cmd/rwxchaos and rwxchaos", b.Main, b.Binary)
	}
	if _, err := os.Stat(filepath.Join(root, b.Main, "main.go")); err != nil {
		t.Errorf("build main: %v", err)
	}
	if !slices.Contains(b.Env, "CGO_ENABLED=0") {
		t.Errorf("build env %v: the release binary must be static (CGO_ENABLED=0)", b.Env)
	}
	if !slices.Equal(b.Goos, []string{"linux"}) || !slices.Contains(b.Goarch, "amd64") || !slices.Contains(b.Goarch, "arm64") {
		t.Errorf("targets %v/%v, want linux amd64 and arm64", b.Goos, b.Goarch)
	}
	// Every -X names a string variable that exists in framework/version.
	vars := versionVars(t)
	ld := strings.Join(b.Ldflags, " ")
	for _, v := range []string{"version", "commit", "date"} {
		x := "-X github.com/rwxchaos/rwxchaos/framework/version." + v + "="
		if !strings.Contains(ld, x) {
			t.Errorf("ldflags do not set %s: %s", v, ld)
		}
		if !vars[v] {
			t.Errorf("ldflags set framework/version.%s, which is not a package-level string variable there", v)
		}
	}
	for _, m := range regexp.MustCompile(`-X (\S+)=`).FindAllStringSubmatch(ld, -1) {
		if name, ok := strings.CutPrefix(m[1], "github.com/rwxchaos/rwxchaos/framework/version."); !ok || !vars[name] {
			t.Errorf("ldflags set %s, which does not exist", m[1])
		}
	}

	// Archives: as hack/action/install.sh downloads them.
	install, err := os.ReadFile(filepath.Join(root, "hack/action/install.sh"))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Archives) != 1 || !slices.Equal(c.Archives[0].IDs, []string{b.ID}) || !slices.Equal(c.Archives[0].Formats, []string{"tar.gz"}) {
		t.Fatalf("want one tar.gz archive of build %s: %+v", b.ID, c.Archives)
	}
	for _, arch := range b.Goarch {
		name := render(c.Archives[0].NameTemplate, map[string]string{"ProjectName": c.ProjectName, "Os": "linux", "Arch": arch}) + ".tar.gz"
		if want := strings.ReplaceAll("rwxchaos_linux_${arch}.tar.gz", "${arch}", arch); name != want {
			t.Errorf("archive %s, but install.sh downloads %s", name, want)
		}
	}
	if !bytes.Contains(install, []byte(`archive="rwxchaos_linux_${arch}.tar.gz"`)) {
		t.Error("install.sh no longer names archives rwxchaos_linux_${arch}.tar.gz: keep it and .goreleaser.yaml in step")
	}
	for _, f := range c.Archives[0].Files {
		if _, err := os.Stat(filepath.Join(root, f)); err != nil {
			t.Errorf("archive file: %v", err)
		}
	}
	if c.Checksum.NameTemplate != "checksums.txt" || c.Checksum.Algorithm != "sha256" || !bytes.Contains(install, []byte("checksums.txt")) {
		t.Errorf("checksums %+v: install.sh verifies sha256 from checksums.txt", c.Checksum)
	}

	// The image: the same binary, every built platform.
	if len(c.DockersV2) != 1 {
		t.Fatalf("want one image: %+v", c.DockersV2)
	}
	d := c.DockersV2[0]
	if !slices.Equal(d.IDs, []string{b.ID}) || len(d.Images) == 0 || len(d.Tags) == 0 {
		t.Fatalf("image %+v: wants build %s, an image name and tags", d, b.ID)
	}
	// The providers default to this image for the running release.
	if d.Images[0] != version.ReleaseRepo || !slices.Contains(d.Tags, "v{{ .Version }}") {
		t.Errorf("image %s tags %v: the providers pull %s:vX.Y.Z (version.ReleaseRepo)", d.Images[0], d.Tags, version.ReleaseRepo)
	}
	for _, arch := range b.Goarch {
		if !slices.Contains(d.Platforms, "linux/"+arch) {
			t.Errorf("image platforms %v lack linux/%s", d.Platforms, arch)
		}
	}
	df, err := os.ReadFile(filepath.Join(root, d.Dockerfile))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(df, []byte("COPY $TARGETPLATFORM/"+b.Binary+" /usr/local/bin/rwxchaos")) {
		t.Errorf("%s does not copy $TARGETPLATFORM/%s to /usr/local/bin/rwxchaos (where the providers run it from PATH)", d.Dockerfile, b.Binary)
	}

	// goreleaser's own validation, when it is installed.
	gr, err := exec.LookPath("goreleaser")
	if err != nil {
		t.Log("goreleaser is not on PATH (hack/ci-deps.sh installs it): skipped `goreleaser check`")
		return
	}
	cmd := exec.Command(gr, "check")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("goreleaser check: %v\n%s", err, out)
	}
}

// versionVars are framework/version's package-level string variables.
func versionVars(t *testing.T) map[string]bool {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), filepath.Join(root, "framework/version/version.go"), nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	vars := map[string]bool{}
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.VAR {
			continue
		}
		for _, s := range g.Specs {
			vs := s.(*ast.ValueSpec)
			if id, ok := vs.Type.(*ast.Ident); ok && id.Name == "string" {
				for _, n := range vs.Names {
					vars[n.Name] = true
				}
			}
		}
	}
	return vars
}

// render fills the {{ .Name }} fields of a goreleaser template.
func render(tmpl string, fields map[string]string) string {
	return regexp.MustCompile(`\{\{\s*\.(\w+)\s*\}\}`).ReplaceAllStringFunc(tmpl, func(m string) string {
		name := regexp.MustCompile(`\w+`).FindString(m[2:])
		if v, ok := fields[name]; ok {
			return v
		}
		return m
	})
}

type actionStep struct {
	Name  string            `yaml:"name"`
	ID    string            `yaml:"id"`
	If    string            `yaml:"if"`
	Shell string            `yaml:"shell"`
	Run   string            `yaml:"run"`
	Uses  string            `yaml:"uses"`
	With  map[string]string `yaml:"with"`
	Env   map[string]string `yaml:"env"`
}

type actionFile struct {
	Name        string `yaml:"name"`
	Description string `yaml:"description"`
	Author      string `yaml:"author"`
	Branding    struct {
		Icon  string `yaml:"icon"`
		Color string `yaml:"color"`
	} `yaml:"branding"`
	Inputs map[string]struct {
		Description string `yaml:"description"`
		Required    bool   `yaml:"required"`
		Default     string `yaml:"default"`
	} `yaml:"inputs"`
	Outputs map[string]struct {
		Description string `yaml:"description"`
		Value       string `yaml:"value"`
	} `yaml:"outputs"`
	Runs struct {
		Using string       `yaml:"using"`
		Steps []actionStep `yaml:"steps"`
	} `yaml:"runs"`
}

// TestActionAndWorkflow: the composite action is well formed, uses only
// inputs and step outputs that exist, and its scripts exist and parse; the
// nightly workflow uses it with inputs it declares.
func TestActionAndWorkflow(t *testing.T) {
	var a actionFile
	raw := decodeStrict(t, "action.yml", &a)
	if a.Name == "" || a.Description == "" || a.Runs.Using != "composite" || len(a.Runs.Steps) == 0 {
		t.Fatalf("action.yml: want a named composite action with steps: %+v", a)
	}
	ids := map[string]bool{}
	for i, s := range a.Runs.Steps {
		if s.Name == "" {
			t.Errorf("step %d has no name", i)
		}
		if (s.Run == "") == (s.Uses == "") {
			t.Errorf("step %q: exactly one of run and uses", s.Name)
		}
		if s.Run != "" && s.Shell == "" {
			t.Errorf("step %q: a composite run step needs shell", s.Name)
		}
		if s.Uses != "" && !regexp.MustCompile(`^[\w.-]+/[\w.-]+@v\d+$`).MatchString(s.Uses) {
			t.Errorf("step %q uses %q: pin owner/name@vN", s.Name, s.Uses)
		}
		if s.ID != "" {
			ids[s.ID] = true
		}
	}
	for _, m := range regexp.MustCompile(`inputs\.([\w-]+)`).FindAllSubmatch(raw, -1) {
		if _, ok := a.Inputs[string(m[1])]; !ok {
			t.Errorf("action.yml uses undeclared input %s", m[1])
		}
	}
	for _, m := range regexp.MustCompile(`steps\.([\w-]+)\.outputs\.([\w-]+)`).FindAllSubmatch(raw, -1) {
		if !ids[string(m[1])] {
			t.Errorf("action.yml reads outputs of unknown step %s", m[1])
		}
	}
	for name, in := range a.Inputs {
		if in.Description == "" {
			t.Errorf("input %s has no description", name)
		}
	}
	scripts := regexp.MustCompile(`\$GITHUB_ACTION_PATH/([\w./-]+)`).FindAllSubmatch(raw, -1)
	if len(scripts) == 0 {
		t.Error("action.yml runs none of its scripts")
	}
	for _, m := range scripts {
		p := filepath.Join(root, string(m[1]))
		st, err := os.Stat(p)
		if err != nil || st.Mode()&0o111 == 0 {
			t.Errorf("script %s: missing or not executable (%v)", m[1], err)
			continue
		}
		if out, err := exec.Command("bash", "-n", p).CombinedOutput(); err != nil {
			t.Errorf("bash -n %s: %v\n%s", m[1], err, out)
		}
	}

	// The nightly workflow runs the action of this checkout.
	var wf struct {
		Name        string            `yaml:"name"`
		On          yaml.Node         `yaml:"on"`
		Permissions map[string]string `yaml:"permissions"`
		Jobs        map[string]struct {
			RunsOn         string       `yaml:"runs-on"`
			TimeoutMinutes int          `yaml:"timeout-minutes"`
			Steps          []actionStep `yaml:"steps"`
		} `yaml:"jobs"`
	}
	decodeStrict(t, ".github/workflows/nightly.yml", &wf)
	used := 0
	for job, j := range wf.Jobs {
		for _, s := range j.Steps {
			if s.Uses != "./" {
				continue
			}
			used++
			for k := range s.With {
				if _, ok := a.Inputs[k]; !ok {
					t.Errorf("job %s passes %s, which action.yml does not declare", job, k)
				}
			}
			for k, in := range a.Inputs {
				if _, ok := s.With[k]; in.Required && !ok {
					t.Errorf("job %s does not pass the required input %s", job, k)
				}
			}
		}
	}
	if used == 0 {
		t.Error("nightly.yml does not use the action (uses: ./)")
	}
	if a.Inputs["junit"].Default == "true" && wf.Permissions["checks"] != "write" {
		t.Error("nightly.yml publishes JUnit results through the action but lacks permissions: checks: write")
	}
}

// TestInstallScript installs from a release served on loopback, as from
// GitHub: a version, latest, a corrupt archive (refused), a local binary.
func TestInstallScript(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("install.sh downloads with curl, which is not installed")
	}
	arch := map[string]string{"amd64": "amd64", "arm64": "arm64"}[runtime.GOARCH]
	if arch == "" {
		t.Skipf("no release for %s", runtime.GOARCH)
	}
	archive := "rwxchaos_linux_" + arch + ".tar.gz"
	good := tarGz(t, map[string]string{"rwxchaos": "#!/bin/sh\necho \"rwxchaos v9.9.9 $*\"\n", "README.md": "readme\n"})
	sum := fmt.Sprintf("%x  %s\n", sha256.Sum256(good), archive)
	var corrupt atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/download/v9.9.9/" + archive, "/latest/download/" + archive:
			if corrupt.Load() {
				w.Write(append(append([]byte{}, good...), 0))
				return
			}
			w.Write(good)
		case "/download/v9.9.9/checksums.txt", "/latest/download/checksums.txt":
			fmt.Fprint(w, sum)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	install := func(env ...string) (string, string, error) {
		dir := t.TempDir()
		cmd := exec.Command(filepath.Join(root, "hack/action/install.sh"))
		cmd.Env = append(os.Environ(), append([]string{"INSTALL_DIR=" + dir, "BASE_URL=" + srv.URL}, env...)...)
		out, err := cmd.CombinedOutput()
		return dir, string(out), err
	}
	for _, v := range []string{"v9.9.9", "latest"} {
		dir, out, err := install("VERSION=" + v)
		if err != nil || !strings.Contains(out, "rwxchaos v9.9.9 version") {
			t.Fatalf("VERSION=%s: %v\n%s", v, err, out)
		}
		if ents, _ := os.ReadDir(dir); len(ents) != 1 {
			t.Errorf("VERSION=%s installed %d files, want only rwxchaos", v, len(ents))
		}
	}
	corrupt.Store(true)
	dir, out, err := install("VERSION=v9.9.9")
	if err == nil || !strings.Contains(out, "checksum mismatch") {
		t.Fatalf("a corrupt archive was not refused: %v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(dir, "rwxchaos")); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("a corrupt archive was installed")
	}
	if _, out, err := install("VERSION=v1.0.0"); err == nil || !strings.Contains(out, "cannot download") {
		t.Fatalf("a missing release: %v\n%s", err, out)
	}
	if _, out, err := install("VERSION=1.2"); err == nil || !strings.Contains(out, "neither vX.Y.Z nor latest") {
		t.Fatalf("a bad version: %v\n%s", err, out)
	}
	bin := filepath.Join(t.TempDir(), "mine")
	if err := os.WriteFile(bin, []byte("#!/bin/sh\necho \"rwxchaos mine $*\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, out, err := install("BINARY=" + bin); err != nil || !strings.Contains(out, "rwxchaos mine version") {
		t.Fatalf("BINARY: %v\n%s", err, out)
	}
}

func tarGz(t *testing.T, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for name, body := range files {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o755, Size: int64(len(body))}); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(body))
	}
	tw.Close()
	zw.Close()
	return buf.Bytes()
}

// fakeRwxchaos answers `list --select S --names` with the names of a small
// library (cmd/rwxchaos's TestListSelect checks the real selection) and
// `run NAME... --report-dir DIR [--seed N]` as the real one does, each
// scenario with the result its name asks for (ok-* pass, bad-* fail,
// others not judged): one scenario writes its report's summary.md and
// exits with its code; several print a line each and the counts
// (cmd/rwxchaos's TestRunSeveral checks the real form), append an index to
// $GITHUB_STEP_SUMMARY and exit with the worst code.
const fakeRwxchaos = `#!/bin/sh
echo "$*" >> "$FAKE_LOG"
case "$1" in
list)
  [ "$2" = --select ] && [ "$4" = --names ] || { echo "fake: list $*" >&2; exit 2; }
  case "$3" in
  provider=local) echo ok-local ;;
  provider=kind) echo ok-kind; echo bad-kind ;;
  provider=kind,set=nightly) echo ok-kind ;;
  *) echo "rwxchaos: no scenario matches --select $3" >&2; exit 2 ;;
  esac
  exit 0 ;;
run)
  shift
  names="" dir=""
  while [ $# -gt 0 ]; do
    case "$1" in
    --report-dir) dir=$2; shift 2 ;;
    --seed) shift 2 ;;
    -*) echo "fake: run: unknown flag $1" >&2; exit 2 ;;
    *) names="$names $1"; shift ;;
    esac
  done
  n=0 p=0 f=0 u=0
  for name in $names; do
    n=$((n + 1))
    case "$name" in
    refused-*) echo "rwxchaos: $name: invalid scenario" >&2; exit 2 ;;
    esac
  done
  for name in $names; do
    mkdir -p "$dir/$name/r1" && echo "## $name" > "$dir/$name/r1/summary.md"
    case "$name" in
    ok-*) p=$((p + 1)); [ $n -gt 1 ] && echo "pass      $name: $dir/$name/r1/report.html" ;;
    bad-*) f=$((f + 1)); [ $n -gt 1 ] && echo "FAIL      $name: verdict: fail — an expectation did not hold ($dir/$name/r1/report.html)" ;;
    *) u=$((u + 1)); [ $n -gt 1 ] && echo "unjudged  $name: verdict: void — no steady state" ;;
    esac
  done
  if [ $n -gt 1 ]; then
    echo "| index of$names |" >> "$GITHUB_STEP_SUMMARY"
    echo "$n scenarios: $p passed, $f failed, $u not judged"
  fi
  [ $f -gt 0 ] && exit 1
  [ $u -gt 0 ] && exit 3
  exit 0 ;;
esac
exit 2
`

// TestRunScript runs the action's scenario loop against a fake rwxchaos:
// provider selection, every scenario run despite failures, the worst exit
// code, the step outputs and the job summary.
func TestRunScript(t *testing.T) {
	bindir := t.TempDir()
	if err := os.WriteFile(filepath.Join(bindir, "rwxchaos"), []byte(fakeRwxchaos), 0o755); err != nil {
		t.Fatal(err)
	}
	fakeSudo := "#!/bin/sh\necho \"sudo $*\" >> \"$FAKE_LOG\"\n[ \"$1\" = -E ] && shift\nexec \"$@\"\n"
	if err := os.WriteFile(filepath.Join(bindir, "sudo"), []byte(fakeSudo), 0o755); err != nil {
		t.Fatal(err)
	}
	var stdout string // the script's output in the last run
	run := func(scenarios string, env ...string) (code int, log, outputs, summary string) {
		dir := t.TempDir()
		script, _ := filepath.Abs(filepath.Join(root, "hack/action/run.sh"))
		cmd := exec.Command(script)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "PATH="+bindir+string(os.PathListSeparator)+os.Getenv("PATH"),
			"FAKE_LOG="+filepath.Join(dir, "calls"), "SCENARIOS="+scenarios, "ARGS=--seed 7",
			"GITHUB_OUTPUT="+filepath.Join(dir, "out"), "GITHUB_STEP_SUMMARY="+filepath.Join(dir, "summary"))
		cmd.Env = append(cmd.Env, env...)
		out, err := cmd.CombinedOutput()
		stdout = string(out)
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		b1, _ := os.ReadFile(filepath.Join(dir, "calls"))
		b2, _ := os.ReadFile(filepath.Join(dir, "out"))
		b3, _ := os.ReadFile(filepath.Join(dir, "summary"))
		return code, string(b1), string(b2), string(b3)
	}
	code, log, outputs, summary := run("ok-local\nprovider=kind void-x.yaml")
	if code != 1 {
		t.Errorf("a failed scenario: exit %d, want 1", code)
	}
	// Several scenarios: one rwxchaos run (one shared kind cluster).
	if want := "run ok-local ok-kind bad-kind void-x.yaml --report-dir reports --seed 7"; !strings.Contains(log, want) || strings.Count(log, "run ") != 1 {
		t.Errorf("rwxchaos was not called once with %q; calls:\n%s", want, log)
	}
	for _, want := range []string{"exit-code=1", "passed=2", "failed=1", "unjudged=1"} {
		if !strings.Contains(outputs, want) {
			t.Errorf("outputs lack %s:\n%s", want, outputs)
		}
	}
	for _, want := range []string{"::error title=rwxchaos bad-kind::an expectation failed: verdict: fail",
		"::error title=rwxchaos void-x.yaml::could not be judged: verdict: void"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("no annotation %q:\n%s", want, stdout)
		}
	}
	if !strings.Contains(summary, "| index of ok-local ok-kind bad-kind void-x.yaml |") || strings.Contains(summary, "## ") {
		t.Errorf("job summary: want rwxchaos's index only:\n%s", summary)
	}
	if code, _, outputs, _ := run("ok-local void-y"); code != 3 || !strings.Contains(outputs, "exit-code=3") || !strings.Contains(outputs, "unjudged=1") {
		t.Errorf("an unjudged scenario: exit %d, outputs %s", code, outputs)
	}
	if code, _, outputs, _ := run("ok-local provider=local"); code != 0 || !strings.Contains(outputs, "passed=2") {
		t.Errorf("all passing: exit %d, outputs %s", code, outputs)
	}
	if code, _, outputs, _ := run("ok-local refused-x"); code != 2 || !strings.Contains(outputs, "exit-code=2") {
		t.Errorf("scenarios rwxchaos refuses: exit %d, outputs %s; want 2", code, outputs)
	}
	if code, _, _, _ := run("provider=existing"); code != 2 {
		t.Errorf("a provider with no scenarios: exit %d, want 2", code)
	}
	// One scenario: its own run, its summary in the job summary.
	code, log, outputs, summary = run("bad-one")
	if code != 1 || !strings.Contains(log, "run bad-one --report-dir reports --seed 7") || !strings.Contains(outputs, "failed=1") || !strings.Contains(summary, "## bad-one") {
		t.Errorf("one failing scenario: exit %d, outputs %s, summary %q, calls:\n%s", code, outputs, summary, log)
	}
	code, log, outputs, _ = run("provider=kind,set=nightly")
	if code != 0 || !strings.Contains(log, "list --select provider=kind,set=nightly --names") ||
		!strings.Contains(log, "run ok-kind ") || strings.Contains(log, "run bad-kind") || !strings.Contains(outputs, "passed=1") {
		t.Errorf("a selection of several conditions: exit %d, outputs %s, calls:\n%s", code, outputs, log)
	}
	if code, log, _, _ := run("ok-local", "SUDO=yes"); code != 2 || log != "" {
		t.Errorf("SUDO=yes: exit %d, calls %q; want 2 and nothing run", code, log)
	}
	// SUDO=true: every run goes through sudo (a fake one here, first on
	// PATH, that logs and runs the command), with the caller's PATH.
	if code, log, _, _ := run("ok-local", "SUDO=true"); code != 0 || !strings.Contains(log, "sudo -E env PATH="+bindir) ||
		!strings.Contains(log, "run ok-local --report-dir reports --seed 7") {
		t.Errorf("SUDO=true: exit %d, calls %q", code, log)
	}
}

// TestReleaseImage builds the release Dockerfile around a static rwxchaos
// as goreleaser lays out its context, and runs it: `version`, and the app
// as the providers start it (`rwxchaos __pipeline`).
func TestReleaseImage(t *testing.T) {
	if testing.Short() {
		t.Skip("builds rwxchaos and an image")
	}
	if err := exec.Command("docker", "info").Run(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("docker is not reachable under CI=true: %v", err)
		}
		t.Skip("no docker daemon")
	}
	ctx := t.TempDir()
	platform := "linux/" + runtime.GOARCH
	bin := filepath.Join(ctx, platform, "rwxchaos")
	build := exec.Command("go", "build", "-trimpath", "-o", bin, "./cmd/rwxchaos")
	build.Dir = root
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	ref := "rwxchaos.local/release-test:" + fmt.Sprint(os.Getpid())
	df, _ := filepath.Abs(filepath.Join(root, "hack/release/Dockerfile"))
	if out, err := exec.Command("docker", "build", "-q", "-f", df, "--build-arg", "TARGETPLATFORM="+platform, "-t", ref, ctx).CombinedOutput(); err != nil {
		t.Fatalf("docker build: %v\n%s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("docker", "image", "rm", "-f", ref).Run() })
	for args, want := range map[string]string{"": "rwxchaos ", "__pipeline help": "Subcommands:"} {
		out, err := exec.Command("docker", append([]string{"run", "--rm", "--network", "none", ref}, strings.Fields(args)...)...).CombinedOutput()
		if err != nil || !strings.Contains(string(out), want) {
			t.Errorf("docker run %s %s: %v\n%s", ref, args, err, out)
		}
	}
}
