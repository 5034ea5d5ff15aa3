package kind

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
)

// pipelineImage turns the static edi-pipeline binary into a one-file image
// (no base image: there is no registry here, and the binary needs nothing
// else) and returns its reference. The tag is the binary's hash, so the
// image always matches the checkout and is rebuilt only when it changes.
func pipelineImage(ctx context.Context, binary string) (string, error) {
	data, err := os.ReadFile(binary)
	if err != nil {
		return "", fmt.Errorf("pipeline image: %w", err)
	}
	sum := sha256.Sum256(data)
	ref := "rwxchaos/edi-pipeline:bin-" + hex.EncodeToString(sum[:])[:12]
	if exec.CommandContext(ctx, "docker", "image", "inspect", ref).Run() == nil {
		return ref, nil
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, d := range []string{"usr/", "usr/local/", "usr/local/bin/", "tmp/"} {
		if err := tw.WriteHeader(&tar.Header{Name: d, Typeflag: tar.TypeDir, Mode: 0o1777}); err != nil {
			return "", err
		}
	}
	if err := tw.WriteHeader(&tar.Header{Name: "usr/local/bin/edi-pipeline", Mode: 0o755, Size: int64(len(data))}); err != nil {
		return "", err
	}
	if _, err := tw.Write(data); err != nil {
		return "", err
	}
	if err := tw.Close(); err != nil {
		return "", err
	}
	cmd := exec.CommandContext(ctx, "docker", "import",
		"--change", "ENV PATH=/usr/local/bin", "--change", `ENTRYPOINT ["edi-pipeline"]`, "-", ref)
	cmd.Stdin = io.Reader(&buf)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("docker import %s: %w: %s", ref, err, strings.TrimSpace(string(out)))
	}
	return ref, nil
}
