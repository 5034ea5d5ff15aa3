package nfsfuse_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/rwxchaos/rwxchaos/framework/trigger"
)

// The userspace NFS client's FUSE layer holds the calls the runner's
// trigger rules name, like the loopback server: a rename into out/ is
// reported with its caller and held (performed, reply withheld) until
// released; a SIGKILL sent meanwhile stays pending and the process never
// runs its next command. An fsync is failed with EIO on request.
func TestTriggerHoldsCallsOverNFS(t *testing.T) {
	srv := startServer(t)
	calls := make(chan *trigger.Call, 16)
	ctl, err := trigger.Listen(filepath.Join(t.TempDir(), "t.sock"), func(c *trigger.Call) { calls <- c }, t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	if err := ctl.SetRules("", []trigger.Rule{
		{Name: "kill", Op: trigger.OpRename, Path: "out/*.json", When: trigger.After},
		{Name: "eio", Op: trigger.OpFsync, Path: "s/*", When: trigger.Before},
	}); err != nil {
		t.Fatal(err)
	}
	m := startMount(t, srv, "trig", "--trigger", ctl.Path())
	t.Cleanup(func() { _ = ctl.Close() }) // first: release anything held
	next := func() *trigger.Call {
		t.Helper()
		select {
		case c := <-calls:
			return c
		case <-time.After(15 * time.Second):
			t.Fatal("no call reported within 15s")
			return nil
		}
	}
	for _, d := range []string{"out", "s"} {
		if err := os.Mkdir(filepath.Join(m.dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command("sh", "-c", "echo x > out/.a.tmp && mv out/.a.tmp out/a.json && touch after")
	cmd.Dir = m.dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) })
	call := next()
	for call.Errno != 0 {
		// GNU mv tries renameat2(RENAME_NOREPLACE) first, which NFSv4
		// cannot do (EINVAL), then falls back to rename(2).
		_ = call.Release(0)
		call = next()
	}
	if call.Op != trigger.OpRename || call.Path != "out/.a.tmp" || call.To != "out/a.json" || call.Comm != "mv" {
		t.Fatalf("reported %+v", call.Report)
	}
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	deadline := time.Now().Add(5 * time.Second)
	for !trigger.Doomed(call.Pid, call.Tid) {
		if time.Now().After(deadline) {
			t.Fatal("mv does not show SIGKILL pending")
		}
		time.Sleep(time.Millisecond)
	}
	_ = call.Release(0)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the script did not end after the release")
	}
	if _, err := os.Stat(filepath.Join(m.dir, "out", "a.json")); err != nil {
		t.Fatalf("after: the rename was not performed: %v", err)
	}
	if _, err := os.Stat(filepath.Join(m.dir, "after")); err == nil {
		t.Fatal("the killed script ran past the held rename")
	}

	errc := make(chan error, 1)
	go func() {
		f, err := os.Create(filepath.Join(m.dir, "s", "g"))
		if err != nil {
			errc <- err
			return
		}
		defer f.Close()
		errc <- f.Sync()
	}()
	call = next()
	if call.Op != trigger.OpFsync || call.Path != "s/g" || call.Pid != os.Getpid() {
		t.Fatalf("reported %+v", call.Report)
	}
	_ = call.Release(syscall.EIO)
	if err := <-errc; err == nil {
		t.Fatal("fsync succeeded although the runner failed it with EIO")
	}
}
