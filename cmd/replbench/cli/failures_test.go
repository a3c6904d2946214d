package cli

import (
	"strings"
	"testing"

	"github.com/replbench/replbench/results"
)

func TestPointFailuresNamesEachCause(t *testing.T) {
	run := &results.Run{Points: []results.Point{
		{Protocol: "galera", Workload: "hotspot", Threads: 4, Converged: true},
		{Protocol: "galera", Workload: "list-append", Threads: 4, Converged: false, ConvergenceDetail: "n2 behind",
			Notes:    []string{"stalled: no transaction finished", "workload check failed to run: non-Primary"},
			Checks:   map[string]bool{"sum": false, "rows": true},
			Verdicts: []results.Verdict{{Checker: "elle-list-append", Outcome: results.VerdictFail, Detail: "lost-update 3"}, {Checker: "linearizable", Outcome: results.VerdictUnknown}, {Checker: "bank", Outcome: results.VerdictPass}}},
	}}
	got := pointFailures(run)
	want := []string{"not converged", "stalled", "check skipped", "workload check sum failed", "elle-list-append fail", "linearizable unknown"}
	if len(got) != len(want) {
		t.Fatalf("got %d lines, want %d: %q", len(got), len(want), got)
	}
	for i, w := range want {
		if !strings.Contains(got[i], w) || !strings.HasPrefix(got[i], "point 2 ") {
			t.Errorf("line %d = %q, want it to name point 2 and %q", i, got[i], w)
		}
	}
	if f := pointFailures(&results.Run{Points: run.Points[:1]}); len(f) != 0 {
		t.Errorf("a clean point gives %q, want nothing", f)
	}
}
