package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestPatchSpecsDropsSysResourceAndKeepsNumbers(t *testing.T) {
	dir := t.TempDir()
	spec := `{"ociVersion":"1.0.2","process":{"capabilities":{"bounding":["CAP_CHOWN","CAP_SYS_RESOURCE"],"effective":["CAP_SYS_RESOURCE"]}},"linux":{"resources":{"memory":{"limit":9223372036854775807}}}}`
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(spec), 0o600); err != nil {
		t.Fatal(err)
	}
	proc := filepath.Join(dir, "process.json")
	if err := os.WriteFile(proc, []byte(`{"capabilities":{"bounding":["CAP_SYS_RESOURCE","CAP_KILL"]}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := patchSpecs([]string{"--root", "/run/x", "create", "--bundle", dir, "id"}); err != nil {
		t.Fatal(err)
	}
	if err := patchSpecs([]string{"exec", "--process=" + proc, "id"}); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(filepath.Join(dir, "config.json"))
	if strings.Contains(string(got), "CAP_SYS_RESOURCE") || !strings.Contains(string(got), "CAP_CHOWN") {
		t.Fatalf("bundle spec not patched right: %s", got)
	}
	if !strings.Contains(string(got), "9223372036854775807") {
		t.Fatalf("64-bit number not kept exactly: %s", got)
	}
	got, _ = os.ReadFile(proc)
	if strings.Contains(string(got), "CAP_SYS_RESOURCE") || !strings.Contains(string(got), "CAP_KILL") {
		t.Fatalf("process spec not patched right: %s", got)
	}
}
