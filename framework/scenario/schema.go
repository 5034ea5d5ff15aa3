package scenario

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"reflect"
	"strconv"
	"strings"
	"sync"

	"github.com/rwxchaos/rwxchaos/framework/support"
)

// The scenario types and enums are embedded so that their doc comments can
// serve as schema descriptions: one text for Go readers and editor users.
var (
	//go:embed types.go
	typesSource string
	//go:embed enums.go
	enumsSource string
)

// SchemaID is the $id of the schema returned by Schema.
const SchemaID = "https://rwxchaos.dev/schemas/scenario-v1alpha1.json"

// docs holds the doc comments of types, fields and enum constants.
type docs struct {
	types  map[string]string            // type name -> doc
	fields map[string]map[string]string // type name -> field name -> doc
	consts map[string]map[string]string // type name -> value -> doc
}

var (
	docsOnce sync.Once
	docsVal  *docs
	docsErr  error
)

func loadDocs() (*docs, error) {
	docsOnce.Do(func() {
		d := &docs{types: map[string]string{}, fields: map[string]map[string]string{}, consts: map[string]map[string]string{}}
		fset := token.NewFileSet()
		for name, src := range map[string]string{"types.go": typesSource, "enums.go": enumsSource} {
			f, err := parser.ParseFile(fset, name, src, parser.ParseComments)
			if err != nil {
				docsErr = fmt.Errorf("parse embedded %s: %w", name, err)
				return
			}
			for _, decl := range f.Decls {
				gd, ok := decl.(*ast.GenDecl)
				if !ok {
					continue
				}
				for _, spec := range gd.Specs {
					switch sp := spec.(type) {
					case *ast.TypeSpec:
						doc := sp.Doc
						if doc == nil {
							doc = gd.Doc
						}
						d.types[sp.Name.Name] = cleanDoc(doc.Text())
						st, ok := sp.Type.(*ast.StructType)
						if !ok {
							continue
						}
						fm := map[string]string{}
						for _, fld := range st.Fields.List {
							for _, n := range fld.Names {
								fm[n.Name] = cleanDoc(fld.Doc.Text())
							}
						}
						d.fields[sp.Name.Name] = fm
					case *ast.ValueSpec:
						id, ok := sp.Type.(*ast.Ident)
						if !ok || len(sp.Values) != 1 {
							continue
						}
						lit, ok := sp.Values[0].(*ast.BasicLit)
						if !ok || lit.Kind != token.STRING {
							continue
						}
						val, err := strconv.Unquote(lit.Value)
						if err != nil {
							continue
						}
						if d.consts[id.Name] == nil {
							d.consts[id.Name] = map[string]string{}
						}
						// Drop the Go identifier that starts the comment.
						text := cleanDoc(sp.Doc.Text())
						if len(sp.Names) == 1 {
							text = strings.TrimPrefix(text, sp.Names[0].Name+" ")
						}
						d.consts[id.Name][val] = upperFirst(text)
					}
				}
			}
		}
		docsVal = d
	})
	return docsVal, docsErr
}

func cleanDoc(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// Schema returns a JSON Schema (draft 2020-12) for scenario files,
// generated from the Go types: field names, types, enums, ranges, required
// fields and the doc comments as descriptions. Point yaml-language-server
// at it (for example with a "# yaml-language-server: $schema=..." comment)
// to get completion and checks in editors. The schema checks structure
// only; Parse also checks the rules that span fields.
func Schema() ([]byte, error) {
	d, err := loadDocs()
	if err != nil {
		return nil, fmt.Errorf("build scenario schema: %w", err)
	}
	root := d.schemaFor(reflect.TypeOf(Scenario{}), nil)
	root["$schema"] = "https://json-schema.org/draft/2020-12/schema"
	root["$id"] = SchemaID
	root["title"] = "rwxchaos Scenario"
	props := root["properties"].(map[string]any)
	props["apiVersion"].(map[string]any)["const"] = APIVersion
	props["kind"].(map[string]any)["const"] = KindScenario
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(root); err != nil {
		return nil, fmt.Errorf("encode scenario schema: %w", err)
	}
	return buf.Bytes(), nil
}

// nullable lets an optional property be null, which the decoder reads as
// "not set" (for example a "labels:" line whose entries are commented out).
func nullable(s map[string]any) {
	switch {
	case s["anyOf"] != nil:
		s["anyOf"] = append(s["anyOf"].([]any), map[string]any{"type": "null"})
	case s["enum"] != nil:
		s["type"] = []any{s["type"], "null"}
		s["enum"] = append(s["enum"].([]any), nil)
		if d, ok := s["enumDescriptions"].([]string); ok {
			s["enumDescriptions"] = append(d, "Not set: use the default.")
		}
	default:
		s["type"] = []any{s["type"], "null"}
	}
}

// supportKinds maps enum types to the support table's feature kinds: their
// values' descriptions say where each runs.
var supportKinds = map[string]string{
	"Provider": support.FeatureProvider,
	"Backend":  support.FeatureBackend,
	"Action":   support.FeatureAction,
	"Selector": support.FeatureSelect,
}

// runsOn is the support table's summary for a feature, as a sentence to
// append to its description ("" when the table says nothing).
func runsOn(kind, name string) string {
	if kind == "" {
		return ""
	}
	lines := support.Describe(kind, name)
	if len(lines) == 0 {
		return ""
	}
	return " Runs on — " + strings.Join(lines, "; ") + "."
}

// Patterns for string fields, by the name used in `scenario:"pattern=..."`
// tags. They mirror the checks in validate.go.
var schemaPatterns = map[string]string{
	"dnsLabel":     `^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$`,
	"dnsSubdomain": `^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`,
	"quantity":     `^[0-9]+(\.[0-9]+)?(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$`,
}

// durationPattern matches what time.ParseDuration accepts, minus signs.
const durationPattern = `^(0|(([0-9]+(\.[0-9]*)?|\.[0-9]+)(ns|us|µs|μs|ms|s|m|h))+)$`

func (d *docs) schemaFor(t reflect.Type, fi *fieldInfo) map[string]any {
	s := map[string]any{}
	if t == durationType {
		s["anyOf"] = []any{
			map[string]any{"type": "string", "pattern": durationPattern},
			map[string]any{"type": "integer", "const": 0},
		}
		s["examples"] = []any{"30s", "1m30s", "500ms"}
		return s
	}
	if t.Kind() == reflect.Pointer {
		return d.schemaFor(t.Elem(), fi)
	}
	if t.Implements(enumType) {
		e := reflect.Zero(t).Interface().(enum)
		vals := e.enumValues()
		s["type"] = "string"
		enumAny := make([]any, len(vals))
		for i, v := range vals {
			enumAny[i] = v
		}
		s["enum"] = enumAny
		if cd := d.consts[t.Name()]; cd != nil {
			descs := make([]string, len(vals))
			for i, v := range vals {
				descs[i] = cd[v] + runsOn(supportKinds[t.Name()], v)
			}
			s["enumDescriptions"] = descs
		}
		return s
	}
	switch t.Kind() {
	case reflect.Struct:
		s["type"] = "object"
		s["additionalProperties"] = false
		if doc := d.types[t.Name()]; doc != "" {
			s["description"] = doc
		}
		props := map[string]any{}
		var req []string
		for _, f := range fieldsOf(t) {
			f := f
			ps := d.schemaFor(t.Field(f.index).Type, &f)
			if doc := d.fields[t.Name()][f.goName]; doc != "" {
				if t == reflect.TypeOf(ExpectSpec{}) {
					doc += runsOn(support.FeatureExpect, f.name)
				}
				if t == reflect.TypeOf(ScheduleSpec{}) && f.name == "on" {
					doc += runsOn(support.FeatureTrigger, support.Trigger)
				}
				ps["description"] = doc
			}
			if f.required {
				req = append(req, f.name)
			} else {
				nullable(ps)
			}
			props[f.name] = ps
		}
		s["properties"] = props
		if len(req) > 0 {
			s["required"] = req
		}
	case reflect.Slice:
		s["type"] = "array"
		s["items"] = d.schemaFor(t.Elem(), nil)
	case reflect.Map:
		s["type"] = "object"
		s["additionalProperties"] = d.schemaFor(t.Elem(), nil)
	case reflect.String:
		s["type"] = "string"
		if fi != nil && fi.pattern != "" {
			s["pattern"] = schemaPatterns[fi.pattern]
		}
	case reflect.Int, reflect.Int64:
		s["type"] = "integer"
	case reflect.Float64:
		s["type"] = "number"
		if fi != nil && fi.positive {
			s["exclusiveMinimum"] = 0
		}
	case reflect.Bool:
		s["type"] = "boolean"
	default:
		panic(fmt.Sprintf("scenario: no schema for %s", t))
	}
	if fi != nil && (t.Kind() == reflect.Int || t.Kind() == reflect.Int64 || t.Kind() == reflect.Float64) {
		if fi.min != nil {
			s["minimum"] = *fi.min
		}
		if fi.max != nil {
			s["maximum"] = *fi.max
		}
	}
	return s
}
