package storage

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rwxchaos/rwxchaos/framework/fault"
	"github.com/rwxchaos/rwxchaos/framework/lab"
)

func TestGraceWindows(t *testing.T) {
	log := `2026-11-30T19:54:16.100000000Z 30/11/2026 19:54:16 : epoch 1 : h : nfs-ganesha-1[main] nfs_start_grace :STATE :EVENT :NFS Server Now IN GRACE, duration 10
2026-11-30T19:54:16.110000000Z 30/11/2026 19:54:16 : epoch 1 : h : nfs-ganesha-1[main] nfs_try_lift_grace :STATE :EVENT :check grace:reclaim complete(0) clid count(0)
2026-11-30T19:54:16.120000000Z 30/11/2026 19:54:16 : epoch 1 : h : nfs-ganesha-1[main] nfs_lift_grace_locked :STATE :EVENT :NFS Server Now NOT IN GRACE
not a log line
2026-11-30T20:00:00.000000000Z ... nfs_start_grace :STATE :EVENT :NFS Server Now IN GRACE, duration 10
2026-11-30T20:00:09.500000000Z ... nfs_try_lift_grace :STATE :EVENT :check grace:reclaim complete(1) clid count(2)
2026-11-30T20:00:10.250000000Z ... nfs_lift_grace_locked :STATE :EVENT :NFS Server Now NOT IN GRACE
2026-11-30T20:05:00.000000000Z ... nfs_start_grace :STATE :EVENT :NFS Server Now IN GRACE, duration 10
`
	ws, err := GraceWindows(strings.NewReader(log))
	if err != nil {
		t.Fatal(err)
	}
	if len(ws) != 2 {
		t.Fatalf("windows %+v, want the one with clients and the open one", ws)
	}
	if d := ws[0].Duration(); d != 10250*time.Millisecond || ws[0].Clients != 2 {
		t.Errorf("first window %s with %d clients", d, ws[0].Clients)
	}
	if !ws[1].End.IsZero() || ws[1].Duration() != 0 {
		t.Errorf("open window %+v", ws[1])
	}
}

// fakeRPC answers NFS NULL calls like a server, or accepts and never
// answers when frozen (as a paused server's kernel does).
func fakeRPC(t *testing.T, frozen bool) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				var hdr [4]byte
				if _, err := io.ReadFull(c, hdr[:]); err != nil {
					return
				}
				body := make([]byte, binary.BigEndian.Uint32(hdr[:])&0x7fffffff)
				if _, err := io.ReadFull(c, body); err != nil || frozen {
					_, _ = io.Copy(io.Discard, c)
					return
				}
				reply := binary.BigEndian.AppendUint32(nil, 0x80000000|24)
				reply = append(reply, body[:4]...) // xid
				for _, v := range []uint32{1, 0, 0, 0, 0} {
					reply = binary.BigEndian.AppendUint32(reply, v)
				}
				_, _ = c.Write(reply)
			}()
		}
	}()
	return l.Addr().String()
}

func TestNullPing(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := NullPing(ctx, fakeRPC(t, false)); err != nil {
		t.Fatalf("answering server: %v", err)
	}
	sctx, scancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer scancel()
	if err := NullPing(sctx, fakeRPC(t, true)); !errors.Is(err, ErrStalled) {
		t.Fatalf("frozen server: %v, want ErrStalled", err)
	}
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := l.Addr().String()
	l.Close()
	if err := NullPing(ctx, addr); err == nil || errors.Is(err, ErrStalled) {
		t.Fatalf("no server: %v, want a refusal", err)
	}
}

func TestGaneshaConfig(t *testing.T) {
	if _, err := NewGanesha(GaneshaConfig{Name: "x", Image: "i", Dir: t.TempDir()}); err == nil {
		t.Error("a name without the rwxchaos- prefix was accepted")
	}
	if _, err := NewGanesha(GaneshaConfig{Name: "rwxchaos-x"}); err == nil || !strings.Contains(err.Error(), "Image") || !strings.Contains(err.Error(), "Dir") {
		t.Errorf("missing fields: %v", err)
	}
	if _, err := NewGanesha(GaneshaConfig{Name: "rwxchaos-x", Image: "i", Dir: t.TempDir(), Lease: 1500 * time.Millisecond}); err == nil {
		t.Error("a lease in fractions of a second was accepted")
	}
	g, err := NewGanesha(GaneshaConfig{Name: "rwxchaos-x", Image: "i", Dir: t.TempDir(), Lease: 15 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	conf := g.Config()
	for _, want := range []string{"Protocols = 4;", "Lease_Lifetime = 15;", "Grace_Period = 90;", "RecoveryRoot = " + containerRecovery, "Enable_NLM = false;", "Pseudo = /export;"} {
		if !strings.Contains(conf, want) {
			t.Errorf("config lacks %q:\n%s", want, conf)
		}
	}
	if g.Grace() != DefaultNFSGrace || g.Lease() != 15*time.Second {
		t.Errorf("lease %s grace %s", g.Lease(), g.Grace())
	}
}

// needLabDocker skips unless the lab's nfs-ganesha image and docker are
// there (RWXCHAOS_LAB=1 or CI=true make a missing lab a failure).
func needLabDocker(t *testing.T) string {
	t.Helper()
	required := lab.Requested() || os.Getenv("CI") == "true"
	fail := func(msg string) {
		if required {
			t.Fatal(msg)
		}
		t.Skip(msg + " (RWXCHAOS_LAB=1 after `make lab` runs this test)")
	}
	if !required {
		fail("the nfs-ganesha container test needs the lab")
	}
	m, err := lab.LoadDefault()
	if err != nil {
		fail(err.Error())
	}
	if m.Images.NFSServer == "" {
		fail("the lab manifest names no nfs-ganesha image: rerun `make lab`")
	}
	if out, err := exec.Command("docker", "image", "inspect", m.Images.NFSServer).CombinedOutput(); err != nil {
		fail(fmt.Sprintf("docker image %s: %v: %s", m.Images.NFSServer, err, out))
	}
	return m.Images.NFSServer
}

// The container serves NFSv4 on its docker network; pause freezes it
// (NULL calls hang), unpause thaws it; a restart with a known client
// enters the grace period the config asks for, and the log shows it; a
// kill stops it until Restart; Stop removes it.
func TestGaneshaContainer(t *testing.T) {
	image := needLabDocker(t)
	ctx := context.Background()
	netName := fmt.Sprintf("rwxchaos-gtest-%d", os.Getpid())
	if out, err := exec.Command("docker", "network", "create", netName).CombinedOutput(); err != nil {
		t.Fatalf("docker network create: %v: %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("docker", "network", "rm", netName).Run() })
	dir := t.TempDir()
	g, err := NewGanesha(GaneshaConfig{Name: netName + "-nfs", Image: image, Network: netName, Dir: dir,
		Lease: 5 * time.Second, Grace: 5 * time.Second, Cluster: netName})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := g.Stop(context.Background()); err != nil {
			t.Errorf("stop: %v", err)
		}
	})
	start := time.Now()
	if err := g.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("serving at %s after %s", g.Addr(), time.Since(start).Round(time.Millisecond))

	// A client that opens a file is recorded in the recovery directory,
	// so the next start waits for it: a grace period. libnfs (NFSv4.0)
	// is enough for that when the host has it.
	if _, err := exec.LookPath("nfs-cp"); err == nil {
		src := filepath.Join(t.TempDir(), "f")
		_ = os.WriteFile(src, []byte("hello"), 0o644)
		url := fmt.Sprintf("nfs://%s/export/f?version=4", g.IP())
		if out, err := exec.Command("nfs-cp", src, url).CombinedOutput(); err != nil {
			t.Fatalf("nfs-cp: %v: %s", err, out)
		}
		if b, err := os.ReadFile(filepath.Join(g.Export(), "f")); err != nil || string(b) != "hello" {
			t.Fatalf("the file written over NFS is not in the export on the host: %q %v", b, err)
		}
	}

	inj := fault.NewInjector(fault.Options{VerifyTimeout: 30 * time.Second})
	pause, _ := NewServerFault("p", ActionPause, g)
	if _, err := inj.Run(ctx, pause, time.Second); err != nil {
		t.Fatalf("pause: %v", err)
	}
	restart, _ := NewServerFault("r", ActionRestart, g)
	if _, err := inj.Run(ctx, restart, 0); err != nil {
		t.Fatalf("restart: %v", err)
	}
	logPath := filepath.Join(dir, "ganesha.log")
	graces := func() []GraceWindow {
		if err := g.SaveLogs(ctx, logPath); err != nil {
			t.Fatal(err)
		}
		f, err := os.Open(logPath)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		ws, err := GraceWindows(f)
		if err != nil {
			t.Fatal(err)
		}
		return ws
	}
	if _, err := exec.LookPath("nfs-cp"); err == nil {
		var ws []GraceWindow
		for end := time.Now().Add(20 * time.Second); time.Now().Before(end); time.Sleep(200 * time.Millisecond) {
			if ws = graces(); len(ws) > 0 && !ws[0].End.IsZero() {
				break
			}
		}
		t.Logf("grace windows: %+v", ws)
		if len(ws) == 0 || ws[0].Duration() < 4*time.Second || ws[0].Duration() > 8*time.Second {
			t.Errorf("want a grace period of about 5s after the restart, got %+v", ws)
		}
	}
	kill, _ := NewServerFault("k", ActionKill, g)
	if _, err := inj.Run(ctx, kill, time.Second); err != nil {
		t.Fatalf("kill: %v", err)
	}
	if err := g.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := g.State(ctx); err == nil {
		t.Error("the container is still there after Stop")
	}
}
