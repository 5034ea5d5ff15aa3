package volhelper

import (
	"archive/tar"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

func TestWriteListTar(t *testing.T) {
	root := t.TempDir()
	in := filepath.Join(root, "botssys", "infile", "r1")
	for i, name := range []string{"a.edi", "b.edi"} {
		if code := Main([]string{"write", filepath.Join(in, name), filepath.Join(root, ".rwxchaos-tmp")},
			strings.NewReader(strings.Repeat("x", 10+i)), io.Discard, os.Stderr); code != 0 {
			t.Fatalf("write %s: exit %d", name, code)
		}
	}
	if left, _ := os.ReadDir(filepath.Join(root, ".rwxchaos-tmp")); len(left) != 0 {
		t.Fatalf("temp files left: %v", left)
	}
	var out bytes.Buffer
	if code := Main([]string{"list", filepath.Join(root, "botssys")}, nil, &out, os.Stderr); code != 0 {
		t.Fatal(code)
	}
	if got := strings.Fields(out.String()); strings.Join(got, " ") != "infile/r1/a.edi infile/r1/b.edi" {
		t.Fatalf("list: %q", got)
	}
	out.Reset()
	if code := Main([]string{"list", filepath.Join(root, "missing")}, nil, &out, os.Stderr); code != 0 || out.Len() != 0 {
		t.Fatalf("list of a missing dir: exit %d %q", code, out.String())
	}

	out.Reset()
	if code := Main([]string{"tar", root, "botssys"}, nil, &out, os.Stderr); code != 0 {
		t.Fatal(code)
	}
	tr := tar.NewReader(&out)
	var names []string
	sizes := map[string]int64{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, h.Name)
		sizes[h.Name] = h.Size
	}
	sort.Strings(names)
	want := "botssys/ botssys/infile/ botssys/infile/r1/ botssys/infile/r1/a.edi botssys/infile/r1/b.edi"
	if strings.Join(names, " ") != want || sizes["botssys/infile/r1/b.edi"] != 11 {
		t.Fatalf("tar: %v %v", names, sizes)
	}
	// A missing directory is created and comes out empty.
	out.Reset()
	if code := Main([]string{"tar", root, "new/dir"}, nil, &out, os.Stderr); code != 0 {
		t.Fatal(code)
	}
	if st, err := os.Stat(filepath.Join(root, "new", "dir")); err != nil || !st.IsDir() {
		t.Fatalf("tar did not create the directory: %v", err)
	}
}

func TestRefusals(t *testing.T) {
	root := t.TempDir()
	var errb bytes.Buffer
	if code := Main([]string{"tar", root, "../etc"}, nil, io.Discard, &errb); code != 1 || !strings.Contains(errb.String(), "not inside") {
		t.Fatalf("tar outside the root: exit %d %s", code, errb.String())
	}
	for _, args := range [][]string{nil, {"list"}, {"write", "x"}, {"frob"}} {
		errb.Reset()
		if code := Main(args, nil, io.Discard, &errb); code != 2 || !strings.Contains(errb.String(), "usage: rwxchaos __volume") {
			t.Fatalf("%q: exit %d %s", args, code, errb.String())
		}
	}
	// A write that cannot be renamed into place (a non-empty directory
	// is there) fails and leaves no temp file.
	target := filepath.Join(root, "target")
	if err := os.MkdirAll(filepath.Join(target, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	if code := Main([]string{"write", target, filepath.Join(root, "tmp")}, strings.NewReader("x"), io.Discard, &errb); code != 1 {
		t.Fatalf("write over a directory: exit %d", code)
	}
	if left, _ := os.ReadDir(filepath.Join(root, "tmp")); len(left) != 0 {
		t.Fatalf("temp files left: %v", left)
	}
}
