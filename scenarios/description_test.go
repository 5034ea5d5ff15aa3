package scenarios

import (
	"errors"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rwxchaos/rwxchaos/framework/scenario"
)

// durationMention finds a time in prose: a number (digits, or a number
// word) and a unit, as in "120s", "for 3 seconds", "1.5s", "20 ms",
// "two seconds", "2 minutes". Rates ("ten times a second") and "a minute"
// are not matched.
var durationMention = regexp.MustCompile(`(?i)\b(\d+(?:\.\d+)?|two|three|four|five|six|seven|eight|nine|ten|twenty|thirty|forty|forty-five|fifty|sixty|ninety)(?:\s|-)?(ms|milliseconds?|s|secs?|seconds?|min|minutes?)\b`)

var numberWords = map[string]float64{
	"two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10,
	"twenty": 20, "thirty": 30, "forty": 40, "forty-five": 45, "fifty": 50, "sixty": 60, "ninety": 90,
}

// mentionedDurations returns every time the text names.
func mentionedDurations(text string) map[string]time.Duration {
	out := map[string]time.Duration{}
	for _, m := range durationMention.FindAllStringSubmatch(text, -1) {
		n, ok := numberWords[strings.ToLower(m[1])]
		if !ok {
			var err error
			if n, err = strconv.ParseFloat(m[1], 64); err != nil {
				continue
			}
		}
		unit := time.Second
		switch u := strings.ToLower(m[2]); {
		case strings.HasPrefix(u, "ms"), strings.HasPrefix(u, "milli"):
			unit = time.Millisecond
		case strings.HasPrefix(u, "min"):
			unit = time.Minute
		}
		out[m[0]] = time.Duration(n * float64(unit))
	}
	return out
}

// scenarioDurations returns every time a (defaulted) scenario holds: each
// Duration field anywhere in it, the toleration seconds, and the NFS
// attribute cache time of actimeo=N mount options. Backend nfs adds
// Linux's lease and grace (90s), which descriptions quote to say what a
// scenario shortened.
func scenarioDurations(s *scenario.Scenario) map[time.Duration]bool {
	have := map[time.Duration]bool{}
	durType := reflect.TypeOf(scenario.Duration(0))
	var walk func(v reflect.Value, name string)
	walk = func(v reflect.Value, name string) {
		switch {
		case v.Type() == durType:
			have[time.Duration(v.Int())] = true
			return
		case v.Kind() == reflect.Int64 && strings.HasSuffix(name, "Seconds"):
			have[time.Duration(v.Int())*time.Second] = true
			return
		}
		switch v.Kind() {
		case reflect.Pointer:
			if !v.IsNil() {
				walk(v.Elem(), name)
			}
		case reflect.Struct:
			for i := 0; i < v.NumField(); i++ {
				if f := v.Type().Field(i); f.IsExported() {
					walk(v.Field(i), f.Name)
				}
			}
		case reflect.Slice, reflect.Array:
			for i := 0; i < v.Len(); i++ {
				walk(v.Index(i), name)
			}
		}
	}
	walk(reflect.ValueOf(s).Elem(), "")
	for _, o := range s.Storage.MountOptions {
		if v, ok := strings.CutPrefix(o, "actimeo="); ok {
			if n, err := strconv.Atoi(v); err == nil {
				have[time.Duration(n)*time.Second] = true
			}
		}
	}
	if s.Storage.Backend == scenario.BackendNFS {
		have[scenario.DefaultNFSLease] = true
		have[scenario.DefaultNFSGrace] = true
	}
	return have
}

// A description that names a time ("brings it back after 30 seconds",
// "freezes it for 120s") names one the scenario holds: a fault's duration
// or schedule, a lease, a timing or a bound. It catches prose left behind
// when a value was tuned.
func TestDescriptionDurations(t *testing.T) {
	for _, name := range Names() {
		s, err := Load(name)
		var list scenario.ErrorList
		if err != nil && !(errors.As(err, &list) && list.Unsupported()) {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if s == nil {
			continue
		}
		have := scenarioDurations(s)
		for text, d := range mentionedDurations(s.Metadata.Description) {
			if !have[d] {
				t.Errorf("%s: the description says %q, but no duration, schedule, lease, timing or bound of the scenario is %s", name, text, d)
			}
		}
	}
}

func TestMentionedDurations(t *testing.T) {
	got := mentionedDurations("back after 30 seconds, for 120s past its 90s lease, 1.5s, over 20 ms, two seconds, 2 minutes, a 5 second pause; ten times a second, within a minute, NFS 4.1, 3 workers")
	want := map[string]time.Duration{
		"30 seconds": 30 * time.Second, "120s": 120 * time.Second, "90s": 90 * time.Second, "1.5s": 1500 * time.Millisecond,
		"20 ms": 20 * time.Millisecond, "two seconds": 2 * time.Second, "2 minutes": 2 * time.Minute, "5 second": 5 * time.Second,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("mentionedDurations = %v, want %v", got, want)
	}
}
