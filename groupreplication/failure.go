package groupreplication

import (
	"context"
	"strings"
	"time"

	"github.com/replbench/replbench/groupreplication/membership"
	"github.com/replbench/replbench/protocols"
)

// aliveEvery is how often, in raft ticks, a member sends every peer an "I am alive" beacon
// for the failure detector (XCom's detector exchanges them about twice a second).
const aliveEvery = 5

// campaignEvery is how often, in raft ticks, the notifier repeats a campaign that did
// not produce a leader.
const campaignEvery = 10

// MemberRow is one row of performance_schema.replication_group_members as this member
// sees it.
type MemberRow struct {
	ID    string // MEMBER_ID (server_uuid)
	Host  string // MEMBER_HOST (node name)
	State string // MEMBER_STATE: ONLINE, RECOVERING, UNREACHABLE, ERROR, OFFLINE
	Role  string // MEMBER_ROLE: PRIMARY or SECONDARY
}

// Members returns replication_group_members as this member sees it. A member in ERROR or
// OFFLINE shows only itself, as the server does; otherwise every member of its view, with
// the ones it suspects shown UNREACHABLE.
func (p *Provider) Members() []MemberRow {
	p.mu.Lock()
	defer p.mu.Unlock()
	role := func(i int) string {
		if !p.set.SinglePrimary || i == p.primary {
			return "PRIMARY"
		}
		return "SECONDARY"
	}
	if p.state == stateError || p.state == stateOffline {
		return []MemberRow{{ID: memberUUID(p.cfg.Node), Host: p.cfg.Node, State: p.state, Role: "SECONDARY"}}
	}
	var rows []MemberRow
	for i, node := range p.cfg.Members {
		if !p.view.In(i) && i != p.self {
			continue
		}
		st := p.view.State(i).String()
		switch {
		case i == p.self:
			st = p.state
		case p.unreachable[i]:
			st = "UNREACHABLE"
		}
		rows = append(rows, MemberRow{ID: memberUUID(node), Host: node, State: st, Role: role(i)})
	}
	return rows
}

func formatMembers(rows []MemberRow) string {
	parts := make([]string, len(rows))
	for i, r := range rows {
		parts[i] = r.Host + "=" + r.State + "/" + r.Role
	}
	return strings.Join(parts, ",")
}

// detectorTick runs on every raft tick: it sends the alive beacon when due, advances the
// failure detector and acts on its report.
func (p *Provider) detectorTick(ticks int) {
	if ticks%aliveEvery == 0 {
		beacon := []byte{frameAlive}
		for i, node := range p.cfg.Members {
			if i != p.self {
				_ = p.cfg.Endpoint.Send(node, beacon)
			}
		}
	}
	p.detMu.Lock()
	rep := p.det.Tick(time.Now())
	p.detMu.Unlock()
	p.mu.Lock()
	changed := p.majorityLost != rep.MajorityLost
	for i, u := range rep.Unreachable {
		changed = changed || p.unreachable[i] != u
	}
	p.unreachable, p.majorityLost = rep.Unreachable, rep.MajorityLost
	member := p.state == stateOnline && p.view.In(p.self)
	if rep.GiveUp && (p.state == stateOnline || p.state == stateRecovering) {
		p.goErrorLocked("group_replication_unreachable_majority_timeout expired without a majority")
		changed = true
	}
	if changed {
		p.notifyLocked()
	}
	p.mu.Unlock()
	if !member {
		return
	}
	// The notifier does not wait for raft's own randomised election timeout (5-10 s, and
	// split votes) once it suspects the raft leader: it campaigns at once, so a leader is
	// in place when the expulsion needs one.
	if lead := int(p.node.Lead()) - 1; rep.Notifier == p.self && !p.node.IsLeader() &&
		(lead < 0 || rep.Unreachable[lead]) && ticks-p.lastCampaign >= campaignEvery {
		p.lastCampaign = ticks
		_ = p.node.Campaign()
	}
	for _, m := range rep.Expel {
		p.propose(appendMessage(nil, &message{Kind: kindExpel, Origin: p.self, ID: int64(m)}))
	}
}

// heard feeds the failure detector: any frame from a peer shows it is alive.
func (p *Provider) heard(from string) {
	for i, node := range p.cfg.Members {
		if node == from {
			p.detMu.Lock()
			p.det.Heard(i, time.Now())
			p.detMu.Unlock()
			return
		}
	}
}

// goErrorLocked takes this member out of service: ERROR and super_read_only, pending
// transactions rolled back (their clients get an error; one that the group had already
// ordered may still commit everywhere, exactly the server's ambiguity), the pipeline held
// where it is until a rejoin resumes it. p.mu held.
func (p *Provider) goErrorLocked(reason string) {
	p.state = stateError
	p.errorReason = reason
	p.paused = true
	p.joining = false
	for id, ch := range p.waiters {
		close(ch)
		delete(p.waiters, id)
	}
	for id, ch := range p.syncs {
		close(ch)
		delete(p.syncs, id)
	}
	p.pendMu.Lock()
	clear(p.pending)
	clear(p.pendingCtl)
	p.pendMu.Unlock()
	p.notifyLocked()
	signal(p.rejoinWake)
}

// viewChangedLocked tells the detector and re-checks what waits on "every member".
func (p *Provider) viewChangedLocked() {
	p.detMu.Lock()
	p.det.SetView(p.view.Members())
	p.detMu.Unlock()
	for _, ps := range p.prepared {
		p.checkPreparedLocked(ps)
	}
}

// checkPreparedLocked completes an AFTER transaction once every member of the view has
// prepared it: an expelled member no longer holds the others back.
func (p *Provider) checkPreparedLocked(ps *prepareState) {
	select {
	case <-ps.done:
		return
	default:
	}
	for i := range p.cfg.Members {
		if p.view.In(i) && !ps.from[i] {
			return
		}
	}
	close(ps.done)
}

// becomePrimaryLocked makes np the primary: conflict detection is on until the new
// primary has applied its backlog (QUEUE_APPLIED), and with BEFORE_ON_PRIMARY_FAILOVER it
// holds new transactions until then. p.mu held.
func (p *Provider) becomePrimaryLocked(np int) {
	p.primary = np
	p.everPrimary = true
	if np < 0 {
		p.primaryChange = false
		return
	}
	p.primaryChange = true
	if p.set.SinglePrimary {
		// The old primary's in-flight writes are certified against the new one's.
		p.cert.SetConflictDetection(true)
	}
	backlog := p.cert.Stats().Seqno
	if np != p.self || p.state != stateOnline {
		return
	}
	// Apply the buffered transactions, then tell the group the queue is applied.
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		if p.commitMon.WaitFor(p.ctx, backlog) == nil {
			p.proposeControl(&message{Kind: kindQueueApplied, Origin: p.self})
		}
	}()
}

// handleMembership processes the view-change messages, in delivery order.
func (p *Provider) handleMembership(m *message) {
	p.controlDelivered(m)
	p.mu.Lock()
	defer p.mu.Unlock()
	switch m.Kind {
	case kindWeight:
		p.view.SetWeight(m.Origin, int(m.ID))
	case kindExpel:
		target := int(m.ID)
		if !p.view.In(m.Origin) || !p.view.Expel(target) {
			return
		}
		p.viewChangedLocked()
		if target == p.self && !p.joining {
			p.goErrorLocked("expelled from the group")
		}
		if p.set.SinglePrimary && target == p.primary {
			// Every member elects from the same view: the same primary everywhere.
			p.becomePrimaryLocked(p.view.Elect())
		}
		p.notifyLocked()
	case kindJoin:
		p.view.SetWeight(m.Origin, int(m.ID))
		if p.view.Join(m.Origin) {
			p.viewChangedLocked()
		}
		if m.Origin == p.self && p.joining {
			// The view-change marker: everything ordered before it is what this member
			// missed. Once it has applied it all (recovery_complete_at
			// TRANSACTIONS_APPLIED), it declares itself ONLINE.
			backlog := p.cert.Stats().Seqno
			p.wg.Add(1)
			go func() {
				defer p.wg.Done()
				if p.commitMon.WaitFor(p.ctx, backlog) == nil {
					p.proposeControl(&message{Kind: kindOnline, Origin: p.self})
				}
			}()
		}
		p.notifyLocked()
	case kindOnline:
		p.view.SetOnline(m.Origin)
		if m.Origin == p.self && p.joining {
			p.joining = false
			p.state = stateOnline
			p.rejoinAttempts = 0
			p.exitTaken = false
		}
		if p.set.SinglePrimary && p.everPrimary && !p.view.In(p.primary) {
			// No primary was left to elect from until now.
			p.becomePrimaryLocked(p.view.Elect())
		}
		p.notifyLocked()
	}
}

// acceptFromLocked decides, identically on every member, whether a transaction or sync
// message is processed: its origin must be in the view (an expelled member's late
// messages are dropped), and it must not repeat one already delivered (a proposal is sent
// again when the raft leader changes, since the old leader may have lost it).
func (p *Provider) acceptFromLocked(m *message) bool {
	if !p.view.In(m.Origin) {
		return false
	}
	d := &p.delivered[m.Origin]
	if d.ids == nil {
		d.ids = map[int64]struct{}{}
	}
	if _, dup := d.ids[m.ID]; dup || m.ID <= d.max-dedupWindow {
		return false
	}
	d.ids[m.ID] = struct{}{}
	d.max = max(d.max, m.ID)
	if len(d.ids) > 2*dedupWindow {
		for id := range d.ids {
			if id <= d.max-dedupWindow {
				delete(d.ids, id)
			}
		}
	}
	return true
}

// dedupWindow is how far behind the newest id of its origin a proposal may be delivered
// and still count: ids are taken before the proposal is queued, so concurrent clients'
// messages arrive slightly out of id order, and a re-sent proposal arrives soon after a
// leader change or not at all.
const dedupWindow = 1 << 14

// deliveredIDs is what one origin's transaction and sync messages have delivered. It
// evolves identically on every member, so every member drops the same duplicates.
type deliveredIDs struct {
	max int64
	ids map[int64]struct{}
}

// trackPending remembers a proposal that a client waits on, so it can be proposed again
// if a leader change loses it.
func (p *Provider) trackPending(id int64, data []byte) {
	p.pendMu.Lock()
	p.pending[id] = data
	p.pendMu.Unlock()
}

func (p *Provider) untrackPending(id int64) {
	p.pendMu.Lock()
	delete(p.pending, id)
	p.pendMu.Unlock()
}

// proposeControl proposes a membership or primary-change message of this member and
// keeps it until it is delivered: a leader that is handing leadership over drops
// forwarded proposals silently, so these are sent again at the next leader change. They
// are idempotent, so a duplicate changes nothing.
func (p *Provider) proposeControl(m *message) {
	data := appendMessage(nil, m)
	p.pendMu.Lock()
	p.pendingCtl[m.Kind] = data
	p.pendMu.Unlock()
	p.propose(data)
}

// controlDelivered forgets a control message of this member once delivered.
func (p *Provider) controlDelivered(m *message) {
	if m.Origin != p.self {
		return
	}
	p.pendMu.Lock()
	delete(p.pendingCtl, m.Kind)
	p.pendMu.Unlock()
}

// pendingProposals returns the tracked proposals: control messages first, then client
// proposals in id order.
func (p *Provider) pendingProposals() [][]byte {
	p.pendMu.Lock()
	defer p.pendMu.Unlock()
	var ctl [][]byte
	for _, d := range p.pendingCtl {
		ctl = append(ctl, d)
	}
	ids := make([]int64, 0, len(p.pending))
	for id := range p.pending {
		ids = append(ids, id)
	}
	for i := 1; i < len(ids); i++ {
		for j := i; j > 0 && ids[j] < ids[j-1]; j-- {
			ids[j], ids[j-1] = ids[j-1], ids[j]
		}
	}
	out := ctl
	for _, id := range ids {
		out = append(out, p.pending[id])
	}
	return out
}

// rejoiner is group_replication_autorejoin_tries: each time the member lands in ERROR it
// tries to rejoin, the first time at once and then every gr_model_autorejoin_interval;
// when the tries are used up, the exit action holds.
func (p *Provider) rejoiner() {
	defer p.wg.Done()
	for {
		select {
		case <-p.ctx.Done():
			return
		case <-p.rejoinWake:
		}
		for {
			p.mu.Lock()
			if p.state != stateError {
				p.mu.Unlock()
				break
			}
			if p.rejoinAttempts >= p.set.AutorejoinTries {
				p.exitTaken = true
				p.notifyLocked()
				p.mu.Unlock()
				break
			}
			p.rejoinAttempts++
			p.rejoinTotal++
			first := p.rejoinAttempts == 1
			p.mu.Unlock()
			if !first {
				select {
				case <-time.After(p.set.AutorejoinInterval):
				case <-p.ctx.Done():
					return
				}
			}
			p.attemptRejoin(p.ctx, p.set.AutorejoinInterval)
		}
	}
}

// Rejoin is a manual START GROUP_REPLICATION on a member in ERROR (for instance with
// group_replication_autorejoin_tries=0): it runs one rejoin attempt and returns once the
// member is ONLINE, or an error saying why not.
func (p *Provider) Rejoin(ctx context.Context) error {
	p.mu.Lock()
	st := p.state
	p.mu.Unlock()
	if st != stateError {
		return &protocols.Error{Code: 3093, SQLState: "HY000", Msg: "START GROUP_REPLICATION: member is " + st + ", not ERROR; nothing to rejoin", Cause: protocols.CauseOther}
	}
	if p.attemptRejoin(ctx, p.set.AutorejoinInterval) {
		return nil
	}
	return errNotOnline(stateError)
}

// attemptRejoin is one rejoin: if this member can reach a majority, it becomes
// RECOVERING, asks to join through the log, and resumes its held pipeline, which applies
// everything the group ordered since it stopped (incremental recovery: the agreed log
// plays the donor's binary log) up to its own join, then goes ONLINE. If the log no longer
// holds where it stopped, it first clones a donor's state (clone.go). It reports whether
// the member came ONLINE within limit.
func (p *Provider) attemptRejoin(ctx context.Context, limit time.Duration) bool {
	// Reach the group first: the attempt gives up if no majority answers within the
	// detector's window.
	connect := time.After(membership.DefaultSuspectAfter)
	p.mu.Lock()
	for p.majorityLost && p.state == stateError {
		ch := p.changed
		p.mu.Unlock()
		select {
		case <-ch:
		case <-connect:
			return false
		case <-ctx.Done():
			return false
		}
		p.mu.Lock()
	}
	if p.state != stateError {
		p.mu.Unlock()
		return false
	}
	p.state = stateRecovering
	p.joining = true
	lost := p.lostLog.Load()
	if !lost {
		p.paused = false
	}
	p.notifyLocked()
	p.mu.Unlock()
	if lost {
		// The log no longer reaches back to where this member stopped: clone first
		// (clone.go), then catch up from the log like any rejoin.
		if err := p.cloneFromGroup(ctx); err != nil {
			p.mu.Lock()
			if p.state == stateRecovering {
				p.goErrorLocked("distributed recovery by clone failed: " + err.Error())
			}
			p.mu.Unlock()
			return false
		}
		p.mu.Lock()
		if p.state != stateRecovering {
			p.mu.Unlock()
			return false
		}
		p.paused = false
		p.mu.Unlock()
	}
	p.proposeControl(&message{Kind: kindJoin, Origin: p.self, ID: int64(p.set.MemberWeight)})
	signal(p.pipeWake)
	deadline := time.After(limit)
	for {
		p.mu.Lock()
		st, ch := p.state, p.changed
		p.mu.Unlock()
		switch st {
		case stateOnline:
			return true
		case stateError:
			return false
		}
		select {
		case <-ch:
		case <-deadline:
			p.mu.Lock()
			if p.state == stateRecovering {
				p.goErrorLocked("distributed recovery did not finish in time")
			}
			p.mu.Unlock()
			return false
		case <-ctx.Done():
			return false
		}
	}
}

// refusal is what a member that is not ONLINE answers to a write: super_read_only (1290)
// while in ERROR or RECOVERING, or the exit action's error once auto-rejoin gave up.
func (p *Provider) refusalLocked() *protocols.Error {
	switch {
	case p.state == stateOffline:
		return errNotOnline(stateOffline)
	case p.exitTaken && strings.EqualFold(p.set.ExitAction, "OFFLINE_MODE"):
		return &protocols.Error{Code: 3032, SQLState: "HY000", Msg: "The server is currently in offline mode (group_replication_exit_state_action=OFFLINE_MODE; rejoin the member to serve again)", Cause: protocols.CauseNotReady}
	case p.exitTaken && strings.EqualFold(p.set.ExitAction, "ABORT_SERVER"):
		return &protocols.Error{Code: 2013, SQLState: "HY000", Msg: "Lost connection to MySQL server during query (group_replication_exit_state_action=ABORT_SERVER shut the member down)", Cause: protocols.CauseNotReady}
	}
	return protocols.ErrReadOnly()
}

// readAllowedLocked: super_read_only still serves reads (stale ones, on a member in
// ERROR); OFFLINE_MODE and ABORT_SERVER do not.
func (p *Provider) readRefusalLocked() *protocols.Error {
	if p.state == stateOffline {
		return errNotOnline(stateOffline)
	}
	if e := p.refusalLocked(); e.Code != protocols.ErOptionPreventsStatement {
		return e
	}
	return nil
}
