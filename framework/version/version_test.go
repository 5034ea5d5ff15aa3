package version

import (
	"runtime/debug"
	"strings"
	"testing"
)

func TestFromLdflagsAndBuildInfo(t *testing.T) {
	bi := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v0.0.0-20261201101010-1f73f52c0a1b+dirty"},
		Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "1f73f52c0a1b2c3d4e5f"}, {Key: "vcs.time", Value: "2026-12-01T10:10:10Z"}, {Key: "vcs.modified", Value: "true"}}}
	read := func() (*debug.BuildInfo, bool) { return bi, true }

	// go install / go build in a checkout: everything from the build info.
	i := fromBuild("", "", "", read)
	if i.Version != bi.Main.Version || i.Commit != "1f73f52c0a1b2c3d4e5f" || !i.Modified || i.Date != "2026-12-01T10:10:10Z" || i.GoVersion != "go1.26.8" {
		t.Fatalf("from build info: %+v", i)
	}
	if i.Short() != bi.Main.Version {
		t.Fatalf("Short() = %q: a pseudo-version already names its commit", i.Short())
	}
	// A release build: ldflags win, and its commit is clean by definition.
	r := fromBuild("v1.2.3", "abcdef0123456789", "2026-12-02T00:00:00Z", read)
	if r.Version != "v1.2.3" || r.Commit != "abcdef0123456789" || r.Modified || r.Date != "2026-12-02T00:00:00Z" {
		t.Fatalf("release: %+v", r)
	}
	if r.Short() != "v1.2.3 (abcdef012345)" {
		t.Fatalf("Short() = %q", r.Short())
	}
	for _, want := range []string{"rwxchaos v1.2.3\n", "commit  abcdef0123456789\n", "date    2026-12-02T00:00:00Z\n", "go      go1.26.8 "} {
		if !strings.Contains(r.String(), want) {
			t.Errorf("String() lacks %q:\n%s", want, r.String())
		}
	}
	if r.Image() != "ghcr.io/rwxchaos/rwxchaos:v1.2.3" || i.Image() != "" {
		t.Fatalf("Image(): release %q, pseudo-version %q", r.Image(), i.Image())
	}
	// No build info at all (a stripped or odd build).
	if d := fromBuild("", "", "", func() (*debug.BuildInfo, bool) { return nil, false }); d.Version != "devel" || d.Short() != "devel" {
		t.Fatalf("no build info: %+v %q", d, d.Short())
	}
	// "(devel)" (a build without VCS stamping) is not a version.
	bi.Main.Version, bi.Settings = "(devel)", nil
	if d := fromBuild("", "", "", read); d.Version != "devel" {
		t.Fatalf("(devel): %+v", d)
	}
}
