package semisync

import (
	"fmt"
)

// coordinator is the replica's SQL coordinator: it reads the relay log in order, waits
// until an entry's dependency is committed, and hands it to a free worker (or applies it
// itself when replica_parallel_workers=0).
func (p *Provider) coordinator() {
	defer p.wg.Done()
	for {
		e, ok := p.aq.Pop(p.ctx)
		if !ok {
			return
		}
		if err := p.order.WaitFor(p.ctx, e.WS.DependsSeqno); err != nil {
			return
		}
		if p.workers == 0 {
			if !p.applyOne(e) {
				return
			}
			continue
		}
		select {
		case p.work <- e:
		case <-p.ctx.Done():
			return
		}
	}
}

func (p *Provider) worker() {
	defer p.wg.Done()
	ch := p.work
	for {
		select {
		case e := <-ch:
			if !p.applyOne(e) {
				return
			}
		case <-p.ctx.Done():
			return
		}
	}
}

// applyOne applies one write-set: take its row locks, commit (in binlog order with
// replica_preserve_commit_order). An error
// stops the applier, as an SQL-thread error stops replication; Last_SQL_Error shows it.
func (p *Provider) applyOne(e RelayEntry) bool {
	seq := e.WS.Seqno
	a, err := p.applier.PrepareApply(p.ctx, e.WS)
	if err != nil {
		p.failApply(seq, err)
		return false
	}
	if p.preserve {
		if err := p.order.Enter(p.ctx, seq); err != nil {
			a.Abort()
			return false
		}
	}
	// The apply's CPU (apply_txn_us + apply_row_us per row of the cost profile).
	_ = p.cfg.Cost.CPU(p.ctx, p.cfg.Cost.Start(), p.cfg.Cost.ApplyCost(len(e.WS.Rows)))
	if err := a.Commit(); err != nil {
		p.failApply(seq, err)
		return false
	}
	p.order.Leave(seq)
	return true
}

func (p *Provider) failApply(seq int64, err error) {
	if p.ctx.Err() != nil {
		return
	}
	p.mu.Lock()
	if p.sqlErr == "" {
		p.sqlErr = fmt.Sprintf("applying binlog position %d: %v (replication stopped; the replica must be rebuilt)", seq, err)
	}
	p.mu.Unlock()
}
