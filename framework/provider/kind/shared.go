package kind

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/rwxchaos/rwxchaos/framework/lab"
	"github.com/rwxchaos/rwxchaos/framework/scenario"
)

// provisionShared runs the scenario on the pool's cluster: the volume is a
// directory of the cluster's shared dir (hostpath) or a fuse server mounted
// below it for this run only (fuse).
func (e *Env) provisionShared(ctx context.Context) error {
	// Assemble the app image before taking the cluster: an error costs nothing.
	var err error
	if e.app, err = chooseAppImage(e.o.AppImage); err != nil {
		return err
	}
	pc, err := e.o.Pool.acquire(ctx, e.s, e.o.Logf)
	if err != nil {
		return err
	}
	e.pooled = pc
	e.cs, e.cpNode, e.workers = pc.cs, pc.cp, slices.Clone(pc.workers)
	var mnt string
	e.shared, e.volume, mnt = sharedRunPaths(pc.dir, e.runID, e.s.Storage.Backend)
	if mnt != "" {
		if err := e.startFuse(ctx, filepath.Join(lab.CacheDir(), "kind-fuse", pc.name, e.runID), mnt); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(e.volume, 0o777); err != nil {
		return fmt.Errorf("volume dir: %w", err)
	}
	if b, err := os.ReadFile(pc.kubeconfig); err == nil {
		// For kubectl while the run is going; the pool's own copy is removed with it.
		_ = os.WriteFile(filepath.Join(e.runDir, "kubeconfig"), b, 0o600)
	}
	return e.o.Pool.loadImage(ctx, pc, e.app.ref, func(ctx context.Context) error { return e.app.load(ctx, pc.cluster, e.o.Logf) })
}

// sharedRunPaths lays out a run on a pool's shared dir: root is the
// directory the run's storage serves (the trigger matches paths relative to
// it), volume the run's volume, and mnt where its fuse server is mounted
// ("" for hostpath). Everything below dir is at the same path in every node.
func sharedRunPaths(dir, runID string, backend scenario.Backend) (root, volume, mnt string) {
	if backend == scenario.BackendFuse {
		mnt = filepath.Join(dir, sharedFuse, runID)
		return mnt, filepath.Join(mnt, sharedRuns, runID), mnt
	}
	return dir, filepath.Join(dir, sharedRuns, runID), ""
}

// teardownShared hands the cluster back to the pool, which resets it; the
// run's own storage server is stopped once its pods are gone.
func (e *Env) teardownShared(ctx context.Context) error {
	pc := e.pooled
	e.pooled = nil
	var run []ResetStep
	if srv := e.fuse; srv != nil {
		dir := filepath.Join(lab.CacheDir(), "kind-fuse", pc.name, e.runID)
		run = append(run, funcStep{name: "fuse-server", reset: func(ctx context.Context) error {
			return errors.Join(srv.Stop(ctx), os.RemoveAll(dir))
		}, left: func() []string {
			if _, err := os.Stat(dir); err == nil {
				return []string{"fuse server state " + dir + " is still there"}
			}
			return nil
		}})
	}
	return e.o.Pool.release(ctx, pc, run...)
}
