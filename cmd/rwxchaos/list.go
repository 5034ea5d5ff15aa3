package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/rwxchaos/rwxchaos/framework/scenario"
	"github.com/rwxchaos/rwxchaos/scenarios"
	"github.com/spf13/cobra"
)

func newListCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "list [DIR]",
		Short: "List the scenario library (or the scenarios in DIR)",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			type row struct {
				name string
				s    *scenario.Scenario
				err  error
			}
			var rows []row
			if len(args) == 1 {
				files, err := filepath.Glob(filepath.Join(args[0], "*.yaml"))
				if err != nil || len(files) == 0 {
					return usageErr("no *.yaml scenario files in %s", args[0])
				}
				for _, f := range files {
					s, err := scenario.Load(f)
					rows = append(rows, row{f, s, err})
				}
			} else {
				for _, n := range scenarios.Names() {
					s, err := scenarios.Load(n)
					rows = append(rows, row{n, s, err})
				}
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "NAME\tPROVIDER\tBACKEND\tFAULTS\tDESCRIPTION")
			bad := 0
			for _, r := range rows {
				var list scenario.ErrorList
				if errors.As(r.err, &list) && list.Unsupported() && r.s != nil {
					// Well-formed; the support table says why it cannot run.
					fmt.Fprintf(w, "%s\t%s\t%s\t-\tCANNOT RUN: %s\n", r.s.Metadata.Name, r.s.Cluster.Provider, r.s.Storage.Backend, list[0].Msg)
					continue
				}
				if r.err != nil {
					bad++
					fmt.Fprintf(w, "%s\t-\t-\t-\tINVALID: %s\n", r.name, firstLine(r.err.Error()))
					continue
				}
				var acts []string
				for _, f := range r.s.Faults {
					acts = append(acts, string(f.Action))
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", r.s.Metadata.Name, r.s.Cluster.Provider, r.s.Storage.Backend, strings.Join(acts, ","), firstLine(r.s.Metadata.Description))
			}
			w.Flush()
			if bad > 0 {
				fmt.Fprintln(os.Stderr)
				return usageErr("%d scenarios are invalid: run `rwxchaos validate` on them", bad)
			}
			return nil
		},
	}
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexAny(s, ".\n"); i >= 0 {
		s = s[:i]
	}
	if len(s) > 90 {
		s = s[:87] + "..."
	}
	return s
}
