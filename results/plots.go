package results

import (
	"fmt"
	"image/color"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Plot file names (without extension: each is written as .png and .svg) written by
// WritePlots when the run has the data for them.
const (
	PlotThroughput = "throughput"
	PlotLatency    = "latency"
	PlotSeconds    = "seconds"
	PlotAbortRate  = "abort-rate"
	PlotTimeSeries = "timeseries" // the overview; per-point figures are timeseries-NN
)

// layout is how a run's settings map onto a chart. Every setting that varies is on the x
// axis, or names a series (a colour), or names a facet (a panel): nothing that differs is
// ever averaged. Repeats of one configuration are the only points that share a mark, as
// their mean with the min-max range as an error bar.
type layout struct {
	x      *dimension  // numeric x axis; nil: the categories below
	cat    *dimension  // categorical x axis when x is nil
	series *dimension  // colours; nil: one series
	facets []dimension // panels, one per combination
}

// chooseLayout picks the layout of a run's points. The x axis is the thread count when it
// varies (the documents' charts), else the number of writers (certification conflicts grow
// with it), else the node count, else the run's protocols (or whatever varies) as
// categories. The protocol is the series whenever it varies and is not the x axis, so that
// protocols are compared in one frame; the other settings become panels, the network first
// preferred as a panel since it sets each panel's scale.
func chooseLayout(pts []Point) layout {
	vary := varyingDims(pts)
	// A setting that follows from the protocol (standalone runs on one node, the others on
	// three) splits nothing the protocol does not already split: it is no axis of its own.
	if p := findDim(vary, "protocol"); p != nil {
		var keep []dimension
		for _, d := range vary {
			if d.key == "protocol" || !determinedBy(pts, d, *p) {
				keep = append(keep, d)
			}
		}
		vary = keep
	}
	var l layout
	take := func(key string) *dimension {
		for i := range vary {
			if vary[i].key == key {
				d := vary[i]
				vary = append(vary[:i], vary[i+1:]...)
				return &d
			}
		}
		return nil
	}
	if l.x = take("threads"); l.x == nil {
		if d := findDim(vary, "writers"); d != nil && numericWithin(pts, *d, vary) {
			l.x = take("writers")
		} else if d := findDim(vary, "nodes"); d != nil && numericWithin(pts, *d, vary) {
			l.x = take("nodes")
		}
	}
	if l.x == nil {
		if l.cat = take("protocol"); l.cat == nil && len(vary) > 0 {
			// The setting with the most values reads best along the axis.
			best := 0
			for i := range vary {
				if distinct(pts, vary[i]) > distinct(pts, vary[best]) {
					best = i
				}
			}
			d := vary[best]
			vary = append(vary[:best], vary[best+1:]...)
			l.cat = &d
		}
		l.facets = vary
		return l
	}
	if l.series = take("protocol"); l.series == nil && len(vary) > 0 {
		for _, k := range []string{"writers", "workload", "nodes", "length"} {
			if l.series = take(k); l.series != nil {
				break
			}
		}
		if l.series == nil {
			for i := range vary {
				if strings.HasPrefix(vary[i].key, "param:") {
					l.series = take(vary[i].key)
					break
				}
			}
		}
		if l.series == nil {
			d := vary[0]
			vary = vary[1:]
			l.series = &d
		}
	}
	l.facets = vary
	return l
}

// determinedBy reports whether every value of on comes with one value of d.
func determinedBy(pts []Point, d, on dimension) bool {
	seen := map[string]string{}
	for i := range pts {
		k, v := on.value(&pts[i]), d.value(&pts[i])
		if w, ok := seen[k]; ok && w != v {
			return false
		}
		seen[k] = v
	}
	return true
}

func findDim(ds []dimension, key string) *dimension {
	for i := range ds {
		if ds[i].key == key {
			return &ds[i]
		}
	}
	return nil
}

// numericWithin reports whether d's number tells apart every two points that differ in d
// and agree on the others: writers "n1,n2" and "n2,n3" are both 2 and cannot share an axis.
func numericWithin(pts []Point, d dimension, others []dimension) bool {
	seen := map[string]string{}
	for i := range pts {
		p := &pts[i]
		var key strings.Builder
		for _, o := range others {
			if o.key != d.key {
				key.WriteString(o.value(p) + "\x00")
			}
		}
		n, ok := d.num(p)
		if !ok {
			return false
		}
		k := key.String() + strconv.FormatFloat(n, 'g', -1, 64)
		if v, dup := seen[k]; dup && v != d.value(p) {
			return false
		}
		seen[k] = d.value(p)
	}
	return true
}

// facetKey and facetTitle name the panel a point belongs to.
func facetKey(l layout, p *Point) string {
	var parts []string
	for _, d := range l.facets {
		parts = append(parts, d.value(p))
	}
	return strings.Join(parts, "\x00")
}

func facetTitle(l layout, p *Point) string {
	var parts []string
	for _, d := range l.facets {
		parts = append(parts, dimPhrase(d, p))
	}
	return strings.Join(parts, ", ")
}

// dimPhrase is a dimension's value as a reader says it: "writers all", "16 threads",
// "serialized=true", "3az".
func dimPhrase(d dimension, p *Point) string {
	v := d.label(p)
	switch {
	case d.key == "writers":
		return "writers " + v
	case d.key == "threads":
		return countPhrase(v, "thread")
	case d.key == "nodes":
		return nodesPhrase(v)
	case strings.HasPrefix(d.key, "param:"):
		return d.title + "=" + v
	}
	return v
}

// metric is one quantity a chart plots per configuration.
type metric struct {
	file, title, ylabel string
	y                   func(*Point) (float64, bool)
	second              func(*Point) (float64, bool) // a second figure drawn fine-dashed (p99 under the median)
	secondName          string
	bound               func(*Point) (float64, bool) // the model's value, dotted
	boundName           string
	ref                 func(*Point) (float64, bool) // the published value, dashed with crosses
	refName             string
	log                 bool // y on a log scale when the data spans more than a factor of 20
	accept              func(*Point) bool
}

func positive(v float64) (float64, bool) { return v, v > 0 && !math.IsNaN(v) && !math.IsInf(v, 0) }

func runMetrics(run *Run) []metric {
	committed := func(p *Point) bool { return p.Committed > 0 }
	bound := func(f func(*Bound) float64) func(*Point) (float64, bool) {
		return func(p *Point) (float64, bool) {
			if p.Bound == nil {
				return 0, false
			}
			return positive(f(p.Bound))
		}
	}
	ms := []metric{
		{file: PlotThroughput, title: "Throughput", ylabel: "transactions per second",
			y: func(p *Point) (float64, bool) { return positive(p.TPS) }, accept: committed, log: true,
			bound: bound(func(b *Bound) float64 { return b.MaxTPS }), boundName: "model max tps (Callaghan's law)"},
		{file: PlotLatency, title: "Commit latency", ylabel: "latency, ms", accept: committed, log: true,
			y:      func(p *Point) (float64, bool) { return positive(p.Latency.P50) },
			second: func(p *Point) (float64, bool) { return positive(p.Latency.P99) }, secondName: "p99",
			bound: bound(func(b *Bound) float64 { return b.CommitFloorMs }), boundName: "model commit floor"},
	}
	counted, aborted := false, false
	for _, p := range run.Points {
		counted = counted || p.Queries > 0
		aborted = aborted || p.TotalAborts() > 0
	}
	if counted {
		ms = append(ms, metric{file: PlotSeconds, title: "Seconds to run the transactions", ylabel: "elapsed seconds", log: true,
			accept: func(p *Point) bool { return p.Queries > 0 },
			y:      func(p *Point) (float64, bool) { return positive(p.ElapsedS) },
			bound: func(p *Point) (float64, bool) {
				if p.Bound == nil || p.Bound.MaxTPS <= 0 || p.Queries <= 0 {
					return 0, false
				}
				return float64(p.Queries) / p.Bound.MaxTPS, true
			}, boundName: "model seconds (queries / max tps)",
			ref: func(p *Point) (float64, bool) {
				if r := ReferenceFor(run.Scenario, p); r != nil {
					return r.Value, true
				}
				return 0, false
			}, refName: "published"})
	}
	if aborted {
		ms = append(ms, metric{file: PlotAbortRate, title: "Abort rate", ylabel: "aborts, % of attempts",
			accept: func(p *Point) bool { return p.Committed+p.TotalAborts() > 0 },
			y:      func(p *Point) (float64, bool) { return 100 * p.AbortRate(), true }})
	}
	return ms
}

// WritePlots draws the run's charts into dir with gonum.org/v1/plot, each as PNG and SVG,
// and returns the files written. For a sweep it draws throughput, commit latency (median,
// with p99 fine-dashed), seconds for counted runs (with the published figures where the run
// reproduces them) and the abort rate when anything aborted, in the layout chooseLayout
// picks: a line chart against threads, writers or nodes, or, for a run that varies none of
// them, bars (throughput, abort rate) and a latency profile (median, p99, max) per protocol.
// The model bound is drawn dotted in the series' colour where the points carry one. Then the
// time series (see writeSeriesPlots). A run of one point gets only its time series: a chart
// of one mark compares nothing.
func WritePlots(dir string, run *Run) ([]string, error) {
	if run == nil {
		return nil, fmt.Errorf("results: WritePlots needs a run, got nil")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("results: cannot create plot directory: %w", err)
	}
	pal := newPalette()
	var files []string
	if len(groupPoints(run.Points)) > 1 {
		l := chooseLayout(run.Points)
		for _, m := range runMetrics(run) {
			var pts []Point
			for _, p := range run.Points {
				if m.accept(&p) {
					pts = append(pts, p)
				}
			}
			if len(pts) == 0 {
				continue
			}
			var f *figure
			if l.x != nil {
				f = lineFigure(pts, l, m, pal)
			} else {
				f = categoryFigure(pts, l, m, pal)
			}
			if f == nil {
				continue
			}
			out, err := f.save(dir, m.file)
			if err != nil {
				return files, err
			}
			files = append(files, out...)
		}
	}
	ts, err := writeSeriesPlots(dir, run, pal)
	return append(files, ts...), err
}

// chartTitle is "Throughput vs threads" and the subtitle names what every point shares.
func chartTitle(m metric, l layout, pts []Point) (string, string) {
	t := m.title
	switch {
	case l.x != nil:
		t += " vs " + l.x.title
		if l.x.key == "writers" {
			t = m.title + " vs writer nodes"
		}
	case l.cat != nil:
		t += " by " + l.cat.title
	}
	if l.series != nil && l.series.key != "protocol" {
		t += ", by " + l.series.title
	}
	return t, describeConstant(pts)
}

// panels splits pts into facets in order of first appearance and returns them with their
// titles.
func panels(pts []Point, l layout) ([][]Point, []string) {
	idx := map[string]int{}
	var out [][]Point
	var titles []string
	for _, p := range pts {
		k := facetKey(l, &p)
		i, ok := idx[k]
		if !ok {
			i = len(out)
			idx[k] = i
			out = append(out, nil)
			titles = append(titles, facetTitle(l, &p))
		}
		out[i] = append(out[i], p)
	}
	return out, titles
}

func gridCols(n int) int {
	switch {
	case n <= 1:
		return 1
	case n == 2 || n == 4:
		return 2
	}
	return 3
}

// lineFigure draws m against the numeric x axis, one line per series value and one panel
// per facet.
func lineFigure(pts []Point, l layout, m metric, pal *palette) *figure {
	title, sub := chartTitle(m, l, pts)
	f := &figure{title: title, subtitle: sub}
	facets, titles := panels(pts, l)
	f.cols = gridCols(len(facets))
	if f.cols > 1 {
		f.panelW, f.panelH = 4.6*vg.Inch, 3.4*vg.Inch
	}
	xlabel := l.x.title
	if l.x.key == "writers" {
		xlabel = "writer nodes"
	}
	// One y range over every panel, so panels compare by eye.
	ylo, yhi := math.Inf(1), 0.0
	var xsAll []float64
	drewAny := false
	for fi, fpts := range facets {
		p := newPanel(titles[fi], xlabel, m.ylabel)
		groups := groupPoints(fpts)
		bySeries := map[string][]Group{}
		var order []string
		for _, g := range groups {
			s := ""
			if l.series != nil {
				s = dimPhrase(*l.series, g.Points[0])
			}
			if _, ok := bySeries[s]; !ok {
				order = append(order, s)
			}
			bySeries[s] = append(bySeries[s], g)
		}
		for _, s := range order {
			gs := bySeries[s]
			sort.SliceStable(gs, func(i, j int) bool {
				a, _ := l.x.num(gs[i].Points[0])
				b, _ := l.x.num(gs[j].Points[0])
				return a < b
			})
			lbl := s
			if lbl == "" {
				lbl = gs[0].Points[0].Protocol // one series: the protocol the subtitle names
			}
			col, shape := pal.color(lbl), pal.shape(lbl)
			var xy, sec, bnd, ref plotter.XYs
			var errs plotter.YErrors
			for _, g := range gs {
				x, _ := l.x.num(g.Points[0])
				xsAll = append(xsAll, x)
				if st := g.Stat(m.y); st.N > 0 {
					xy = append(xy, plotter.XY{X: x, Y: st.Mean})
					errs = append(errs, struct{ Low, High float64 }{st.Mean - st.Min, st.Max - st.Mean})
					ylo, yhi = minPos(ylo, st.Min), math.Max(yhi, st.Max)
				}
				for _, e := range []struct {
					f   func(*Point) (float64, bool)
					dst *plotter.XYs
				}{{m.second, &sec}, {m.bound, &bnd}, {m.ref, &ref}} {
					if e.f == nil {
						continue
					}
					if st := g.Stat(e.f); st.N > 0 {
						*e.dst = append(*e.dst, plotter.XY{X: x, Y: st.Mean})
						ylo, yhi = minPos(ylo, st.Mean), math.Max(yhi, st.Mean)
					}
				}
			}
			if len(xy) == 0 {
				continue
			}
			drewAny = true
			line, glyphs, err := plotter.NewLinePoints(xy)
			if err != nil {
				continue
			}
			line.Color, line.Width, line.Dashes = col, vg.Points(1.8), pal.dashes(lbl)
			glyphs.Color, glyphs.Shape, glyphs.Radius = col, shape, vg.Points(3)
			p.Add(line, glyphs)
			f.addLegend(lbl, colorKey(col, shape, pal.dashes(lbl)...)...)
			if hasSpread(errs) {
				eb, err := plotter.NewYErrorBars(struct {
					plotter.XYs
					plotter.YErrors
				}{xy, errs})
				if err == nil {
					eb.Color = col
					p.Add(eb)
					f.addKey("error bars: min-max over repeats", styleKey(nil, nil)...)
				}
			}
			if len(sec) > 0 {
				sl, _ := plotter.NewLine(sec)
				sl.Color, sl.Width, sl.Dashes = col, vg.Points(1), fineDash
				p.Add(sl)
			}
			if len(bnd) == 1 { // one x: the bound is a short tick across the mark
				x, y := bnd[0].X, bnd[0].Y
				bnd = plotter.XYs{{X: x - 0.2, Y: y}, {X: x + 0.2, Y: y}}
				if l.x.key == "threads" {
					bnd = plotter.XYs{{X: x / 1.12, Y: y}, {X: x * 1.12, Y: y}}
				}
			}
			if len(bnd) > 0 {
				bl, _ := plotter.NewLine(bnd)
				bl.Color, bl.Width, bl.Dashes = col, vg.Points(1.2), dotted
				p.Add(bl)
			}
			if len(ref) > 0 {
				rl, rp, _ := plotter.NewLinePoints(ref)
				rl.Color, rl.Width, rl.Dashes = col, vg.Points(1.2), dashed
				rp.Color, rp.Shape, rp.Radius = col, draw.CrossGlyph{}, vg.Points(3.5)
				p.Add(rl, rp)
			}
			if len(sec) > 0 {
				f.addKey("solid: median", styleKey(nil, nil)...)
				f.addKey("fine dash: "+m.secondName, styleKey(fineDash, nil)...)
			}
			if len(bnd) > 0 {
				f.addKey("dotted: "+m.boundName, styleKey(dotted, nil)...)
			}
			if len(ref) > 0 {
				f.addKey("dashed, crosses: "+m.refName, styleKey(dashed, draw.CrossGlyph{})...)
			}
		}
		f.panels = append(f.panels, p)
	}
	if !drewAny {
		return nil
	}
	xs := uniqueSorted(xsAll)
	logX := l.x.key == "threads" && len(xs) > 1 && xs[0] > 0 && xs[len(xs)-1]/xs[0] >= 4
	for _, p := range f.panels {
		if logX {
			p.X.Scale = plot.LogScale{}
			p.X.Min, p.X.Max = xs[0]/1.3, xs[len(xs)-1]*1.3
		} else {
			lo, hi := xs[0], xs[len(xs)-1]
			padX := math.Max((hi-lo)*0.08, 0.3)
			p.X.Min, p.X.Max = lo-padX, hi+padX
		}
		p.X.Tick.Marker = valueTicks(xs)
		switch {
		case m.log && ylo > 0 && yhi/ylo > 20:
			setLogY(p, ylo, yhi)
		default:
			p.Y.Min, p.Y.Max = 0, yhi*1.12
			if yhi == 0 {
				p.Y.Max = 1
			}
		}
	}
	return f
}

func hasSpread(errs plotter.YErrors) bool {
	for _, e := range errs {
		if e.Low > 0 || e.High > 0 {
			return true
		}
	}
	return false
}

func minPos(a, b float64) float64 {
	if b > 0 && b < a {
		return b
	}
	return a
}

func uniqueSorted(xs []float64) []float64 {
	sort.Float64s(xs)
	var out []float64
	for _, x := range xs {
		if len(out) == 0 || out[len(out)-1] != x {
			out = append(out, x)
		}
	}
	return out
}

// categoryFigure draws m for a run whose settings have no numeric axis: bars with the
// value printed on each (throughput, abort rate) or a latency profile (median, p99 and max
// on a log axis), one category per value of l.cat, one panel per facet, the model bound as
// a dotted tick across its bar.
func categoryFigure(pts []Point, l layout, m metric, pal *palette) *figure {
	title, sub := chartTitle(m, l, pts)
	f := &figure{title: title, subtitle: sub}
	facets, titles := panels(pts, l)
	f.cols = gridCols(len(facets))
	// Categories in order of first appearance over the whole run, so panels line up.
	var cats []string
	seen := map[string]bool{}
	for i := range pts {
		c := catLabel(l, &pts[i])
		if !seen[c] {
			seen[c] = true
			cats = append(cats, c)
		}
	}
	n := len(cats)
	f.panelW = vg.Length(math.Max(4.2, math.Min(8, 1.1*float64(n)+2))) * vg.Inch
	f.panelH = 3.8 * vg.Inch
	profile := m.second != nil
	// Bars start at zero, so a throughput that spans more than a factor of 20 (a slow
	// applier taking 29,000 tps down to 200) is drawn as labelled dots on a log axis
	// instead, where the small values still read.
	mlo, mhi := math.Inf(1), 0.0
	for _, g := range groupPoints(pts) {
		if st := g.Stat(m.y); st.N > 0 {
			mlo, mhi = minPos(mlo, st.Mean), math.Max(mhi, st.Mean)
		}
	}
	dots := !profile && m.log && mhi > 0 && mhi/mlo > 20
	logAxis := profile || dots
	ylo, yhi := math.Inf(1), 0.0
	var bounds []pendingBound
	for fi, fpts := range facets {
		xl := ""
		if l.cat != nil && l.cat.key != "protocol" {
			xl = l.cat.title
		}
		p := newPanel(titles[fi], xl, m.ylabel)
		p.NominalX(cats...)
		maxLen := 0
		for _, c := range cats {
			maxLen = max(maxLen, len(c))
		}
		if maxLen*n > int(float64(f.panelW)/5.5) {
			p.X.Tick.Label.Rotation = math.Pi / 7
			p.X.Tick.Label.XAlign = draw.XRight
		}
		groups := groupPoints(fpts)
		for _, g := range groups {
			c := catLabel(l, g.Points[0])
			x := float64(indexOf(cats, c))
			col := pal.color(c)
			st := g.Stat(m.y)
			if st.N == 0 {
				continue
			}
			ylo, yhi = minPos(ylo, st.Min), math.Max(yhi, st.Max)
			if profile {
				s2 := g.Stat(m.second)
				mx := g.Stat(func(p *Point) (float64, bool) { return positive(p.Latency.Max) })
				if mx.N > 0 {
					yhi = math.Max(yhi, mx.Max)
					stem, _ := plotter.NewLine(plotter.XYs{{X: x, Y: st.Mean}, {X: x, Y: mx.Mean}})
					stem.Color, stem.Width = col, vg.Points(1)
					p.Add(stem)
				}
				for _, mk := range []struct {
					s     Stat
					shape draw.GlyphDrawer
					name  string
				}{{st, draw.CircleGlyph{}, "median"}, {s2, draw.TriangleGlyph{}, "p99"}, {mx, draw.CrossGlyph{}, "max"}} {
					if mk.s.N == 0 {
						continue
					}
					sc, _ := plotter.NewScatter(plotter.XYs{{X: x, Y: mk.s.Mean}})
					sc.Color, sc.Shape, sc.Radius = col, mk.shape, vg.Points(4)
					p.Add(sc)
					f.addKey(mk.name, glyphKey(mk.shape, keyGray)...)
				}
			} else if dots {
				sc, _ := plotter.NewScatter(plotter.XYs{{X: x, Y: st.Mean}})
				sc.Color, sc.Shape, sc.Radius = col, draw.CircleGlyph{}, vg.Points(5)
				p.Add(sc)
				lab, err := plotter.NewLabels(plotter.XYLabels{XYs: plotter.XYs{{X: x, Y: st.Mean}}, Labels: []string{fmtRate(st.Mean)}})
				if err == nil {
					lab.TextStyle[0].Font.Size = 8
					lab.Offset = vg.Point{X: vg.Points(8), Y: vg.Points(-3)}
					p.Add(lab)
				}
			} else {
				bar, err := plotter.NewBarChart(plotter.Values{st.Mean}, vg.Points(math.Min(44, float64(f.panelW)*0.5/float64(n))))
				if err != nil {
					continue
				}
				bar.XMin = x
				bar.Color = col
				bar.LineStyle.Width = vg.Points(0.5)
				p.Add(bar)
				lab, err := plotter.NewLabels(plotter.XYLabels{XYs: plotter.XYs{{X: x, Y: st.Mean}}, Labels: []string{fmtRate(st.Mean)}})
				if err == nil {
					lab.TextStyle[0].Font.Size = 8
					lab.TextStyle[0].XAlign = draw.XCenter
					lab.Offset = vg.Point{Y: vg.Points(2)}
					p.Add(lab)
				}
			}
			if st.N > 1 && st.Max > st.Min {
				eb, err := plotter.NewYErrorBars(struct {
					plotter.XYs
					plotter.YErrors
				}{plotter.XYs{{X: x, Y: st.Mean}}, plotter.YErrors{{Low: st.Mean - st.Min, High: st.Max - st.Mean}}})
				if err == nil {
					p.Add(eb)
					f.addKey("error bars: min-max over repeats", styleKey(nil, nil)...)
				}
			}
			if m.bound != nil {
				if b := g.Stat(m.bound); b.N > 0 {
					bounds = append(bounds, pendingBound{p, x, b.Mean, col})
				}
			}
		}
		f.panels = append(f.panels, p)
	}
	// A bound far above every measured bar (a LAN's network allows 160,000 tps where the CPU
	// gives 2,000) would flatten the bars to nothing: it is printed at the top of the panel
	// instead of stretching the axis. On the log axis of a profile every bound fits.
	top := yhi * 1.15
	for _, b := range bounds {
		if logAxis || b.v <= 2.5*yhi {
			top = math.Max(top, b.v*1.15)
			ylo = minPos(ylo, b.v)
		}
	}
	if top == 0 {
		top = 1
	}
	for _, b := range bounds {
		if logAxis || b.v <= top {
			bl, _ := plotter.NewLine(plotter.XYs{{X: b.x - 0.38, Y: b.v}, {X: b.x + 0.38, Y: b.v}})
			bl.Color, bl.Width, bl.Dashes = b.col, vg.Points(2), dotted
			b.panel.Add(bl)
			f.addKey("dotted: "+m.boundName, styleKey(dotted, nil)...)
			continue
		}
		lab, err := plotter.NewLabels(plotter.XYLabels{XYs: plotter.XYs{{X: b.x, Y: top * 0.97}}, Labels: []string{"model " + tickLabel(math.Round(b.v)) + " ^"}})
		if err == nil {
			lab.TextStyle[0].Font.Size = 8
			lab.TextStyle[0].Color = b.col
			lab.TextStyle[0].XAlign = draw.XCenter
			lab.TextStyle[0].YAlign = draw.YTop
			b.panel.Add(lab)
			f.addKey("model ^: "+m.boundName+", above the axis", styleKey(nil, nil)[:0]...)
		}
	}
	for _, p := range f.panels {
		p.X.Min, p.X.Max = -0.6, float64(n)-0.4
		if logAxis && ylo > 0 && !math.IsInf(ylo, 0) {
			setLogY(p, ylo, math.Max(yhi, top/1.15))
		} else {
			p.Y.Min, p.Y.Max = 0, top
		}
	}
	return f
}

// pendingBound is a bound mark placed once the panels' common axis is known.
type pendingBound struct {
	panel *plot.Plot
	x, v  float64
	col   color.Color
}

// catLabel is a point's category on the x axis: the value alone, since the axis is
// labelled with the setting.
func catLabel(l layout, p *Point) string {
	if l.cat == nil {
		return p.Protocol
	}
	return l.cat.label(p)
}

func indexOf(ss []string, s string) int {
	for i, x := range ss {
		if x == s {
			return i
		}
	}
	return -1
}
