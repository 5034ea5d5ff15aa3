package storage

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rwxchaos/rwxchaos/framework/fault"
	"github.com/rwxchaos/rwxchaos/framework/support"
)

// needGanesha skips when nfs-ganesha or libnfs-utils is missing, except under
// CI=true: CI installs NFSPackages and must run this test.
func needGanesha(t *testing.T) {
	t.Helper()
	var missing []string
	if _, err := GaneshaBinary(); err != nil {
		missing = append(missing, err.Error())
	}
	for _, tool := range []string{"nfs-ls", "nfs-cp", "nfs-cat"} {
		if _, err := exec.LookPath(tool); err != nil {
			missing = append(missing, tool+" not found")
		}
	}
	if os.Geteuid() != 0 {
		missing = append(missing, "not root")
	}
	if len(missing) == 0 {
		return
	}
	msg := strings.Join(missing, "; ") + " (apt-get install -y " + strings.Join(NFSPackages, " ") + ")"
	if os.Getenv("CI") == "true" {
		t.Fatalf("nfs-ganesha cannot be tested: %s", msg)
	}
	t.Skipf("nfs-ganesha cannot be tested: %s", msg)
}

// Ganesha serves NFSv4 on loopback as a plain process; a userspace client
// writes and reads through it; SIGSTOP makes the client hang, SIGCONT makes
// it answer; a kill and restart serves the same files again.
func TestGaneshaServePauseResume(t *testing.T) {
	needGanesha(t)
	s, err := NewNFS(NFSConfig{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Stop(context.Background()); err != nil {
			t.Errorf("stop: %v", err)
		}
	})
	ctx := context.Background()
	start := time.Now()
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("ganesha served %s after %s", s.URL(), time.Since(start).Round(time.Millisecond))
	if err := ProbeNFS(ctx, s.URL()); err != nil {
		t.Fatal(err)
	}
	// What nfs-cp wrote is in the exported directory.
	probes, _ := filepath.Glob(filepath.Join(s.Export(), ".rwxchaos-probe-*"))
	if len(probes) == 0 {
		t.Fatalf("no probe file in %s", s.Export())
	}
	if err := os.WriteFile(filepath.Join(s.Export(), "server-side.txt"), []byte("hello"), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := outputNFS(ctxWithin(5*time.Second), "nfs-cat", s.FileURL("server-side.txt")); err != nil || out != "hello" {
		t.Fatalf("nfs-cat: %q %v", out, err)
	}

	if err := s.Pause(ctx, ""); err != nil {
		t.Fatal(err)
	}
	pstart := time.Now()
	err = ProbeNFS(ctxWithin(time.Second), s.URL())
	if !errors.Is(err, ErrStalled) {
		_ = s.Resume(ctx, "")
		t.Fatalf("probe while ganesha is stopped: %v, want ErrStalled", err)
	}
	t.Logf("paused: probe gave up after %s: %v", time.Since(pstart).Round(time.Millisecond), err)
	if err := s.Resume(ctx, ""); err != nil {
		t.Fatal(err)
	}
	rstart := time.Now()
	if err := ProbeNFS(ctxWithin(5*time.Second), s.URL()); err != nil {
		t.Fatalf("probe after SIGCONT: %v", err)
	}
	t.Logf("resumed: probe answered in %s", time.Since(rstart).Round(time.Millisecond))

	// The fault, through the Injector.
	in := fault.NewInjector(fault.Options{Poll: 50 * time.Millisecond, VerifyTimeout: 10 * time.Second})
	f, err := NewFault("pause-nfs", ActionPause, s, "")
	if err != nil {
		t.Fatal(err)
	}
	if u := f.Undo(); u == nil || u.Kind != "signal" || u.Sig != int(syscall.SIGCONT) || u.Pid != s.Pids("")[0] {
		t.Fatalf("undo %+v", u)
	}
	rec, err := in.Run(ctx, f, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("storage-pause on ganesha: verified %s after inject, healed-verified %s after heal",
		time.Duration(rec.Verified-rec.Injected).Round(time.Millisecond), time.Duration(rec.HealVerified-rec.Healed).Round(time.Millisecond))

	old := s.Pids("")[0]
	kf, _ := NewFault("kill-nfs", ActionKill, s, "")
	if _, err := in.Run(ctx, kf, 300*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if s.Pids("")[0] == old {
		t.Fatal("same ganesha after storage-kill")
	}
	if out, err := outputNFS(ctxWithin(5*time.Second), "nfs-cat", s.FileURL("server-side.txt")); err != nil || out != "hello" {
		t.Fatalf("after restart nfs-cat: %q %v", out, err)
	}
	rf, _ := NewFault("restart-nfs", ActionRestart, s, "")
	rec, err = in.Run(ctx, rf, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("storage-restart on ganesha: down %s, serving again %s after start",
		time.Duration(rec.Healed-rec.Injected).Round(time.Millisecond), time.Duration(rec.HealVerified-rec.Healed).Round(time.Millisecond))
}

func TestKernelNFS(t *testing.T) {
	if !kernelHasNFS("nodev\tsysfs\nnodev\tnfs4\n\text4\n") || kernelHasNFS("nodev\tfuse\n\text4\nnodev\tnfsd\n") {
		t.Fatal("parsing /proc/filesystems")
	}
	err := RequireNFSMount("storage backend nfs", "kind")
	if KernelCanMountNFS() {
		if err != nil {
			t.Fatal(err)
		}
		return
	}
	var u *support.Unsupported
	if !errors.As(err, &u) || !strings.Contains(u.Reason, "no NFS client") {
		t.Fatalf("RequireNFSMount on a kernel without NFS: %v", err)
	}
	t.Logf("this kernel: %v", err)
}
