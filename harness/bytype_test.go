package harness

import (
	"bytes"
	"strings"
	"testing"

	"github.com/replbench/replbench/results"
)

// TPC-C's five types get one row each with their share of the committed transactions and
// their own percentiles; a single-type point adds no table; the fault timeline is listed.
func TestPrintByTypeAndFaults(t *testing.T) {
	run := &results.Run{Points: []results.Point{
		{Protocol: "galera", Network: results.Network{Preset: "lan"}, Workload: "tpcc", Threads: 4, Committed: 200,
			ByType: map[string]results.TypeStats{
				"new_order":    {Committed: 90, Aborted: 1, Latency: results.Latency{Mean: 2, P50: 1.5, P95: 5, P99: 9, Max: 12}},
				"payment":      {Committed: 86, Latency: results.Latency{Mean: 3, P50: 2.5, P95: 6, P99: 10, Max: 11}},
				"delivery":     {Committed: 8, Latency: results.Latency{Mean: 4, P50: 4, P95: 7, P99: 7, Max: 7}},
				"order_status": {Committed: 8, Latency: results.Latency{Mean: 0.2, P50: 0.1, P95: 0.5, P99: 0.5, Max: 0.5}},
				"stock_level":  {Committed: 8, Latency: results.Latency{Mean: 1, P50: 0.7, P95: 3, P99: 3, Max: 3}},
			},
			Faults: []string{"4.000s partition n1,n2|n3", "8.001s heal"}},
		{Protocol: "galera", Network: results.Network{Preset: "lan"}, Workload: "insert", Threads: 4, Committed: 10,
			ByType: map[string]results.TypeStats{"insert": {Committed: 10}}},
	}}
	var b bytes.Buffer
	printByType(&b, run)
	out := b.String()
	for _, want := range []string{"latency by transaction type", "new_order", "45.0%", "payment", "43.0%", "delivery", "4.000", "order_status", "stock_level"} {
		if !strings.Contains(out, want) {
			t.Errorf("per-type table lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "insert") {
		t.Errorf("a single-type point got rows:\n%s", out)
	}
	b.Reset()
	printFaults(&b, run)
	if got := b.String(); got != "faults, galera lan t=4: [4.000s partition n1,n2|n3] [8.001s heal]\n" {
		t.Errorf("faults line %q", got)
	}
	b.Reset()
	printByType(&b, &results.Run{Points: run.Points[1:]})
	if b.Len() != 0 {
		t.Errorf("a run of single-type points printed:\n%s", b.String())
	}
}
