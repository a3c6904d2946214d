package results

import (
	"fmt"
	"image/color"
	"math"
	"sort"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// minSeriesSamples is the fewest samples a point needs for a time-series chart: fewer is a
// point shorter than its interval, whose curve would be one or two dots.
const minSeriesSamples = 3

// maxSeriesFigures bounds the per-point time-series figures of one run (points with faults
// first, then in run order), so a sweep of a hundred long points does not spend minutes
// drawing; the CSV and JSON keep every point's series.
const maxSeriesFigures = 24

// maxOverview is the most points the overview puts in one frame: one colour each, or the
// lines cannot be told apart.
const maxOverview = 7

// SeriesFigureName is the file name (without extension) of point i's (0-based) time-series
// figure.
func SeriesFigureName(i int) string { return fmt.Sprintf("%s-%02d", PlotTimeSeries, i+1) }

// seriesPoints lists the indices of points worth a time-series chart, faulted points first.
func seriesPoints(run *Run) []int {
	var with, without []int
	for i := range run.Points {
		p := &run.Points[i]
		if p.Series == nil || len(p.Series.Samples) < minSeriesSamples {
			continue
		}
		if len(p.Faults) > 0 {
			with = append(with, i)
		} else {
			without = append(without, i)
		}
	}
	out := append(with, without...)
	if len(out) > maxSeriesFigures {
		out = out[:maxSeriesFigures]
	}
	sort.Ints(out)
	return out
}

// writeSeriesPlots draws, for a run whose points carry time series, an overview of every
// such point's throughput and p99 over time in one frame (when there are two to
// maxOverview of them: the protocols' reactions to the same fault side by side), and per point a figure of
// throughput, latency (median, p99, max), aborts per second by cause and flow-control pauses
// over time. Fault windows (a partition, a clog, until the heal) are shaded and labelled;
// other fault events are dashed vertical lines.
func writeSeriesPlots(dir string, run *Run, pal *palette) ([]string, error) {
	idx := seriesPoints(run)
	var files []string
	if len(idx) >= 2 && len(idx) <= maxOverview {
		if f := seriesOverview(run, idx, pal); f != nil {
			out, err := f.save(dir, PlotTimeSeries)
			if err != nil {
				return files, err
			}
			files = append(files, out...)
		}
	}
	vary := varyingDims(run.Points)
	for _, i := range idx {
		f := seriesFigure(&run.Points[i], pointName(&run.Points[i], vary))
		out, err := f.save(dir, SeriesFigureName(i))
		if err != nil {
			return files, err
		}
		files = append(files, out...)
	}
	return files, nil
}

// sampleXY is a series' value per sample, placed at the middle of its interval.
func sampleXY(s *Series, f func(*Sample) (float64, bool)) plotter.XYs {
	var xy plotter.XYs
	for i := range s.Samples {
		smp := &s.Samples[i]
		if v, ok := f(smp); ok {
			xy = append(xy, plotter.XY{X: smp.T - smp.SpanS/2, Y: v})
		}
	}
	return xy
}

// sampleRuns is sampleXY split where f has no value (an interval without commits has no
// latency), so that a line never bridges a gap with values nobody measured.
func sampleRuns(s *Series, f func(*Sample) (float64, bool)) []plotter.XYs {
	var out []plotter.XYs
	var cur plotter.XYs
	for i := range s.Samples {
		smp := &s.Samples[i]
		v, ok := f(smp)
		if !ok {
			if len(cur) > 0 {
				out = append(out, cur)
				cur = nil
			}
			continue
		}
		cur = append(cur, plotter.XY{X: smp.T - smp.SpanS/2, Y: v})
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

// addRuns draws each run as a line in style, and a lone sample as a dot.
func addRuns(p *plot.Plot, runs []plotter.XYs, style draw.LineStyle) (lo, hi float64) {
	lo, hi = math.Inf(1), 0
	for _, r := range runs {
		for _, v := range r {
			lo, hi = math.Min(lo, v.Y), math.Max(hi, v.Y)
		}
		if len(r) == 1 {
			sc, err := plotter.NewScatter(r)
			if err == nil {
				sc.Color, sc.Radius, sc.Shape = style.Color, vg.Points(2), draw.CircleGlyph{}
				p.Add(sc)
			}
			continue
		}
		l, err := plotter.NewLine(r)
		if err == nil {
			l.LineStyle = style
			p.Add(l)
		}
	}
	return lo, hi
}

func seriesEnd(s *Series) float64 {
	if s == nil || len(s.Samples) == 0 {
		return 0
	}
	return s.Samples[len(s.Samples)-1].T
}

// faultShading is a point's windows and marks for drawing.
func faultShading(p *Point, label bool) shadeWindows {
	marks := FaultMarks(p)
	sh := shadeWindows{windows: FaultWindows(marks, seriesEnd(p.Series)), label: label}
	for _, m := range marks {
		kind, _, _ := strings.Cut(m.Event, " ")
		switch kind {
		case "partition", "oneway", "clog", "heal", "unclog":
		default:
			sh.marks = append(sh.marks, m)
		}
	}
	return sh
}

// sameShading reports whether every point's fault windows agree within a tenth of a second,
// so that one shading stands for all in the overview.
func sameShading(run *Run, idx []int) bool {
	first := faultShading(&run.Points[idx[0]], false)
	for _, i := range idx[1:] {
		o := faultShading(&run.Points[i], false)
		if len(o.windows) != len(first.windows) {
			return false
		}
		for k := range o.windows {
			a, b := first.windows[k], o.windows[k]
			if a.Label != b.Label || math.Abs(a.FromS-b.FromS) > 0.1 {
				return false
			}
		}
	}
	return true
}

func seriesOverview(run *Run, idx []int, pal *palette) *figure {
	var pts []Point
	for _, i := range idx {
		pts = append(pts, run.Points[i])
	}
	vary := varyingDims(pts)
	f := &figure{title: "Throughput and p99 latency over time, every point", subtitle: describeConstant(pts),
		cols: 1, panelW: 9 * vg.Inch, panelH: 2.8 * vg.Inch}
	tps := newPanel("", "seconds into the measured phase", "transactions per second")
	tps.Y.Tick.Marker = cleanTicks{}
	lat := newPanel("", "seconds into the measured phase", "p99 latency, ms")
	shade := sameShading(run, idx)
	if shade {
		sh := faultShading(&pts[0], true)
		tps.Add(sh)
		sh.label = false
		lat.Add(sh)
	}
	end, lo, hi, yTPS := 0.0, math.Inf(1), 0.0, 0.0
	for k := range pts {
		p := &pts[k]
		lbl := pointName(p, vary)
		col := pal.color(lbl)
		if xy := sampleXY(p.Series, func(s *Sample) (float64, bool) { return s.TPS, true }); len(xy) > 0 {
			l, _ := plotter.NewLine(xy)
			l.Color, l.Width = col, vg.Points(1.6)
			tps.Add(l)
			for _, v := range xy {
				yTPS = math.Max(yTPS, v.Y)
			}
		}
		runs := sampleRuns(p.Series, func(s *Sample) (float64, bool) { return positive(s.Latency.P99) })
		l0, h0 := addRuns(lat, runs, draw.LineStyle{Color: col, Width: vg.Points(1.2)})
		lo, hi = math.Min(lo, l0), math.Max(hi, h0)
		f.addLegend(lbl, colorKey(col, nil)...)
		end = math.Max(end, seriesEnd(p.Series))
	}
	if shade && len(faultShading(&pts[0], false).windows) > 0 {
		f.addKey("shaded: fault in force", shadeKey()...)
	}
	if !shade && len(pts[0].Faults) > 0 {
		f.subtitle += " (the points' fault timelines differ: see each point's figure)"
	}
	for _, p := range []*plot.Plot{tps, lat} {
		p.X.Min, p.X.Max = 0, end
	}
	tps.Y.Min, tps.Y.Max = 0, math.Max(yTPS*1.15, 1)
	if hi > 0 && hi/lo > 20 {
		setLogY(lat, lo, hi)
	} else {
		lat.Y.Min, lat.Y.Max = 0, math.Max(hi*1.15, 0.001)
	}
	f.panels = []*plot.Plot{tps, lat}
	return f
}

func shadeKey() []plot.Thumbnailer {
	poly, err := plotter.NewPolygon(plotter.XYs{{X: 0, Y: 0}, {X: 1, Y: 0}, {X: 1, Y: 1}, {X: 0, Y: 1}})
	if err != nil {
		return nil
	}
	poly.Color = shadeColor
	poly.LineStyle.Width = 0
	return []plot.Thumbnailer{poly}
}

// seriesFigure is one point's measured phase over time: throughput; latency (median solid,
// p99 fine-dashed, max dotted, log scale when it spans a factor of 20); aborts per second
// by cause when anything aborted; flow control (share of each interval spent paused, and the
// GR quota) when any node paused.
func seriesFigure(p *Point, name string) *figure {
	s := p.Series
	f := &figure{title: "Point over time: " + name, subtitle: pointSubtitle(p),
		cols: 1, panelW: 9 * vg.Inch, panelH: 2.3 * vg.Inch}
	end := seriesEnd(s)
	xl := "seconds into the measured phase"
	sh := faultShading(p, true)
	quiet := sh
	quiet.label = false
	add := func(pl *plot.Plot, first bool) {
		if first {
			pl.Add(sh)
		} else {
			pl.Add(quiet)
		}
		pl.X.Min, pl.X.Max = 0, end
		f.panels = append(f.panels, pl)
	}
	blue, red, gray := plotutil.Color(1), plotutil.Color(0), color.Gray{Y: 80}

	tp := newPanel("", xl, "tps")
	tp.Y.Tick.Marker = cleanTicks{}
	tpsXY := sampleXY(s, func(x *Sample) (float64, bool) { return x.TPS, true })
	yMax := 0.0
	for _, v := range tpsXY {
		yMax = math.Max(yMax, v.Y)
	}
	if l, err := plotter.NewLine(tpsXY); err == nil {
		l.Color, l.Width = blue, vg.Points(1.6)
		tp.Add(l)
		f.addLegend("committed per second", colorKey(blue, nil)...)
	}
	if p.Bound != nil && p.Bound.MaxTPS > 0 && p.Bound.MaxTPS < 3*math.Max(yMax, 1) {
		bl, _ := plotter.NewLine(plotter.XYs{{X: 0, Y: p.Bound.MaxTPS}, {X: end, Y: p.Bound.MaxTPS}})
		bl.Color, bl.Dashes, bl.Width = gray, dotted, vg.Points(1.2)
		tp.Add(bl)
		yMax = math.Max(yMax, p.Bound.MaxTPS)
		f.addKey("dotted: model max tps", styleKey(dotted, nil)...)
	}
	tp.Y.Min, tp.Y.Max = 0, math.Max(yMax*1.15, 1)
	add(tp, true)

	lp := newPanel("", xl, "latency, ms")
	lo, hi := math.Inf(1), 0.0
	for _, ln := range []struct {
		get    func(Latency) float64
		dashes []vg.Length
		name   string
	}{{func(l Latency) float64 { return l.P50 }, nil, "median"},
		{func(l Latency) float64 { return l.P99 }, fineDash, "p99"},
		{func(l Latency) float64 { return l.Max }, dotted, "max"}} {
		runs := sampleRuns(s, func(x *Sample) (float64, bool) { return positive(ln.get(x.Latency)) })
		if len(runs) == 0 {
			continue
		}
		style := draw.LineStyle{Color: red, Width: vg.Points(1.3), Dashes: ln.dashes}
		l0, h0 := addRuns(lp, runs, style)
		lo, hi = math.Min(lo, l0), math.Max(hi, h0)
		f.addLegend("latency "+ln.name, []plot.Thumbnailer{&plotter.Line{XYs: plotter.XYs{{}}, LineStyle: style}}...)
	}
	if hi > 0 && hi/lo > 20 {
		setLogY(lp, lo, hi)
	} else {
		lp.Y.Min, lp.Y.Max = 0, math.Max(hi*1.15, 0.001)
	}
	add(lp, false)

	causes := map[string]bool{}
	for _, x := range s.Samples {
		for c, n := range x.Aborts {
			if n > 0 {
				causes[c] = true
			}
		}
	}
	if len(causes) > 0 {
		ap := newPanel("", xl, "aborts per second")
		ap.Y.Tick.Marker = cleanTicks{}
		ymax := 0.0
		for i, c := range orderedCauses(causes) {
			c := c
			xy := sampleXY(s, func(x *Sample) (float64, bool) { return float64(x.Aborts[c]) / x.SpanS, x.SpanS > 0 })
			for _, v := range xy {
				ymax = math.Max(ymax, v.Y)
			}
			l, _ := plotter.NewLine(xy)
			col := plotutil.Color(i + 2)
			l.Color, l.Width = col, vg.Points(1.3)
			ap.Add(l)
			f.addLegend("aborts: "+c, colorKey(col, nil)...)
		}
		ap.Y.Min, ap.Y.Max = 0, math.Max(ymax*1.15, 1)
		add(ap, false)
	}
	hasFC, hasQuota := false, false
	for _, x := range s.Samples {
		hasFC = hasFC || x.FCPausedMs > 0
		hasQuota = hasQuota || x.FCQuota > 0
	}
	if hasFC || hasQuota {
		fp := newPanel("", xl, "flow control")
		if hasFC {
			fp.Y.Label.Text = "paused, % of interval"
			xy := sampleXY(s, func(x *Sample) (float64, bool) { return 100 * x.FCPausedMs / (1000 * x.SpanS), x.SpanS > 0 })
			l, _ := plotter.NewLine(xy)
			col := plotutil.Color(4)
			l.Color, l.Width = col, vg.Points(1.4)
			fp.Add(l)
			f.addLegend("flow control: paused (wsrep_flow_control_paused_ns)", colorKey(col, nil)...)
			fp.Y.Min, fp.Y.Max = 0, 105
		} else {
			fp.Y.Label.Text = "GR quota, tx/period"
			xy := sampleXY(s, func(x *Sample) (float64, bool) { return float64(x.FCQuota), true })
			l, _ := plotter.NewLine(xy)
			col := plotutil.Color(4)
			l.Color, l.Width = col, vg.Points(1.4)
			fp.Add(l)
			f.addLegend("flow control: GR quota in force (0 = none)", colorKey(col, nil)...)
		}
		add(fp, false)
	}
	if len(sh.windows) > 0 {
		f.addKey("shaded: fault in force", shadeKey()...)
	}
	if len(sh.marks) > 0 {
		f.addKey("dashed line: fault event", styleKey(fineDash, nil)...)
	}
	return f
}

// orderedCauses is the causes in protocols.Causes order, unknown ones after.
func orderedCauses(set map[string]bool) []string {
	var pts []Point
	m := map[string]int64{}
	for c := range set {
		m[c] = 1
	}
	pts = append(pts, Point{Aborts: m})
	return abortCauses(pts)
}

// pointSubtitle says what a point is in one line: protocol, nodes, network, workload,
// writers, threads, length, and the faults applied.
func pointSubtitle(p *Point) string {
	parts := []string{p.Protocol, nodesPhrase(fmt.Sprint(p.Nodes)), NetworkLabel(p.Network), p.Workload,
		"writers " + writersLabel(p), countPhrase(fmt.Sprint(p.Threads), "thread")}
	if l := lengthLabel(p); l != "" {
		parts = append(parts, l)
	}
	s := strings.Join(parts, ", ")
	if len(p.Faults) > 0 {
		s += "; faults: " + strings.Join(p.Faults, "; ")
	}
	return s
}
