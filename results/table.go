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

// TableOptions chooses what PrintTable adds to the one-row-per-point table. The main table
// is always printed; the rest is opt-in because a sweep of 36 points with three nodes' status
// variables each is more than a terminal wants by default.
type TableOptions struct {
	// ShowStatus adds, per point, a table of every node's protocol status variables under
	// their real names.
	ShowStatus bool
	// ShowBound prints, under the table, the one-sentence derivation of each distinct
	// Callaghan's-law bound. The bound's columns are printed whenever a point has one.
	ShowBound bool
	// Title is printed above the table; empty prints the scenario name.
	Title string
}

// PrintTable writes the run as go-pretty tables: one row per point with protocol, nodes,
// network, threads, committed, aborts by cause (a column for each cause that occurred),
// elapsed seconds, tps, p50/p95/p99 latency in ms, the model bound and efficiency when
// present, and convergence. A point that did not converge is flagged in its row and again,
// with what differed, in a line under the table, so it cannot scroll by unnoticed.
// Workload metrics (tpmC, ...) and checks follow in a second table when any point has them.
func PrintTable(w io.Writer, run *Run, opts TableOptions) {
	if run == nil || len(run.Points) == 0 {
		fmt.Fprintln(w, "no points in this run")
		return
	}
	pts := run.Points
	causes := abortCauses(pts)
	hasBound, hasEff, hasRepeat, hasWriters, hasWorkload := false, false, false, false, false
	wl := pts[0].Workload
	for _, p := range pts {
		hasBound = hasBound || p.Bound != nil
		hasEff = hasEff || p.Efficiency != nil
		hasRepeat = hasRepeat || p.Repeat > 0
		hasWriters = hasWriters || len(p.Writers) != len(pts[0].Writers) || len(p.Writers) > 1
		hasWorkload = hasWorkload || p.Workload != wl
	}

	t := newTable()
	title := opts.Title
	if title == "" && run.Scenario != "" {
		title = "scenario " + run.Scenario
	}
	if title != "" {
		t.SetTitle(title)
	}
	hdr := table.Row{"protocol", "nodes", "network"}
	if hasWorkload {
		hdr = append(hdr, "workload")
	}
	if hasWriters {
		hdr = append(hdr, "writers")
	}
	hdr = append(hdr, "threads")
	if hasRepeat {
		hdr = append(hdr, "repeat")
	}
	hdr = append(hdr, "committed")
	for _, c := range causes {
		hdr = append(hdr, "abort "+c)
	}
	hdr = append(hdr, "elapsed s", "tps", "p50 ms", "p95 ms", "p99 ms")
	if hasBound {
		hdr = append(hdr, "floor ms (model)", "max tps (model)")
	}
	if hasEff {
		hdr = append(hdr, "efficiency")
	}
	hdr = append(hdr, "converged")
	t.AppendHeader(hdr)

	var unconverged []string
	for i, p := range pts {
		row := table.Row{p.Protocol, p.Nodes, NetworkLabel(p.Network)}
		if hasWorkload {
			row = append(row, p.Workload)
		}
		if hasWriters {
			row = append(row, strings.Join(p.Writers, ","))
		}
		row = append(row, p.Threads)
		if hasRepeat {
			row = append(row, p.Repeat)
		}
		row = append(row, p.Committed)
		for _, c := range causes {
			row = append(row, p.Aborts[c])
		}
		row = append(row, fmtF(p.ElapsedS, 3), fmtF(p.TPS, 1), fmtMs(p.Latency.P50), fmtMs(p.Latency.P95), fmtMs(p.Latency.P99))
		if hasBound {
			if p.Bound != nil {
				row = append(row, fmtMs(p.Bound.CommitFloorMs), fmtTPS(p.Bound.MaxTPS))
			} else {
				row = append(row, "", "")
			}
		}
		if hasEff {
			if p.Efficiency != nil {
				row = append(row, fmt.Sprintf("%.0f%%", *p.Efficiency*100))
			} else {
				row = append(row, "")
			}
		}
		if p.Converged {
			row = append(row, "yes")
		} else {
			row = append(row, "NO  <<<")
			unconverged = append(unconverged, fmt.Sprintf("point %d (%s, %s, %d threads): %s", i+1, p.Protocol,
				NetworkLabel(p.Network), p.Threads, orDefault(p.ConvergenceDetail, "no detail recorded")))
		}
		t.AppendRow(row)
	}
	cfg := []table.ColumnConfig{}
	for i := 3; i <= len(hdr); i++ {
		cfg = append(cfg, table.ColumnConfig{Number: i + 1, Align: text.AlignRight})
	}
	t.SetColumnConfigs(cfg)
	fmt.Fprintln(w, t.Render())
	for _, u := range unconverged {
		fmt.Fprintln(w, "!!! NOT CONVERGED: "+u)
	}
	if hasBound {
		fmt.Fprintln(w, "floor and max tps are Callaghan's-law bounds computed from the emulated network: a model, not a measurement; efficiency = measured tps / model max tps.")
		if opts.ShowBound {
			printDerivations(w, pts)
		}
	}
	for _, p := range pts {
		for _, n := range p.Notes {
			fmt.Fprintf(w, "note (%s, %s, %d threads): %s\n", p.Protocol, NetworkLabel(p.Network), p.Threads, n)
		}
	}
	printWorkloadTable(w, pts)
	if opts.ShowStatus {
		printStatus(w, pts)
	}
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

func printDerivations(w io.Writer, pts []Point) {
	seen := map[string]bool{}
	for _, p := range pts {
		if p.Bound == nil || p.Bound.Derivation == "" {
			continue
		}
		line := fmt.Sprintf("  model, %s on %s: %s", p.Protocol, NetworkLabel(p.Network), p.Bound.Derivation)
		if seen[line] {
			continue
		}
		seen[line] = true
		fmt.Fprintln(w, line)
	}
}

func printWorkloadTable(w io.Writer, pts []Point) {
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
		return
	}
	metrics, checks := sortedKeys(metricSet), sortedKeys(checkSet)
	t := newTable()
	t.SetTitle("workload metrics and checks")
	hdr := table.Row{"protocol", "network", "threads"}
	for _, m := range metrics {
		hdr = append(hdr, m)
	}
	for _, c := range checks {
		hdr = append(hdr, "check "+c)
	}
	t.AppendHeader(hdr)
	var failed []string
	for _, p := range pts {
		row := table.Row{p.Protocol, NetworkLabel(p.Network), p.Threads}
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
				failed = append(failed, fmt.Sprintf("%s (%s, %s, %d threads)", c, p.Protocol, NetworkLabel(p.Network), p.Threads))
			}
		}
		t.AppendRow(row)
	}
	fmt.Fprintln(w, t.Render())
	for _, f := range failed {
		fmt.Fprintln(w, "!!! CHECK FAILED: "+f)
	}
}

func printStatus(w io.Writer, pts []Point) {
	for i, p := range pts {
		if len(p.Status) == 0 {
			continue
		}
		nodes := sortedKeys(p.Status)
		varSet := map[string]bool{}
		for _, n := range nodes {
			for k := range p.Status[n] {
				varSet[k] = true
			}
		}
		t := newTable()
		t.SetTitle(fmt.Sprintf("status, point %d: %s, %s, %d threads", i+1, p.Protocol, NetworkLabel(p.Network), p.Threads))
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

// NetworkLabel is the short name of a point's network in tables and plot legends: the
// preset, plus any per-node egress or per-link delay the preset does not already imply
// ("lan n2+50ms"), plus jitter and loss when set. A preset that is already a full label
// (the harness writes "lan+n3=50ms") is used as it is.
func NetworkLabel(n Network) string {
	if strings.ContainsAny(n.Preset, "+=") {
		return n.Preset // the harness's label already names its overrides ("lan+n3=50ms")
	}
	parts := []string{}
	if n.Preset != "" {
		parts = append(parts, n.Preset)
	}
	implied := presetEgress(n.Preset)
	for _, k := range sortedKeys(n.Egress) {
		v := n.Egress[k]
		if v == 0 || (implied != nil && implied[k] == v && len(nonZero(n.Egress)) == len(implied)) {
			continue
		}
		parts = append(parts, k+"+"+fmtDelay(v))
	}
	for _, k := range sortedKeys(n.Links) {
		if v := n.Links[k]; v != 0 {
			parts = append(parts, k+"="+fmtDelay(v))
		}
	}
	if n.Jitter != "" {
		parts = append(parts, "jitter "+n.Jitter)
	}
	if n.Loss != 0 {
		parts = append(parts, fmt.Sprintf("loss %g%%", n.Loss*100))
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, " ")
}

// presetEgress is the per-node egress the documents' presets put on n1.
func presetEgress(preset string) map[string]float64 {
	switch preset {
	case "wan-50":
		return map[string]float64{"n1": 50}
	case "wan-100":
		return map[string]float64{"n1": 100}
	}
	return nil
}

func nonZero(m map[string]float64) map[string]float64 {
	out := map[string]float64{}
	for k, v := range m {
		if v != 0 {
			out[k] = v
		}
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
