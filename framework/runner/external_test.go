package runner

import (
	"context"
	"errors"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rwxchaos/rwxchaos/framework/check"
	"github.com/rwxchaos/rwxchaos/framework/fault"
	"github.com/rwxchaos/rwxchaos/framework/filedrop"
	"github.com/rwxchaos/rwxchaos/framework/history"
	"github.com/rwxchaos/rwxchaos/framework/provider"
	"github.com/rwxchaos/rwxchaos/framework/report"
	"github.com/rwxchaos/rwxchaos/framework/scenario"
)

// moverEnv is an external app seen from outside, as the kind provider sees
// one, with no cluster: a goroutine moves in/ to out/ (twice per input
// when dup is set), the runner feeds it through filedrop.
type moverEnv struct {
	root string
	dup  bool
	dir  filedrop.Dir
	drop *filedrop.Adapter
	srv  *http.Server
	url  string
	stop context.CancelFunc
	done chan struct{}
}

func (m *moverEnv) Name() string                        { return "kind" }
func (m *moverEnv) Provision(ctx context.Context) error { return nil }
func (m *moverEnv) Endpoints() []string                 { return []string{m.url} }
func (m *moverEnv) Fault(context.Context, scenario.FaultSpec, *rand.Rand) ([]fault.Fault, error) {
	return nil, errors.New("no faults here")
}

func (m *moverEnv) Deploy(ctx context.Context) error {
	m.dir = filedrop.Dir{Root: m.root, InputPath: "in"}
	var err error
	if m.drop, err = filedrop.New(filedrop.Options{InputPath: "in", OutputPath: "out", Match: filedrop.MatchFilename, Sink: m.dir}); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	m.srv = &http.Server{Handler: m.drop}
	go func() { _ = m.srv.Serve(ln) }()
	m.url = "http://" + ln.Addr().String()
	actx, cancel := context.WithCancel(context.Background())
	m.stop, m.done = cancel, make(chan struct{})
	go m.app(actx)
	return nil
}

func (m *moverEnv) app(ctx context.Context) {
	defer close(m.done)
	in, out := filepath.Join(m.root, "in"), filepath.Join(m.root, "out")
	_ = os.MkdirAll(out, 0o755)
	for ctx.Err() == nil {
		ents, _ := os.ReadDir(in)
		for _, e := range ents {
			data, err := os.ReadFile(filepath.Join(in, e.Name()))
			if err != nil {
				continue
			}
			stem, _, _ := strings.Cut(e.Name(), ".")
			n := 1
			if m.dup {
				n = 2
			}
			for i := range n {
				_ = os.WriteFile(filepath.Join(out, stem+".mover."+string(rune('a'+i))+".edi"), data, 0o644)
			}
			_ = os.Remove(filepath.Join(in, e.Name()))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (m *moverEnv) Drain(ctx context.Context, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if n, err := m.dir.Pending(); err == nil && n == 0 {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return nil
}

func (m *moverEnv) Collect(ctx context.Context, dir string) (*history.History, provider.Observations, error) {
	obs := provider.Observations{Coverage: []report.Coverage{
		{Check: "ledger", Applied: true, Evidence: "outputs matched by file name"},
		{Check: "lock-safety", Applied: false, Evidence: "not possible: no journal", Needs: "a journal"},
	}}
	h, err := m.drop.Collect(ctx, m.dir, dir)
	return h, obs, err
}

func (m *moverEnv) Teardown(context.Context) error {
	if m.stop != nil {
		m.stop()
		<-m.done
	}
	if m.srv != nil {
		return m.srv.Close()
	}
	return nil
}

const externalScenario = `apiVersion: rwxchaos.dev/v1alpha1
kind: Scenario
metadata: {name: ext}
cluster: {provider: kind}
workload:
  mode: external
  namespace: app
  external:
    manifests: [app]
    pvc: data
    inputPath: in
    outputPath: out
    match: filename
  traffic: {count: 40, rate: 200}
expect:
  steadyState: {within: 20s}
run: {timeout: 1m, settle: 10s, seed: 7}
`

// The runner judges an external app from outside: uploads and output
// files only, and the report carries what the environment could check.
func TestExternalAppThroughTheRunner(t *testing.T) {
	for _, tc := range []struct {
		dup     bool
		verdict report.Verdict
	}{{false, report.VerdictPass}, {true, report.VerdictFail}} {
		s, err := scenario.Parse("ext.yaml", []byte(externalScenario))
		if err != nil {
			t.Fatal(err)
		}
		env := &moverEnv{root: t.TempDir(), dup: tc.dup}
		out, err := Run(context.Background(), Options{Scenario: s, ReportDir: t.TempDir(),
			Providers: provider.Set{scenario.ProviderKind: func(provider.Config) (provider.Env, error) { return env, nil }}})
		if err != nil {
			t.Fatalf("dup=%v: %v", tc.dup, err)
		}
		r := out.Run
		if r.Verdict != tc.verdict {
			t.Fatalf("dup=%v: verdict %s (%s), want %s", tc.dup, r.Verdict, r.Reason, tc.verdict)
		}
		if tc.dup && r.Check.Classes[check.ClassDuplicated] != 40 {
			t.Errorf("duplicated %d, want 40 (classes %v)", r.Check.Classes[check.ClassDuplicated], r.Check.Classes)
		}
		if !tc.dup && r.Check.Classes[check.ClassOK] != 40 {
			t.Errorf("ok %d, want 40 (classes %v)", r.Check.Classes[check.ClassOK], r.Check.Classes)
		}
		if len(r.Coverage) != 2 || r.Coverage[1].Applied {
			t.Errorf("coverage not carried into the report: %+v", r.Coverage)
		}
		saved, err := report.LoadRun(out.Dir)
		if err != nil || len(saved.Coverage) != 2 {
			t.Errorf("coverage not in result.json: %v %+v", err, saved)
		}
		md, err := os.ReadFile(filepath.Join(out.Dir, report.SummaryFile))
		if err != nil || !strings.Contains(string(md), "| no | lock-safety | not possible: no journal | a journal |") {
			t.Errorf("summary.md lacks the coverage table: %v", err)
		}
	}
}
