package results

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/jedib0t/go-pretty/v6/table"
)

// printWorkloadTable prints the workload metrics and checks, and a loud line per failed check.
func printWorkloadTable(w io.Writer, pts []Point, opts TableOptions) {
	t, failed := workloadTable(pts)
	printFitted(w, "workload metrics and checks", t, opts)
	for _, f := range failed {
		fmt.Fprintln(w, "!!! CHECK FAILED: "+f)
	}
}

// workloadTable is the workload metrics (tpmC, ...) and checks per point, with the settings
// that vary; nil when no point has either. failed names each failed check.
func workloadTable(pts []Point) (t *fitTable, failed []string) {
	metricSet, checkSet := map[string]bool{}, map[string]bool{}
	for _, p := range pts {
		for k := range p.Metrics {
			metricSet[k] = true
		}
		for k := range p.Checks {
			checkSet[k] = true
		}
	}
	if len(metricSet) == 0 && len(checkSet) == 0 {
		return nil, nil
	}
	vary := varyingDims(pts)
	metrics, checks := sortedKeys(metricSet), sortedKeys(checkSet)
	t = &fitTable{}
	for _, d := range vary {
		t.add(fitCol{head: d.title, prio: prioKeep, right: d.rightAligned()})
	}
	if len(vary) == 0 {
		t.add(fitCol{head: "protocol", prio: prioKeep})
	}
	rep := anyRepeat(pts)
	if rep {
		t.add(fitCol{head: "run", prio: prioKeep, right: true})
	}
	// With many checks, or points that ran different checks (sysbench beside TPC-C), the
	// one-column-per-check form cannot fit and would hide a workload's checks entirely:
	// a "checks" column says per point how many passed and names the failures, and the
	// per-check columns are the first hidden.
	summary := len(checks) > 2 || checkSetsDiffer(pts)
	checkPrio := 60
	if summary {
		t.add(fitCol{head: "checks", prio: 900})
		checkPrio = 40
	}
	for _, m := range metrics {
		t.add(fitCol{head: m, prio: 50, right: true})
	}
	for _, c := range checks {
		t.add(fitCol{head: "check " + c, prio: checkPrio})
	}
	for i := range pts {
		p := &pts[i]
		var row []string
		for _, d := range vary {
			row = append(row, d.label(p))
		}
		if len(vary) == 0 {
			row = append(row, p.Protocol)
		}
		if rep {
			row = append(row, strconv.Itoa(p.Repeat+1))
		}
		if summary {
			row = append(row, checksSummary(p.Checks))
		}
		for _, m := range metrics {
			if v, ok := p.Metrics[m]; ok {
				row = append(row, fmtF(v, 1))
			} else {
				row = append(row, "")
			}
		}
		for _, c := range checks {
			v, ok := p.Checks[c]
			switch {
			case !ok:
				row = append(row, "")
			case v:
				row = append(row, "pass")
			default:
				row = append(row, "FAIL <<<")
				failed = append(failed, fmt.Sprintf("%s (%s)", c, pointName(p, vary)))
			}
		}
		t.rows = append(t.rows, row)
	}
	return t, failed
}

// shortHidden names hidden columns for the line under a table, with more than three
// per-check columns counted rather than listed (the checks column says how they came out).
func shortHidden(hidden []string) []string {
	var out []string
	n := 0
	for _, h := range hidden {
		if strings.HasPrefix(h, "check ") {
			n++
			continue
		}
		out = append(out, h)
	}
	if n <= 3 {
		return hidden
	}
	return append(out, fmt.Sprintf("%d per-check columns", n))
}

// checkSetsDiffer reports whether the points ran different sets of checks.
func checkSetsDiffer(pts []Point) bool {
	for i := 1; i < len(pts); i++ {
		if len(pts[i].Checks) != len(pts[0].Checks) {
			return true
		}
		for k := range pts[i].Checks {
			if _, ok := pts[0].Checks[k]; !ok {
				return true
			}
		}
	}
	return false
}

// checksSummary is one point's checks in a few words: "all 12 pass", or how many failed
// and which; "" when the point ran none.
func checksSummary(checks map[string]bool) string {
	if len(checks) == 0 {
		return ""
	}
	var bad []string
	for _, k := range sortedKeys(checks) {
		if !checks[k] {
			bad = append(bad, k)
		}
	}
	if len(bad) == 0 {
		return fmt.Sprintf("all %d pass", len(checks))
	}
	return fmt.Sprintf("%d of %d FAIL <<< %s", len(bad), len(checks), strings.Join(bad, ", "))
}

// printByType writes, for the points whose workload runs more than one transaction type
// (TPC-C's five, the users-groups hotspot), one row per point and type with its count,
// aborts and latency percentiles. The main table mixes the types into one histogram, which
// for TPC-C hides that Delivery costs several times a Payment; a single-type workload gets
// no extra table, since its one row would repeat the main table.
func printByType(w io.Writer, pts []Point, opts TableOptions) {
	printFitted(w, "latency by transaction type", byTypeTable(pts), opts)
}

// printFitted prints a secondary table under its title, fitted to the width, with a line
// naming what it hid; nothing for a nil table.
func printFitted(w io.Writer, title string, t *fitTable, opts TableOptions) {
	if t == nil {
		return
	}
	out, hidden := t.render(opts.Wide, opts.width())
	fmt.Fprintln(w, title)
	fmt.Fprintln(w, out)
	if len(hidden) > 0 {
		fmt.Fprintln(w, wrap("(hidden to fit: "+strings.Join(shortHidden(hidden), ", ")+"; --wide shows them)", opts.width(), 1))
	}
}

// byTypeTable is one row per point and transaction type; nil when no point ran more than
// one type.
func byTypeTable(pts []Point) *fitTable {
	vary := varyingDims(pts)
	t := &fitTable{}
	for _, d := range vary {
		t.add(fitCol{head: d.title, prio: prioKeep, right: d.rightAligned()})
	}
	rep := anyRepeat(pts)
	if rep {
		t.add(fitCol{head: "run", prio: prioKeep, right: true})
	}
	for _, c := range []fitCol{{head: "type", prio: prioKeep}, {head: "committed", prio: 70, right: true},
		{head: "aborted", prio: 60, right: true}, {head: "share", prio: 65, right: true}, {head: "mean ms", prio: 30, right: true},
		{head: "p50 ms", prio: 80, right: true}, {head: "p95 ms", prio: 40, right: true}, {head: "p99 ms", prio: 75, right: true},
		{head: "max ms", prio: 74, right: true}} {
		t.add(c)
	}
	for i := range pts {
		p := &pts[i]
		if len(p.ByType) < 2 {
			continue
		}
		for _, name := range sortedKeys(p.ByType) {
			s := p.ByType[name]
			share := 0.0
			if p.Committed > 0 {
				share = 100 * float64(s.Committed) / float64(p.Committed)
			}
			var row []string
			for _, d := range vary {
				row = append(row, d.label(p))
			}
			if rep {
				row = append(row, strconv.Itoa(p.Repeat+1))
			}
			l := s.Latency
			row = append(row, name, strconv.FormatInt(s.Committed, 10), strconv.FormatInt(s.Aborted, 10),
				fmt.Sprintf("%.1f%%", share), fmtMs(l.Mean), fmtMs(l.P50), fmtMs(l.P95), fmtMs(l.P99), fmtMs(l.Max))
			t.rows = append(t.rows, row)
		}
	}
	if len(t.rows) == 0 {
		return nil
	}
	return t
}

func printStatus(w io.Writer, pts []Point, vary []dimension) {
	for i, p := range pts {
		if len(p.Status) == 0 {
			continue
		}
		nodes := sortedNodeNames(p.Status)
		varSet := map[string]bool{}
		for _, n := range nodes {
			for k := range p.Status[n] {
				varSet[k] = true
			}
		}
		t := newTable()
		t.SetTitle(fmt.Sprintf("status, point %d: %s", i+1, pointName(&pts[i], vary)))
		hdr := table.Row{"variable"}
		for _, n := range nodes {
			hdr = append(hdr, n)
		}
		t.AppendHeader(hdr)
		for _, v := range sortedKeys(varSet) {
			row := table.Row{v}
			for _, n := range nodes {
				row = append(row, p.Status[n][v])
			}
			t.AppendRow(row)
		}
		fmt.Fprintln(w, t.Render())
	}
}

// anyRepeat reports whether some point is a repeat (Repeat > 0): the per-point tables then
// number the runs, so that the rows of one configuration are told apart.
func anyRepeat(pts []Point) bool {
	for i := range pts {
		if pts[i].Repeat > 0 {
			return true
		}
	}
	return false
}
