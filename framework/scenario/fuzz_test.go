package scenario

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// FuzzParse feeds arbitrary bytes to Parse. Its seed corpus is every
// scenario file in testdata and the library, so plain "go test" runs it
// over all of them. Properties: Parse never panics; it is deterministic;
// it returns either a Scenario or an ErrorList, both only when every error
// is a support-table refusal (ErrorList.Unsupported); the JSON Schema
// accepts every file Parse accepts; and a parsed scenario, written back out
// as JSON (which is YAML), parses to the same scenario.
func FuzzParse(f *testing.F) {
	var files []string
	for _, pattern := range []string{"testdata/valid/*.yaml", "testdata/invalid/*.yaml", "../../scenarios/library/*.yaml"} {
		m, err := filepath.Glob(pattern)
		if err != nil {
			f.Fatal(err)
		}
		files = append(files, m...)
	}
	for _, path := range files {
		data, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(""))
	f.Add([]byte("a: &a [*a]"))
	f.Add([]byte("apiVersion: &v rwxchaos.dev/v1alpha1\nkind: Scenario\nmetadata: {name: *v}\n"))
	var schema map[string]any
	if b, err := Schema(); err != nil {
		f.Fatal(err)
	} else if err := json.Unmarshal(b, &schema); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s1, err1 := Parse("fuzz.yaml", data)
		s2, err2 := Parse("fuzz.yaml", data)
		if (err1 == nil) != (err2 == nil) {
			t.Fatalf("Parse is not deterministic: %v / %v", err1, err2)
		}
		if err1 != nil {
			if list, ok := err1.(ErrorList); s1 != nil && !(ok && list.Unsupported()) {
				t.Fatalf("Parse returned a Scenario and an error that is not only support refusals")
			}
			if list, ok := err1.(ErrorList); ok && list.Unsupported() && s1 == nil {
				t.Fatalf("Parse returned no Scenario with only support refusals")
			}
			if err1.Error() != err2.Error() {
				t.Fatalf("errors differ between runs:\n%v\n---\n%v", err1, err2)
			}
			if _, ok := err1.(ErrorList); !ok {
				t.Fatalf("error is %T, want ErrorList", err1)
			}
			for _, e := range err1.(ErrorList) {
				if e.Msg == "" {
					t.Fatalf("empty error message in %v", err1)
				}
			}
			return
		}
		// What the decoder accepts, the editor schema must accept too.
		var doc any
		if err := yaml.Unmarshal(data, &doc); err == nil {
			if errs := schemaCheck(schema, doc, ""); len(errs) > 0 {
				t.Fatalf("Parse accepts a file the schema rejects:\n%s\n%s", data, strings.Join(errs, "\n"))
			}
		}
		j1, err := json.Marshal(s1)
		if err != nil {
			t.Fatalf("marshal: %v", err)
		}
		j2, _ := json.Marshal(s2)
		if string(j1) != string(j2) {
			t.Fatalf("Parse is not deterministic:\n%s\n%s", j1, j2)
		}
		s3, err := Parse("roundtrip.json", j1)
		if err != nil {
			t.Fatalf("re-parsing the marshalled scenario failed:\n%s\n%v", j1, err)
		}
		j3, _ := json.Marshal(s3)
		if string(j1) != string(j3) {
			t.Fatalf("round trip changed the scenario:\n%s\n%s", j1, j3)
		}
	})
}
