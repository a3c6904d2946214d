package replicator

import (
	"encoding/binary"
	"slices"

	"github.com/replbench/replbench/galera/gcs"
)

// This file is what a member does when EVS installs a view (quorum decided, old view's
// messages delivered or dropped), and the state exchange and node states of package gcs's
// Group: every change to them is an action delivered in total order, so every member's
// Group agrees.

// installView handles a view EVS installed, after the old view's transitional deliveries.
func (m *Machine) installView(v gcs.View) {
	m.group.Install(v)
	// Flow control restarts in the new configuration: STOPs of departed members must not
	// pause anyone, and the limits scale with the new size.
	m.fc.StopCount, m.fc.StopSent = 0, 0
	if m.paused {
		m.paused = false
		m.emit(FlowControl{Paused: false})
	}
	m.fc.Lower, m.fc.Upper = m.cfg.FC.Limits(len(v.Members))
	m.requested, m.early = false, nil // a transfer is not retried across views
	m.emit(Installed{View: v})

	var mine [][]byte
	for _, a := range v.Undelivered {
		if len(a) > 0 && a[0] == actWriteSet {
			mine = append(mine, a)
		}
	}
	if !v.Primary {
		// A non-primary component orders nothing: local transactions in flight fail (1047)
		// and the member keeps trying to merge.
		m.conf = -1
		m.holding = false
		m.held = nil
		m.failPending()
		m.recovered = nil
		if m.needsOperator(v) {
			m.reportRecovered() // bootstrap.go
		}
		return
	}
	m.recovered = nil
	m.conf = v.ConfID
	if m.cfg.AutoIncControl {
		if k := slices.Index(v.Members, m.self); k >= 0 {
			m.emit(AutoIncrement{Increment: len(v.Members), Offset: k + 1})
		}
	}
	// Primary: own write-sets the old view did not deliver are sent again after the state
	// exchange, ahead of anything newer.
	m.holding = true
	m.held = append(mine, m.held...)
	if m.needIndex {
		// A restarted member whose galera.cache kept nothing has no certification index
		// below its recovered seqno: it reports itself PRIMARY so that the exchange has it
		// ask for a transfer even when its seqno is the group's, and the IST's preload
		// (donate) rebuilds the index. Up to date and without the index, it would fail,
		// alone, every live write-set whose last_seen reaches below that seqno.
		m.group.States[m.self] = gcs.NodePrim
	}
	m.evs.Propose(m.stateAction())
}

// stateAction is this member's state-exchange message.
func (m *Machine) stateAction() []byte {
	b := []byte{actState}
	b = binary.AppendVarint(b, m.have)
	b = append(b, byte(m.group.Own()))
	return binary.AppendUvarint(b, uint64(max(m.cfg.EVS.Weight, 0)))
}

// deliverGroupAction handles the state exchange, state-transfer requests, JOIN and SYNC.
func (m *Machine) deliverGroupAction(d gcs.Delivery) {
	if d.Source < 0 || d.Source >= m.n {
		return
	}
	switch d.Action[0] {
	case actState:
		seq, n := binary.Varint(d.Action[1:])
		if n <= 0 || len(d.Action) < 2+n {
			return
		}
		st := gcs.NodeState(d.Action[1+n])
		w, k := binary.Uvarint(d.Action[2+n:])
		if k <= 0 {
			return
		}
		m.evs.SetWeight(d.Source, int(w))
		if !m.group.StateDelivered(d.Source, gcs.StateMsg{Seqno: seq, State: st, Weight: int(w)}) {
			return
		}
		m.exchangeDone()
	case actStateReq:
		donor := m.group.RequestDelivered(d.Source)
		if donor < 0 && d.Source == m.self {
			m.requested = false
			m.reqRetry = m.cfg.StateRetryTicks
		}
		if donor >= 0 && d.Source == m.self {
			m.requestDelivered(donor)
		}
		if donor == m.self {
			m.donate(d.Source)
		}
	case actJoin:
		m.group.JoinDelivered(d.Source, len(d.Action) > 1 && d.Action[1] == 1)
		if d.Source == m.self && m.group.Own() == gcs.NodeJoined {
			m.evs.Propose([]byte{actSync})
		}
		if d.Source == m.self && m.group.Own() == gcs.NodePrim {
			m.reqRetry = m.cfg.StateRetryTicks
		}
	case actSync:
		m.group.SyncDelivered(d.Source)
	}
}

// exchangeDone runs when every member's state is known: a member with the group's history
// resumes (held write-sets go out); one behind asks for a state transfer.
func (m *Machine) exchangeDone() {
	m.holding = false
	if m.have > m.group.Seqno {
		// This member's history runs past the group's (the cluster was bootstrapped from a
		// node behind it): what it has beyond is not the group's history, and only an SST
		// can replace it (the donor sees it ahead and sends one). Until then it holds
		// nothing the group's order can continue.
		m.have, m.g = -1, m.group.Seqno
	}
	if m.g < m.group.Seqno {
		m.g = m.group.Seqno // a joiner numbers live write-sets from the group's position
	}
	// A member left PRIMARY by the exchange asks for a transfer, and from here every live
	// write-set goes to the join queue until it is done (transferred), whether or not its
	// history is behind. Set at every exchange, so that a wait cut short by a view change
	// does not outlive it on a member the new exchange finds SYNCED.
	m.awaiting = m.group.Own() == gcs.NodePrim
	if m.group.Own() == gcs.NodeSynced {
		for _, a := range m.held {
			m.evs.Propose(a)
		}
		m.held = nil
		return
	}
	m.held = nil
	m.failPending()
	if m.group.Own() == gcs.NodePrim {
		m.request()
	}
}
