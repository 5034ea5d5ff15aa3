package history

import (
	"os"
	"path/filepath"
	"reflect"
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
