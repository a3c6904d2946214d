package group

// View changes, primary elections and this member leaving and rejoining the group.
//
// Suspicion is local (Tick); expulsion, joining and going ONLINE are agreed messages, so
// every member applies them at the same point of the order and elects the same primary.
// A member learns it was expelled from the log itself, which is why a member cut off in a
// minority keeps believing it is ONLINE until the partition heals.

// viewChange processes the view-change messages, in delivery order.
func (m *Machine) viewChange(msg *Message, eff *Effects) {
	m.controlDelivered(msg)
	self := m.cfg.Self
	switch msg.Kind {
	case KindWeight:
		m.view.SetWeight(msg.Origin, int(msg.ID))
	case KindExpel:
		target := int(msg.ID)
		if !m.fromView(msg) || !m.view.Expel(target, msg.TargetInc) {
			return
		}
		m.viewChanged(eff)
		mine := msg.TargetInc == m.cfg.Incarnation
		switch {
		case target == self && mine && m.leaving:
			m.leaveDone(eff) // its own STOP GROUP_REPLICATION (Leave)
		case target == self && mine && !m.joining:
			m.goError("expelled from the group", eff)
		case target == self && mine && m.joined:
			// Expelled while it recovered (its join went through and the group lost
			// it again): join again.
			m.goError("expelled from the group while recovering", eff)
		case target == self && m.joining && m.joinRefused:
			// This member's previous incarnation is gone: the new one may join now, as
			// a new member (XCom's START GROUP_REPLICATION retried).
			m.joinRefused = false
			eff.Proposals = append(eff.Proposals, m.Join().Proposals...)
		}
		if m.cfg.SinglePrimary && target == m.primary {
			// Every member elects from the same view: the same primary everywhere.
			m.becomePrimary(m.view.Elect(), eff)
		}
		eff.Changed = true
	case KindReboot:
		// Only a restarted member of this group (its earlier incarnation in the view) may
		// reboot it; raft orders the message only with a majority of live peers.
		if !m.view.In(msg.Origin) || m.view.Holds(msg.Origin, msg.Inc) {
			return
		}
		for i := range m.cfg.Members {
			m.view.Expel(i, m.view.Incarnation(i))
		}
		m.viewChanged(eff)
		m.primary, m.primaryChange = -1, false
		if m.joining && m.joinRefused {
			m.joinRefused = false
			eff.Proposals = append(eff.Proposals, m.Join().Proposals...)
		}
		eff.Changed = true
	case KindJoin:
		if m.view.Join(msg.Origin, msg.Inc) {
			m.view.SetWeight(msg.Origin, int(msg.ID))
			m.viewChanged(eff)
		}
		if m.own(msg) && m.joining {
			if !m.view.Holds(self, m.cfg.Incarnation) {
				// The view still holds this member's previous incarnation (it came back
				// before the group expelled it): the server refuses the join ("There
				// is already a member with server_uuid ..."). It stays out, RECOVERING
				// and read-only, and joins again once that incarnation is expelled.
				m.joinRefused = true
				eff.Changed = true
				return
			}
			m.joined = true
			// The view-change marker: everything ordered before it is what this member
			// missed. Once it has applied it all (recovery_complete_at
			// TRANSACTIONS_APPLIED), it declares itself ONLINE.
			eff.Awaits = append(eff.Awaits, Await{Position: m.cert.Stats().Seqno, Then: m.message(KindOnline)})
		}
		eff.Changed = true
	case KindOnline:
		m.view.SetOnline(msg.Origin, msg.Inc)
		if m.own(msg) && m.joining {
			m.joining, m.joined = false, false
			m.state = Online
			m.rejoinAttempts = 0
			m.exitTaken = false
			if m.cfg.SinglePrimary && m.primary == self && m.primaryChange {
				// Elected while it was away (or it crashed before its backlog was
				// applied): it finishes the primary change now.
				eff.Awaits = append(eff.Awaits, Await{Position: m.cert.Stats().Seqno, Then: m.message(KindQueueApplied)})
			}
		}
		if m.cfg.SinglePrimary && m.everPrimary && !m.view.In(m.primary) {
			// No primary was left to elect from until now.
			m.becomePrimary(m.view.Elect(), eff)
		}
		eff.Changed = true
	}
}

// viewChanged tells the detector and re-checks what waits on "every member".
func (m *Machine) viewChanged(eff *Effects) {
	m.det.SetView(m.view.Members())
	m.recheckPrepared(eff)
}

// becomePrimary makes np the primary: conflict detection is on until the new primary has
// applied its backlog (QUEUE_APPLIED), and with BEFORE_ON_PRIMARY_FAILOVER it holds new
// transactions until then.
func (m *Machine) becomePrimary(np int, eff *Effects) {
	m.primary = np
	m.everPrimary = true
	if np < 0 {
		m.primaryChange = false
		return
	}
	m.primaryChange = true
	if m.cfg.SinglePrimary {
		// The old primary's in-flight writes are certified against the new one's.
		m.cert.SetConflictDetection(true)
	}
	if np != m.cfg.Self || m.state != Online {
		return
	}
	// Apply the buffered transactions, then tell the group the queue is applied.
	eff.Awaits = append(eff.Awaits, Await{Position: m.cert.Stats().Seqno, Then: m.message(KindQueueApplied)})
}

// goError takes this member out of service: ERROR and super_read_only, pending
// transactions rolled back (their clients get an error; one that the group had already
// ordered may still commit everywhere, exactly the server's ambiguity), agreed messages
// held where they are until a rejoin resumes them.
func (m *Machine) goError(reason string, eff *Effects) {
	m.state = Error
	m.errorReason = reason
	m.paused = true
	m.leaving = false
	m.joining, m.joined, m.joinRefused = false, false, false
	clear(m.waiting)
	clear(m.syncing)
	clear(m.pending)
	clear(m.control)
	clear(m.prepares)
	eff.RolledBack = true
	eff.Changed = true
	eff.Rejoin = true
}

// ProposeControl proposes a membership or primary-change message of this member and keeps
// it until it is delivered (retransmit.go). They are idempotent, so a duplicate changes
// nothing.
func (m *Machine) ProposeControl(msg Message) (eff Effects) {
	data := AppendMessage(nil, &msg)
	m.control[msg.Kind] = m.track(data)
	eff.propose(data)
	return eff
}

// own reports whether msg is this member's own, from this incarnation (a restarted
// member's log holds its previous lives' messages too).
func (m *Machine) own(msg *Message) bool {
	return msg.Origin == m.cfg.Self && msg.Inc == m.cfg.Incarnation
}

// fromView reports whether msg comes from a member the view holds, as the incarnation
// that sent it: XCom discards messages from a node that is not in the current
// configuration, so what an expelled or replaced incarnation had in flight counts for
// nothing.
func (m *Machine) fromView(msg *Message) bool { return m.view.Holds(msg.Origin, msg.Inc) }

// message returns a message of this member (origin and incarnation filled in).
func (m *Machine) message(k Kind) Message {
	return Message{Kind: k, Origin: m.cfg.Self, Inc: m.cfg.Incarnation}
}

// controlDelivered forgets a control message of this member once delivered.
func (m *Machine) controlDelivered(msg *Message) {
	if m.own(msg) {
		m.arrived(m.control[msg.Kind])
		delete(m.control, msg.Kind)
	}
}

// NextRejoin is group_replication_autorejoin_tries, asked each time the driver may start
// an attempt (at once after Effects.Rejoin, then every autorejoin interval): attempt
// reports whether to try (first: the first of this stay in ERROR, which goes at once); when
// the tries are used up the exit action holds and it reports false.
func (m *Machine) NextRejoin() (attempt, first bool, eff Effects) {
	if m.state != Error {
		return false, false, eff
	}
	if m.rejoinAttempts >= m.cfg.AutorejoinTries {
		m.exitTaken = true
		eff.Changed = true
		return false, false, eff
	}
	m.rejoinAttempts++
	m.rejoinTotal++
	return true, m.rejoinAttempts == 1, eff
}

// BeginRejoin starts one rejoin attempt of a member in ERROR that reaches a majority again:
// RECOVERING. If the log still reaches back to where it stopped, its held messages resume
// at once (incremental recovery: the agreed log plays the donor's binary log) and the
// driver proposes the join (Join); otherwise clone reports that it must first clone a
// donor's state. ok is false if the member is not in ERROR any more.
func (m *Machine) BeginRejoin() (ok, clone bool, eff Effects) {
	if m.state != Error {
		return false, false, eff
	}
	m.state = Recovering
	m.joining = true
	if !m.lostLog {
		m.paused = false
	}
	eff.Changed = true
	return true, m.lostLog, eff
}

// CloneInstalled resumes the held messages after a clone. It reports false if the attempt
// was abandoned meanwhile (the member is no longer RECOVERING).
func (m *Machine) CloneInstalled() bool {
	if m.state != Recovering {
		return false
	}
	m.paused = false
	return true
}

// Join is this member's request to (re)join the view, once its state is where the group's
// log continues: everything ordered before the join is what it must apply before ONLINE.
func (m *Machine) Join() Effects {
	m.joined = false
	msg := m.message(KindJoin)
	msg.ID = int64(m.cfg.MemberWeight)
	return m.ProposeControl(msg)
}

// RejoinFailed ends a rejoin attempt that did not finish (a clone that failed, recovery
// that ran out of time): back to ERROR, so the next attempt may follow.
func (m *Machine) RejoinFailed(reason string) (eff Effects) {
	if m.state == Recovering {
		m.goError(reason, &eff)
	}
	return eff
}
