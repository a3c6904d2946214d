package replicator

import (
	"encoding/binary"
	"slices"

	"github.com/replbench/replbench/galera/cert"
	"github.com/replbench/replbench/galera/gcs"
	"github.com/replbench/replbench/protocols"
)

// This file is the total order's consumer: each delivered write-set gets the next
// position, is certified in that order, and either answers its waiting client (a local
// write-set) or goes to the appliers (a remote one); flow-control events and commit-cut
// reports are applied as they come. It also handles the client that stops waiting.

func (m *Machine) deliver(ds []gcs.Delivery) {
	for _, d := range ds {
		if d.View != nil {
			m.installView(*d.View)
			continue
		}
		if d.Causal {
			m.emit(CausalDone{Token: d.Token, Seqno: m.g})
			continue
		}
		if len(d.Action) == 0 {
			continue
		}
		switch d.Action[0] {
		case actWriteSet:
			m.deliverWriteSet(d)
		case actFlow:
			pause, resume := m.fc.Delivered(len(d.Action) > 1 && d.Action[1] == 1)
			if pause {
				m.paused = true
				m.emit(FlowControl{Paused: true})
			}
			if resume && m.paused {
				m.paused = false
				m.emit(FlowControl{Paused: false})
			}
		case actLast:
			v, n := binary.Varint(d.Action[1:])
			if n <= 0 || d.Source < 0 || d.Source >= m.n {
				continue
			}
			m.lastRep[d.Source] = max(m.lastRep[d.Source], v)
			cut := m.lastRep[d.Source]
			for _, mem := range m.group.View.Members {
				cut = min(cut, m.lastRep[mem])
			}
			if cut > m.cut {
				m.cut = cut
				m.cert.PurgeUpTo(min(cut, m.cert.SafeToDiscard(m.committed)))
			}
		case actState, actStateReq, actJoin, actSync:
			m.deliverGroupAction(d)
		case actRecovered:
			m.recoveredDelivered(d)
		}
	}
}

func (m *Machine) deliverWriteSet(d gcs.Delivery) {
	id, n := binary.Uvarint(d.Action[1:])
	if n <= 0 {
		return
	}
	if m.group.Exchanging() || m.group.States[d.Source] < gcs.NodeDonor {
		m.unordered(d.Source, id)
		return
	}
	if m.awaiting || m.have < m.g {
		// Waiting for a state transfer (awaiting: from the end of the state exchange that
		// made this member ask for one until transferred has drained the queue), or its
		// history is behind: keep the live write-set, in order, for after it. Even with
		// nothing missing (a restarted member at the group's seqno that asked for the
		// preload-only IST) it is not certified now, against an index the preload has not
		// rebuilt yet, as a Galera joiner keeps everything delivered after its primary
		// view in its receive queue until its state transfer is done.
		m.g++
		m.joinQueue = append(m.joinQueue, cached{g: m.g, action: d.Action})
		return
	}
	var own *protocols.WriteSet
	if d.Source == m.self {
		own = m.pending[id]
		delete(m.pending, id)
		if own == nil {
			for i := range m.fence {
				if m.fence[i].id == id {
					m.fence[i].seqno = m.g + 1
				}
			}
		} else {
			m.stats.sendQueue--
		}
	}
	m.g++
	m.ordered(m.g, d.Action, id, own)
}

// unordered drops a write-set delivered while the primary view's state exchange is still
// running, or sent by a member that is not DONOR, JOINED or SYNCED in the group's table, as
// gcs_group_handle_act_msg does: it gives a seqno only "in PRIM (skip messages while in
// state exchange)" and only to a sender whose status is at least DONOR. Such a write-set
// can be delivered because a client's COMMIT may reach a member between its EVS installing
// a view and its handling of it, so the write-set leaves in the new view ahead of the state
// messages. Every member sees the same delivery order and the same table, so every member
// drops it and none gives it a seqno; numbering it would be wrong on a member whose history
// is behind, which has not yet learned the group's position from the exchange (it would
// take the position after its own, and then be out of step with the group for ever). Its
// sender's client fails as one whose node left the primary component does (-ERESTART in
// gcs, a failed commit, not a certification conflict); a detached one's fence is lifted,
// since it will never be applied anywhere.
func (m *Machine) unordered(source int, id uint64) {
	m.stats.unordered++
	if source != m.self {
		return
	}
	if _, ok := m.pending[id]; ok {
		delete(m.pending, id)
		m.stats.sendQueue = max(m.stats.sendQueue-1, 0)
		m.emit(Verdict{ID: id, Outcome: NotReady})
		return
	}
	m.fence = slices.DeleteFunc(m.fence, func(f fenced) bool { return f.id == id })
}

// ordered certifies the write-set action at position g (own: this node's client waits
// for it, under action id id) and hands it to the appliers, or cancels its slot. It also
// keeps it in gcache, with its verdict. A write-set of this node whose client is gone (failed by a view
// change, then ordered by the primary side's transitional delivery, or replayed by IST) is
// applied like a remote one.
func (m *Machine) ordered(g int64, action []byte, id uint64, own *protocols.WriteSet) {
	m.have = g
	_, n := binary.Uvarint(action[1:])
	body := action[1+n:]
	ws := own
	if own == nil {
		var err error
		ws, _, err = protocols.DecodeWriteSet(body)
		if err != nil {
			// Every member must keep the same seqno sequence, so a write-set this node
			// cannot read still takes its slot; it is counted as an apply error.
			m.stats.applyErrors++
			m.cacheAdd(g, action, false)
			m.cancel(g)
			return
		}
		m.stats.received++
		m.stats.receivedBytes += int64(len(body))
	}
	ws.Seqno = g
	if m.cert.Position() != g-1 {
		// Only after an SST whose certification preload ran short: start the index here.
		m.cert = cert.New(m.cfg.Cert, g-1)
	}
	v := m.cert.Certify(ws, own != nil)
	m.cacheAdd(g, action, v.OK)
	if !v.OK {
		m.cancel(g)
		m.cert.Committed(own != nil, ws.Snapshot, 0, 0, m.committed)
		if own != nil {
			m.emit(Verdict{ID: id, Outcome: Failed, Seqno: g, Reason: v.Reason})
		}
		return
	}
	if own != nil {
		m.emit(Verdict{ID: id, Outcome: Certified, Seqno: g, Depends: ws.DependsSeqno})
		return
	}
	m.enqueue(Apply{WS: ws, Bytes: len(body)})
}

// enqueue hands a remote write-set to the appliers through the receive queue: flow control
// counts it (the driver's Dequeued counts it out again) and sends STOP past the limit.
func (m *Machine) enqueue(a Apply) {
	m.emit(a)
	stop := m.fc.Pushed()
	m.stats.recvSum += float64(m.fc.QueueLen)
	m.stats.recvN++
	if stop {
		m.evs.Propose([]byte{actFlow, 1})
	}
}

// Withdrawal is what became of a local write-set whose client stopped waiting (Withdraw).
type Withdrawal uint8

// The answers of Withdraw.
const (
	// Decided: the verdict was already given (or the node failed the write-set): the
	// client reads it.
	Decided Withdrawal = iota
	// Withdrawn: it had not left (send window, a state exchange): it is gone, nobody will
	// order it.
	Withdrawn
	// Detached: it had left, so it holds a place in the total order; the client is released
	// and the node will certify it and apply it like a remote write-set.
	Detached
	// Sent: it had left and the client must keep waiting (a brute-force abort).
	Sent
)

// Withdraw handles a client that stopped waiting for its write-set id. A write-set that has
// not left (held for a state exchange, or queued behind the send window) is taken back: no
// member will ever see it. One that has left is detached when detach is set: every member
// that delivers it, this one included, certifies it deterministically, so this node must
// end up with the same outcome as the others; it gets it by forgetting the client and
// treating the write-set, when it comes, as a remote one (ordered decodes it, certifies it
// as the others do and hands it to an applier, whose PrepareApply takes the rows back from
// the client's transaction once storage has rolled it back). That is the path IST already
// takes for a write-set of this node whose client got 1047 in a view change. Cancelling
// the slot here instead would diverge: the others commit it.
func (m *Machine) Withdraw(id uint64, detach bool) Withdrawal {
	ws, ok := m.pending[id]
	if !ok {
		return Decided
	}
	match := func(a []byte) bool { return actionID(a) == id }
	if i := slices.IndexFunc(m.held, match); i >= 0 {
		// Held actions of an old view were not delivered by anyone (the new primary view's
		// transitional delivery would have included them), so dropping them is safe too.
		m.held = slices.Delete(m.held, i, i+1)
	} else if !m.evs.Withdraw(match) {
		if !detach {
			return Sent
		}
		f := fenced{id: id}
		for _, k := range ws.Keys {
			if len(k.Row) > 0 {
				f.keys = append(f.keys, cert.HashKey(k.Table, k.Index, k.Row))
			}
		}
		m.fence = append(m.fence, f)
		delete(m.pending, id)
		m.stats.sendQueue = max(m.stats.sendQueue-1, 0)
		m.stats.detached++
		return Detached
	}
	delete(m.pending, id)
	m.stats.sendQueue = max(m.stats.sendQueue-1, 0)
	m.stats.withdrawn++
	return Withdrawn
}

// fencedOut reports whether ws touches a row of a detached write-set that is not yet
// applied here. Its client may have read that row before the detached write-set's rows
// were written, because storage released the row locks when the detached client returned;
// and certification would let it through everywhere, since a write-set never conflicts
// with an earlier one from its own node (Galera leaves same-node conflicts to the row
// locks, which the detached client no longer holds). It is refused before it is sent,
// with 1213, the answer certification would give if the exemption did not apply; being
// unsent, no other node ever sees it. Once the detached write-set is applied (or
// cancelled) here the fence is lifted: a transaction that still held one of its rows then
// was brute-force aborted by the applier. A non-primary view lifts every fence, since the
// node serves nothing until a state transfer has brought it whatever the others committed.
func (m *Machine) fencedOut(ws *protocols.WriteSet) bool {
	if len(m.fence) == 0 {
		return false
	}
	done := m.committed
	m.fence = slices.DeleteFunc(m.fence, func(f fenced) bool { return f.seqno > 0 && f.seqno <= done })
	for _, f := range m.fence {
		for _, k := range ws.Keys {
			if len(k.Row) > 0 && slices.Contains(f.keys, cert.HashKey(k.Table, k.Index, k.Row)) {
				m.stats.fencedConflicts++
				return true
			}
		}
	}
	return false
}
