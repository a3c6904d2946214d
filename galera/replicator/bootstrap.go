package replicator

import (
	"encoding/binary"
	"fmt"
	"slices"
	"strings"

	"github.com/replbench/replbench/galera/gcs"
)

// This file is the bootstrap of a cluster every node of which went down, and it has two
// parts, the provider's and the operator's.
//
// The provider's is pc.bootstrap (--wsrep-new-cluster): the node declares a primary
// component of its own (gcs.EVS.Bootstrap) and the others join it by IST or SST. The
// driver refuses it, before the machine exists, on a node whose grastate.dat says
// safe_to_bootstrap: 0, as mysqld does.
//
// The operator's is the documented recovery procedure for a cluster none of whose nodes
// left the primary component cleanly, with pc.recovery=false (or no gvwstate.dat): every
// node comes back non-primary and stays so, since none knows a primary component; the
// operator reads each node's grastate.dat and its recovered position (galera_recovery,
// mysqld --wsrep-recover), picks the node with safe_to_bootstrap: 1 if there is one, else
// the one with the highest seqno (here the lowest index among equals), sets
// safe_to_bootstrap: 1 in its grastate.dat and starts it with --wsrep-new-cluster. The
// model carries out that procedure once all configured members are in one non-primary
// view and none knows a primary component: each proposes what the operator would read off
// it (actRecovered), every member sees the same reports in the same order and so makes
// the same choice, and the chosen one bootstraps. It is the operator, not the provider:
// real Galera never bootstraps on its own.

// RestartState is what a restarted node found besides its data: the primary component
// gvwstate.dat restores (nil: none), grastate.dat's safe_to_bootstrap, and whether the
// node starts as a new cluster (pc.bootstrap, checked by the driver against
// SafeToBootstrap).
type RestartState struct {
	LastPrim        *gcs.PrimView
	SafeToBootstrap bool
	Bootstrap       bool
}

// Bootstrapped reports that member Node bootstrapped a new primary component at its
// position Seqno, and why it was the one.
type Bootstrapped struct {
	Node   int
	Seqno  int64
	Reason string
}

func (Bootstrapped) effect() {}

type recoveredState struct {
	seqno int64
	safe  bool
}

// bootstrap makes this member a new primary component. Its history is that component's,
// so it reports itself SYNCED in the next state exchange, which makes it the
// representative (gcs.Group.StateDelivered): a member whose history is ahead of it gets
// an SST, as a node that is ahead of a bootstrapped cluster must.
func (m *Machine) bootstrap(b Bootstrapped) {
	m.booted = true
	m.emit(b)
	m.group.States[m.self] = gcs.NodeSynced
	m.needIndex = false // its history is the component's: nothing certified before it can still arrive
	m.evs.Bootstrap()
}

// needsOperator reports whether this member is waiting for the recovery procedure: it
// restarted and has been in no primary component since (it knew none, or pc.recovery could
// not restore the one gvwstate.dat saved: some member restarted without it, after a clean
// shutdown or an interrupted rejoin), and it is in a non-primary view of every configured
// member, where nothing automatic can form one any more.
func (m *Machine) needsOperator(v gcs.View) bool {
	return m.evs.NoPrimarySinceRestart() && !m.booted && !v.Primary && len(v.Members) == m.n
}

// reportRecovered proposes what the operator reads off this member: its position and
// safe_to_bootstrap.
func (m *Machine) reportRecovered() {
	m.recovered = map[int]recoveredState{}
	safe := byte(0)
	if m.recovery.SafeToBootstrap {
		safe = 1
	}
	m.evs.Propose(append(binary.AppendVarint([]byte{actRecovered}, m.have), safe))
}

// recoveredDelivered records one member's report; once every member of the view has
// reported, the choice is made, the same on every member.
func (m *Machine) recoveredDelivered(d gcs.Delivery) {
	if m.recovered == nil || m.booted || !slices.Contains(m.group.View.Members, d.Source) {
		return
	}
	seq, n := binary.Varint(d.Action[1:])
	if n <= 0 || len(d.Action) < 2+n {
		return
	}
	m.recovered[d.Source] = recoveredState{seqno: seq, safe: d.Action[1+n] == 1}
	if len(m.recovered) < len(m.group.View.Members) {
		return
	}
	chosen, reason := chooseBootstrap(m.recovered)
	m.booted = true
	if chosen == m.self {
		m.bootstrap(Bootstrapped{Node: chosen, Seqno: m.recovered[chosen].seqno, Reason: reason})
		return
	}
	m.emit(Bootstrapped{Node: chosen, Seqno: m.recovered[chosen].seqno, Reason: reason})
}

// chooseBootstrap is the recovery procedure's choice among the members' reports (member ->
// recovered seqno and safe_to_bootstrap): the member with safe_to_bootstrap: 1 if one has
// it (the last to leave the primary component cleanly, whose state is the newest), else
// the one with the highest recovered seqno, the lowest index among equals. The reason
// lists what was read off every member, with members named n1, n2, ...
func chooseBootstrap(reports map[int]recoveredState) (int, string) {
	members := slices.Sorted(func(yield func(int) bool) {
		for k := range reports {
			if !yield(k) {
				return
			}
		}
	})
	var seen []string
	chosen, safe := -1, false
	for _, k := range members {
		r := reports[k]
		s := 0
		if r.safe {
			s = 1
		}
		seen = append(seen, fmt.Sprintf("n%d seqno %d safe_to_bootstrap %d", k+1, r.seqno, s))
		switch {
		case chosen < 0, r.safe && !safe, r.safe == safe && r.seqno > reports[chosen].seqno:
			chosen, safe = k, r.safe
		}
	}
	why := "the highest recovered seqno (wsrep-recover), lowest index among equals; the operator sets its safe_to_bootstrap to 1"
	if safe {
		why = "its grastate.dat says safe_to_bootstrap: 1 (the last to leave the primary component cleanly)"
	}
	return chosen, why + " [" + strings.Join(seen, ", ") + "]"
}
