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
	var (
		selects []string
		names   bool
	)
	c := &cobra.Command{
		Use:   "list [DIR]",
		Short: "List the scenario library (or the scenarios in DIR)",
		Long: `List the scenario library (or the scenarios in DIR).

--select keeps the scenarios whose specs match key=value conditions joined
by commas, all of which must hold; given several times, a scenario matching
any of them is kept. Keys: provider (local, kind, existing), backend (local,
hostpath, fuse, nfs, storageclass), set (ci: what RWXCHAOS_LAB=1 runs;
nightly: the nightly set, RWXCHAOS_LAB=nightly; all: the whole library).
--names prints only the names, one per line, for scripts:

  rwxchaos list --select provider=kind,set=nightly --names`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var filters []scenarios.Filter
			for _, e := range selects {
				f, err := scenarios.ParseFilter(e)
				if err != nil {
					return usageErr("--select: %v", err)
				}
				filters = append(filters, f)
			}
			keep := func(s *scenario.Scenario) bool {
				if len(filters) == 0 {
					return true
				}
				for _, f := range filters {
					if f.Match(s) {
						return true
					}
				}
				return false
			}
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
			if !names {
				fmt.Fprintln(w, "NAME\tPROVIDER\tBACKEND\tFAULTS\tDESCRIPTION")
			}
			bad, shown := 0, 0
			for _, r := range rows {
				var list scenario.ErrorList
				// Well-formed but unsupported: the support table says why
				// it cannot run.
				cannot := errors.As(r.err, &list) && list.Unsupported() && r.s != nil
				if r.err != nil && !cannot {
					// Invalid: nothing says what it would select, so it is
					// reported whatever the selection.
					bad++
					if !names {
						fmt.Fprintf(w, "%s\t-\t-\t-\tINVALID: %s\n", r.name, firstLine(r.err.Error()))
					}
					continue
				}
				if !keep(r.s) {
					continue
				}
				shown++
				switch {
				case names:
					fmt.Fprintln(w, r.s.Metadata.Name)
				case cannot:
					fmt.Fprintf(w, "%s\t%s\t%s\t-\tCANNOT RUN: %s\n", r.s.Metadata.Name, r.s.Cluster.Provider, r.s.Storage.Backend, list[0].Msg)
				default:
					var acts []string
					for _, f := range r.s.Faults {
						acts = append(acts, string(f.Action))
					}
					fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", r.s.Metadata.Name, r.s.Cluster.Provider, r.s.Storage.Backend, strings.Join(acts, ","), firstLine(r.s.Metadata.Description))
				}
			}
			if shown == 0 && bad == 0 && len(filters) > 0 {
				return usageErr("no scenario matches --select %s", strings.Join(selects, " --select "))
			}
			w.Flush()
			if bad > 0 {
				fmt.Fprintln(os.Stderr)
				return usageErr("%d scenarios are invalid: run `rwxchaos validate` on them", bad)
			}
			return nil
		},
	}
	c.Flags().StringArrayVar(&selects, "select", nil, "keep scenarios matching key=value[,key=value...] (keys provider, backend, set); repeatable: any match")
	c.Flags().BoolVar(&names, "names", false, "print only the names, one per line")
	return c
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
