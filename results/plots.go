package results

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Plot file names written by WritePlots. The thread plots are drawn per protocol, with
// "-<protocol>.png" appended to the prefix.
const (
	PlotSecondsVsThreads   = "seconds-vs-threads"
	PlotLatencyVsThreads   = "latency-vs-threads"
	PlotThroughputVsThread = "throughput-vs-threads"
	PlotAbortRateVsWriters = "abort-rate-vs-writers.png"
)

// fileSafe keeps a protocol name usable in a file name.
func fileSafe(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			return r
		}
		return '_'
	}, s)
}

// series is one line of a plot: one protocol on one network, x ascending, repeats averaged.
type series struct {
	label string
	xs    []float64
	ys    []float64
	bound []float64 // model value at each x, NaN where the point had none
	ref   []float64 // published value at each x, NaN where none
}

// groupSeries builds one series per (protocol, network) from the points pf accepts, with
// x and y taken by the given functions. Points with the same x (repeats) are averaged.
func groupSeries(pts []Point, accept func(*Point) bool, x, y, bound func(*Point) (float64, bool), ref func(*Point) (float64, bool)) []series {
	type acc struct{ y, b, r, ny, nb, nr float64 }
	groups := map[string]map[float64]*acc{}
	order := []string{}
	for i := range pts {
		p := &pts[i]
		if !accept(p) {
			continue
		}
		xv, ok := x(p)
		yv, ok2 := y(p)
		if !ok || !ok2 {
			continue
		}
		lbl := p.Protocol + " " + NetworkLabel(p.Network)
		if groups[lbl] == nil {
			groups[lbl] = map[float64]*acc{}
			order = append(order, lbl)
		}
		a := groups[lbl][xv]
		if a == nil {
			a = &acc{}
			groups[lbl][xv] = a
		}
		a.y += yv
		a.ny++
		if bound != nil {
			if b, ok := bound(p); ok {
				a.b += b
				a.nb++
			}
		}
		if ref != nil {
			if r, ok := ref(p); ok {
				a.r += r
				a.nr++
			}
		}
	}
	var out []series
	for _, lbl := range order {
		g := groups[lbl]
		xs := make([]float64, 0, len(g))
		for xv := range g {
			xs = append(xs, xv)
		}
		sort.Float64s(xs)
		s := series{label: lbl}
		for _, xv := range xs {
			a := g[xv]
			s.xs = append(s.xs, xv)
			s.ys = append(s.ys, a.y/a.ny)
			s.bound = append(s.bound, avgOrNaN(a.b, a.nb))
			s.ref = append(s.ref, avgOrNaN(a.r, a.nr))
		}
		out = append(out, s)
	}
	return out
}

func avgOrNaN(sum, n float64) float64 {
	if n == 0 {
		return math.NaN()
	}
	return sum / n
}

// WritePlots draws the run's plots into dir with gonum.org/v1/plot and returns the files
// written. Each plot has one line per network (and protocol where several share a frame),
// the model bound as a dotted line of the same colour where the points carry one, and
// (seconds plot) the published figures as dashed lines with crosses. A plot whose data is
// absent from the run is skipped, not drawn empty. Per protocol P:
//   - seconds-vs-threads-P.png: elapsed seconds of counted runs (--queries) against
//     threads, the documents' chart, log-log so 0.1 s and 55 s both read;
//   - latency-vs-threads-P.png: mean commit latency against threads, with the commit floor;
//   - throughput-vs-threads-P.png: tps against threads, with the model's max tps;
//
// and for the run, abort-rate-vs-writers.png: aborts / attempts against the number of
// writer nodes, one line per protocol, network and thread count, only when the run varies
// the writers (the model has no abort bound, so none is drawn).
func WritePlots(dir string, run *Run) ([]string, error) {
	if run == nil {
		return nil, fmt.Errorf("results: WritePlots needs a run, got nil")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("results: cannot create plot directory: %w", err)
	}
	var files []string
	threads := func(p *Point) (float64, bool) { return float64(p.Threads), p.Threads > 0 }
	positive := func(v float64) (float64, bool) { return v, v > 0 && !math.IsNaN(v) && !math.IsInf(v, 0) }
	// One file per protocol: the documents chart one system at a time, and a dozen lines
	// with their bounds and published twins in one frame cannot be read.
	var protos []string
	seen := map[string]bool{}
	for _, p := range run.Points {
		if !seen[p.Protocol] {
			seen[p.Protocol] = true
			protos = append(protos, p.Protocol)
		}
	}
	for _, proto := range protos {
		var pts []Point
		for _, p := range run.Points {
			if p.Protocol == proto {
				pts = append(pts, p)
			}
		}
		suffix := "-" + fileSafe(proto) + ".png"
		short := func(ss []series) []series { // the title names the protocol
			for i := range ss {
				ss[i].label = strings.TrimPrefix(ss[i].label, proto+" ")
			}
			return ss
		}

		// Seconds versus concurrency, as the documents chart it.
		sec := groupSeries(pts, func(p *Point) bool { return p.Queries > 0 }, threads,
			func(p *Point) (float64, bool) { return positive(p.ElapsedS) },
			func(p *Point) (float64, bool) {
				if p.Bound == nil || p.Bound.MaxTPS <= 0 || p.Queries <= 0 {
					return 0, false
				}
				return float64(p.Queries) / p.Bound.MaxTPS, true
			},
			func(p *Point) (float64, bool) {
				if r := ReferenceFor(run.Scenario, p); r != nil {
					return r.Value, true
				}
				return 0, false
			})
		sec = short(sec)
		if len(sec) > 0 {
			f, err := drawPlot(dir, PlotSecondsVsThreads+suffix, proto+": seconds to run the transactions versus concurrency", "threads (concurrency)", "elapsed seconds", sec, true, "published", false)
			if err != nil {
				return files, err
			}
			files = append(files, f)
		}

		lat := groupSeries(pts, func(p *Point) bool { return p.Committed > 0 }, threads,
			func(p *Point) (float64, bool) { return positive(p.Latency.Mean) },
			func(p *Point) (float64, bool) {
				if p.Bound == nil {
					return 0, false
				}
				return positive(p.Bound.CommitFloorMs)
			}, nil)
		lat = short(lat)
		if len(lat) > 0 {
			f, err := drawPlot(dir, PlotLatencyVsThreads+suffix, proto+": mean commit latency versus threads", "threads", "latency ms", lat, true, "", true)
			if err != nil {
				return files, err
			}
			files = append(files, f)
		}

		tps := groupSeries(pts, func(p *Point) bool { return p.Committed > 0 }, threads,
			func(p *Point) (float64, bool) { return positive(p.TPS) },
			func(p *Point) (float64, bool) {
				if p.Bound == nil {
					return 0, false
				}
				return positive(p.Bound.MaxTPS)
			}, nil)
		tps = short(tps)
		if len(tps) > 0 {
			f, err := drawPlot(dir, PlotThroughputVsThread+suffix, proto+": throughput versus threads", "threads", "transactions per second", tps, true, "", true)
			if err != nil {
				return files, err
			}
			files = append(files, f)
		}
	}

	pts := run.Points
	if writersVary(pts) {
		ab := groupSeries(pts, func(p *Point) bool { return p.Committed+p.TotalAborts() > 0 },
			func(p *Point) (float64, bool) { return float64(len(p.Writers)), len(p.Writers) > 0 },
			func(p *Point) (float64, bool) { return p.AbortRate() * 100, true }, nil, nil)
		// Each thread count is its own line: abort rates at 4 and 64 threads do not average.
		ab = splitByThreads(pts, ab)
		if len(ab) > 0 {
			f, err := drawPlot(dir, PlotAbortRateVsWriters, "Abort rate versus writer nodes", "writer nodes", "aborts, % of attempts", ab, false, "", true)
			if err != nil {
				return files, err
			}
			files = append(files, f)
		}
	}
	return files, nil
}

func writersVary(pts []Point) bool {
	seen := map[int]bool{}
	for _, p := range pts {
		seen[len(p.Writers)] = true
	}
	return len(seen) > 1
}

// splitByThreads rebuilds the abort series with the thread count in the label when the run
// varies threads as well as writers.
func splitByThreads(pts []Point, s []series) []series {
	th := map[int]bool{}
	for _, p := range pts {
		th[p.Threads] = true
	}
	if len(th) <= 1 {
		return s
	}
	var out []series
	for _, t := range sortedInts(th) {
		t := t
		sub := groupSeries(pts, func(p *Point) bool { return p.Threads == t && p.Committed+p.TotalAborts() > 0 },
			func(p *Point) (float64, bool) { return float64(len(p.Writers)), len(p.Writers) > 0 },
			func(p *Point) (float64, bool) { return p.AbortRate() * 100, true }, nil, nil)
		for i := range sub {
			sub[i].label += " " + strconv.Itoa(t) + " thr"
		}
		out = append(out, sub...)
	}
	return out
}

func sortedInts(m map[int]bool) []int {
	out := make([]int, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Ints(out)
	return out
}

// drawPlot draws the series: measured as solid lines with points, the model as dotted
// lines and the published figures as dashed lines in the series' colour. log draws both
// axes on log scales (threads double from point to point in every sweep the project runs).
func drawPlot(dir, name, title, xlabel, ylabel string, ss []series, log bool, refName string, legendLeft bool) (string, error) {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = xlabel
	p.Y.Label.Text = ylabel
	p.Legend.Top = true
	p.Legend.Left = legendLeft
	minX, maxX := math.Inf(1), math.Inf(-1)
	hasModel := false
	for i, s := range ss {
		col := plotutil.Color(i)
		xy := make(plotter.XYs, len(s.xs))
		for j := range s.xs {
			xy[j] = plotter.XY{X: s.xs[j], Y: s.ys[j]}
			minX, maxX = math.Min(minX, s.xs[j]), math.Max(maxX, s.xs[j])
		}
		line, pointsGlyph, err := plotter.NewLinePoints(xy)
		if err != nil {
			return "", fmt.Errorf("results: plot %s, %s: %w", name, s.label, err)
		}
		line.Color = col
		line.Width = vg.Points(1.5)
		pointsGlyph.Color = col
		pointsGlyph.Shape = plotutil.Shape(i)
		p.Add(line, pointsGlyph)
		p.Legend.Add(s.label, line, pointsGlyph)
		if b := finite(s.xs, s.bound); len(b) > 0 {
			hasModel = true
			l, err := plotter.NewLine(b)
			if err != nil {
				return "", err
			}
			l.Color = col
			l.Dashes = []vg.Length{vg.Points(1), vg.Points(3)}
			p.Add(l)
		}
		if r := finite(s.xs, s.ref); len(r) > 0 {
			l, lp, err := plotter.NewLinePoints(r)
			if err != nil {
				return "", err
			}
			l.Color = col
			l.Dashes = []vg.Length{vg.Points(6), vg.Points(3)}
			lp.Color = col
			lp.Shape = draw.CrossGlyph{}
			p.Add(l, lp)
			p.Legend.Add(s.label+" ("+refName+")", l, lp)
		}
	}
	if hasModel {
		key, err := plotter.NewLine(plotter.XYs{{X: 0, Y: 0}})
		if err == nil {
			key.Color = plotutil.Color(0)
			key.Dashes = []vg.Length{vg.Points(1), vg.Points(3)}
			p.Legend.Add("dotted: model bound (Callaghan's law)", key)
		}
	}
	if log {
		// A log axis cannot hold zero, and gonum widens a degenerate range (one point, or
		// all values equal) by one unit either side, which can cross zero: set both ranges
		// from the positive data, padded by a factor.
		lo, hi := positiveRange(ss)
		if lo > 0 {
			p.Y.Min, p.Y.Max = lo/1.5, hi*1.5
		}
		if minX > 0 {
			p.X.Min, p.X.Max = minX/1.5, maxX*1.5
		}
		p.X.Scale = plot.LogScale{}
		p.Y.Scale = plot.LogScale{}
		p.Y.Tick.Marker = plot.LogTicks{Prec: -1}
		p.X.Tick.Marker = powerOfTwoTicks(minX, maxX)
	}
	p.Add(plotter.NewGrid())
	path := filepath.Join(dir, name)
	if err := p.Save(9*vg.Inch, 6*vg.Inch, path); err != nil {
		return "", fmt.Errorf("results: cannot write plot %s: %w", path, err)
	}
	return path, nil
}

// positiveRange is the smallest and largest positive y over every line of ss (measured,
// model and published); 0, 0 when there is none.
func positiveRange(ss []series) (lo, hi float64) {
	lo, hi = math.Inf(1), 0
	for _, s := range ss {
		for _, ys := range [][]float64{s.ys, s.bound, s.ref} {
			for _, y := range ys {
				if y > 0 && !math.IsInf(y, 0) {
					lo, hi = math.Min(lo, y), math.Max(hi, y)
				}
			}
		}
	}
	if hi == 0 {
		return 0, 0
	}
	return lo, hi
}

// finite returns the (x, y) pairs whose y is a positive number, for log axes.
func finite(xs, ys []float64) plotter.XYs {
	var out plotter.XYs
	for i := range xs {
		if !math.IsNaN(ys[i]) && ys[i] > 0 {
			out = append(out, plotter.XY{X: xs[i], Y: ys[i]})
		}
	}
	return out
}

// powerOfTwoTicks labels 1, 2, 4, ... across the range, the thread counts sweeps use.
func powerOfTwoTicks(lo, hi float64) plot.Ticker {
	var ticks plot.ConstantTicks
	if math.IsInf(lo, 0) || lo <= 0 {
		lo = 1
	}
	for v := 1.0; v <= math.Max(hi, 1)*2; v *= 2 {
		if v >= lo/2 {
			ticks = append(ticks, plot.Tick{Value: v, Label: strconv.FormatFloat(v, 'g', -1, 64)})
		}
	}
	return ticks
}
