package groupreplication

import (
	"context"
	"time"

	"github.com/replbench/replbench/groupreplication/agreement"
	"github.com/replbench/replbench/groupreplication/group"
	"github.com/replbench/replbench/internal/driver"
)

// deliver queues committed entries for the certification pipeline.
func (p *Provider) deliver(entries []agreement.Entry) {
	var txns int64
	for _, e := range entries {
		if group.IsTxn(e.Data) {
			txns++
		}
	}
	p.pipeMu.Lock()
	p.pipeQ = append(p.pipeQ, entries...)
	p.pipeMu.Unlock()
	p.pipeTxns.Add(txns)
	driver.Signal(p.pipeWake)
}

// pipeline is the single applier pipeline every member runs over the delivered messages,
// in delivery order: the machine certifies each, and its verdict goes to the local waiter
// or the applier. It runs apart from the raft loop so that certification overlaps raft's
// I/O.
func (p *Provider) pipeline() {
	defer p.wg.Done()
	for {
		select {
		case <-p.ctx.Done():
			return
		case <-p.pipeWake:
		}
		for {
			select {
			case p.pipeRun <- struct{}{}:
			case <-p.ctx.Done():
				return
			}
			p.serveClones()
			p.pipeMu.Lock()
			q := p.pipeQ
			p.pipeQ = nil
			p.pipeMu.Unlock()
			if len(q) == 0 {
				<-p.pipeRun
				break
			}
			held := false
			for i, e := range q {
				if e.Index <= p.pipeIndex.Load() {
					// Already in this member's state (a clone taken after it).
					if group.IsTxn(e.Data) {
						p.pipeTxns.Add(-1)
					}
					continue
				}
				remote := p.chargeDelivered(e.Data) // receive and certify (driver_cost.go)
				eff := p.step(func(m *group.Machine) group.Effects { return m.Deliver(e.Data) })
				if remote && len(eff.Applies) > 0 {
					p.chargeRelay()
				}
				if eff.Held {
					// Out of the group: keep the rest for distributed recovery.
					p.pipeMu.Lock()
					p.pipeQ = append(q[i:len(q):len(q)], p.pipeQ...)
					p.pipeMu.Unlock()
					held = true
					break
				}
				if group.IsTxn(e.Data) {
					p.pipeTxns.Add(-1)
				}
				p.pipeIndex.Store(e.Index)
				p.serveClones()
			}
			<-p.pipeRun
			if held {
				break
			}
		}
	}
}

// startWorkers starts the applier: a coordinator that takes certified transactions from
// the apply queue in delivery order and hands each to the next free one of
// replica_parallel_workers workers (the server's SQL coordinator thread and its workers).
// A worker waits until the transaction's dependencies have committed, takes its row locks
// (aborting local transactions that are not yet ordered), and commits in the agreed order.
// The hand-off through the coordinator is kept on purpose: workers popping the queue
// directly take their row locks a scheduling step earlier than the coordinator lets them,
// which in virtual time shifts hotspot failures from certification (3101) to brute-force
// aborts several-fold.
func (p *Provider) startWorkers() {
	work := make(chan group.Apply)
	go func() {
		defer p.wg.Done()
		defer close(work)
		for {
			t, ok := p.applyQ.Pop(context.Background())
			if !ok {
				return
			}
			select {
			case work <- t:
			case <-p.ctx.Done():
				return
			}
		}
	}()
	for range p.set.ApplierWorkers {
		go func() {
			defer p.wg.Done()
			for t := range work {
				p.applyRemote(t)
			}
		}()
	}
}

func (p *Provider) applyRemote(t group.Apply) {
	ws := t.WS
	defer p.applyQueued.Add(-1)
	if ws.Seqno <= p.recovered {
		// A restarted member's engine kept it (driver_restart.go); the commit monitor
		// starts past it.
		return
	}
	if err := p.commitMon.WaitFor(p.ctx, ws.DependsSeqno); err != nil {
		return
	}
	applyStart := p.cfg.Cost.Start()
	applied, err := p.cfg.Applier.PrepareApply(p.ctx, ws)
	if err == nil {
		_ = p.cfg.Cost.CPU(p.ctx, applyStart, p.cfg.Cost.ApplyCost(len(ws.Rows)))
	}
	if err != nil {
		if p.ctx.Err() == nil {
			p.applierErrors.Add(1)
		}
		p.commitMon.Cancel(ws.Seqno)
		return
	}
	if t.Level.HasAfter() {
		if err := p.prepareAfter(ws.Seqno); err != nil {
			applied.Abort()
			return
		}
	}
	p.chargeBinlogCommit() // the worker's own group commit (driver_cost.go)
	if err := p.commitMon.Enter(p.ctx, ws.Seqno); err != nil {
		applied.Abort()
		return
	}
	p.chargeEngineCommit()
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
			q := group.Queues{CertQueue: p.pipeTxns.Load(), ApplyQueue: p.applyQueued.Load(),
				Applied: p.remoteApplied.Load(), Local: p.localProposed.Load()}
			p.step(func(m *group.Machine) group.Effects { return m.FlowControlTick(q) })
		case <-gtidC:
			pos := p.commitMon.LastLeft()
			p.step(func(m *group.Machine) group.Effects { return m.GTIDExecutedTick(pos) })
		}
	}
}
