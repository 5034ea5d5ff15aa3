package nfsfuse

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/hanwen/go-fuse/v2/fuse"
)

// killable returns a context for an NFS call made for a FUSE request
// that ends only when the calling process is being killed. Linux's NFS
// client waits TASK_KILLABLE on a hard mount: a signal with a handler does
// not interrupt a stat or a write, only a fatal one does. FUSE sends an
// INTERRUPT for any signal, so on INTERRUPT the caller's pending signals
// are checked (a fatal signal shows as a pending SIGKILL) and then every
// 200 ms until the call ends. Blocking lock waits are interruptible
// instead, as in the kernel (see setlk).
func killable(ctx context.Context) (context.Context, context.CancelFunc) {
	fc, ok := ctx.(*fuse.Context)
	if !ok || fc.Cancel == nil {
		return ctx, func() {}
	}
	kctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	pid := fc.Caller.Pid
	go func() {
		select {
		case <-fc.Cancel:
		case <-done:
			return
		}
		for {
			if fatalPending(pid) {
				cancel()
				return
			}
			select {
			case <-done:
				return
			case <-time.After(200 * time.Millisecond):
			}
		}
	}()
	return kctx, func() {
		close(done)
		cancel()
	}
}

// fatalPending reports whether task pid (a thread id, as FUSE reports it)
// has SIGKILL pending or is gone. pid 0 (not visible in our pid
// namespace) counts as not killed: the call goes on, as a hard mount does.
func fatalPending(pid uint32) bool {
	if pid == 0 {
		return false
	}
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return os.IsNotExist(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		switch k {
		case "State":
			if strings.Contains(v, "Z") || strings.Contains(v, "X") {
				return true
			}
		case "SigPnd", "ShdPnd":
			m, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			if err == nil && m&(1<<(9-1)) != 0 { // SIGKILL
				return true
			}
		}
	}
	return false
}
