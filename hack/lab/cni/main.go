// Command rwxchaos-cni is the lab's pod network: a host-network DaemonSet that
// writes a ptp + host-local + portmap CNI config for its node's spec.podCIDR
// and keeps a route to every other node's pod CIDR via that node's
// InternalIP. All kind nodes share one docker bridge, so plain routes are
// enough (kindnetd, which does the same, is not on the Go module proxy).
//
// It talks to the API server with net/http and the pod's service account
// rather than client-go: one GET of /api/v1/nodes is all it needs, and the
// binary then builds in seconds and does not change with the repo's k8s deps.
package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"
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

const saDir = "/var/run/secrets/kubernetes.io/serviceaccount"

// apiClient lists nodes with the pod's service account.
type apiClient struct {
	base string
	http *http.Client
}

func newAPIClient() (*apiClient, error) {
	host := os.Getenv("CONTROL_PLANE_ENDPOINT")
	if host == "" {
		// Reach the API server directly when kind tells us where it is: the
		// kubernetes Service needs kube-proxy, which may not be ready yet.
		h, p := os.Getenv("KUBERNETES_SERVICE_HOST"), os.Getenv("KUBERNETES_SERVICE_PORT")
		if h == "" || p == "" {
			return nil, fmt.Errorf("neither CONTROL_PLANE_ENDPOINT nor KUBERNETES_SERVICE_HOST/PORT is set")
		}
		host = net.JoinHostPort(h, p)
	}
	ca, err := os.ReadFile(filepath.Join(saDir, "ca.crt"))
	if err != nil {
		return nil, fmt.Errorf("service account CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(ca) {
		return nil, fmt.Errorf("service account CA: no certificates in %s", filepath.Join(saDir, "ca.crt"))
	}
	return &apiClient{base: "https://" + host, http: &http.Client{
		Timeout:   10 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}},
	}}, nil
}

// node is the part of a v1.Node the agent reads.
type node struct {
	Metadata struct {
		Name string `json:"name"`
	} `json:"metadata"`
	Spec struct {
		PodCIDR string `json:"podCIDR"`
	} `json:"spec"`
	Status struct {
		Addresses []struct {
			Type    string `json:"type"`
			Address string `json:"address"`
		} `json:"addresses"`
	} `json:"status"`
}

func (c *apiClient) nodes(ctx context.Context) ([]node, error) {
	token, err := os.ReadFile(filepath.Join(saDir, "token")) // re-read: projected tokens rotate
	if err != nil {
		return nil, fmt.Errorf("service account token: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/api/v1/nodes", nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+string(bytes.TrimSpace(token)))
	req.Header.Set("Accept", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("list nodes: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("list nodes: HTTP %s", resp.Status)
	}
	var list struct {
		Items []node `json:"items"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
		return nil, fmt.Errorf("list nodes: decode: %w", err)
	}
	return list.Items, nil
}

func run(ctx context.Context) error {
	self := os.Getenv("NODE_NAME")
	if self == "" {
		return fmt.Errorf("NODE_NAME is not set (set it from spec.nodeName)")
	}
	api, err := newAPIClient()
	if err != nil {
		return err
	}
	if err := os.WriteFile("/proc/sys/net/ipv4/ip_forward", []byte("1"), 0o644); err != nil {
		return fmt.Errorf("enable ip_forward: %w", err)
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if err := sync(ctx, api, self); err != nil {
			log.Printf("sync: %v", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

func sync(ctx context.Context, api *apiClient, self string) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	nodes, err := api.nodes(ctx)
	if err != nil {
		return err
	}
	var errs []error
	for i := range nodes {
		n := &nodes[i]
		cidr := n.Spec.PodCIDR
		if cidr == "" {
			continue
		}
		if n.Metadata.Name == self {
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

func internalIPv4(n *node) string {
	for _, a := range n.Status.Addresses {
		if a.Type == "InternalIP" && net.ParseIP(a.Address).To4() != nil {
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
