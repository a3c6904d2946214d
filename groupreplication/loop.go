package groupreplication

import (
	"errors"
	"time"

	"go.etcd.io/raft/v3/raftpb"

	"github.com/replbench/replbench/groupreplication/agreement"
	"github.com/replbench/replbench/groupreplication/certifier"
	"github.com/replbench/replbench/groupreplication/flowcontrol"
	"github.com/replbench/replbench/groupreplication/membership"
)

// receive is the bus handler: it decodes a frame and hands its raft messages to the raft
// loop without blocking the bus.
func (p *Provider) receive(from string, payload []byte) {
	if len(payload) == 0 {
		p.corruptFrames.Add(1)
		return
	}
	p.heard(from)
	switch payload[0] {
	case frameAlive:
		return
	case frameCloneRequest:
		p.cloneRequested(from, payload[1:])
		return
	case frameCloneData:
		p.cloneReceived(from, payload[1:])
		return
	}
	if payload[0] != frameRaft {
		p.corruptFrames.Add(1)
		return
	}
	msgs, err := decodeFrame(payload[1:])
	if err != nil {
		p.corruptFrames.Add(1)
		return
	}
	n := uint64(len(p.cfg.Members))
	kept := msgs[:0]
	for _, m := range msgs {
		if m.To == uint64(p.self+1) && m.From >= 1 && m.From <= n {
			kept = append(kept, m)
		}
	}
	p.inMu.Lock()
	p.inbox = append(p.inbox, kept)
	p.inMu.Unlock()
	signal(p.wake)
}

// raftLoop owns the agreement state machine: it ticks it, steps received messages into it,
// proposes, and acts on its output (send, deliver committed entries, follow the leader).
func (p *Provider) raftLoop() {
	defer p.wg.Done()
	ticker := time.NewTicker(p.set.RaftTick)
	defer ticker.Stop()
	if p.self == 0 {
		// n1 campaigns at start, so the primary (kept on the leader) is n1.
		_ = p.node.Campaign()
	}
	var retry [][]byte // proposals raft dropped for want of a leader
	bufs := map[uint64][]raftpb.Message{}
	ticks := 0
	for {
		ticked := false
		select {
		case <-p.ctx.Done():
			return
		case <-ticker.C:
			p.node.Tick()
			ticked = true
			ticks++
			p.detectorTick(ticks)
			p.followPrimary()
		case <-p.wake:
		}
		p.inMu.Lock()
		inbox, props := p.inbox, p.proposals
		p.inbox, p.proposals = nil, nil
		p.inMu.Unlock()
		for _, batch := range inbox {
			for _, m := range batch {
				_ = p.node.Step(m)
			}
		}
		if ticked && len(retry) > 0 && p.node.Lead() != 0 {
			props = append(retry, props...)
			retry = nil
		}
		for _, d := range props {
			if err := p.node.Propose(d); err != nil {
				if errors.Is(err, agreement.ErrDropped) {
					retry = append(retry, d)
				}
			}
		}
		out, ok := p.node.Ready()
		if !ok {
			continue
		}
		for _, m := range out.Messages {
			bufs[m.To] = append(bufs[m.To], m)
		}
		for to, msgs := range bufs {
			if len(msgs) == 0 {
				continue
			}
			frame, err := appendFrame([]byte{frameRaft}, msgs)
			if err == nil {
				err = p.cfg.Endpoint.Send(p.cfg.Members[to-1], frame)
			}
			for _, m := range msgs {
				if m.Type == raftpb.MsgSnap {
					// Raft pauses replication to a member while a snapshot is in flight;
					// resume it so it probes again (and resends if this one was lost).
					p.node.ReportSnapshot(to, err == nil)
				}
			}
			bufs[to] = msgs[:0]
		}
		if out.LostLog {
			// Before delivering what follows the snapshot: the entries queued before it
			// are dropped, the ones after it kept for after the clone.
			p.logLost(out.Snapshot)
		}
		if len(out.Committed) > 0 {
			p.deliver(out.Committed)
		}
		if out.LeadChanged {
			p.leaderChanged(out)
			if out.Lead != 0 {
				// A proposal the old leader held but never committed is gone; send the
				// ones clients wait on again (delivery drops the duplicates).
				for _, d := range p.pendingProposals() {
					_ = p.node.Propose(d)
				}
			}
		}
		p.cachedBytes.Store(p.node.CachedBytes())
	}
}

// leaderChanged records the raft leader. At bootstrap, the first leader (n1, which
// campaigns at start) announces itself as the primary through the log; later primaries
// are elected from the view (handleMembership) and the leader follows them (followPrimary).
func (p *Provider) leaderChanged(out agreement.Output) {
	p.mu.Lock()
	p.lead = int(out.Lead) - 1
	announce := out.IsLeader && p.set.SinglePrimary && !p.everPrimary && p.primary != p.self
	online := !p.set.SinglePrimary && out.Lead != 0 && p.state == stateRecovering
	if online {
		p.state = stateOnline
	}
	p.notifyLocked()
	p.mu.Unlock()
	if announce {
		p.propose(appendMessage(nil, &message{Kind: kindNewPrimary, Origin: p.self}))
	}
}

// followPrimary keeps the raft leader on the primary Group Replication elected, so the
// primary's commits pay no forwarding hop: a leader that is not the primary hands
// leadership over, unless it suspects the primary (the transfer could not complete).
func (p *Provider) followPrimary() {
	if !p.node.IsLeader() || !p.set.SinglePrimary {
		return
	}
	p.mu.Lock()
	to := p.primary
	ok := to >= 0 && to != p.self && p.view.In(to) && !p.unreachable[to] && p.state == stateOnline
	p.mu.Unlock()
	if ok {
		p.node.TransferLeader(uint64(to + 1))
	}
}

// deliver queues committed entries for the certification pipeline.
func (p *Provider) deliver(entries []agreement.Entry) {
	var txns int64
	for _, e := range entries {
		if len(e.Data) > 0 && msgKind(e.Data[0]) == kindTxn {
			txns++
		}
	}
	p.pipeMu.Lock()
	p.pipeQ = append(p.pipeQ, entries...)
	p.pipeTxns += txns
	p.pipeMu.Unlock()
	signal(p.pipeWake)
}

// pipeline is the single applier pipeline every member runs over the delivered messages,
// in delivery order: certify, then hand the verdict to the local waiter or the applier.
func (p *Provider) pipeline() {
	defer p.wg.Done()
	for {
		select {
		case <-p.ctx.Done():
			return
		case <-p.pipeWake:
		}
		for {
			p.pipeRun.Lock()
			p.serveClones()
			p.pipeMu.Lock()
			q := p.pipeQ
			p.pipeQ = nil
			p.pipeMu.Unlock()
			if len(q) == 0 {
				p.pipeRun.Unlock()
				break
			}
			held := false
			for i, e := range q {
				p.mu.Lock()
				paused := p.paused
				p.mu.Unlock()
				if paused {
					// Out of the group: keep the rest for distributed recovery.
					p.pipeMu.Lock()
					p.pipeQ = append(q[i:len(q):len(q)], p.pipeQ...)
					p.pipeMu.Unlock()
					held = true
					break
				}
				m, err := decodeMessage(e.Data)
				if err != nil {
					p.corruptFrames.Add(1)
				} else {
					p.handle(m)
				}
				p.pipeIndex.Store(e.Index)
				p.serveClones()
			}
			p.pipeRun.Unlock()
			if held {
				break
			}
		}
	}
}

// handle processes one delivered message. Everything it decides, it decides from the
// message sequence alone, so every member decides the same.
func (p *Provider) handle(m *message) {
	switch m.Kind {
	case kindTxn:
		p.pipeMu.Lock()
		p.pipeTxns--
		p.pipeMu.Unlock()
		ws := m.WS
		if m.Origin == p.self {
			p.untrackPending(m.ID)
		}
		p.mu.Lock()
		if !p.acceptFromLocked(m) {
			if m.Origin == p.self {
				// Dropped everywhere: tell the client it did not commit.
				if ch := p.waiters[m.ID]; ch != nil {
					delete(p.waiters, m.ID)
					close(ch)
				}
			}
			p.mu.Unlock()
			return
		}
		r := p.cert.Certify(certifier.Txn{
			Origin:   m.Origin,
			Snapshot: ws.Snapshot,
			Keys:     certifier.KeyHashes(ws),
			Barrier:  certifier.IsBarrier(ws),
		})
		var waiter chan certifier.Result
		if m.Origin == p.self {
			waiter = p.waiters[m.ID]
			delete(p.waiters, m.ID)
		}
		p.mu.Unlock()
		ws.Seqno, ws.DependsSeqno = r.Seqno, r.DependsSeqno
		p.verdicts.Store(p.verdicts.Load()*1099511628211 ^ uint64(r.Seqno)<<1 ^ uint64(r.GNO)<<20 ^ uint64(r.DependsSeqno)<<40 ^ b2u(r.Positive))
		if !r.Positive {
			// A negative verdict fills its slot in the commit order on every member.
			p.commitMon.Cancel(r.Seqno)
		}
		switch {
		case waiter != nil:
			waiter <- r
		case !r.Positive:
		default:
			p.applyQueued.Add(1)
			p.applyMu.Lock()
			p.applyQ = append(p.applyQ, &remoteTxn{ws: ws, level: m.Level})
			p.applyMu.Unlock()
			signal(p.applyWake)
		}
	case kindStats:
		p.mu.Lock()
		if p.view.In(m.Origin) {
			p.fc.Receive(p.cfg.Members[m.Origin], m.Stats)
		}
		p.mu.Unlock()
	case kindGTIDExecuted:
		p.mu.Lock()
		if p.view.State(m.Origin) == membership.Online {
			p.cert.GTIDExecuted(m.Origin, m.ID, p.view.OnlineCount())
		}
		p.mu.Unlock()
	case kindSyncBefore:
		if m.Origin == p.self {
			p.untrackPending(m.ID)
		}
		p.mu.Lock()
		accepted := p.acceptFromLocked(m)
		pos := p.cert.Stats().Seqno
		var ch chan int64
		if m.Origin == p.self {
			ch = p.syncs[m.ID]
			delete(p.syncs, m.ID)
		}
		p.mu.Unlock()
		if !accepted {
			if ch != nil {
				close(ch)
			}
			return
		}
		if ch != nil {
			ch <- pos
		}
	case kindPrepared:
		p.mu.Lock()
		ps := p.prepareStateLocked(m.ID)
		if !ps.from[m.Origin] {
			ps.from[m.Origin] = true
			p.checkPreparedLocked(ps)
		}
		p.mu.Unlock()
	case kindNewPrimary:
		// Bootstrap: the first raft leader is the first primary. Later primaries come
		// from elections over the view.
		p.mu.Lock()
		if p.state == stateRecovering && !p.joining {
			p.state = stateOnline
		}
		if !p.everPrimary {
			p.becomePrimaryLocked(m.Origin)
		}
		p.notifyLocked()
		p.mu.Unlock()
	case kindExpel, kindJoin, kindOnline, kindWeight:
		p.handleMembership(m)
	case kindQueueApplied:
		p.controlDelivered(m)
		p.mu.Lock()
		if m.Origin == p.primary && p.primaryChange {
			p.primaryChange = false
			if p.set.SinglePrimary {
				p.cert.SetConflictDetection(false)
			}
			p.notifyLocked()
		}
		p.mu.Unlock()
	}
}

// applier hands certified remote transactions to the workers in delivery order.
func (p *Provider) applier() {
	defer p.wg.Done()
	work := p.work
	defer close(work)
	for {
		select {
		case <-p.ctx.Done():
			return
		case <-p.applyWake:
		}
		for {
			p.applyMu.Lock()
			q := p.applyQ
			p.applyQ = nil
			p.applyMu.Unlock()
			if len(q) == 0 {
				break
			}
			for _, t := range q {
				select {
				case work <- t:
				case <-p.ctx.Done():
					return
				}
			}
		}
	}
}

// startWorkers starts replica_parallel_workers appliers. A worker waits until the
// transaction's dependencies have committed, takes its row locks (aborting local
// transactions that are not yet ordered), and commits in the agreed order.
func (p *Provider) startWorkers() {
	for range p.set.ApplierWorkers {
		go func() {
			defer p.wg.Done()
			for t := range p.work {
				p.applyRemote(t)
			}
		}()
	}
}

func (p *Provider) applyRemote(t *remoteTxn) {
	ws := t.ws
	defer p.applyQueued.Add(-1)
	if err := p.commitMon.WaitFor(p.ctx, ws.DependsSeqno); err != nil {
		return
	}
	applied, err := p.cfg.Applier.PrepareApply(p.ctx, ws)
	if err != nil {
		if p.ctx.Err() == nil {
			p.applierErrors.Add(1)
		}
		p.commitMon.Cancel(ws.Seqno)
		return
	}
	if t.level.HasAfter() {
		p.holdAfter(+1)
		p.propose(appendMessage(nil, &message{Kind: kindPrepared, Origin: p.self, ID: ws.Seqno}))
		err := p.waitPrepared(ws.Seqno)
		p.holdAfter(-1)
		if err != nil {
			applied.Abort()
			return
		}
	}
	if err := p.commitMon.Enter(p.ctx, ws.Seqno); err != nil {
		applied.Abort()
		return
	}
	if err := applied.Commit(); err != nil {
		p.applierErrors.Add(1)
	} else {
		p.remoteApplied.Add(1)
	}
	p.commitMon.Leave(ws.Seqno)
}

// broadcaster is the 1-second Certifier_broadcast_thread: every flow-control period it
// steps the quota loop and broadcasts this member's pipeline stats; every
// gtid_executed period it broadcasts what this member has committed, for garbage
// collection of the certification info.
func (p *Provider) broadcaster() {
	defer p.wg.Done()
	fcT := time.NewTicker(p.set.FlowControlPeriod)
	defer fcT.Stop()
	var gtidC <-chan time.Time
	if p.set.GTIDExecutedPeriod > 0 {
		gt := time.NewTicker(p.set.GTIDExecutedPeriod)
		defer gt.Stop()
		gtidC = gt.C
	}
	for {
		select {
		case <-p.ctx.Done():
			return
		case <-fcT.C:
			p.mu.Lock()
			p.fc.Step()
			close(p.fcStep)
			p.fcStep = make(chan struct{})
			online := p.state == stateOnline
			st := p.cert.Stats()
			p.mu.Unlock()
			if !online {
				continue
			}
			p.pipeMu.Lock()
			certQ := p.pipeTxns
			p.pipeMu.Unlock()
			s := statsMessage(certQ, p.applyQueued.Load(), st.Checked, p.remoteApplied.Load(), p.localProposed.Load())
			p.propose(appendMessage(nil, &message{Kind: kindStats, Origin: p.self, Stats: s}))
		case <-gtidC:
			p.mu.Lock()
			online := p.state == stateOnline
			p.mu.Unlock()
			if online {
				p.propose(appendMessage(nil, &message{Kind: kindGTIDExecuted, Origin: p.self, ID: p.commitMon.LastLeft()}))
			}
		}
	}
}

func statsMessage(certQ, applyQ, certified, applied, local int64) flowcontrol.Stats {
	return flowcontrol.Stats{CertQueue: certQ, ApplyQueue: applyQ, Certified: certified, Applied: applied, Local: local}
}

func b2u(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}
