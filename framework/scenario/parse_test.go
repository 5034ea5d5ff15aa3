package scenario

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the # want: headers of testdata/invalid and the golden schema")

const wantPrefix = "# want: "

// splitHeader separates the leading "# want:" lines of an invalid test
// file from the rest (other comment lines stay in the body).
func splitHeader(data string) (wants []string, body string) {
	lines := strings.SplitAfter(data, "\n")
	var keep []string
	inHeader := true
	for _, l := range lines {
		if inHeader && strings.HasPrefix(l, "#") {
			if w, ok := strings.CutPrefix(strings.TrimRight(l, "\n"), wantPrefix); ok {
				wants = append(wants, w)
				continue
			}
			keep = append(keep, l)
			continue
		}
		inHeader = false
		keep = append(keep, l)
	}
	return wants, strings.Join(keep, "")
}

// errorLines formats err as the file's want lines: "line:col: path: msg"
// without the file name.
func errorLines(t *testing.T, name string, err error) []string {
	t.Helper()
	var list ErrorList
	if !errors.As(err, &list) {
		t.Fatalf("%s: error is %T, want ErrorList: %v", name, err, err)
	}
	var out []string
	for _, e := range list {
		if e.File != name {
			t.Errorf("%s: FieldError.File = %q", name, e.File)
		}
		out = append(out, strings.TrimPrefix(strings.TrimPrefix(e.Error(), name), ":")[0:])
	}
	for i := range out {
		out[i] = strings.TrimSpace(out[i])
	}
	return out
}

// insertWants puts want lines right after the leading description
// comments; the body must then be re-parsed, since the want lines shift
// every position by their count.
func insertWants(body string, wants []string) string {
	lines := strings.SplitAfter(body, "\n")
	i := 0
	for i < len(lines) && strings.HasPrefix(lines[i], "#") && !strings.HasPrefix(lines[i], "# yaml-language-server") {
		i++
	}
	var b strings.Builder
	for _, l := range lines[:i] {
		b.WriteString(l)
	}
	for _, w := range wants {
		b.WriteString(wantPrefix + w + "\n")
	}
	for _, l := range lines[i:] {
		b.WriteString(l)
	}
	return b.String()
}

func TestInvalid(t *testing.T) {
	files, err := filepath.Glob("testdata/invalid/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 35 {
		t.Errorf("only %d invalid test files; keep at least 35", len(files))
	}
	for _, path := range files {
		name := filepath.Base(path)
		t.Run(strings.TrimSuffix(name, ".yaml"), func(t *testing.T) {
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			wants, body := splitHeader(string(data))
			if *update {
				// Converge: the number of want lines shifts positions.
				n := -1
				var got []string
				for range 5 {
					placeholder := insertWants(body, make([]string, max(n, 0)))
					_, err := Parse(name, []byte(placeholder))
					if err == nil {
						t.Fatalf("%s parses without error", name)
					}
					got = errorLines(t, name, err)
					if len(got) == n {
						break
					}
					n = len(got)
				}
				if err := os.WriteFile(path, []byte(insertWants(body, got)), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			if len(wants) == 0 {
				t.Fatalf("%s has no %q header lines", name, wantPrefix)
			}
			s, err := Parse(name, data)
			if err == nil {
				t.Fatalf("Parse succeeded, want errors:\n%s", strings.Join(wants, "\n"))
			}
			var list ErrorList
			if s != nil && !(errors.As(err, &list) && list.Unsupported()) {
				t.Errorf("Parse returned a Scenario along with errors")
			}
			got := errorLines(t, name, err)
			if strings.Join(got, "\n") != strings.Join(wants, "\n") {
				t.Errorf("errors differ\ngot:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(wants, "\n"))
			}
		})
	}
}

func validFiles(t testing.TB) []string {
	t.Helper()
	var out []string
	for _, pattern := range []string{"testdata/valid/*.yaml", "../../scenarios/library/*.yaml"} {
		m, err := filepath.Glob(pattern)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, m...)
	}
	return out
}

const cannotRunPrefix = "# cannot-run: "

// TestValid: every file in testdata/valid parses. A file may set features
// that no provider can run yet (the support table refuses them); it lists
// them as "# cannot-run: path" lines, and must then fail with exactly
// those refusals and nothing else.
func TestValid(t *testing.T) {
	files, _ := filepath.Glob("testdata/valid/*.yaml")
	if len(files) < 3 {
		t.Fatalf("only %d valid test files", len(files))
	}
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			var cannot []string
			for _, l := range strings.Split(string(data), "\n") {
				if c, ok := strings.CutPrefix(l, cannotRunPrefix); ok {
					cannot = append(cannot, c)
				}
			}
			s, err := Load(path)
			if len(cannot) > 0 {
				var list ErrorList
				if !errors.As(err, &list) || !list.Unsupported() {
					t.Fatalf("Load: want only support-table refusals at %v, got %v", cannot, err)
				}
				var got []string
				for _, e := range list {
					got = append(got, e.Path)
				}
				if strings.Join(got, " ") != strings.Join(cannot, " ") {
					t.Errorf("refused %v, the file says %v\n%v", got, cannot, err)
				}
				if s == nil {
					t.Fatalf("Parse returned no Scenario with only support refusals")
				}
				if _, err := parse(path, data, false); err != nil {
					t.Fatalf("parse without the support table: %v", err)
				}
			} else if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if s.File() != path {
				t.Errorf("File() = %q, want %q", s.File(), path)
			}
			// Default and Validate are idempotent on a parsed scenario.
			before := *s
			s.Default()
			if !reflect.DeepEqual(before, *s) {
				t.Errorf("Default changed a parsed scenario")
			}
			var list ErrorList
			if err := s.Validate(); err != nil && (len(cannot) == 0 || !errors.As(err, &list) || !list.Unsupported()) {
				t.Errorf("Validate after Parse: %v", err)
			}
		})
	}
}

func TestDefaultsLocal(t *testing.T) {
	s, err := Parse("min.yaml", []byte(`apiVersion: rwxchaos.dev/v1alpha1
kind: Scenario
metadata: {name: minimal}
cluster: {provider: local}
faults:
  - name: kill
    action: process-kill
    target: {role: webserver}
`))
	if err != nil {
		t.Fatal(err)
	}
	check := func(name string, got, want any) {
		t.Helper()
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	check("backend", s.Storage.Backend, BackendLocal)
	check("mode", s.Workload.Mode, ModePipeline)
	check("namespace", s.Workload.Namespace, "")
	check("webservers", s.Workload.Replicas.Webserver, 3)
	check("jobqueues", *s.Workload.Replicas.Jobqueue, 1)
	check("schedule", s.Workload.Engine.Schedule, "every 1s")
	check("leaseTTL", s.Workload.Engine.LeaseTTL.D(), 3*time.Second)
	check("heartbeat", s.Workload.Engine.Heartbeat.D(), time.Second)
	check("mix", s.Workload.Traffic.Mix, Mix{X12: 50, Edifact: 50})
	check("routes", s.Workload.Traffic.Routes, []string{"default"})
	check("fault after", s.Faults[0].Schedule.After, SteadyStateAfter)
	check("fault count", s.Faults[0].Target.Count, 1)
	check("noLoss", *s.Expect.NoLoss, true)
	check("lockExclusive", *s.Expect.LockExclusive, true)
	check("lockRecoveredWithin", s.Expect.LockRecoveredWithin.D(), 7*time.Second)
	check("rescheduledWithin", s.Expect.RescheduledWithin.D(), time.Duration(0))
	check("minUploads", s.Expect.SteadyState.MinUploads, 10)
	check("timeout", s.Run.Timeout.D(), time.Minute)
	check("timings", s.Cluster.Timings, Timings{})
	if d, ok := s.Workload.Engine.Interval(); !ok || d != time.Second {
		t.Errorf("Interval() = %v, %v", d, ok)
	}
	if _, ok := s.Workload.Engine.Cron(); ok {
		t.Errorf("Cron() ok for an interval schedule")
	}
	if line, col, ok := s.Position("faults[0].target.role"); !ok || line != 8 || col != 20 {
		t.Errorf("Position = %d:%d %v, want 8:20", line, col, ok)
	}
}

func TestDefaultsKind(t *testing.T) {
	s, err := Parse("kind.yaml", []byte(`apiVersion: rwxchaos.dev/v1alpha1
kind: Scenario
metadata: {name: kind-defaults}
cluster: {provider: kind}
`))
	if err != nil {
		t.Fatal(err)
	}
	if got := s.NodeNames(); !reflect.DeepEqual(got, []string{"control-plane", "worker-1", "worker-2", "worker-3"}) {
		t.Errorf("NodeNames() = %v", got)
	}
	if s.Storage.Backend != BackendHostPath || s.Workload.Namespace != DefaultNamespace || s.Workload.Engine.Schedule != "* * * * *" {
		t.Errorf("kind defaults: backend %s, namespace %s, schedule %s", s.Storage.Backend, s.Workload.Namespace, s.Workload.Engine.Schedule)
	}
	if got := s.Expect.RescheduledWithin.D(); got != 20*time.Second+30*time.Second+time.Minute {
		t.Errorf("rescheduledWithin = %v", got)
	}
	if got := *s.Cluster.Timings.UnreachableTolerationSeconds; got != 30 {
		t.Errorf("unreachableTolerationSeconds = %d", got)
	}
}

func TestValidateProgrammatic(t *testing.T) {
	s := &Scenario{
		Metadata: Metadata{Name: "go-built"},
		Cluster:  ClusterSpec{Provider: ProviderLocal},
		Faults:   []FaultSpec{{Name: "n", Action: ActionNodeKill, Target: TargetSpec{Node: "x"}}},
	}
	s.Default()
	err := s.Validate()
	if err == nil {
		t.Fatal("Validate accepted node-kill on provider local")
	}
	want := "faults[0].action: node-kill cannot run on provider local: provider local runs processes on one host and has no nodes: use provider kind"
	if err.Error() != want {
		t.Errorf("got  %q\nwant %q", err.Error(), want)
	}
}

func TestResolveSeed(t *testing.T) {
	s := &Scenario{}
	seed := s.ResolveSeed()
	if seed == 0 || s.Run.Seed != seed || s.ResolveSeed() != seed {
		t.Errorf("ResolveSeed: %d, stored %d", seed, s.Run.Seed)
	}
	s = &Scenario{Run: RunSpec{Seed: 42}}
	if s.ResolveSeed() != 42 {
		t.Errorf("ResolveSeed changed a set seed")
	}
}

func TestDurationText(t *testing.T) {
	for in, want := range map[string]string{"1m30s": "1m30s", "1500ms": "1.5s", "0s": "0s"} {
		var d Duration
		if err := d.UnmarshalText([]byte(in)); err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		b, _ := d.MarshalText()
		if string(b) != want {
			t.Errorf("%s -> %s, want %s", in, b, want)
		}
		j, _ := d.MarshalJSON()
		var back Duration
		if err := back.UnmarshalJSON(j); err != nil || back != d {
			t.Errorf("JSON round trip of %s: %v %v", in, back, err)
		}
	}
	var d Duration
	for _, bad := range []string{"", "5", "-1s", "1d"} {
		if err := d.UnmarshalText([]byte(bad)); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestErrorListFormat(t *testing.T) {
	l := ErrorList{
		{File: "a.yaml", Line: 3, Column: 5, Path: "x.y", Msg: "bad"},
		{File: "a.yaml", Line: 7, Msg: "YAML syntax error: oops"},
		{File: "a.yaml", Msg: "file is empty"},
		{Path: "z", Msg: "no file"},
	}
	want := "a.yaml:3:5: x.y: bad\na.yaml:7: YAML syntax error: oops\na.yaml: file is empty\nz: no file"
	if l.Error() != want {
		t.Errorf("got\n%s\nwant\n%s", l.Error(), want)
	}
	var fe *FieldError
	if !errors.As(error(l), &fe) || fe.Path != "x.y" {
		t.Errorf("errors.As did not find the first FieldError")
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load("testdata/does-not-exist.yaml")
	if err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load of a missing file: %v", err)
	}
}

func TestLoadDirReportsEveryFile(t *testing.T) {
	dir := t.TempDir()
	good := "apiVersion: rwxchaos.dev/v1alpha1\nkind: Scenario\nmetadata: {name: same}\ncluster: {provider: local}\n"
	for name, body := range map[string]string{
		"a.yaml":    good,
		"b.yml":     good,
		"c.yaml":    "kind: Scenario\n",
		"notes.txt": "ignored",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := LoadDir(dir)
	if len(got) != 2 {
		t.Errorf("loaded %d scenarios, want 2", len(got))
	}
	var list ErrorList
	if !errors.As(err, &list) {
		t.Fatalf("err = %v, want ErrorList", err)
	}
	text := err.Error()
	for _, want := range []string{
		filepath.Join(dir, "b.yml") + `:3:18: metadata.name: scenario name "same" is already used by ` + filepath.Join(dir, "a.yaml"),
		filepath.Join(dir, "c.yaml") + ":1:1: apiVersion: is required but missing",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("missing %q in\n%s", want, text)
		}
	}
}

func TestDefaultsExisting(t *testing.T) {
	s, err := Parse("existing.yaml", []byte(`apiVersion: rwxchaos.dev/v1alpha1
kind: Scenario
metadata: {name: existing-defaults}
cluster:
  provider: existing
  existing: {namespaces: [rwxchaos]}
storage: {storageClassName: nfs-client}
`))
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Expect.RescheduledWithin.D(); got != 50*time.Second+300*time.Second+time.Minute {
		t.Errorf("rescheduledWithin = %v, want Kubernetes defaults (50s + 300s) + 1m", got)
	}
	if s.Storage.Backend != BackendStorageClass || s.Workload.Namespace != DefaultNamespace || s.NodeNames() != nil {
		t.Errorf("existing defaults: backend %s, namespace %s, nodes %v", s.Storage.Backend, s.Workload.Namespace, s.NodeNames())
	}
}

func TestDefaultsPublishConsume(t *testing.T) {
	parse := func(provider string) *Scenario {
		t.Helper()
		s, err := Parse("pub.yaml", []byte(`apiVersion: rwxchaos.dev/v1alpha1
kind: Scenario
metadata: {name: pub}
cluster: {provider: `+provider+`}
workload: {mode: publish-consume}
`))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	check := func(name string, got, want any) {
		t.Helper()
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	s := parse("local")
	check("publish", s.Workload.Publish, PublishSpec{Files: 4, Size: 16384, Rate: 5, Versions: 100, Consumers: 3, LoadRate: 10})
	check("traffic", s.Workload.Traffic, TrafficSpec{})
	check("engine", s.Workload.Engine, EngineSpec{})
	check("replicas", s.Workload.Replicas, Replicas{})
	check("noLoss", s.Expect.NoLoss, (*bool)(nil))
	check("lockExclusive", *s.Expect.LockExclusive, false)
	check("lockRecoveredWithin", s.Expect.LockRecoveredWithin, Duration(0))
	check("minUploads", s.Expect.SteadyState.MinUploads, 0)
	check("minVersions", s.Expect.SteadyState.MinVersions, 3)
	check("monotonic", *s.Expect.Publish.Monotonic, true)
	check("convergedWithin", s.Expect.Publish.ConvergedWithin.D(), 30*time.Second)
	check("maxLoadErrors", s.Expect.Publish.MaxLoadErrors, (*int)(nil))
	check("work", s.WorkDuration(), 20*time.Second)
	k := parse("kind")
	check("kind consumers", k.Workload.Publish.Consumers, 0)
	check("kind namespace", k.Workload.Namespace, "")
	check("kind convergedWithin", k.Expect.Publish.ConvergedWithin.D(), 2*time.Minute)
	// Defaulting twice changes nothing.
	before := *s
	s.Default()
	check("idempotent", s.Workload, before.Workload)
}
