package results

import (
	"fmt"
	"math"
	"os"
	"sort"

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
	switch {
	case l.series == nil || l.series.key == "protocol":
	case l.series.key == "nodes":
		t += ", by cluster size"
	default:
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
