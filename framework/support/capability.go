package support

import (
	"errors"
	"fmt"
	"os"
	"strings"
)

// Capability is something a host (or the cluster a run reaches) must have
// for a feature to run there, with a probe. Probes are cheap (a stat, a
// small /proc read): validate runs them on every file.
type Capability struct {
	// Name is short, for lists: "kernel NFS client".
	Name string
	// Where completes "runs only where ...": "the host kernel has an NFS
	// client (CONFIG_NFS_FS)".
	Where string
	// Probe returns nil when this host has it, else what is missing and
	// what to do. nil: only the run can tell (for example, what a remote
	// cluster's Chaos Mesh can inject).
	Probe func() error
}

// ErrNotProbed says a capability cannot be checked before the run.
var ErrNotProbed = errors.New("cannot be checked before the run")

// Check probes the capability on this host.
func (c *Capability) Check() error {
	if c.Probe == nil {
		return ErrNotProbed
	}
	return c.Probe()
}

// Missing turns a failed probe into the *Unsupported a provider returns
// (the run is then void with the reason, never a pass).
func (c *Capability) Missing(action, env string) error {
	err := c.Check()
	if err == nil || errors.Is(err, ErrNotProbed) {
		return nil
	}
	return &Unsupported{Action: action, Env: env, Reason: fmt.Sprintf("it runs only where %s, and here %v", c.Where, err)}
}

// The capabilities the table refers to.
var (
	// Docker: the kind provider drives node containers with the docker CLI.
	Docker = &Capability{
		Name:  "Docker",
		Where: "Docker runs on this host (`make lab` starts dockerd and builds the kind node image)",
		Probe: func() error {
			if _, err := os.Stat(dockerSocket); err != nil {
				return fmt.Errorf("%s is missing: start dockerd (`hack/lab/host.sh`, or `make lab`)", dockerSocket)
			}
			return nil
		},
	}
	// FuseMount: the go-fuse file server mounts with mount(2) directly
	// (there is no fusermount), which needs root and /dev/fuse.
	FuseMount = &Capability{
		Name:  "FUSE mounts",
		Where: "the runner is root and /dev/fuse exists (the go-fuse file server mounts with mount(2) directly)",
		Probe: func() error {
			if _, err := os.Stat("/dev/fuse"); err != nil {
				return errors.New("/dev/fuse is missing: load the fuse module")
			}
			if os.Geteuid() != 0 {
				return errors.New("the runner is not root: run as root (sudo)")
			}
			return nil
		},
	}
	// KernelNFS: a kernel NFS client, for NFS mounts on the host and in
	// kind nodes (which share the host's kernel).
	KernelNFS = &Capability{
		Name:  "kernel NFS client",
		Where: "the host kernel has an NFS client (CONFIG_NFS_FS: /proc/filesystems lists nfs or nfs4)",
		Probe: func() error {
			b, err := os.ReadFile(procFilesystems)
			if err != nil {
				return fmt.Errorf("cannot read %s: %v", procFilesystems, err)
			}
			if !HasNFS(string(b)) {
				return fmt.Errorf("%s lists neither nfs nor nfs4: this kernel cannot mount NFS, in a container or not", procFilesystems)
			}
			return nil
		},
	}
	// NFSClient: some NFS client for kind nodes, as storage.nfs.client
	// auto picks one: the host kernel's, else the framework's userspace
	// client, which mounts with FUSE.
	NFSClient = &Capability{
		Name:  "an NFS client",
		Where: "the nodes can mount NFS: the host kernel has an NFS client, or the runner is root and /dev/fuse exists for the userspace client",
		Probe: func() error {
			kerr := KernelNFS.Check()
			if kerr == nil {
				return nil
			}
			if ferr := FuseMount.Check(); ferr != nil {
				return fmt.Errorf("%v, and the userspace client cannot mount either: %v", kerr, ferr)
			}
			return nil
		},
	}
	// ChaosMeshIO: IOChaos needs chaos-daemon's toda, which the rwxchaos
	// lab cannot build offline; only the cluster can say whether it has it.
	ChaosMeshIO = &Capability{
		Name:  "Chaos Mesh IOChaos",
		Where: "the cluster's Chaos Mesh can inject IOChaos (chaos-daemon with toda; not the rwxchaos lab)",
	}
)

// Paths the probes read; variables so tests can point them elsewhere.
var (
	dockerSocket    = "/var/run/docker.sock"
	procFilesystems = "/proc/filesystems"
)

// HasNFS reports whether a /proc/filesystems text lists nfs or nfs4.
func HasNFS(filesystems string) bool {
	for _, line := range strings.Split(filesystems, "\n") {
		f := strings.Fields(line)
		if len(f) > 0 && (f[len(f)-1] == "nfs" || f[len(f)-1] == "nfs4") {
			return true
		}
	}
	return false
}
