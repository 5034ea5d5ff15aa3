package history

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"
)

// streamSample saves a history of n uploads' events, with a snapshot whose
// small fields (lease, journals with damage) are set, and returns its dir.
func streamSample(t *testing.T, n int) string {
	t.Helper()
	h := &History{Snapshot: &Snapshot{Taken: 99, Lease: &Lease{Holder: "engine-a", Node: "n1", Epoch: 3, Heartbeat: 50, TTLMillis: 10000, Released: true}}}
	for i := 1; i <= n; i++ {
		key := fmt.Sprintf("X12/ACME/GLOBEX/%09d", i)
		sha := fmt.Sprintf("%064x", i)
		h.Events = append(h.Events,
			Event{Proc: "client-r-1-2", Seq: int64(2*i - 1), Role: RoleClient, Type: EvUpload, Call: int64(1000 + 10*i), Return: int64(1003 + 10*i), Outcome: OK, Key: key, SHA: sha, Size: 300, Msgs: 1, Detail: strings.Repeat("d", i%7*40)},
			Event{Proc: "webserver-n1-7-3", Seq: int64(i), Role: RoleWebserver, Node: "n1", Type: EvStored, Call: int64(1001 + 10*i), Return: int64(1002 + 10*i), Key: key, SHA: sha, Path: "botssys/infile/" + FileName(key) + ".edi"},
			// Same call as the next upload's: the order then goes by writer.
			Event{Proc: "client-r-1-2", Seq: int64(2 * i), Role: RoleClient, Type: EvError, Call: int64(1010 + 10*i), ErrClass: "EIO", Err: "e"},
		)
		h.Snapshot.Files = append(h.Snapshot.Files, File{Path: "botssys/outfile/" + FileName(key) + ".json", Stage: StageOutput, Size: 240, Key: key,
			Docs: []OutputDoc{{Key: key, Format: "X12", Sender: "ACME", Receiver: "GLOBEX", Control: fmt.Sprintf("%09d", i), Messages: 1, InputSHA: sha, Epoch: 1, Engine: "engine-a", Written: int64(2000 + i)}}})
	}
	Sort(h.Events)
	h.Stats.Journals = []JournalFile{{Path: "webserver.ndjson", Lines: 5, Events: 4, Torn: 1, ProblemCount: 1,
		Problems: []Problem{{Line: 2, Code: CodeSyntax, Msg: "not an event"}}}}
	dir := t.TempDir()
	if err := h.Save(dir); err != nil {
		t.Fatal(err)
	}
	return dir
}

func drain(h *History) ([]Event, []File) {
	var evs []Event
	for e := range h.All() {
		evs = append(evs, *e)
	}
	var fs []File
	for f := range h.Files() {
		fs = append(fs, *f)
	}
	return evs, fs
}

// A streamed history yields what Load holds — the same events in the same
// order, the same files, stats and snapshot fields — whatever the chunk
// size, and as often as it is read.
func TestStreamedMatchesLoad(t *testing.T) {
	dir := streamSample(t, 2000)
	want, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, chunk := range []int{100, 4096, 1 << 20} {
		h, err := LoadStreamed(dir, 0)
		if err != nil || !h.Streamed() {
			t.Fatalf("LoadStreamed: %v, streamed %v", err, h != nil && h.Streamed())
		}
		h.stream.chunk = chunk
		if h.EventCount() != -1 || h.FileCount() != len(want.Snapshot.Files) {
			t.Errorf("counts before a pass: %d events, %d files; want -1 (unknown) and %d", h.EventCount(), h.FileCount(), len(want.Snapshot.Files))
		}
		for pass := 1; pass <= 2; pass++ {
			evs, files := drain(h)
			if !reflect.DeepEqual(evs, want.Events) {
				t.Fatalf("chunk %d pass %d: %d events differ from Load's %d", chunk, pass, len(evs), len(want.Events))
			}
			if !reflect.DeepEqual(files, want.Snapshot.Files) {
				t.Fatalf("chunk %d pass %d: %d files differ from Load's %d", chunk, pass, len(files), len(want.Snapshot.Files))
			}
		}
		if why := h.StreamFailed(); why != "" {
			t.Fatalf("chunk %d: stream failed: %s", chunk, why)
		}
		if h.EventCount() != len(want.Events) || h.FileCount() != len(want.Snapshot.Files) {
			t.Errorf("chunk %d: counts %d, %d; want %d, %d", chunk, h.EventCount(), h.FileCount(), len(want.Events), len(want.Snapshot.Files))
		}
		wst := want.Stats
		wst.Lines = 0 // not counted by a streamed history
		if !reflect.DeepEqual(h.Stats, wst) {
			t.Errorf("stats %+v, want %+v", h.Stats, wst)
		}
		ws := *want.Snapshot
		ws.Files = nil
		if !reflect.DeepEqual(*h.Snapshot, ws) {
			t.Errorf("snapshot %+v, want %+v", *h.Snapshot, ws)
		}
	}
	// Below the size bound, LoadStreamed is Load.
	h, err := LoadStreamed(dir, 1<<40)
	if err != nil || h.Streamed() || !reflect.DeepEqual(h, want) {
		t.Fatalf("small history: streamed %v, err %v, equal to Load %v", h.Streamed(), err, reflect.DeepEqual(h, want))
	}
}

// Anything Load would read differently stops a pass and says why: the
// caller then loads the history whole. A snapshot whose small fields do
// not read cleanly is not streamed at all.
func TestStreamStopsWhereLoadDiffers(t *testing.T) {
	edit := func(t *testing.T, name string, fn func(string) string) string {
		dir := streamSample(t, 300)
		p := filepath.Join(dir, name)
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(fn(string(b))), 0o644); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	lines := func(s string) []string { return strings.SplitAfter(s, "\n") }
	for _, tc := range []struct {
		name, file, want string
		fn               func(string) string
	}{
		{"a line that is not an event", EventsFile, "not an event", func(s string) string {
			l := lines(s)
			l[400] = `{"proc":"x","seq":1,"bogus":true}` + "\n"
			return strings.Join(l, "")
		}},
		{"events out of order", EventsFile, "out of order", func(s string) string {
			l := lines(s)
			l[500], l[700] = l[700], l[500]
			return strings.Join(l, "")
		}},
		{"a last line cut short", EventsFile, "cut short", func(s string) string { return s[:len(s)-30] }},
		{"a snapshot that changed after it was opened", "", "it changed", nil},
		{"a file entry not in the plain form", SnapshotFile, "plain form", func(s string) string {
			return strings.Replace(s, `"stage": "output"`, `"stage": "output", "bogus": 1`, 1)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var dir string
			if tc.fn != nil {
				dir = edit(t, tc.file, tc.fn)
			} else {
				dir = streamSample(t, 300)
			}
			h, err := LoadStreamed(dir, 0)
			if err != nil || !h.Streamed() {
				t.Fatalf("LoadStreamed: %v (streamed %v)", err, h != nil && h.Streamed())
			}
			if tc.fn == nil {
				h.stream.files++ // as if a file had been removed since
			}
			h.stream.chunk = 1000
			drain(h)
			if why := h.StreamFailed(); !strings.Contains(why, tc.want) {
				t.Fatalf("StreamFailed %q, want it to say %q", why, tc.want)
			}
		})
	}
	t.Run("a snapshot whose small fields break the format", func(t *testing.T) {
		dir := edit(t, SnapshotFile, func(s string) string { return strings.Replace(s, `"taken"`, `"takne"`, 1) })
		h, err := LoadStreamed(dir, 0)
		if err != nil || h.Streamed() {
			t.Fatalf("LoadStreamed: %v, streamed %v; want Load's history", err, h.Streamed())
		}
		if h.Stats.ProblemCount == 0 {
			t.Errorf("Load's history should count the snapshot as damage: %+v", h.Stats)
		}
	})
}

// A consumer that stops early leaves no goroutine behind and no count.
func TestStreamStoppedEarlyLeavesNothingRunning(t *testing.T) {
	dir := streamSample(t, 3000)
	before := runtime.NumGoroutine()
	h, err := LoadStreamed(dir, 0)
	if err != nil {
		t.Fatal(err)
	}
	h.stream.chunk = 512
	n := 0
	for range h.All() {
		if n++; n == 10 {
			break
		}
	}
	for range h.Files() {
		break
	}
	noneLeftRunning(t, before)
	if h.StreamFailed() != "" || h.EventCount() != -1 {
		t.Errorf("after stopping early: failed %q, %d events; want none and -1", h.StreamFailed(), h.EventCount())
	}
}

// noneLeftRunning fails unless the goroutines are back to before within 5 s.
func noneLeftRunning(t *testing.T, before int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if g := runtime.NumGoroutine(); g > before {
		buf := make([]byte, 1<<20)
		t.Fatalf("%d goroutines left running (were %d):\n%s", g, before, buf[:runtime.Stack(buf, true)])
	}
}

// skipArray ends where the array ends, however its strings' quotes and
// backslashes fall across the read windows (a window is 4 MiB: the array
// here spans three).
func TestSkipArrayAcrossWindows(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var b bytes.Buffer
	b.WriteString("[")
	values := 1 // "end"
	for ; b.Len() < 10<<20; values++ {
		var s strings.Builder
		for range rng.IntN(40) {
			switch rng.IntN(6) {
			case 0:
				s.WriteString(strings.Repeat(`\`, rng.IntN(9)))
			case 1:
				s.WriteString(`"]}`)
			default:
				s.WriteString("abc[{")
			}
		}
		v, _ := json.Marshal(map[string]any{"p": s.String(), "d": []string{s.String(), "x"}})
		b.Write(v)
		b.WriteString(",\n ")
	}
	b.WriteString(`"end"]`)
	want := b.Len()
	b.WriteString(`, "after": 1}`)
	if !json.Valid(append([]byte(`{"a":`), b.Bytes()...)) {
		t.Fatal("test data is not JSON")
	}
	s := &snapStream{r: bytes.NewReader(b.Bytes())}
	s.fill(snapMargin)
	if !s.skipArray() {
		t.Fatal("skipArray: false")
	}
	if got := int(s.read) - (len(s.p.b) - s.p.i); got != want {
		t.Fatalf("skipArray stopped at byte %d, want %d", got, want)
	}
	if s.skipped != values {
		t.Fatalf("skipArray counted %d values, want %d", s.skipped, values)
	}
}

// The window's end inside a run of backslashes before a quote: the run is
// counted across the two windows.
func TestSkipArrayBackslashesAtWindowEnd(t *testing.T) {
	// `"a\\\\\\\"b"`: three escaped backslashes, then an escaped quote: one
	// string. Cut after each of its bytes.
	tricky := `"a\\\\\\\"b", "c\\"`
	for cut := 1; cut < len(tricky); cut++ {
		var b bytes.Buffer
		b.WriteString(`["`)
		b.WriteString(strings.Repeat("x", snapWindow-1-2-cut)) // the window ends cut bytes into tricky
		b.WriteString(`",`)
		b.WriteString(tricky)
		b.WriteString(`]`)
		want := b.Len()
		b.WriteString(`,"z"]`)
		s := &snapStream{r: bytes.NewReader(b.Bytes())}
		s.fill(snapMargin)
		if !s.skipArray() {
			t.Fatalf("cut %d: skipArray: false", cut)
		}
		if got := int(s.read) - (len(s.p.b) - s.p.i); got != want {
			t.Fatalf("cut %d: stopped at byte %d, want %d", cut, got, want)
		}
	}
}

// A consumer that panics mid-pass (the checker recovers its panics) leaves
// no decoder behind either.
func TestStreamConsumerPanicLeavesNothingRunning(t *testing.T) {
	dir := streamSample(t, 3000)
	before := runtime.NumGoroutine()
	h, err := LoadStreamed(dir, 0)
	if err != nil {
		t.Fatal(err)
	}
	h.stream.chunk = 512
	for _, pass := range []func(){
		func() {
			for range h.All() {
				panic("consumer bug")
			}
		},
		func() {
			for range h.Files() {
				panic("consumer bug")
			}
		},
	} {
		func() {
			defer func() { _ = recover() }()
			pass()
		}()
	}
	noneLeftRunning(t, before)
}

// Wherever the fast path decodes a snapshot, the streamed history's header
// pass (which skips the files array) reads the same small fields and
// counts as many files; and the files pass decodes the same files.
func FuzzStreamHeader(f *testing.F) {
	for _, s := range []string{
		`{"taken":5,"files":[{"path":"a\\\"]}","stage":"output","docs":[{"key":"k"}]},{"path":"b"}],"lease":{"holder":"h","epoch":2},"journals":[{"path":"j","problems":[{"code":"torn","msg":"m"}]}]}`,
		`{"files":[]}`, `{"files":[{}],"unscanned":true}`, `{}`, `{"lease":null,"files":[{"key":"[{\"x"}]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		ref, err := parseSnapshotFast(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			return
		}
		s := &snapStream{r: bytes.NewReader(data), skipFiles: true}
		head, ok := s.snapshot()
		if !ok || s.err != nil {
			t.Fatalf("%q: the header pass gave up on a snapshot the fast path decodes", data)
		}
		if s.skipped != len(ref.Files) {
			t.Fatalf("%q: the header pass counted %d files, the fast path decoded %d", data, s.skipped, len(ref.Files))
		}
		want := *ref
		want.Files = nil
		if !reflect.DeepEqual(*head, want) {
			t.Fatalf("%q: header %+v, want %+v", data, *head, want)
		}
		var files []File
		fs := &snapStream{r: bytes.NewReader(data), onFile: func(f *File) bool { files = append(files, *f); return true }}
		if _, ok := fs.snapshot(); !ok || !reflect.DeepEqual(files, ref.Files) && len(files)+len(ref.Files) > 0 {
			t.Fatalf("%q: the files pass (ok %v) gave %+v, want %+v", data, ok, files, ref.Files)
		}
	})
}
