package results

import (
	"image/color"
	"math"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

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
				lab, err := plotter.NewLabels(plotter.XYLabels{XYs: plotter.XYs{{X: x, Y: st.Mean}}, Labels: []string{barValue(st.Mean)}})
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
				lab, err := plotter.NewLabels(plotter.XYLabels{XYs: plotter.XYs{{X: x, Y: st.Mean}}, Labels: []string{barValue(st.Mean)}})
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

// barValue is the number printed on a bar or a dot: fmtRate's form from 10 up, and two
// significant figures below, so an abort rate of 0.03% does not read "0.0".
func barValue(v float64) string {
	if v >= 10 || v == 0 {
		return fmtRate(v)
	}
	return strconv.FormatFloat(v, 'g', 2, 64)
}
