package results

import (
	"math"
	"sort"
	"strconv"
	"strings"
)

// A dimension is one setting that can tell the points of a run apart: the protocol, the
// node count, the network, the workload, the writers, one parameter, the thread count, the
// run length. Tables give every dimension that varies a column, and plots give it a series
// or a facet, so that no two rows look alike and no line averages points that differ; a
// dimension that does not vary is said once, in the title.
type dimension struct {
	key   string // "protocol", "nodes", "network", "workload", "writers", "param:NAME", "threads", "length"
	title string // column header and legend prefix
	value func(*Point) string
	// num is the dimension as a number for an x axis (threads, nodes, writer count); nil
	// when it has no natural order.
	num func(*Point) (float64, bool)
}

// rightAligned reports whether the dimension's column holds numbers.
func (d dimension) rightAligned() bool { return d.key == "threads" || d.key == "nodes" }

// label is a dimension value as a legend or a column shows it; params show "default" for
// a point that does not set the parameter.
func (d dimension) label(p *Point) string {
	v := d.value(p)
	if v == "" {
		if strings.HasPrefix(d.key, "param:") {
			return "default"
		}
		return "-"
	}
	return v
}

// dimensions lists every dimension of the run's points, in the order tables print them.
// The workload's label carries the options that differ between points of the same
// workload; a parameter gets its own dimension per name that any point sets.
func dimensions(pts []Point) []dimension {
	wopts := varyingOptions(pts)
	ds := []dimension{
		{key: "protocol", title: "protocol", value: func(p *Point) string { return p.Protocol }},
		{key: "nodes", title: "nodes", value: func(p *Point) string { return strconv.Itoa(p.Nodes) },
			num: func(p *Point) (float64, bool) { return float64(p.Nodes), p.Nodes > 0 }},
		{key: "network", title: "network", value: func(p *Point) string { return NetworkLabel(p.Network) }},
		{key: "workload", title: "workload", value: func(p *Point) string { return workloadLabel(p, wopts[p.Workload]) }},
		{key: "writers", title: "writers", value: func(p *Point) string { return writersLabel(p) },
			num: func(p *Point) (float64, bool) { return float64(len(p.Writers)), len(p.Writers) > 0 }},
	}
	for _, k := range paramKeys(pts) {
		k := k
		ds = append(ds, dimension{key: "param:" + k, title: shortParam(k), value: func(p *Point) string { return p.Params[k] }})
	}
	ds = append(ds,
		dimension{key: "threads", title: "threads", value: func(p *Point) string { return strconv.Itoa(p.Threads) },
			num: func(p *Point) (float64, bool) { return float64(p.Threads), p.Threads > 0 }},
		dimension{key: "length", title: "length", value: lengthLabel},
	)
	return ds
}

// varyingDims is the dimensions with more than one value among pts.
func varyingDims(pts []Point) []dimension {
	var out []dimension
	for _, d := range dimensions(pts) {
		if distinct(pts, d) > 1 {
			out = append(out, d)
		}
	}
	return out
}

// constantDims is the dimensions with one value among pts, for titles.
func constantDims(pts []Point) []dimension {
	var out []dimension
	for _, d := range dimensions(pts) {
		if distinct(pts, d) == 1 {
			out = append(out, d)
		}
	}
	return out
}

func distinct(pts []Point, d dimension) int {
	seen := map[string]bool{}
	for i := range pts {
		seen[d.value(&pts[i])] = true
	}
	return len(seen)
}

// describeConstant says what every point of pts shares, for a title line:
// "galera, 3 nodes, lan, hotspot hot-rows=1, writers n1, 16 threads, 3s".
func describeConstant(pts []Point, skip ...string) string {
	var parts []string
	for _, d := range constantDims(pts) {
		if contains(skip, d.key) || len(pts) == 0 {
			continue
		}
		v := d.value(&pts[0])
		switch {
		case v == "":
			continue
		case d.key == "nodes":
			v = nodesPhrase(v)
		case d.key == "threads":
			v = countPhrase(v, "thread")
		case d.key == "writers":
			v = "writers " + v
		case strings.HasPrefix(d.key, "param:"):
			v = d.title + "=" + v
		}
		parts = append(parts, v)
	}
	return strings.Join(parts, ", ")
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// varyingOptions returns, per workload name, the option keys whose values differ between
// the points of that workload: the harness records every option of a workload, and only
// the swept ones tell points apart.
func varyingOptions(pts []Point) map[string][]string {
	vals := map[string]map[string]map[string]bool{}
	count := map[string]int{}
	for _, p := range pts {
		count[p.Workload]++
		if vals[p.Workload] == nil {
			vals[p.Workload] = map[string]map[string]bool{}
		}
		for k, v := range p.Options {
			if vals[p.Workload][k] == nil {
				vals[p.Workload][k] = map[string]bool{}
			}
			vals[p.Workload][k][v] = true
		}
	}
	out := map[string][]string{}
	for w, m := range vals {
		for k, vs := range m {
			// Set on some points and not on others counts as varying too.
			n := 0
			for _, p := range pts {
				if _, ok := p.Options[k]; ok && p.Workload == w {
					n++
				}
			}
			if len(vs) > 1 || n != count[w] {
				out[w] = append(out[w], k)
			}
		}
		sort.Strings(out[w])
	}
	return out
}

func workloadLabel(p *Point, keys []string) string {
	s := p.Workload
	for _, k := range keys {
		if v, ok := p.Options[k]; ok {
			s += " " + k + "=" + v
		}
	}
	return s
}

// writersLabel is "n1", "n1,n2", or "all" when every node writes (as a scenario says it).
func writersLabel(p *Point) string {
	if len(p.Writers) > 1 && len(p.Writers) == p.Nodes {
		return "all"
	}
	return strings.Join(p.Writers, ",")
}

// lengthLabel is a point's requested run length: "500 tx" or "3s".
func lengthLabel(p *Point) string {
	switch {
	case p.Queries > 0:
		return strconv.FormatInt(p.Queries, 10) + " tx"
	case p.Duration > 0:
		return strconv.FormatFloat(p.Duration, 'g', -1, 64) + "s"
	}
	return ""
}

func paramKeys(pts []Point) []string {
	set := map[string]bool{}
	for _, p := range pts {
		for k := range p.Params {
			set[k] = true
		}
	}
	return sortedKeys(set)
}

// shortParam drops the "replbench." prefix of the project's own parameters, which every
// one of them carries and no reader needs in a column header: "n3:replbench.apply_delay"
// is "n3:apply_delay".
func shortParam(k string) string {
	node, name, ok := strings.Cut(k, ":")
	if !ok {
		return strings.TrimPrefix(k, "replbench.")
	}
	return node + ":" + strings.TrimPrefix(name, "replbench.")
}

// identity is the key of a point's configuration: every dimension but the repeat index,
// so that repeats of one configuration share it.
func identity(ds []dimension, p *Point) string {
	var b strings.Builder
	for _, d := range ds {
		b.WriteString(d.value(p))
		b.WriteByte(0)
	}
	return b.String()
}

// Stat is a figure over the repeats of one configuration: the mean, the sample standard
// deviation (0 for one repeat) and the range.
type Stat struct {
	Mean, SD, Min, Max float64
	N                  int
}

// statOf summarises vs; an empty slice gives N 0.
func statOf(vs []float64) Stat {
	if len(vs) == 0 {
		return Stat{}
	}
	s := Stat{Min: vs[0], Max: vs[0], N: len(vs)}
	sum := 0.0
	for _, v := range vs {
		sum += v
		s.Min, s.Max = math.Min(s.Min, v), math.Max(s.Max, v)
	}
	s.Mean = sum / float64(len(vs))
	if len(vs) > 1 {
		ss := 0.0
		for _, v := range vs {
			ss += (v - s.Mean) * (v - s.Mean)
		}
		s.SD = math.Sqrt(ss / float64(len(vs)-1))
	}
	return s
}

// Group is the repeats of one configuration: points that differ only in their repeat
// index. Every figure a table or plot shows of a group is a Stat over its points, so a run
// with repeats shows mean, spread and range per cell instead of one row per repeat.
type Group struct {
	Points []*Point // in run order; Points[0] stands for the configuration
}

// Stat returns the figure f over the group's points; points for which f reports false (a
// point without a bound, say) are left out.
func (g Group) Stat(f func(*Point) (float64, bool)) Stat {
	var vs []float64
	for _, p := range g.Points {
		if v, ok := f(p); ok && !math.IsNaN(v) && !math.IsInf(v, 0) {
			vs = append(vs, v)
		}
	}
	return statOf(vs)
}

// Repeats is the group's number of points.
func (g Group) Repeats() int { return len(g.Points) }

// GroupRepeats gathers the points of run into groups of repeats, in the order each
// configuration first appears. A run without repeats gives one group per point.
func GroupRepeats(run *Run) []Group {
	if run == nil {
		return nil
	}
	return groupPoints(run.Points)
}

func groupPoints(pts []Point) []Group {
	ds := dimensions(pts)
	idx := map[string]int{}
	var out []Group
	for i := range pts {
		k := identity(ds, &pts[i])
		j, ok := idx[k]
		if !ok {
			j = len(out)
			idx[k] = j
			out = append(out, Group{})
		}
		out[j].Points = append(out[j].Points, &pts[i])
	}
	return out
}

// hasRepeats reports whether any group has more than one point.
func hasRepeats(gs []Group) bool {
	for _, g := range gs {
		if len(g.Points) > 1 {
			return true
		}
	}
	return false
}

func sortedInts(m map[int]bool) []int {
	out := make([]int, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Ints(out)
	return out
}

// nodesPhrase is "1 node", "3 nodes".
func nodesPhrase(n string) string { return countPhrase(n, "node") }

// countPhrase is "1 thread", "16 threads".
func countPhrase(n, noun string) string {
	if n == "1" {
		return "1 " + noun
	}
	return n + " " + noun + "s"
}
