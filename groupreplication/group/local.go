package group

import (
	"time"

	"github.com/replbench/replbench/groupreplication/flowcontrol"
)

// Local events: what happens on this member outside the agreed order.

// aliveEvery is how often, in ticks, a member sends every peer an "I am alive" beacon for
// the failure detector (XCom's detector exchanges them about twice a second).
const aliveEvery = 5

// campaignEvery is how often, in ticks, the notifier repeats a campaign that did not
// produce a leader.
const campaignEvery = 10

// Start joins the group at bootstrap: RECOVERING until the first primary (single-primary)
// or raft leader (multi-primary) is known; this member's weight goes through the log for
// elections; n1 campaigns so that the first raft leader, and so the first primary, is n1.
// now restarts the failure detector's clock.
func (m *Machine) Start(now time.Time) Effects {
	m.state = Recovering
	m.det.Reset(now)
	msg := m.message(KindWeight)
	msg.ID = int64(m.cfg.MemberWeight)
	eff := m.ProposeControl(msg)
	eff.Campaign = m.cfg.Self == 0
	return eff
}

// Restart is a member started again after a stop, kill or crash while the group ran on
// (Config.Incarnation is new): RECOVERING, with no client and no proposal of its earlier
// life. Its driver redelivers the agreed log from the beginning, so the machine rebuilds
// the certifier, the view, the primary and the delivered ids as every member built them
// (the engine already holds the transactions up to its recovered position; the driver
// skips applying those), and it asks to join at once: the join is ordered after whatever
// the group agreed meanwhile, everything before it is what it must apply before ONLINE
// (distributed recovery: the leader's log is the donor). A restarted server is a new
// incarnation: if it came back within the suspicion and expel timeouts, the view still
// holds its earlier incarnation (UNREACHABLE to the others, whose detectors do not count
// the new incarnation's frames for the old), the join is refused, and the member waits,
// RECOVERING and read-only, until the old incarnation is expelled (and, if it was the
// primary, another member elected), then joins as a new member. Only this incarnation's
// messages count as its own. now restarts the failure detector's clock.
func (m *Machine) Restart(now time.Time) Effects {
	m.state = Recovering
	m.joining = true
	m.det.Reset(now)
	eff := m.Join()
	eff.Changed = true
	return eff
}

// Leave is STOP GROUP_REPLICATION (and a clean server shutdown) on a member of the
// group: the member proposes its own removal from the view, which XCom orders like any
// configuration change (remove_node for itself), so every member installs the smaller
// view at the same point of the order as soon as it is delivered: no suspicion (5 s),
// no group_replication_member_expel_timeout, and, if it was the primary, the new primary
// elected at once. A killed member is silent instead and is expelled only after both
// timeouts. When the removal is delivered here the member is OFFLINE (Effects.Left),
// not ERROR: it left, nobody expelled it, so no auto-rejoin. A member alone in its view
// has nobody to tell and is OFFLINE at once. The removal needs an agreement like any
// message: a member cut off from the majority never sees it delivered, and its
// shutdown goes on without it (the driver bounds the wait; the others then expel it).
func (m *Machine) Leave() (eff Effects) {
	self, inc := m.cfg.Self, m.cfg.Incarnation
	if !m.view.Holds(self, inc) || (m.state != Online && m.state != Recovering) {
		return eff
	}
	if m.view.Size() == 1 {
		m.leaveDone(&eff)
		return eff
	}
	m.leaving = true
	msg := m.message(KindExpel)
	msg.ID, msg.TargetInc = int64(self), inc
	return m.ProposeControl(msg)
}

// leaveDone is this member's own removal delivered (or not needed): OFFLINE, its waiting
// clients rolled back, the shutdown may go on.
func (m *Machine) leaveDone(eff *Effects) {
	m.leaving, m.left = false, true
	m.state = Offline
	m.paused = true // out of the group: nothing more is applied here
	m.joining, m.joined, m.joinRefused = false, false, false
	clear(m.waiting)
	clear(m.syncing)
	eff.RolledBack, eff.Changed, eff.Left = true, true, true
}

// Stop is a shutdown: OFFLINE, and every waiting client rolled back.
func (m *Machine) Stop() (eff Effects) {
	m.state = Offline
	clear(m.waiting)
	clear(m.syncing)
	eff.RolledBack, eff.Changed = true, true
	return eff
}

// Submit sends one of this member's transactions (data is its encoded KindTxn message with
// proposal id id): its client waits for the Verdict. The proposal is kept until delivered,
// to be sent again if it is lost.
func (m *Machine) Submit(id int64, data []byte) Effects { return m.submit(m.waiting, id, data) }

// submit registers a client waiting under id in waits and sends its proposal.
func (m *Machine) submit(waits map[int64]bool, id int64, data []byte) (eff Effects) {
	waits[id] = true
	m.pending[id] = m.track(data)
	eff.propose(data)
	return eff
}

// Abandon is the client of transaction id giving up before its verdict. It reports whether
// the client was still waiting; if so, the transaction (which may still be delivered) is
// then applied here like a remote one, so the members stay identical. If not, the verdict
// is already on its way.
func (m *Machine) Abandon(id int64) bool {
	if !m.waiting[id] {
		return false
	}
	delete(m.waiting, id)
	return true
}

// SubmitSync sends a BEFORE sync message (data, with token id): its client waits for the
// SyncDone.
func (m *Machine) SubmitSync(id int64, data []byte) Effects { return m.submit(m.syncing, id, data) }

// WithdrawSync is the client of sync id giving up: nothing waits for it, and it is not
// sent again.
func (m *Machine) WithdrawSync(id int64) {
	delete(m.syncing, id)
	delete(m.pending, id)
}

// Prepare reports that this member prepared the AFTER transaction at position seq: the
// message goes to the group (kept until delivered), and the transaction waits
// (WaitPrepared) for every member's.
func (m *Machine) Prepare(seq int64) (eff Effects) {
	msg := m.message(KindPrepared)
	msg.ID = seq
	data := AppendMessage(nil, &msg)
	m.prepares[seq] = m.track(data)
	eff.propose(data)
	return eff
}

// Tick is one tick of the agreement layer's clock, with what the driver observed since the
// previous one.
type Tick struct {
	// Now is the instant of the tick: the failure detector's timeouts compare against it.
	Now time.Time
	// Heard holds, by member index, the last instant a frame arrived from that member since
	// the previous tick (zero: none), and HeardInc the incarnation that sent it (missing: 0).
	// A restarted member's frames do not keep its previous incarnation alive: the view's
	// old incarnation is suspected after its silence and expelled as any failed member.
	Heard    []time.Time
	HeardInc []int64
	// Lead is the raft leader's member index (-1: none) and IsLeader whether it is this
	// member, as the agreement layer last reported them.
	Lead     int
	IsLeader bool
}

// Tick advances the failure detector and acts on its report: suspicions, the majority
// lost or found, unreachable_majority_timeout, expulsions proposed by the notifier, the
// notifier's campaign when it suspects the raft leader, and the raft leader's hand-over
// to the elected primary.
func (m *Machine) Tick(t Tick) (eff Effects) {
	m.ticks++
	eff.Beacon = m.ticks%aliveEvery == 0
	for i, h := range t.Heard {
		if h.IsZero() {
			continue
		}
		var inc int64
		if i < len(t.HeardInc) {
			inc = t.HeardInc[i]
		}
		m.heardInc[i] = inc
		if !m.view.In(i) || m.view.Incarnation(i) == inc {
			m.det.Heard(i, h)
		}
	}
	rep := m.det.Tick(t.Now)
	changed := m.majorityLost != rep.MajorityLost
	for i, u := range rep.Unreachable {
		changed = changed || m.unreachable[i] != u
	}
	m.unreachable, m.majorityLost = rep.Unreachable, rep.MajorityLost
	member := m.state == Online && m.view.Holds(m.cfg.Self, m.cfg.Incarnation)
	if rep.GiveUp && (m.state == Online || m.state == Recovering) {
		m.goError("group_replication_unreachable_majority_timeout expired without a majority", &eff)
		changed = true
	}
	eff.Changed = eff.Changed || changed
	if member {
		// The notifier does not wait for raft's own randomised election timeout (5-10 s,
		// and split votes) once it suspects the raft leader: it campaigns at once, so a
		// leader is in place when the expulsion needs one.
		if rep.Notifier == m.cfg.Self && !t.IsLeader && (t.Lead < 0 || rep.Unreachable[t.Lead]) &&
			m.ticks-m.campaign >= campaignEvery {
			m.campaign = m.ticks
			eff.Campaign = true
		}
		for _, x := range rep.Expel {
			msg := m.message(KindExpel)
			msg.ID, msg.TargetInc = int64(x), m.view.Incarnation(x)
			eff.proposeMessage(&msg)
		}
	}
	m.checkOrphaned(t.Now, rep.Unreachable, &eff)
	if m.state == Online || m.state == Recovering {
		m.resendOverdue(&eff)
	}
	// Keep the raft leader on the primary Group Replication elected, so the primary's
	// commits pay no forwarding hop: a leader that is not the primary hands leadership
	// over, unless it suspects the primary (the transfer could not complete) or hears
	// the primary's member only as another incarnation (the primary it elected is dead; a
	// restarted server on the same raft peer is not it). A member that has just left the
	// group (Leave) hands it over too, before its shutdown takes the raft peer away: to
	// the primary, or in multi-primary mode to the first member of the view it hears.
	if t.IsLeader && (m.cfg.SinglePrimary || m.left) {
		to := m.primary
		if !m.cfg.SinglePrimary {
			to = -1
			for i := range m.cfg.Members {
				if i != m.cfg.Self && m.view.In(i) && !m.unreachable[i] && m.heardInc[i] == m.view.Incarnation(i) {
					to = i
					break
				}
			}
		}
		if to >= 0 && to != m.cfg.Self && m.view.In(to) && !m.unreachable[to] &&
			m.heardInc[to] == m.view.Incarnation(to) && (m.state == Online || m.joining || m.left) {
			eff.Transfer, eff.TransferTo = true, to
		}
	}
	return eff
}

// LeaderChanged records the raft leader (lead -1: none known). At bootstrap the first
// leader (n1, which campaigns at start) announces itself as the primary through the log;
// later primaries are elected from the view and the leader follows them (Tick). A leader
// that held proposals and never committed them took them with it, so every proposal still
// undelivered is sent again at once (delivery drops the duplicates).
func (m *Machine) LeaderChanged(lead int, isLeader bool) (eff Effects) {
	m.lead = lead
	announce := isLeader && m.cfg.SinglePrimary && !m.everPrimary && m.primary != m.cfg.Self
	if !m.cfg.SinglePrimary && lead >= 0 && m.state == Recovering && !m.joining {
		m.state = Online
	}
	eff.Changed = true
	if lead >= 0 {
		m.resendAll(&eff)
	}
	if announce {
		eff.Proposals = append(eff.Proposals, m.ProposeControl(m.message(KindNewPrimary)).Proposals...)
	}
	return eff
}

// Queues are the driver's counters a stats message carries besides the certifier's.
type Queues struct {
	CertQueue  int64 // delivered transactions not yet certified (COUNT_TRANSACTIONS_IN_QUEUE)
	ApplyQueue int64 // certified remote transactions not yet applied
	Applied    int64 // remote transactions applied so far
	Local      int64 // local transactions proposed so far
}

// FlowControlTick is the flow-control period: the quota loop steps (releasing the writers
// that waited for it) and, while ONLINE, this member's pipeline stats go to the group.
func (m *Machine) FlowControlTick(q Queues) (eff Effects) {
	m.fc.Step()
	eff.FlowStep = true
	if m.state != Online {
		return eff
	}
	msg := m.message(KindStats)
	msg.Stats = statsOf(q, m.cert.Stats().Checked)
	eff.proposeMessage(&msg)
	return eff
}

func statsOf(q Queues, certified int64) flowcontrol.Stats {
	return flowcontrol.Stats{CertQueue: q.CertQueue, ApplyQueue: q.ApplyQueue, Certified: certified, Applied: q.Applied, Local: q.Local}
}

// GTIDExecutedTick is the gtid_executed broadcast period: while ONLINE, this member tells
// the group what it has committed (lastCommitted), for the certifier's garbage collection.
func (m *Machine) GTIDExecutedTick(lastCommitted int64) (eff Effects) {
	if m.state == Online {
		msg := m.message(KindGTIDExecuted)
		msg.ID = lastCommitted
		eff.proposeMessage(&msg)
	}
	return eff
}

// LogLost is raft sending a snapshot at index at instead of entries: what this member
// missed is gone from every cache. A member still in the group leaves it and will rejoin
// by clone; one already out of it (ERROR, or in the middle of a clone) just needs a newer
// state, which the clone notices from LostLog.
func (m *Machine) LogLost(at uint64) (eff Effects) {
	m.lostLog = true
	m.lostAt = max(m.lostAt, at)
	if !m.paused {
		m.goError("the messages this member missed are no longer in any member's cache (group_replication_message_cache_size); it rejoins by clone", &eff)
	}
	return eff
}

// LogRecovered reports that a clone brought this member's state to where the log
// continues.
func (m *Machine) LogRecovered() { m.lostLog = false }

// checkOrphaned is a restarted member whose join is refused finding that no member of the
// view is alive as the incarnation the view holds (the whole group went down and came
// back): nobody is left to expel the old incarnations, so, once the expel timeout has run
// out on that silence too, it reboots the group (KindReboot, the model's
// group_replication_bootstrap_group) and joins the new one; the other restarted members
// do the same, and the first ONLINE becomes the primary.
func (m *Machine) checkOrphaned(now time.Time, unreachable []bool, eff *Effects) {
	if !m.joining || !m.joinRefused {
		m.orphanSince = time.Time{}
		return
	}
	for i := range m.cfg.Members {
		if i != m.cfg.Self && m.view.In(i) && !unreachable[i] {
			m.orphanSince = time.Time{}
			return
		}
	}
	if m.orphanSince.IsZero() {
		m.orphanSince = now
		return
	}
	if now.Sub(m.orphanSince) >= m.cfg.ExpelTimeout && m.control[KindReboot] == nil {
		eff.Proposals = append(eff.Proposals, m.ProposeControl(m.message(KindReboot)).Proposals...)
	}
}
