package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html/template"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// IndexName is the default base name of a suite's index files (index.html,
// index.md, index.json), written into the report directory beside the
// scenario directories.
const IndexName = "index"

// Suite outcomes of one scenario on the index: what the suite concluded,
// which for a bug-zoo scenario is "pass" when the run failed as it must.
const (
	OutcomePass = "pass"
	OutcomeFail = "fail"
	OutcomeSkip = "skip"
)

// Index is one suite run over many scenarios (a night): every scenario's
// outcome, why it is not green, how long it took and where its report is.
type Index struct {
	Title   string `json:"title"`
	Started int64  `json:"started"`
	Ended   int64  `json:"ended"`
	// Host describes the machine (cores, load average at start and end).
	Host    string       `json:"host,omitempty"`
	Entries []IndexEntry `json:"entries"`
	// Notes are lines about the suite itself (the shared cluster: created,
	// reset, time per reset step).
	Notes []string `json:"notes,omitempty"`
}

// IndexEntry is one scenario of the suite.
type IndexEntry struct {
	Scenario string `json:"scenario"`
	Provider string `json:"provider,omitempty"`
	Tier     string `json:"tier,omitempty"`
	// Outcome is the suite's judgement: pass, fail or skip.
	Outcome string `json:"outcome"`
	// Verdict is the run's own verdict ("" when it did not run).
	Verdict Verdict `json:"verdict,omitempty"`
	// Why explains every outcome that is not a plain pass: the skip reason,
	// the void or error reason, the failed checks, or what a bug-zoo
	// scenario had to show.
	Why  string `json:"why,omitempty"`
	Seed int64  `json:"seed,omitempty"`
	// Dir is the run directory relative to the index.
	Dir     string  `json:"dir,omitempty"`
	Started int64   `json:"started,omitempty"`
	Ended   int64   `json:"ended,omitempty"`
	Phases  []Phase `json:"phases,omitempty"`
	// FaultToVerdict: from the first fault's injection to the end of the
	// check phase (0 when no fault was injected).
	FaultToVerdict time.Duration `json:"faultToVerdict,omitempty"`
}

// NewIndexEntry describes a finished run; dir is its run directory relative
// to the index, outcome and why the suite's conclusion.
func NewIndexEntry(r *Run, dir, outcome, why string) IndexEntry {
	e := IndexEntry{Scenario: r.Scenario, Provider: r.Provider, Outcome: outcome, Verdict: r.Verdict, Why: why,
		Seed: r.Seed, Dir: filepath.ToSlash(dir), Started: r.Started, Ended: r.Ended, Phases: r.Phases}
	var first int64
	for _, f := range r.Faults {
		if f.Injected > 0 && (first == 0 || f.Injected < first) {
			first = f.Injected
		}
	}
	for _, p := range r.Phases {
		if p.Name == PhaseCheck && first > 0 && p.End > first {
			e.FaultToVerdict = time.Duration(p.End - first)
		}
	}
	// The run's end is written before teardown; the teardown phase, if any,
	// is part of what the scenario cost.
	for _, p := range r.Phases {
		if p.End > e.Ended {
			e.Ended = p.End
		}
	}
	return e
}

// Duration is the scenario's wall time, teardown included.
func (e IndexEntry) Duration() time.Duration {
	if e.Ended <= e.Started || e.Started == 0 {
		return 0
	}
	return time.Duration(e.Ended - e.Started)
}

// PhaseTime is the time spent in the named phases.
func (e IndexEntry) PhaseTime(names ...string) time.Duration {
	var d time.Duration
	for _, p := range e.Phases {
		for _, n := range names {
			if p.Name == n && p.End > p.Start {
				d += time.Duration(p.End - p.Start)
			}
		}
	}
	return d
}

// Counts returns how many entries have each outcome.
func (idx *Index) Counts() map[string]int {
	n := map[string]int{}
	for _, e := range idx.Entries {
		n[e.Outcome]++
	}
	return n
}

// Green reports whether every scenario passed or was skipped with a reason.
func (idx *Index) Green() bool {
	for _, e := range idx.Entries {
		if e.Outcome == OutcomeFail || (e.Outcome == OutcomeSkip && e.Why == "") {
			return false
		}
	}
	return true
}

// Duration is the suite's wall time.
func (idx *Index) Duration() time.Duration {
	if idx.Ended <= idx.Started {
		return 0
	}
	return time.Duration(idx.Ended - idx.Started)
}

// phaseGroups are the columns of the time table: where a scenario's minutes go.
var phaseGroups = []struct {
	Label  string
	Phases []string
}{
	{"provision", []string{PhaseProvision}},
	{"deploy", []string{PhaseDeploy}},
	{"traffic+faults", []string{PhaseSteadyState, PhaseTrafficFaults}},
	{"heal", []string{PhaseHeal}},
	{"settle", []string{PhaseSettle}},
	{"collect+check", []string{PhaseCollect, PhaseCheck, PhaseReport}},
	{"teardown", []string{PhaseTeardown}},
}

func outcomeIcon(o string) string {
	switch o {
	case OutcomePass:
		return "✅"
	case OutcomeFail:
		return "❌"
	case OutcomeSkip:
		return "⏭️"
	}
	return "❔"
}

func dur(d time.Duration) string {
	if d <= 0 {
		return ""
	}
	if d < time.Minute {
		return fmt.Sprintf("%.1fs", d.Seconds())
	}
	return d.Round(time.Second).String()
}

// Markdown renders the index for a CI job summary.
func (idx *Index) Markdown() string {
	var b strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	title := idx.Title
	if title == "" {
		title = "rwxchaos suite"
	}
	n := idx.Counts()
	state := "✅ green"
	if !idx.Green() {
		state = "❌ red"
	}
	p("## %s · %s\n\n", mdText(title), state)
	p("%d scenarios: %d pass, %d fail, %d skipped · %s", len(idx.Entries), n[OutcomePass], n[OutcomeFail], n[OutcomeSkip], dur(idx.Duration()))
	if idx.Started != 0 {
		p(" · started %s", time.Unix(0, idx.Started).UTC().Format(time.RFC3339))
	}
	p("\n\n")
	if idx.Host != "" {
		p("%s\n\n", mdText(idx.Host))
	}
	p("| | Scenario | Verdict | Seed | Took | Fault → verdict | Why | Report |\n|---|---|---|---:|---:|---:|---|---|\n")
	for _, e := range idx.Entries {
		link := ""
		if e.Dir != "" {
			link = fmt.Sprintf("[report](%s/%s) · [summary](%s/%s)", e.Dir, HTMLFile, e.Dir, SummaryFile)
		}
		seed := ""
		if e.Verdict != "" {
			seed = fmt.Sprint(e.Seed)
		}
		p("| %s | %s | %s | %s | %s | %s | %s | %s |\n", outcomeIcon(e.Outcome), mdCell(e.Scenario), mdCell(string(e.Verdict)), seed,
			dur(e.Duration()), dur(e.FaultToVerdict), mdCell(e.Why), link)
	}
	p("\n<details><summary>Where the time went</summary>\n\n")
	p("| Scenario |")
	for _, g := range phaseGroups {
		p(" %s |", g.Label)
	}
	p("\n|---|")
	for range phaseGroups {
		p("---:|")
	}
	p("\n")
	totals := make([]time.Duration, len(phaseGroups))
	for _, e := range idx.Entries {
		if len(e.Phases) == 0 {
			continue
		}
		p("| %s |", mdCell(e.Scenario))
		for i, g := range phaseGroups {
			d := e.PhaseTime(g.Phases...)
			totals[i] += d
			p(" %s |", dur(d))
		}
		p("\n")
	}
	p("| **total** |")
	for _, d := range totals {
		p(" **%s** |", dur(d))
	}
	p("\n\n")
	for _, n := range idx.Notes {
		p("- %s\n", mdText(n))
	}
	p("\n</details>\n")
	return b.String()
}

var indexTmpl = template.Must(template.New("index").Funcs(template.FuncMap{"icon": outcomeIcon}).Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}} · {{if .Green}}green{{else}}red{{end}}</title>
<style>
body{margin:0;font:14px/1.45 -apple-system,BlinkMacSystemFont,"Segoe UI","Noto Sans",Helvetica,Arial,sans-serif;color:#1f2328}
main{max-width:1360px;margin:0 auto;padding:0 20px 40px}
.banner{color:#fff;padding:16px 20px;margin:0 0 14px}.banner.green{background:#1a7f37}.banner.red{background:#cf222e}
.banner h1{margin:0;font-size:26px}.banner p{margin:4px 0 0;opacity:.95}
table{border-collapse:collapse;width:100%;margin:6px 0 16px}th,td{text-align:left;padding:5px 8px;border-bottom:1px solid #eaeef2;vertical-align:top}
th{background:#f6f8fa;font-weight:600}td.num,th.num{text-align:right;white-space:nowrap}
tr.fail td{background:#fff5f5}tr.skip td{color:#656d76}a{color:#0969da;text-decoration:none}a:hover{text-decoration:underline}
.muted{color:#656d76}h2{font-size:18px;margin:24px 0 8px;padding-bottom:6px;border-bottom:1px solid #d0d7de}
</style></head><body>
<div class="banner {{if .Green}}green{{else}}red{{end}}"><h1>{{.Title}} · {{if .Green}}GREEN{{else}}RED{{end}}</h1>
<p>{{.Summary}}</p></div>
<main>
{{if .Host}}<p class="muted">{{.Host}}</p>{{end}}
<table><thead><tr><th></th><th>Scenario</th><th>Provider</th><th>Verdict</th><th class="num">Seed</th><th class="num">Took</th><th class="num">Fault → verdict</th><th>Why</th><th>Report</th></tr></thead><tbody>
{{range .Rows}}<tr class="{{.Outcome}}"><td>{{icon .Outcome}}</td><td><b>{{.Scenario}}</b>{{if .Tier}} <span class="muted">{{.Tier}}</span>{{end}}</td><td>{{.Provider}}</td><td>{{.Verdict}}</td><td class="num">{{.Seed}}</td><td class="num">{{.Took}}</td><td class="num">{{.FaultToVerdict}}</td><td>{{.Why}}</td>
<td>{{if .Dir}}<a href="{{.Dir}}/report.html">report</a> · <a href="{{.Dir}}/summary.md">summary</a> · <a href="{{.Dir}}/result.json">json</a>{{end}}</td></tr>
{{end}}</tbody></table>
<h2>Where the time went</h2>
<table><thead><tr><th>Scenario</th>{{range .Groups}}<th class="num">{{.}}</th>{{end}}</tr></thead><tbody>
{{range .Times}}<tr><td>{{.Name}}</td>{{range .Cells}}<td class="num">{{.}}</td>{{end}}</tr>{{end}}
</tbody></table>
{{if .Notes}}<ul>{{range .Notes}}<li>{{.}}</li>{{end}}</ul>{{end}}
</main></body></html>
`))

type indexRow struct {
	IndexEntry
	Seed, Took, FaultToVerdict string
}

type timeRow struct {
	Name  string
	Cells []string
}

// HTML renders the index page.
func (idx *Index) HTML() ([]byte, error) {
	n := idx.Counts()
	v := struct {
		Title, Summary, Host string
		Green                bool
		Rows                 []indexRow
		Groups               []string
		Times                []timeRow
		Notes                []string
	}{Title: idx.Title, Host: idx.Host, Green: idx.Green(), Notes: idx.Notes}
	if v.Title == "" {
		v.Title = "rwxchaos suite"
	}
	v.Summary = fmt.Sprintf("%d scenarios: %d pass, %d fail, %d skipped · %s", len(idx.Entries), n[OutcomePass], n[OutcomeFail], n[OutcomeSkip], dur(idx.Duration()))
	totals := make([]time.Duration, len(phaseGroups))
	for _, g := range phaseGroups {
		v.Groups = append(v.Groups, g.Label)
	}
	for _, e := range idx.Entries {
		row := indexRow{IndexEntry: e, Took: dur(e.Duration()), FaultToVerdict: dur(e.FaultToVerdict)}
		if e.Verdict != "" {
			row.Seed = fmt.Sprint(e.Seed)
		}
		v.Rows = append(v.Rows, row)
		if len(e.Phases) == 0 {
			continue
		}
		tr := timeRow{Name: e.Scenario}
		for i, g := range phaseGroups {
			d := e.PhaseTime(g.Phases...)
			totals[i] += d
			tr.Cells = append(tr.Cells, dur(d))
		}
		v.Times = append(v.Times, tr)
	}
	tot := timeRow{Name: "total"}
	for _, d := range totals {
		tot.Cells = append(tot.Cells, dur(d))
	}
	v.Times = append(v.Times, tot)
	var b bytes.Buffer
	if err := indexTmpl.Execute(&b, v); err != nil {
		return nil, fmt.Errorf("render the index page: %w", err)
	}
	return b.Bytes(), nil
}

// WriteIndex writes <name>.html, <name>.md and <name>.json into dir and
// returns the path of the HTML page.
func WriteIndex(dir, name string, idx *Index) (string, error) {
	page, err := idx.HTML()
	if err != nil {
		return "", err
	}
	js, err := json.MarshalIndent(idx, "", "  ")
	if err != nil {
		return "", fmt.Errorf("encode %s.json: %w", name, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("write index: %w", err)
	}
	for _, f := range []struct {
		ext  string
		data []byte
	}{{".json", append(js, '\n')}, {".md", []byte(idx.Markdown())}, {".html", page}} {
		if err := writeFileAtomic(filepath.Join(dir, name+f.ext), f.data); err != nil {
			return "", err
		}
	}
	return filepath.Join(dir, name+".html"), nil
}
