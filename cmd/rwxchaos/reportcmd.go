package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime/debug"
	"time"

	"github.com/rwxchaos/rwxchaos/framework/history"
	"github.com/rwxchaos/rwxchaos/framework/report"
	"github.com/rwxchaos/rwxchaos/framework/verdict"
	"github.com/rwxchaos/rwxchaos/framework/version"
	"github.com/spf13/cobra"
)

type reportFlags struct {
	out      string
	scenario string
	expect   []string
}

func newReportCmd() *cobra.Command {
	var f reportFlags
	cmd := &cobra.Command{
		Use:     "report DIR",
		Aliases: []string{"check"},
		Short:   "Re-check a saved run or a bare history offline and write a new report",
		Long: `Re-checks DIR offline (no cluster) with the same verdict function as a live
run, and writes the new report (result.json, junit.xml, summary.md,
report.html and a copy of the evidence) to --out, by default a sibling
directory DIR-recheck. DIR itself is never modified.

DIR may be a run directory (<report-dir>/<scenario>/<run-id>), a directory
holding only history.ndjson (and optionally snapshot.json: a history
written by hand or copied from elsewhere), or the partial directory of a
run that was killed: the report then says it is incomplete (verdict error).

Expectations are recomputed from --scenario (a file or a library name),
else from the scenario the run recorded, else the defaults; --expect
name=value overrides one (e.g. --expect noLoss=false --expect
lockRecoveredWithin=7s). 'rwxchaos check DIR' is the same command.

A history.ndjson of 64 MB or more is streamed from disk instead of held in
memory; unless GOMEMLIMIT is set, the command then sets itself a soft
memory limit of 400 MiB (or 400 bytes per file of the snapshot, if more),
so that the garbage collector keeps it near what it uses.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return reportE(cmd, args[0], f) },
	}
	cmd.Flags().StringVar(&f.out, "out", "", "directory for the new report (default: DIR-recheck, or DIR-recheck-N if taken)")
	cmd.Flags().StringVar(&f.scenario, "scenario", "", "judge against this scenario (file or library name) instead of the one the run recorded")
	cmd.Flags().StringArrayVar(&f.expect, "expect", nil, "override an expectation, name=value (repeatable), e.g. noLoss=false")
	return cmd
}

// streamAbove is the size of history.ndjson from which a re-check streams
// the evidence from disk instead of holding it (a million uploads: ~2 GB);
// recheckNow is the re-check's clock. Tests set both.
var (
	streamAbove int64 = 64 << 20
	recheckNow        = time.Now
	// setMemoryLimit is debug.SetMemoryLimit (tests record its calls).
	setMemoryLimit = debug.SetMemoryLimit
)

// streamMemoryLimit is the soft memory limit a streamed re-check of a run
// with that many snapshot files sets itself (unless GOMEMLIMIT is set).
// Without one the heap grows to twice what is live before the GC runs: a
// million-upload run keeps ~200 MB live and peaked at ~460 MB of heap,
// 520 MB of RSS; under 400 MiB, at ~455 MB RSS for the same CPU. A run of
// more files gets 400 bytes a file (twice what a re-check keeps per
// interchange), so that its live heap never nears the limit (the GC would
// then run all the time).
func streamMemoryLimit(files int) int64 {
	return max(400<<20, 400*int64(files))
}

func reportE(cmd *cobra.Command, dir string, f reportFlags) error {
	err := reportOnce(cmd, dir, f, streamAbove)
	if errors.Is(err, history.ErrStreamStopped) {
		// Evidence not in the plain form Save writes (edited, damaged):
		// judged again from memory, where the reader says what is wrong.
		fmt.Fprintf(cmd.ErrOrStderr(), "rwxchaos: %v: judging it again from memory\n", err)
		err = reportOnce(cmd, dir, f, -1)
	}
	return err
}

// reportOnce re-checks dir, streaming a history of at least streamAbove
// bytes (never when negative).
func reportOnce(cmd *cobra.Command, dir string, f reportFlags, streamAbove int64) error {
	load := verdict.Load
	if streamAbove >= 0 {
		load = func(dir string) (*verdict.Saved, error) { return verdict.LoadStreamed(dir, streamAbove) }
	}
	sv, err := load(dir)
	if err != nil {
		return usageErr("%v", err)
	}
	if _, set := os.LookupEnv("GOMEMLIMIT"); !set && sv.History != nil && sv.History.Streamed() {
		prev := setMemoryLimit(streamMemoryLimit(sv.History.FileCount()))
		defer setMemoryLimit(prev)
	}
	if now := version.Get().Short(); sv.Run.JudgedBy != now && sv.Run.Verdict != "" {
		by := sv.Run.JudgedBy
		if by == "" {
			by = "an rwxchaos that did not record its version"
		}
		fmt.Fprintf(cmd.ErrOrStderr(), "rwxchaos: warning: this run was judged by %s; re-checking it with %s, whose checkers may decide differently (install the version that judged it to reproduce its verdict)\n", by, now)
	}
	pre := report.NewPrepass()
	o := verdict.Options{Expect: f.expect, Observer: pre, Now: recheckNow}
	if f.scenario == "" && sv.Run.Spec == nil && sv.Run.ScenarioFile != "" {
		// A run saved before result.json recorded its scenario: its file
		// (or the library scenario of that name), when it is still there.
		if s, err := loadScenario(sv.Run.ScenarioFile); err == nil {
			o.Scenario, o.ScenarioName = s, sv.Run.ScenarioFile+" (the run's scenario file as it is now)"
		}
	}
	if f.scenario != "" {
		s, err := loadScenario(f.scenario)
		if err != nil {
			fmt.Fprintln(cmd.ErrOrStderr(), err)
			return usageErr("invalid scenario %s: fix the errors above", f.scenario)
		}
		o.Scenario, o.ScenarioName = s, f.scenario
	}
	out, outErr := f.out, error(nil)
	if out == "" {
		out, outErr = siblingDir(dir)
	}
	// The evidence (gigabytes on a large run) is copied while the run is
	// judged and the report rendered, which use one core.
	var early *evidenceCopy
	if outErr == nil && !same(out, dir) {
		early = startEvidenceCopy(dir, out)
		defer early.abort()
	}
	r, err := verdict.Recheck(sv, o)
	if errors.Is(err, history.ErrStreamStopped) {
		return err
	}
	if err != nil {
		return usageErr("%v", err)
	}
	if outErr != nil {
		return infraErr("%v", outErr)
	}
	if same(out, dir) {
		return usageErr("--out %s is the run directory itself: the evidence is never rewritten; choose another directory", out)
	}
	if err := report.WriteReportWith(out, r, sv.History, pre); err != nil {
		if errors.Is(err, history.ErrStreamStopped) {
			return err
		}
		return infraErr("%v", err)
	}
	if early != nil {
		err = early.finish(out)
	} else {
		err = copyEvidence(dir, out, sv.History)
	}
	if err != nil {
		return infraErr("%v", err)
	}
	fmt.Fprintln(cmd.OutOrStdout(), report.Summary(r))
	fmt.Fprintf(cmd.OutOrStdout(), "\nReport: %s\n", filepath.Join(out, report.HTMLFile))
	return verdictErr(r)
}

// siblingDir is DIR-recheck, or DIR-recheck-2, -3 ... when taken.
func siblingDir(dir string) (string, error) {
	base := filepath.Clean(dir) + "-recheck"
	for n := 1; n < 1000; n++ {
		p := base
		if n > 1 {
			p = fmt.Sprintf("%s-%d", base, n)
		}
		if _, err := os.Stat(p); errors.Is(err, fs.ErrNotExist) {
			return p, nil
		}
	}
	return "", fmt.Errorf("too many re-checks beside %s: pass --out", dir)
}

func same(a, b string) bool {
	sa, err1 := os.Stat(a)
	sb, err2 := os.Stat(b)
	return err1 == nil && err2 == nil && os.SameFile(sa, sb)
}

// copyEvidence puts a copy of the judged evidence beside the new report,
// so the report directory can itself be re-checked (a copy, not a link:
// the original's inode is not touched either). Evidence read from
// journals/ is saved merged.
func copyEvidence(src, dst string, h *history.History) error {
	var copied bool
	for _, name := range []string{history.EventsFile, history.SnapshotFile} {
		from := filepath.Join(src, name)
		if _, err := os.Stat(from); err != nil {
			continue
		}
		copied = true
		if err := copyFile(from, filepath.Join(dst, name)); err != nil {
			return fmt.Errorf("copy the evidence: %w", err)
		}
	}
	if !copied && h != nil {
		return h.Save(dst)
	}
	return nil
}

// evidenceCopy copies a run directory's evidence files into a hidden
// directory beside the new report while the run is judged; finish moves
// them into the report directory, abort removes them (the report is not
// written: nothing is left behind).
type evidenceCopy struct {
	tmp   string
	names []string
	done  chan error
	ended bool
}

// startEvidenceCopy starts copying src's history.ndjson and snapshot.json,
// or returns nil (the caller copies afterwards, as copyEvidence) when src
// has neither or out's parent directory does not exist yet.
func startEvidenceCopy(src, out string) *evidenceCopy {
	var names []string
	for _, name := range []string{history.EventsFile, history.SnapshotFile} {
		if _, err := os.Stat(filepath.Join(src, name)); err == nil {
			names = append(names, name)
		}
	}
	if len(names) == 0 {
		return nil
	}
	tmp, err := os.MkdirTemp(filepath.Dir(filepath.Clean(out)), ".rwxchaos-evidence-*")
	if err != nil {
		return nil
	}
	c := &evidenceCopy{tmp: tmp, names: names, done: make(chan error, 1)}
	go func() {
		for _, name := range names {
			if err := copyFile(filepath.Join(src, name), filepath.Join(tmp, name)); err != nil {
				c.done <- fmt.Errorf("copy the evidence: %w", err)
				return
			}
		}
		c.done <- nil
	}()
	return c
}

// finish waits for the copy and moves the files into out.
func (c *evidenceCopy) finish(out string) error {
	c.ended = true
	defer os.RemoveAll(c.tmp)
	if err := <-c.done; err != nil {
		return err
	}
	for _, name := range c.names {
		from, to := filepath.Join(c.tmp, name), filepath.Join(out, name)
		if os.Rename(from, to) != nil {
			// out is on another file system than its parent (a mount
			// point): copy once more.
			if err := copyFile(from, to); err != nil {
				return fmt.Errorf("copy the evidence: %w", err)
			}
		}
	}
	return nil
}

// abort waits for the copy and removes it, unless finish ran.
func (c *evidenceCopy) abort() {
	if c == nil || c.ended {
		return
	}
	c.ended = true
	<-c.done
	os.RemoveAll(c.tmp)
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
