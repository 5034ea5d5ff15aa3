// Package storage runs the storage servers behind the shared RWX volume and
// fails them on purpose: it is what the storage-* scenario actions act on.
//
// # Design
//
// A Server is a set of server processes the framework starts on this host:
//
//   - backend fuse (FuseServer): rwxchaos-fuse processes, each a go-fuse
//     loopback of one backing directory mounted on a host directory. With no
//     clients configured there is one shared server and every client uses its
//     mount (provider local: all processes on one mount). With clients (kind
//     nodes), every client gets its own server process and mount over the same
//     backing directory, so "cut one node off the storage" stalls only that
//     node's server while the others keep serving the same files. Locks still
//     exclude across servers: each server takes them on the one backing file
//     system, in one kernel. Kernel caching is off (entry and attribute
//     timeouts 0), so what one client writes is seen at once by the others.
//   - backend nfs on kind (GaneshaContainer): nfs-ganesha as a docker
//     container on the nodes' network, NFSv4 only, serving a host
//     directory, with the scenario's lease and grace and a recovery
//     directory that survives its restarts (so a restart enters a real
//     grace period). Its faults (ServerFault) are docker pause, kill and
//     stop+start; the nodes' NFS clients (the kernel's, or rwxchaos-nfs
//     under systemd in each node) are set up by the kind provider.
//   - backend nfs as a host process (NFSServer): one nfs-ganesha process
//     (NFSv4 only, on 127.0.0.1). Kernels without an NFS client (see
//     KernelCanMountNFS) cannot mount it; it is still served and proven at
//     the protocol level with libnfs-utils (ProbeNFS).
//
// Differences from NFS worth knowing: a client blocked on a stopped FUSE
// server sleeps interruptibly (state S in request_wait_answer, killable),
// where a hard NFS mount shows D; and a lock taken through a cut-off client
// stays held until the cut heals (the stopped server keeps the backing file
// open), where an NFSv4 server would expire the silent client's lease and
// hand the lock to others. And a killed or restarted FUSE server is a new
// mount: files opened before stay dead (ENOTCONN) for good, like a volume
// force-remounted under a running pod, whereas NFSv4 clients of a
// hard-mounted, restarted server keep their open files (state reclaim).
// Long-lived processes that keep a file open (e.g. a journal) must reopen it.
//
// For kind (one server per node): FuseConfig{Clients: worker names, Mounts:
// one host directory per node, Shared: true}, and each node's extraMounts
// entry maps its own MountFor(node) into the node with propagation
// HostToContainer; storage-cutoff on a node then stalls only that node.
//
// The whole-storage faults (storage-pause, storage-kill, storage-restart)
// act on every server process (client ""); storage-cutoff acts on one
// client's process. Each is a fault.Fault (NewFault) run by fault.Injector.
//
// A server is failed like a real one: SIGSTOP stalls every call (a hung
// hard-mounted NFS server), SIGKILL makes calls fail (ENOTCONN on a FUSE
// mount: a dead server) until Restart detaches the stale mount and mounts a
// new server. Under each FUSE mount the framework keeps a read-only bind
// mount of an empty directory (the guard): while no server is mounted,
// writes to the mountpoint fail with EROFS instead of landing silently in the
// directory below, where they would vanish when the server returns.
//
// Every probe of a possibly stalled server (Healthy, the fault checks) runs
// in its own goroutine with a deadline, so a stall never hangs the caller;
// the goroutine itself stays blocked until the server resumes (like the
// clients). Stop resumes first, then unmounts, and leaves nothing mounted or
// stopped; Cleanup does the same for servers of a runner that died.
package storage

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/rwxchaos/rwxchaos/framework/support"
)

// Backends a Server can be.
const (
	BackendFuse = "fuse"
	BackendNFS  = "nfs"
)

// Server is a storage server (one or more processes) the framework runs.
// Client "" means every server process (the whole storage).
type Server interface {
	// Backend is fuse or nfs.
	Backend() string
	// Start starts every server process and returns once each serves.
	Start(ctx context.Context) error
	// Clients names the clients with a server process of their own; nil when
	// one shared server serves every client.
	Clients() []string
	// MountFor is the host path client uses ("" if the backend has no host
	// mount, or client is unknown). With a shared server every client gets
	// the same path.
	MountFor(client string) string
	// Pids are the live server processes serving client ("" = all).
	Pids(client string) []int
	// Pause stops the server processes of client (SIGSTOP).
	Pause(ctx context.Context, client string) error
	// Resume continues them (SIGCONT).
	Resume(ctx context.Context, client string) error
	// Kill SIGKILLs them and waits until they are gone.
	Kill(ctx context.Context, client string) error
	// Shutdown stops them gracefully (SIGTERM: unmount, exit).
	Shutdown(ctx context.Context, client string) error
	// Restart makes them serve again: resumes or kills what still runs,
	// detaches a stale mount, starts a new server process and waits for it.
	Restart(ctx context.Context, client string) error
	// Healthy probes the storage as client sees it: a write, fsync, read
	// and remove that must finish before ctx's deadline (2 s if it has
	// none). It never blocks past the deadline.
	Healthy(ctx context.Context, client string) error
	// Stop resumes, stops and unmounts everything. Idempotent.
	Stop(ctx context.Context) error
}

// DefaultProbeTimeout bounds Healthy when ctx has no deadline.
const DefaultProbeTimeout = 2 * time.Second

// probeContext is ctx bounded by DefaultProbeTimeout when it has no
// deadline of its own.
func probeContext(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, DefaultProbeTimeout)
}

// ErrStalled is returned (wrapped) by probes that did not finish in time.
var ErrStalled = errors.New("storage did not answer in time")

// probeDir is where the file probe writes, under a mount.
const probeDir = ".rwxchaos/storage-probe"

// ProbeDir is a file probe: it writes a small file under dir, fsyncs it,
// reads it back and removes it, in a goroutine, and returns when that is done
// or ctx ends (ErrStalled; the goroutine then finishes whenever the storage
// answers). ctx without a deadline gets DefaultProbeTimeout.
func ProbeDir(ctx context.Context, dir string) error {
	ctx, cancel := probeContext(ctx)
	defer cancel()
	start := time.Now()
	done := make(chan error, 1)
	go func() { done <- probeFile(dir) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return fmt.Errorf("probe of %s: %w within %s (%v): the server is stalled or gone", dir, ErrStalled, time.Since(start).Round(time.Millisecond), ctx.Err())
	}
}

func probeFile(dir string) error {
	d := filepath.Join(dir, probeDir)
	if err := os.MkdirAll(d, 0o755); err != nil {
		return fmt.Errorf("probe: %w", err)
	}
	want := randHex(8)
	p := filepath.Join(d, want)
	f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("probe: %w", err)
	}
	_, werr := f.WriteString(want)
	serr := f.Sync()
	cerr := f.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		_ = os.Remove(p)
		return fmt.Errorf("probe write %s: %w", p, err)
	}
	got, err := os.ReadFile(p)
	if err != nil {
		return fmt.Errorf("probe read: %w", err)
	}
	if string(got) != want {
		return fmt.Errorf("probe read %s: got %q, wrote %q: the storage returns stale or wrong data", p, got, want)
	}
	if err := os.Remove(p); err != nil {
		return fmt.Errorf("probe remove: %w", err)
	}
	return nil
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// KernelCanMountNFS reports whether this kernel has an NFS client
// (/proc/filesystems lists nfs or nfs4): the support table's KernelNFS
// capability. Without one no NFS mount can succeed, in a container or not.
func KernelCanMountNFS() bool { return support.KernelNFS.Check() == nil }

func kernelHasNFS(filesystems string) bool { return support.HasNFS(filesystems) }

// NoNFSMountReason explains why an NFS mount cannot work here.
const NoNFSMountReason = "this kernel has no NFS client (/proc/filesystems lists neither nfs nor nfs4; if it is a module, `modprobe nfsv4` loads it), so no NFS volume can be mounted on this host or in its containers; use backend fuse (a userspace file server with the same stall/kill/cutoff faults), or run on a machine whose kernel has CONFIG_NFS_FS"

// RequireNFSMount returns nil when this kernel can mount NFS, else a
// *support.Unsupported for action in env, with NoNFSMountReason: a
// scenario that needs an NFS mount is then reported as unsupported, never as
// a silent pass.
func RequireNFSMount(action, env string) error {
	if KernelCanMountNFS() {
		return nil
	}
	return &support.Unsupported{Action: action, Env: env, Reason: NoNFSMountReason}
}
