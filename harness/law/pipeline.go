package law

import (
	"fmt"
	"time"
)

// galeraWindowCycle is the time per commit of one thread on a single writer w with more
// threads than evs.user_send_window, by the EVS sending rules (real-servers.md 1) and a
// commit-path time T: from the write-set's SAFE delivery to the client's next write-set
// (certification, engine commit, redo flush, the reply and the next statement, uncontended:
// the local floor), F being w's floor without T and R the round trip to its farthest member.
//   - The writer itself is far (its nearest round trip is more than half the floor): every
//     message it receives answers one of its own sends, R after it. A write-set that finds
//     the window full is queued, and a queued one leaves only while such an answer is
//     handled, never from a timer. In the steady state the clients split into two batches
//     half a round trip apart; each batch, ready T after its delivery, waits for the answer
//     to the other batch, R/2 after its own delivery: the commit takes
//     max(F, R + max(0, R/2 - T)) and the thread's cycle that plus T. A commit path of half
//     a round trip or more merges the batches and the wait vanishes.
//   - A non-writer is far: its answers reach the writer R after each of the writer's sends,
//     and the near members' answers arrive in between, so a queued write-set finds a
//     message to carry it within one near round trip and its window already opened by the
//     far member's answer to an earlier send: the commit takes F, the cycle the floor.
//
// The cycle grows with T (it is max(F + T, R + T, 1.5 R)), so the uncontended T gives an
// upper bound on throughput. Checked exactly against the EVS machine by galera/gcs
// TestWindowRuleWithCommitPathTime and, with the law's own inputs, by
// TestGaleraWindowRuleWithCommitPath here.
func (m model) galeraWindowCycle(w string, floor time.Duration) (cycle, T, R time.Duration, far bool) {
	T = m.localFloor(w)
	F := floor - T
	near := time.Duration(-1)
	for _, j := range m.in.Members {
		if j == w {
			continue
		}
		r := m.rtt(w, j)
		if near < 0 || r < near {
			near = r
		}
		R = max(R, r)
	}
	if near < 0 || 2*near <= F {
		return floor, T, R, false
	}
	return max(F, R+max(0, R/2-T)) + T, T, R, true
}

// galeraPipelineNote is the sentence the window rule adds for a single writer, with the
// cycle it gives.
func (m model) galeraPipelineNote(w string, floor time.Duration, threads int, uwin int64) (string, time.Duration) {
	cycle, T, R, far := m.galeraWindowCycle(w, floor)
	src := "profile none: T = 0"
	if lc := m.localCostOf(w); lc.profile != "" {
		src = fmt.Sprintf("cost profile %s: T = %s of the statement, certification, commit, redo flush and reply", lc.profile, fmtD(T))
	} else if T > 0 {
		src = fmt.Sprintf("T = %s, the local sync", fmtD(T))
	}
	var where string
	if far {
		where = fmt.Sprintf("the writer is the far member, so every message it receives answers one of its own sends R = %s after it, and a queued write-set leaves only while such an answer is handled: the threads split into two batches half a round trip apart, each ready T after its delivery and waiting for the answer to the other batch, R/2 after its own; a commit takes max(floor - T, R + max(0, R/2 - T)) = %s and a thread's cycle that plus T = %s", fmtD(R), fmtD(cycle-T), fmtD(cycle))
	} else {
		where = fmt.Sprintf("another member is the far one, so the near members' answers carry queued write-sets once the far member's answer has opened the window, and each thread commits once per floor %s (the full model, with the provider's own EVS traffic, measures up to 1.6 floors)", fmtD(floor))
	}
	return fmt.Sprintf(" Pipeline (EVS window with commit-path time T, %s): with %d threads over evs.user_send_window=%d, %s, so at most %d / %s = %s tps.", src, threads, uwin, where, threads, fmtD(cycle), FormatTPS(float64(threads)/cycle.Seconds())), cycle
}
