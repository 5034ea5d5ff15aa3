package scenario

import (
	"fmt"
	"math"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// position is a 1-based line and column in the scenario file.
type position struct{ line, col int }

// maxNodeVisits bounds the work done on one file, so alias-heavy input
// ("billion laughs") cannot make Parse run away.
const maxNodeVisits = 200000

// decoder walks a yaml.v3 node tree into Go values, strictly: every
// unknown field, wrong type, duplicate key and out-of-range number is
// recorded with its position, and decoding goes on so that all problems
// are reported at once.
type decoder struct {
	file   string
	errs   ErrorList
	val    map[string]position // path -> position of its value
	key    map[string]position // path -> position of its key (struct fields)
	bad    map[string]bool     // paths that failed to decode
	visits int
	over   bool
}

func newDecoder(file string) *decoder {
	return &decoder{
		file: file,
		val:  map[string]position{},
		key:  map[string]position{},
		bad:  map[string]bool{},
	}
}

func (d *decoder) errAt(n *yaml.Node, path, format string, args ...any) {
	d.errs = append(d.errs, &FieldError{File: d.file, Line: n.Line, Column: n.Column, Path: path, Msg: fmt.Sprintf(format, args...)})
	d.bad[path] = true
}

var (
	durationType = reflect.TypeOf(Duration(0))
	enumType     = reflect.TypeOf((*enum)(nil)).Elem()
)

// fieldInfo is what the decoder and Schema need to know about a struct
// field.
type fieldInfo struct {
	index    int
	name     string // YAML/JSON key
	goName   string
	required bool
	positive bool   // numbers: more than 0
	pattern  string // strings: a key of schemaPatterns
	min, max *int64
}

// fieldsOf lists the decodable fields of struct type t, in order.
func fieldsOf(t reflect.Type) []fieldInfo {
	var out []fieldInfo
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("json")
		name, _, _ := strings.Cut(tag, ",")
		if name == "-" || name == "" {
			continue
		}
		fi := fieldInfo{index: i, name: name, goName: f.Name}
		for _, opt := range strings.Split(f.Tag.Get("scenario"), ",") {
			k, v, _ := strings.Cut(opt, "=")
			switch k {
			case "required":
				fi.required = true
			case "positive":
				fi.positive = true
			case "pattern":
				if _, ok := schemaPatterns[v]; !ok {
					panic(fmt.Sprintf("scenario: unknown pattern %q on %s.%s", v, t.Name(), f.Name))
				}
				fi.pattern = v
			case "min", "max":
				n, err := strconv.ParseInt(v, 10, 64)
				if err != nil {
					panic(fmt.Sprintf("scenario: bad %s tag on %s.%s", k, t.Name(), f.Name))
				}
				if k == "min" {
					fi.min = &n
				} else {
					fi.max = &n
				}
			}
		}
		out = append(out, fi)
	}
	return out
}

// kindOf names a node's kind for error messages.
func kindOf(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!str":
			return fmt.Sprintf("the string %q", clip(n.Value))
		case "!!int":
			return "the integer " + clip(n.Value)
		case "!!float":
			return "the number " + clip(n.Value)
		case "!!bool":
			return "the boolean " + clip(n.Value)
		case "!!null":
			return "null"
		case "!!timestamp":
			return "the timestamp " + clip(n.Value)
		case "!!binary":
			return "binary data"
		default:
			return fmt.Sprintf("a value tagged %s", clip(n.ShortTag()))
		}
	}
	return "an unsupported YAML node"
}

func clip(s string) string {
	if len(s) > 40 {
		return s[:37] + "..."
	}
	return s
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// resolve follows aliases and counts the visit.
func (d *decoder) resolve(n *yaml.Node, path string) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode; i++ {
		if i > 100 || n.Alias == nil {
			d.errAt(n, path, "alias *%s cannot be resolved", n.Value)
			return nil
		}
		n = n.Alias
	}
	if n == nil {
		return nil
	}
	d.visits++
	if d.visits > maxNodeVisits {
		if !d.over {
			d.over = true
			d.errAt(n, path, "file too complex (more than %d values after expanding aliases); write it out without nested aliases", maxNodeVisits)
		}
		return nil
	}
	return n
}

// peek follows aliases without counting or reporting anything.
func peek(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 100; i++ {
		n = n.Alias
	}
	return n
}

// decode fills v (addressable) from n. path names v for errors; fi, when
// not nil, carries range limits from the struct field.
func (d *decoder) decode(n *yaml.Node, v reflect.Value, path string, fi *fieldInfo) {
	n = d.resolve(n, path)
	if n == nil {
		return
	}
	d.val[path] = position{n.Line, n.Column}
	if isNull(n) {
		return // null leaves the zero value: "not set"
	}
	if n.Kind == yaml.ScalarNode && n.Tag != "" && !strings.HasPrefix(n.Tag, "!!") && !strings.HasPrefix(n.Tag, "tag:yaml.org,2002:") && n.Tag != "!" {
		d.errAt(n, path, "custom YAML tag %s is not supported; remove it", clip(n.Tag))
		return
	}
	t := v.Type()
	switch {
	case t == durationType:
		d.decodeDuration(n, v, path)
	case t.Kind() == reflect.Pointer:
		nv := reflect.New(t.Elem())
		before := len(d.errs)
		d.decode(n, nv.Elem(), path, fi)
		// A struct with a bad field is still there (its bad fields stay
		// unset and marked bad), so that the rules about its presence
		// hold; a bad scalar is not set at all.
		if len(d.errs) == before || t.Elem().Kind() == reflect.Struct {
			v.Set(nv)
		}
	case t.Kind() == reflect.Struct:
		d.decodeStruct(n, v, path)
	case t.Kind() == reflect.Slice:
		d.decodeSlice(n, v, path)
	case t.Kind() == reflect.Map:
		d.decodeStringMap(n, v, path)
	case t.Kind() == reflect.String:
		d.decodeString(n, v, path)
	case t.Kind() == reflect.Int || t.Kind() == reflect.Int64:
		d.decodeInt(n, v, path, fi)
	case t.Kind() == reflect.Float64:
		d.decodeFloat(n, v, path, fi)
	case t.Kind() == reflect.Bool:
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" {
			d.errAt(n, path, "expected true or false, got %s", kindOf(n))
			return
		}
		var b bool
		if err := n.Decode(&b); err != nil {
			d.errAt(n, path, "expected true or false, got %s", kindOf(n))
			return
		}
		v.SetBool(b)
	default:
		panic(fmt.Sprintf("scenario: decoder cannot handle %s at %s", t, path))
	}
}

func (d *decoder) decodeDuration(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.ScalarNode {
		d.errAt(n, path, "expected a duration such as \"30s\", got %s", kindOf(n))
		return
	}
	switch n.ShortTag() {
	case "!!str":
		dur, err := parseDuration(n.Value)
		if err != nil {
			d.errAt(n, path, "%s", err.Error())
			return
		}
		v.SetInt(int64(dur))
	case "!!int", "!!float":
		var i int64
		if err := n.Decode(&i); err == nil && i == 0 && n.ShortTag() == "!!int" {
			v.SetInt(0)
			return
		}
		d.errAt(n, path, "%s has no unit; write a duration such as \"%ss\" (or 0)", clip(n.Value), clip(n.Value))
	default:
		d.errAt(n, path, "expected a duration such as \"30s\", got %s", kindOf(n))
	}
}

func (d *decoder) decodeString(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!str" {
		hint := ""
		if n.Kind == yaml.ScalarNode {
			hint = fmt.Sprintf("; quote it if you mean the text: %q", clip(n.Value))
		}
		d.errAt(n, path, "expected a string, got %s%s", kindOf(n), hint)
		return
	}
	if e, ok := v.Interface().(enum); ok {
		valid := e.enumValues()
		if !contains(valid, n.Value) {
			d.errAt(n, path, "unknown %s %q%s; valid: %s", enumNoun(v.Type()), clip(n.Value), suggest(n.Value, valid), strings.Join(valid, ", "))
			return
		}
	}
	v.SetString(n.Value)
}

func enumNoun(t reflect.Type) string {
	switch t {
	case reflect.TypeOf(WorkloadMode("")):
		return "mode"
	case reflect.TypeOf(MatchRule("")):
		return "match rule"
	case reflect.TypeOf(Selector("")):
		return "selector"
	case reflect.TypeOf(LabImage("")):
		return "lab image"
	}
	return strings.ToLower(t.Name())
}

func rangeMsg(fi *fieldInfo, got string) string {
	switch {
	case fi.min != nil && fi.max != nil:
		return fmt.Sprintf("must be between %d and %d, got %s", *fi.min, *fi.max, got)
	case fi.min != nil:
		return fmt.Sprintf("must be at least %d, got %s", *fi.min, got)
	default:
		return fmt.Sprintf("must be at most %d, got %s", *fi.max, got)
	}
}

func (d *decoder) decodeInt(n *yaml.Node, v reflect.Value, path string, fi *fieldInfo) {
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!float" && bigInt.MatchString(n.Value) {
		d.errAt(n, path, "integer %s is out of range", clip(n.Value))
		return
	}
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" {
		d.errAt(n, path, "expected an integer, got %s", kindOf(n))
		return
	}
	var i int64
	if err := n.Decode(&i); err != nil {
		d.errAt(n, path, "integer %s is out of range", clip(n.Value))
		return
	}
	if fi != nil && ((fi.min != nil && i < *fi.min) || (fi.max != nil && i > *fi.max)) {
		d.errAt(n, path, "%s", rangeMsg(fi, n.Value))
		return
	}
	if v.OverflowInt(i) {
		d.errAt(n, path, "integer %s is out of range", clip(n.Value))
		return
	}
	v.SetInt(i)
}

func (d *decoder) decodeFloat(n *yaml.Node, v reflect.Value, path string, fi *fieldInfo) {
	if n.Kind != yaml.ScalarNode || (n.ShortTag() != "!!int" && n.ShortTag() != "!!float") {
		d.errAt(n, path, "expected a number, got %s", kindOf(n))
		return
	}
	var f float64
	if err := n.Decode(&f); err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		d.errAt(n, path, "expected a finite number, got %s", clip(n.Value))
		return
	}
	if fi != nil && fi.positive && f <= 0 {
		d.errAt(n, path, "must be more than 0, got %s", n.Value)
		return
	}
	if fi != nil && ((fi.min != nil && f < float64(*fi.min)) || (fi.max != nil && f > float64(*fi.max))) {
		d.errAt(n, path, "%s", rangeMsg(fi, n.Value))
		return
	}
	v.SetFloat(f)
}

func (d *decoder) decodeSlice(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.SequenceNode {
		d.errAt(n, path, "expected a list, got %s", kindOf(n))
		return
	}
	s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
	for i, item := range n.Content {
		d.decode(item, s.Index(i), fmt.Sprintf("%s[%d]", path, i), nil)
	}
	v.Set(s)
}

var bigInt = regexp.MustCompile(`^[-+]?[0-9_]+$`)

var plainKey = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

func joinKey(path, key string) string {
	if !plainKey.MatchString(key) {
		return fmt.Sprintf("%s[%q]", path, key)
	}
	if path == "" {
		return key
	}
	return path + "." + key
}

func (d *decoder) decodeStringMap(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		what := "a mapping of strings"
		if v.Type().Elem().Kind() != reflect.String {
			what = "a mapping"
		}
		d.errAt(n, path, "expected %s, got %s", what, kindOf(n))
		return
	}
	m := reflect.MakeMapWithSize(v.Type(), len(n.Content)/2)
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := d.resolve(n.Content[i], path)
		if k == nil {
			continue
		}
		if k.Kind != yaml.ScalarNode || k.ShortTag() != "!!str" {
			d.errAt(k, path, "keys must be strings, got %s; quote the key", kindOf(k))
			continue
		}
		kp := joinKey(path, k.Value)
		if line, dup := seen[k.Value]; dup {
			d.errAt(k, kp, "duplicate key %q (first at line %d)", clip(k.Value), line)
			continue
		}
		seen[k.Value] = k.Line
		d.key[kp] = position{k.Line, k.Column}
		val := d.resolve(n.Content[i+1], kp)
		if val == nil {
			continue
		}
		d.val[kp] = position{val.Line, val.Column}
		if et := v.Type().Elem(); et.Kind() != reflect.String {
			// A map of mappings (role selectors): decode each value strictly.
			ev := reflect.New(et).Elem()
			before := len(d.errs)
			d.decode(val, ev, kp, nil)
			if len(d.errs) == before {
				m.SetMapIndex(reflect.ValueOf(k.Value).Convert(v.Type().Key()), ev)
			}
			continue
		}
		if val.Kind != yaml.ScalarNode || val.ShortTag() != "!!str" {
			hint := ""
			if val.Kind == yaml.ScalarNode {
				hint = fmt.Sprintf("; quote it: %q", clip(val.Value))
			}
			d.errAt(val, kp, "expected a string, got %s%s", kindOf(val), hint)
			continue
		}
		m.SetMapIndex(reflect.ValueOf(k.Value).Convert(v.Type().Key()), reflect.ValueOf(val.Value).Convert(v.Type().Elem()))
	}
	v.Set(m)
}

func (d *decoder) decodeStruct(n *yaml.Node, v reflect.Value, path string) {
	what := "the fields of " + path
	if path == "" {
		what = "a Scenario"
	}
	if n.Kind != yaml.MappingNode {
		d.errAt(n, path, "expected a mapping (%s), got %s", what, kindOf(n))
		return
	}
	fields := fieldsOf(v.Type())
	byName := map[string]int{}
	names := make([]string, len(fields))
	for i, f := range fields {
		byName[f.name] = i
		names[i] = f.name
	}
	seen := map[string]int{}
	set := map[string]bool{}
	merged := false
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := d.resolve(n.Content[i], path)
		if k == nil {
			continue
		}
		if k.ShortTag() == "!!merge" {
			d.errAt(k, path, "merge keys (<<) are not supported; write the fields out, or put an anchor on the whole value and use an alias")
			merged = true
			continue
		}
		if k.Kind != yaml.ScalarNode || k.ShortTag() != "!!str" {
			d.errAt(k, path, "field names must be strings, got %s", kindOf(k))
			continue
		}
		fp := joinKey(path, k.Value)
		idx, ok := byName[k.Value]
		if !ok {
			d.errAt(k, fp, "unknown field %q%s; valid fields: %s", clip(k.Value), suggest(k.Value, names), strings.Join(names, ", "))
			continue
		}
		if line, dup := seen[k.Value]; dup {
			d.errAt(k, fp, "duplicate field (first at line %d); keep one", line)
			continue
		}
		seen[k.Value] = k.Line
		d.key[fp] = position{k.Line, k.Column}
		f := fields[idx]
		val := n.Content[i+1]
		if r := peek(val); r != nil && !isNull(r) {
			set[f.name] = true
		}
		d.decode(val, v.Field(f.index), fp, &f)
	}
	for _, f := range fields {
		if f.required && !set[f.name] && !merged {
			fp := joinKey(path, f.name)
			if _, present := seen[f.name]; present {
				p := d.key[fp]
				d.errs = append(d.errs, &FieldError{File: d.file, Line: p.line, Column: p.col, Path: fp, Msg: "is required and must not be empty"})
			} else {
				p, ok := d.key[path]
				if !ok {
					p = position{n.Line, n.Column}
				}
				d.errs = append(d.errs, &FieldError{File: d.file, Line: p.line, Column: p.col, Path: fp, Msg: "is required but missing"})
			}
			d.bad[fp] = true
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// suggest returns ` (did you mean "x"?)` for the closest valid word, or "".
func suggest(s string, valid []string) string {
	if c := Closest(s, valid); c != "" {
		return fmt.Sprintf(" (did you mean %q?)", c)
	}
	return ""
}

// Closest returns the entry of valid that s is most likely a typo of (a
// small edit distance, ignoring case), or "" when none is close.
func Closest(s string, valid []string) string {
	best, bestD := "", 1<<30
	for _, v := range valid {
		if strings.EqualFold(s, v) {
			return v
		}
		if dd := levenshtein(strings.ToLower(s), strings.ToLower(v)); dd < bestD {
			best, bestD = v, dd
		}
	}
	limit := 2
	if len(s) > 8 {
		limit = 3
	}
	if best != "" && bestD <= limit && bestD < len(s) {
		return best
	}
	return ""
}

func levenshtein(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 1 << 30
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			c := prev[j-1]
			if a[i-1] != b[j-1] {
				c++
			}
			cur[j] = min(c, prev[j]+1, cur[j-1]+1)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// sortedKeys returns the map's keys in order (for deterministic errors).
func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
