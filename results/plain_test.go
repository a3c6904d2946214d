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

// A standard deviation never shows more decimals than its mean.
func TestSDTextMatchesMeanPrecision(t *testing.T) {
	for _, tc := range []struct {
		s    Stat
		want string
	}{
		{Stat{N: 2, Mean: 0.593, SD: 0.000707, Min: 0.59, Max: 0.594}, "0.593 ±0.001"},
		{Stat{N: 2, Mean: 37778, SD: 11252, Min: 1, Max: 2}, "37778 ±11252"},
		{Stat{N: 2, Mean: 1100.2, SD: 318.46, Min: 1, Max: 2}, "1100.2 ±318.5"},
	} {
		if got := fmtStat(tc.s, fmtMs, false); tc.s.Mean < 10 && got != tc.want {
			t.Errorf("fmtStat(%v) = %q, want %q", tc.s, got, tc.want)
		} else if tc.s.Mean >= 10 {
			if got := fmtStat(tc.s, fmtRate, false); got != tc.want {
				t.Errorf("fmtStat(%v) = %q, want %q", tc.s, got, tc.want)
			}
		}
	}
	if got := sdText(fmtPct, Stat{Mean: 2, SD: 1.234}); got != "1.2%" {
		t.Errorf("percent sd = %q", got)
	}
}

// Verdict lines, printed two spaces in, stay within the width however long their detail.
func TestVerdictLinesFitWidth(t *testing.T) {
	run := &Run{Schema: Schema, Points: []Point{{Protocol: "group-replication", Nodes: 3,
		Verdicts: []Verdict{{Checker: "lost-acknowledged", Outcome: VerdictPass, Detail: strings.Repeat("0 rows also written in doubt (skipped); 15067 acknowledged commits; ", 4)}}}}}
	var b bytes.Buffer
	printVerdicts(&b, run, DefaultWidth)
	if b.Len() == 0 {
		t.Fatal("no verdict printed")
	}
	if m := maxLineWidth(b.String()); m > DefaultWidth {
		t.Errorf("a verdict line is %d columns wide:\n%s", m, b.String())
	}
}
