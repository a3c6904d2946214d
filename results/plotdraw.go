package results

import (
	"bytes"
	"fmt"
	"image/color"
	"math"
	"path/filepath"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"
)

// figure is one chart file: a title, one or more panels tiled in a grid that share one
// legend drawn beside them (so a legend never covers data and facets do not repeat it), and
// the files it is saved as (PNG for viewing and the HTML report, SVG for print).
type figure struct {
	title    string // first line, the question the chart answers
	subtitle string // what every point shares
	panels   []*plot.Plot
	cols     int
	legend   []legendEntry
	panelW   vg.Length
	panelH   vg.Length
}

type legendEntry struct {
	label  string
	thumbs []plot.Thumbnailer
	key    bool // a style key (dotted = model, ...), listed after the series
}

// addLegend adds a series entry once.
func (f *figure) addLegend(label string, thumbs ...plot.Thumbnailer) {
	f.addEntry(legendEntry{label: label, thumbs: thumbs})
}

// addKey adds a style key once; keys follow the series in the legend.
func (f *figure) addKey(label string, thumbs ...plot.Thumbnailer) {
	f.addEntry(legendEntry{label: label, thumbs: thumbs, key: true})
}

func (f *figure) addEntry(e legendEntry) {
	for _, x := range f.legend {
		if x.label == e.label {
			return
		}
	}
	// Series before keys, each in the order added.
	i := len(f.legend)
	if !e.key {
		for i > 0 && f.legend[i-1].key {
			i--
		}
	}
	f.legend = append(f.legend, legendEntry{})
	copy(f.legend[i+1:], f.legend[i:])
	f.legend[i] = e
}

var (
	titleStyle    = text.Style{Font: font.From(plot.DefaultFont, 13), Handler: plot.DefaultTextHandler, Color: color.Black}
	subtitleStyle = text.Style{Font: font.From(plot.DefaultFont, 10), Handler: plot.DefaultTextHandler, Color: color.Gray{Y: 60}}
)

// charsFit is about how many characters of style fit in width (Liberation Sans averages a
// little over half an em per character).
func charsFit(width vg.Length, style text.Style) int {
	n := int(float64(width) / (0.55 * float64(style.Font.Size)))
	return max(n, 20)
}

// render draws the figure on a canvas of its size.
func (f *figure) render(c vg.CanvasSizer) {
	w, h := c.Size()
	dc := draw.New(c)
	// White background for the SVG as well as the PNG.
	dc.SetColor(color.White)
	dc.Fill(rectPath(0, 0, w, h))

	pad := vg.Points(8)
	lines := strings.Split(wrap(f.title, charsFit(w-2*pad, titleStyle), 0), "\n")
	sub := []string{}
	if f.subtitle != "" {
		sub = strings.Split(wrap(f.subtitle, charsFit(w-2*pad, subtitleStyle), 0), "\n")
	}
	y := h - pad
	for _, l := range lines {
		y -= titleStyle.Font.Size * 1.2
		dc.FillText(titleStyle, vg.Point{X: pad, Y: y}, l)
	}
	for _, l := range sub {
		y -= subtitleStyle.Font.Size * 1.25
		dc.FillText(subtitleStyle, vg.Point{X: pad, Y: y}, l)
	}
	top := h - y + pad/2

	legW := f.legendWidth()
	area := draw.Crop(dc, 0, -legW, 0, -top)
	if legW > 0 {
		l := plot.NewLegend()
		l.Top, l.Left = true, true
		l.TextStyle.Font.Size = 10
		l.Padding = vg.Points(2)
		for _, e := range f.legend {
			l.Add(e.label, e.thumbs...)
		}
		lc := draw.Crop(dc, w-legW+pad, -pad, pad, -top-pad)
		l.Draw(lc)
	}
	rows := (len(f.panels) + f.cols - 1) / f.cols
	grid := make([][]*plot.Plot, rows)
	for r := range grid {
		grid[r] = make([]*plot.Plot, f.cols)
		for c := range grid[r] {
			if i := r*f.cols + c; i < len(f.panels) {
				grid[r][c] = f.panels[i]
			}
		}
	}
	tiles := draw.Tiles{Rows: rows, Cols: f.cols, PadX: vg.Points(14), PadY: vg.Points(10),
		PadLeft: pad, PadRight: pad, PadBottom: pad, PadTop: vg.Points(2)}
	canvases := plot.Align(grid, tiles, area)
	for r := range grid {
		for c := range grid[r] {
			if grid[r][c] != nil {
				grid[r][c].Draw(canvases[r][c])
			}
		}
	}
}

func rectPath(x0, y0, x1, y1 vg.Length) vg.Path {
	var p vg.Path
	p.Move(vg.Point{X: x0, Y: y0})
	p.Line(vg.Point{X: x1, Y: y0})
	p.Line(vg.Point{X: x1, Y: y1})
	p.Line(vg.Point{X: x0, Y: y1})
	p.Close()
	return p
}

// legendWidth is the strip the legend needs: its longest label plus the thumbnail.
func (f *figure) legendWidth() vg.Length {
	if len(f.legend) == 0 {
		return 0
	}
	sty := text.Style{Font: font.From(plot.DefaultFont, 10), Handler: plot.DefaultTextHandler}
	var wmax vg.Length
	for _, e := range f.legend {
		if w := sty.Rectangle(" " + e.label).Max.X; w > wmax {
			wmax = w
		}
	}
	return wmax + vg.Points(20) + vg.Points(24)
}

// size is the figure's canvas: the panels' grid plus the legend strip and the title lines.
func (f *figure) size() (vg.Length, vg.Length) {
	cols := max(f.cols, 1)
	rows := (len(f.panels) + cols - 1) / cols
	w := vg.Length(cols)*f.panelW + f.legendWidth()
	lines := len(strings.Split(wrap(f.title, charsFit(w, titleStyle), 0), "\n"))
	if f.subtitle != "" {
		lines += len(strings.Split(wrap(f.subtitle, charsFit(w, subtitleStyle), 0), "\n"))
	}
	return w, vg.Length(rows)*f.panelH + vg.Length(lines)*vg.Points(16) + vg.Points(16)
}

// save writes base.png and base.svg into dir and returns their paths. Both go through
// WriteFileAtomic, as every results file does.
func (f *figure) save(dir, base string) ([]string, error) {
	if f.cols == 0 {
		f.cols = 1
	}
	if f.panelW == 0 {
		f.panelW, f.panelH = 7*vg.Inch, 4.2*vg.Inch
	}
	w, h := f.size()
	img := vgimg.NewWith(vgimg.UseWH(w, h), vgimg.UseDPI(96))
	f.render(img)
	var png bytes.Buffer
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(&png); err != nil {
		return nil, fmt.Errorf("results: drawing %s.png: %w", base, err)
	}
	svg := vgsvg.New(w, h)
	f.render(svg)
	var sv bytes.Buffer
	if _, err := svg.WriteTo(&sv); err != nil {
		return nil, fmt.Errorf("results: drawing %s.svg: %w", base, err)
	}
	pngPath, svgPath := filepath.Join(dir, base+".png"), filepath.Join(dir, base+".svg")
	if err := WriteFileAtomic(pngPath, png.Bytes()); err != nil {
		return nil, err
	}
	if err := WriteFileAtomic(svgPath, sv.Bytes()); err != nil {
		return nil, err
	}
	return []string{pngPath, svgPath}, nil
}

// newPanel is a plot with the project's look: a light grid, no title unless faceted.
func newPanel(title, xlabel, ylabel string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.Title.TextStyle.Font.Size = 11
	p.X.Label.Text = xlabel
	p.Y.Label.Text = ylabel
	p.X.Label.TextStyle.Font.Size = 10
	p.Y.Label.TextStyle.Font.Size = 10
	p.X.Tick.Label.Font.Size = 9
	p.Y.Tick.Label.Font.Size = 9
	p.Y.Tick.Marker = cleanTicks{}
	p.X.Tick.Marker = cleanTicks{}
	g := plotter.NewGrid()
	g.Vertical.Color = color.Gray{Y: 225}
	g.Horizontal.Color = color.Gray{Y: 225}
	p.Add(g)
	return p
}

// palette gives every series label one colour for the whole run, so that galera is the same
// colour in every chart of a report.
type palette struct{ idx map[string]int }

func newPalette() *palette { return &palette{idx: map[string]int{}} }

func (pl *palette) index(label string) int {
	i, ok := pl.idx[label]
	if !ok {
		i = len(pl.idx)
		pl.idx[label] = i
	}
	return i
}

func (pl *palette) color(label string) color.Color { return plotutil.Color(pl.index(label)) }

func (pl *palette) shape(label string) draw.GlyphDrawer { return plotutil.Shape(pl.index(label)) }

// dashes tells apart the series whose colour repeats (gonum's palette has seven): the
// first seven are solid, the next seven long-dashed, and so on.
func (pl *palette) dashes(label string) []vg.Length {
	switch (pl.index(label) / len(plotutil.SoftColors)) % 3 {
	case 1:
		return []vg.Length{vg.Points(8), vg.Points(3)}
	case 2:
		return []vg.Length{vg.Points(2), vg.Points(2), vg.Points(8), vg.Points(2)}
	}
	return nil
}

// Line styles: measured is solid, the model bound dotted, published figures dashed with
// crosses, a second percentile a fine dash.
var (
	dotted   = []vg.Length{vg.Points(1.5), vg.Points(3)}
	dashed   = []vg.Length{vg.Points(6), vg.Points(3)}
	fineDash = []vg.Length{vg.Points(3), vg.Points(2)}
	keyGray  = color.Gray{Y: 90}
)

// styleKey is a legend thumbnail for a line style, in grey: the legend names colours once
// per series and styles once per figure.
func styleKey(dashes []vg.Length, glyph draw.GlyphDrawer) []plot.Thumbnailer {
	l := &plotter.Line{XYs: plotter.XYs{{}}, LineStyle: draw.LineStyle{Color: keyGray, Width: vg.Points(1.5), Dashes: dashes}}
	out := []plot.Thumbnailer{l}
	if glyph != nil {
		out = append(out, &plotter.Scatter{XYs: plotter.XYs{{}}, GlyphStyle: draw.GlyphStyle{Color: keyGray, Radius: vg.Points(3), Shape: glyph}})
	}
	return out
}

func glyphKey(glyph draw.GlyphDrawer, c color.Color) []plot.Thumbnailer {
	return []plot.Thumbnailer{&plotter.Scatter{XYs: plotter.XYs{{}}, GlyphStyle: draw.GlyphStyle{Color: c, Radius: vg.Points(3.5), Shape: glyph}}}
}

func colorKey(c color.Color, glyph draw.GlyphDrawer, dashes ...vg.Length) []plot.Thumbnailer {
	l := &plotter.Line{XYs: plotter.XYs{{}}, LineStyle: draw.LineStyle{Color: c, Width: vg.Points(2), Dashes: dashes}}
	if glyph == nil {
		return []plot.Thumbnailer{l}
	}
	return []plot.Thumbnailer{l, &plotter.Scatter{XYs: plotter.XYs{{}}, GlyphStyle: draw.GlyphStyle{Color: c, Radius: vg.Points(3), Shape: glyph}}}
}

func barKey(c color.Color) []plot.Thumbnailer {
	return []plot.Thumbnailer{&plotter.BarChart{Values: plotter.Values{1}, Color: c, LineStyle: draw.LineStyle{Color: color.Black, Width: vg.Points(0.5)}}}
}

// logTicks labels a log axis so that it always has labelled ticks: 1-2-5 steps per decade
// when the range holds a few of them, decades only when it spans many, and ordinary linear
// ticks (which are positive on a positive range) when it is too narrow for either.
type logTicks struct{}

func (logTicks) Ticks(lo, hi float64) []plot.Tick {
	if lo <= 0 || hi <= lo {
		return plot.DefaultTicks{}.Ticks(lo, hi)
	}
	var major, all []float64
	for e := math.Floor(math.Log10(lo)); e <= math.Ceil(math.Log10(hi)); e++ {
		for _, m := range []float64{1, 2, 5} {
			v := m * math.Pow(10, e)
			if v >= lo*(1-1e-9) && v <= hi*(1+1e-9) {
				all = append(all, v)
				if m == 1 {
					major = append(major, v)
				}
			}
		}
	}
	var ticks []plot.Tick
	switch {
	case len(all) >= 3 && len(all) <= 10:
		for _, v := range all {
			ticks = append(ticks, plot.Tick{Value: v, Label: tickLabel(v)})
		}
	case len(major) >= 2:
		for _, v := range all {
			l := ""
			if contains1(major, v) {
				l = tickLabel(v)
			}
			ticks = append(ticks, plot.Tick{Value: v, Label: l})
		}
	default:
		for _, t := range (plot.DefaultTicks{}).Ticks(lo, hi) {
			if t.Value > 0 {
				if t.Label != "" {
					t.Label = tickLabel(t.Value)
				}
				ticks = append(ticks, t)
			}
		}
	}
	return ticks
}

func contains1(vs []float64, v float64) bool {
	for _, x := range vs {
		if x == v {
			return true
		}
	}
	return false
}

// tickLabel prints a tick value without float noise: 0.05, 2, 1000, 20k.
func tickLabel(v float64) string {
	if v >= 10000 {
		return strconv.FormatFloat(v/1000, 'g', 4, 64) + "k"
	}
	return strconv.FormatFloat(v, 'g', 4, 64)
}

// cleanTicks is gonum's default linear ticks labelled without trailing zeros ("25000"
// rather than "25000.00").
type cleanTicks struct{}

func (cleanTicks) Ticks(lo, hi float64) []plot.Tick {
	ts := plot.DefaultTicks{}.Ticks(lo, hi)
	for i := range ts {
		if ts[i].Label != "" {
			ts[i].Label = tickLabel(ts[i].Value)
		}
	}
	return ts
}

// valueTicks labels exactly the given x values (thread counts, writer counts, nodes).
func valueTicks(xs []float64) plot.Ticker {
	var ticks plot.ConstantTicks
	for _, x := range xs {
		ticks = append(ticks, plot.Tick{Value: x, Label: tickLabel(x)})
	}
	return ticks
}

// setLogY puts the panel's y axis on a log scale over [lo, hi] padded by a factor, with
// labels.
func setLogY(p *plot.Plot, lo, hi float64) {
	if lo <= 0 || math.IsInf(lo, 0) || hi <= 0 {
		return
	}
	p.Y.Scale = plot.LogScale{}
	p.Y.Min, p.Y.Max = lo/1.6, hi*1.6
	p.Y.Tick.Marker = logTicks{}
}

// shadeWindows draws fault windows as grey bands across the data area with their label at
// the top, and marks (events that are not windows) as thin vertical lines.
type shadeWindows struct {
	windows []FaultWindow
	marks   []FaultMark
	label   bool
}

var shadeColor = color.NRGBA{R: 220, G: 60, B: 60, A: 40}

// Plot implements plot.Plotter.
func (s shadeWindows) Plot(c draw.Canvas, p *plot.Plot) {
	tx, _ := p.Transforms(&c)
	sty := text.Style{Font: font.From(plot.DefaultFont, 8), Handler: plot.DefaultTextHandler, Color: color.NRGBA{R: 150, G: 20, B: 20, A: 255}}
	for _, w := range s.windows {
		x0, x1 := tx(math.Max(w.FromS, p.X.Min)), tx(math.Min(w.ToS, p.X.Max))
		if x1 <= x0 {
			continue
		}
		c.SetColor(shadeColor)
		c.Fill(rectPath(x0, c.Min.Y, x1, c.Max.Y))
		if s.label {
			c.FillText(sty, vg.Point{X: x0 + vg.Points(2), Y: c.Max.Y - vg.Points(10)}, w.Label)
		}
	}
	for _, m := range s.marks {
		if m.AtS < p.X.Min || m.AtS > p.X.Max {
			continue
		}
		x := tx(m.AtS)
		c.SetLineStyle(draw.LineStyle{Color: color.NRGBA{R: 150, G: 20, B: 20, A: 160}, Width: vg.Points(0.8), Dashes: fineDash})
		var path vg.Path
		path.Move(vg.Point{X: x, Y: c.Min.Y})
		path.Line(vg.Point{X: x, Y: c.Max.Y})
		c.Stroke(path)
		if s.label {
			c.FillText(sty, vg.Point{X: x + vg.Points(2), Y: c.Max.Y - vg.Points(20)}, m.Event)
		}
	}
}
