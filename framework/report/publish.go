package report

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/rwxchaos/rwxchaos/framework/check"
	"github.com/rwxchaos/rwxchaos/framework/history"
)

// The publish/consume workload's parts of a report: lag quantiles in
// summary.md, and in report.html a visibility-lag chart per consumer next
// to the fault windows, a quantile table, and publish/load histograms on the
// timeline. The lag samples are recomputed from the history with the
// checker's own function (check.VisibilityLags), so the chart and the
// verdict never disagree.

// Geometry of the lag chart.
const (
	lagPanelH    = 92.0
	lagTop       = 28.0
	maxLagPoints = 2500 // per consumer panel (every disturbed or over-bound point is kept)
	lagMinMs     = 1.0  // the log scale's floor
)

// publishModel is what the report draws of a publish/consume run.
type publishModel struct {
	sum       *check.PublishSummary
	cfg       check.PublishConfig
	lags      []check.LagPoint
	publishes points
	loads     points
}

// newPublishModel returns nil for runs that are not publish/consume.
func newPublishModel(r *Run, h *history.History) *publishModel {
	if r.Check == nil || r.Check.Publish == nil {
		return nil
	}
	pm := &publishModel{sum: r.Check.Publish, cfg: check.DefaultPublishConfig()}
	if r.CheckConfig != nil && r.CheckConfig.Publish != nil {
		pm.cfg = *r.CheckConfig.Publish
	}
	if h == nil {
		return pm
	}
	pm.lags = check.VisibilityLags(h.All(), pm.cfg)
	for e := range h.All() {
		switch e.Type {
		case history.EvPublish:
			pm.publishes.add(e.End(), outcomeOf(e.Outcome))
		case history.EvLoad:
			out := outOK
			if e.Outcome != history.OK {
				out = outFail
			}
			pm.loads.add(e.End(), out)
		}
	}
	return pm
}

// publishStats are the headline numbers of a publish/consume run.
func (pm *publishModel) stats() []stat {
	s := pm.sum
	out := []stat{
		{Label: "last version (every file)", Value: fmt.Sprint(s.LastVersion), Class: "good"},
		{Label: "loads ok", Value: fmt.Sprintf("%d / %d", s.LoadsOK, s.Loads)},
	}
	if s.Torn > 0 {
		out = append(out, stat{Label: "torn loads", Value: fmt.Sprint(s.Torn), Class: "bad", Href: "#anomalies"})
	}
	if s.Lag.N > 0 {
		out = append(out, stat{Label: "visibility lag p50 / p99", Value: ms(s.Lag.P50) + " / " + ms(s.Lag.P99), Href: "#visibility"})
	}
	return out
}

// lagRow is one row of the quantile table.
type lagRow struct {
	Consumer, Procs, Loads, OK, Torn, Errors, N, P50, P90, P99, Max, Converged string
	Bad                                                                        bool
}

func (pm *publishModel) rows() []lagRow {
	var out []lagRow
	q := func(name string, procs, loads, ok, torn, errs string, l check.Quantiles, conv string, bad bool) {
		out = append(out, lagRow{Consumer: name, Procs: procs, Loads: loads, OK: ok, Torn: torn, Errors: errs, N: fmt.Sprint(l.N),
			P50: ms(l.P50), P90: ms(l.P90), P99: ms(l.P99), Max: ms(l.Max), Converged: conv, Bad: bad})
	}
	for _, c := range pm.sum.Consumers {
		conv := ms(c.ConvergedMs)
		if c.ConvergedMs < 0 {
			conv = "never"
		}
		q(c.Consumer, fmt.Sprint(c.Procs), fmt.Sprint(c.Loads), fmt.Sprint(c.OK), fmt.Sprint(c.Torn), fmt.Sprint(c.Errors), c.Lag, conv,
			c.ConvergedMs < 0 || c.Torn > 0)
	}
	s := pm.sum
	q("all consumers", "", fmt.Sprint(s.Loads), fmt.Sprint(s.LoadsOK), fmt.Sprint(s.Torn), fmt.Sprint(s.Loads-s.LoadsOK-s.Torn), s.Lag, "", false)
	q("clear of faults", "", "", "", "", "", s.LagSteady, "", false)
	return out
}

// chart draws one panel per consumer: every lag sample at its publish time,
// on a log scale, with the fault windows shaded and the bound drawn.
func (pm *publishModel) chart(m *model) (svgDoc, int) {
	if len(pm.lags) == 0 {
		return svgDoc{}, 0
	}
	byC := map[string][]check.LagPoint{}
	var names []string
	maxMs := 10.0
	for _, p := range pm.lags {
		if _, ok := byC[p.Consumer]; !ok {
			names = append(names, p.Consumer)
		}
		byC[p.Consumer] = append(byC[p.Consumer], p)
		maxMs = math.Max(maxMs, p.LagMs)
	}
	bound := float64(pm.cfg.VisibleWithin) / 1e6
	maxMs = math.Max(maxMs, bound)
	slices.Sort(names)
	decades := math.Ceil(math.Log10(maxMs / lagMinMs))
	ymax := lagMinMs * math.Pow(10, decades)
	var c canvas
	y := lagTop
	for i, name := range names {
		top, bottom := y+6, y+lagPanelH-4
		yOf := func(v float64) float64 {
			v = math.Max(v, lagMinMs)
			return bottom - math.Log10(v/lagMinMs)/decades*(bottom-top)
		}
		c.back = append(c.back, shape{Kind: "rect", X: 0, Y: y, W: svgW, H: lagPanelH, Class: fmt.Sprintf("lane lane%d", i%2)})
		c.back = append(c.back, shape{Kind: "rect", X: plotX0, Y: top, W: plotX1 - plotX0, H: bottom - top, Class: "plot"})
		for v := lagMinMs; v <= ymax*1.0001; v *= 10 {
			yy := yOf(v)
			c.back = append(c.back, shape{Kind: "line", X: plotX0, Y: yy, X2: plotX1, Y2: yy, Class: "grid"})
			c.front = append(c.front, shape{Kind: "text", X: plotX0 - 6, Y: yy + 3, Class: "ax", Anchor: "end", Text: axisMs(v)})
		}
		for _, f := range m.faults() {
			x0, x1 := m.x(f.Injected), m.x(faultEnd(f, m.t1))
			c.back = append(c.back, shape{Kind: "rect", X: x0, Y: top, W: math.Max(x1-x0, 2), H: bottom - top, Class: "fshade", Title: faultTitle(m, &f)})
			c.back = append(c.back, shape{Kind: "line", X: x0, Y: top, X2: x0, Y2: bottom, Class: "fedge"})
		}
		if bound > 0 {
			yy := yOf(bound)
			c.mid = append(c.mid, shape{Kind: "line", X: plotX0, Y: yy, X2: plotX1, Y2: yy, Class: "qline"})
			c.front = append(c.front, shape{Kind: "text", X: plotX1 - 2, Y: yy - 3, Class: "ql", Anchor: "end", Text: "visibleWithin " + ms(bound)})
		}
		pts := byC[name]
		var q check.Quantiles
		for _, cs := range pm.sum.Consumers {
			if cs.Consumer == name {
				q = cs.Lag
			}
		}
		c.front = append(c.front, shape{Kind: "text", X: 14, Y: y + 20, Class: "ll", Text: clip(shortNode(name), 26), Title: name})
		c.front = append(c.front, shape{Kind: "text", X: 14, Y: y + 34, Class: "ls", Text: fmt.Sprintf("p50 %s · p99 %s", ms(q.P50), ms(q.P99))})
		c.front = append(c.front, shape{Kind: "text", X: 14, Y: y + 46, Class: "ls", Text: fmt.Sprintf("max %s · %d samples", ms(q.Max), len(pts))})
		for _, p := range sampleLags(pts, bound) {
			cls, r := "pt", 1.8
			switch {
			case bound > 0 && p.Steady && p.UnseenMs > bound:
				cls, r = "pt lag-slow", 3.5
			case !p.Steady:
				cls = "pt lag-fault"
			}
			c.mid = append(c.mid, shape{Kind: "circle", X: m.x(p.Published), Y: yOf(p.LagMs), R: r, Class: cls,
				Title: fmt.Sprintf("%s version %d: published %s, seen on %s %s later (load %s seq %d)%s%s", p.File, p.Version, m.rel(p.Published),
					p.Consumer, ms(p.LagMs), shortProc(p.Proc), p.Seq, unseenNote(p), map[bool]string{true: "", false: " — during or right after a fault"}[p.Steady])})
		}
		y += lagPanelH
	}
	m.timeAxis(&c, lagTop-10, lagTop, y)
	return c.doc(y + 6), len(pm.lags)
}

// sampleLags keeps every disturbed or over-bound point and an even sample
// of the rest, so a long run still renders.
// unseenNote says how long the consumer certainly still saw an older
// version (what the visibility bound judges), when it looked in between.
func unseenNote(p check.LagPoint) string {
	if p.UnseenMs <= 0 {
		return ""
	}
	return fmt.Sprintf("; still unseen by load %s seq %d, %s after the publish", shortProc(p.StaleProc), p.StaleSeq, ms(p.UnseenMs))
}

func sampleLags(pts []check.LagPoint, bound float64) []check.LagPoint {
	if len(pts) <= maxLagPoints {
		return pts
	}
	var keep, rest []check.LagPoint
	for _, p := range pts {
		if !p.Steady || (bound > 0 && p.UnseenMs > bound) {
			keep = append(keep, p)
		} else {
			rest = append(rest, p)
		}
	}
	room := max(maxLagPoints-len(keep), 1)
	stride := float64(len(rest)) / float64(room)
	for f := 0.0; int(f) < len(rest); f += math.Max(stride, 1) {
		keep = append(keep, rest[int(f)])
	}
	return keep
}

// publishLanes adds the publish and load histograms to the timeline.
func (pm *publishModel) publishLanes(m *model, c *canvas, newLane func(label, sub string, rows int, h float64) lane) {
	if len(pm.publishes.t) > 0 {
		m.histogram(c, newLane("publishes", "ok · unknown · fail", 0, histLaneH), &pm.publishes, true)
	}
	if len(pm.loads.t) > 0 {
		m.histogram(c, newLane("loads", "verified · failed or torn", 0, histLaneH), &pm.loads, true)
	}
}

// publishSummary is the Markdown section of summary.md.
func publishSummary(r *Run) string {
	if r.Check == nil || r.Check.Publish == nil {
		return ""
	}
	s := r.Check.Publish
	var b strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	p("### Visibility lag (publish returned → first load of that version or a newer one)\n\n")
	p("| Consumer | Processes | Loads | Verified | Torn | Failed | Samples | p50 | p90 | p99 | max | Last version after heal |\n")
	p("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, c := range s.Consumers {
		conv := ms(c.ConvergedMs)
		if c.ConvergedMs < 0 {
			conv = "**never**"
		}
		p("| %s | %d | %d | %d | %d | %d | %d | %s | %s | %s | %s | %s |\n", mdCell(c.Consumer), c.Procs, c.Loads, c.OK, c.Torn, c.Errors,
			c.Lag.N, ms(c.Lag.P50), ms(c.Lag.P90), ms(c.Lag.P99), ms(c.Lag.Max), conv)
	}
	p("| **all** | | %d | %d | %d | %d | %d | %s | %s | %s | %s | |\n", s.Loads, s.LoadsOK, s.Torn, s.Loads-s.LoadsOK-s.Torn,
		s.Lag.N, ms(s.Lag.P50), ms(s.Lag.P90), ms(s.Lag.P99), ms(s.Lag.Max))
	p("| clear of faults | | | | | | %d | %s | %s | %s | %s | |\n\n", s.LagSteady.N, ms(s.LagSteady.P50), ms(s.LagSteady.P90), ms(s.LagSteady.P99), ms(s.LagSteady.Max))
	p("Last version published to every file: %d. ", s.LastVersion)
	if len(s.Errors) > 0 {
		var parts []string
		for _, k := range slices.Sorted(mapKeys(s.Errors)) {
			parts = append(parts, fmt.Sprintf("%s %d", k, s.Errors[k]))
		}
		p("Failed loads by errno: %s. ", mdText(strings.Join(parts, ", ")))
	}
	if s.ClockNote != "" {
		p("Clocks: %s.", mdText(s.ClockNote))
	}
	p("\n\n")
	return b.String()
}

func mapKeys(m map[string]int) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}
