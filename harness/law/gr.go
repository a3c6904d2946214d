package law

import (
	"fmt"
	"sort"
	"strings"
	"time"

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
	return m.finish(floors, why, 0, ""), nil
}
