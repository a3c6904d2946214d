package servicetime

import (
	"context"
	"time"

	"github.com/replbench/replbench/internal/precise"
)

// Kind is a statement's kind, which picks its CPU cost.
type Kind int

// The statement kinds.
const (
	Select Kind = iota
	Insert
	Update
	Delete
	Other
	DDL
)

// Node is one server's share of the model: its profile, the host whose cores it uses, its
// redo and binlog devices, and the clock it waits on. A nil *Node charges nothing, so code
// on the hot path calls it unconditionally and profile "none" costs one nil check.
type Node struct {
	P      *Profile
	Host   *Host
	Redo   *Disk
	Binlog *Disk
	Wait   precise.Waiter
	// Now is the model's clock; nil means time.Now (under synctest that is the fake clock).
	Now func() time.Time
	// FlushAtCommit is the node's innodb_flush_log_at_trx_commit: 1 syncs the redo log at
	// every commit (group-committed on Redo), 2 writes it to the OS (RedoWriteUs of CPU),
	// 0 does neither.
	FlushAtCommit int
}

// NewNode binds a profile to a host and gives the node its own log devices. It returns nil
// for a profile that charges nothing.
func NewNode(p *Profile, host *Host, w precise.Waiter) *Node {
	if p.IsZero() {
		return nil
	}
	if w == nil {
		w = precise.Virtual{}
	}
	return &Node{P: p, Host: host, Wait: w,
		Redo: NewDisk(Us(p.Commit.RedoFsyncUs)), Binlog: NewDisk(Us(p.Commit.BinlogFsyncUs))}
}

func (n *Node) now() time.Time {
	if n.Now != nil {
		return n.Now()
	}
	return time.Now()
}

// CPU books d of the host's CPU for a stage that started at start (the caller takes
// time.Now() before doing the stage's real work, so the work overlaps the booking) and
// waits until the booking ends.
func (n *Node) CPU(ctx context.Context, start time.Time, d time.Duration) error {
	if n == nil || d <= 0 {
		return nil
	}
	return n.Wait.WaitUntil(ctx, n.Host.Reserve(start, d))
}

// Delay waits d of pure latency from start (a round trip, not CPU).
func (n *Node) Delay(ctx context.Context, start time.Time, d time.Duration) error {
	if n == nil || d <= 0 {
		return nil
	}
	return n.Wait.WaitUntil(ctx, start.Add(d))
}

// Start is the time a stage starts, for CPU and Delay: the model's clock, or the zero time
// for a nil node (nothing will be charged).
func (n *Node) Start() time.Time {
	if n == nil {
		return time.Time{}
	}
	return n.now()
}

// StatementCost is the CPU of one statement of kind k that reads and writes the given
// numbers of rows (the first row is in the statement's cost), less the prepared-statement
// saving when prepared.
func (n *Node) StatementCost(k Kind, rowsRead, rowsWritten int, prepared bool) time.Duration {
	if n == nil {
		return 0
	}
	s := n.P.Statement
	var us float64
	switch k {
	case Select:
		us = s.SelectUs
	case Insert:
		us = s.InsertUs
	case Update:
		us = s.UpdateUs
	case Delete:
		us = s.DeleteUs
	case DDL:
		us = s.DDLUs
	default:
		us = s.OtherUs
	}
	if prepared {
		us *= 1 - s.PrepareSaves
	}
	us += float64(max(rowsRead-1, 0))*s.RowReadUs + float64(max(rowsWritten-1, 0))*s.RowWriteUs
	return Us(us)
}

// StatementWait is the part of one statement of kind k that holds no core (the
// statement's *_wait_us): latency charged after its CPU.
func (n *Node) StatementWait(k Kind) time.Duration {
	if n == nil {
		return 0
	}
	s := n.P.Statement
	switch k {
	case Select:
		return Us(s.SelectWaitUs)
	case Insert:
		return Us(s.InsertWaitUs)
	case Update:
		return Us(s.UpdateWaitUs)
	case Delete:
		return Us(s.DeleteWaitUs)
	case DDL:
		return 0
	default:
		return Us(s.OtherWaitUs)
	}
}

// Statement charges one statement of kind k: its CPU booked from start (when the statement
// reached the server; the caller's real work overlaps the booking), then its wait. With no
// CPU the statement still lasts until start (a round trip the caller added).
func (n *Node) Statement(ctx context.Context, start time.Time, k Kind, rowsRead, rowsWritten int, prepared bool) error {
	if n == nil {
		return nil
	}
	return n.cpuThenWait(ctx, start, n.StatementCost(k, rowsRead, rowsWritten, prepared), n.StatementWait(k))
}

// cpuThenWait books cpu of the host's cores from start and then waits wait more, holding
// no core, in one wait until the booking's end plus wait, so that a late wake-up from the
// first does not lengthen the second.
func (n *Node) cpuThenWait(ctx context.Context, start time.Time, cpu, wait time.Duration) error {
	return n.Wait.WaitUntil(ctx, n.Host.Reserve(start, cpu).Add(wait))
}

// MessageCost is the CPU of sending (send) or receiving one group-communication message
// of size bytes.
func (n *Node) MessageCost(send bool, size int) time.Duration {
	if n == nil {
		return 0
	}
	r := n.P.Replication
	kib := float64(size) / 1024
	if send {
		return Us(r.SendMsgUs + kib*r.SendKiBUs)
	}
	return Us(r.RecvMsgUs + kib*r.RecvKiBUs)
}

// CertifyCost is the CPU of certifying a write-set with keys keys.
func (n *Node) CertifyCost(keys int) time.Duration {
	if n == nil {
		return 0
	}
	return Us(n.P.Replication.CertifyUs + float64(keys)*n.P.Replication.CertifyKeyUs)
}

// Certify charges a local write-set's certification from now: its CPU (CertifyCost, on
// the host's cores, where concurrent commits queue) and then the wait replication adds
// without holding a core (certify_wait_us).
func (n *Node) Certify(ctx context.Context, keys int) error {
	if n == nil {
		return nil
	}
	return n.cpuThenWait(ctx, n.now(), n.CertifyCost(keys), Us(n.P.Replication.CertifyWaitUs))
}

// ApplyCost is the CPU of applying a replicated transaction of rows rows.
func (n *Node) ApplyCost(rows int) time.Duration {
	if n == nil {
		return 0
	}
	return Us(n.P.Replication.ApplyTxnUs + float64(rows)*n.P.Replication.ApplyRowUs)
}

// SyncRedo waits until the redo log is durable up to now: one group-committed fsync.
func (n *Node) SyncRedo(ctx context.Context) error {
	if n == nil {
		return nil
	}
	return n.Wait.WaitUntil(ctx, n.Redo.Sync(n.now()))
}

// SyncBinlog waits until the binary log is durable up to now: one group-committed fsync.
func (n *Node) SyncBinlog(ctx context.Context) error {
	if n == nil {
		return nil
	}
	return n.Wait.WaitUntil(ctx, n.Binlog.Sync(n.now()))
}

// CommitRedo is the redo log work at the end of a commit, as innodb_flush_log_at_trx_commit
// says: a group-committed fsync (1), a write to the OS (2) or nothing (0). The caller has
// released commit order first, as InnoDB does (MariaDB calls wsrep_commit_ordered before
// trx_commit_complete_for_mysql flushes), so concurrent commits share one fsync.
func (n *Node) CommitRedo(ctx context.Context) error {
	if n == nil {
		return nil
	}
	return n.CommitRedoFrom(ctx, n.now())
}

// CommitRedoFrom is CommitRedo booked from start rather than from now: from the moment the
// commit's in-memory work began, for a caller whose profile figure for that work (an
// applier's apply_row_us, measured as a whole insert) already includes it, so that the
// in-memory engine's own commit overlaps the redo flush instead of adding to it. A start
// after now counts from now.
func (n *Node) CommitRedoFrom(ctx context.Context, start time.Time) error {
	if n == nil {
		return nil
	}
	if now := n.now(); start.After(now) {
		start = now
	}
	switch n.FlushAtCommit {
	case 1:
		return n.Wait.WaitUntil(ctx, n.Redo.Sync(start))
	case 2:
		return n.CPU(ctx, start, Us(n.P.Commit.RedoWriteUs))
	}
	return nil
}

// EngineCommit is the engine's in-memory commit (trx commit, lock release), charged on the
// CPU inside commit order.
func (n *Node) EngineCommit(ctx context.Context) error {
	if n == nil {
		return nil
	}
	return n.CPU(ctx, n.now(), Us(n.P.Commit.EngineUs))
}
