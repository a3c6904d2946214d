package galera

import (
	"context"
	"math"
	"time"

	"github.com/replbench/replbench/galera/replicator"
	"github.com/replbench/replbench/internal/driver"
	"github.com/replbench/replbench/protocols"
)

// This file is the client's side of the driver: what storage's commit path and gate call,
// in the client's goroutine. A client posts its write-set to the loop and waits for its own
// delivery; it commits in seqno order through the monitors.

// BeforeRead implements protocols.Gate: 1047 before Start, a causal wait with
// wsrep_sync_wait & 1.
func (p *Provider) BeforeRead(ctx context.Context) error {
	if !p.ready.Load() {
		return protocols.ErrNotReady()
	}
	if p.st.SyncWait&1 != 0 {
		return p.SyncWait(ctx)
	}
	return nil
}

// BeforeWrite implements protocols.Gate: a causal wait with wsrep_sync_wait & (2|4).
func (p *Provider) BeforeWrite(ctx context.Context) error {
	if !p.ready.Load() {
		return protocols.ErrNotReady()
	}
	if p.st.SyncWait&6 != 0 {
		return p.SyncWait(ctx)
	}
	return nil
}

// waitFlowControl blocks while a STOP is in effect anywhere in the cluster: the send
// monitor admits no new write-set (the client shows "wsrep in pre-commit").
func (p *Provider) waitFlowControl(ctx context.Context) error {
	for {
		p.pauseMu.Lock()
		ch := p.pauseCh
		p.pauseMu.Unlock()
		if ch == nil {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return driver.CtxErr(ctx)
		case <-p.ctx.Done():
			return protocols.ErrNotReady()
		}
	}
}

// Replicate implements protocols.Replicator: stamp last_seen, send the write-set in total
// order, wait for its own delivery and certify it.
//
// If ctx ends first, a write-set that has not left yet (paused by flow control, queued for
// the send window, held during a state exchange) is withdrawn and Replicate returns ctx's
// cause (ErrBFAbort from storage, else 1317). One that has left holds a place in the total
// order: after a brute-force abort Replicate waits for its verdict, as the contract says
// (storage replays it if it passes); for any other reason (the client's deadline, the end
// of a run) it returns 1317 at once, and the node certifies the write-set when it is
// delivered and, if it passes, applies it as a remote one (replicator.Machine.Withdraw), so
// the client cannot tell whether it committed, as with a killed COMMIT in MySQL.
func (p *Provider) Replicate(ctx context.Context, ws *protocols.WriteSet) (protocols.Commit, error) {
	if !p.ready.Load() {
		return nil, protocols.ErrNotReady()
	}
	if err := p.waitFlowControl(ctx); err != nil {
		return nil, err
	}
	if ctx.Err() != nil {
		return nil, driver.CtxErr(ctx)
	}
	ws.Source = p.cfg.Node
	ws.Snapshot = p.applyMon.LastLeft()
	id := p.nextAct.Add(1)
	payload := replicator.EncodeWriteSet(make([]byte, 0, 16+ws.Size()), id, ws)
	pd := &pending{ws: ws, sentAt: time.Now(), done: make(chan verdict, 1)}
	p.replicated.Add(1)
	p.replicatedBytes.Add(int64(len(payload)))
	p.inbox.Post(event{kind: evPropose, id: id, payload: payload, p: pd})
	var v verdict
	done := ctx.Done()
wait:
	for {
		select {
		case v = <-pd.done:
			break wait
		case <-done:
			done = nil
			reply := make(chan replicator.Withdrawal, 1)
			p.inbox.Post(event{kind: evWithdraw, id: id, local: !driver.IsBFAbort(ctx), reply: reply})
			var w replicator.Withdrawal
			select {
			case w = <-reply:
			case <-p.ctx.Done():
				return nil, protocols.ErrNotReady()
			}
			switch w {
			case replicator.Withdrawn:
				return nil, driver.CtxErr(ctx)
			case replicator.Detached:
				return nil, protocols.ErrInterrupted()
			}
			// Decided already, or sent under a brute-force abort: wait for the verdict.
		case <-p.ctx.Done():
			return nil, protocols.ErrNotReady()
		}
	}
	switch v.seqno {
	case vNotReady:
		return nil, protocols.ErrNotReady()
	case vFenced:
		return nil, protocols.ErrCertification()
	}
	// Certification and the local monitor, on the node's CPU, then the wait replication
	// adds without a core (service-time model).
	_ = p.cfg.Cost.Certify(ctx, len(ws.Keys))
	if !v.ok {
		p.certFailures.Add(1)
		return nil, protocols.ErrCertification()
	}
	return &commit{p: p, ws: ws, seqno: v.seqno, bytes: len(payload)}, nil
}

type commit struct {
	p     *Provider
	ws    *protocols.WriteSet
	seqno int64
	bytes int
}

func (c *commit) GTID() protocols.GTID { return protocols.GTID{UUID: c.p.uuid, Seqno: c.seqno} }
func (c *commit) Seqno() int64         { return c.seqno }

// Apply commits in seqno order (repl.commit_order=3): the local write-set already holds its
// locks, so it enters the apply monitor at once and waits only in the commit monitor. That
// wait is for earlier seqnos, which are already delivered here and are being applied by
// local appliers or committed by other local clients, never for the network, so ctx is
// not consulted: the seqno must be committed (or the order keeps a hole), whatever the
// client does.
func (c *commit) Apply(ctx context.Context, engineCommit func() error) error {
	p := c.p
	if p.st.SerialLocalCommit() {
		if err := p.commitMon.Enter(p.ctx, c.seqno); err != nil {
			return protocols.ErrNotReady()
		}
	}
	p.commitWinSum.Add(c.seqno - p.commitMon.LastLeft())
	p.commitWinN.Add(1)
	// The in-memory commit is inside the statement costs already (they were measured at
	// flush=2, commit included): the redo flush is booked from here, so that the engine's
	// own commit overlaps it rather than adding to it.
	commitStart := p.cfg.Cost.Start()
	err := engineCommit()
	_ = p.cfg.Cost.EngineCommit(p.ctx)
	p.commitMon.Leave(c.seqno)
	p.applyMon.Leave(c.seqno)
	if err == nil {
		p.localCommits.Add(1)
	}
	p.inbox.Post(event{kind: evCommitted, local: true, seen: c.ws.Snapshot, keys: len(c.ws.Keys), bytes: c.bytes})
	// The redo flush comes after commit order is released (wsrep_commit_ordered runs before
	// trx_commit_complete_for_mysql), so concurrent commits share one group-committed
	// fsync; only then does the client get its reply.
	_ = p.cfg.Cost.CommitRedoFrom(p.ctx, commitStart)
	return err
}

// SyncWait implements protocols.Provider (wsrep_sync_wait): a causal token through the
// total order, then a wait until everything ordered before it has committed here.
func (p *Provider) SyncWait(ctx context.Context) error {
	if !p.ready.Load() {
		return protocols.ErrNotReady()
	}
	ch := make(chan int64, 1)
	p.inbox.Post(event{kind: evCausal, id: math.MaxUint64/2 + p.nextAct.Add(1), causal: ch})
	var target int64
	select {
	case target = <-ch:
	case <-p.ctx.Done():
		return protocols.ErrNotReady()
	case <-ctx.Done():
		return driver.CtxErr(ctx)
	}
	if target < 0 {
		return protocols.ErrNotReady()
	}
	wctx, cancel := context.WithTimeout(ctx, p.st.CausalReadTimeout)
	defer cancel()
	if err := p.applyMon.WaitFor(wctx, target); err != nil {
		if ctx.Err() != nil {
			return driver.CtxErr(ctx)
		}
		return protocols.ErrLockWaitTimeout()
	}
	p.causalReads.Add(1)
	return nil
}

// LastCommitted implements protocols.Provider: wsrep_last_committed, the apply monitor's
// last_left.
func (p *Provider) LastCommitted() int64 { return p.applyMon.LastLeft() }
