package groupreplication

// This file is the driver's side of the service-time model (protocols/servicetime): what a
// member's CPU and log devices spend on Group Replication's pipeline. The group machine
// stays pure; every charge is here, and a nil p.cfg.Cost (--cost-profile none) charges
// nothing, so the pure protocol model is unchanged. The client's statements are the
// harness's (harness/servicetime.go); from the before_commit hook on they are ours:
//
//   - the originator: the write-set broadcast (group-communication send, by size) before
//     the message is proposed (chargeSend, from Replicate);
//   - every member, in the certification pipeline and in delivery order: receiving a
//     remote message (group-communication receive, by size), then certifying it
//     (certify_us + certify_key_us per key), then for a positive remote one the relay-log
//     write (chargeDelivered / chargeRelay);
//   - the local commit after a positive verdict, and each applier worker's commit: the
//     binlog group commit's flush stage (redo per innodb_flush_log_at_trx_commit: a
//     group-committed fsync at 1, a write at 2; the transaction's binlog write) and sync
//     stage (one group-committed binlog fsync with sync_binlog=1), both before the commit
//     order so that concurrent committers share the fsyncs, then the engine commit inside
//     the commit order (chargeBinlogCommit, chargeEngineCommit);
//   - the applier's apply (apply_txn_us + apply_row_us per row), booked from before
//     PrepareApply so that the engine's own work overlaps it (applyRemote).

import (
	"github.com/replbench/replbench/groupreplication/group"
	"github.com/replbench/replbench/protocols/servicetime"
)

// chargeSend is the originator's write-set broadcast: one group-communication message of
// size bytes. The client's ctx is not used: the message is sent whatever the client does.
func (p *Provider) chargeSend(size int) {
	n := p.cfg.Cost
	if n == nil {
		return
	}
	_ = n.CPU(p.ctx, n.Start(), n.MessageCost(true, size))
}

// chargeDelivered is what the pipeline spends on one agreed message before the machine
// certifies it: a remote transaction's receive, and every transaction's certification. It
// reports whether the message is a remote transaction (for chargeRelay).
func (p *Provider) chargeDelivered(data []byte) (remote bool) {
	n := p.cfg.Cost
	if n == nil || !group.IsTxn(data) {
		return false
	}
	msg, err := group.DecodeMessage(data)
	if err != nil || msg.WS == nil {
		return false
	}
	d := n.CertifyCost(len(msg.WS.Keys))
	remote = msg.Origin != p.self
	if remote {
		d += n.MessageCost(false, len(data))
	}
	_ = n.CPU(p.ctx, n.Start(), d)
	return remote
}

// chargeRelay is the relay-log write of a remote transaction certified positive, before
// it is queued for the applier.
func (p *Provider) chargeRelay() {
	n := p.cfg.Cost
	if n == nil {
		return
	}
	_ = n.CPU(p.ctx, n.Start(), servicetime.Us(n.P.Replication.RelayWriteUs))
}

// chargeBinlogCommit is the binlog group commit's flush and sync stages of one commit
// (local or applied), outside the commit order: the redo as innodb_flush_log_at_trx_commit
// says (Node.CommitRedo: group-committed fsync at 1), the transaction's binlog write, and
// with sync_binlog=1 one binlog fsync shared with every committer that asks before it
// starts (Node.SyncBinlog, group-committed on the node's binlog device).
func (p *Provider) chargeBinlogCommit() {
	n := p.cfg.Cost
	if n == nil {
		return
	}
	_ = n.CommitRedo(p.ctx)
	_ = n.CPU(p.ctx, n.Start(), servicetime.Us(n.P.Commit.BinlogWriteUs))
	if p.set.SyncBinlog {
		_ = n.SyncBinlog(p.ctx)
	}
}

// chargeEngineCommit is the commit stage: the engine's commit inside the commit order.
func (p *Provider) chargeEngineCommit() {
	_ = p.cfg.Cost.EngineCommit(p.ctx)
}
