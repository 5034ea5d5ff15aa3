package history

import (
	"bytes"
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
		if err := j.Append(Event{Type: EvClaim, Key: "K/1", Epoch: 7}); err != nil {
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
	if len(evs) != 3 || st.Torn != 1 || evs[2].Seq != 3 || evs[0].Node != "n1" || evs[0].Epoch != 7 {
		t.Fatalf("events %+v stats %+v", evs, st)
	}
}

func TestBadMiddleLineIsAnError(t *testing.T) {
	in := `{"proc":"p","seq":1,"role":"engine","type":"claim","call":1}
{"proc":"p","seq":2,"rol":"engine","type":"claim","call":2}
{"proc":"p","seq":3,"role":"engine","type":"claim","call":3}
`
	_, _, err := ReadJournal("j.ndjson", strings.NewReader(in), ReadOptions{})
	if err == nil || !strings.Contains(err.Error(), "j.ndjson:2") {
		t.Fatalf("want an error naming line 2, got %v", err)
	}
}

func TestMixedStreamCountsForeignLines(t *testing.T) {
	in := "starting webserver\n" + `{"proc":"p","seq":1,"role":"webserver","type":"stored","call":1}` + "\nGET /readyz 200\n"
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
	f.Add([]byte(`{"proc":"p","seq":1,"role":"client","type":"upload","call":1,"ret":2,"outcome":"ok","key":"K"}` + "\n"))
	f.Add([]byte("{\"proc\":\"p\",\"seq\":1,\"type\":\"x\",\"call\":1}\n{\"pro"))
	f.Add([]byte("not json\n{}\n"))
	f.Add([]byte(`{"proc":"p","seq":1,"type":"x","call":5,"ret":1}` + "\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, mixed := range []bool{false, true} {
			evs, st, err := ReadJournal("fuzz", bytes.NewReader(data), ReadOptions{Mixed: mixed})
			if err != nil {
				continue
			}
			if st.Lines < len(evs) {
				t.Fatalf("%d events from %d lines", len(evs), st.Lines)
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
			again, _, err := ReadJournal("again", &buf, ReadOptions{})
			if err != nil || len(again) != len(evs) {
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
