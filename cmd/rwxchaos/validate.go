package main

import (
	"errors"
	"fmt"

	"github.com/rwxchaos/rwxchaos/framework/scenario"
	"github.com/rwxchaos/rwxchaos/framework/support"
	"github.com/spf13/cobra"
)

func newValidateCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "validate FILE|NAME...",
		Short: "Check scenario files; print every error with file:line:column",
		Long: `Check scenario files (or library names): syntax, every field, and whether
the scenario's provider can run it at all (the support table). Exit 2 when a
file is invalid or cannot run anywhere as written, with the reason. A
scenario that needs something this host lacks (a kernel NFS client, root and
/dev/fuse, Docker) is valid: it gets a "runs only where ..." notice, exit 0.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			bad := 0
			out, errw := cmd.OutOrStdout(), cmd.ErrOrStderr()
			for _, a := range args {
				s, err := loadScenario(a)
				if err != nil {
					bad++
					fmt.Fprintln(errw, err)
					continue
				}
				fmt.Fprintf(out, "%s: ok (%s, provider %s, %d faults)\n", a, s.Metadata.Name, s.Cluster.Provider, len(s.Faults))
				for _, n := range hostNotices(s) {
					fmt.Fprintf(out, "%s: notice: %s\n", a, n)
				}
			}
			if bad > 0 {
				msg := ""
				if len(args) > 1 {
					msg = fmt.Sprintf("%d of %d scenario files are invalid", bad, len(args))
				}
				return &exitError{code: exitUsage, msg: msg}
			}
			return nil
		},
	}
}

// hostNotices says what the scenario needs that this host lacks (or that
// only the run can check), from the support table's capabilities.
func hostNotices(s *scenario.Scenario) []string {
	var out []string
	for _, c := range s.Needs() {
		switch err := c.Check(); {
		case err == nil:
		case errors.Is(err, support.ErrNotProbed):
			out = append(out, fmt.Sprintf("runs only where %s (checked when it runs)", c.Where))
		default:
			out = append(out, fmt.Sprintf("runs only where %s; this host: %v (here the run would be void)", c.Where, err))
		}
	}
	return out
}

func newSchemaCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "schema",
		Short: "Print the scenario JSON Schema (for editors: yaml-language-server)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			b, err := scenario.Schema()
			if err != nil {
				return infraErr("schema: %v", err)
			}
			_, err = cmd.OutOrStdout().Write(b)
			return err
		},
	}
}
