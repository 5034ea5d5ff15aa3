package filedrop

import (
	"bytes"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/rwxchaos/rwxchaos/fixtures/pipeline/edi"
)

// The settle condition of an external app: done only when the input path
// is empty and every acknowledged upload has an output attributed to it,
// by each match rule; an output rewritten in place is read again.
func TestBacklogEndsOnlyWhenEveryAckHasItsOutput(t *testing.T) {
	for _, rule := range []string{MatchControlReference, MatchFilename, MatchContentHash} {
		t.Run(rule, func(t *testing.T) {
			root := t.TempDir()
			a, err := New(Options{InputPath: "in", OutputPath: "out", Match: rule, Sink: Dir{Root: root, InputPath: "in"}})
			if err != nil {
				t.Fatal(err)
			}
			srv := httptest.NewServer(a)
			defer srv.Close()
			rng := rand.New(rand.NewPCG(3, 4))
			var keys, names []string
			for i := range 3 {
				body := edi.Generate(rng, edi.X12, 2000+i, 256, 512)
				ic, err := edi.Parse(body)
				if err != nil {
					t.Fatal(err)
				}
				resp, err := http.Post(srv.URL+"/upload?route=r", "application/edi", bytes.NewReader(body))
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				keys = append(keys, ic.Key())
			}
			ents, err := os.ReadDir(filepath.Join(root, "in"))
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range ents {
				if e.Type().IsRegular() {
					names = append(names, e.Name())
				}
			}
			if len(names) != 3 {
				t.Fatalf("input holds %v", names)
			}
			b, err := a.Backlog(root, keys)
			if err != nil || b.Input != 3 || b.Unprocessed != 3 || b.Done() {
				t.Fatalf("before the app ran: %+v, %v", b, err)
			}
			// The app moves two files; the third output is still a temp file.
			if err := os.MkdirAll(filepath.Join(root, "out"), 0o755); err != nil {
				t.Fatal(err)
			}
			for i, n := range names {
				dst := filepath.Join(root, "out", n)
				if i == 2 {
					dst = filepath.Join(root, "out", "."+n+".tmp")
				}
				if err := os.Rename(filepath.Join(root, "in", n), dst); err != nil {
					t.Fatal(err)
				}
			}
			b, err = a.Backlog(root, keys)
			if err != nil || b.Input != 0 || b.Unprocessed != 1 || b.Done() {
				t.Fatalf("with one output still a temp file: %+v, %v", b, err)
			}
			// An output rewritten in place with something else is read again.
			first := filepath.Join(root, "out", names[0])
			if err := os.WriteFile(first, []byte("not this upload's output at all, and longer"), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Rename(filepath.Join(root, "out", "."+names[2]+".tmp"), filepath.Join(root, "out", names[2])); err != nil {
				t.Fatal(err)
			}
			b, err = a.Backlog(root, keys)
			if rule == MatchFilename {
				// attributed by its name: its content is the checkers' business
				if err != nil || !b.Done() {
					t.Fatalf("all outputs named: %+v, %v", b, err)
				}
				return
			}
			if err != nil || b.Unprocessed != 1 || b.Done() {
				t.Fatalf("one output overwritten with foreign content: %+v, %v", b, err)
			}
		})
	}
}
