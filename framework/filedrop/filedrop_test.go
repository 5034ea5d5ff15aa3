package filedrop

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rwxchaos/rwxchaos/fixtures/pipeline/edi"
	"github.com/rwxchaos/rwxchaos/framework/check"
	"github.com/rwxchaos/rwxchaos/framework/history"
)

// An app seen only from outside: what it leaves in its input and output
// directories must be classified like the pipeline's journals would be.
func TestClassesFromOutside(t *testing.T) {
	for _, rule := range []string{MatchControlReference, MatchFilename, MatchContentHash} {
		t.Run(rule, func(t *testing.T) {
			root := t.TempDir()
			vol := Dir{Root: root, InputPath: "app/in"}
			a, err := New(Options{InputPath: "app/in", OutputPath: "app/out", Match: rule, Sink: vol})
			if err != nil {
				t.Fatal(err)
			}
			srv := httptest.NewServer(a)
			defer srv.Close()
			rng := rand.New(rand.NewPCG(1, 2))
			var evs []history.Event
			bodies := map[string][]byte{}
			var keys []string
			for i := range 6 {
				format := edi.X12
				if i%2 == 1 {
					format = edi.EDIFACT
				}
				body := edi.Generate(rng, format, 1000+i, 256, 512)
				ic, err := edi.Parse(body)
				if err != nil {
					t.Fatal(err)
				}
				resp, err := http.Post(srv.URL+"/upload?route=r", "application/edi", bytes.NewReader(body))
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusCreated {
					t.Fatalf("upload %d: HTTP %d", i, resp.StatusCode)
				}
				sum := sha256.Sum256(body)
				now := time.Now().UnixNano()
				evs = append(evs, history.Event{Proc: "client-1", Seq: int64(i + 1), Role: history.RoleClient, Type: history.EvUpload,
					Call: now, Return: now + 1, Outcome: history.OK, Key: ic.Key(), SHA: hex.EncodeToString(sum[:])})
				bodies[ic.Key()] = body
				keys = append(keys, ic.Key())
			}
			if a.Uploads() != 6 {
				t.Fatalf("%d uploads remembered", a.Uploads())
			}
			// The "app": 0 and 1 processed once, 2 twice, 3 never (lost),
			// 4 left in the input (stuck), 5 renamed in place (stuck, found by
			// content); a temp file and an output of nothing uploaded.
			in, out := filepath.Join(root, "app", "in"), filepath.Join(root, "app", "out")
			if err := os.MkdirAll(out, 0o755); err != nil {
				t.Fatal(err)
			}
			emit := func(key, suffix string) {
				name := history.FileName(key) + "." + suffix + ".edi"
				if err := os.WriteFile(filepath.Join(out, name), bodies[key], 0o644); err != nil {
					t.Fatal(err)
				}
			}
			for i, k := range keys {
				src := filepath.Join(in, history.FileName(k)+".edi")
				switch i {
				case 0, 1:
					emit(k, "a")
				case 2:
					emit(k, "a")
					emit(k, "b")
				case 4:
					continue
				case 5:
					if err := os.Rename(src, filepath.Join(in, "renamed-by-app.dat")); err != nil {
						t.Fatal(err)
					}
					continue
				}
				if err := os.Remove(src); err != nil {
					t.Fatal(err)
				}
			}
			stranger := edi.Generate(rng, edi.X12, 9999, 256, 512)
			if err := os.WriteFile(filepath.Join(out, "stranger.edi"), stranger, 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(out, ".half.part"), []byte("x"), 0o644); err != nil {
				t.Fatal(err)
			}
			old := filepath.Join(out, "yesterday.edi")
			if err := os.WriteFile(old, stranger, 0o644); err != nil {
				t.Fatal(err)
			}
			past := time.Now().Add(-time.Hour)
			if err := os.Chtimes(old, past, past); err != nil {
				t.Fatal(err)
			}
			if n, err := vol.Pending(); err != nil || n != 2 {
				t.Fatalf("pending %d, %v; want 2", n, err)
			}

			h, err := a.Collect(context.Background(), vol, t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			h.Events = evs
			res := check.Run(check.FromHistory(h), check.DefaultConfig())
			want := map[string]int{check.ClassOK: 2, check.ClassDuplicated: 1, check.ClassLost: 1, check.ClassStuck: 2, check.ClassUnexpected: 1}
			if rule == MatchFilename {
				// stranger.edi is no stem of an upload: unexpected all the same.
				want[check.ClassUnexpected] = 1
			}
			for c, n := range want {
				if res.Classes[c] != n {
					t.Errorf("%s: %d, want %d (classes %v)", c, res.Classes[c], n, res.Classes)
				}
			}
			lc := res.Check(check.CheckLeftovers)
			if lc == nil || lc.Numbers["files"] != 1 {
				t.Errorf("leftovers: %+v", lc)
			}
		})
	}
}

// Directories the framework makes are open to any user (the app may not
// run as root); the app's own keep their mode.
func TestDropMakesOpenDirectories(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "app"), 0o750); err != nil {
		t.Fatal(err)
	}
	d := Dir{Root: root, InputPath: "app/in/x12"}
	if err := d.Drop(context.Background(), "k.edi", []byte("ISA")); err != nil {
		t.Fatal(err)
	}
	for dir, want := range map[string]os.FileMode{"app": 0o750, "app/in": 0o777, "app/in/x12": 0o777, TempDir: 0o777} {
		st, err := os.Stat(filepath.Join(root, dir))
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != want {
			t.Errorf("%s: mode %o, want %o", dir, st.Mode().Perm(), want)
		}
	}
	st, err := os.Stat(filepath.Join(root, "app/in/x12/k.edi"))
	if err != nil || st.Mode().Perm() != 0o666 {
		t.Errorf("dropped file: %v %v", st, err)
	}
}

func TestDropErrors(t *testing.T) {
	root := t.TempDir()
	d := Dir{Root: root, InputPath: "in"}
	if err := d.Drop(context.Background(), "../escape", []byte("x")); err == nil {
		t.Error("a name with a slash was dropped")
	}
	if err := os.WriteFile(filepath.Join(root, TempDir), []byte("a file where the temp dir goes"), 0o644); err != nil {
		t.Fatal(err)
	}
	a, _ := New(Options{InputPath: "in", OutputPath: "out", Sink: d})
	srv := httptest.NewServer(a)
	defer srv.Close()
	body := edi.Generate(rand.New(rand.NewPCG(3, 4)), edi.X12, 1, 256, 300)
	resp, err := http.Post(srv.URL+"/upload?route=r", "application/edi", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("a failed drop answered HTTP %d, want 503", resp.StatusCode)
	}
	resp2, _ := http.Post(srv.URL+"/upload", "text/plain", strings.NewReader("not edi"))
	if resp2.StatusCode != http.StatusBadRequest {
		t.Errorf("not an interchange: HTTP %d", resp2.StatusCode)
	}
	resp2.Body.Close()
}

func TestHTTPSink(t *testing.T) {
	var got []byte
	var gotName string
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("fail") != "" {
			http.Error(w, "disk full", http.StatusInsufficientStorage)
			return
		}
		got, _ = io.ReadAll(r.Body)
		gotName = r.URL.Query().Get("filename")
		w.WriteHeader(http.StatusAccepted)
	}))
	defer app.Close()
	if err := (HTTPSink{URL: app.URL + "/api/upload"}).Drop(context.Background(), "k.edi", []byte("ISA")); err != nil {
		t.Fatal(err)
	}
	if string(got) != "ISA" || gotName != "k.edi" {
		t.Errorf("the app got %q as %q", got, gotName)
	}
	err := (HTTPSink{URL: app.URL + "/api/upload?fail=1"}).Drop(context.Background(), "k.edi", []byte("ISA"))
	if err == nil || !strings.Contains(err.Error(), "HTTP 507: disk full") {
		t.Errorf("a refused upload: %v", err)
	}
}
