package kind

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"slices"

	"github.com/rwxchaos/rwxchaos/framework/binimage"
	"github.com/rwxchaos/rwxchaos/framework/lab"
	"github.com/rwxchaos/rwxchaos/framework/scenario"
	"github.com/rwxchaos/rwxchaos/framework/selfexec"
)

// provisionShared runs the scenario on the pool's cluster: the volume is a
// directory of the cluster's shared dir (hostpath) or a fuse server mounted
// below it for this run only (fuse). An external app then gets its images
// loaded (see external.provisionPooled).
func (e *Env) provisionShared(ctx context.Context) error {
	pc, err := e.takePooled(ctx)
	if err != nil {
		return err
	}
	var mnt string
	e.shared, e.volume, mnt = sharedRunPaths(pc.dir, e.runID, e.s.Storage.Backend)
	if mnt != "" {
		if err := e.startFuse(ctx, filepath.Join(lab.CacheDir(), "kind-fuse", pc.name, e.runID), mnt); err != nil {
			return err
		}
	}
	if err := e.readyPooled(ctx, pc); err != nil {
		return err
	}
	if e.ext != nil {
		return e.ext.provisionPooled(ctx, pc)
	}
	return nil
}

// takePooled assembles the app image (before taking the cluster: an error
// costs nothing; an external app brings its own images), then takes the
// pool's cluster for this run.
func (e *Env) takePooled(ctx context.Context) (*poolCluster, error) {
	var err error
	if e.ext == nil {
		if e.app, err = chooseAppImage(e.o.AppImage); err != nil {
			return nil, err
		}
	}
	pc, err := e.o.Pool.acquire(ctx, e.s, e.o.Logf)
	if err != nil {
		return nil, err
	}
	e.pooled = pc
	e.cs, e.cpNode, e.workers = pc.cs, pc.cp, slices.Clone(pc.workers)
	return pc, nil
}

// readyPooled makes the run's volume dir, leaves a kubeconfig in the run
// dir and loads the app image into the pool's cluster (once per cluster;
// none for an external app).
func (e *Env) readyPooled(ctx context.Context, pc *poolCluster) error {
	if err := os.MkdirAll(e.volume, 0o777); err != nil {
		return fmt.Errorf("volume dir: %w", err)
	}
	if b, err := os.ReadFile(pc.kubeconfig); err == nil {
		// For kubectl while the run is going; the pool's own copy is removed with it.
		_ = os.WriteFile(filepath.Join(e.runDir, "kubeconfig"), b, 0o600)
	}
	if e.app == nil {
		return nil
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
// run's own storage server is stopped once its pods are gone. An external
// app's upload endpoint is closed first; its reset step waits for the app's
// namespace to be gone and removes the images the run loaded.
func (e *Env) teardownShared(ctx context.Context) error {
	pc := e.pooled
	e.pooled = nil
	var run []ResetStep
	if e.ext != nil {
		e.ext.stopUploads()
		run = append(run, e.ext.resetStep())
	}
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
	if e.nfs != nil {
		run = append(run, e.nfsResetStep(pc))
	}
	return e.o.Pool.release(ctx, pc, run...)
}

// provisionSharedNFS runs a backend nfs scenario on the pool's cluster: its
// own nfs-ganesha (the scenario's lease and grace, state of its own), the
// userspace client unit on every worker with the scenario's options, the
// run's volume in the server's export, journals in the nodes' journal dirs
// (mounted from the pool cluster's creation), the trigger socket relayed
// into the shared dir.
func (e *Env) provisionSharedNFS(ctx context.Context) error {
	client, why, args, err := chooseNFSClient(e.s.Storage)
	if err != nil {
		return err
	}
	image, err := nfsServerImage()
	if err != nil {
		return err
	}
	pc, err := e.takePooled(ctx)
	if err != nil {
		return err
	}
	n := &nfsEnv{spec: e.s.Storage, client: client, why: why, args: args, image: image,
		dir: pc.nfsDir, cluster: pc.name, runID: e.runID}
	e.nfs = n
	if pc.nfsCommand == nil {
		// Bundled once per cluster: every run of this process runs the
		// same binary.
		argv, err := selfexec.NFSMount.Command()
		if err != nil {
			return fmt.Errorf("the userspace NFS client: %w", err)
		}
		if pc.nfsCommand, err = binimage.Bundle(argv, filepath.Join(pc.nfsDir, "bin")); err != nil {
			return fmt.Errorf("put the userspace NFS client where the nodes mount it: %w", err)
		}
	}
	n.command = pc.nfsCommand
	if e.trigger != "" {
		h := fnv.New32a()
		h.Write([]byte(e.runID))
		if n.relay, err = newSocketRelay(filepath.Join(pc.dir, sharedTriggers, fmt.Sprintf("%08x.sock", h.Sum32())), e.trigger); err != nil {
			return err
		}
		n.trigger = n.relay.path
	}
	e.volume = n.volume(e.runID)
	if err := e.readyPooled(ctx, pc); err != nil {
		return err
	}
	return e.startNFS(ctx)
}

// nfsResetStep undoes a pooled NFS run once its pods are gone: the client
// units stop first (they would hang on a server that is gone), then the
// server; the run's export, server state and journals go. stepNFS checks
// the nodes before every scenario.
func (e *Env) nfsResetStep(pc *poolCluster) ResetStep {
	n := e.nfs
	dirs := append([]string{n.volume(e.runID), n.serverDir()}, n.journalDirs(e.runID)...)
	return funcStep{name: "nfs-server", reset: func(ctx context.Context) error {
		var errs []error
		if n.relay != nil {
			errs = append(errs, n.relay.Close())
		}
		errs = append(errs, stopNFSClients(ctx, &pc.SharedCluster))
		if n.server != nil {
			errs = append(errs, n.server.Stop(ctx))
		}
		for _, d := range dirs {
			errs = append(errs, os.RemoveAll(d))
		}
		return errors.Join(errs...)
	}, left: func() []string {
		var out []string
		for _, d := range dirs {
			if _, err := os.Stat(d); err == nil {
				out = append(out, "NFS run state "+d+" is still there")
			}
		}
		return out
	}}
}
