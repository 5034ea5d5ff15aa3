package main

import (
	"fmt"

	"github.com/rwxchaos/rwxchaos/framework/scenario"
	"github.com/spf13/cobra"
)

func newValidateCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "validate FILE|NAME...",
		Short: "Check scenario files; print every error with file:line:column",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			bad := 0
			for _, a := range args {
				s, err := loadScenario(a)
				if err != nil {
					bad++
					fmt.Fprintln(cmd.ErrOrStderr(), err)
					continue
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s: ok (%s, provider %s, %d faults)\n", a, s.Metadata.Name, s.Cluster.Provider, len(s.Faults))
			}
			if bad > 0 {
				return &exitError{code: exitUsage, msg: fmt.Sprintf("%d of %d scenario files are invalid", bad, len(args))}
			}
			return nil
		},
	}
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
