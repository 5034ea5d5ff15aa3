package report

import (
	"testing"

	"github.com/rwxchaos/rwxchaos/framework/version"
)

// A live run records the build that judged it; a re-check replaces it with
// the build that re-judged it (`rwxchaos report` warns before).
func TestJudgedByRecordsTheCheckingBuild(t *testing.T) {
	dir := copyDir(t, fixtureDir)
	r, h, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	r.JudgedBy = "v0.0.1 (0123456789ab)"
	if err := Write(dir, r, h); err != nil {
		t.Fatal(err)
	}
	if got, err := LoadRun(dir); err != nil || got.JudgedBy != "v0.0.1 (0123456789ab)" {
		t.Fatalf("Write changed a recorded judge: %v %v", got.JudgedBy, err)
	}
	now := version.Get().Short()
	if rr, err := RecheckSaved(dir); err != nil || rr.JudgedBy != now {
		t.Fatalf("after a re-check: %v %v, want %q", rr.JudgedBy, err, now)
	}
	if got, err := LoadRun(dir); err != nil || got.JudgedBy != now {
		t.Fatalf("re-check not saved: %v %v", got.JudgedBy, err)
	}
	r.JudgedBy = ""
	if err := Write(dir, r, h); err != nil {
		t.Fatal(err)
	}
	if got, err := LoadRun(dir); err != nil || got.JudgedBy != now {
		t.Fatalf("a live run's report does not name its judge: %q %v", got.JudgedBy, err)
	}
}
