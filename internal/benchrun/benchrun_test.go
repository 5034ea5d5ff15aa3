package benchrun

import (
	"testing"

	"github.com/rwxchaos/rwxchaos/framework/report"
	"github.com/rwxchaos/rwxchaos/framework/verdict"
)

// A small generated run re-checks offline to a pass with every upload ok.
func TestSmallRunRechecks(t *testing.T) {
	dir, err := Ensure(t.TempDir(), 2500)
	if err != nil {
		t.Fatal(err)
	}
	sv, err := verdict.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if sv.Incomplete != "" {
		t.Errorf("the generated run directory is incomplete: %s", sv.Incomplete)
	}
	r, err := verdict.Recheck(sv, verdict.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if r.Verdict != report.VerdictPass || r.Check.Classes["ok"] != 2500 {
		t.Errorf("verdict %s (%s), classes %v", r.Verdict, r.Reason, r.Check.Classes)
	}
}
