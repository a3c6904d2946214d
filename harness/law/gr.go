package law

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/replbench/replbench/groupreplication"
	"github.com/replbench/replbench/groupreplication/group"
	"github.com/replbench/replbench/groupreplication/membership"
	"github.com/replbench/replbench/protocols/transport"
)

// quorum returns the k-th smallest round trip from leader to the other members, k =
// membership.Majority(N)-1: with the leader's own vote that is the majority every agreed
// message needs.
func (m model) quorum(leader string) (time.Duration, string) {
	type peer struct {
		name string
		rtt  time.Duration
	}
	var ps []peer
	for _, n := range m.in.Members {
		if n != leader {
			ps = append(ps, peer{n, m.rtt(leader, n)})
		}
	}
	k := membership.Majority(len(m.in.Members)) - 1
	if k == 0 || len(ps) == 0 {
		return 0, "a one-member group is its own majority"
	}
	sort.SliceStable(ps, func(a, b int) bool { return ps[a].rtt < ps[b].rtt })
	p := ps[k-1]
	return p.rtt, fmt.Sprintf("the leader %s needs %d of %d members, so it waits for its %s peer %s (RTT %s)", leader, k+1, len(m.in.Members), nearest(k), p.name, fmtD(p.rtt))
}

// groupReplication: the model orders with raft, so the primary (kept on the raft leader)
// commits once its entry is at a majority: the RTT to the closest majority. A write on
// another member in multi-primary mode is forwarded to the leader and learns the commit
// from it. Consistency levels add what the real plugin adds: BEFORE an ordering round of its
// own, AFTER every member's prepare plus the ordering of the slowest member's message.
func (m model) groupReplication() (*Explanation, error) {
	leader := m.in.Leader
	if leader == "" {
		leader = m.in.Members[0]
	}
	if err := transport.CheckNode(leader, m.in.Members); err != nil {
		return nil, fmt.Errorf("leader: %w", err)
	}
	// The group's mode is the leader's (every member must agree for the group to form).
	single := m.grAt(leader).SinglePrimary
	if single {
		var bad []string
		for _, w := range m.writers {
			if w != leader {
				bad = append(bad, w)
			}
		}
		if len(bad) > 0 {
			return nil, fmt.Errorf("single-primary mode writes on the primary %s only; %s would be refused as read-only (write on %s, or set group_replication_single_primary_mode=OFF)", leader, strings.Join(bad, ","), leader)
		}
	}
	q, qWhy := m.quorum(leader)
	floors := map[string]time.Duration{}
	var slowestAfter time.Duration
	var afterNode string
	for _, n := range m.in.Members {
		if d := m.ow(leader, n) + m.ow(n, leader); d >= slowestAfter {
			slowestAfter, afterNode = d, n
		}
	}
	for _, w := range m.writers {
		// Consistency is a session's setting: each writer's own node's level.
		cons := m.grAt(w).Consistency
		order := m.ow(w, leader) + q + m.ow(leader, w)
		f := order
		if cons.HasBefore() {
			f += order
		}
		if cons.HasAfter() {
			f += slowestAfter + q + m.ow(leader, w)
		}
		floors[w] = f + m.localFloor(w)
	}
	// Hand-offs of a hot row: a member applies a transaction once the leader's commit
	// index reaches it, which the leader sends with its next append as soon as a majority
	// holds the entry; so a modification sent by a reaches b after a -> leader, the
	// majority round trip and leader -> b (the leader itself learns it at the majority).
	m.handoff = map[[2]string]time.Duration{}
	for _, a := range m.writers {
		for _, b := range m.writers {
			if a != b {
				m.handoff[[2]string{a, b}] = m.ow(a, leader) + q + m.ow(leader, b) + m.localFloor(b)
			}
		}
	}
	m.handoffWhy = "a member applies a transaction once the raft commit index reaches it: a->leader, the majority round trip, leader->b"
	w := slowest(m.writers, floors)
	why := "model: Group Replication is modelled as raft majority: " + qWhy
	if w != leader {
		why += fmt.Sprintf(", and a write on %s is forwarded to the leader and learns the commit back (%s + %s, a hop XCom's own-slot proposals do not have)", w, fmtD(m.ow(w, leader)), fmtD(m.ow(leader, w)))
	}
	switch m.grAt(w).Consistency {
	case group.Before:
		why += ", and consistency BEFORE orders a sync message first (one more round)"
	case group.After:
		why += fmt.Sprintf(", and consistency AFTER waits for every member to prepare (the slowest, %s, %s there and back) and for that message's ordering", afterNode, fmtD(slowestAfter))
	case group.BeforeAndAfter:
		why += fmt.Sprintf(", and consistency BEFORE_AND_AFTER adds a sync round and every member's prepare (slowest %s)", afterNode)
	}
	why += fmt.Sprintf(": floor %s%s.", fmtD(floors[w]-m.localFloor(w)), m.localNote(w))
	e := m.finish(floors, why, 0, "")
	if e.Bound.Limit == "latency" || e.Bound.Limit == "cpu" {
		var notes []string
		var tps float64
		binds := false
		for _, wr := range m.writers {
			note, perFloor := m.grHorizon(wr)
			notes = append(notes, note)
			t := m.threadsPer()[wr]
			if perFloor < t {
				binds = true
			}
			tps += float64(perFloor) / floors[wr].Seconds()
		}
		e.Throughput = strings.TrimSuffix(e.Throughput, ".") + ". " + strings.Join(notes, " ")
		if binds && tps < e.Bound.MaxTPS {
			e.Bound.MaxTPS = tps
			e.Bound.Limit = "pipeline"
			e.Throughput += fmt.Sprintf(" The bound is therefore %s tps (limit: pipeline).", FormatTPS(tps))
		}
	}
	return e, nil
}

// grHorizon is XCom's event horizon as a throughput bound for writer w, with its
// derivation (gr-semisync.md §3; xcom_base.c, proposer_task and too_far):
//   - a member has at most H = min(group_replication_write_concurrency, 10 proposers)
//     Paxos instances undecided at once (groupreplication.InstancesInFlight): each
//     proposer task holds one instance until it is decided, and none may propose past
//     the last executed message plus the event horizon;
//   - an instance is decided one agreement after it is proposed, the writer's floor F at
//     the least, so at most H instances are decided per floor;
//   - an instance carries every message queued when its proposer took it (AUTOBATCH), up
//     to MAX_BATCH_APP_DATA = 5000; with t threads each having one commit in flight, and
//     the other H - 1 instances in flight holding at least one message each, one instance
//     carries at most B = min(5000, t - H + 1) when t > H;
//   - so commits per floor <= min(t, H x B): with t <= H every thread has an instance of
//     its own and the bound is t / F, the latency bound; with t > H, H x (t - H + 1) >= t
//     (it exceeds t by (H - 1)(t - H)), so the horizon lowers the bound only when the
//     batch cap binds, t > H x 5000 + H - 1 threads.
//
// What the horizon does below that is cost latency, which an upper bound cannot claim: a
// commit sent while all H instances are in flight waits for the next one to be decided,
// less than one more floor, so a thread commits at least once per 2 F, and the measured
// figure lies between t / (2 F) and t / F. It returns the sentence and the commits per
// floor.
func (m model) grHorizon(w string) (string, int) {
	wc := m.grAt(w).WriteConcurrency
	h := groupreplication.InstancesInFlight(wc)
	t := m.threadsPer()[w]
	perFloor := t
	b := 1
	if t > h {
		b = min(groupreplication.MaxBatch, t-h+1)
		perFloor = min(t, h*b)
	}
	var how string
	switch {
	case t <= h:
		how = fmt.Sprintf("the %d threads on %s each have an instance of their own, so every commit is one floor", t, w)
	case perFloor >= t:
		how = fmt.Sprintf("the %d threads on %s fit: the other %d instances in flight hold a message each, so one instance carries up to min(%d, %d - %d + 1) = %d and %d x %d >= %d; the horizon does not lower the bound, but a commit sent while all %d are in flight waits for the next to be decided (less than one more floor), so %s commits between %d / (2 floors) and %d / floor", t, w, h-1, groupreplication.MaxBatch, t, h, b, h, b, t, h, w, t, t)
	default:
		how = fmt.Sprintf("the %d threads on %s exceed what %d instances of at most %d messages carry: %d per floor", t, w, h, groupreplication.MaxBatch, perFloor)
	}
	return fmt.Sprintf("Pipeline (XCom event horizon): at most H = min(group_replication_write_concurrency %d, %d proposers) = %d instances in flight on %s, each decided one floor after it is proposed and carrying every message queued when its proposer took it (at most %d); %s.", wc, groupreplication.Proposers, h, w, groupreplication.MaxBatch, how), perFloor
}
