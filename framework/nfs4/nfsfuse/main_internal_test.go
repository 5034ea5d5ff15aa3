package nfsfuse

import (
	"bytes"
	"strings"
	"testing"
)

func TestUsageErrorsExitTwoAndSayWhatIsMissing(t *testing.T) {
	for _, args := range [][]string{nil, {"--server", "127.0.0.1:1"}, {"--mount", "/tmp"}, {"--bogus"}, {"--server", "a:1", "--mount", "/m", "extra"}} {
		var out bytes.Buffer
		if code := run(args, &out); code != 2 {
			t.Errorf("run(%q) = %d, want 2 (usage)", args, code)
		}
		if !strings.Contains(out.String(), "--server") {
			t.Errorf("run(%q) printed %q: does not say what is required", args, out.String())
		}
	}
	var out bytes.Buffer
	if code := run([]string{"--help"}, &out); code != 0 || !strings.Contains(out.String(), "Mount guard") {
		t.Errorf("--help = %d, %q", code, out.String())
	}
}
