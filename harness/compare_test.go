package harness

import (
	"testing"

	"github.com/replbench/replbench/harness/target"
	"github.com/replbench/replbench/results"
)

func TestComparePairsPointsWithRatios(t *testing.T) {
	model := &results.Run{Points: []results.Point{{
		Workload: "insert", Writers: []string{"n1"}, Threads: 4, TPS: 1000,
		Latency: results.Latency{Mean: 2, P95: 4}, Aborts: map[string]int64{"certification": 3},
		Network: results.Network{Egress: map[string]float64{"n3": 10}},
		Status:  map[string]map[string]string{"n1": {"wsrep_local_cert_failures": "3"}, "n2": {"Innodb_deadlocks": "1"}},
	}}}
	real := &results.Run{Points: []results.Point{{
		TPS: 500, Latency: results.Latency{Mean: 5, P95: 6}, Aborts: map[string]int64{"certification": 7, "bf_abort": 2},
		Converged: true,
		Status: map[string]map[string]string{"n1": {"wsrep_local_cert_failures": "4", "rpl_semi_sync_master_yes_tx": "9"},
			"n2": {"wsrep_local_cert_failures": "3", "innodb_deadlocks": "0"}},
	}}}
	rows := Compare(model, real)
	if len(rows) != 1 {
		t.Fatalf("rows %d, want 1", len(rows))
	}
	r := rows[0]
	if r.Point != "insert w=n1 t=4 n3+10ms" {
		t.Errorf("label %q", r.Point)
	}
	if r.TPSRatio != 0.5 || r.MeanRatio != 2.5 || r.P95Ratio != 1.5 {
		t.Errorf("ratios tps %v mean %v p95 %v, want 0.5 2.5 1.5", r.TPSRatio, r.MeanRatio, r.P95Ratio)
	}
	if got := r.Status["wsrep_local_cert_failures"]; got != [2]float64{3, 7} {
		t.Errorf("cert failures model/real %v, want [3 7] (summed over nodes)", got)
	}
	if got := r.Status["innodb_deadlocks"]; got != [2]float64{1, 0} {
		t.Errorf("deadlocks %v, want [1 0] (names compared case-insensitively)", got)
	}
	if _, ok := r.Status["rpl_semi_sync_master_yes_tx"]; ok {
		t.Error("a status the model's protocol does not report is compared")
	}
	if got := FormatAborts(r.RealAborts); got != "bf_abort 2, certification 7" {
		t.Errorf("aborts %q", got)
	}
}

func TestRealStatusCountersAsDeltasGaugesAsValues(t *testing.T) {
	before := []target.Snapshot{{Node: "n1", Status: map[string]string{"wsrep_replicated": "10", "wsrep_local_recv_queue": "3", "com_select": "5"}}}
	after := []target.Snapshot{{Node: "n1", Status: map[string]string{"wsrep_replicated": "25", "wsrep_local_recv_queue": "1", "com_select": "9"}}}
	st := RealStatus(before, after)
	if st["n1"]["wsrep_replicated"] != "15" || st["n1"]["wsrep_local_recv_queue"] != "1" {
		t.Errorf("status %v: want wsrep_replicated delta 15, recv queue value 1", st)
	}
	if _, ok := st["n1"]["com_select"]; ok {
		t.Error("com_select is not a replication or conflict status and should not be kept")
	}
}
