package scenario

import (
	"os"
	"strings"
	"testing"
)

// The annotated example in doc.go must stay a valid scenario.
func TestDocExample(t *testing.T) {
	src, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	in := false
	for _, line := range strings.Split(string(src), "\n") {
		body, isTab := strings.CutPrefix(line, "//\t")
		switch {
		case isTab && strings.HasPrefix(body, "apiVersion:"):
			in = true
		case in && !isTab:
			in = false
		}
		if in {
			b.WriteString(body + "\n")
		}
		if !in && b.Len() > 0 {
			break
		}
	}
	if b.Len() == 0 {
		t.Fatal("no example found in doc.go")
	}
	s, err := Parse("doc.go example", []byte(b.String()))
	if err != nil {
		t.Fatalf("the example in doc.go is invalid:\n%v\n%s", err, b.String())
	}
	if len(s.Faults) != 2 || s.Faults[0].Schedule.After != SteadyStateAfter {
		t.Errorf("example parsed unexpectedly: %+v", s.Faults)
	}
}
