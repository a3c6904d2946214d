package law

import (
	"fmt"
	"strings"
	"time"
)

// galera: EVS delivers a write-set only when it is SAFE: every member has received it and
// has told everyone so through its aru. The originator w therefore waits for its message to
// reach each member i, for i's aru-carrying message to reach every member j (j's own aru
// covers the seqno only once it has i's fill-in), and for j's report to come back: the
// longest path w -> i -> j -> w over all members, which is at least the round trip to the
// farthest member and also counts a slow link between two other members. That path is the
// floor of a single writer on an otherwise idle group; with two or more writers sending,
// their messages fill the sequence, the relayed legs can vanish, and each writer's floor is
// only its hand-off self-loop (galeraRound(w, w), the round trip to its farthest member), so
// the throughput bound sums T_w over those smaller floors to stay an upper bound.
func (m model) galeraModel() (*Explanation, error) {
	floors := map[string]time.Duration{}
	paths := map[string]string{}
	learn := m.shortest()
	for _, w := range m.writers {
		var best time.Duration
		path := w
		for _, i := range m.in.Members {
			for _, j := range m.in.Members {
				// i fills its place once it has learnt seq s, by the fastest route (any
				// member's fill carries s onward); the fill itself and j's report travel
				// directly.
				d := learn[[2]string{w, i}] + m.ow(i, j) + m.ow(j, w)
				if d > best {
					best = d
					hop := "->"
					if learn[[2]string{w, i}] < m.ow(w, i) {
						hop = "~>" // relayed: s reaches i sooner through another member
					}
					path = strings.Join(compact([]string{w + hop + i, j, w}), "->")
					if i == w {
						path = strings.Join(compact([]string{w, j, w}), "->")
					}
				}
			}
		}
		floors[w] = best + m.localFloor(w)
		paths[w] = path
	}
	m.galeraHandoff()
	var why string
	if m.handoff != nil {
		// Several writers send: the others' messages fill the sequence, so a member's place
		// at s may be filled before it has seen w's write-set and the idle path above is no
		// longer a floor. What remains is the hand-off self-loop, the round trip to w's
		// farthest member; the throughput bound sums T_w over these floors.
		for _, w := range m.writers {
			far, d := w, time.Duration(0)
			for _, j := range m.in.Members {
				if r := m.rtt(w, j); r > d {
					far, d = j, r
				}
			}
			floors[w] = m.galeraRound(w, w) + m.localFloor(w)
			paths[w] = strings.Join(compact([]string{w, far, w}), "->")
		}
		w := slowest(m.writers, floors)
		why = fmt.Sprintf("model: Galera delivers a write-set only when every member has it and every member's aru has come back (EVS safe delivery), and with %d writers sending the others' messages fill the sequence numbers, so a commit from writer w can cost as little as the round trip to its farthest member, max over j of w->j->w (the slowest writer %s: %s = %s%s), and throughput is at most the sum over writers of T_w/floor_w with these floors.", len(m.writers), w, paths[w], fmtD(floors[w]-m.localFloor(w)), m.localNote(w))
	} else {
		w := slowest(m.writers, floors)
		why = fmt.Sprintf("model: Galera delivers a write-set only when every member has it and every member's aru has come back (EVS safe delivery), so a commit from %s costs its longest path %s = %s%s", w, paths[w], fmtD(floors[w]-m.localFloor(w)), m.localNote(w))
		if len(m.writers) > 1 {
			why += fmt.Sprintf(" (the slowest of %d writers)", len(m.writers))
		}
		why += "."
	}
	// The send windows are the first writer's (every writer's when, as usual, they are set
	// for all nodes).
	st := m.galeraAt(m.writers[0])
	uwin, swin := int64(st.UserSendWindow), int64(st.SendWindow)
	if uwin < 1 || swin < 1 {
		return nil, fmt.Errorf("evs.user_send_window=%d, evs.send_window=%d: give windows of at least 1 message", uwin, swin)
	}
	cap, capWhy := 0, ""
	aggregate := st.UseAggregate
	if !aggregate {
		// Every message carries one write-set; a fresh one leaves while the node has fewer
		// than user_send_window unsafe messages, a queued one while it has fewer than
		// send_window, so at most the larger of the two are unsafe at once, each for at
		// least a floor.
		cap = int(max(uwin, swin))
		capWhy = fmt.Sprintf("evs.use_aggregate=OFF: each write-set is its own message and a node has at most max(evs.user_send_window=%d, evs.send_window=%d) = %d unsafe messages", uwin, swin, cap)
	}
	e := m.finish(floors, why, cap, capWhy)
	if aggregate && e.Bound.MaxTPS > 0 && (e.Bound.Limit == "latency" || e.Bound.Limit == "cpu") {
		note, cycle := m.galeraWindowNote(floors, uwin, swin)
		e.Throughput = strings.TrimSuffix(e.Throughput, ".") + note
		if w := m.writers[0]; cycle > floors[w] {
			if tps := float64(m.in.Threads) / cycle.Seconds(); tps < e.Bound.MaxTPS {
				e.Bound.MaxTPS = tps
				e.Bound.Limit = "pipeline"
				e.Throughput += " The bound is therefore this figure (limit: pipeline)."
			}
		}
	}
	return e, nil
}

// shortest is the least time for news to travel from a to b through any members (Floyd-
// Warshall over the one-way delays): on a network where a detour beats the direct link,
// a member learns a seq sooner from another member's fill than from the originator.
func (m model) shortest() map[[2]string]time.Duration {
	d := map[[2]string]time.Duration{}
	for _, a := range m.in.Members {
		for _, b := range m.in.Members {
			d[[2]string{a, b}] = m.ow(a, b)
		}
	}
	for _, k := range m.in.Members {
		for _, a := range m.in.Members {
			for _, b := range m.in.Members {
				if v := d[[2]string{a, k}] + d[[2]string{k, b}]; v < d[[2]string{a, b}] {
					d[[2]string{a, b}] = v
				}
			}
		}
	}
	return d
}

// galeraHandoff sets the hot-row hand-off times when more than one writer has threads.
// Member j's aru passes a write-set's seq s only once j holds the write-set itself and
// every member's place at s; with a single writer the other members fill their places only
// after they have seen s (hence the idle path w -> i -> j), but with several writers
// sending, another writer's concurrent message numbered s (every member numbers from its
// own last seq, so concurrent messages share seqs) already fills its place, and a member
// may learn s from it before the write-set arrives. What no traffic can shorten: every
// member j must receive the write-set from w and its aru report must reach the deliverer,
// so a write-set sent by w is delivered on w' no sooner than max over j of w -> j -> w'
// (for w' = w: the round trip to the farthest member). That is each hand-off's time, the
// writer's own included, plus the deliverer's local sync.
func (m *model) galeraHandoff() {
	tp := m.threadsPer()
	var active []string
	for _, w := range m.writers {
		if tp[w] > 0 {
			active = append(active, w)
		}
	}
	if len(active) < 2 {
		return
	}
	m.handoff = map[[2]string]time.Duration{}
	for _, a := range active {
		for _, b := range active {
			m.handoff[[2]string{a, b}] = m.galeraRound(a, b) + m.localFloor(b)
		}
	}
	m.handoffWhy = "with other writers sending, their messages fill the sequence, so a write-set from w is delivered on w' once it has reached every member j and j's aru has reached w': max over j of w->j->w'"
}

// galeraRound is the least time from writer a sending a write-set to writer b delivering
// it when other writers' traffic fills the sequence: every member j must receive it from a
// and j's aru report must reach b, max over j of a -> j -> b. For a == b it is the round
// trip to a's farthest member, the multi-writer commit floor.
func (m model) galeraRound(a, b string) time.Duration {
	var d time.Duration
	for _, j := range m.in.Members {
		d = max(d, m.ow(a, j)+m.ow(j, b))
	}
	return d
}

// galeraWindowNote says what the send windows do to a writer with more threads than
// evs.user_send_window, and returns the single writer's cycle per commit and thread (0
// where the windows add nothing the model can count). EVS sends a fresh write-set at once
// only while the node has fewer than user_send_window messages that are not yet safe and
// nothing queued; otherwise the write-set is queued, and queued write-sets leave,
// aggregated into one message, only when an incoming message or a safe-point advance steps
// the node and the node has fewer than send_window unsafe messages. A queue exists only
// while messages are unsafe, and the oldest of them becomes safe within one floor of the
// queueing, which also opens the send window, so a queued write-set waits at most one
// floor: its commit takes between one and two floors. Which end it reaches depends on
// which messages the writer receives and when: for one writer the EVS rules and the
// commit-path time decide it (galeraWindowCycle), and that cycle is the bound; with several
// writers the others' traffic sets the phase, the wait can be as short as one hop, and the
// bound stays T/floor.
func (m model) galeraWindowNote(floors map[string]time.Duration, uwin, swin int64) (string, time.Duration) {
	tp := m.threadsPer()
	over := false
	for _, w := range m.writers {
		if int64(tp[w]) > uwin {
			over = true
		}
	}
	if !over {
		return fmt.Sprintf("; no writer has more than evs.user_send_window=%d threads, so every write-set leaves at once and the window does not bind.", uwin), 0
	}
	if len(m.writers) > 1 {
		// The window counts sequence numbers, and a node's fills occupy the seqs of the
		// other writers' messages, so their traffic fills its window too: no lower figure.
		return fmt.Sprintf("; with more threads than evs.user_send_window=%d on a writer, a write-set that finds the window full (other writers' messages count, since every node's fills occupy their seqs) is queued until the node's next incoming message or safe point and leaves aggregated within evs.send_window=%d, so commits take longer than a floor, but that wait can be as short as one hop, so this stays the bound.", uwin, swin), 0
	}
	w := m.writers[0]
	lo := float64(tp[w]) / (2 * floors[w].Seconds())
	note, cycle := m.galeraPipelineNote(w, floors[w], tp[w], uwin)
	return fmt.Sprintf("; with more than evs.user_send_window=%d threads, a write-set that finds the window full is queued until the writer's next incoming message or safe point (at most one floor later, when it leaves aggregated within evs.send_window=%d), so commits take between one and two floors and the window alone holds throughput between %s tps and threads/floor.", uwin, swin, FormatTPS(lo)) + note, cycle
}
