package main

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

// A step's key must change with the versions it uses, its script and the
// outputs of its dependencies, and with nothing else.
func TestKeyTracksOnlyDeclaredInputs(t *testing.T) {
	repo := t.TempDir()
	steps := filepath.Join(repo, "hack", "lab", "steps")
	if err := os.MkdirAll(steps, 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(name, body string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(steps, name), []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write("lib.sh", "# lib\n")
	write("s.sh", "echo s\n")
	b := &builder{repo: repo, versions: map[string]string{"A": "1", "B": "1"},
		hashes: map[string]string{}, outHashes: map[string]string{"dep": "x"}}
	s := step{name: "s", vars: []string{"A"}, deps: []string{"dep"}}
	ctx := context.Background()
	key := func() string {
		t.Helper()
		k, err := b.key(ctx, s)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	base := key()
	b.versions["B"] = "2"
	if key() != base {
		t.Fatal("key changed with a version the step does not use")
	}
	b.hashes["dep"] = "other input hash"
	if key() != base {
		t.Fatal("key changed with a dependency's input hash; only its output counts")
	}
	b.versions["A"] = "2"
	k1 := key()
	if k1 == base {
		t.Fatal("key ignored a version the step uses")
	}
	b.outHashes["dep"] = "y"
	k2 := key()
	if k2 == k1 {
		t.Fatal("key ignored a dependency's output")
	}
	write("s.sh", "echo changed\n")
	if key() == k2 {
		t.Fatal("key ignored the step script")
	}
	if _, err := b.key(ctx, step{name: "s", vars: []string{"MISSING"}}); err == nil {
		t.Fatal("unknown version key accepted")
	}
}
