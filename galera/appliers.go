package galera

import "github.com/replbench/replbench/galera/replicator"

// This file is the wsrep_slave_threads appliers: goroutines that take certified remote
// write-sets off the receive queue in order, wait in the apply monitor for their
// depends_seqno, apply, and commit in seqno order through the commit monitor.

func (p *Provider) applierLoop() {
	defer p.wg.Done()
	for {
		r, ok := p.queue.Pop(p.ctx)
		if !ok {
			return
		}
		p.inbox.Post(event{kind: evDequeued})
		if err := p.apply(r); err != nil {
			return
		}
	}
}

func (p *Provider) apply(r replicator.Apply) error {
	ws := r.WS
	g := ws.Seqno
	if err := p.applyMon.WaitFor(p.ctx, ws.DependsSeqno); err != nil {
		return err
	}
	p.applyWinSum.Add(g - p.applyMon.LastLeft())
	p.applyWinN.Add(1)
	// The apply stage's service time is booked from here, before the engine's own work, so
	// that work overlaps the booking and the stage takes max(modelled, actual), as every
	// other stage of the service-time model does; booking it after PrepareApply added the
	// in-memory engine's time on top of a real server's apply time.
	applyStart := p.cfg.Cost.Start()
	applied, err := p.applier.PrepareApply(p.ctx, ws)
	if err != nil {
		if p.ctx.Err() != nil {
			return p.ctx.Err()
		}
		// A certified write-set that does not apply is an inconsistency; the real node would
		// abort. The model counts it and keeps the order moving.
		p.applyErrors.Add(1)
	}
	// Applying the rows costs the applier's CPU (service-time model), in parallel with
	// other appliers, before commit order.
	_ = p.cfg.Cost.CPU(p.ctx, applyStart, p.cfg.Cost.ApplyCost(len(ws.Rows)))
	if p.st.SerialRemoteCommit() {
		if err := p.commitMon.Enter(p.ctx, g); err != nil {
			if applied != nil {
				applied.Abort()
			}
			return err
		}
	}
	p.commitWinSum.Add(g - p.commitMon.LastLeft())
	p.commitWinN.Add(1)
	// The engine's commit, from here, is inside apply_row_us (measured as a whole insert):
	// the redo flush is booked from here so that the in-memory engine's own commit overlaps
	// it, as its apply overlaps the apply CPU.
	commitStart := p.cfg.Cost.Start()
	if applied != nil {
		if err := applied.Commit(); err != nil {
			p.applyErrors.Add(1)
		}
	}
	_ = p.cfg.Cost.EngineCommit(p.ctx)
	p.commitMon.Leave(g)
	p.applyMon.Leave(g)
	p.inbox.Post(event{kind: evCommitted, keys: len(ws.Keys), bytes: r.Bytes})
	_ = p.cfg.Cost.CommitRedoFrom(p.ctx, commitStart)
	return nil
}
