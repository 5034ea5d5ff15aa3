package scenario

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const libraryDir = "../../scenarios/library"

// The scenarios the library promises; others may be added freely.
var libraryNames = []string{
	"engine-killed-mid-run", "webserver-replica-killed", "jobqueue-restarted-during-job", "engine-paused-past-lease",
	"node-kill-engine-node", "partition-engine-node-from-control-plane", "worker-paused-past-tolerations",
	"rolling-worker-restart", "two-nodes-killed",
	"storage-paused-30s", "storage-paused-120s", "storage-restarted", "node-cut-off-from-storage",
	"pre-upgrade-drill",
}

// Every file in scenarios/library is a valid scenario named after its
// file, says what it tests, points editors at the schema, and (for
// provider local) is short enough to run in well under a minute.
func TestLibrary(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(libraryDir, "*"))
	if err != nil {
		t.Fatal(err)
	}
	all, err := LoadDir(libraryDir)
	var list ErrorList
	if err != nil && !(errors.As(err, &list) && list.Unsupported()) {
		t.Errorf("LoadDir(%s):\n%v", libraryDir, err)
	}
	have := map[string]bool{}
	for _, path := range files {
		name := filepath.Base(path)
		if name == "README.md" {
			continue
		}
		t.Run(name, func(t *testing.T) {
			if filepath.Ext(name) != ".yaml" {
				t.Fatalf("%s: library files must end in .yaml", name)
			}
			base := strings.TrimSuffix(name, ".yaml")
			have[base] = true
			data, _ := os.ReadFile(path)
			s, err := Load(path)
			var list ErrorList
			if errors.As(err, &list) && list.Unsupported() {
				// Well-formed, but no provider runs it yet: the library
				// README (generated from the support table) says why.
				t.Logf("cannot run yet:\n%v", err)
				err = nil
			}
			if err != nil {
				t.Fatalf("invalid scenario:\n%v", err)
			}
			if s.Metadata.Name != base {
				t.Errorf("metadata.name %q differs from the file name %q", s.Metadata.Name, base)
			}
			if len(strings.Fields(s.Metadata.Description)) < 20 {
				t.Errorf("description is too short; say what the scenario tests and why it matters")
			}
			if s.Metadata.Labels["provider"] != string(s.Cluster.Provider) {
				t.Errorf("label provider=%q, cluster.provider is %q", s.Metadata.Labels["provider"], s.Cluster.Provider)
			}
			if len(s.Faults) == 0 {
				t.Errorf("a library scenario should inject at least one fault")
			}
			if !strings.HasPrefix(string(data), "# yaml-language-server: $schema=../../framework/scenario/scenario.schema.json\n") {
				t.Errorf("first line must point editors at the schema")
			}
			if s.Cluster.Provider == ProviderLocal && s.Workload.Mode == ModePublishConsume {
				if d := s.WorkDuration(); d < 5*time.Second || d > 20*time.Second {
					t.Errorf("local publish/consume scenario publishes for %s; keep 5-20s", d)
				}
				if s.Run.Timeout.D() > localTimeoutMax {
					t.Errorf("local scenario timeout %s; keep it at most %s", s.Run.Timeout, localTimeoutMax)
				}
			} else if s.Cluster.Provider == ProviderLocal {
				tr := s.Workload.Traffic
				if tr.Count < 200 || tr.Count > 400 {
					t.Errorf("local scenario sends %d messages; keep 200-400", tr.Count)
				}
				if s.Run.Timeout.D() > localTimeoutMax {
					t.Errorf("local scenario timeout %s; keep it at most %s", s.Run.Timeout, localTimeoutMax)
				}
				if d, ok := s.Workload.Engine.Interval(); !ok || d > time.Second {
					t.Errorf("local engine schedule %q; run it every 1s or more often", s.Workload.Engine.Schedule)
				}
				if s.Workload.Engine.LeaseTTL.D() > 3*time.Second {
					t.Errorf("local leaseTTL %s; keep it at most 3s", s.Workload.Engine.LeaseTTL)
				}
			}
		})
	}
	if len(all)+cannotRun(t) != len(have) {
		t.Errorf("LoadDir loaded %d scenarios, the directory holds %d", len(all), len(have))
	}
	for _, n := range libraryNames {
		if !have[n] {
			t.Errorf("library scenario %s.yaml is missing", n)
		}
	}
}

// cannotRun counts the library files that are well-formed but refused by
// the support table.
func cannotRun(t *testing.T) int {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(libraryDir, "*.yaml"))
	n := 0
	for _, f := range files {
		var list ErrorList
		if _, err := Load(f); errors.As(err, &list) && list.Unsupported() {
			n++
		}
	}
	return n
}

// localTimeoutMax bounds a local scenario's run.timeout. Settle and the
// timeout are upper bounds (a healthy run ends as soon as it has drained,
// in 10-20 s); CI12 showed a loaded 2-core CI machine, -race and two suites
// at once, draining 300 uploads at 7/s, so the bounds leave room for that.
const localTimeoutMax = 2 * time.Minute
