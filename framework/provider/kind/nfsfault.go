package kind

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/rwxchaos/rwxchaos/framework/fault"
	"github.com/rwxchaos/rwxchaos/framework/scenario"
	"github.com/rwxchaos/rwxchaos/framework/storage"
)

// storageCut cuts one node off the NFS server: DROP rules for the server's
// address in a chain of their own inside the node (jumped to from INPUT and
// OUTPUT), so the node's NFS client (userspace or kernel: both live in the
// node's network namespace) loses the server while the node stays Ready
// for Kubernetes. Heal and `rwxchaos cleanup` remove the jumps and the
// chain.
type storageCut struct {
	env    *Env
	name   string
	action string
	node   string
	ip     string
	chain  string
	// egress drops packets to the server, ingress packets from it.
	egress, ingress bool
}

// cutChain names the chain of one cut (at most 28 characters).
func cutChain(runID, fault, node string) string {
	h := fnv.New32a()
	h.Write([]byte(runID + "\x00" + fault + "\x00" + node))
	return fmt.Sprintf("RWXCHAOS-NFS-%08x", h.Sum32())
}

func (e *Env) storageCuts(ctx context.Context, spec scenario.FaultSpec, nodes []string, dir scenario.Direction) ([]fault.Fault, error) {
	if e.nfs == nil || e.nfs.server == nil {
		return nil, errors.New("no NFS server to cut off")
	}
	var out []fault.Fault
	for _, n := range nodes {
		if n == e.cpNode {
			return nil, fmt.Errorf("%s is the control plane, which has no NFS client: cut a worker off the storage", n)
		}
		out = append(out, &storageCut{env: e, name: spec.Name, action: string(spec.Action), node: n,
			ip: e.nfs.server.IP(), chain: cutChain(e.runID, spec.Name, n),
			egress: dir != scenario.DirectionIngress, ingress: dir != scenario.DirectionEgress})
	}
	return out, nil
}

func (f *storageCut) Name() string   { return f.name }
func (f *storageCut) Action() string { return f.action }
func (f *storageCut) Target() string {
	way := "⟂"
	switch {
	case !f.ingress:
		way = "→⟂"
	case !f.egress:
		way = "⟂←"
	}
	return f.node + " " + way + " nfs " + f.ip
}

func (f *storageCut) script() string {
	s := "iptables -N " + f.chain + " 2>/dev/null || iptables -F " + f.chain + "; "
	if f.egress {
		s += "iptables -A " + f.chain + " -d " + f.ip + " -j DROP; "
	}
	if f.ingress {
		s += "iptables -A " + f.chain + " -s " + f.ip + " -j DROP; "
	}
	for _, c := range []string{"OUTPUT", "INPUT"} {
		s += "iptables -C " + c + " -j " + f.chain + " 2>/dev/null || iptables -I " + c + " -j " + f.chain + "; "
	}
	return s
}

func (f *storageCut) undoScript() string {
	return "for c in OUTPUT INPUT; do while iptables -D $c -j " + f.chain + " 2>/dev/null; do :; done; done; " +
		"iptables -F " + f.chain + " 2>/dev/null; iptables -X " + f.chain + " 2>/dev/null; true"
}

// Inject adds the rules. The node stays Ready, so it is not noted as a
// lost node: nothing is expected to be rescheduled.
func (f *storageCut) Inject(ctx context.Context) error {
	_, err := docker(ctx, "exec", f.node, "sh", "-c", "set -e; "+f.script())
	return err
}

// tcpReaches reports whether a TCP connection from node to the server opens
// within two seconds.
func (f *storageCut) tcpReaches(ctx context.Context) bool {
	_, err := docker(ctx, "exec", f.node, "timeout", "2", "bash", "-c", fmt.Sprintf("exec 3<>/dev/tcp/%s/%d", f.ip, storage.NFSPort))
	return err == nil
}

// Verify: the chain is in place, no TCP connection to the server opens
// from the node, and a write through the node's mount hangs.
func (f *storageCut) Verify(ctx context.Context) error {
	out, err := docker(ctx, "exec", f.node, "iptables", "-S", f.chain)
	if err != nil {
		return err
	}
	if n := strings.Count(out, "-j DROP"); n < btoi(f.egress)+btoi(f.ingress) {
		return fmt.Errorf("%d DROP rules in %s on %s", n, f.chain, f.node)
	}
	if f.tcpReaches(ctx) {
		return fmt.Errorf("a TCP connection from %s to the NFS server %s still opens", f.node, f.ip)
	}
	if err := f.env.nfsProbe(ctx, f.node, storage.StallWindow); !errors.Is(err, storage.ErrStalled) {
		if err == nil {
			return fmt.Errorf("a write through %s's NFS mount still completed", f.node)
		}
		return fmt.Errorf("a write through %s's NFS mount failed instead of hanging (a hard mount hangs): %w", f.node, err)
	}
	return nil
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func (f *storageCut) Heal(ctx context.Context) error {
	_, err := docker(ctx, "exec", f.node, "sh", "-c", f.undoScript())
	return err
}

// VerifyHealed: the chain is gone, the server is reachable, the node's
// client serves again (its TCP connection may wait out a retransmission
// backoff first, as a kernel client's does) and the node is Ready.
func (f *storageCut) VerifyHealed(ctx context.Context) error {
	if out, err := docker(ctx, "exec", f.node, "iptables", "-S"); err != nil {
		return err
	} else if strings.Contains(out, f.chain) {
		return fmt.Errorf("chain %s is still in place on %s", f.chain, f.node)
	}
	if !f.tcpReaches(ctx) {
		return fmt.Errorf("the NFS server %s is not reachable from %s yet", f.ip, f.node)
	}
	if err := f.env.nfsProbe(ctx, f.node, 5*time.Second); err != nil {
		return fmt.Errorf("the NFS client on %s does not serve yet: %w", f.node, err)
	}
	n, err := f.env.cs.CoreV1().Nodes().Get(ctx, f.node, metav1.GetOptions{})
	if err != nil {
		return err
	}
	if !nodeReady(n) {
		return fmt.Errorf("node %s not Ready yet", f.node)
	}
	return nil
}

func (f *storageCut) Undo() *fault.Undo {
	return &fault.Undo{Kind: "docker", Args: []string{"exec", f.node, "sh", "-c", f.undoScript()}}
}
