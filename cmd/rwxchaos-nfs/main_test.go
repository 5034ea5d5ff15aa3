package main

import (
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
)

func TestMain(m *testing.M) {
	if os.Getenv("RWXCHAOS_NFS_RUN_MAIN") == "1" {
		os.Args = append([]string{"rwxchaos-nfs"}, strings.Fields(os.Getenv("RWXCHAOS_NFS_ARGS"))...)
		main()
		return
	}
	os.Exit(m.Run())
}

// The command is nfsfuse.Main: exit status and messages come through.
func TestCommandExitStatus(t *testing.T) {
	for _, tc := range []struct {
		args string
		code int
		say  string
	}{
		{"", 2, "--server and --mount are required"},
		{"--help", 0, "rwxchaos-nfs --server HOST:PORT --mount DIR"},
		{"--server 127.0.0.1:1 --mount /nonexistent-rwxchaos", 1, ""},
	} {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), "RWXCHAOS_NFS_RUN_MAIN=1", "RWXCHAOS_NFS_ARGS="+tc.args)
		out, err := cmd.CombinedOutput()
		code := 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		}
		if code != tc.code || !strings.Contains(string(out), tc.say) {
			t.Errorf("rwxchaos-nfs %s: exit %d, output %q; want %d and %q", tc.args, code, out, tc.code, tc.say)
		}
	}
}
