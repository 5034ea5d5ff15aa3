package verdict

import (
	"testing"

	"github.com/rwxchaos/rwxchaos/framework/version"
)

// The report names the build whose checkers decided it: a re-check by
// another build replaces the live run's judge (rwxchaos report warns).
func TestJudgedByIsTheJudgingBuild(t *testing.T) {
	sv, err := Load("testdata/runs/pass")
	if err != nil {
		t.Fatal(err)
	}
	sv.Run.JudgedBy = "v0.0.1 (0123456789ab)"
	r, err := Recheck(sv, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if now := version.Get().Short(); r.JudgedBy != now || now == "" {
		t.Fatalf("re-checked run judged by %q, want this build %q", r.JudgedBy, now)
	}
	if sv.Run.JudgedBy != "v0.0.1 (0123456789ab)" {
		t.Fatal("Recheck changed the saved run it was given")
	}
}
