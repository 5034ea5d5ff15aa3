package report

import (
	"bytes"
	"cmp"
	_ "embed"
	"fmt"
	"html/template"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/rwxchaos/rwxchaos/framework/check"
	"github.com/rwxchaos/rwxchaos/framework/history"
)

//go:embed report.html.tmpl
var htmlTemplate string

var tmpl = template.Must(template.New("report").Funcs(template.FuncMap{
	"f": func(v float64) string { return fmt.Sprintf("%.1f", v) },
}).Parse(htmlTemplate))

type fact struct{ K, V string }

type stat struct {
	Label, Value, Class, Href string
}

type checkRow struct {
	Name, Status, Message, Numbers string
	Count                          int
	Href                           string
}

type expRow struct{ Name, Status, Want, Got, Message string }

type faultRow struct {
	Name, Action, Target, Injected, Verified, Healed, HealVerified, Lasted, Err string
	Trigger, Triggered                                                          string
}

type phaseRow struct{ Name, Start, Took, Err string }

type anRow struct {
	ID, Check, Class, Key, KeyHref, Proc, Path, Time, Detail string
	Epoch                                                    uint64
	EpochHref                                                string
	Evidence                                                 string
}

type anGroup struct {
	Check, ID string
	Count     int
	Rows      []anRow
	More      int
}

type evRow struct {
	Time, Abs, Type, Outcome, Proc, ProcFull, Node, Path, Detail, Class string
	Epoch                                                               uint64
}

type fileRow struct{ Path, Stage, Docs, Err string }

type ixView struct {
	ID, Key, Class string
	Anomalies      []anRow
	Events         []evRow
	Files          []fileRow
	Truncated      bool
}

type epochRow struct {
	Epoch                                                     uint64
	Holder, Node, Acquired, Released, LastMut, LastHeart, End string
	Anomalous                                                 bool
}

type podRow struct{ Pod, Component, Node, Created, Ready, Deleted, Phase string }

type kevRow struct{ Time, Type, Reason, Object, Message string }

type htmlView struct {
	R                         *Run
	Title                     string
	Verdict, VerdictTitle     string
	Headline                  string
	Facts                     []fact
	Replay                    string
	Stats                     []stat
	Checks                    []checkRow
	Exps                      []expRow
	Timeline                  svgDoc
	Latency                   svgDoc
	LatencyN                  int
	Visibility                svgDoc
	VisibilityN               int
	LagRows                   []lagRow
	LagNote                   string
	Faults                    []faultRow
	Phases                    []phaseRow
	Classes                   []ClassCount
	AnomalyGroups             []anGroup
	AnomalyTotal, AnomalyMore int
	Interchanges              []ixView
	IxMore                    int
	Epochs                    []epochRow
	Pods                      []podRow
	PodsFake                  bool
	KubeEvents                []kevRow
	Artifacts                 []Artifact
	Rechecked                 string
	HistoryStats              string
}

func renderHTML(m *model) ([]byte, error) {
	v := m.view()
	var b bytes.Buffer
	if err := tmpl.Execute(&b, v); err != nil {
		return nil, fmt.Errorf("render %s: %w", HTMLFile, err)
	}
	return b.Bytes(), nil
}

func (m *model) view() *htmlView {
	r := m.r
	v := &htmlView{R: r, Verdict: string(r.Verdict), VerdictTitle: strings.ToUpper(string(r.Verdict)), Replay: ReplayCommand(r)}
	if v.Verdict == "" {
		v.Verdict, v.VerdictTitle = "unknown", "UNKNOWN"
	}
	v.Title = fmt.Sprintf("%s · %s · %s", v.VerdictTitle, r.Scenario, r.RunID)
	switch {
	case r.Reason != "":
		v.Headline = r.Reason
	case r.Verdict == VerdictFail:
		v.Headline = "Failed: " + strings.Join(r.Failed(), ", ")
	case r.Verdict == VerdictPass:
		v.Headline = "Every check and expectation held."
	}
	dur := r.Duration().Round(100 * time.Millisecond).String()
	v.Facts = []fact{
		{"Run", r.RunID}, {"Seed", fmt.Sprint(r.Seed)}, {"Provider", orDash(r.Provider)}, {"Storage", orDash(r.Backend)},
		{"Started", m.abs(r.Started)}, {"Duration", dur}, {"Exit code", fmt.Sprint(r.ExitCode)},
	}
	if r.Rechecked != 0 {
		v.Rechecked = m.abs(r.Rechecked) + " against " + cmpOr(r.JudgedWith, "the defaults")
	}
	if m.h != nil {
		v.HistoryStats = fmt.Sprintf("%d events, %d processes; %d torn journal lines", m.h.EventCount(), len(m.procs), m.h.Stats.Torn)
		if m.h.Snapshot != nil {
			v.HistoryStats += fmt.Sprintf("; %d files on the volume at the end", m.h.FileCount())
		}
	}

	// Headline numbers.
	acked, unknown := 0, 0
	for i := range m.uploads.t {
		switch m.uploads.at(i) {
		case outOK:
			acked++
		case outUnknown:
			unknown++
		}
	}
	if m.pub != nil {
		v.Stats = append(v.Stats, m.pub.stats()...)
	} else {
		v.Stats = append(v.Stats, stat{Label: "uploads acked", Value: fmt.Sprintf("%d / %d", acked, len(m.uploads.t))})
	}
	if unknown > 0 {
		v.Stats = append(v.Stats, stat{Label: "unknown outcome", Value: fmt.Sprint(unknown), Class: "warn"})
	}
	if res := r.Check; res != nil {
		if m.pub == nil {
			v.Stats = append(v.Stats, stat{Label: "interchanges ok", Value: fmt.Sprint(res.Classes[check.ClassOK]), Class: "good"})
		}
		for _, cc := range AnomalyClasses(res) {
			v.Stats = append(v.Stats, stat{Label: cc.Class, Value: cc.String(), Class: "bad", Href: "#anomalies"})
		}
		if res.Latency.N > 0 {
			v.Stats = append(v.Stats, stat{Label: "latency p50 / p99", Value: ms(res.Latency.P50) + " / " + ms(res.Latency.P99), Href: "#latency"})
		}
		v.Classes = AnomalyClasses(res)
	}
	v.Stats = append(v.Stats, stat{Label: "faults", Value: fmt.Sprint(len(m.faults())), Href: "#faults"})

	if res := r.Check; res != nil {
		for _, c := range res.Checks {
			row := checkRow{Name: c.Name, Status: string(c.Status), Message: c.Message, Count: c.AnomalyCount}
			if c.AnomalyCount > 0 {
				row.Href = "#check-" + c.Name
			}
			var nums []string
			for _, k := range slices.Sorted(maps.Keys(c.Numbers)) {
				nums = append(nums, fmt.Sprintf("%s=%g", k, c.Numbers[k]))
			}
			row.Numbers = strings.Join(nums, " ")
			v.Checks = append(v.Checks, row)
		}
	}
	for _, e := range r.Expectations {
		v.Exps = append(v.Exps, expRow{Name: e.Name, Status: string(e.Status), Want: e.Want, Got: e.Got, Message: e.Message})
	}

	v.Timeline = m.timeline()
	v.Latency, v.LatencyN = m.latencyChart()
	if m.pub != nil {
		v.Visibility, v.VisibilityN = m.pub.chart(m)
		v.LagRows = m.pub.rows()
		v.LagNote = m.pub.sum.ClockNote
	}

	for _, f := range m.faults() {
		row := faultRow{Name: f.Name, Action: f.Action, Target: f.Target, Injected: m.rel(f.Injected), Verified: m.rel(f.Verified),
			Healed: m.rel(f.Healed), HealVerified: m.rel(f.HealVerified), Err: f.Err, Trigger: f.Trigger}
		if f.Trigger != "" {
			row.Triggered = m.rel(f.Triggered)
		}
		if f.Healed >= f.Injected && f.Injected > 0 {
			row.Lasted = time.Duration(f.Healed - f.Injected).Round(100 * time.Millisecond).String()
		}
		v.Faults = append(v.Faults, row)
	}
	for _, p := range r.Phases {
		row := phaseRow{Name: p.Name, Start: m.rel(p.Start), Err: p.Err}
		if p.End >= p.Start && p.Start > 0 {
			row.Took = time.Duration(p.End - p.Start).Round(10 * time.Millisecond).String()
		}
		v.Phases = append(v.Phases, row)
	}

	// Anomalies, grouped by check in result order.
	rows := map[string][]anRow{}
	groups := map[string]*anGroup{}
	shown := 0
	if r.Check != nil {
		for _, c := range r.Check.Checks {
			v.AnomalyTotal += c.AnomalyCount
			if c.AnomalyCount > 0 {
				v.AnomalyGroups = append(v.AnomalyGroups, anGroup{Check: c.Name, ID: "check-" + c.Name, Count: c.AnomalyCount})
			}
		}
		for i := range v.AnomalyGroups {
			groups[v.AnomalyGroups[i].Check] = &v.AnomalyGroups[i]
		}
	}
	for i := range m.anoms {
		a := &m.anoms[i]
		g := groups[a.Check]
		if g == nil {
			continue
		}
		row := m.anRow(a)
		if a.A.Key != "" {
			rows[a.A.Key] = append(rows[a.A.Key], row)
		}
		if shown >= maxAnomalyRows {
			continue
		}
		shown++
		g.Rows = append(g.Rows, row)
	}
	for i := range v.AnomalyGroups {
		g := &v.AnomalyGroups[i]
		g.More = g.Count - len(g.Rows)
	}
	v.AnomalyMore = v.AnomalyTotal - shown
	anomEpochs := map[uint64]bool{}
	for _, a := range m.anoms {
		if a.A.Epoch != 0 {
			anomEpochs[a.A.Epoch] = true
		}
	}

	// Interchange rows: the events of every key an anomaly names.
	files := map[string][]fileRow{}
	if m.h != nil && len(m.ixID) > 0 {
		for f := range m.h.Files() {
			keys := []string{f.Key}
			for _, d := range f.Docs {
				if d.Key != f.Key {
					keys = append(keys, d.Key)
				}
			}
			for _, k := range keys {
				if _, ok := m.ixID[k]; !ok || k == "" {
					continue
				}
				row := fileRow{Path: f.Path, Stage: f.Stage, Err: f.Err}
				var docs []string
				for _, d := range f.Docs {
					docs = append(docs, fmt.Sprintf("epoch %d by %s at %s", d.Epoch, shortProc(d.Engine), m.rel(d.Written)))
				}
				if len(docs) > 0 {
					row.Docs = fmt.Sprintf("%d document(s): %s", len(docs), strings.Join(docs, "; "))
				}
				files[k] = append(files[k], row)
			}
		}
	}
	for _, k := range m.ixOrder {
		ix := ixView{ID: m.ixID[k], Key: k, Class: m.keyClass[k], Anomalies: rows[k], Files: files[k]}
		evs := m.byKey[k]
		ix.Truncated = len(evs) >= maxIxEvents
		if len(evs) > 0 {
			// Interleave what the runner did meanwhile (faults, deaths), and
			// the first few things it did after the key's last event: a lost
			// or stuck interchange's story often ends with a fault.
			lo, hi := evs[0].Call, evs[len(evs)-1].End()
			after := 0
			for _, e := range m.runnerEvs {
				switch {
				case e.Call >= lo && e.Call <= hi:
					evs = append(evs, e)
				case e.Call > hi && e.Call <= hi+int64(2*time.Minute) && after < 3:
					evs = append(evs, e)
					after++
				}
			}
			slices.SortStableFunc(evs, func(a, b *history.Event) int { return cmp.Compare(a.Call, b.Call) })
		}
		for _, e := range evs {
			ix.Events = append(ix.Events, m.evRow(e))
		}
		v.Interchanges = append(v.Interchanges, ix)
	}
	if n := len(m.keyClass) - len(m.ixOrder); n > 0 {
		v.IxMore = n
	}

	if r.Check != nil {
		for _, t := range r.Check.Epochs {
			v.Epochs = append(v.Epochs, epochRow{Epoch: t.Epoch, Holder: t.Holder, Node: t.Node, Acquired: m.rel(t.Acquired),
				Released: m.rel(t.Released), LastMut: m.rel(t.LastMutation), LastHeart: m.rel(t.LastHeartbeat), End: t.End,
				Anomalous: anomEpochs[t.Epoch]})
		}
	}
	v.PodsFake = m.podsFake
	for _, p := range m.pods {
		v.Pods = append(v.Pods, podRow{Pod: p.Pod, Component: p.Component, Node: p.Node, Created: m.rel(p.Created),
			Ready: m.rel(p.Ready), Deleted: m.rel(p.Deleted), Phase: p.Phase})
	}
	for _, e := range r.Events {
		v.KubeEvents = append(v.KubeEvents, kevRow{Time: m.rel(e.Time), Type: e.Type, Reason: e.Reason, Object: e.Object, Message: e.Message})
	}
	v.Artifacts = r.Artifacts
	return v
}

func (m *model) anRow(a *anomRef) anRow {
	row := anRow{ID: a.ID, Check: a.Check, Class: a.A.Class, Key: a.A.Key, Proc: a.A.Proc, Path: a.A.Path,
		Time: m.rel(a.T), Detail: a.A.Detail, Epoch: a.A.Epoch}
	var ev []string
	for _, r := range a.A.Evidence {
		ev = append(ev, r.String())
	}
	row.Evidence = strings.Join(ev, " · ")
	if id, ok := m.ixID[a.A.Key]; ok {
		row.KeyHref = "#" + id
	}
	if a.A.Epoch != 0 {
		row.EpochHref = fmt.Sprintf("#epoch-%d", a.A.Epoch)
	}
	return row
}

func (m *model) evRow(e *history.Event) evRow {
	row := evRow{Time: m.rel(e.Call), Abs: m.abs(e.Call), Type: e.Type, Outcome: e.Outcome, Proc: shortProc(e.Proc), ProcFull: e.Proc,
		Node: e.Node, Path: e.Path, Epoch: e.Epoch}
	var det []string
	if e.Return > e.Call {
		det = append(det, "took "+time.Duration(e.Return-e.Call).Round(time.Millisecond).String())
	}
	if e.Err != "" {
		det = append(det, "err: "+e.Err)
	}
	if e.ErrClass != "" {
		det = append(det, e.ErrClass)
	}
	if e.Detail != "" {
		det = append(det, e.Detail)
	}
	if e.Holder != "" {
		det = append(det, "holder "+e.Holder)
	}
	if e.SHA != "" {
		det = append(det, "sha "+truncate(e.SHA, 12))
	}
	row.Detail = strings.Join(det, " · ")
	if e.Target != "" {
		det = append(det, "target "+e.Target)
	}
	switch {
	case e.Role == history.RoleRunner:
		row.Class = "ev-runner"
	case e.Type == history.EvError || e.Outcome == history.Fail || e.Err != "":
		row.Class = "ev-bad"
	case e.Outcome == history.Unknown:
		row.Class = "ev-warn"
	case e.Type == history.EvOutput || e.Type == history.EvDone:
		row.Class = "ev-out"
	}
	return row
}
