package group

import (
	"slices"

	"github.com/replbench/replbench/groupreplication/certifier"
	"github.com/replbench/replbench/groupreplication/membership"
)

// Deliver processes one agreed message (a raft committed entry's data), in the agreed
// order. Everything it decides, it decides from the message sequence alone, so every
// member decides the same. While this member is out of the group it processes nothing and
// reports Held: the driver keeps the message for after the rejoin.
func (m *Machine) Deliver(data []byte) (eff Effects) {
	if m.paused {
		eff.Held = true
		return eff
	}
	msg, err := DecodeMessage(data)
	if err != nil {
		m.corrupt++
		return eff
	}
	m.handle(msg, &eff)
	return eff
}

func (m *Machine) handle(msg *Message, eff *Effects) {
	own := m.own(msg)
	switch msg.Kind {
	case KindTxn:
		m.certify(msg, own, eff)
	case KindStats:
		if m.fromView(msg) {
			m.fc.Receive(m.cfg.Members[msg.Origin], msg.Stats)
		}
	case KindGTIDExecuted:
		if m.fromView(msg) && m.view.State(msg.Origin) == membership.Online {
			m.cert.GTIDExecuted(msg.Origin, msg.ID, m.view.OnlineCount())
		}
	case KindSyncBefore:
		if own {
			m.arrived(m.pending[msg.ID])
			delete(m.pending, msg.ID)
		}
		accepted := m.accept(msg)
		if own && m.syncing[msg.ID] {
			delete(m.syncing, msg.ID)
			eff.Syncs = append(eff.Syncs, SyncDone{ID: msg.ID, Position: m.cert.Stats().Seqno, Dropped: !accepted})
		}
	case KindPrepared:
		if own {
			m.arrived(m.prepares[msg.ID])
			delete(m.prepares, msg.ID)
		}
		if !m.fromView(msg) {
			// A replaced incarnation's prepare: the member it speaks for is gone.
			return
		}
		ps := m.preparedAt(msg.ID)
		if !ps.from[msg.Origin] {
			ps.from[msg.Origin] = true
			m.checkPrepared(msg.ID, ps, eff)
		}
	case KindNewPrimary:
		// Bootstrap: the first raft leader is the first primary. Later primaries come
		// from elections over the view.
		m.controlDelivered(msg)
		if m.state == Recovering && !m.joining {
			m.state = Online
		}
		if !m.everPrimary {
			m.becomePrimary(msg.Origin, eff)
		}
		eff.Changed = true
	case KindExpel, KindJoin, KindOnline, KindWeight, KindReboot:
		m.viewChange(msg, eff)
	case KindQueueApplied:
		m.controlDelivered(msg)
		if msg.Origin == m.primary && m.fromView(msg) && m.primaryChange {
			m.primaryChange = false
			if m.cfg.SinglePrimary {
				m.cert.SetConflictDetection(false)
			}
			eff.Changed = true
		}
	}
}

// certify decides one transaction: its origin's client gets the verdict, or the applier
// gets the write-set.
func (m *Machine) certify(msg *Message, own bool, eff *Effects) {
	if own {
		m.arrived(m.pending[msg.ID])
		delete(m.pending, msg.ID)
	}
	waiter := own && m.waiting[msg.ID]
	if waiter {
		delete(m.waiting, msg.ID)
	}
	if !m.accept(msg) {
		if waiter {
			// Dropped everywhere: tell the client it did not commit.
			eff.Verdicts = append(eff.Verdicts, Verdict{ID: msg.ID, Dropped: true})
		}
		return
	}
	ws := msg.WS
	r := m.cert.Certify(certifier.Txn{
		Origin:   msg.Origin,
		Snapshot: ws.Snapshot,
		Keys:     certifier.KeyHashes(ws),
		Barrier:  certifier.IsBarrier(ws),
	})
	ws.Seqno, ws.DependsSeqno = r.Seqno, r.DependsSeqno
	m.verdicts = m.verdicts*1099511628211 ^ uint64(r.Seqno)<<1 ^ uint64(r.GNO)<<20 ^ uint64(r.DependsSeqno)<<40 ^ b2u(r.Positive)
	if !r.Positive {
		// A negative verdict fills its slot in the commit order on every member.
		eff.Cancel = append(eff.Cancel, r.Seqno)
	}
	switch {
	case waiter:
		eff.Verdicts = append(eff.Verdicts, Verdict{ID: msg.ID, Result: r})
	case r.Positive:
		// A remote transaction, or this member's own whose client gave up: the members
		// stay identical only if it is applied here too.
		eff.Applies = append(eff.Applies, Apply{WS: ws, Level: msg.Level})
	}
}

func b2u(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}

// preparedAt returns the AFTER bookkeeping of position seq, creating it.
func (m *Machine) preparedAt(seq int64) *prepared {
	ps := m.prepared[seq]
	if ps == nil {
		ps = &prepared{from: map[int]bool{}}
		m.prepared[seq] = ps
	}
	return ps
}

// checkPrepared completes an AFTER position once every member of the view has prepared
// it: an expelled member no longer holds the others back.
func (m *Machine) checkPrepared(seq int64, ps *prepared, eff *Effects) {
	if ps.done {
		return
	}
	for i := range m.cfg.Members {
		if m.view.In(i) && !ps.from[i] {
			return
		}
	}
	ps.done = true
	eff.Prepared = append(eff.Prepared, seq)
}

// recheckPrepared re-checks every AFTER position, in position order, after a view change.
func (m *Machine) recheckPrepared(eff *Effects) {
	seqs := make([]int64, 0, len(m.prepared))
	for seq := range m.prepared {
		seqs = append(seqs, seq)
	}
	slices.Sort(seqs)
	for _, seq := range seqs {
		m.checkPrepared(seq, m.prepared[seq], eff)
	}
}

// WaitPrepared registers that a transaction at AFTER position seq waits for every member's
// prepare, and reports whether that has already happened. The position is then reported
// in Effects.Prepared when it completes.
func (m *Machine) WaitPrepared(seq int64) bool { return m.preparedAt(seq).done }

// ForgetPrepared drops AFTER position seq once its transaction has committed.
func (m *Machine) ForgetPrepared(seq int64) { delete(m.prepared, seq) }
