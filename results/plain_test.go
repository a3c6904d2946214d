package results

import (
	"bytes"
	"strings"
	"testing"
)

func TestPlainWriterDropsBorders(t *testing.T) {
	var b bytes.Buffer
	w, flush := PlainWriter(&b)
	in := "title\n┌─────┬────┐\n│ a   │  1 │\n├─────┼────┤\n│ bb  │ 22 │\n└─────┴────┘\nlast"
	if _, err := w.Write([]byte(in)); err != nil {
		t.Fatal(err)
	}
	if err := flush(); err != nil {
		t.Fatal(err)
	}
	want := "title\n  a      1\n  bb    22\nlast"
	if b.String() != want {
		t.Fatalf("got %q, want %q", b.String(), want)
	}
}

// Points that ran different checks (sysbench beside TPC-C) get a "checks" column that says
// per point how many passed and names a failure, so no workload's checks vanish when the
// per-check columns are hidden to fit.
func TestWorkloadTableSummarisesMixedChecks(t *testing.T) {
	pts := []Point{
		{Protocol: "galera", Workload: "oltp_read_write", Checks: map[string]bool{"a": true, "b": true}},
		{Protocol: "galera", Workload: "tpcc", Checks: map[string]bool{"c01": true, "c02": false, "c03": true}},
	}
	tb, failed := workloadTable(pts)
	out, _ := tb.render(false, 60)
	for _, want := range []string{"all 2 pass", "1 of 3 FAIL <<< c02"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	if len(failed) != 1 || !strings.Contains(failed[0], "c02") {
		t.Errorf("failed = %v, want the one failed check", failed)
	}
	if checksSummary(nil) != "" {
		t.Errorf("a point without checks has a summary")
	}
}
