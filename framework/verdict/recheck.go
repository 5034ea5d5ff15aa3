package verdict

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/rwxchaos/rwxchaos/framework/history"
	"github.com/rwxchaos/rwxchaos/framework/report"
	"github.com/rwxchaos/rwxchaos/framework/scenario"
)

// JournalsDir is where the runner keeps its own journals (runner, client,
// provider) inside a run directory while the run goes on.
const JournalsDir = "journals"

// Saved is a run directory as found on disk.
type Saved struct {
	Dir string
	// Run is result.json, or a minimal record when there is none.
	Run *report.Run
	// History is history.ndjson (+ snapshot.json), or what the journals in
	// journals/ hold when the run stopped before collecting; nil if none.
	History *history.History
	// Incomplete says what is missing, "" for a whole run directory.
	Incomplete string
}

// Load reads a run directory for a re-check, whatever state it is in: a
// whole run (result.json + history), a bare history (history.ndjson, and
// optionally snapshot.json: hand-written, or copied from elsewhere), or the
// partial directory of a run that was killed (journals/ only). What is
// missing is said in Incomplete; the error is only for a directory with no
// evidence at all, or one that cannot be read.
func Load(dir string) (*Saved, error) {
	return load(dir, -1)
}

// LoadStreamed is Load for a re-check: a saved history of at least
// minBytes is streamed from disk on every pass instead of held
// (history.LoadStreamed). Judge and report.WriteReport read it; if a pass
// stops early (the evidence is not in the plain form Save writes),
// WriteReport returns history.ErrStreamStopped and the caller loads and
// judges it again with Load.
func LoadStreamed(dir string, minBytes int64) (*Saved, error) {
	return load(dir, minBytes)
}

func load(dir string, streamAbove int64) (*Saved, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("run directory: %w", err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("%s is not a directory: pass a run directory (<report-dir>/<scenario>/<run-id>) or one holding %s", dir, history.EventsFile)
	}
	sv := &Saved{Dir: dir}
	var missing []string
	hasResult := exists(filepath.Join(dir, report.ResultFile))
	if hasResult {
		r, err := report.LoadRun(dir)
		if err != nil {
			missing = append(missing, fmt.Sprintf("%s does not load (%v)", report.ResultFile, err))
		} else {
			sv.Run = r
		}
	}
	switch {
	case exists(filepath.Join(dir, history.EventsFile)):
		load := history.Load
		if streamAbove >= 0 {
			load = func(dir string) (*history.History, error) { return history.LoadStreamed(dir, streamAbove) }
		}
		h, err := load(dir)
		if err != nil {
			return nil, err
		}
		sv.History = h
	case exists(filepath.Join(dir, JournalsDir)):
		evs, rs, err := history.ReadJournalDir(filepath.Join(dir, JournalsDir))
		if err != nil {
			return nil, err
		}
		sv.History = &history.History{Events: evs, Stats: rs}
		missing = append(missing, fmt.Sprintf("no %s: the run stopped before it collected its evidence; judged from the %d journals in %s/ alone (the pipeline's journals and the volume were not collected)",
			history.EventsFile, len(rs.Journals), JournalsDir))
	}
	if sv.Run == nil {
		switch {
		case !hasResult && sv.History == nil:
			return nil, fmt.Errorf("%s holds no evidence: no %s, %s or %s/", dir, report.ResultFile, history.EventsFile, JournalsDir)
		case !hasResult && exists(filepath.Join(dir, JournalsDir)):
			// The runner creates journals/ first and result.json last.
			missing = append([]string{"no " + report.ResultFile + ": the run was killed before it finished"}, missing...)
		}
		// Otherwise a bare history (hand-written, or copied): no run record.
		abs, _ := filepath.Abs(dir)
		name := filepath.Base(abs)
		if exists(filepath.Join(dir, JournalsDir)) {
			name = filepath.Base(filepath.Dir(abs)) // <report-dir>/<scenario>/<run-id>
		}
		sv.Run = &report.Run{SchemaVersion: report.SchemaVersion, Scenario: name, RunID: filepath.Base(abs)}
	} else if sv.History == nil && sv.Run.Void == "" && len(sv.Run.Errors) == 0 {
		missing = append(missing, fmt.Sprintf("%s says the run was judged, but its %s is missing", report.ResultFile, history.EventsFile))
	}
	sv.Incomplete = strings.Join(missing, "; ")
	return sv, nil
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil || !errors.Is(err, fs.ErrNotExist)
}

// Options of a re-check.
type Options struct {
	// Scenario, when set, gives the expectations (a scenario file or a
	// library scenario the caller loaded); ScenarioName says which.
	Scenario     *scenario.Scenario
	ScenarioName string
	// Expect overrides expectations, "name=value" with the scenario's
	// expect: field names, e.g. "noLoss=false", "lockRecoveredWithin=7s",
	// "steadyState.minUploads=5".
	Expect []string
	// Now is the clock for Rechecked; time.Now when nil.
	Now func() time.Time
	// Observer, when set, sees every event the checkers read, in order, as
	// they read it (report.Prepass: one pass over a streamed history).
	Observer Observer
}

// Recheck judges a loaded run directory again, offline, with Judge. The
// expectations are recomputed from, in order: opts.Scenario; the scenario
// the run recorded (Run.Spec); the defaults. opts.Expect overrides them. It
// writes nothing: the caller writes the report where it wants it.
func Recheck(sv *Saved, o Options) (*report.Run, error) {
	r := *sv.Run
	var s *scenario.Scenario
	switch {
	case o.Scenario != nil:
		s = o.Scenario
		r.JudgedWith = "scenario " + o.ScenarioName
	case r.Spec != nil:
		s = r.Spec
		r.JudgedWith = "the scenario the run recorded"
	default:
		s = &scenario.Scenario{}
		r.JudgedWith = "the default expectations (no scenario recorded or given)"
	}
	if len(o.Expect) > 0 {
		cp, err := cloneScenario(s)
		if err != nil {
			return nil, err
		}
		for _, kv := range o.Expect {
			name, value, ok := strings.Cut(kv, "=")
			if !ok {
				return nil, fmt.Errorf("--expect %q: want name=value, e.g. noLoss=false or lockRecoveredWithin=7s", kv)
			}
			if err := SetExpect(&cp.Expect, strings.TrimSpace(name), strings.TrimSpace(value)); err != nil {
				return nil, err
			}
		}
		s = cp
		r.JudgedWith += " with --expect " + strings.Join(o.Expect, " ")
	}
	if sv.Incomplete != "" {
		r.Incomplete = sv.Incomplete
	}
	now := time.Now
	if o.Now != nil {
		now = o.Now
	}
	r.Rechecked = now().UnixNano()
	judge(&r, s, sv.History, o.Observer)
	if sv.History != nil && sv.History.StreamFailed() != "" {
		return nil, fmt.Errorf("%w: %s", history.ErrStreamStopped, sv.History.StreamFailed())
	}
	return &r, nil
}

func cloneScenario(s *scenario.Scenario) (*scenario.Scenario, error) {
	cp := *s
	// Expect holds pointers (NoLoss ...): copy them so overrides stay local.
	e := &cp.Expect
	for _, b := range []**bool{&e.NoLoss, &e.NoDuplicates, &e.LockExclusive} {
		if *b != nil {
			v := **b
			*b = &v
		}
	}
	return &cp, nil
}

// ExpectFields lists the scenario's expect: fields by their names in the
// file ("noLoss", "steadyState.minUploads", ...), for --expect and tests.
func ExpectFields() []string {
	var out []string
	var walk func(t reflect.Type, prefix string)
	walk = func(t reflect.Type, prefix string) {
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			name := jsonName(f)
			if name == "" {
				continue
			}
			if f.Type.Kind() == reflect.Struct && f.Type != reflect.TypeOf(scenario.Duration(0)) {
				walk(f.Type, prefix+name+".")
				continue
			}
			out = append(out, prefix+name)
		}
	}
	walk(reflect.TypeOf(scenario.ExpectSpec{}), "")
	return out
}

func jsonName(f reflect.StructField) string {
	if !f.IsExported() {
		return ""
	}
	name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
	if name == "-" {
		return ""
	}
	if name == "" {
		return f.Name
	}
	return name
}

// SetExpect sets one expect: field by its name in the file: booleans
// (true/false), counts and durations (Go syntax, e.g. 90s).
func SetExpect(e *scenario.ExpectSpec, name, value string) error {
	v := reflect.ValueOf(e).Elem()
	parts := strings.Split(name, ".")
	for i, p := range parts {
		t := v.Type()
		found := false
		for j := 0; j < t.NumField(); j++ {
			if jsonName(t.Field(j)) == p {
				v, found = v.Field(j), true
				break
			}
		}
		if !found || (i < len(parts)-1 && v.Kind() != reflect.Struct) {
			return fmt.Errorf("--expect %s: no such expectation (one of: %s)", name, strings.Join(ExpectFields(), ", "))
		}
	}
	bad := func(want string) error { return fmt.Errorf("--expect %s=%s: want %s", name, value, want) }
	switch {
	case v.Type() == reflect.TypeOf(scenario.Duration(0)):
		d, err := time.ParseDuration(value)
		if err != nil || d < 0 {
			return bad("a duration ≥ 0 such as 90s")
		}
		v.SetInt(int64(d))
	case v.Kind() == reflect.Pointer && v.Type().Elem().Kind() == reflect.Bool:
		b, err := strconv.ParseBool(value)
		if err != nil {
			return bad("true or false")
		}
		v.Set(reflect.ValueOf(&b))
	case v.Kind() == reflect.Int:
		n, err := strconv.Atoi(value)
		if err != nil || n < 0 {
			return bad("a count ≥ 0")
		}
		v.SetInt(int64(n))
	default:
		return fmt.Errorf("--expect %s: cannot be set from the command line", name)
	}
	return nil
}
