package fuseserver

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Usage errors say what to do; the mount itself is tested through
// framework/storage, which runs this command as a separate process.
func TestUsageErrors(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "f")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "--backing and --mount are required"},
		{[]string{"--backing", dir}, "--backing and --mount are required"},
		{[]string{"--backing", file, "--mount", dir}, "is not a directory"},
		{[]string{"--backing", dir, "--mount", filepath.Join(dir, "missing")}, "create it first"},
	} {
		err := Run(tc.args)
		if os.Geteuid() != 0 && tc.want != "--backing and --mount are required" {
			tc.want = "must run as root"
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Run(%q) = %v, want %q", tc.args, err, tc.want)
		}
	}
}
