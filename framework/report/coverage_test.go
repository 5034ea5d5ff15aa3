package report

import (
	"strings"
	"testing"
)

// An external run says which checks applied and why the others could not,
// in summary.md and report.html; runs without coverage show no section.
func TestCoverageRendered(t *testing.T) {
	r, h := buildFixture()
	if strings.Contains(Summary(r), "What this run could check") {
		t.Error("a run without coverage shows the section")
	}
	r.Coverage = []Coverage{
		{Check: "ledger", Applied: true, Evidence: "outputs matched by file name", Needs: "one output per input"},
		{Check: "lock-safety", Applied: false, Evidence: "not possible: no journal | <b>", Needs: "journal lock.* events"},
	}
	s := Summary(r)
	for _, want := range []string{
		"### What this run could check",
		"| yes | ledger | outputs matched by file name | one output per input |",
		"| no | lock-safety | not possible: no journal \\| &lt;b&gt; | journal lock.\\* events |",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("summary lacks %q", want)
		}
	}
	files, err := render(r, h)
	if err != nil {
		t.Fatal(err)
	}
	html := string(files[2].data)
	for _, want := range []string{`id="coverage"`, `<span class="pill skip">no</span></td><td><b>lock-safety</b>`, "not possible: no journal | &lt;b&gt;"} {
		if !strings.Contains(html, want) {
			t.Errorf("report.html lacks %q", want)
		}
	}
}
