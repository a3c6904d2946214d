package harness

import (
	"fmt"
	"io"

	"github.com/jedib0t/go-pretty/v6/table"
	"github.com/jedib0t/go-pretty/v6/text"

	"github.com/replbench/replbench/results"
)

// printByType writes, for the points whose workload runs more than one transaction type
// (TPC-C's five, the users-groups hotspot), one row per point and type with its count,
// aborts and latency percentiles. The main table mixes the types into one histogram, which
// for TPC-C hides that Delivery costs several times a Payment; a single-type workload gets
// no extra table, since its one row would repeat the main table.
func printByType(w io.Writer, run *results.Run) {
	t := table.NewWriter()
	t.SetOutputMirror(w)
	t.SetStyle(table.StyleLight)
	t.SetTitle("latency by transaction type")
	t.AppendHeader(table.Row{"protocol", "network", "workload", "threads", "type", "committed", "aborted", "share", "mean ms", "p50 ms", "p95 ms", "p99 ms", "max ms"})
	right := []table.ColumnConfig{}
	for i := 6; i <= 13; i++ {
		right = append(right, table.ColumnConfig{Number: i, Align: text.AlignRight})
	}
	t.SetColumnConfigs(right)
	rows := 0
	for _, p := range run.Points {
		if len(p.ByType) < 2 {
			continue
		}
		for _, name := range sortedKeys(p.ByType) {
			s := p.ByType[name]
			share := 0.0
			if p.Committed > 0 {
				share = 100 * float64(s.Committed) / float64(p.Committed)
			}
			l := s.Latency
			t.AppendRow(table.Row{p.Protocol, p.Network.Preset, p.Workload, p.Threads, name, s.Committed, s.Aborted,
				fmt.Sprintf("%.1f%%", share), f3(l.Mean), f3(l.P50), f3(l.P95), f3(l.P99), f3(l.Max)})
			rows++
		}
	}
	if rows > 0 {
		t.Render()
	}
}

// printFaults writes, under the tables, each point's fault timeline as applied and any
// stall, so that a reader of the terminal sees why a point's throughput has a hole.
func printFaults(w io.Writer, run *results.Run) {
	for _, p := range run.Points {
		if len(p.Faults) == 0 {
			continue
		}
		fmt.Fprintf(w, "faults, %s %s t=%d:", p.Protocol, p.Network.Preset, p.Threads)
		for _, f := range p.Faults {
			fmt.Fprintf(w, " [%s]", f)
		}
		fmt.Fprintln(w)
	}
}

func f3(v float64) string { return fmt.Sprintf("%.3f", v) }
