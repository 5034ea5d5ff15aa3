package scenario

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"syscall"

	"gopkg.in/yaml.v3"
)

// MaxFileSize is the largest scenario file Load reads. Real scenarios are a
// few kilobytes; the limit keeps a wrong argument (a log, /dev/zero) from
// eating the machine.
const MaxFileSize = 1 << 20

// Load reads and parses the scenario file at path. Like Parse, it returns
// an ErrorList naming every problem in the file. path must be a regular
// file of at most MaxFileSize bytes: a FIFO, device or directory is refused
// at once (never read, so it cannot hang or fill memory).
func Load(path string) (*Scenario, error) {
	data, err := ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, data)
}

// ReadFile reads a scenario file with Load's limits: a regular file of at
// most MaxFileSize bytes. It opens without blocking (O_NONBLOCK: a FIFO with
// no writer would otherwise block the open forever) and checks the opened
// file, not the name, so a swapped path cannot slip past.
func ReadFile(path string) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, fmt.Errorf("read scenario file: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("read scenario file: %w", err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is %s, not a regular file: give the path of a scenario .yaml file", path, fileKind(st.Mode()))
	}
	if st.Size() > MaxFileSize {
		return nil, fmt.Errorf("%s is %d bytes; a scenario file is at most %d (1 MiB): is this the right file?", path, st.Size(), MaxFileSize)
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("read scenario file: %w", err)
	}
	if len(data) > MaxFileSize { // grew while we read
		return nil, fmt.Errorf("%s is more than %d bytes (1 MiB); a scenario file is at most that: is this the right file?", path, MaxFileSize)
	}
	return data, nil
}

func fileKind(m os.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&os.ModeNamedPipe != 0:
		return "a named pipe (FIFO)"
	case m&os.ModeSocket != 0:
		return "a socket"
	case m&os.ModeCharDevice != 0:
		return "a character device"
	case m&os.ModeDevice != 0:
		return "a device"
	}
	return "not a regular file (" + m.Type().String() + ")"
}

// LoadDir loads every *.yaml and *.yml file in dir (not recursively), in
// name order. Problems in all files are returned together as one
// ErrorList, including scenario names used by more than one file; the
// scenarios that did load are returned either way.
func LoadDir(dir string) ([]*Scenario, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("read scenario directory: %w", err)
	}
	var (
		out   []*Scenario
		all   ErrorList
		names = map[string]string{}
	)
	for _, e := range entries {
		ext := filepath.Ext(e.Name())
		if e.IsDir() || (ext != ".yaml" && ext != ".yml") {
			continue
		}
		path := filepath.Join(dir, e.Name())
		s, err := Load(path)
		var list ErrorList
		switch {
		case errors.As(err, &list):
			all = append(all, list...)
			continue
		case err != nil:
			all = append(all, &FieldError{File: path, Msg: err.Error()})
			continue
		}
		if first, dup := names[s.Metadata.Name]; dup {
			line, col, _ := s.Position("metadata.name")
			all = append(all, &FieldError{File: path, Line: line, Column: col, Path: "metadata.name",
				Msg: fmt.Sprintf("scenario name %q is already used by %s; names must be unique", s.Metadata.Name, first)})
		} else {
			names[s.Metadata.Name] = path
		}
		out = append(out, s)
	}
	if len(all) > 0 {
		return out, all
	}
	return out, nil
}

// Parse decodes a scenario from data, applies defaults (Default) and
// validates it. filename is only used in error positions. On failure the
// error is an ErrorList holding every problem found, each with its
// file:line:column, and the returned Scenario is nil — except when every
// problem is a refusal by the support table (ErrorList.Unsupported: the
// file is well-formed, but no provider can run it as written); then the
// Scenario is returned too, so that callers can still describe it.
func Parse(filename string, data []byte) (*Scenario, error) {
	return parse(filename, data, true)
}

// parse is Parse, optionally without the support table's refusals (tests
// of files that set fields no provider can run yet).
func parse(filename string, data []byte, withSupport bool) (*Scenario, error) {
	root, errs := parseYAML(filename, data)
	if errs != nil {
		return nil, errs
	}
	d := newDecoder(filename)
	s := &Scenario{}
	d.val[""] = position{root.Line, root.Column}
	d.decode(root, reflect.ValueOf(s).Elem(), "", nil)
	s.file = filename
	s.pos = d.val
	s.Default()
	v := &validator{s: s, file: filename, val: d.val, key: d.key, bad: d.bad, noSupport: !withSupport}
	v.validate()
	all := append(d.errs, v.errs...)
	if len(all) > 0 {
		all.sort()
		all = all.dedupe()
		if all.Unsupported() {
			return s, all
		}
		return nil, all
	}
	return s, nil
}

// Validate checks a Scenario built in Go (for example by a test) by the
// same rules as Parse. Call Default first. Errors carry field paths but,
// unless the Scenario came from Parse, no positions.
func (s *Scenario) Validate() error {
	v := &validator{s: s, file: s.file, val: s.pos, key: map[string]position{}, bad: map[string]bool{}}
	if v.val == nil {
		v.val = map[string]position{}
	}
	v.validate()
	if len(v.errs) > 0 {
		v.errs.sort()
		return v.errs.dedupe()
	}
	return nil
}

// File is the file name the scenario was parsed from ("" if built in Go).
func (s *Scenario) File() string { return s.file }

// Position returns where the value at path (for example
// "faults[2].duration") was written in the file, so that the runner can
// point at the scenario line behind a failure. ok is false if the value
// was not in the file.
func (s *Scenario) Position(path string) (line, col int, ok bool) {
	p, ok := s.pos[path]
	return p.line, p.col, ok
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// yaml.v3 numbers the lines of parser errors (as opposed to scanner
// errors) from 0, and reports the start of the enclosing block when it
// knows it; these are its parser problems.
var parserProblems = []string{
	"did not find expected <stream-start>", "did not find expected <document start>",
	"found undefined tag handle", "did not find expected node content",
	"did not find expected '-' indicator", "did not find expected key",
	"did not find expected ',' or ']'", "did not find expected ',' or '}'",
	"found duplicate %YAML directive", "found incompatible YAML document",
	"found duplicate %TAG directive",
}

// syntaxError turns a yaml.v3 error message into a 1-based line (0 if
// unknown) and a message.
func syntaxError(raw string) (int, string) {
	msg := strings.TrimPrefix(raw, "yaml: ")
	line := 0
	if m := yamlLine.FindStringSubmatch(raw); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = m[2]
	} else if !strings.Contains(msg, "UTF-8") && !strings.Contains(msg, "control characters") {
		line = 1 // yaml.v3 drops "line N" when N would be 0
	}
	if contains(parserProblems, msg) {
		if line == 0 {
			line = 1
		} else {
			line++
		}
		return line, "YAML syntax error at or after this line: " + msg
	}
	return line, "YAML syntax error: " + msg
}

// parseYAML returns the single document's root node, or the errors that
// stop decoding (syntax errors, empty or multi-document files).
func parseYAML(filename string, data []byte) (root *yaml.Node, errs ErrorList) {
	fail := func(line, col int, format string, args ...any) (*yaml.Node, ErrorList) {
		return nil, ErrorList{{File: filename, Line: line, Column: col, Msg: fmt.Sprintf(format, args...)}}
	}
	defer func() {
		if r := recover(); r != nil { // yaml.v3 must not take the caller down
			root, errs = fail(0, 0, "YAML parser failed on this file (%v); check its syntax", r)
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var docs []*yaml.Node
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			line, msg := syntaxError(err.Error())
			return fail(line, 0, "%s", msg)
		}
		if len(doc.Content) == 0 || isNull(doc.Content[0]) {
			if len(docs) > 0 {
				continue // a trailing "---" with nothing after it
			}
		}
		docs = append(docs, &doc)
		if len(docs) > 1 {
			n := doc.Content[0]
			return fail(n.Line, n.Column, "a scenario file holds exactly one YAML document, found a second one; put each scenario in its own file")
		}
	}
	if len(docs) == 0 || len(docs[0].Content) == 0 || isNull(docs[0].Content[0]) {
		return fail(0, 0, "file is empty; a scenario starts with apiVersion: %s and kind: %s", APIVersion, KindScenario)
	}
	return docs[0].Content[0], nil
}
