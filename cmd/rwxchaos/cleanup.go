package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/rwxchaos/rwxchaos/framework/chaosmesh"
	"github.com/rwxchaos/rwxchaos/framework/fault"
	"github.com/rwxchaos/rwxchaos/framework/kindcluster"
	"github.com/rwxchaos/rwxchaos/framework/proc"
	"github.com/rwxchaos/rwxchaos/framework/provider/local"
	"github.com/rwxchaos/rwxchaos/framework/storage"
	"github.com/spf13/cobra"
)

func newCleanupCmd() *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "cleanup",
		Short: "Heal leftovers of interrupted runs (paused processes or nodes, partitions, volumes)",
		Long: `Finds what interrupted runs left behind and heals it: faults still recorded as
active (resumes paused processes and containers, removes partition rules), the
processes of local runs, and their volumes. Runs whose runner is still alive are
left alone unless --force.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			markHealing() // an interrupt lets the heal in progress finish
			out := cmd.OutOrStdout()
			healed, failed := 0, 0
			states, paths, err := fault.LoadStates(filepath.Join(stateDir(), "faults"))
			if err != nil {
				return infraErr("%v", err)
			}
			for i, st := range states {
				if !force && st.Runner().Alive() {
					fmt.Fprintf(out, "run %s: runner pid %d still alive, skipped (use --force)\n", st.RunID, st.Pid)
					continue
				}
				ok := true
				for _, e := range st.Active {
					if e.Undo == nil {
						continue
					}
					err := chaosmesh.ApplyUndo(cmd.Context(), e.Undo)
					if errors.Is(err, chaosmesh.ErrNotChaos) {
						err = e.Undo.Apply(cmd.Context())
					}
					if err != nil {
						ok = false
						failed++
						fmt.Fprintf(out, "run %s: %s on %s: heal failed: %v\n", st.RunID, e.Record.Action, e.Record.Target, err)
						continue
					}
					healed++
					fmt.Fprintf(out, "run %s: healed %s on %s\n", st.RunID, e.Record.Action, e.Record.Target)
				}
				if ok {
					_ = os.Remove(paths[i])
				}
			}
			// NFS servers beside kind clusters that are gone (any, with --force).
			if _, err := exec.LookPath("docker"); err == nil {
				if clusters, err := kindcluster.List(cmd.Context()); err == nil {
					did, err := storage.CleanupServers(cmd.Context(), clusters, force)
					for _, d := range did {
						healed++
						fmt.Fprintln(out, d)
					}
					if err != nil {
						failed++
						fmt.Fprintf(out, "nfs servers: %v\n", err)
					}
				}
			}
			vols, _ := filepath.Glob(filepath.Join(local.CacheDir(), "volumes", "*"))
			for _, v := range vols {
				res, err := proc.Cleanup(cmd.Context(), v, force)
				if err != nil {
					failed++
					fmt.Fprintf(out, "local run %s: %v\n", filepath.Base(v), err)
					continue
				}
				for _, k := range res.Killed {
					fmt.Fprintf(out, "local run %s: stopped %s\n", filepath.Base(v), k)
				}
				if len(res.Skipped) > 0 {
					for _, s := range res.Skipped {
						fmt.Fprintf(out, "local run %s: skipped %s\n", filepath.Base(v), s)
					}
					continue
				}
				// A fuse-backed volume: unmount and stop its file server first.
				if sd := local.StorageDir(v); dirExists(sd) {
					did, err := storage.Cleanup(cmd.Context(), sd)
					for _, d := range did {
						fmt.Fprintf(out, "local run %s: %s\n", filepath.Base(v), d)
					}
					if err == nil {
						err = os.RemoveAll(sd)
					}
					if err != nil {
						failed++
						fmt.Fprintf(out, "local run %s: storage: %v\n", filepath.Base(v), err)
						continue
					}
				}
				if err := os.RemoveAll(v); err != nil {
					failed++
					fmt.Fprintf(out, "local run %s: remove volume: %v\n", filepath.Base(v), err)
					continue
				}
				healed++
				fmt.Fprintf(out, "local run %s: removed its volume\n", filepath.Base(v))
			}
			fmt.Fprintf(out, "cleanup: %d healed, %d failed\n", healed, failed)
			if failed > 0 {
				return &exitError{code: exitInfra, msg: "some leftovers could not be healed (see above)"}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&force, "force", false, "also heal runs whose runner still seems alive")
	return cmd
}

func dirExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}
