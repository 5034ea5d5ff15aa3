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

// NFSClientPackage is the package BuildNFSClient builds.
const NFSClientPackage = "./cmd/rwxchaos-nfs"

// BuildFuse builds cmd/rwxchaos-fuse (CGO_ENABLED=0) into dir and returns the
// executable's path. It runs `go build` in the module containing the working
// directory, so call it from inside the rwxchaos tree (tests do), or set
// RWXCHAOS_FUSE_BINARY to a prebuilt one.
func BuildFuse(ctx context.Context, dir string) (string, error) {
	return buildStatic(ctx, dir, FusePackage, "rwxchaos-fuse", "RWXCHAOS_FUSE_BINARY")
}

// BuildNFSClient builds cmd/rwxchaos-nfs, the userspace NFSv4.1 client, as
// a static binary (CGO_ENABLED=0: it runs inside kind nodes, whose libc is
// not the host's) into dir and returns its path; RWXCHAOS_NFS_BINARY names
// a prebuilt one instead.
func BuildNFSClient(ctx context.Context, dir string) (string, error) {
	return buildStatic(ctx, dir, NFSClientPackage, "rwxchaos-nfs", "RWXCHAOS_NFS_BINARY")
}

func buildStatic(ctx context.Context, dir, pkg, name, env string) (string, error) {
	if b := os.Getenv(env); b != "" {
		return b, nil
	}
	gomod, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("build %s: go env GOMOD: %w (is the go tool on PATH? or set %s)", name, err, env)
	}
	mod := strings.TrimSpace(string(gomod))
	if mod == "" || mod == os.DevNull {
		return "", fmt.Errorf("build %s: not inside a Go module: run from the rwxchaos checkout or set %s", name, env)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("build %s: %w", name, err)
	}
	out, err := filepath.Abs(filepath.Join(dir, name))
	if err != nil {
		return "", err
	}
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, pkg)
	cmd.Dir = filepath.Dir(mod)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build %s in %s: %w\n%s", pkg, cmd.Dir, err, strings.TrimSpace(string(b)))
	}
	return out, nil
}
