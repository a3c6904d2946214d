package harness

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/replbench/replbench/protocols"
)

// Convergence bounds. The wait ends when every node reports the same LastCommitted for
// quietFor polls in a row. It gives up only when no node has moved for ConvergeTimeout (the
// no-progress bound), so a replica that is only behind, applying a backlog at its own pace,
// is waited for however long the backlog takes, up to convergeCap; a replica that is stuck
// is reported after the bound, as before. The result says what was waited for.
const (
	ConvergeTimeout = 30 * time.Second
	convergeCap     = 10 * time.Minute
	quietFor        = 3
	pollEvery       = 20 * time.Millisecond
)

// convergence is the outcome of the end-of-point check.
type convergence struct {
	ok     bool
	detail string
	// waited says what the wait was for: how far behind each node was when it began, how
	// long it took, and how fast the backlog drained ("" when nothing was behind).
	waited string
}

// converge waits until the replicas have applied everything that was committed — every
// node reports the same LastCommitted, and it has stopped moving — giving up when nothing
// moved for timeout (or after convergeCap in all), then compares every table's checksum
// across nodes. A node that never caught up or a table whose checksum differs makes the
// point not converged, with a detail naming the nodes and tables, so a protocol that loses
// or duplicates a write cannot pass as fast.
func (c *cluster) converge(ctx context.Context, timeout time.Duration) convergence {
	return convergeOn(ctx, c.members, localNodes{c}, timeout)
}

// convergeNodes is what the convergence check reads of the nodes: each one's position
// (LastCommitted) and its tables' checksums, from the cluster in this process or from
// node processes over NATS (bus_coord.go).
type convergeNodes interface {
	positions() ([]int64, error)
	checksums() ([]map[string]uint64, error)
}

// localNodes are the nodes of a cluster in this process.
type localNodes struct{ c *cluster }

func (l localNodes) positions() ([]int64, error) {
	out := make([]int64, len(l.c.providers))
	for i, p := range l.c.providers {
		out[i] = p.LastCommitted()
	}
	return out, nil
}

func (l localNodes) checksums() ([]map[string]uint64, error) {
	sums := make([]map[string]uint64, len(l.c.engines))
	for i, e := range l.c.engines {
		s, err := e.Checksums()
		if err != nil {
			return nil, fmt.Errorf("checksums of %s: %v", l.c.members[i], err)
		}
		sums[i] = s
	}
	return sums, nil
}

// halted reports, for each node, why its replication stopped (protocols.Halter), "" for a
// node that replicates.
func (l localNodes) halted() []string {
	out := make([]string, len(l.c.providers))
	for i, p := range l.c.providers {
		if h, ok := p.(protocols.Halter); ok {
			out[i] = h.Halted()
		}
	}
	return out
}

// haltedNodes is implemented by convergeNodes that can tell a node whose replication
// stopped on an error: such a node is reported with its error and left out of the wait
// and the comparison.
type haltedNodes interface{ halted() []string }

// convergeOn is converge over any convergeNodes.
func convergeOn(ctx context.Context, members []string, nodes convergeNodes, timeout time.Duration) convergence {
	start := time.Now()
	lastMove := start
	var first, last []int64
	stable := 0
	caughtUp := false
	gaveUp := ""
	var halted []string
	for {
		cur, err := nodes.positions()
		if err != nil {
			return convergence{detail: "positions: " + err.Error()}
		}
		if h, ok := nodes.(haltedNodes); ok {
			halted = h.halted()
		}
		equal := true
		ref := int64(-1)
		for i := range cur {
			if i < len(halted) && halted[i] != "" {
				continue
			}
			if ref < 0 {
				ref = cur[i]
			}
			if cur[i] != ref {
				equal = false
			}
		}
		if first == nil {
			first = cur
		}
		if last != nil && !sameInts(cur, last) {
			lastMove = time.Now()
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
		if ctx.Err() != nil {
			gaveUp = "interrupted"
			break
		}
		if time.Since(lastMove) > timeout {
			gaveUp = fmt.Sprintf("no node applied anything for %s", timeout)
			break
		}
		if time.Since(start) > convergeCap {
			gaveUp = fmt.Sprintf("still applying after %s", convergeCap)
			break
		}
		time.Sleep(pollEvery)
	}
	waited := waitedText(members, first, last, time.Since(start), caughtUp)
	var problems []string
	if !caughtUp {
		var pos []string
		for i, v := range last {
			pos = append(pos, fmt.Sprintf("%s=%d", members[i], v))
		}
		problems = append(problems, fmt.Sprintf("replicas did not catch up: %s after %.1fs (last committed: %s)", gaveUp, time.Since(start).Seconds(), strings.Join(pos, " ")))
	}
	sums, err := nodes.checksums()
	if err != nil {
		problems = append(problems, err.Error())
		return convergence{detail: strings.Join(problems, "; "), waited: waited}
	}
	var live []string
	var liveSums []map[string]uint64
	for i, m := range members {
		if i < len(halted) && halted[i] != "" {
			problems = append(problems, fmt.Sprintf("replication stopped on %s: %s", m, halted[i]))
			continue
		}
		live, liveSums = append(live, m), append(liveSums, sums[i])
	}
	if d := diffChecksums(live, liveSums); d != "" {
		problems = append(problems, d)
	}
	return convergence{ok: len(problems) == 0, detail: strings.Join(problems, "; "), waited: waited}
}

// waitedText says what the convergence wait waited for: each node's backlog behind the
// furthest one when the wait began, the time it took and the rate the backlog drained.
func waitedText(members []string, first, last []int64, took time.Duration, caughtUp bool) string {
	var top int64
	for _, v := range first {
		top = max(top, v)
	}
	var behind []string
	var most int64
	for i, v := range first {
		if d := top - v; d > 0 {
			behind = append(behind, fmt.Sprintf("%s %d behind", members[i], d))
			most = max(most, d)
		}
	}
	if len(behind) == 0 {
		return ""
	}
	s := fmt.Sprintf("convergence: at the end of the phase %s (of %d); ", strings.Join(behind, ", "), top)
	if caughtUp {
		s += fmt.Sprintf("caught up in %.2fs", took.Seconds())
		if took > 0 {
			s += fmt.Sprintf(" (%.0f transactions/s on the slowest)", float64(most)/took.Seconds())
		}
		return s
	}
	var pos []string
	for i, v := range last {
		pos = append(pos, fmt.Sprintf("%s=%d", members[i], v))
	}
	return s + fmt.Sprintf("gave up after %.2fs at %s", took.Seconds(), strings.Join(pos, " "))
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
