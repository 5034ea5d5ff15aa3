package local

import (
	"context"
	"os/exec"
	"testing"

	"github.com/rwxchaos/rwxchaos/framework/fault"
)

// A target that ended between the pick and the signal is picked again: the
// fault signals the next engine instead of failing the run.
func TestRetargetPicksAgainWhenTheTargetIsGone(t *testing.T) {
	gone := exec.Command("true")
	if err := gone.Run(); err != nil {
		t.Fatal(err)
	}
	next := exec.Command("sleep", "60")
	if err := next.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if next.Process != nil && next.ProcessState == nil {
			_ = next.Process.Kill()
			_ = next.Wait()
		}
	})
	picks := 0
	r := &retarget{
		Signal: &fault.Signal{FaultName: "kill-engine", Act: "process-kill", Desc: "engine run that ended", Pid: gone.Process.Pid},
		pick: func(context.Context) (*fault.Signal, error) {
			picks++
			return &fault.Signal{FaultName: "kill-engine", Act: "process-kill", Desc: "next engine run", Pid: next.Process.Pid}, nil
		},
	}
	if err := r.Inject(context.Background()); err != nil {
		t.Fatalf("inject: %v", err)
	}
	if picks != 1 || r.Target() != "next engine run" {
		t.Fatalf("picks %d, target %q; want 1 pick and the next engine run", picks, r.Target())
	}
	if err := next.Wait(); err == nil {
		t.Fatal("the next engine run was not killed")
	}
}
