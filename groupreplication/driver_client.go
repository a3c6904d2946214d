package groupreplication

import (
	"context"
	"fmt"

	"github.com/replbench/replbench/groupreplication/certifier"
	"github.com/replbench/replbench/groupreplication/group"
	"github.com/replbench/replbench/internal/driver"
	"github.com/replbench/replbench/protocols"
)

// What a client's session calls: the gate before its statements, Replicate at commit, the
// commit itself, and the BEFORE sync. Each asks the machine what to do under p.mu and waits
// outside it.

// BeforeRead implements protocols.Gate: it applies the consistency levels that act before
// a transaction's first statement.
func (p *Provider) BeforeRead(ctx context.Context) error {
	for {
		p.mu.Lock()
		refused, online := p.m.ReadRefusal()
		if !online {
			// super_read_only still serves reads; consistency guarantees do not apply.
			p.mu.Unlock()
			if refused != nil {
				return refused
			}
			return nil
		}
		var ch <-chan struct{}
		switch {
		case p.m.HoldsNewTransactions():
			// BEFORE_ON_PRIMARY_FAILOVER and stronger: a new primary holds transactions
			// until it has applied its backlog.
			ch = p.changed
		case p.afterHeld > 0:
			// AFTER: new transactions wait while this member holds a prepared AFTER
			// transaction.
			ch = p.afterDone
		}
		p.mu.Unlock()
		if ch == nil {
			break
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return protocols.ErrInterrupted()
		case <-p.ctx.Done():
			return group.ErrNotOnline(group.Offline)
		}
	}
	if p.set.Consistency.HasBefore() {
		return p.SyncWait(ctx)
	}
	return nil
}

// BeforeWrite implements protocols.Gate: a single-primary secondary is super_read_only.
func (p *Provider) BeforeWrite(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if e := p.m.WriteRefusal(); e != nil {
		return e
	}
	return nil
}

// SyncWait orders a sync message through the group and waits until this member has
// committed everything ordered before it: one ordering round plus the local applier's
// drain (consistency BEFORE).
func (p *Provider) SyncWait(ctx context.Context) error {
	id := p.nextID.Add(1)
	ch := make(chan int64, 1)
	data := group.AppendMessage(nil, &group.Message{Kind: group.KindSyncBefore, Origin: p.self, Inc: p.incarnation, ID: id})
	p.step(func(m *group.Machine) group.Effects {
		p.syncs[id] = ch
		return m.SubmitSync(id, data)
	})
	var pos int64
	select {
	case v, ok := <-ch:
		if !ok {
			return group.ErrRolledBack()
		}
		pos = v
	case <-ctx.Done():
		p.mu.Lock()
		delete(p.syncs, id)
		p.m.WithdrawSync(id)
		p.mu.Unlock()
		return protocols.ErrInterrupted()
	case <-p.ctx.Done():
		return group.ErrNotOnline(group.Offline)
	}
	if err := p.commitMon.WaitFor(ctx, pos); err != nil {
		return protocols.ErrInterrupted()
	}
	return nil
}

// Replicate implements protocols.Replicator: it throttles on flow control, sends the
// transaction through the group, and returns once this member has certified it.
func (p *Provider) Replicate(ctx context.Context, ws *protocols.WriteSet) (protocols.Commit, error) {
	p.mu.Lock()
	refused := p.m.CommitRefusal()
	p.mu.Unlock()
	if refused != nil {
		return nil, refused
	}
	if p.set.TransactionSizeLimit > 0 && int64(ws.Size()) > p.set.TransactionSizeLimit {
		p.localRollback.Add(1)
		return nil, &protocols.Error{Code: 3100, SQLState: "HY000",
			Msg:   fmt.Sprintf("Error on observer while running replication hook 'before_commit' (write-set of %d bytes exceeds group_replication_transaction_size_limit %d; split the transaction)", ws.Size(), p.set.TransactionSizeLimit),
			Cause: protocols.CauseOther}
	}
	// Flow control: do_wait before the send.
	if err := p.throttle(ctx); err != nil {
		return nil, err
	}
	if ctx.Err() != nil {
		// Not sent yet: a brute-force abort (or the client's deadline) ends it here.
		return nil, driver.CtxErr(ctx)
	}
	ws.Source = p.cfg.Node
	ws.Snapshot = p.commitMon.LastLeft()
	id := p.nextID.Add(1)
	ch := make(chan certifier.Result, 1)
	p.localProposed.Add(1)
	data := group.AppendMessage(make([]byte, 0, ws.Size()+16), &group.Message{Kind: group.KindTxn, Origin: p.self, Inc: p.incarnation, ID: id, Level: p.set.Consistency, WS: ws})
	p.chargeSend(len(data)) // driver_cost.go
	p.step(func(m *group.Machine) group.Effects {
		p.waiters[id] = ch
		return m.Submit(id, data)
	})

	done := ctx.Done()
	for {
		select {
		case r, ok := <-ch:
			if !ok {
				p.localRollback.Add(1)
				return nil, group.ErrRolledBack()
			}
			ws.Seqno, ws.DependsSeqno = r.Seqno, r.DependsSeqno
			if !r.Positive {
				p.localRollback.Add(1)
				return nil, protocols.ErrGRRollback()
			}
			return &commit{p: p, gtid: protocols.GTID{UUID: p.group, Seqno: r.GNO}, seqno: r.Seqno, level: p.set.Consistency}, nil
		case <-done:
			if driver.IsBFAbort(ctx) {
				// Sent already: the slot is taken; wait for the verdict, which storage
				// turns into a replay if it is positive.
				done = nil
				continue
			}
			// The client gave up. The message may still be delivered: the machine then
			// applies it here as if it were remote, so the members stay identical.
			p.mu.Lock()
			if p.m.Abandon(id) {
				delete(p.waiters, id)
				p.mu.Unlock()
				return nil, protocols.ErrInterrupted()
			}
			p.mu.Unlock()
			done = nil // the verdict is already on its way
		case <-p.ctx.Done():
			return nil, group.ErrNotOnline(group.Offline)
		}
	}
}

// throttle is Flow_control_module::do_wait: a transaction over this period's quota waits
// for the next flow-control step.
func (p *Provider) throttle(ctx context.Context) error {
	p.mu.Lock()
	ok := p.m.Admit()
	ch := p.fcStep
	p.mu.Unlock()
	if ok {
		return nil
	}
	select {
	case <-ch:
	case <-ctx.Done():
	case <-p.ctx.Done():
		return group.ErrNotOnline(group.Offline)
	}
	return nil
}

// commit is a certified local transaction waiting for its turn to commit.
type commit struct {
	p     *Provider
	gtid  protocols.GTID
	seqno int64
	level group.Consistency
}

func (c *commit) GTID() protocols.GTID { return c.gtid }
func (c *commit) Seqno() int64         { return c.seqno }

// Apply commits in the agreed order. With consistency AFTER it first reports itself
// prepared through the group and waits until every member has prepared the transaction.
// The client's ctx is not a reason to skip the commit: the other members commit the
// transaction, so this one must too.
func (c *commit) Apply(ctx context.Context, engineCommit func() error) error {
	p := c.p
	if c.level.HasAfter() {
		if err := p.prepareAfter(c.seqno); err != nil {
			return err
		}
	}
	p.chargeBinlogCommit() // flush and sync stages, group-committed (driver_cost.go)
	if err := p.commitMon.Enter(p.ctx, c.seqno); err != nil {
		return group.ErrNotOnline(group.Offline)
	}
	p.chargeEngineCommit()
	err := engineCommit()
	p.commitMon.Leave(c.seqno)
	return err
}

// prepareAfter is an AFTER transaction at position seq, prepared here: it tells the group
// and waits until every member has prepared it, holding new transactions meanwhile.
func (p *Provider) prepareAfter(seq int64) error {
	p.holdAfter(+1)
	defer p.holdAfter(-1)
	p.step(func(m *group.Machine) group.Effects { return m.Prepare(seq) })
	return p.waitPrepared(seq)
}

func (p *Provider) holdAfter(d int) {
	p.mu.Lock()
	p.afterHeld += d
	if d < 0 {
		close(p.afterDone)
		p.afterDone = make(chan struct{})
	}
	p.mu.Unlock()
}

// waitPrepared waits until every member has reported position seq prepared.
func (p *Provider) waitPrepared(seq int64) error {
	p.mu.Lock()
	if p.m.WaitPrepared(seq) {
		p.m.ForgetPrepared(seq)
		p.mu.Unlock()
		return nil
	}
	ch := p.preparedCh[seq]
	if ch == nil {
		ch = make(chan struct{})
		p.preparedCh[seq] = ch
	}
	p.mu.Unlock()
	select {
	case <-ch:
		p.mu.Lock()
		p.m.ForgetPrepared(seq)
		p.mu.Unlock()
		return nil
	case <-p.ctx.Done():
		return group.ErrNotOnline(group.Offline)
	}
}
