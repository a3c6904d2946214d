package harness

import (
	"fmt"
	"strconv"

	"github.com/replbench/replbench/results"
)

// Thresholds under which a point is too short to measure: its percentiles rest on too few
// commits, or its elapsed time is dominated by start-up and the last stragglers. They are
// warnings, not refusals: a quick look is legitimate, a figure quoted from it is not.
const (
	ShortCommits = 1000
	ShortElapsed = 1.0 // seconds
)

// pointWarnings are the warnings a finished point earns under the table beyond the grouped
// ones (shortNote, delayWarning): not converged, with the convergence check's reason. A
// nil point earns none.
func pointWarnings(p *results.Point, ps *PointSpec) []string {
	if p == nil || p.Converged {
		return nil
	}
	why := p.ConvergenceDetail
	if why == "" {
		why = "no detail recorded"
	}
	return []string{fmt.Sprintf("warning (%s): did not converge: %s", pointLabel(ps), why)}
}

// shortNote is one line naming a point too short to measure (its percentiles rest on too
// few commits, or start-up and the last stragglers dominate its elapsed time), "" for one
// long enough or nil. The lines go under one heading (shortWarnings).
func shortNote(p *results.Point, ps *PointSpec) string {
	if p == nil || (p.Committed >= ShortCommits && p.ElapsedS >= ShortElapsed) {
		return ""
	}
	return fmt.Sprintf("%s: %d commits in %.3f s", pointLabel(ps), p.Committed, p.ElapsedS)
}

// shortWarnings puts the shortNote lines under one heading that says the thresholds once.
func shortWarnings(lines []string) []string {
	if len(lines) == 0 {
		return nil
	}
	out := []string{fmt.Sprintf("warning: too short to measure (want at least about %d commits and %g s; raise --queries or give --time):", ShortCommits, ShortElapsed)}
	for _, l := range lines {
		out = append(out, "- "+l)
	}
	return out
}

// pointSummary is one finished point in a few words, for the plain progress line.
func pointSummary(p *results.Point) string {
	if p == nil {
		return "no result"
	}
	s := fmt.Sprintf("%s: %.0f tps, %d tx in %.2f s, p99 %s max %s ms",
		resultLabel(p), p.TPS, p.Committed, p.ElapsedS, sig3(p.Latency.P99), sig3(p.Latency.Max))
	if !p.Converged {
		s += ", NOT CONVERGED"
	}
	return s
}

// percentilesAt measures the latency percentiles pcts over every client's commits, keyed
// as results.PercentileKey names them; nil when none are asked for.
func percentilesAt(clients []*clientStats, pcts []float64) map[string]float64 {
	if len(pcts) == 0 {
		return nil
	}
	all := newHist()
	for _, c := range clients {
		c.mu.Lock()
		all.Merge(c.all)
		c.mu.Unlock()
	}
	if all.TotalCount() == 0 {
		return nil
	}
	out := map[string]float64{}
	for _, q := range pcts {
		out[results.PercentileKey(q)] = float64(all.ValueAtQuantile(q)) / 1000
	}
	return out
}

// sig3 prints a latency with three significant figures, whole from 100 up (the tables'
// precision: the progress line is a glance, the tables and files keep the detail).
func sig3(v float64) string {
	switch {
	case v >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case v >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	case v >= 1:
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
	return strconv.FormatFloat(v, 'g', 3, 64)
}
