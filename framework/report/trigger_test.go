package report

import (
	"strings"
	"testing"
)

// A fault fired by a file operation shows that operation next to it: a
// marker on the fault's lane at the moment the storage layer got it, in the
// fault's tooltip and table row, and in summary.md.
func TestTriggeredFaultShown(t *testing.T) {
	r, h := buildFixture()
	f := &r.Faults[0]
	f.Trigger = "rename botssys/outfile/default/.a.json.1.tmp → botssys/outfile/default/a.json (after) by engine pid 42"
	f.Triggered = f.Injected - 2_000_000
	files, err := render(r, h)
	if err != nil {
		t.Fatal(err)
	}
	html := string(files[2].data)
	for _, want := range []string{
		`class="tmark"`,
		"triggered by rename botssys/outfile/default/.a.json.1.tmp → botssys/outfile/default/a.json (after) by engine pid 42 at &#43;",
		"<small>triggered by rename",
	} {
		if !strings.Contains(html, want) {
			t.Errorf("report.html lacks %q", want)
		}
	}
	if s := Summary(r); !strings.Contains(s, "| "+f.Name+" | "+f.Action+" (triggered by rename botssys/outfile/default/.a.json.1.tmp → botssys/outfile/default/a.json (after) by engine pid 42 at +") {
		t.Errorf("summary.md does not show the trigger:\n%s", s)
	}
	// A timed fault has no marker.
	f.Trigger, f.Triggered = "", 0
	files, _ = render(r, h)
	if strings.Contains(string(files[2].data), `class="tmark"`) {
		t.Error("a timed fault shows a trigger marker")
	}
}
