package report

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/rwxchaos/rwxchaos/framework/history"
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

// WriteReport writes result.json and the files derived from the run and
// its history (junit.xml, summary.md, report.html) into dir, but not the
// history itself: a re-check writes its report beside evidence it must not
// touch.
func WriteReport(dir string, r *Run, h *history.History) error {
	return WriteReportWith(dir, r, h, nil)
}

// WriteReportWith is WriteReport using the events' pass pre made while the
// run was judged (when it is complete), instead of a pass of its own.
func WriteReportWith(dir string, r *Run, h *history.History, pre *Prepass) error {
	if r == nil {
		return errors.New("write report: no run")
	}
	res, err := r.marshal()
	if err != nil {
		return err
	}
	derived, err := renderWith(r, h, pre)
	if err != nil {
		return err
	}
	if h != nil && h.StreamFailed() != "" {
		// Rendered from part of the history: nothing is written.
		return fmt.Errorf("write report: %w: %s", history.ErrStreamStopped, h.StreamFailed())
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	if err := writeFileAtomic(filepath.Join(dir, ResultFile), res); err != nil {
		return err
	}
	return writeDerived(dir, derived)
}

type renderedFile struct {
	name string
	data []byte
}

func render(r *Run, h *history.History) ([]renderedFile, error) {
	return renderWith(r, h, nil)
}

// renderWith is render with the events' pass already made (pre, when
// complete).
func renderWith(r *Run, h *history.History, pre *Prepass) ([]renderedFile, error) {
	if h == nil {
		h = &history.History{}
	}
	m := newModel(r, h, pre)
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
