package scenario

import (
	"fmt"
	"sort"
	"strings"
)

// FieldError is one problem found in a scenario file, pinned to the place
// in the file that caused it.
type FieldError struct {
	// File is the file name given to Parse or Load.
	File string
	// Line and Column are 1-based; Column is 0 when only the line is known
	// (YAML syntax errors), and both are 0 for errors about the file as a
	// whole.
	Line, Column int
	// Path is the field path, for example "faults[1].target.role"; empty
	// for syntax errors.
	Path string
	// Msg says what is wrong and, where possible, what to write instead.
	Msg string
	// Unsupported marks a well-formed request that the support table
	// refuses on the scenario's provider (framework/support): the file is
	// fine, but nothing can run it as written.
	Unsupported bool
}

// Error formats the error as "file:line:col: path: message", leaving out
// the parts that are unknown.
func (e *FieldError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
		if e.Column > 0 {
			fmt.Fprintf(&b, ":%d", e.Column)
		}
	}
	if b.Len() > 0 {
		b.WriteString(": ")
	}
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// ErrorList is every problem found in one scenario file, sorted by
// position. Parse and Load return it (as error) whenever the file is
// invalid; use errors.As to get at the individual FieldErrors.
type ErrorList []*FieldError

// MaxShownErrors is how many errors ErrorList.Error prints before it says
// how many more there are: the first ones are what to fix; thousands of
// lines bury them.
const MaxShownErrors = 50

// Error prints one FieldError per line, the first MaxShownErrors of them
// and then "... and N more".
func (l ErrorList) Error() string {
	n := min(len(l), MaxShownErrors)
	lines := make([]string, n, n+1)
	for i, e := range l[:n] {
		lines[i] = e.Error()
	}
	if len(l) > n {
		lines = append(lines, fmt.Sprintf("... and %d more errors (fix the ones above first)", len(l)-n))
	}
	return strings.Join(lines, "\n")
}

// Unwrap exposes the individual errors to errors.Is and errors.As.
func (l ErrorList) Unwrap() []error {
	out := make([]error, len(l))
	for i, e := range l {
		out[i] = e
	}
	return out
}

// Unsupported reports whether every error in the list is a refusal by the
// support table (the file is well-formed; no provider can run it as
// written). Suites skip such a scenario with the reason instead of failing.
func (l ErrorList) Unsupported() bool {
	for _, e := range l {
		if !e.Unsupported {
			return false
		}
	}
	return len(l) > 0
}

func (l ErrorList) sort() {
	sort.SliceStable(l, func(i, j int) bool {
		a, b := l[i], l[j]
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		if a.Column != b.Column {
			return a.Column < b.Column
		}
		if a.Path != b.Path {
			return a.Path < b.Path
		}
		return a.Msg < b.Msg
	})
}

// dedupe drops exact repeats (same position, path and message); the list
// must be sorted.
func (l ErrorList) dedupe() ErrorList {
	out := l[:0]
	for i, e := range l {
		if i > 0 && *e == *l[i-1] {
			continue
		}
		out = append(out, e)
	}
	return out
}
