package history

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// readSnapshotFile gives what ParseSnapshot gives, value or error, whether
// it streams or gives up.
func TestReadSnapshotFileMatchesParseSnapshot(t *testing.T) {
	saved, _ := filepath.Glob("../report/testdata/*/*/snapshot.json")
	if len(saved) == 0 {
		t.Fatal("no saved snapshot under ../report/testdata")
	}
	inputs := map[string]string{}
	for _, p := range saved {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		inputs[p] = string(b)
	}
	for name, s := range map[string]string{
		"plain":           `{"taken":5,"files":[{"path":"a","size":1,"docs":[{"key":"k","inputSha256":"x"}]}],"lease":{"holder":"h","epoch":2},"unscanned":false}`,
		"empty files":     `{"taken":5,"files":[]}`,
		"null files":      `{"taken":5,"files":null}`,
		"no files":        `{"taken":5}`,
		"unknown key":     `{"taken":5,"files":[],"extra":1}`,
		"unknown in file": `{"taken":5,"files":[{"path":"a","bogus":1}]}`,
		"other case":      `{"Taken":5,"Files":[]}`,
		"duplicate":       `{"files":[{"path":"a"}],"files":[{"path":"b"}]}`,
		"trailing":        `{"taken":5} {}`,
		"not an object":   `[1,2]`,
		"torn":            `{"taken":5,"files":[{"path":"a"`,
		"wrong type":      `{"taken":"5","files":[]}`,
		"journals":        `{"taken":5,"files":[],"journals":[{"path":"j.ndjson","torn":1}]}`,
		"every field":     `{"taken":5,"files":[{"path":"botssys/outfile/r/X12+A+B+1.json","stage":"output","size":9,"key":"X12/A/B/1","docs":[{"key":"X12/A/B/1","format":"X12","sender":"A","receiver":"B","control":"1","messages":2,"inputSha256":"ab","epoch":3,"engine":"e","written":4}],"err":"x"}],"lease":{"holder":"h","node":"n","epoch":2,"heartbeat":7,"ttlMillis":8,"released":true},"journals":[],"unscanned":true}`,
		"empty docs":      `{"files":[{"path":"a","docs":[]}]}`,
		"null docs":       `{"files":[{"path":"a","docs":null}]}`,
		"null path":       `{"files":[{"path":null}]}`,
		"null lease":      `{"lease":null}`,
		"empty object":    `{}`,
		"empty file":      `{"files":[{}]}`,
		"dup file key":    `{"files":[{"path":"a","path":"b"}]}`,
		"dup doc key":     `{"files":[{"docs":[{"epoch":1,"epoch":2}]}]}`,
		"doc other case":  `{"files":[{"docs":[{"Epoch":1}]}]}`,
		"float size":      `{"files":[{"size":1.5}]}`,
		"exp size":        `{"files":[{"size":1e3}]}`,
		"neg epoch":       `{"files":[{"docs":[{"epoch":-1}]}]}`,
		"big size":        `{"files":[{"size":9223372036854775808}]}`,
		"escapes":         `{"files":[{"path":"a\"b\\c\/d\n","err":"\u00e9"}]}`,
		"bad utf8":        "{\"files\":[{\"path\":\"\xff\"}]}",
		"escaped key":     `{"files":[{"pa\u0074h":"a","st\/age":"b"}]}`,
		"control char":    "{\"files\":[{\"path\":\"a\tb\"}]}",
		"white space":     " {\n \"taken\" : 5 ,\n \"files\" : [ {\"path\" : \"a\" } ] }\n\n",
		"unscanned str":   `{"unscanned":"yes"}`,
		"lease unknown":   `{"lease":{"holder":"h","bogus":1}}`,
		"lease trailing":  `{"lease":{"holder":"h"}}}`,
		"files trailing":  `{"files":[{"path":"a"},]}`,
		"missing comma":   `{"files":[{"path":"a"} {"path":"b"}]}`,
		"taken missing":   `{"taken":,"files":[]}`,
		"empty":           ``,
	} {
		inputs[name] = s
	}
	dir := t.TempDir()
	for name, s := range inputs {
		p := filepath.Join(dir, "snapshot.json")
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		got, gerr := readSnapshotFile(p)
		want, werr := ParseSnapshot([]byte(s))
		if (gerr == nil) != (werr == nil) || (gerr != nil && gerr.Error() != werr.Error()) {
			t.Errorf("%s: error %v, want %v", name, gerr, werr)
			continue
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: %+v, want %+v", name, got, want)
		}
	}
}

// Wherever the fast path decodes a snapshot, ParseSnapshot (the reference)
// decodes it too, to the same value.
func FuzzSnapshotFast(f *testing.F) {
	for _, s := range []string{
		`{"taken":5,"files":[{"path":"botssys/outfile/r/X12+A+B+1.json","stage":"output","size":9,"key":"X12/A/B/1","docs":[{"key":"X12/A/B/1","format":"X12","sender":"A","receiver":"B","control":"1","messages":2,"inputSha256":"ab","epoch":3,"engine":"e","written":4}],"err":"x"}],"lease":{"holder":"h","epoch":2},"journals":[{"path":"j","problems":[{"code":"torn","msg":"m"}]}],"unscanned":false}`,
		`{"files":[{"path":"a","docs":[]}]}`, `{"files":[{}]}`, `{}`, ` { "taken" : -0 } `, `{"lease":null}`,
		`{"files":[{"path":"a\"b"}]}`, `{"files":[{"pa\u0074h":"a"}]}`, `{"files":[{"size":01}]}`, `{"files":[{"docs":[{"messages":9223372036854775807}]}]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fast, err := parseSnapshotFast(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			return
		}
		ref, err := ParseSnapshot(data)
		if err != nil {
			t.Fatalf("the fast path decoded %q, which ParseSnapshot refuses: %v", data, err)
		}
		if !reflect.DeepEqual(fast, ref) {
			t.Fatalf("%q: fast %+v, reference %+v", data, fast, ref)
		}
	})
}

// The saved snapshots in the repository take the fast path, and one whose
// files span many windows of the stream decodes as the reference does.
func TestSnapshotFastPathTakesOwnWriter(t *testing.T) {
	saved, _ := filepath.Glob("../report/testdata/*/*/snapshot.json")
	for _, p := range saved {
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := parseSnapshotFast(f, 0); err != nil {
			t.Errorf("%s: %v", p, err)
		}
		f.Close()
	}
	snap := Snapshot{Taken: 1, Lease: &Lease{Holder: "h", Epoch: 3}, Journals: []JournalFile{{Path: "j.ndjson", Lines: 2}}}
	for i := range 40000 {
		k := Key("X12", "ACME", "GLOBEX", fmt.Sprintf("%09d", i))
		snap.Files = append(snap.Files, File{Path: "botssys/outfile/r/" + FileName(k) + ".json", Stage: StageOutput, Size: int64(i), Key: k,
			Docs: []OutputDoc{{Key: k, Format: "X12", Sender: "ACME", Receiver: "GLOBEX", Control: fmt.Sprintf("%09d", i), Messages: 1 + i%3,
				InputSHA: strings.Repeat("ab", 32), Epoch: uint64(1 + i/1000), Engine: "engine-x-1-2", Written: int64(1e18) + int64(i)}}})
	}
	// 1024 tiny files then a large one: the slice is sized from the
	// first files without dividing by zero or allocating wildly.
	tiny := `{"files":[` + strings.Repeat(`{},`, 1024) + `{"path":"` + strings.Repeat("p", 3<<20) + `"}]}`
	gotTiny, err := parseSnapshotFast(strings.NewReader(tiny), int64(len(tiny)))
	if err != nil || len(gotTiny.Files) != 1025 || cap(gotTiny.Files) > 1<<23 {
		t.Fatalf("tiny files then a large one: %v", err)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", " ")
	if err := enc.Encode(&snap); err != nil {
		t.Fatal(err)
	}
	if buf.Len() < 3*snapWindow {
		t.Fatalf("the test snapshot is %d bytes: want several windows", buf.Len())
	}
	got, err := parseSnapshotFast(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	want, err := ParseSnapshot(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatal("the fast path and ParseSnapshot disagree on a large snapshot")
	}
}
