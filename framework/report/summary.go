package report

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/rwxchaos/rwxchaos/framework/check"
)

// maxSummaryFaults caps the fault rows of summary.md (a job summary may hold
// at most 1 MiB).
const maxSummaryFaults = 50

// ReplayCommand is the command line that repeats the run with its seed; ""
// for a history that no recorded run produced (a bare or hand-written one).
func ReplayCommand(r *Run) string {
	if r.Started == 0 && r.ScenarioFile == "" && r.Spec == nil {
		return ""
	}
	file := r.ScenarioFile
	if file == "" {
		file = r.Scenario + ".yaml"
	}
	return fmt.Sprintf("rwxchaos run %s --seed %d", shellQuote(file), r.Seed)
}

func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(c rune) bool {
		return !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("_-./+=:@%", c))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// VerdictTitle is the verdict in capitals with an icon, e.g. "❌ FAIL".
func VerdictTitle(v Verdict) string {
	icon := map[Verdict]string{VerdictPass: "✅", VerdictFail: "❌", VerdictVoid: "⚪", VerdictError: "💥"}[v]
	if icon == "" {
		icon = "❔"
		if v == "" {
			v = "unknown"
		}
	}
	return icon + " " + strings.ToUpper(string(v))
}

func statusIcon(s check.Status) string {
	switch s {
	case check.Pass:
		return "✅ pass"
	case check.Fail:
		return "❌ fail"
	case check.Skip:
		return "⏭️ skip"
	case check.Void:
		return "⚪ void"
	case check.Info:
		return "ℹ️ info"
	}
	return "❔ " + string(s)
}

// ClassCount is the number of anomalies of one class.
type ClassCount struct {
	Class string
	Count int
	// AtLeast: the count comes from capped examples; there may be more.
	AtLeast bool
}

// ledgerClasses are the classes Result.Classes counts, worst first.
var ledgerClasses = []string{check.ClassLost, check.ClassDuplicated, check.ClassCorrupt, check.ClassUnexpected,
	check.ClassStuck, check.ClassIndeterminate}

// AnomalyClasses counts anomalies by class: interchange classes from the
// ledger's per-class totals, the others from the checks' examples.
func AnomalyClasses(res *check.Result) []ClassCount {
	if res == nil {
		return nil
	}
	var out []ClassCount
	isLedger := map[string]bool{}
	for _, c := range ledgerClasses {
		isLedger[c] = true
		if n := res.Classes[c]; n > 0 {
			out = append(out, ClassCount{Class: c, Count: n})
		}
	}
	idx := map[string]int{}
	for _, cr := range res.Checks {
		truncated := cr.AnomalyCount > len(cr.Anomalies)
		for _, a := range cr.Anomalies {
			if isLedger[a.Class] && res.Classes != nil {
				continue
			}
			i, ok := idx[a.Class]
			if !ok {
				i = len(out)
				idx[a.Class] = i
				out = append(out, ClassCount{Class: a.Class})
			}
			out[i].Count++
			out[i].AtLeast = out[i].AtLeast || truncated
		}
	}
	return out
}

func (c ClassCount) String() string {
	if c.AtLeast {
		return fmt.Sprintf("≥%d", c.Count)
	}
	return fmt.Sprint(c.Count)
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// Summary renders the run as Markdown for a GitHub Actions job summary.
func Summary(r *Run) string {
	var b strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	p("## %s · %s\n\n", VerdictTitle(r.Verdict), mdText(r.Scenario))
	if r.Description != "" {
		p("%s\n\n", mdText(strings.TrimSpace(r.Description)))
	}
	switch {
	case r.Reason != "":
		p("**%s:** %s\n\n", r.Verdict, mdText(r.Reason))
	case r.Verdict == VerdictFail:
		p("**Failed:** %s\n\n", mdText(strings.Join(r.Failed(), ", ")))
	}
	p("| Run | Seed | Provider | Storage | Duration | Exit code |\n|---|---|---|---|---|---|\n")
	p("| `%s` | `%d` | %s | %s | %s | %d |\n\n", mdCode(r.RunID), r.Seed, mdCell(r.Provider), mdCell(r.Backend),
		r.Duration().Round(100*time.Millisecond), r.ExitCode)
	if r.BackendNote != "" {
		p("> [!WARNING]\n> %s\n\n", mdText(r.BackendNote))
	}
	if r.Rechecked != 0 {
		p("> [!NOTE]\n> Re-checked offline at %s against %s.\n\n",
			time.Unix(0, r.Rechecked).UTC().Format(time.RFC3339), mdText(cmpOr(r.JudgedWith, "the defaults")))
	}
	if cmd := ReplayCommand(r); cmd != "" {
		p("Replay:\n\n```sh\n%s\n```\n\n", cmd)
	}

	if r.Check != nil && len(r.Check.Checks) > 0 {
		p("### Checks\n\n| Status | Check | Anomalies | Message |\n|---|---|---:|---|\n")
		for _, c := range r.Check.Checks {
			p("| %s | %s | %d | %s |\n", statusIcon(c.Status), mdCell(c.Name), c.AnomalyCount, mdCell(c.Message))
		}
		p("\n")
	}
	if len(r.Expectations) > 0 {
		p("### Expectations\n\n| Status | Expectation | Want | Got | Message |\n|---|---|---|---|---|\n")
		for _, e := range r.Expectations {
			p("| %s | %s | %s | %s | %s |\n", statusIcon(e.Status), mdCell(e.Name), mdCell(e.Want), mdCell(e.Got), mdCell(e.Message))
		}
		p("\n")
	}
	if len(r.Coverage) > 0 {
		p("### What this run could check\n\n| Applied | Check | Evidence | What the app must expose |\n|---|---|---|---|\n")
		for _, c := range r.Coverage {
			ok := "no"
			if c.Applied {
				ok = "yes"
			}
			p("| %s | %s | %s | %s |\n", ok, mdCell(c.Check), mdCell(c.Evidence), mdCell(c.Needs))
		}
		p("\n")
	}
	if r.Check != nil {
		if cc := AnomalyClasses(r.Check); len(cc) > 0 {
			p("### Anomalies by class\n\n| Class | Count |\n|---|---:|\n")
			for _, c := range cc {
				p("| %s | %s |\n", mdCell(c.Class), c)
			}
			p("\n")
		}
		if len(r.Check.Classes) > 0 {
			var keys []string
			total := 0
			for k, n := range r.Check.Classes {
				keys = append(keys, k)
				total += n
			}
			sort.Slice(keys, func(i, j int) bool { return classRank(keys[i]) < classRank(keys[j]) })
			var parts []string
			for _, k := range keys {
				parts = append(parts, fmt.Sprintf("%s %d", mdText(k), r.Check.Classes[k]))
			}
			p("**Interchanges:** %d — %s\n\n", total, strings.Join(parts, " · "))
		}
	}
	if len(r.Faults) > 0 {
		p("### Faults\n\n| Fault | Action | Target | Injected | Verified | Healed | Heal verified | Lasted | Error |\n|---|---|---|---:|---:|---:|---:|---:|---|\n")
		for i, f := range r.Faults {
			if i == maxSummaryFaults {
				p("| … | %d more | | | | | | | |\n", len(r.Faults)-i)
				break
			}
			lasted := ""
			if f.Healed >= f.Injected && f.Injected > 0 {
				lasted = time.Duration(f.Healed - f.Injected).Round(100 * time.Millisecond).String()
			}
			action := f.Action
			if f.Trigger != "" {
				action += " (triggered by " + f.Trigger + " at " + rel(r, f.Triggered) + ")"
			}
			p("| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", mdCell(f.Name), mdCell(action), mdCell(f.Target),
				rel(r, f.Injected), rel(r, f.Verified), rel(r, f.Healed), rel(r, f.HealVerified), lasted, mdCell(f.Err))
		}
		p("\nTimes are relative to the run start.\n\n")
	}
	if r.Check != nil && r.Check.Latency.N > 0 {
		q := r.Check.Latency
		p("### Latency (upload ack → output)\n\n| n | p50 | p90 | p99 | max |\n|---:|---:|---:|---:|---:|\n")
		p("| %d | %s | %s | %s | %s |\n\n", q.N, ms(q.P50), ms(q.P90), ms(q.P99), ms(q.Max))
	}
	if len(r.Phases) > 0 {
		p("<details><summary>Phases</summary>\n\n| Phase | Start | Took | Error |\n|---|---:|---:|---|\n")
		for _, ph := range r.Phases {
			took := ""
			if ph.End >= ph.Start && ph.Start > 0 {
				took = time.Duration(ph.End - ph.Start).Round(10 * time.Millisecond).String()
			}
			p("| %s | %s | %s | %s |\n", mdCell(ph.Name), rel(r, ph.Start), took, mdCell(ph.Err))
		}
		p("\n</details>\n\n")
	}
	p("Full report: `%s` (timeline, anomalies, per-interchange events).\n", HTMLFile)
	return b.String()
}

// classRank orders ledger classes worst first, ok and rejected last.
func classRank(c string) int {
	for i, k := range ledgerClasses {
		if k == c {
			return i
		}
	}
	switch c {
	case check.ClassOK:
		return 100
	case check.ClassRejected:
		return 101
	}
	return 50
}

// rel formats t relative to the run start, e.g. "+62.0s"; "" for 0.
func rel(r *Run, t int64) string {
	if t == 0 {
		return ""
	}
	if r.Started == 0 {
		return time.Unix(0, t).UTC().Format("15:04:05.000")
	}
	return relDur(time.Duration(t - r.Started))
}

func relDur(d time.Duration) string {
	s := d.Seconds()
	switch {
	case s >= 0 && s < 600, s < 0 && s > -600:
		return fmt.Sprintf("%+.1fs", s)
	}
	sign := "+"
	if d < 0 {
		sign, d = "-", -d
	}
	return sign + d.Round(time.Second).String()
}

func ms(v float64) string {
	switch {
	case v >= 10000:
		return fmt.Sprintf("%.1f s", v/1000)
	case v >= 1000:
		return fmt.Sprintf("%.2f s", v/1000)
	}
	return fmt.Sprintf("%.0f ms", v)
}

// mdText escapes text for Markdown outside tables.
func mdText(s string) string {
	r := strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", "*", `\*`, "_", `\_`, "`", "\\`", "[", `\[`, "]", `\]`, "|", `\|`, "#", `\#`)
	return r.Replace(s)
}

// mdCell escapes text for a Markdown table cell.
func mdCell(s string) string {
	s = strings.TrimSpace(mdText(s))
	s = strings.ReplaceAll(s, "\r", "")
	return strings.ReplaceAll(s, "\n", "<br>")
}

func mdCode(s string) string { return strings.ReplaceAll(s, "`", "'") }
