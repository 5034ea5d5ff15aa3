package report

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/rwxchaos/rwxchaos/framework/check"
	"github.com/rwxchaos/rwxchaos/framework/history"
	"github.com/rwxchaos/rwxchaos/framework/version"
)

// Write writes a complete run directory: result.json, the history
// (history.ndjson, snapshot.json; skipped when h is nil), junit.xml,
// summary.md and report.html. Everything is rendered in memory first and each
// file is written to a temp name and renamed, so an error leaves no file half
// written.
func Write(dir string, r *Run, h *history.History) error {
	if r == nil {
		return errors.New("write report: no run")
	}
	if r.JudgedBy == "" {
		r.JudgedBy = version.Get().Short()
	}
	res, err := r.marshal()
	if err != nil {
		return err
	}
	derived, err := render(r, h)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	if h != nil {
		if err := h.Save(dir); err != nil {
			return fmt.Errorf("write report: %w", err)
		}
	}
	if err := writeFileAtomic(filepath.Join(dir, ResultFile), res); err != nil {
		return err
	}
	return writeDerived(dir, derived)
}

// WriteDerived rewrites only the files derived from the run and its history
// (junit.xml, summary.md, report.html).
func WriteDerived(dir string, r *Run, h *history.History) error {
	derived, err := render(r, h)
	if err != nil {
		return err
	}
	return writeDerived(dir, derived)
}

type renderedFile struct {
	name string
	data []byte
}

func render(r *Run, h *history.History) ([]renderedFile, error) {
	if h == nil {
		h = &history.History{}
	}
	m := newModel(r, h)
	junit, err := JUnit(r)
	if err != nil {
		return nil, err
	}
	html, err := renderHTML(m)
	if err != nil {
		return nil, err
	}
	return []renderedFile{
		{JUnitFile, junit},
		{SummaryFile, []byte(Summary(r))},
		{HTMLFile, html},
	}, nil
}

func writeDerived(dir string, files []renderedFile) error {
	for _, f := range files {
		if err := writeFileAtomic(filepath.Join(dir, f.name), f.data); err != nil {
			return err
		}
	}
	return nil
}

// Load reads a run directory written by Write. The history is nil (and no
// error) when the run saved none, e.g. one that failed before traffic.
func Load(dir string) (*Run, *history.History, error) {
	r, err := LoadRun(dir)
	if err != nil {
		return nil, nil, err
	}
	if _, err := os.Stat(filepath.Join(dir, history.EventsFile)); errors.Is(err, fs.ErrNotExist) {
		return r, nil, nil
	}
	h, err := history.Load(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("load run %s: %w", dir, err)
	}
	return r, h, nil
}

// Recheck reloads a saved run, re-runs the checker on its history offline
// with cfg, re-decides the verdict (a framework error stays an error) and
// rewrites result.json and the derived files. The history is not touched.
// Expectations stay as judged at run time.
func Recheck(dir string, cfg check.Config) (*Run, error) {
	return recheck(dir, &cfg, func(h *history.History) *check.Result {
		return check.Run(check.FromHistory(h), cfg)
	})
}

// RecheckSaved is Recheck with the configuration saved in the run
// (Run.CheckConfig, else check.DefaultConfig): `rwxchaos report DIR`.
func RecheckSaved(dir string) (*Run, error) {
	r, err := LoadRun(dir)
	if err != nil {
		return nil, fmt.Errorf("recheck: %w", err)
	}
	return Recheck(dir, r.Config())
}

// RecheckWith is Recheck with any checker.
func RecheckWith(dir string, checker func(*history.History) *check.Result) (*Run, error) {
	return recheck(dir, nil, checker)
}

func recheck(dir string, cfg *check.Config, checker func(*history.History) *check.Result) (*Run, error) {
	r, h, err := Load(dir)
	if err != nil {
		return nil, fmt.Errorf("recheck: %w", err)
	}
	if h == nil {
		return nil, fmt.Errorf("recheck %s: the run saved no history (%s)", dir, history.EventsFile)
	}
	r.Check = checker(h)
	if cfg != nil {
		r.CheckConfig = cfg
	}
	r.Rechecked = time.Now().UnixNano()
	r.JudgedBy = version.Get().Short()
	if r.Verdict != VerdictError {
		r.Verdict, r.Reason = "", ""
	}
	r.Decide()
	res, err := r.marshal()
	if err != nil {
		return nil, err
	}
	derived, err := render(r, h)
	if err != nil {
		return nil, fmt.Errorf("recheck: %w", err)
	}
	if err := writeFileAtomic(filepath.Join(dir, ResultFile), res); err != nil {
		return nil, fmt.Errorf("recheck: %w", err)
	}
	if err := writeDerived(dir, derived); err != nil {
		return nil, fmt.Errorf("recheck: %w", err)
	}
	return r, nil
}
