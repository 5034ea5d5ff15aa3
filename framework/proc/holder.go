package proc

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/rwxchaos/rwxchaos/framework/history"
)

// Holder is the engine run named by the lease right now.
type Holder struct {
	Proc  string // the holder's proc id, as in the lease
	PID   int
	Epoch uint64
	// Run is the holder among this cluster's engine runs; nil when it is
	// the jobqueue's child (in the jobqueue's process group, not tracked
	// here): signal it by PID, or hit the jobqueue.
	Run *Process
}

// LeaseHolder reads the lease and finds the live engine that holds it. It
// fails when nobody holds the lock (no lease, or released) or the holder is
// not one of this cluster's engines any more.
func (c *Cluster) LeaseHolder() (*Holder, error) {
	l, err := history.ReadLease(c.cfg.Root)
	if errors.Is(err, os.ErrNotExist) {
		return nil, errors.New("local: no lease yet: no engine has taken the lock")
	}
	if err != nil {
		return nil, fmt.Errorf("local: %w", err)
	}
	if l.Released {
		return nil, fmt.Errorf("local: nobody holds the engine lock (epoch %d was released)", l.Epoch)
	}
	parts := strings.Split(l.Holder, "-") // role-node-pid-nanos; node may contain '-'
	if len(parts) < 4 {
		return nil, fmt.Errorf("local: lease holder %q is not a proc id", l.Holder)
	}
	pid, err := strconv.Atoi(parts[len(parts)-2])
	if err != nil {
		return nil, fmt.Errorf("local: lease holder %q has no pid", l.Holder)
	}
	h := &Holder{Proc: l.Holder, PID: pid, Epoch: l.Epoch}
	for _, p := range c.Running(RoleEngine) {
		if p.Info().PID == pid {
			h.Run = p
			return h, nil
		}
	}
	// Not ours directly: accept only a live process of our binary running
	// "engine" (the jobqueue's child), never an unrelated reused pid.
	cmdline, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if err != nil || kernelState(pid) == "Z" || !strings.HasPrefix(string(cmdline), strings.Join(append([]string{c.cfg.Binary}, c.cfg.BinaryArgs...), "\x00")+"\x00engine\x00") {
		return nil, fmt.Errorf("local: lease holder %s (epoch %d) is not a live engine of this cluster: it died holding the lock", l.Holder, l.Epoch)
	}
	return h, nil
}
