package report

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/rwxchaos/rwxchaos/framework/check"
	"github.com/rwxchaos/rwxchaos/framework/history"
)

// shape is one SVG element; the template draws them in order.
type shape struct {
	Kind   string // rect | line | text | circle | path
	X, Y   float64
	W, H   float64
	X2, Y2 float64
	R      float64
	D      string
	Class  string
	Text   string
	Title  string
	Href   string
	Anchor string // text-anchor: start | middle | end
}

// svgDoc is a drawn SVG.
type svgDoc struct {
	W, H   float64
	Shapes []shape
}

type lane struct {
	Label, Sub string
	Y, H       float64
	Rows       int
}

// canvas collects shapes in three layers.
type canvas struct {
	back, mid, front []shape
}

func (c *canvas) doc(h float64) svgDoc {
	all := make([]shape, 0, len(c.back)+len(c.mid)+len(c.front))
	all = append(append(append(all, c.back...), c.mid...), c.front...)
	return svgDoc{W: svgW, H: h, Shapes: all}
}

func textW(s string, size float64) float64 { return float64(len([]rune(s))) * size * 0.58 }

// compClass is the CSS class of a component's colour.
func compClass(role string) string {
	switch role {
	case history.RoleWebserver, history.RoleEngine, history.RoleJobqueue, history.RoleClient, history.RolePublisher, history.RoleConsumer:
		return "c-" + role
	}
	return "c-other"
}

// timeline draws the run: lanes per phase, fault, node, service, the engine
// lock, traffic and anomalies, with fault windows shaded across all lanes.
func (m *model) timeline() svgDoc {
	var c canvas
	y := axisH
	var lanes []lane
	var groupY []struct {
		Y    float64
		Name string
	}
	group := func(name string) {
		y += 6
		groupY = append(groupY, struct {
			Y    float64
			Name string
		}{y + 10, name})
		y += 14
	}
	newLane := func(label, sub string, rows int, h float64) lane {
		if h == 0 {
			h = float64(rows)*rowH + 2*lanePad
		}
		l := lane{Label: label, Sub: sub, Y: y, H: h, Rows: rows}
		lanes = append(lanes, l)
		y += h + 2
		return l
	}
	rowY := func(l lane, row int) float64 { return l.Y + lanePad + float64(row)*rowH }
	bar := func(layer *[]shape, x0, x1, yy, h float64, class, title, href, label string) {
		w := math.Max(x1-x0, 1.5)
		*layer = append(*layer, shape{Kind: "rect", X: x0, Y: yy, W: w, H: h, Class: class, Title: title, Href: href})
		if label != "" && textW(label, 9) < w-4 {
			c.front = append(c.front, shape{Kind: "text", X: x0 + 3, Y: yy + h - 2.5, Class: "bl", Text: label, Title: title})
		}
	}
	r := m.r

	// Phases.
	if len(r.Phases) > 0 {
		group("Run")
		l := newLane("phases", "", 1, 0)
		for i, ph := range r.Phases {
			if ph.Start == 0 || ph.End < m.t0 || ph.Start > m.t1 {
				continue
			}
			end := ph.End
			if end == 0 {
				end = m.t1
			}
			cls := fmt.Sprintf("ph ph%d", i%2)
			if ph.Err != "" {
				cls = "ph pherr"
			}
			title := fmt.Sprintf("phase %s: %s → %s (%s)", ph.Name, m.rel(ph.Start), m.rel(end), time.Duration(end-ph.Start).Round(10*time.Millisecond))
			if ph.Err != "" {
				title += "\nerror: " + ph.Err
			}
			bar(&c.mid, m.x(ph.Start), m.x(end), rowY(l, 0), rowH-1, cls, title, "#phases", ph.Name)
		}
	}

	// Faults: one lane per fault name.
	faults := m.faults()
	if len(faults) > 0 {
		group("Faults")
		var names []string
		byName := map[string][]int{}
		for i, f := range faults {
			if _, ok := byName[f.Name]; !ok {
				names = append(names, f.Name)
			}
			byName[f.Name] = append(byName[f.Name], i)
		}
		for _, n := range names {
			idx := byName[n]
			iv := make([][2]float64, len(idx))
			for j, i := range idx {
				f := faults[i]
				iv[j] = [2]float64{m.x(f.Injected), math.Max(m.x(faultEnd(f, m.t1)), m.x(f.HealVerified))}
			}
			rows, nrows := pack(iv, maxRowsPerLane)
			f0 := faults[idx[0]]
			l := newLane(n, f0.Action, nrows, 0)
			for j, i := range idx {
				f := faults[i]
				yy := rowY(l, rows[j])
				title := faultTitle(m, &f)
				x0, x1 := m.x(f.Injected), m.x(faultEnd(f, m.t1))
				if f.HealVerified > 0 && m.x(f.HealVerified) > x1 {
					bar(&c.mid, x1, m.x(f.HealVerified), yy+3, rowH-7, "fheal", title+"\n(healing: until heal verified)", "#faults", "")
				}
				cls := "fbar"
				if f.Err != "" {
					cls = "fbar ferr"
				}
				label := f.Action
				if f.Target != "" {
					label += " → " + f.Target
				}
				bar(&c.mid, x0, x1, yy, rowH-1, cls, title, "#faults", label)
				if f.Triggered > 0 {
					// The file operation that fired it: a triangle on the
					// lane, pointing at the moment the storage layer got it.
					tx := m.x(f.Triggered)
					c.front = append(c.front, shape{Kind: "path", D: triangle(tx, yy-1, 5), Class: "tmark",
						Title: "triggered by " + f.Trigger + " at " + m.rel(f.Triggered), Href: "#faults"})
				}
				if x1-x0 < 3 {
					c.front = append(c.front, shape{Kind: "path", D: diamond(x0, yy+rowH/2-0.5, 5), Class: "fmark", Title: title, Href: "#faults"})
					if textW(label, 9) < plotX1-x0-10 {
						c.front = append(c.front, shape{Kind: "text", X: x0 + 7, Y: yy + rowH - 3, Class: "tl", Text: label, Title: title})
					}
				}
			}
		}
	}

	// Nodes, with the pods (or processes) that ran on them. Processes on a
	// single host would only repeat the service lanes.
	if len(m.nodes) > 1 || (len(m.nodes) == 1 && !m.podsFake) {
		name := "Nodes"
		if m.podsFake {
			name = "Hosts (journal processes)"
		}
		group(name)
		for _, n := range m.nodes {
			var pods []Pod
			for _, p := range m.pods {
				if p.Node == n {
					pods = append(pods, p)
				}
			}
			iv := make([][2]float64, len(pods))
			for i, p := range pods {
				iv[i] = [2]float64{m.x(p.Created), m.x(podEnd(p, m.t1))}
			}
			rows, nrows := pack(iv, maxRowsPerLane)
			sub := plural(len(pods), "pod", "pods")
			if m.podsFake {
				sub = plural(len(pods), "process", "processes")
			}
			l := newLane(n, sub, nrows, 0)
			for _, f := range faults {
				if f.Target == n {
					c.mid = append(c.mid, shape{Kind: "rect", X: m.x(f.Injected), Y: l.Y, W: math.Max(m.x(faultEnd(f, m.t1))-m.x(f.Injected), 3), H: l.H,
						Class: "nodedown", Title: faultTitle(m, &f), Href: "#faults"})
				}
			}
			for i, p := range pods {
				yy := rowY(l, rows[i])
				title := podTitle(m, &p)
				cls := compClass(p.Component)
				end := podEnd(p, m.t1)
				name := p.Pod
				if m.podsFake {
					name = shortProc(p.Pod)
				}
				ready := p.Ready
				if ready == 0 || ready > end {
					ready = end
				}
				if ready > p.Created {
					bar(&c.mid, m.x(p.Created), m.x(ready), yy+2, rowH-5, cls+" pending", title, "#pods", "")
				}
				bar(&c.mid, m.x(ready), m.x(end), yy, rowH-1, cls, title, "#pods", name)
				if p.Deleted > 0 && p.Deleted <= m.t1 {
					c.front = append(c.front, shape{Kind: "line", X: m.x(p.Deleted), Y: yy - 1, X2: m.x(p.Deleted), Y2: yy + rowH, Class: "podend", Title: title})
				}
			}
		}
	}

	// Services: every journal writer of a role, with engine runs, errors and exits.
	roles := []string{history.RoleWebserver, history.RoleEngine, history.RoleJobqueue, history.RolePublisher, history.RoleConsumer}
	for _, p := range m.procs {
		if !slices.Contains(roles, p.Role) && p.Role != history.RoleClient && p.Role != history.RoleRunner && p.Role != "" {
			roles = append(roles, p.Role)
		}
	}
	first := true
	for _, role := range roles {
		var procs []*procInfo
		for _, p := range m.procs {
			if p.Role == role {
				procs = append(procs, p)
			}
		}
		if len(procs) == 0 {
			continue
		}
		if first {
			group("Services (journal writers)")
			first = false
		}
		iv := make([][2]float64, len(procs))
		for i, p := range procs {
			iv[i] = [2]float64{m.x(p.First), m.x(p.Last)}
		}
		rows, nrows := pack(iv, maxRowsPerLane)
		l := newLane(role, plural(len(procs), "process", "processes"), nrows, 0)
		errTicks := map[[2]int]int{}
		for i, p := range procs {
			yy := rowY(l, rows[i])
			title := procTitle(m, p)
			bar(&c.mid, m.x(p.First), m.x(p.Last), yy, rowH-1, compClass(role)+" proc", title, "", shortProc(p.ID))
			for j, run := range p.Runs {
				end := run[1]
				if end == 0 {
					end = p.Last
				}
				cls := "run"
				if p.RunFailed[j] {
					cls = "run runfail"
				}
				c.mid = append(c.mid, shape{Kind: "rect", X: m.x(run[0]), Y: yy + rowH - 4, W: math.Max(m.x(end)-m.x(run[0]), 1), H: 2.5, Class: cls,
					Title: fmt.Sprintf("engine run %s → %s", m.rel(run[0]), m.rel(end))})
			}
			for _, t := range p.Errors {
				errTicks[[2]int{int(m.x(t) / 2), rows[i]}]++
			}
			if p.Exit > 0 {
				x := m.x(p.Exit)
				c.front = append(c.front, shape{Kind: "path", D: cross(x, yy+rowH/2-0.5, 3.5), Class: "exit",
					Title: fmt.Sprintf("%s exited at %s: %s", p.ID, m.rel(p.Exit), p.ExitDetail)})
			}
		}
		for k, n := range errTicks {
			x := float64(k[0])*2 + 1
			yy := rowY(l, k[1])
			c.front = append(c.front, shape{Kind: "line", X: x, Y: yy - 1, X2: x, Y2: yy + rowH, Class: "errtick",
				Title: fmt.Sprintf("%d error event(s) around %s", n, m.rel(m.tAt(x)))})
		}
	}

	// Engine lock tenures.
	if r.Check != nil && len(r.Check.Epochs) > 0 {
		group("Engine lock")
		eps := r.Check.Epochs
		iv := make([][2]float64, len(eps))
		for i, t := range eps {
			iv[i] = [2]float64{m.x(t.Acquired), m.x(tenureEnd(t))}
		}
		rows, nrows := pack(iv, maxRowsPerLane)
		l := newLane("lock holder", plural(len(eps), "epoch", "epochs"), nrows, 0)
		for i, t := range eps {
			yy := rowY(l, rows[i])
			title := fmt.Sprintf("epoch %d: %s on %s\nacquired %s, %s %s", t.Epoch, t.Holder, orDash(t.Node), m.rel(t.Acquired), t.End, m.rel(tenureEnd(t)))
			cls := fmt.Sprintf("lock lock%d", t.Epoch%2)
			label := fmt.Sprintf("e%d %s", t.Epoch, shortNode(t.Node))
			bar(&c.mid, m.x(t.Acquired), m.x(tenureEnd(t)), yy, rowH-1, cls, title, fmt.Sprintf("#epoch-%d", t.Epoch), label)
			if t.End == "died" || t.End == "lost" || t.End == "open" {
				x := m.x(tenureEnd(t))
				c.front = append(c.front, shape{Kind: "rect", X: x - 1.5, Y: yy - 1, W: 3, H: rowH + 1, Class: "lockend", Title: title})
			}
		}
		for _, e := range m.takeover {
			c.front = append(c.front, shape{Kind: "path", D: diamond(m.x(e.Call), l.Y+l.H/2, 5), Class: "takeover",
				Title: fmt.Sprintf("takeover at %s by %s: broke the stale lease of epoch %d held by %s (%s)", m.rel(e.Call), e.Proc, e.Epoch, e.Holder, e.Detail)})
		}
	}

	// Traffic histograms.
	if len(m.uploads.t) > 0 || len(m.outputs.t) > 0 {
		group("Traffic")
		m.histogram(&c, newLane("uploads", "ok · unknown · fail", 0, histLaneH), &m.uploads, true)
		m.histogram(&c, newLane("outputs", "documents written", 0, histLaneH), &m.outputs, false)
	}
	if m.pub != nil && (len(m.pub.publishes.t) > 0 || len(m.pub.loads.t) > 0) {
		group("Publish / consume")
		m.pub.publishLanes(m, &c, newLane)
	}

	// Anomalies: a few get a row each with a label; many are bucketed by
	// pixel on one row.
	if len(m.anoms) > 0 {
		group("Anomalies")
		type bucket struct {
			n     int
			first *anomRef
		}
		bs := map[int]*bucket{}
		var order []int
		for i := range m.anoms {
			a := &m.anoms[i]
			if a.T == 0 {
				continue
			}
			k := int(m.x(a.T) / 4)
			b := bs[k]
			if b == nil {
				b = &bucket{first: a}
				bs[k] = b
				order = append(order, k)
			}
			b.n++
		}
		slices.Sort(order)
		labelled := len(order) <= 6
		rows := 1
		if labelled {
			rows = max(len(order), 1)
		}
		l := newLane("anomalies", plural(len(m.anoms), "example", "examples"), rows, 0)
		for i, k := range order {
			b := bs[k]
			a := b.first
			title := fmt.Sprintf("%s at %s: %s", a.A.Class, m.rel(a.T), anomalyLine(&a.A))
			if b.n > 1 {
				title = fmt.Sprintf("%d anomalies here; first: %s", b.n, title)
			}
			yy := l.Y + l.H/2
			if labelled {
				yy = rowY(l, i) + rowH/2 - 0.5
			}
			x := m.x(a.T)
			c.front = append(c.front, shape{Kind: "circle", X: x, Y: yy, R: 4.5, Class: "an an-" + a.A.Class, Title: title, Href: m.anomalyHref(a)})
			if !labelled {
				continue
			}
			label := a.A.Class
			if a.A.Key != "" {
				label += " · " + a.A.Key
			} else if a.A.Epoch != 0 {
				label += fmt.Sprintf(" · epoch %d", a.A.Epoch)
			}
			if b.n > 1 {
				label = fmt.Sprintf("%d× %s", b.n, label)
			}
			tx, anchor := x+7, ""
			if tx+textW(label, 9) > plotX1 {
				tx, anchor = x-7, "end"
			}
			c.front = append(c.front, shape{Kind: "text", X: tx, Y: yy + 3, Class: "tl", Anchor: anchor, Text: label, Title: title, Href: m.anomalyHref(a)})
		}
	}

	height := y + 8

	// Lane backgrounds, labels, group headers.
	for i, l := range lanes {
		c.back = append(c.back, shape{Kind: "rect", X: 0, Y: l.Y - 1, W: svgW, H: l.H + 2, Class: fmt.Sprintf("lane lane%d", i%2)})
		label := shape{Kind: "text", X: 14, Y: l.Y + math.Min(l.H/2+3.5, 13), Class: "ll", Text: clip(l.Label, 28)}
		if label.Text != l.Label {
			label.Title = l.Label
		}
		c.front = append(c.front, label)
		if l.Sub != "" && l.H >= 22 {
			c.front = append(c.front, shape{Kind: "text", X: 14, Y: l.Y + 24, Class: "ls", Text: clip(l.Sub, 34)})
		} else if l.Sub != "" {
			c.front = append(c.front, shape{Kind: "text", X: labelW, Y: l.Y + l.H/2 + 3, Class: "ls", Anchor: "end", Text: clip(l.Sub, 14)})
		}
	}
	for _, g := range groupY {
		c.front = append(c.front, shape{Kind: "text", X: 4, Y: g.Y, Class: "gl", Text: g.Name})
	}
	// Time axis and grid.
	m.timeAxis(&c, axisH-8, axisH-2, height)
	// Fault windows across every lane.
	for _, f := range faults {
		x0, x1 := m.x(f.Injected), m.x(faultEnd(f, m.t1))
		c.back = append(c.back, shape{Kind: "rect", X: x0, Y: axisH - 2, W: math.Max(x1-x0, 2), H: height - axisH, Class: "fshade", Title: faultTitle(m, &f)})
		c.back = append(c.back, shape{Kind: "line", X: x0, Y: axisH - 2, X2: x0, Y2: height, Class: "fedge"})
	}
	return c.doc(height)
}

// histogram draws counts per time bucket, stacked by outcome.
func (m *model) histogram(c *canvas, l lane, pts *points, byOutcome bool) {
	const nb = 160
	w := (plotX1 - plotX0) / nb
	type cnt struct{ ok, unknown, fail int }
	bs := make([]cnt, nb)
	for j, t := range pts.t {
		i := int((m.x(t) - plotX0) / w)
		i = min(max(i, 0), nb-1)
		switch pts.at(j) {
		case outOK:
			bs[i].ok++
		case outUnknown:
			bs[i].unknown++
		default:
			bs[i].fail++
		}
	}
	most := 1
	for _, b := range bs {
		most = max(most, b.ok+b.unknown+b.fail)
	}
	scale := (l.H - 6) / float64(most)
	base := l.Y + l.H - 2
	for i, b := range bs {
		if b.ok+b.unknown+b.fail == 0 {
			continue
		}
		x := plotX0 + float64(i)*w
		t0, t1 := m.tAt(x), m.tAt(x+w)
		title := fmt.Sprintf("%s … %s: %d", m.rel(t0), m.rel(t1), b.ok)
		if byOutcome {
			title = fmt.Sprintf("%s … %s: %d ok, %d unknown, %d failed uploads", m.rel(t0), m.rel(t1), b.ok, b.unknown, b.fail)
		} else {
			title += " outputs written"
		}
		yy := base
		for _, part := range []struct {
			n   int
			cls string
		}{{b.ok, "h-ok"}, {b.unknown, "h-unknown"}, {b.fail, "h-fail"}} {
			if part.n == 0 {
				continue
			}
			h := float64(part.n) * scale
			cls := part.cls
			if !byOutcome {
				cls = "h-out"
			}
			c.mid = append(c.mid, shape{Kind: "rect", X: x + 0.3, Y: yy - h, W: w - 0.6, H: h, Class: cls, Title: title})
			yy -= h
		}
	}
	c.front = append(c.front, shape{Kind: "text", X: plotX0 - 3, Y: l.Y + 9, Class: "ls", Anchor: "end", Text: fmt.Sprint(most)})
}

// timeAxis draws tick labels at labelY and grid lines from top to bottom.
func (m *model) timeAxis(c *canvas, labelY, top, bottom float64) {
	origin := m.r.Started
	if origin == 0 {
		origin = m.t0
	}
	span := float64(m.t1-m.t0) / 1e9
	step := niceTimeStep(span, 12)
	start := math.Ceil(float64(m.t0-origin)/1e9/step) * step
	for s := start; s <= float64(m.t1-origin)/1e9+1e-9; s += step {
		t := origin + int64(s*1e9)
		x := m.x(t)
		c.back = append(c.back, shape{Kind: "line", X: x, Y: top, X2: x, Y2: bottom, Class: "grid"})
		c.front = append(c.front, shape{Kind: "text", X: x, Y: labelY, Class: "ax", Anchor: "middle", Text: axisLabel(s, step)})
	}
	c.front = append(c.front, shape{Kind: "text", X: 14, Y: labelY, Class: "ax", Text: "time since start (m:ss)"})
}

// tAt inverts x.
func (m *model) tAt(x float64) int64 {
	return m.t0 + int64((x-plotX0)/(plotX1-plotX0)*float64(m.t1-m.t0))
}

// latencyChart draws upload-ack → output latency per interchange over time.
func (m *model) latencyChart() (svgDoc, int) {
	var c canvas
	// A point names its key by number (a million keys, a string each, were
	// ~50 MB); the classes of the keys anomalies name, by number.
	type pt struct {
		t  int64
		ms float64
		n  int32
	}
	classOf := make(map[int32]string, len(m.keyClass))
	for k, cls := range m.keyClass {
		if n, ok := m.keys.Find(k); ok {
			classOf[n] = cls
		}
	}
	pts := make([]pt, 0, m.keys.Len()) // one per key at most
	var never []pt
	for n := range int32(m.keys.Len()) {
		ki := m.info.get(n)
		switch {
		case ki.Ack > 0 && ki.Output > 0:
			pts = append(pts, pt{ki.Ack, math.Max(float64(ki.Output-ki.Ack)/1e6, 0), n})
		case ki.Ack > 0 && classOf[n] != "":
			never = append(never, pt{ki.Ack, 0, n})
		}
	}
	if len(pts) == 0 && len(never) == 0 {
		return svgDoc{}, 0
	}
	byTimeKey := func(a, b pt) int {
		if a.t != b.t {
			return cmp.Compare(a.t, b.t)
		}
		return m.keys.Compare(a.n, b.n)
	}
	slices.SortFunc(pts, byTimeKey)
	slices.SortFunc(never, byTimeKey) // was in map order: the crosses' order in the SVG varied from run to run
	total := len(pts)
	if len(pts) > maxLatencyPoints {
		// Keep anomalies and the slowest, then an even sample of the rest.
		keep := make([]bool, len(pts))
		idx := make([]int, len(pts))
		for i := range idx {
			idx[i] = i
		}
		slices.SortFunc(idx, func(a, b int) int { return cmp.Compare(pts[b].ms, pts[a].ms) })
		n := 0
		for _, i := range idx[:maxLatencyPoints/10] {
			keep[i] = true
			n++
		}
		for i := range pts {
			if classOf[pts[i].n] != "" && !keep[i] {
				keep[i] = true
				n++
			}
		}
		stride := float64(len(pts)) / float64(max(maxLatencyPoints-n, 1))
		for f := 0.0; int(f) < len(pts); f += stride {
			keep[int(f)] = true
		}
		var out []pt
		for i := range pts {
			if keep[i] {
				out = append(out, pts[i])
			}
		}
		pts = out
	}
	maxMs := 1.0
	for _, p := range pts {
		maxMs = math.Max(maxMs, p.ms)
	}
	top, bottom := 30.0, latencyH-26
	neverY := 12.0
	step := niceStep(maxMs, 5)
	ymax := math.Ceil(maxMs/step) * step
	yOf := func(v float64) float64 { return bottom - v/ymax*(bottom-top) }
	for v := 0.0; v <= ymax+1e-9; v += step {
		y := yOf(v)
		c.back = append(c.back, shape{Kind: "line", X: plotX0, Y: y, X2: plotX1, Y2: y, Class: "grid"})
		c.front = append(c.front, shape{Kind: "text", X: plotX0 - 6, Y: y + 3, Class: "ax", Anchor: "end", Text: axisMs(v)})
	}
	c.front = append(c.front, shape{Kind: "text", X: 14, Y: top + 4, Class: "ll", Text: "upload ack → output"})
	c.front = append(c.front, shape{Kind: "text", X: 14, Y: top + 18, Class: "ls", Text: fmt.Sprintf("%d interchanges with output", total)})
	if total > len(pts) {
		c.front = append(c.front, shape{Kind: "text", X: 14, Y: top + 30, Class: "ls", Text: fmt.Sprintf("%d drawn (sampled)", len(pts))})
	}
	c.back = append(c.back, shape{Kind: "rect", X: plotX0, Y: top, W: plotX1 - plotX0, H: bottom - top, Class: "plot"})
	// Fault windows.
	for _, f := range m.faults() {
		x0, x1 := m.x(f.Injected), m.x(faultEnd(f, m.t1))
		c.back = append(c.back, shape{Kind: "rect", X: x0, Y: top, W: math.Max(x1-x0, 2), H: bottom - top, Class: "fshade", Title: faultTitle(m, &f)})
		c.back = append(c.back, shape{Kind: "line", X: x0, Y: top, X2: x0, Y2: bottom, Class: "fedge"})
	}
	// Quantiles.
	if r := m.r.Check; r != nil && r.Latency.N > 0 {
		for _, q := range []struct {
			name string
			v    float64
		}{{"p50", r.Latency.P50}, {"p99", r.Latency.P99}} {
			if q.v > ymax {
				continue
			}
			y := yOf(q.v)
			c.mid = append(c.mid, shape{Kind: "line", X: plotX0, Y: y, X2: plotX1, Y2: y, Class: "qline"})
			c.front = append(c.front, shape{Kind: "text", X: plotX1 - 2, Y: y - 3, Class: "ql", Anchor: "end", Text: q.name + " " + ms(q.v)})
		}
	}
	for _, p := range pts {
		key, class := m.keys.Key(p.n), classOf[p.n]
		cls, r := "pt", 2.2
		href := ""
		if class != "" {
			cls, r = "pt an-"+class, 4
			href = "#" + m.ixID[key]
		}
		layer := &c.mid
		if class != "" {
			layer = &c.front
		}
		*layer = append(*layer, shape{Kind: "circle", X: m.x(p.t), Y: yOf(p.ms), R: r, Class: cls,
			Title: fmt.Sprintf("%s: acked %s, output after %s", key, m.rel(p.t), ms(p.ms)), Href: href})
	}
	for _, p := range never {
		key, class := m.keys.Key(p.n), classOf[p.n]
		c.front = append(c.front, shape{Kind: "path", D: cross(m.x(p.t), neverY, 4), Class: "never an-" + class,
			Title: fmt.Sprintf("%s: acked %s, %s — no output", key, m.rel(p.t), class), Href: "#" + m.ixID[key]})
	}
	if len(never) > 0 {
		c.front = append(c.front, shape{Kind: "text", X: plotX0 - 6, Y: neverY + 3.5, Class: "ax axr", Anchor: "end", Text: "no output"})
	}
	m.timeAxis(&c, bottom+15, top, bottom)
	return c.doc(latencyH), total
}

func (m *model) anomalyHref(a *anomRef) string {
	if id, ok := m.ixID[a.A.Key]; ok {
		return "#" + id
	}
	if a.A.Epoch != 0 {
		return fmt.Sprintf("#epoch-%d", a.A.Epoch)
	}
	return "#" + a.ID
}

func faultEnd(f Fault, open int64) int64 {
	switch {
	case f.Healed >= f.Injected && f.Healed > 0:
		return f.Healed
	case f.Err != "":
		return f.Injected
	}
	return open
}

func podEnd(p Pod, open int64) int64 {
	if p.Deleted > 0 {
		return p.Deleted
	}
	return open
}

func tenureEnd(t check.Tenure) int64 {
	if t.Released > 0 {
		return t.Released
	}
	return max(t.Acquired, t.LastMutation, t.LastHeartbeat)
}

func faultTitle(m *model, f *Fault) string {
	var b strings.Builder
	fmt.Fprintf(&b, "fault %s: %s", f.Name, f.Action)
	if f.Target != "" {
		fmt.Fprintf(&b, " → %s", f.Target)
	}
	fmt.Fprintf(&b, "\ninjected %s", m.rel(f.Injected))
	if f.Verified > 0 {
		fmt.Fprintf(&b, ", verified %s", m.rel(f.Verified))
	}
	if f.Healed > 0 {
		fmt.Fprintf(&b, "\nhealed %s", m.rel(f.Healed))
	}
	if f.HealVerified > 0 {
		fmt.Fprintf(&b, ", heal verified %s", m.rel(f.HealVerified))
	}
	if f.Trigger != "" {
		fmt.Fprintf(&b, "\ntriggered by %s at %s", f.Trigger, m.rel(f.Triggered))
	}
	if f.Err != "" {
		fmt.Fprintf(&b, "\nerror: %s", f.Err)
	}
	return b.String()
}

func podTitle(m *model, p *Pod) string {
	s := fmt.Sprintf("%s (%s) on %s\ncreated %s", p.Pod, p.Component, orDash(p.Node), m.rel(p.Created))
	if p.Ready > 0 {
		s += ", ready " + m.rel(p.Ready)
	}
	if p.Deleted > 0 {
		s += ", gone " + m.rel(p.Deleted)
	}
	if p.Phase != "" {
		s += "\nphase " + p.Phase
	}
	return s
}

func procTitle(m *model, p *procInfo) string {
	s := fmt.Sprintf("%s (%s) on %s\nfirst event %s, last %s", p.ID, p.Role, orDash(p.Node), m.rel(p.First), m.rel(p.Last))
	if len(p.Runs) > 0 {
		s += fmt.Sprintf("\n%d engine runs", len(p.Runs))
	}
	if len(p.Errors) > 0 {
		s += fmt.Sprintf("\n%d errors", len(p.Errors))
	}
	if p.Exit > 0 {
		s += fmt.Sprintf("\nexited %s: %s", m.rel(p.Exit), p.ExitDetail)
	}
	return s
}

// shortNode drops a kind cluster prefix: "rwxchaos-worker2" → "worker2".
func shortNode(n string) string {
	if i := strings.LastIndex(n, "-worker"); i >= 0 {
		return n[i+1:]
	}
	if i := strings.LastIndex(n, "-control-plane"); i >= 0 {
		return n[i+1:]
	}
	return n
}

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

func diamond(x, y, r float64) string {
	return fmt.Sprintf("M%.1f %.1fL%.1f %.1fL%.1f %.1fL%.1f %.1fZ", x, y-r, x+r, y, x, y+r, x-r, y)
}

// triangle points down at (x, y+r), its base r above y.
func triangle(x, y, r float64) string {
	return fmt.Sprintf("M%.1f %.1fL%.1f %.1fL%.1f %.1fZ", x-r, y-r, x+r, y-r, x, y+r)
}

func cross(x, y, r float64) string {
	return fmt.Sprintf("M%.1f %.1fL%.1f %.1fM%.1f %.1fL%.1f %.1f", x-r, y-r, x+r, y+r, x-r, y+r, x+r, y-r)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// axisMs formats a latency tick: "0", "250 ms", "1.5 s", "20 s".
func axisMs(v float64) string {
	if v == 0 {
		return "0"
	}
	if v < 1000 {
		return fmt.Sprintf("%g ms", v)
	}
	return fmt.Sprintf("%g s", math.Round(v)/1000)
}
