package groupreplication

import (
	"errors"
	"time"

	"go.etcd.io/raft/v3/raftpb"

	"github.com/replbench/replbench/groupreplication/agreement"
	"github.com/replbench/replbench/groupreplication/group"
)

// receive is the bus handler: it decodes a frame and hands its raft messages to the raft
// loop without blocking the bus.
func (p *Provider) receive(from string, payload []byte) {
	kind, inc, body, ok := splitHeader(payload)
	if !ok {
		p.corruptFrames.Add(1)
		return
	}
	p.heardFrom(from, inc)
	switch kind {
	case frameAlive:
		return
	case frameCloneRequest:
		p.cloneRequested(from, body)
		return
	case frameCloneData:
		p.cloneReceived(from, body)
		return
	}
	if kind != frameRaft {
		p.corruptFrames.Add(1)
		return
	}
	msgs, err := decodeFrame(body)
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
	p.inbox.Post(raftInput{msgs: kept})
}

// heardFrom records that a frame came from incarnation inc of a peer: the failure
// detector learns it at the next tick (any frame shows the peer is alive).
func (p *Provider) heardFrom(from string, inc int64) {
	for i, node := range p.cfg.Members {
		if node == from {
			p.heardInc[i].Store(inc)
			p.heard[i].Store(int64(time.Since(p.epoch)) + 1)
			return
		}
	}
}

// raftLoop owns the agreement state machine: it ticks it, steps received messages into it,
// proposes, and acts on its output (send, deliver committed entries, follow the leader).
func (p *Provider) raftLoop() {
	defer p.wg.Done()
	ticker := time.NewTicker(p.set.RaftTick)
	defer ticker.Stop()
	var retry [][]byte // proposals raft dropped for want of a leader
	var props [][]byte
	bufs := map[uint64][]raftpb.Message{}
	hz := newHorizon(p.set.WriteConcurrency) // driver_horizon.go
	for {
		ticked := false
		select {
		case <-p.ctx.Done():
			return
		case <-ticker.C:
			p.node.Tick()
			ticked = true
			p.tick()
		case <-p.inbox.Wake():
		}
		for _, in := range p.inbox.Drain() {
			if in.prop != nil {
				hz.Queue(in.prop)
			}
			for _, m := range in.msgs {
				_ = p.node.Step(m)
			}
		}
		props = append(props[:0], hz.Take(time.Now())...)
		if n := int64(hz.InFlight()); n > p.instancesMax.Load() {
			p.instancesMax.Store(n)
		}
		if ticked && len(retry) > 0 && p.node.Lead() != 0 {
			props = append(retry, props...)
			retry = nil
		}
		for _, d := range props {
			if err := p.node.Propose(d); errors.Is(err, agreement.ErrDropped) {
				retry = append(retry, d)
			}
		}
		out, ok := p.node.Ready()
		if !ok {
			continue
		}
		if p.persist(out.Persist) != nil {
			// Raft's rule: nothing is sent that the member could not keep. The engine is
			// closed only when the node is down.
			continue
		}
		for _, m := range out.Messages {
			bufs[m.To] = append(bufs[m.To], m)
		}
		for to, msgs := range bufs {
			if len(msgs) == 0 {
				continue
			}
			frame, err := appendFrame(frameHeader(frameRaft, p.incarnation), msgs)
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
			for _, e := range out.Committed {
				hz.Delivered(e.Data)
			}
			p.deliver(out.Committed)
		}
		if out.LeadChanged {
			hz.Reset()
		}
		if hz.Waiting() {
			// An instance was decided (or dropped) with messages queued: run again.
			p.inbox.Post(raftInput{})
		}
		if out.LeadChanged {
			p.step(func(m *group.Machine) group.Effects { return m.LeaderChanged(int(out.Lead)-1, out.IsLeader) })
		}
		p.cachedBytes.Store(p.node.CachedBytes())
	}
}

// tick runs on every raft tick: it hands the machine what the detector heard, then sends
// the alive beacon, campaigns or hands leadership over as the machine decides.
func (p *Provider) tick() {
	heard, incs := make([]time.Time, len(p.heard)), make([]int64, len(p.heard))
	for i := range p.heard {
		if d := p.heard[i].Swap(0); d != 0 {
			heard[i] = p.epoch.Add(time.Duration(d - 1))
			incs[i] = p.heardInc[i].Load()
		}
	}
	t := group.Tick{Now: time.Now(), Heard: heard, HeardInc: incs, Lead: int(p.node.Lead()) - 1, IsLeader: p.node.IsLeader()}
	eff := p.step(func(m *group.Machine) group.Effects { return m.Tick(t) })
	if eff.Beacon {
		beacon := frameHeader(frameAlive, p.incarnation)
		for i, node := range p.cfg.Members {
			if i != p.self {
				_ = p.cfg.Endpoint.Send(node, beacon)
			}
		}
	}
	if eff.Campaign {
		_ = p.node.Campaign()
	}
	if eff.Transfer {
		p.node.TransferLeader(uint64(eff.TransferTo + 1))
	}
}
