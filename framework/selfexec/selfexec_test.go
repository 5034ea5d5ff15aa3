package selfexec

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// run starts this test binary with args, as a role would be started.
func run(t *testing.T, env []string, args ...string) (string, int) {
	t.Helper()
	argv, err := Pipeline.Command()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(argv[0], args...)
	cmd.Env = append(os.Environ(), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return out.String(), ee.ExitCode()
	}
	if err != nil {
		t.Fatal(err)
	}
	return out.String(), 0
}

func TestCommandIsThisBinaryWithTheSubcommand(t *testing.T) {
	t.Setenv(Pipeline.Env, "")
	argv, err := Pipeline.Command()
	if err != nil {
		t.Fatal(err)
	}
	exe, _ := Executable()
	if len(argv) != 2 || argv[0] != exe || argv[1] != "__pipeline" {
		t.Fatalf("Command() = %q, want [%s __pipeline]", argv, exe)
	}
	if !Pipeline.Runs(append(argv, "webserver")) || Fuse.Runs(append(argv, "webserver")) {
		t.Fatalf("Runs does not tell the pipeline from the file server by %q", argv)
	}
	// The standalone name, or argv[1] == "__fuse" whatever the program's
	// name (test binaries re-execute themselves too).
	if !Fuse.Runs([]string{"/opt/bin/rwxchaos-fuse", "--backing", "x"}) || !Fuse.Runs([]string{"/x/storage.test", "__fuse"}) {
		t.Fatal("Runs does not recognise a standalone or re-executed file server")
	}
	if Fuse.Runs(nil) || Fuse.Runs([]string{"/bin/sleep", "10"}) {
		t.Fatal("Runs claims an unrelated process")
	}
}

func TestDispatchRunsTheRoles(t *testing.T) {
	if out, code := run(t, nil, "__pipeline", "help"); code != 0 || !strings.Contains(out, "Subcommands") {
		t.Fatalf("__pipeline help: exit %d: %s", code, out)
	}
	if out, code := run(t, nil, "__pipeline", "engine"); code != 2 || !strings.Contains(out, "--root is required") {
		t.Fatalf("__pipeline engine: exit %d: %s", code, out)
	}
	if out, code := run(t, nil, "__volume"); code != 2 || !strings.Contains(out, "usage: rwxchaos __volume") {
		t.Fatalf("__volume: exit %d: %s", code, out)
	}
	if out, code := run(t, nil, "__fuse"); code != 1 || !strings.Contains(out, "--backing and --mount are required") {
		t.Fatalf("__fuse: exit %d: %s", code, out)
	}
	if out, code := run(t, nil, "__nfs-mount"); code != 2 || !strings.Contains(out, "--server and --mount are required") {
		t.Fatalf("__nfs-mount: exit %d: %s", code, out)
	}
}

func TestCommandOverridesAndRefusals(t *testing.T) {
	dir := t.TempDir()
	prog := filepath.Join(dir, "edi-pipeline")
	if err := os.WriteFile(prog, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv(Pipeline.Env, prog)
	if argv, err := Pipeline.Command(); err != nil || len(argv) != 1 || argv[0] != prog {
		t.Fatalf("override: %q %v", argv, err)
	}
	t.Setenv(Pipeline.Env, filepath.Join(dir, "missing"))
	if _, err := Pipeline.Command(); err == nil || !strings.Contains(err.Error(), Pipeline.Env) {
		t.Fatalf("missing override: %v", err)
	}
	t.Setenv(Pipeline.Env, dir)
	if _, err := Pipeline.Command(); err == nil || !strings.Contains(err.Error(), "not an executable") {
		t.Fatalf("directory override: %v", err)
	}
	t.Setenv(Pipeline.Env, "")
	// Arguments that name no role leave the program alone.
	dispatch([]string{"prog"})
	dispatch([]string{"prog", "run", "__pipeline"})
	dispatch([]string{"prog", "__nosuchrole"})
	// A role this build does not carry is refused with what to do.
	missing := &Role{Name: "future", Env: "RWXCHAOS_FUTURE_BINARY", Standalone: "rwxchaos-future"}
	if _, err := missing.Command(); err == nil || !strings.Contains(err.Error(), "RWXCHAOS_FUTURE_BINARY") {
		t.Fatalf("uncarried role: %v", err)
	}
}
