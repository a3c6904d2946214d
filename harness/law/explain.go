package law

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/replbench/replbench/results"
)

// Explanation is a bound with the one-line derivation of each of its three figures, for
// `replbench law` and for anyone who wants to see why.
type Explanation struct {
	Bound *results.Bound
	// Floor, Throughput and HotRow each say in one sentence which path, quorum or limit
	// sets the figure.
	Floor, Throughput, HotRow string
	// PerWriterFloor is each writer's commit floor.
	PerWriterFloor map[string]time.Duration
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func fmtD(d time.Duration) string {
	return strconv.FormatFloat(ms(d), 'f', -1, 64) + " ms"
}

// FormatTPS writes a throughput the way the derivations do: whole numbers from 100 up, one
// decimal from 1, three significant digits below.
func FormatTPS(v float64) string {
	switch {
	case v >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case v >= 1:
		return strconv.FormatFloat(v, 'f', 1, 64)
	}
	return strconv.FormatFloat(v, 'g', 3, 64)
}

func (m model) syncNote() string {
	if m.in.SyncCost > 0 {
		return " plus the local sync " + fmtD(m.in.SyncCost)
	}
	return ""
}

// finish turns per-writer floors into the bound: throughput sum_w T_w/floor_w (each thread
// has one commit in flight), capped per writer by perWriterCap when positive, and by the
// hot rows at one modification per fastest hand-off cycle between the writers (rowCycle).
func (m model) finish(floors map[string]time.Duration, floorWhy string, perWriterCap int, capWhy string) *Explanation {
	tp := m.threadsPer()
	lo := time.Duration(math.MaxInt64)
	for _, w := range m.writers {
		if f, ok := floors[w]; ok && f < lo {
			lo = f
		}
	}
	e := &Explanation{PerWriterFloor: floors}
	b := &results.Bound{CommitFloorMs: ms(lo), Limit: "latency"}
	e.Floor = floorWhy
	if lo <= 0 {
		b.Limit = "none"
		e.Throughput = "model: no floor, so no throughput bound from the network (the local commit cost decides)."
		e.HotRow = "model: no floor, so the model puts no limit on how often one row changes."
		b.Derivation = floorWhy
		e.Bound = b
		return e
	}
	var maxTPS float64
	var parts, cpuWhy []string
	capped := false
	for _, w := range m.writers {
		f, ok := floors[w]
		if !ok {
			continue
		}
		t := tp[w]
		if perWriterCap > 0 && t > perWriterCap {
			t = perWriterCap
			capped = true
		}
		wt := float64(t) / f.Seconds()
		part := fmt.Sprintf("%d/%s", t, fmtD(f))
		if c, why := m.cpuCap(w); c > 0 && c < wt && t > 0 {
			// The node's cores cannot run more commits than this, whatever the network.
			wt = c
			part = FormatTPS(c)
			cpuWhy = append(cpuWhy, why)
		}
		maxTPS += wt
		parts = append(parts, part)
	}
	b.MaxTPS = maxTPS
	e.Throughput = fmt.Sprintf("model: each thread has one commit in flight, so at most %s = %s tps", strings.Join(parts, " + "), FormatTPS(maxTPS))
	if capped {
		b.Limit = "send_window"
		e.Throughput += " (" + capWhy + ")"
	}
	if len(cpuWhy) > 0 {
		if !capped {
			b.Limit = "cpu"
		}
		e.Throughput += ", capped by " + strings.Join(cpuWhy, " and ")
	}
	e.Throughput += "."
	gap, cycle := m.rowCycle(floors)
	if gap <= 0 {
		e.HotRow = "model: a row can pass from one writer to the next as soon as the next has delivered it, and here that takes no time in the model, so it puts no limit on how often one row changes."
		e.Bound = b
		b.Derivation = floorWhy
		return e
	}
	b.HotRowMaxTPS = 1 / gap.Seconds()
	if _, ok := m.handoff[[2]string{cycle[0], cycle[0]}]; len(cycle) == 1 && !ok {
		e.HotRow = fmt.Sprintf("model: a row can change at most once per commit floor of %s, 1/%s = %s modifications/s per row", cycle[0], fmtD(gap), FormatTPS(b.HotRowMaxTPS))
	} else {
		if len(cycle) == 1 {
			cycle = []string{cycle[0], cycle[0]}
		}
		e.HotRow = fmt.Sprintf("model: a row can pass from one writer to the next as soon as the next has delivered it (%s), so its modifications are at least the fastest hand-off cycle %s apart on average, %s: at most %s modifications/s per row", m.handoffWhy, strings.Join(cycle, "->"), fmtD(gap), FormatTPS(b.HotRowMaxTPS))
	}
	if m.in.HotRows > 0 {
		hot := float64(m.in.HotRows) * b.HotRowMaxTPS
		e.HotRow += fmt.Sprintf("; with %d hot rows at most %s tps", m.in.HotRows, FormatTPS(hot))
		if hot < b.MaxTPS {
			b.MaxTPS = hot
			b.Limit = "hot_row"
			e.Throughput = fmt.Sprintf("model: every transaction modifies one of %d hot rows, each at most once per %s, so at most %s tps (the %d threads alone would allow more).", m.in.HotRows, fmtD(gap), FormatTPS(hot), m.in.Threads)
		}
	}
	e.HotRow += "."
	b.Derivation = floorWhy
	e.Bound = b
	return e
}

func slowest(ws []string, f map[string]time.Duration) string {
	best := ws[0]
	for _, w := range ws {
		if f[w] > f[best] {
			best = w
		}
	}
	return best
}

// compact drops consecutive repeats from a path (w->w->j->w is w->j->w).
func compact(p []string) []string {
	out := p[:0:0]
	for _, n := range p {
		if len(out) == 0 || out[len(out)-1] != n {
			out = append(out, n)
		}
	}
	return out
}

// nearest names the k-th closest peer in words ("nearest", "2nd nearest").
func nearest(k int) string {
	if k == 1 {
		return "nearest"
	}
	return ordinal(k) + " nearest"
}

func ordinal(k int) string {
	switch k {
	case 1:
		return "1st"
	case 2:
		return "2nd"
	case 3:
		return "3rd"
	}
	return strconv.Itoa(k) + "th"
}
