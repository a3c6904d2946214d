package results

import (
	"fmt"
	"io"
	"strconv"
	"strings"
)

// PrintSummary ends a run's output in sysbench's habit. A run of one configuration gets
// sysbench's block (transactions and aborts with their rates, total time, latency min, avg,
// max, 95th percentile and sum); a run of several gets the same figures as one row per
// configuration, so min and avg, which the main table leaves out, are there too.
func PrintSummary(w io.Writer, run *Run, opts TableOptions) {
	if run == nil || len(run.Points) == 0 {
		return
	}
	groups := groupPoints(run.Points)
	if len(groups) == 1 && len(groups[0].Points) == 1 {
		p := groups[0].Points[0]
		rate := func(n float64) string {
			if p.ElapsedS <= 0 {
				return ""
			}
			return fmt.Sprintf("(%.2f per sec.)", n/p.ElapsedS)
		}
		l := p.Latency
		fmt.Fprintln(w)
		fmt.Fprintln(w, wrap("summary ("+describeConstant(run.Points)+"):", opts.width(), 4))
		fmt.Fprintf(w, "    transactions:                        %-10d %s\n", p.Committed, rate(float64(p.Committed)))
		fmt.Fprintf(w, "    aborts:                              %-10d %s\n", p.TotalAborts(), rate(float64(p.TotalAborts())))
		fmt.Fprintf(w, "    retries:                             %d\n", p.Retries)
		fmt.Fprintf(w, "    total time:                          %.4fs\n", p.ElapsedS)
		fmt.Fprintln(w, "    latency (ms):")
		fmt.Fprintf(w, "         min:                            %s\n", fmtSummaryMs(l.Min, p.Committed > 0 && l.Min > 0))
		fmt.Fprintf(w, "         avg:                            %s\n", fmtSummaryMs(l.Mean, p.Committed > 0))
		fmt.Fprintf(w, "         max:                            %s\n", fmtSummaryMs(l.Max, p.Committed > 0))
		fmt.Fprintf(w, "         95th percentile:                %s\n", fmtSummaryMs(l.P95, p.Committed > 0))
		fmt.Fprintf(w, "         sum:                            %s\n", fmtSummaryMs(l.Mean*float64(p.Committed), p.Committed > 0))
		return
	}
	t := summaryTable(run.Points, opts.Wide)
	rep := hasRepeats(groups)
	out, _ := t.render(opts.Wide, opts.width())
	fmt.Fprintln(w)
	title := "summary, sysbench style: transactions, aborts, total time and latency min/avg/p95/max"
	if rep {
		title += " (mean ±sd over the runs)"
	}
	fmt.Fprintln(w, title)
	fmt.Fprintln(w, out)
}

func fmtSummaryMs(v float64, ok bool) string {
	if !ok {
		return "-"
	}
	return strconv.FormatFloat(v, 'f', 2, 64)
}

// printVerdicts lists the checkers' verdicts, run-wide then per point, with a loud line for
// each failure; nothing when no checker ran.
func printVerdicts(w io.Writer, run *Run, width int) {
	vary := varyingDims(run.Points)
	var lines []string
	add := func(where string, v Verdict) {
		mark := strings.ToUpper(orDefault(v.Outcome, VerdictUnknown))
		if v.Outcome == VerdictFail {
			mark = "!!! FAIL"
		}
		l := fmt.Sprintf("%s %s%s", mark, v.Checker, where)
		if v.Detail != "" {
			l += ": " + v.Detail
		}
		// Each line is printed two spaces in: wrap to what is left of the width.
		lines = append(lines, wrap(l, width-2, 4))
		for _, e := range v.Evidence {
			lines = append(lines, wrap("    "+e, width-2, 6))
		}
	}
	for _, v := range run.Verdicts {
		add("", v)
	}
	for i := range run.Points {
		for _, v := range run.Points[i].Verdicts {
			add(" ("+pointName(&run.Points[i], vary)+")", v)
		}
	}
	if len(lines) == 0 {
		return
	}
	fmt.Fprintln(w, "checker verdicts:")
	for _, l := range lines {
		fmt.Fprintln(w, "  "+l)
	}
}

// summaryTable is sysbench's final figures as one row per configuration.
func summaryTable(pts []Point, wide bool) *fitTable {
	groups := groupPoints(pts)
	vary := varyingDims(pts)
	t := &fitTable{}
	for _, d := range vary {
		t.add(fitCol{head: d.title, prio: prioKeep, right: d.rightAligned()})
	}
	for _, c := range []fitCol{{head: "transactions", prio: 70, right: true}, {head: "per sec", prio: 60, right: true},
		{head: "aborts", prio: 50, right: true}, {head: "total s", prio: 40, right: true},
		{head: "min ms", prio: 90, right: true}, {head: "avg ms", prio: 90, right: true},
		{head: "p95 ms", prio: 80, right: true}, {head: "max ms", prio: 90, right: true}} {
		t.add(c)
	}
	for _, g := range groups {
		var row []string
		for _, d := range vary {
			row = append(row, d.label(g.Points[0]))
		}
		f := func(get func(*Point) (float64, bool), format func(float64) string) string {
			return fmtStat(g.Stat(get), format, wide)
		}
		lat := func(get func(Latency) float64) func(*Point) (float64, bool) {
			return func(p *Point) (float64, bool) { return get(p.Latency), p.Committed > 0 && get(p.Latency) > 0 }
		}
		row = append(row,
			f(func(p *Point) (float64, bool) { return float64(p.Committed), true }, fmtCount),
			f(func(p *Point) (float64, bool) { return p.TPS, true }, fmtRate),
			f(func(p *Point) (float64, bool) { return float64(p.TotalAborts()), true }, fmtCount),
			f(func(p *Point) (float64, bool) { return p.ElapsedS, true }, func(v float64) string { return fmtF(v, 3) }),
			f(lat(func(l Latency) float64 { return l.Min }), fmtMs),
			f(lat(func(l Latency) float64 { return l.Mean }), fmtMs),
			f(lat(func(l Latency) float64 { return l.P95 }), fmtMs),
			f(lat(func(l Latency) float64 { return l.Max }), fmtMs))
		t.rows = append(t.rows, row)
	}
	return t
}
