// Package version says which rwxchaos is running: the module version, the
// commit and the build date. Release builds set them with -ldflags
//
//	-X github.com/rwxchaos/rwxchaos/framework/version.version=v1.2.3
//	-X github.com/rwxchaos/rwxchaos/framework/version.commit=<sha>
//	-X github.com/rwxchaos/rwxchaos/framework/version.date=<RFC 3339>
//
// and every other build (go install, go build in a checkout) gets them from
// the build information the Go toolchain embeds (debug.ReadBuildInfo).
package version

import (
	"fmt"
	"regexp"
	"runtime"
	"runtime/debug"
	"strings"
)

// Set by -ldflags -X in release builds.
var version, commit, date string

// Info describes the running build.
type Info struct {
	// Version is the module version (v1.2.3, or a pseudo-version for a
	// build from a checkout), "devel" when unknown.
	Version string `json:"version"`
	// Commit is the VCS revision; Modified when the tree had local changes.
	Commit   string `json:"commit,omitempty"`
	Modified bool   `json:"modified,omitempty"`
	// Date is the build date of a release build, else the commit's time.
	Date      string `json:"date,omitempty"`
	GoVersion string `json:"goVersion"`
	Platform  string `json:"platform"`
}

// Get returns the running build's information.
func Get() Info {
	return fromBuild(version, commit, date, readBuildInfo)
}

func readBuildInfo() (*debug.BuildInfo, bool) { return debug.ReadBuildInfo() }

func fromBuild(v, c, d string, read func() (*debug.BuildInfo, bool)) Info {
	i := Info{Version: v, Commit: c, Date: d, GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	bi, ok := read()
	if ok {
		i.GoVersion = bi.GoVersion
		if i.Version == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			i.Version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				if i.Commit == "" {
					i.Commit = s.Value
				}
			case "vcs.time":
				if i.Date == "" {
					i.Date = s.Value
				}
			case "vcs.modified":
				i.Modified = s.Value == "true" && c == ""
			}
		}
	}
	if i.Version == "" {
		i.Version = "devel"
	}
	return i
}

// ReleaseRepo is where releases publish the rwxchaos image (.goreleaser.yaml).
const ReleaseRepo = "ghcr.io/rwxchaos/rwxchaos"

// Image is this build's published image, ReleaseRepo:vX.Y.Z, or "" when the
// build is not a release (devel, a pseudo-version, a snapshot).
func (i Info) Image() string {
	if !releaseTag.MatchString(i.Version) {
		return ""
	}
	return ReleaseRepo + ":" + i.Version
}

var releaseTag = regexp.MustCompile(`^v\d+\.\d+\.\d+$`)

// Short is the version and, when known, the commit: "v1.2.3 (1f73f52c0a1b)".
// Reports record it as the version that judged them.
func (i Info) Short() string {
	if i.Commit == "" {
		return i.Version
	}
	c := i.Commit
	if len(c) > 12 {
		c = c[:12]
	}
	if i.Modified {
		c += "+dirty"
	}
	if strings.Contains(i.Version, c[:min(len(c), 12)]) {
		return i.Version // a pseudo-version already names the commit
	}
	return fmt.Sprintf("%s (%s)", i.Version, c)
}

// String is the multi-line form `rwxchaos version` prints.
func (i Info) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "rwxchaos %s\n", i.Version)
	if i.Commit != "" {
		mod := ""
		if i.Modified {
			mod = " (modified)"
		}
		fmt.Fprintf(&b, "  commit  %s%s\n", i.Commit, mod)
	}
	if i.Date != "" {
		fmt.Fprintf(&b, "  date    %s\n", i.Date)
	}
	fmt.Fprintf(&b, "  go      %s %s\n", i.GoVersion, i.Platform)
	return b.String()
}
