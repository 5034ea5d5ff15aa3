package history

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestJournalRoundTripAndTornTail(t *testing.T) {
	dir := t.TempDir()
	j, err := OpenJournal(filepath.Join(dir, "a.ndjson"), JournalOptions{Proc: "p1", Role: RoleEngine, Node: "n1"})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if err := j.Append(Event{Type: EvClaim, Key: "X12/A/B/1", Epoch: 7}); err != nil {
			t.Fatal(err)
		}
	}
	j.Close()
	// A writer killed mid-append leaves a torn last line.
	f, _ := os.OpenFile(filepath.Join(dir, "a.ndjson"), os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"proc":"p1","seq":4,"role":"eng`)
	f.Close()
	evs, st, err := ReadJournalDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 3 || st.Torn != 1 || evs[2].Seq != 3 || evs[0].Node != "n1" || evs[0].Epoch != 7 || st.ProblemCount != 0 {
		t.Fatalf("events %+v stats %+v", evs, st)
	}
	if len(st.Journals) != 1 || st.Journals[0].Torn != 1 || st.Journals[0].Events != 3 || st.Journals[0].Procs[0] != "p1" {
		t.Fatalf("journals %+v", st.Journals)
	}
}

// A saved history is written whole: the same cut line is damage there.
func TestSavedHistoryTornLineIsDamage(t *testing.T) {
	in := `{"proc":"p","seq":1,"role":"engine","type":"run.start","call":1}` + "\n" + `{"proc":"p","seq":2,"role":"eng`
	evs, st, err := ReadJournal("history.ndjson", strings.NewReader(in), ReadOptions{Saved: true})
	if err != nil || len(evs) != 1 || st.Torn != 0 || st.ProblemCount != 1 || st.Problems[0].Code != CodeTorn || st.Problems[0].Line != 2 {
		t.Fatalf("%v %+v %v", evs, st, err)
	}
}

func TestBadLinesAreProblemsWithFileLine(t *testing.T) {
	in := `{"proc":"p","seq":1,"role":"engine","type":"run.start","call":1}
{"proc":"p","seq":2,"rol":"engine","type":"run.start","call":2}
{"proc":"p","seq":3,"role":"engine","type":"lock.acquire","call":3,"epoch":1}
{"proc":"p","seq":4,"role":"engine","type":"claim","call":4,"key":"X12/A/B/1","epoch":1,"outcome":"okay"}
not json at all
`
	evs, st, err := ReadJournal("j.ndjson", strings.NewReader(in), ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 2 || st.ProblemCount != 3 {
		t.Fatalf("events %v problems %v", evs, st.Problems)
	}
	want := []struct {
		line int
		code string
	}{{2, CodeUnknownField}, {4, CodeBadOutcome}, {5, CodeSyntax}}
	for i, w := range want {
		p := st.Problems[i]
		if p.Line != w.line || p.Code != w.code || !strings.HasPrefix(p.String(), fmt.Sprintf("j.ndjson:%d: ", w.line)) {
			t.Errorf("problem %d: %+v (%s), want line %d code %s", i, p, p, w.line, w.code)
		}
	}
	if st.Problems[1].Proc != "p" || st.Problems[1].Seq != 4 {
		t.Errorf("problem of a parsed line lacks its proc and seq: %+v", st.Problems[1])
	}
}

func TestLongLineIsAProblem(t *testing.T) {
	in := `{"proc":"p","seq":1,"role":"engine","type":"run.start","call":1}` + "\n" + strings.Repeat("x", MaxLine+10) + "\n" +
		`{"proc":"p","seq":3,"role":"engine","type":"run.start","call":3}` + "\n"
	evs, st, err := ReadJournal("j", strings.NewReader(in), ReadOptions{})
	if err != nil || len(evs) != 2 || st.ProblemCount != 1 || st.Problems[0].Code != CodeTooLong || st.Problems[0].Line != 2 {
		t.Fatalf("%d events, %+v, %v", len(evs), st.Problems, err)
	}
}

func TestMixedStreamCountsForeignLines(t *testing.T) {
	in := "starting webserver\n" + `{"proc":"p","seq":1,"role":"webserver","type":"stored","call":1,"key":"X12/A/B/1"}` + "\nGET /readyz 200\n"
	evs, st, err := ReadJournal("pod.log", strings.NewReader(in), ReadOptions{Mixed: true})
	if err != nil || len(evs) != 1 || st.Foreign != 2 {
		t.Fatalf("%v %+v %v", evs, st, err)
	}
}

func TestFileNameRoundTrip(t *testing.T) {
	for _, k := range []string{"X12/ACME/GLOBEX/000000001", "EDIFACT/4012345000009/INITECH SA/REF.1", "A/b%c/+/ü"} {
		name := FileName(k) + ".edi"
		if strings.ContainsAny(FileName(k), "/. ") {
			t.Fatalf("stem %q has unsafe characters", FileName(k))
		}
		got, ok := KeyFromName(name)
		if !ok || got != k {
			t.Fatalf("%q -> %q -> %q %v", k, name, got, ok)
		}
	}
	if _, ok := KeyFromName(".upload-1.tmp"); ok {
		t.Fatal("temp file parsed as a key")
	}
}

func TestScanClassifies(t *testing.T) {
	root := t.TempDir()
	key := "X12/A/B/1"
	write := func(rel, data string) {
		p := filepath.Join(root, rel)
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, []byte(data), 0o644)
	}
	write(DirInput+"/r/"+FileName(key)+".edi", "ISA")
	write(DirWork+"/r/"+FileName("X12/A/B/2")+".edi", "ISA")
	write(DirOutput+"/r/"+FileName(key)+".json", `{"key":"X12/A/B/1","inputSha256":"aa"}`+"\n"+`{"key":"X12/A/B/1","inputSha256":"aa"}`)
	write(DirOutput+"/r/"+FileName("X12/A/B/3")+".json", `{"key":"X12/A/B/3","inpu`)
	write(DirInput+"/r/.upload-9.tmp", "x")
	write(DirOutput+"/r/.nfs0000001", "x")
	write(LeaseFile, `{"holder":"e1","epoch":4,"heartbeat":1,"ttlMillis":3000}`)
	write(DirJournal+"/p.ndjson", "{}")
	snap, err := Scan(root, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	stages := map[string]int{}
	for _, f := range snap.Files {
		stages[f.Stage]++
		if f.Stage == StageOutput && f.Key == key && len(f.Docs) != 2 {
			t.Fatalf("docs %+v", f.Docs)
		}
		if f.Stage == StageOutput && f.Key == "X12/A/B/3" && f.Err == "" {
			t.Fatal("torn output not flagged")
		}
	}
	want := map[string]int{StageInput: 1, StageWork: 1, StageOutput: 2, StageTemp: 1, StageSilly: 1, StageLease: 1}
	for k, v := range want {
		if stages[k] != v {
			t.Fatalf("stages %v, want %v", stages, want)
		}
	}
	if snap.Lease == nil || snap.Lease.Epoch != 4 || !snap.Lease.Stale(time.Now()) {
		t.Fatalf("lease %+v", snap.Lease)
	}
}

func FuzzReadJournal(f *testing.F) {
	f.Add([]byte(`{"proc":"p","seq":1,"role":"client","type":"upload","call":1,"ret":2,"outcome":"ok","key":"X12/A/B/1","sha":"` + strings.Repeat("ab", 32) + `"}` + "\n"))
	f.Add([]byte("{\"proc\":\"p\",\"seq\":1,\"type\":\"x\",\"call\":1}\n{\"pro"))
	f.Add([]byte("not json\n{}\n"))
	f.Add([]byte(`{"proc":"p","seq":1,"type":"x","call":5,"ret":1}` + "\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, o := range []ReadOptions{{}, {Mixed: true}, {Saved: true}} {
			evs, st, err := ReadJournal("fuzz", bytes.NewReader(data), o)
			if err != nil {
				continue
			}
			if st.Lines < len(evs)+st.ProblemCount+st.Foreign {
				t.Fatalf("%d events, %d problems, %d foreign from %d lines", len(evs), st.ProblemCount, st.Foreign, st.Lines)
			}
			for i := range evs {
				if err := evs[i].Validate(); err != nil {
					t.Fatalf("reader returned an invalid event: %v", err)
				}
			}
			// What was read writes back and reads again identically.
			var buf bytes.Buffer
			if err := WriteEvents(&buf, evs); err != nil {
				t.Fatal(err)
			}
			again, st2, err := ReadJournal("again", &buf, ReadOptions{Saved: true})
			if err != nil || len(again) != len(evs) || st2.ProblemCount != 0 {
				t.Fatalf("round trip: %d vs %d, %v", len(again), len(evs), err)
			}
		}
	})
}

func TestCountStages(t *testing.T) {
	root := t.TempDir()
	for _, rel := range []string{DirInput + "/r/a.edi", DirWork + "/r/b.edi", DirOutput + "/r/c.json", DirOutput + "/r/d.json", DirOutput + "/r/.e.json.tmp"} {
		p := filepath.Join(root, rel)
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, []byte("x"), 0o644)
	}
	n := Count(root)
	if n[StageInput] != 1 || n[StageWork] != 1 || n[StageOutput] != 2 || n[StageTemp] != 1 {
		t.Fatalf("%v", n)
	}
}
