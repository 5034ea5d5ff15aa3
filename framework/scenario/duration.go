package scenario

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Duration is a time.Duration written in scenario files as a Go duration
// string ("500ms", "30s", "1m30s"). The bare number 0 is accepted as "no
// time". It marshals back to the string form (JSON, YAML and text).
type Duration time.Duration

// D returns d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// String formats d like time.Duration does ("1m30s").
func (d Duration) String() string { return time.Duration(d).String() }

// MarshalText implements encoding.TextMarshaler.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler with the same rules as
// scenario files.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := parseDuration(string(b))
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// MarshalJSON writes d as a JSON string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }

// UnmarshalJSON accepts a duration string or the number 0.
func (d *Duration) UnmarshalJSON(b []byte) error {
	if string(b) == "0" {
		*d = 0
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration must be a string such as \"30s\": %w", err)
	}
	return d.UnmarshalText([]byte(s))
}

// MarshalYAML writes d as a YAML string (gopkg.in/yaml.v3 Marshaler).
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }

func parseDuration(s string) (Duration, error) {
	if s == "" {
		return 0, fmt.Errorf("empty duration; write a value such as \"30s\"")
	}
	if strings.HasPrefix(s, "+") {
		return 0, fmt.Errorf("%q: write durations without a sign, such as \"30s\"", s)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration; write a number with a unit (ns, us, ms, s, m, h), such as \"30s\" or \"1m30s\"", s)
	}
	if v < 0 {
		return 0, fmt.Errorf("duration %q is negative; durations must be 0 or more", s)
	}
	return Duration(v), nil
}
