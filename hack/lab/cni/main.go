// Command rwxchaos-cni is the lab's pod network: a host-network DaemonSet that
// writes a ptp + host-local + portmap CNI config for its node's spec.podCIDR
// and keeps a route to every other node's pod CIDR via that node's
// InternalIP. All kind nodes share one docker bridge, so plain routes are
// enough (kindnetd, which does the same, is not on the Go module proxy).
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

const (
	confDir  = "/etc/cni/net.d"
	confName = "10-rwxchaos.conflist"
	interval = 5 * time.Second
)

func main() {
	log.SetFlags(log.LstdFlags | log.LUTC)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx); err != nil {
		log.Fatalf("rwxchaos-cni: %v", err)
	}
}

func run(ctx context.Context) error {
	node := os.Getenv("NODE_NAME")
	if node == "" {
		return fmt.Errorf("NODE_NAME is not set (set it from spec.nodeName)")
	}
	cfg, err := rest.InClusterConfig()
	if err != nil {
		return fmt.Errorf("in-cluster config: %w", err)
	}
	// Reach the API server directly: the kubernetes Service needs kube-proxy,
	// which may not be ready yet.
	if ep := os.Getenv("CONTROL_PLANE_ENDPOINT"); ep != "" {
		cfg.Host = "https://" + ep
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	if err := os.WriteFile("/proc/sys/net/ipv4/ip_forward", []byte("1"), 0o644); err != nil {
		return fmt.Errorf("enable ip_forward: %w", err)
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if err := sync(ctx, cs, node); err != nil {
			log.Printf("sync: %v", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

func sync(ctx context.Context, cs kubernetes.Interface, self string) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	nodes, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return fmt.Errorf("list nodes: %w", err)
	}
	var errs []error
	for i := range nodes.Items {
		n := &nodes.Items[i]
		cidr := n.Spec.PodCIDR
		if cidr == "" {
			continue
		}
		if n.Name == self {
			if err := writeConf(cidr); err != nil {
				errs = append(errs, err)
			}
			continue
		}
		ip := internalIPv4(n)
		if ip == "" {
			continue
		}
		if err := ensureRoute(ctx, cidr, ip); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%v", errs)
	}
	return nil
}

func internalIPv4(n *corev1.Node) string {
	for _, a := range n.Status.Addresses {
		if a.Type == corev1.NodeInternalIP && net.ParseIP(a.Address).To4() != nil {
			return a.Address
		}
	}
	return ""
}

// ensureRoute keeps `ip route replace CIDR via IP`; replace is idempotent.
func ensureRoute(ctx context.Context, cidr, via string) error {
	out, err := exec.CommandContext(ctx, "ip", "route", "replace", cidr, "via", via).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip route replace %s via %s: %w: %s", cidr, via, err, bytes.TrimSpace(out))
	}
	return nil
}

// conflist is the CNI config for one node. No masquerade: pods only talk to
// pods, nodes and services inside the cluster, all routed.
func conflist(podCIDR string) ([]byte, error) {
	conf := map[string]any{
		"cniVersion": "0.4.0",
		"name":       "rwxchaos",
		"plugins": []any{
			map[string]any{
				"type":   "ptp",
				"ipMasq": false,
				"mtu":    1500,
				"ipam": map[string]any{
					"type":   "host-local",
					"ranges": []any{[]any{map[string]any{"subnet": podCIDR}}},
					"routes": []any{map[string]any{"dst": "0.0.0.0/0"}},
				},
			},
			map[string]any{"type": "portmap", "capabilities": map[string]bool{"portMappings": true}},
		},
	}
	return json.MarshalIndent(conf, "", "  ")
}

func writeConf(podCIDR string) error {
	want, err := conflist(podCIDR)
	if err != nil {
		return err
	}
	path := filepath.Join(confDir, confName)
	if have, err := os.ReadFile(path); err == nil && bytes.Equal(have, want) {
		return nil
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, want, 0o644); err != nil {
		return fmt.Errorf("write CNI config: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write CNI config: %w", err)
	}
	log.Printf("wrote %s for pod CIDR %s", path, podCIDR)
	return nil
}
