package storage

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// FusePackage is the package BuildFuse builds.
const FusePackage = "./cmd/rwxchaos-fuse"

// BuildFuse builds cmd/rwxchaos-fuse (CGO_ENABLED=0) into dir and returns the
// executable's path. It runs `go build` in the module containing the working
// directory, so call it from inside the rwxchaos tree (tests do), or set
// RWXCHAOS_FUSE_BINARY to a prebuilt one.
func BuildFuse(ctx context.Context, dir string) (string, error) {
	if b := os.Getenv("RWXCHAOS_FUSE_BINARY"); b != "" {
		return b, nil
	}
	gomod, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("build rwxchaos-fuse: go env GOMOD: %w (is the go tool on PATH? or set RWXCHAOS_FUSE_BINARY)", err)
	}
	mod := strings.TrimSpace(string(gomod))
	if mod == "" || mod == os.DevNull {
		return "", fmt.Errorf("build rwxchaos-fuse: not inside a Go module: run from the rwxchaos checkout or set RWXCHAOS_FUSE_BINARY")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("build rwxchaos-fuse: %w", err)
	}
	out, err := filepath.Abs(filepath.Join(dir, "rwxchaos-fuse"))
	if err != nil {
		return "", err
	}
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, FusePackage)
	cmd.Dir = filepath.Dir(mod)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build %s in %s: %w\n%s", FusePackage, cmd.Dir, err, strings.TrimSpace(string(b)))
	}
	return out, nil
}
