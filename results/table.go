package results

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/jedib0t/go-pretty/v6/table"
	"github.com/jedib0t/go-pretty/v6/text"

	"github.com/replbench/replbench/protocols"
)

// TableOptions chooses what the tables show. The main table is always printed; the status
// tables are opt-in because a sweep of 36 points with three nodes' status variables each is
// more than a terminal wants by default.
type TableOptions struct {
	// ShowStatus adds, per point, a table of every node's protocol status variables under
	// their real names.
	ShowStatus bool
	// ShowBound prints, under the table, the one-sentence derivation of each distinct
	// Callaghan's-law bound. The bound's columns are printed whenever a point has one.
	ShowBound bool
	// Title is printed above the table; empty prints the scenario name.
	Title string
	// Wide prints every column (mean, min, p95, p99.9, the bound's limit, every abort
	// cause, the settings every point shares) however wide the table gets; otherwise the
	// least important columns are hidden until the tables fit Width, and a line says which.
	Wide bool
	// Width is the width the narrow form fits; 0 means DefaultWidth.
	Width int
	// Percentiles are the latency percentiles asked for (--percentile): columns of their
	// own in the main table, from Latency.At, beside min and max.
	Percentiles []float64
	// Warnings are the run's warnings (the emulator was late, ...), printed under the
	// notes.
	Warnings []string
}

func (o TableOptions) width() int {
	if o.Width > 0 {
		return o.Width
	}
	return DefaultWidth
}

// PrintRun writes everything a finished run shows on a terminal, in reading order: the main
// table, the derivations of the bounds and the networks' delays, notes and warnings, the
// workload and per-type tables, the fault timeline, the published figures beside the
// measured ones, the checkers' verdicts, a sysbench-style summary, and last the scenario's
// explanation of what the reader is looking at. `replbench run` and `replbench report`
// both print it, so a report of an old run reads like the run did.
func PrintRun(w io.Writer, run *Run, opts TableOptions) {
	PrintTable(w, run, opts)
	if run == nil || len(run.Points) == 0 {
		return
	}
	for _, s := range opts.Warnings {
		fmt.Fprintln(w, wrap(s, opts.width(), 2))
	}
	printWorkloadTable(w, run.Points, opts)
	printByType(w, run.Points, opts)
	PrintEvents(w, run)
	for i := range run.Points {
		if run.Points[i].Reference != nil {
			PrintReference(w, run)
			break
		}
	}
	printVerdicts(w, run, opts.width())
	PrintSummary(w, run, opts)
	if run.Explain != "" {
		fmt.Fprintln(w)
		fmt.Fprintln(w, wrap("What this shows: "+run.Explain, opts.width(), 0))
	}
}

// PrintTable writes the main table: one row per configuration (repeats folded into mean
// ±sd), with a column for every setting that varies between the points (protocol, nodes,
// network, workload, writers, each swept parameter, threads), the committed transactions,
// aborts by cause, throughput, median, p99 and max latency (a stall that p99 hides shows in
// max), the Callaghan's-law bound and efficiency where the points carry one, and convergence
// when a point did not converge. The settings every point shares are said once above the
// table. Under it: a loud line per point that did not converge, the bound's derivations,
// the networks' delays, and the points' notes.
func PrintTable(w io.Writer, run *Run, opts TableOptions) {
	if run == nil || len(run.Points) == 0 {
		fmt.Fprintln(w, "no points in this run")
		return
	}
	pts := run.Points
	groups := groupPoints(pts)
	vary := varyingDims(pts)
	width := opts.width()

	title := opts.Title
	if title == "" && run.Scenario != "" {
		title = "scenario " + run.Scenario
	}
	if common := describeConstant(pts); common != "" {
		if title != "" {
			title += ": "
		}
		title += common
	}
	if title != "" {
		fmt.Fprintln(w, wrap(title, width, 2))
	}

	t, hidden := mainTable(groups, vary, opts.Wide, opts.Percentiles...).render(opts.Wide, width)
	fmt.Fprintln(w, t)
	if len(hidden) > 0 {
		fmt.Fprintln(w, wrap("(hidden to fit "+strconv.Itoa(width)+" columns: "+strings.Join(hidden, ", ")+"; --wide shows every column)", width, 1))
	}
	if hasRepeats(groups) {
		fmt.Fprintln(w, "cells of repeated configurations are mean ±standard deviation over the runs; --wide adds min-max.")
	}
	for i := range pts {
		p := &pts[i]
		if !p.Converged {
			fmt.Fprintln(w, wrap(fmt.Sprintf("!!! NOT CONVERGED: point %d (%s): %s", i+1, pointName(p, vary),
				orDefault(p.ConvergenceDetail, "no detail recorded")), width, 4))
		}
	}
	hasBound := false
	for _, p := range pts {
		hasBound = hasBound || p.Bound != nil
	}
	if hasBound {
		fmt.Fprintln(w, wrap("floor and model tps are Callaghan's-law bounds computed from the emulated network: a model, not a "+
			"measurement; eff = measured tps / model tps.", width, 0))
		if opts.ShowBound {
			for _, d := range derivations(pts, vary) {
				fmt.Fprintln(w, wrap("  "+d, width, 4))
			}
		}
	}
	for _, l := range networkLines(pts) {
		fmt.Fprintln(w, wrap(l, width, 4))
	}
	for i := range pts {
		for _, n := range pts[i].Notes {
			fmt.Fprintln(w, wrap(fmt.Sprintf("note (%s): %s", pointName(&pts[i], vary), n), width, 4))
		}
	}
	if opts.ShowStatus {
		printStatus(w, pts, vary)
	}
}

// mainTable builds the one-row-per-configuration table; wide puts the shared settings in
// every row and the range in repeated cells.
func mainTable(groups []Group, vary []dimension, wide bool, pcts ...float64) *fitTable {
	var pts []Point
	for _, g := range groups {
		for _, p := range g.Points {
			pts = append(pts, *p)
		}
	}
	t := &fitTable{}
	rows := make([][]string, len(groups))
	addCol := func(c fitCol, cell func(g Group) string) {
		t.add(c)
		for i, g := range groups {
			rows[i] = append(rows[i], cell(g))
		}
	}
	shown := vary
	if wide {
		shown = dimensions(pts) // the wide form repeats the shared settings in every row
	}
	for _, d := range shown {
		d := d
		prio := prioKeep
		if distinct(pts, d) <= 1 {
			prio = 0
		}
		addCol(fitCol{head: d.title, prio: prio, right: d.rightAligned()}, func(g Group) string { return d.label(g.Points[0]) })
	}
	rep := hasRepeats(groups)
	if rep {
		addCol(fitCol{head: "runs", prio: 90, right: true}, func(g Group) string { return strconv.Itoa(g.Repeats()) })
	}
	st := func(f func(*Point) (float64, bool), format func(float64) string) func(Group) string {
		return func(g Group) string { return fmtStat(g.Stat(f), format, wide) }
	}
	counted, aborted := false, false
	for _, p := range pts {
		counted = counted || p.Queries > 0
		aborted = aborted || p.TotalAborts() > 0
	}
	addCol(fitCol{head: "commits", wide: "committed", prio: 60, right: true},
		st(func(p *Point) (float64, bool) { return float64(p.Committed), true }, fmtCount))
	causes := abortCauses(pts)
	causePrio := 55
	if len(causes) > 3 {
		causePrio = 0 // too many for the narrow form: the total and rate stand for them
	}
	if len(causes) > 3 || (len(causes) > 1 && !wide) {
		addCol(fitCol{head: "aborts", prio: 57, right: true},
			st(func(p *Point) (float64, bool) { return float64(p.TotalAborts()), true }, fmtCount))
	}
	for _, c := range causes {
		c := c
		addCol(fitCol{head: shortCause(c), wide: "abort " + c, prio: causePrio, right: true},
			st(func(p *Point) (float64, bool) { return float64(p.Aborts[c]), true }, fmtCount))
	}
	if aborted {
		addCol(fitCol{head: "abort\n%", wide: "abort % of attempts", prio: 58, right: true},
			st(func(p *Point) (float64, bool) { return 100 * p.AbortRate(), true }, fmtPct))
	}
	secPrio := 15
	if counted {
		secPrio = 80 // a counted run's metric is its time, as the documents report it
	}
	addCol(fitCol{head: "secs", wide: "elapsed s", prio: secPrio, right: true},
		st(func(p *Point) (float64, bool) { return p.ElapsedS, true }, func(v float64) string { return fmtF(v, 3) }))
	addCol(fitCol{head: "tps", prio: 95, right: true}, st(func(p *Point) (float64, bool) { return p.TPS, true }, fmtRate))
	lat := func(f func(Latency) float64) func(*Point) (float64, bool) {
		return func(p *Point) (float64, bool) { return f(p.Latency), p.Committed > 0 }
	}
	addCol(fitCol{head: "min\nms", wide: "min ms", prio: 0, right: true}, st(lat(func(l Latency) float64 { return l.Min }), fmtMs))
	addCol(fitCol{head: "mean\nms", wide: "mean ms", prio: 0, right: true}, st(lat(func(l Latency) float64 { return l.Mean }), fmtMs))
	addCol(fitCol{head: "p50\nms", wide: "p50 ms", prio: fixedPrio(85, pcts), right: true}, st(lat(func(l Latency) float64 { return l.P50 }), fmtMs))
	addCol(fitCol{head: "p95\nms", wide: "p95 ms", prio: fixedPrio(20, pcts), right: true}, st(lat(func(l Latency) float64 { return l.P95 }), fmtMs))
	addCol(fitCol{head: "p99\nms", wide: "p99 ms", prio: fixedPrio(88, pcts), right: true}, st(lat(func(l Latency) float64 { return l.P99 }), fmtMs))
	addCol(fitCol{head: "p99.9\nms", wide: "p99.9 ms", prio: 0, right: true}, st(lat(func(l Latency) float64 { return l.P999 }), fmtMs))
	for _, q := range pcts {
		k := PercentileKey(q)
		addCol(fitCol{head: k + "\nms", wide: k + " ms", prio: 89, right: true}, st(func(p *Point) (float64, bool) {
			v, ok := p.Latency.At[k]
			return v, ok && p.Committed > 0
		}, fmtMs))
	}
	addCol(fitCol{head: "max\nms", wide: "max ms", prio: 87, right: true}, st(lat(func(l Latency) float64 { return l.Max }), fmtMs))
	hasBound, hasEff, unconverged := false, false, false
	for _, p := range pts {
		hasBound = hasBound || p.Bound != nil
		hasEff = hasEff || p.Efficiency != nil
		unconverged = unconverged || !p.Converged
	}
	if hasBound {
		bound := func(f func(*Bound) float64) func(*Point) (float64, bool) {
			return func(p *Point) (float64, bool) {
				if p.Bound == nil {
					return 0, false
				}
				return f(p.Bound), true
			}
		}
		addCol(fitCol{head: "floor\nms", wide: "floor ms (model)", prio: 65, right: true},
			st(bound(func(b *Bound) float64 { return b.CommitFloorMs }), fmtMs))
		addCol(fitCol{head: "model\ntps", wide: "max tps (model)", prio: 66, right: true},
			st(bound(func(b *Bound) float64 { return b.MaxTPS }), fmtTPS))
		addCol(fitCol{head: "limit", wide: "bound limit", prio: 0}, func(g Group) string {
			if b := g.Points[0].Bound; b != nil {
				return b.Limit
			}
			return ""
		})
	}
	if hasEff {
		addCol(fitCol{head: "eff", wide: "efficiency", prio: 64, right: true}, st(func(p *Point) (float64, bool) {
			if p.Efficiency == nil {
				return 0, false
			}
			return *p.Efficiency * 100, true
		}, func(v float64) string { return fmt.Sprintf("%.0f%%", v) }))
	}
	convPrio := 0
	if unconverged {
		convPrio = 99
	}
	addCol(fitCol{head: "converged", prio: convPrio}, func(g Group) string {
		for _, p := range g.Points {
			if !p.Converged {
				return "NO <<<"
			}
		}
		return "yes"
	})
	t.rows = rows
	return t
}

// fmtStat prints a figure: the value for one run, mean ±sd over repeats, and with wide the
// range as well. A figure no point had is empty.
func fmtStat(s Stat, f func(float64) string, wide bool) string {
	switch {
	case s.N == 0:
		return ""
	case s.N == 1 || s.Min == s.Max: // one run, or the same in every run (a model bound)
		return f(s.Mean)
	case wide:
		return f(s.Mean) + " ±" + sdText(f, s) + " (" + f(s.Min) + "-" + f(s.Max) + ")"
	}
	return f(s.Mean) + " ±" + sdText(f, s)
}

// sdText prints a standard deviation with no more decimals than its mean shows: a p90 of
// "0.593" gets "±0.001", not "±0.000707", which claims a precision the mean does not have
// and widens the column.
func sdText(f func(float64) string, s Stat) string {
	mean, sd := f(s.Mean), f(s.SD)
	want, have := decimals(mean), decimals(sd)
	if have <= want {
		return sd
	}
	v, err := strconv.ParseFloat(numericPrefix(sd), 64)
	if err != nil {
		return sd
	}
	return strconv.FormatFloat(v, 'f', want, 64) + sd[len(numericPrefix(sd)):]
}

// numericPrefix is the leading number of a formatted figure ("2.5" of "2.5%").
func numericPrefix(s string) string {
	i := 0
	for i < len(s) && (s[i] == '.' || s[i] == '-' || (s[i] >= '0' && s[i] <= '9')) {
		i++
	}
	return s[:i]
}

// decimals counts the digits after the point of a formatted figure's leading number.
func decimals(s string) int {
	n := numericPrefix(s)
	if i := strings.IndexByte(n, '.'); i >= 0 {
		return len(n) - i - 1
	}
	return 0
}

func fmtCount(v float64) string { return strconv.FormatFloat(v, 'f', 0, 64) }

func fmtPct(v float64) string {
	if v > 0 && v < 0.1 {
		return "<0.1%"
	}
	return fmtF(v, 1) + "%"
}

// fmtRate prints a throughput: one decimal below 10,000, whole numbers above.
func fmtRate(v float64) string {
	if v >= 10000 {
		return fmtF(v, 0)
	}
	return fmtF(v, 1)
}

// shortCause is a cause's narrow column header.
func shortCause(c string) string {
	switch protocols.Cause(c) {
	case protocols.CauseCertification:
		return "cert"
	case protocols.CauseBFAbort:
		return "bf"
	case protocols.CauseLockWaitTimeout:
		return "lockwait"
	case protocols.CauseNotReady:
		return "notready"
	case protocols.CauseReadOnly:
		return "readonly"
	case protocols.CauseDuplicateKey:
		return "dupkey"
	case protocols.CauseRolledBack:
		return "rollback"
	}
	return c
}

// pointName names a point by the settings that tell it from the others in its run:
// "galera, 3az, writers all, 16 threads". A run of one point is named by its protocol.
func pointName(p *Point, vary []dimension) string {
	var parts []string
	for _, d := range vary {
		v := d.label(p)
		switch {
		case d.key == "threads":
			v = countPhrase(v, "thread")
		case d.key == "nodes":
			v = nodesPhrase(v)
		case d.key == "writers":
			v = "writers " + v
		case strings.HasPrefix(d.key, "param:"):
			v = d.title + "=" + v
		}
		parts = append(parts, v)
	}
	if len(parts) == 0 {
		return p.Protocol
	}
	return strings.Join(parts, ", ")
}

// newTable is the project's table style: box-drawing lines, headers as written (status
// variables and causes keep their real lower-case names).
func newTable() table.Writer {
	t := table.NewWriter()
	style := table.StyleLight
	style.Format.Header = text.FormatDefault
	style.Format.Footer = text.FormatDefault
	t.SetStyle(style)
	return t
}

// abortCauses lists the causes that occurred in any point: protocols.Causes order first,
// then causes this build does not know, sorted.
func abortCauses(pts []Point) []string {
	seen := map[string]bool{}
	for _, p := range pts {
		for c, n := range p.Aborts {
			if n > 0 {
				seen[c] = true
			}
		}
	}
	var out []string
	for _, c := range protocols.Causes {
		if seen[string(c)] {
			out = append(out, string(c))
			delete(seen, string(c))
		}
	}
	return append(out, sortedKeys(seen)...)
}

// derivations is one line per distinct bound derivation, prefixed with the points it
// belongs to (by the settings that vary, threads aside: the floor does not depend on them).
func derivations(pts []Point, vary []dimension) []string {
	var keep []dimension
	for _, d := range vary {
		if d.key != "threads" {
			keep = append(keep, d)
		}
	}
	names := map[string][]string{}
	var order []string
	for i := range pts {
		p := &pts[i]
		if p.Bound == nil || p.Bound.Derivation == "" {
			continue
		}
		d := p.Bound.Derivation
		if _, ok := names[d]; !ok {
			order = append(order, d)
		}
		if n := pointName(p, keep); len(keep) > 0 && !contains(names[d], n) {
			names[d] = append(names[d], n)
		} else if names[d] == nil {
			names[d] = []string{}
		}
	}
	var out []string
	for _, d := range order {
		if len(names[d]) > 0 {
			d = strings.Join(names[d], "; ") + ": " + d
		}
		out = append(out, d)
	}
	return out
}

func fmtDelay(ms float64) string { return strconv.FormatFloat(ms, 'g', -1, 64) + "ms" }

func fmtF(v float64, prec int) string { return strconv.FormatFloat(v, 'f', prec, 64) }

// fmtMs prints a millisecond figure with three significant figures (the histogram's
// precision) without hiding sub-millisecond LAN values behind "0.00".
func fmtMs(v float64) string {
	switch {
	case v == 0:
		return "0"
	case v >= 100:
		return fmtF(v, 0)
	case v >= 10:
		return fmtF(v, 1)
	case v >= 1:
		return fmtF(v, 2)
	default:
		return strconv.FormatFloat(v, 'g', 3, 64)
	}
}

// fmtTPS prints a throughput bound; 0 is the model's "no network limit".
func fmtTPS(v float64) string {
	if v == 0 {
		return "none"
	}
	if v >= 100 {
		return fmtF(v, 0)
	}
	return fmtF(v, 1)
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

// fixedPrio is the priority of a fixed percentile column: prio, or 0 (shown only with
// --wide) when the user chose the percentiles to show (--percentile).
func fixedPrio(prio int, pcts []float64) int {
	if len(pcts) > 0 {
		return 0
	}
	return prio
}
