package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/rwxchaos/rwxchaos/framework/report"
	"github.com/rwxchaos/rwxchaos/framework/version"
	"github.com/spf13/cobra"
)

func newReportCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "report RUN-DIR",
		Short: "Re-check a saved run offline and re-render its report",
		Long: `Reloads <run-dir>/result.json and its history, runs the checkers again
with the thresholds the run was judged with (no cluster needed), rewrites
result.json, junit.xml, summary.md and report.html, and prints the summary.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := args[0]
			if _, err := os.Stat(filepath.Join(dir, report.ResultFile)); err != nil {
				return usageErr("%s is not a run directory (no %s): pass <report-dir>/<scenario>/<run-id>", dir, report.ResultFile)
			}
			if saved, err := report.LoadRun(dir); err == nil {
				if now := version.Get().Short(); saved.JudgedBy != now {
					by := saved.JudgedBy
					if by == "" {
						by = "an rwxchaos that did not record its version"
					}
					fmt.Fprintf(cmd.ErrOrStderr(), "rwxchaos: warning: this run was judged by %s; re-checking it with %s, whose checkers may decide differently (install the version that judged it to reproduce its verdict)\n", by, now)
				}
			}
			r, err := report.RecheckSaved(dir)
			if err != nil {
				return infraErr("%v", err)
			}
			fmt.Fprintln(cmd.OutOrStdout(), report.Summary(r))
			fmt.Fprintf(cmd.OutOrStdout(), "\nReport: %s\n", filepath.Join(dir, report.HTMLFile))
			return verdictErr(r)
		},
	}
}
