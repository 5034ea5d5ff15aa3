package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rwxchaos/rwxchaos/framework/storage"
)

// The userspace NFS client is carried by the rwxchaos binary: `rwxchaos
// __nfs-mount` mounts a ganesha export through FUSE, files written through
// the mount land in the export, and SIGTERM unmounts.
func TestCarriedNFSClientMounts(t *testing.T) {
	why := ""
	if _, err := storage.GaneshaBinary(); err != nil {
		why = err.Error()
	} else if os.Geteuid() != 0 {
		why = "not root (the client mounts with mount(2))"
	} else if _, err := os.Stat("/dev/fuse"); err != nil {
		why = "no /dev/fuse"
	}
	if why != "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("the carried NFS client cannot be tested: %s", why)
		}
		t.Skipf("the carried NFS client cannot be tested: %s", why)
	}
	srv, err := storage.NewNFS(storage.NFSConfig{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := srv.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Stop(ctx) })

	dir := t.TempDir()
	mnt, ready := filepath.Join(dir, "mnt"), filepath.Join(dir, "ready.json")
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(cliBin, "__nfs-mount", "--server", "127.0.0.1:"+strconv.Itoa(srv.Port()), "--mount", mnt,
		"--name", "carried", "--ready", ready, "--no-guard")
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGCONT)
		_ = cmd.Process.Kill()
		_ = syscall.Unmount(mnt, syscall.MNT_DETACH)
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := os.Stat(ready); err == nil {
			break
		}
		select {
		case err := <-exited:
			t.Fatalf("rwxchaos __nfs-mount exited before mounting: %v\n%s", err, logs.String())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("rwxchaos __nfs-mount did not mount within 30s:\n%s", logs.String())
		}
	}
	mounts, _ := os.ReadFile("/proc/mounts")
	if !strings.Contains(string(mounts), "rwxchaos-nfs:carried "+mnt+" ") {
		t.Fatalf("no rwxchaos-nfs:carried mount on %s in /proc/mounts", mnt)
	}
	if err := os.WriteFile(filepath.Join(mnt, "hello.edi"), []byte("through the carried client\n"), 0o644); err != nil {
		t.Fatalf("write through the mount: %v\n%s", err, logs.String())
	}
	got, err := os.ReadFile(filepath.Join(srv.Export(), "hello.edi"))
	if err != nil || string(got) != "through the carried client\n" {
		t.Fatalf("the export holds %q (%v)", got, err)
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("after SIGTERM: %v\n%s", err, logs.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("rwxchaos __nfs-mount did not exit on SIGTERM:\n%s", logs.String())
	}
	if mounts, _ := os.ReadFile("/proc/mounts"); strings.Contains(string(mounts), " "+mnt+" ") {
		t.Fatal("still mounted after a clean exit")
	}
}
