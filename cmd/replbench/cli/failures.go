package cli

import (
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/replbench/replbench/results"
)

// pointFailures lists, one line each, why a run must exit non-zero: a point that did not
// converge, stalled, failed a workload check, could not run its check, or has a checker
// verdict that is not a pass (a failure, or "unknown": a check that could not decide is
// not a pass either, since a run must never read as fine when data may have been lost).
// Empty when every point passed everything it was asked.
func pointFailures(run *results.Run) []string {
	var out []string
	for _, v := range run.Verdicts {
		if v.Outcome != results.VerdictPass {
			out = append(out, fmt.Sprintf("run: verdict %s %s: %s", v.Checker, orUnknown(v.Outcome), v.Detail))
		}
	}
	for i := range run.Points {
		p := &run.Points[i]
		where := fmt.Sprintf("point %d (%s, %s, %d threads)", i+1, p.Protocol, p.Workload, p.Threads)
		if !p.Converged {
			out = append(out, fmt.Sprintf("%s: not converged: %s", where, p.ConvergenceDetail))
		}
		for _, n := range p.Notes {
			switch {
			case strings.HasPrefix(n, "stalled: "):
				out = append(out, fmt.Sprintf("%s: %s", where, n))
			case strings.HasPrefix(n, "workload check failed to run"):
				out = append(out, fmt.Sprintf("%s: check skipped: %s", where, n))
			}
		}
		names := make([]string, 0, len(p.Checks))
		for name := range p.Checks {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			if !p.Checks[name] {
				out = append(out, fmt.Sprintf("%s: workload check %s failed", where, name))
			}
		}
		for _, v := range p.Verdicts {
			if v.Outcome != results.VerdictPass {
				out = append(out, fmt.Sprintf("%s: verdict %s %s: %s", where, v.Checker, orUnknown(v.Outcome), v.Detail))
			}
		}
	}
	return out
}

// reportFailures prints pointFailures(run), one "cmd: FAILED ..." line each, and reports
// whether there were any: the exit-1 path of every command that runs points.
func reportFailures(stderr io.Writer, prefix string, run *results.Run) bool {
	fails := pointFailures(run)
	for _, l := range fails {
		fmt.Fprintf(stderr, "%s: FAILED %s\n", prefix, oneLine(l))
	}
	return len(fails) > 0
}

func orUnknown(s string) string {
	if s == "" {
		return results.VerdictUnknown
	}
	return s
}
