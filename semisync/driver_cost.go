package semisync

// This file is the driver's side of the service-time model (protocols/servicetime): the
// StageClock that prices each binlog group's flush and sync on the node's CPU and log
// devices, and the per-transaction costs the driver charges itself (the prepare's redo
// flush where MariaDB does it, the engine commit, a replica's relay write and apply).

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
	n          *servicetime.Node
	pipe       Pipeline
	syncBinlog bool
}

// newStageClock returns the clock for a node's cost profile, or nil (every stage free)
// for profile none.
func newStageClock(n *servicetime.Node, st *Settings) StageClock {
	if n == nil {
		return nil
	}
	return stageClock{n: n, pipe: st.Pipeline, syncBinlog: st.SyncBinlog}
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

func (c stageClock) Sync(start time.Time) time.Time {
	if !c.syncBinlog || c.n.Binlog == nil {
		return start
	}
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
