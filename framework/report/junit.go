package report

import (
	"encoding/xml"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/rwxchaos/rwxchaos/framework/check"
)

// JUnit XML, in the subset that Jenkins, GitLab, GitHub test reporters and
// Buildkite all read: testsuites > testsuite > testcase with failure, error
// or skipped children.

// JUnitSuites is the root element.
type JUnitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Skipped  int          `xml:"skipped,attr"`
	Time     string       `xml:"time,attr"`
	Suites   []JUnitSuite `xml:"testsuite"`
}

// JUnitSuite is one scenario run.
type JUnitSuite struct {
	Name       string          `xml:"name,attr"`
	Tests      int             `xml:"tests,attr"`
	Failures   int             `xml:"failures,attr"`
	Errors     int             `xml:"errors,attr"`
	Skipped    int             `xml:"skipped,attr"`
	Time       string          `xml:"time,attr"`
	Timestamp  string          `xml:"timestamp,attr,omitempty"`
	Hostname   string          `xml:"hostname,attr,omitempty"`
	Properties []JUnitProperty `xml:"properties>property,omitempty"`
	Cases      []JUnitCase     `xml:"testcase"`
	SystemOut  string          `xml:"system-out,omitempty"`
}

// JUnitProperty is a name/value pair of a suite.
type JUnitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

// JUnitCase is one check or expectation.
type JUnitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *JUnitProblem `xml:"failure,omitempty"`
	Error     *JUnitProblem `xml:"error,omitempty"`
	Skipped   *JUnitSkipped `xml:"skipped,omitempty"`
	SystemOut string        `xml:"system-out,omitempty"`
}

// JUnitProblem is a failure or an error.
type JUnitProblem struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

// JUnitSkipped marks a case that was not judged.
type JUnitSkipped struct {
	Message string `xml:"message,attr"`
}

// maxJUnitExamples caps the anomaly examples listed in one failure.
const maxJUnitExamples = 20

// JUnit renders the run as JUnit XML: one testsuite (the scenario), one
// testcase per check and per expectation, and a testcase "run" when the run
// was void or errored, so CI never shows such a run as green.
func JUnit(r *Run) ([]byte, error) {
	s := JUnitSuite{
		Name: r.Scenario,
		Time: seconds(r.Duration()),
		Properties: []JUnitProperty{
			{"run-id", r.RunID},
			{"seed", fmt.Sprint(r.Seed)},
			{"provider", r.Provider},
			{"backend", r.Backend},
			{"verdict", string(r.Verdict)},
			{"replay", ReplayCommand(r)},
		},
	}
	if r.Started > 0 {
		s.Timestamp = time.Unix(0, r.Started).UTC().Format("2006-01-02T15:04:05")
	}
	if r.BackendNote != "" {
		s.Properties = append(s.Properties, JUnitProperty{"backend-note", r.BackendNote})
	}
	// Checks and expectations are judged together in the check phase and
	// not timed one by one.
	checkTime := seconds(0)
	base := "rwxchaos." + r.Scenario
	if r.Verdict == VerdictVoid || r.Verdict == VerdictError {
		c := JUnitCase{Name: "run", Classname: base, Time: s.Time}
		c.Error = &JUnitProblem{Type: string(r.Verdict), Message: oneLine(string(r.Verdict) + ": " + r.Reason), Text: runProblemText(r)}
		s.Cases = append(s.Cases, c)
	}
	if r.Check != nil {
		for _, cr := range r.Check.Checks {
			c := JUnitCase{Name: cr.Name, Classname: base + ".check", Time: checkTime}
			switch cr.Status {
			case check.Fail:
				c.Failure = &JUnitProblem{Type: "fail", Message: oneLine(cr.Message), Text: checkFailureText(&cr)}
			case check.Skip, check.Void:
				c.Skipped = &JUnitSkipped{Message: oneLine(string(cr.Status) + ": " + cr.Message)}
			default:
				c.SystemOut = cr.Message
			}
			s.Cases = append(s.Cases, c)
		}
	}
	for _, e := range r.Expectations {
		c := JUnitCase{Name: e.Name, Classname: base + ".expect", Time: seconds(0)}
		text := fmt.Sprintf("want: %s\ngot:  %s\n%s", e.Want, e.Got, e.Message)
		switch e.Status {
		case check.Fail:
			msg := e.Message
			if msg == "" {
				msg = fmt.Sprintf("want %s, got %s", e.Want, e.Got)
			}
			c.Failure = &JUnitProblem{Type: "fail", Message: oneLine(msg), Text: text}
		case check.Skip, check.Void, check.Info:
			c.Skipped = &JUnitSkipped{Message: oneLine(string(e.Status) + ": " + e.Message)}
		default:
			c.SystemOut = text
		}
		s.Cases = append(s.Cases, c)
	}
	for _, c := range s.Cases {
		s.Tests++
		switch {
		case c.Failure != nil:
			s.Failures++
		case c.Error != nil:
			s.Errors++
		case c.Skipped != nil:
			s.Skipped++
		}
	}
	s.SystemOut = junitSummary(r)
	root := JUnitSuites{Name: "rwxchaos", Tests: s.Tests, Failures: s.Failures, Errors: s.Errors,
		Skipped: s.Skipped, Time: s.Time, Suites: []JUnitSuite{s}}
	b, err := xml.MarshalIndent(root, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode junit: %w", err)
	}
	return append([]byte(xml.Header), append(b, '\n')...), nil
}

// ParseJUnit reads JUnit XML written by JUnit.
func ParseJUnit(b []byte) (*JUnitSuites, error) {
	var s JUnitSuites
	if err := xml.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("parse junit: %w", err)
	}
	return &s, nil
}

func checkFailureText(c *check.CheckResult) string {
	var b strings.Builder
	b.WriteString(c.Message)
	b.WriteString("\n")
	if c.AnomalyCount > 0 {
		fmt.Fprintf(&b, "\n%d anomalies", c.AnomalyCount)
		if c.AnomalyCount > maxJUnitExamples {
			fmt.Fprintf(&b, " (first %d)", maxJUnitExamples)
		}
		b.WriteString(":\n")
	}
	for i, a := range c.Anomalies {
		if i == maxJUnitExamples {
			break
		}
		fmt.Fprintf(&b, "- %s\n", anomalyLine(&a))
	}
	return b.String()
}

func runProblemText(r *Run) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s\n", r.Verdict, r.Reason)
	for _, p := range r.Phases {
		if p.Err != "" {
			fmt.Fprintf(&b, "phase %s: %s\n", p.Name, p.Err)
		}
	}
	for _, f := range r.Faults {
		if f.Err != "" {
			fmt.Fprintf(&b, "fault %s (%s → %s): %s\n", f.Name, f.Action, f.Target, f.Err)
		}
	}
	return b.String()
}

// anomalyLine is a one-line description of an anomaly.
func anomalyLine(a *check.Anomaly) string {
	var parts []string
	parts = append(parts, a.Class)
	if a.Key != "" {
		parts = append(parts, "key "+a.Key)
	}
	if a.Epoch != 0 {
		parts = append(parts, fmt.Sprintf("epoch %d", a.Epoch))
	}
	if a.Proc != "" {
		parts = append(parts, "proc "+a.Proc)
	}
	if a.Path != "" {
		parts = append(parts, a.Path)
	}
	s := strings.Join(parts, " · ")
	if a.Detail != "" {
		s += ": " + a.Detail
	}
	return s
}

func seconds(d time.Duration) string { return fmt.Sprintf("%.3f", d.Seconds()) }

func oneLine(s string) string {
	s = strings.ReplaceAll(s, "\r", " ")
	s = strings.ReplaceAll(s, "\n", " ")
	return truncate(s, 500)
}

// truncate shortens s to at most n bytes on a rune boundary, marking the cut.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	i := n - len("…")
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i] + "…"
}

// junitSummary is the plain-text suite output: verdict, replay command and
// where the full report is.
func junitSummary(r *Run) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s (run %s, seed %d, %s/%s)\n", strings.ToUpper(string(r.Verdict)), r.Scenario, r.RunID, r.Seed, r.Provider, r.Backend)
	if r.Reason != "" {
		fmt.Fprintf(&b, "%s: %s\n", r.Verdict, r.Reason)
	}
	if f := r.Failed(); len(f) > 0 {
		fmt.Fprintf(&b, "failed: %s\n", strings.Join(f, ", "))
	}
	if r.BackendNote != "" {
		fmt.Fprintf(&b, "note: %s\n", r.BackendNote)
	}
	if cmd := ReplayCommand(r); cmd != "" {
		fmt.Fprintf(&b, "replay: %s\n", cmd)
	}
	fmt.Fprintf(&b, "report: %s (timeline, anomalies, per-interchange events)\n", HTMLFile)
	return b.String()
}
