package scenario

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

const schemaFile = "scenario.schema.json"

func loadSchema(t *testing.T) map[string]any {
	t.Helper()
	b, err := Schema()
	if err != nil {
		t.Fatal(err)
	}
	var s map[string]any
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatalf("schema is not JSON: %v", err)
	}
	return s
}

// The checked-in schema is what editors point at; it must match Schema().
func TestSchemaGolden(t *testing.T) {
	b, err := Schema()
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile(schemaFile, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	old, err := os.ReadFile(schemaFile)
	if err != nil {
		t.Fatalf("%v (run go test -run TestSchemaGolden -update)", err)
	}
	if !bytes.Equal(old, b) {
		t.Errorf("%s is stale; run go test ./framework/scenario -run TestSchemaGolden -update", schemaFile)
	}
}

// Every field the decoder accepts is in the schema and vice versa, with
// the same required fields, enums and ranges; every property is described.
func TestSchemaCoversDecoder(t *testing.T) {
	compareType(t, reflect.TypeOf(Scenario{}), loadSchema(t), "")
}

func compareType(t *testing.T, typ reflect.Type, s map[string]any, path string) {
	t.Helper()
	if typ == durationType {
		if _, ok := s["anyOf"]; !ok {
			t.Errorf("%s: duration schema has no anyOf", path)
		}
		return
	}
	if typ.Kind() == reflect.Pointer {
		typ = typ.Elem()
	}
	if typ.Implements(enumType) {
		want := reflect.Zero(typ).Interface().(enum).enumValues()
		var got []string
		for _, v := range s["enum"].([]any) {
			if v != nil { // null: "not set", allowed on optional fields
				got = append(got, v.(string))
			}
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: schema enum %v, decoder accepts %v", path, got, want)
		}
		return
	}
	switch typ.Kind() {
	case reflect.Struct:
		props, _ := s["properties"].(map[string]any)
		if s["additionalProperties"] != false {
			t.Errorf("%s: additionalProperties must be false (the decoder is strict)", path)
		}
		var fieldNames, required []string
		for _, f := range fieldsOf(typ) {
			fieldNames = append(fieldNames, f.name)
			if f.required {
				required = append(required, f.name)
			}
			ps, ok := props[f.name].(map[string]any)
			if !ok {
				t.Errorf("%s: schema lacks property %q", path, f.name)
				continue
			}
			if d, _ := ps["description"].(string); d == "" {
				t.Errorf("%s.%s: no description; write a doc comment on %s.%s", path, f.name, typ.Name(), f.goName)
			}
			if f.min != nil && ps["minimum"] != float64(*f.min) {
				t.Errorf("%s.%s: minimum %v, tag says %d", path, f.name, ps["minimum"], *f.min)
			}
			if f.max != nil && ps["maximum"] != float64(*f.max) {
				t.Errorf("%s.%s: maximum %v, tag says %d", path, f.name, ps["maximum"], *f.max)
			}
			compareType(t, typ.Field(f.index).Type, ps, strings.TrimPrefix(path+"."+f.name, "."))
		}
		var schemaNames []string
		for k := range props {
			schemaNames = append(schemaNames, k)
		}
		sort.Strings(schemaNames)
		sorted := append([]string(nil), fieldNames...)
		sort.Strings(sorted)
		if !reflect.DeepEqual(schemaNames, sorted) {
			t.Errorf("%s: schema properties %v, decoder fields %v", path, schemaNames, sorted)
		}
		if got := strs(s["required"]); !reflect.DeepEqual(got, required) {
			t.Errorf("%s: schema required %v, decoder requires %v", path, got, required)
		}
	case reflect.Slice:
		items, _ := s["items"].(map[string]any)
		compareType(t, typ.Elem(), items, path+"[]")
	case reflect.Map:
		ap, _ := s["additionalProperties"].(map[string]any)
		if typ.Elem().Kind() == reflect.Map {
			compareType(t, typ.Elem(), ap, path+"{}")
		} else if ap["type"] != "string" {
			t.Errorf("%s: map values must be strings in the schema", path)
		}
	}
}

func strs(v any) []string {
	l, _ := v.([]any)
	if l == nil {
		return nil
	}
	out := make([]string, len(l))
	for i, x := range l {
		out[i], _ = x.(string)
	}
	return out
}

// Every valid scenario (testdata and the library) satisfies the schema.
func TestSchemaAcceptsValidScenarios(t *testing.T) {
	s := loadSchema(t)
	files := validFiles(t)
	for _, path := range files {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var doc any
		if err := yaml.Unmarshal(data, &doc); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if errs := schemaCheck(s, doc, ""); len(errs) > 0 {
			t.Errorf("%s does not satisfy the schema:\n%s", path, strings.Join(errs, "\n"))
		}
	}
}

// The schema does reject the structural mistakes editors should flag.
func TestSchemaRejects(t *testing.T) {
	s := loadSchema(t)
	base := "apiVersion: rwxchaos.dev/v1alpha1\nkind: Scenario\nmetadata: {name: x}\ncluster: {provider: local}\n"
	for _, tc := range []struct{ yaml, want string }{
		{base + "extra: 1\n", `/extra: not allowed`},
		{"kind: Scenario\nmetadata: {name: x}\ncluster: {provider: local}\n", `: missing required "apiVersion"`},
		{strings.Replace(base, "local", "kynd", 1), `/cluster/provider: "kynd" not in enum`},
		{base + "workload: {traffic: {count: 0}}\n", `/workload/traffic/count: 0 below minimum 1`},
		{base + "workload: {traffic: {rate: 0}}\n", `/workload/traffic/rate: 0 not above 0`},
		{base + "workload: {defects: [nope]}\n", `/workload/defects/0: "nope" not in enum`},
		{base + "run: {timeout: 30}\n", `/run/timeout: matches no anyOf branch`},
		{base + "run: {timeout: 3x}\n", `/run/timeout: matches no anyOf branch`},
		{strings.Replace(base, "{name: x}", "{name: Bad_Name}", 1), `/metadata/name: "Bad_Name" does not match`},
		{base + "faults: [{name: a}]\n", `/faults/0: missing required "action"`},
		{base + "expect: {noLoss: yes}\n", `/expect/noLoss: want one of [boolean null]`},
		{"apiVersion: rwxchaos.dev/v1alpha1\nkind: Scenario\nmetadata: {name: null}\ncluster: {provider: local}\n", `/metadata/name: want string`},
	} {
		var doc any
		if err := yaml.Unmarshal([]byte(tc.yaml), &doc); err != nil {
			t.Fatal(err)
		}
		errs := schemaCheck(s, doc, "")
		found := false
		for _, e := range errs {
			if strings.HasPrefix(e, tc.want) {
				found = true
			}
		}
		if !found {
			t.Errorf("schema check of\n%s\ngave %q, want one starting with %q", tc.yaml, errs, tc.want)
		}
	}
}

// schemaCheck is a small JSON Schema validator for the keywords Schema
// emits: type, properties, additionalProperties, required, items, enum,
// const, pattern, minimum, maximum, exclusiveMinimum and anyOf.
func schemaCheck(s map[string]any, v any, at string) []string {
	var errs []string
	fail := func(format string, args ...any) { errs = append(errs, at+": "+fmt.Sprintf(format, args...)) }
	if alts, ok := s["anyOf"].([]any); ok {
		for _, a := range alts {
			if len(schemaCheck(a.(map[string]any), v, at)) == 0 {
				return nil
			}
		}
		fail("matches no anyOf branch")
		return errs
	}
	switch typ := s["type"].(type) {
	case string:
		if !hasType(typ, v) {
			fail("want %s, got %T %v", typ, v, v)
			return errs
		}
	case []any:
		ok := false
		for _, t := range typ {
			ok = ok || hasType(t.(string), v)
		}
		if !ok {
			fail("want one of %v, got %T %v", typ, v, v)
			return errs
		}
	}
	if c, ok := s["const"]; ok && fmt.Sprint(c) != fmt.Sprint(v) {
		fail("want const %v, got %v", c, v)
	}
	if e, ok := s["enum"].([]any); ok {
		in := false
		for _, x := range e {
			if x == v {
				in = true
			}
		}
		if !in {
			fail("%q not in enum", v)
		}
	}
	if p, ok := s["pattern"].(string); ok {
		if str, isStr := v.(string); isStr && !regexp.MustCompile(p).MatchString(str) {
			fail("%q does not match %s", str, p)
		}
	}
	if n, ok := number(v); ok {
		if m, ok := s["minimum"].(float64); ok && n < m {
			fail("%v below minimum %v", v, m)
		}
		if m, ok := s["maximum"].(float64); ok && n > m {
			fail("%v above maximum %v", v, m)
		}
		if m, ok := s["exclusiveMinimum"].(float64); ok && n <= m {
			fail("%v not above %v", v, m)
		}
	}
	switch val := v.(type) {
	case map[string]any:
		props, _ := s["properties"].(map[string]any)
		for _, r := range strs(s["required"]) {
			if _, ok := val[r]; !ok {
				fail("missing required %q", r)
			}
		}
		keys := make([]string, 0, len(val))
		for k := range val {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if ps, ok := props[k].(map[string]any); ok {
				errs = append(errs, schemaCheck(ps, val[k], at+"/"+k)...)
				continue
			}
			switch ap := s["additionalProperties"].(type) {
			case bool:
				if !ap {
					errs = append(errs, at+"/"+k+": not allowed")
				}
			case map[string]any:
				errs = append(errs, schemaCheck(ap, val[k], at+"/"+k)...)
			}
		}
	case []any:
		if items, ok := s["items"].(map[string]any); ok {
			for i, x := range val {
				errs = append(errs, schemaCheck(items, x, fmt.Sprintf("%s/%d", at, i))...)
			}
		}
	}
	return errs
}

func hasType(typ string, v any) bool {
	switch typ {
	case "object":
		_, ok := v.(map[string]any)
		return ok
	case "array":
		_, ok := v.([]any)
		return ok
	case "string":
		_, ok := v.(string)
		return ok
	case "boolean":
		_, ok := v.(bool)
		return ok
	case "integer":
		switch v.(type) {
		case int, int64, uint64:
			return true
		}
		return false
	case "number":
		_, ok := number(v)
		return ok
	case "null":
		return v == nil
	}
	return false
}

func number(v any) (float64, bool) {
	switch n := v.(type) {
	case int:
		return float64(n), true
	case int64:
		return float64(n), true
	case uint64:
		return float64(n), true
	case float64:
		return n, true
	}
	return 0, false
}

// The schema's duration pattern accepts exactly what the decoder accepts
// (negative values aside, which the decoder rejects with its own message).
func TestDurationPatternMatchesDecoder(t *testing.T) {
	re := regexp.MustCompile(durationPattern)
	for _, s := range []string{"0", "0s", "1s", "1.5s", ".5s", "1.s", "1h2m3s", "500ms", "3us", "3µs", "1m30s",
		"", "5", "s", "1d", "+5s", "-5s", "1 s", "1s ", "1S", "5m5", "0x1s", "1e3s", "00s", "1.5.5s"} {
		_, err := parseDuration(s)
		if got, want := re.MatchString(s), err == nil; got != want && !strings.HasPrefix(s, "-") {
			t.Errorf("%q: schema pattern match %v, decoder accepts %v (%v)", s, got, want, err)
		}
	}
}
