package proc

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// PipelinePackage is the package BuildBinary builds.
const PipelinePackage = "./cmd/edi-pipeline"

// BuildBinary builds cmd/edi-pipeline (CGO_ENABLED=0) into dir and returns
// the executable's path. It runs `go build` in the module containing the
// working directory, so call it from inside the rwxchaos tree (tests do).
func BuildBinary(ctx context.Context, dir string) (string, error) {
	modRoot, err := moduleRoot(ctx)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("build edi-pipeline: %w", err)
	}
	out, err := filepath.Abs(filepath.Join(dir, "edi-pipeline"))
	if err != nil {
		return "", err
	}
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, PipelinePackage)
	cmd.Dir = modRoot
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build %s in %s: %w\n%s", PipelinePackage, modRoot, err, strings.TrimSpace(string(b)))
	}
	return out, nil
}

// moduleRoot is the directory of the go.mod governing the working directory.
func moduleRoot(ctx context.Context) (string, error) {
	b, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w (is the go tool on PATH?)", err)
	}
	gomod := strings.TrimSpace(string(b))
	if gomod == "" || gomod == os.DevNull {
		return "", fmt.Errorf("not inside a Go module: run from the rwxchaos checkout")
	}
	return filepath.Dir(gomod), nil
}
