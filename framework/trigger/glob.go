package trigger

import (
	"fmt"
	"path"
	"strings"
)

// Glob is a slash-separated path pattern relative to the volume root:
// "*", "?" and "[...]" match within one path element (as path.Match), and
// an element "**" matches any number of elements, none included. A pattern
// never matches a path that leaves the volume ("..") and is matched
// against cleaned paths.
type Glob string

// Check reports what is wrong with the pattern, or nil.
func (g Glob) Check() error {
	s := string(g)
	switch {
	case s == "":
		return fmt.Errorf("empty path pattern: use ** for every file")
	case strings.HasPrefix(s, "/"):
		return fmt.Errorf("path pattern %q must be relative to the volume root (no leading /)", s)
	}
	for _, el := range strings.Split(s, "/") {
		switch {
		case el == "":
			return fmt.Errorf("path pattern %q has an empty element (//)", s)
		case el == "." || el == "..":
			return fmt.Errorf("path pattern %q has a %q element: write the path from the volume root", s, el)
		case el == "**":
		case strings.Contains(el, "**"):
			return fmt.Errorf("path pattern %q: ** must be a whole path element, as in a/**/b", s)
		default:
			if _, err := path.Match(el, ""); err != nil {
				return fmt.Errorf("path pattern %q: element %q: %w", s, el, err)
			}
		}
	}
	return nil
}

// Match reports whether p (relative to the volume root) matches the
// pattern. An invalid pattern matches nothing.
func (g Glob) Match(p string) bool {
	p = path.Clean(p)
	if p == "." || p == ".." || strings.HasPrefix(p, "../") || strings.HasPrefix(p, "/") {
		return false
	}
	return matchElems(strings.Split(string(g), "/"), strings.Split(p, "/"))
}

func matchElems(pat, name []string) bool {
	for len(pat) > 0 {
		if pat[0] == "**" {
			rest := pat[1:]
			for i := 0; i <= len(name); i++ {
				if matchElems(rest, name[i:]) {
					return true
				}
			}
			return false
		}
		if len(name) == 0 {
			return false
		}
		ok, err := path.Match(pat[0], name[0])
		if err != nil || !ok {
			return false
		}
		pat, name = pat[1:], name[1:]
	}
	return len(name) == 0
}
