package semisync

// This file is the driver's side of the service-time model (protocols/servicetime): the
// StageClock that prices each binlog group's flush and sync on the node's CPU and log
// devices, and the costs the driver charges itself (the prepare's redo flush where MariaDB
// does it, the engine commit, a replica's relay write and ack before its messages leave,
// and its apply).

import (
	"context"
	"time"

	"github.com/replbench/replbench/protocols/servicetime"
)

// stageClock prices the source's binlog stages from the node's cost profile. MySQL's
// flush stage flushes the redo of its whole group of prepared transactions first
// (innodb_flush_log_at_trx_commit=1: one group-committed fsync on the redo device), then
// writes every member's events (binlog_write_us each) and does the leader's own work
// (group_commit_us), on one core of the host; MariaDB's prepare already flushed the redo
// per transaction (charged in Replicate), so its flush is the writes and the leader's work.
// The sync is one fsync of the binlog device per group with sync_binlog=1, none with 0.
type stageClock struct {
	n      *servicetime.Node
	pipe   Pipeline
	period int  // sync_binlog: one fsync every period-th group (0: none)
	count  *int // groups since the last fsync
}

// newStageClock returns the clock for a node's cost profile, or nil (every stage free)
// for profile none.
func newStageClock(n *servicetime.Node, st *Settings) StageClock {
	if n == nil {
		return nil
	}
	return stageClock{n: n, pipe: st.Pipeline, period: st.SyncPeriod, count: new(int)}
}

func (c stageClock) Flush(start time.Time, txns int) time.Time {
	t := start
	if c.pipe == PipelineMySQL && c.n.FlushAtCommit == 1 && c.n.Redo != nil {
		t = c.n.Redo.Sync(t)
	}
	cpu := servicetime.Us(float64(txns)*c.n.P.Commit.BinlogWriteUs + c.n.P.Replication.GroupCommitUs)
	if cpu <= 0 {
		return t
	}
	if c.n.Host == nil {
		return t.Add(cpu)
	}
	return c.n.Host.Reserve(t, cpu)
}

// Sync is the sync stage of one group: the binlog fsync on every sync_binlog-th group
// (MySQL's sync_counter), nothing on the others.
func (c stageClock) Sync(start time.Time) time.Time {
	if c.period <= 0 || c.n.Binlog == nil {
		return start
	}
	if *c.count++; *c.count < c.period {
		return start
	}
	*c.count = 0
	return c.n.Binlog.Sync(start)
}

// chargePrepare is the engine's prepare before the binlog: MariaDB flushes each prepared
// transaction's redo (group-committed with the other preparers on the redo device) before
// it queues for the group commit; MySQL leaves it to the flush stage (stageClock.Flush).
func (p *Provider) chargePrepare(ctx context.Context) {
	if p.pipe == PipelineMariaDB && p.cfg.Cost != nil && p.cfg.Cost.FlushAtCommit == 1 {
		_ = p.cfg.Cost.SyncRedo(ctx)
	}
}

// replicaCost is what a replica's CPU spends before the messages of one Ready batch may
// leave: the relay-log write of each event it received (relay_write_us) and each ack it
// sends (replica_ack_us). 0 without a cost profile.
func (p *Provider) replicaCost(msgs []Envelope, relayed int) time.Duration {
	if p.cfg.Cost == nil {
		return 0
	}
	r := p.cfg.Cost.P.Replication
	us := float64(relayed) * r.RelayWriteUs
	for _, m := range msgs {
		if len(m.Payload) > 0 && msgType(m.Payload[0]) == msgAck {
			us += r.ReplicaAckUs
		}
	}
	return servicetime.Us(us)
}

// delayedBatch is a replica's messages that leave at due, in order.
type delayedBatch struct {
	due  time.Time
	msgs []Envelope
}

// sendReplica sends a replica's messages now, or, when they cost CPU or an earlier batch
// is still waiting, queues them for the sender, so that the link stays FIFO. Called with
// p.mu held.
func (p *Provider) sendReplica(msgs []Envelope, relayed int) {
	d := p.replicaCost(msgs, relayed)
	if d <= 0 && p.outPending == 0 {
		for _, e := range msgs {
			_ = p.ep.Send(e.To, e.Payload)
		}
		return
	}
	if len(msgs) == 0 {
		return
	}
	due := time.Now()
	if d > 0 {
		due = p.cfg.Cost.Host.Reserve(due, d)
	}
	p.outPending++
	p.outq.Push(delayedBatch{due: due, msgs: msgs})
}

// sender sends the queued batches of a replica, each at its due time.
func (p *Provider) sender() {
	defer p.wg.Done()
	for {
		b, ok := p.outq.Pop(p.ctx)
		if !ok {
			return
		}
		if err := p.cfg.Cost.Wait.WaitUntil(p.ctx, b.due); err != nil {
			return
		}
		p.mu.Lock()
		if !p.closed {
			for _, e := range b.msgs {
				_ = p.ep.Send(e.To, e.Payload)
			}
		}
		p.outPending--
		p.mu.Unlock()
	}
}
