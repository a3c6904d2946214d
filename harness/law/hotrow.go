package law

import (
	"math"
	"slices"
	"time"
)

// rowCycle returns the least average time between consecutive modifications of one hot
// row, and the writer cycle that reaches it. A row can pass from one writer to the next as
// soon as the next has delivered it: the next modification can start on writer b once b
// has committed the previous one from a, which for a != b may be sooner than a's own
// floor. A chain of modifications is a walk over the writers, so its rate is bounded by
// the cycle with the least mean hand-off time (a walk's mean is at least its cheapest
// cycle's). Only writers with threads take part. Without cross hand-offs it is the lowest
// floor, as before.
func (m model) rowCycle(floors map[string]time.Duration) (time.Duration, []string) {
	tp := m.threadsPer()
	var ws []string
	for _, w := range m.writers {
		if _, ok := floors[w]; ok && tp[w] > 0 {
			ws = append(ws, w)
		}
	}
	edge := func(a, b string) (time.Duration, bool) {
		if d, ok := m.handoff[[2]string{a, b}]; ok {
			return d, true
		}
		if a == b {
			return floors[a], true
		}
		return 0, false
	}
	best := time.Duration(math.MaxInt64)
	var cycle []string
	consider := func(sum time.Duration, path []string) {
		if mean := sum / time.Duration(len(path)); mean < best {
			best, cycle = mean, append(slices.Clone(path), path[0])
		}
	}
	if len(ws) > 9 {
		// Too many simple cycles to list; the cheapest single hand-off is still a bound,
		// since no cycle's mean is below its cheapest edge.
		for _, a := range ws {
			for _, b := range ws {
				if d, ok := edge(a, b); ok && d < best {
					best, cycle = d, []string{a, b}
				}
			}
		}
	} else {
		// Every simple cycle, listed once from its lowest-index writer.
		var walk func(start int, path []string, sum time.Duration, used []bool)
		walk = func(start int, path []string, sum time.Duration, used []bool) {
			last := path[len(path)-1]
			if d, ok := edge(last, ws[start]); ok {
				consider(sum+d, path)
			}
			for k := start + 1; k < len(ws); k++ {
				if used[k] {
					continue
				}
				if d, ok := edge(last, ws[k]); ok {
					used[k] = true
					walk(start, append(path, ws[k]), sum+d, used)
					used[k] = false
				}
			}
		}
		for s := range ws {
			walk(s, []string{ws[s]}, 0, make([]bool, len(ws)))
		}
	}
	if cycle == nil {
		return 0, nil
	}
	if len(cycle) == 2 && cycle[0] == cycle[1] {
		cycle = cycle[:1]
	}
	return best, cycle
}
