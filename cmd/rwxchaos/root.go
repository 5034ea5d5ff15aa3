package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/rwxchaos/rwxchaos/framework/version"
	"github.com/spf13/cobra"
)

func newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:           "rwxchaos",
		Short:         "Chaos and failover scenarios for apps sharing one RWX volume",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newRunCmd(), newValidateCmd(), newListCmd(), newReportCmd(), newSchemaCmd(), newCleanupCmd(), newVersionCmd())
	return root
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version, commit and build date",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fmt.Fprint(cmd.OutOrStdout(), version.Get().String())
			return nil
		},
	}
}

// stateDir keeps active faults of running scenarios for `cleanup`.
func stateDir() string {
	if d := os.Getenv("RWXCHAOS_STATE"); d != "" {
		return d
	}
	if h, err := os.UserHomeDir(); err == nil {
		return filepath.Join(h, ".local", "state", "rwxchaos")
	}
	return filepath.Join(os.TempDir(), "rwxchaos-state")
}
