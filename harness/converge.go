package harness

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Convergence bounds. The wait ends when every node reports the same LastCommitted for
// quietFor in a row; it gives up after ConvergeTimeout and says so in the result.
const (
	ConvergeTimeout = 30 * time.Second
	quietFor        = 3
	pollEvery       = 20 * time.Millisecond
)

// convergence is the outcome of the end-of-point check.
type convergence struct {
	ok     bool
	detail string
}

// converge waits (bounded by timeout) until the replicas have applied everything that was
// committed — every node reports the same LastCommitted, and it has stopped moving — then
// compares every table's checksum across nodes. A node that never caught up or a table
// whose checksum differs makes the point not converged, with a detail naming the nodes and
// tables, so a protocol that loses or duplicates a write cannot pass as fast.
func (c *cluster) converge(ctx context.Context, timeout time.Duration) convergence {
	deadline := time.Now().Add(timeout)
	var last []int64
	stable := 0
	caughtUp := false
	for {
		cur := make([]int64, len(c.providers))
		equal := true
		for i, p := range c.providers {
			cur[i] = p.LastCommitted()
			if cur[i] != cur[0] {
				equal = false
			}
		}
		if equal && last != nil && sameInts(cur, last) {
			stable++
		} else {
			stable = 0
		}
		last = cur
		if stable >= quietFor {
			caughtUp = true
			break
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			break
		}
		time.Sleep(pollEvery)
	}
	var problems []string
	if !caughtUp {
		var pos []string
		for i, v := range last {
			pos = append(pos, fmt.Sprintf("%s=%d", c.members[i], v))
		}
		problems = append(problems, fmt.Sprintf("replicas did not catch up within %s (last committed: %s)", timeout, strings.Join(pos, " ")))
	}
	sums := make([]map[string]uint64, len(c.engines))
	for i, e := range c.engines {
		s, err := e.Checksums()
		if err != nil {
			problems = append(problems, fmt.Sprintf("checksums of %s: %v", c.members[i], err))
			return convergence{detail: strings.Join(problems, "; ")}
		}
		sums[i] = s
	}
	if d := diffChecksums(c.members, sums); d != "" {
		problems = append(problems, d)
	}
	return convergence{ok: len(problems) == 0, detail: strings.Join(problems, "; ")}
}

// diffChecksums names the tables whose checksums differ from n1's, and the nodes that hold
// the different version; "" if every node agrees.
func diffChecksums(members []string, sums []map[string]uint64) string {
	tables := map[string]bool{}
	for _, s := range sums {
		for t := range s {
			tables[t] = true
		}
	}
	var diffs []string
	for _, t := range sortedKeys(tables) {
		var odd []string
		ref, refOK := sums[0][t]
		for i := 1; i < len(sums); i++ {
			v, ok := sums[i][t]
			if ok != refOK || v != ref {
				odd = append(odd, members[i])
			}
		}
		if len(odd) > 0 {
			diffs = append(diffs, fmt.Sprintf("table %s differs from %s on %s", t, members[0], strings.Join(odd, ",")))
		}
	}
	return strings.Join(diffs, "; ")
}

func sameInts(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
