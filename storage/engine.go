package storage

import (
	"context"
	"io"
	"time"

	"github.com/replbench/replbench/protocols"
)

// Options configure one node's engine.
type Options struct {
	Node            string        // node name, for errors and write-set Source
	Dir             string        // "" keeps the database in memory (Pebble's vfs.NewMem)
	Sync            bool          // innodb_flush_log_at_trx_commit=1: fsync every commit
	LockWaitTimeout time.Duration // innodb_lock_wait_timeout; 0 means the default 50 s
}

// Engine is one node's database.
type Engine struct{}

// Stats are the engine's own counters (the replication counters live in the providers).
type Stats struct {
	Commits          uint64 // local transactions committed
	Rollbacks        uint64 // local transactions rolled back, for any reason
	LockWaits        uint64 // lock requests that had to wait
	Deadlocks        uint64 // local deadlock victims (1213)
	LockWaitTimeouts uint64 // lock waits that timed out (1205)
	BFAborts         uint64 // local transactions aborted by appliers (wsrep_local_bf_aborts)
	Replays          uint64 // ordered local transactions replayed after a BF abort (wsrep_local_replays)
	Applied          uint64 // remote write-sets applied
}

// ScanOptions select a range of rows. From and To are key prefixes: From is inclusive, To
// exclusive, nil means unbounded. With Index set the range is over that secondary index's
// columns and rows come back in index order.
type ScanOptions struct {
	Index   string
	From    []Value
	To      []Value
	Limit   int // 0: no limit
	Reverse bool
}

// Open opens (or creates) an engine.
func Open(opts Options) (*Engine, error) { panic("storage: not implemented yet") }

// Close closes the engine; open transactions are rolled back.
func (e *Engine) Close() error { panic("storage: not implemented yet") }

// Node returns the node name.
func (e *Engine) Node() string { panic("storage: not implemented yet") }

// CreateTable creates a table. A table without a primary key is refused.
func (e *Engine) CreateTable(s TableSchema) error { panic("storage: not implemented yet") }

// Schema returns a table's schema.
func (e *Engine) Schema(table string) (*TableSchema, bool) { panic("storage: not implemented yet") }

// Tables returns the table names, sorted.
func (e *Engine) Tables() []string { panic("storage: not implemented yet") }

// SetReplicator installs the provider the commit path hands write-sets to; nil commits
// locally with no replication (the standalone floor).
func (e *Engine) SetReplicator(r protocols.Replicator) { panic("storage: not implemented yet") }

// Begin starts a transaction.
func (e *Engine) Begin() *Txn { panic("storage: not implemented yet") }

// Stats returns the engine's counters.
func (e *Engine) Stats() Stats { panic("storage: not implemented yet") }

// PrepareApply implements protocols.Applier.
func (e *Engine) PrepareApply(ctx context.Context, ws *protocols.WriteSet) (protocols.Applied, error) {
	panic("storage: not implemented yet")
}

// SetAutoIncrement implements protocols.Applier.
func (e *Engine) SetAutoIncrement(increment, offset int) { panic("storage: not implemented yet") }

// Checksums implements protocols.Applier.
func (e *Engine) Checksums() (map[string]uint64, error) { panic("storage: not implemented yet") }

// Snapshot implements protocols.Applier.
func (e *Engine) Snapshot(w io.Writer) error { panic("storage: not implemented yet") }

// Restore implements protocols.Applier.
func (e *Engine) Restore(r io.Reader) error { panic("storage: not implemented yet") }

// Txn is a transaction. A Txn is used by one goroutine at a time.
type Txn struct{}

// ID is the transaction's engine-local id.
func (t *Txn) ID() uint64 { panic("storage: not implemented yet") }

// SetAutocommit marks a single-statement transaction (the write-set gets FlagAutocommit).
func (t *Txn) SetAutocommit(on bool) { panic("storage: not implemented yet") }

// Get reads a row by primary key from the transaction's snapshot (its own writes included);
// nil, nil when absent.
func (t *Txn) Get(ctx context.Context, table string, pk ...Value) (Row, error) {
	panic("storage: not implemented yet")
}

// GetForUpdate locks a row exclusively (SELECT ... FOR UPDATE) and reads its latest
// committed version.
func (t *Txn) GetForUpdate(ctx context.Context, table string, pk ...Value) (Row, error) {
	panic("storage: not implemented yet")
}

// Scan calls fn for each row in the range, from the snapshot, until fn returns false.
func (t *Txn) Scan(ctx context.Context, table string, opt ScanOptions, fn func(Row) bool) error {
	panic("storage: not implemented yet")
}

// Insert inserts a row; an auto-increment column left nil or 0 gets the next value, which is
// returned. A duplicate primary or unique key is 1062.
func (t *Txn) Insert(ctx context.Context, table string, row Row) (int64, error) {
	panic("storage: not implemented yet")
}

// Update replaces the row with row's primary key, locking it; a missing row is an error.
func (t *Txn) Update(ctx context.Context, table string, row Row) error {
	panic("storage: not implemented yet")
}

// Delete deletes a row by primary key, locking it; deleting a missing row is a no-op
// that returns false.
func (t *Txn) Delete(ctx context.Context, table string, pk ...Value) (bool, error) {
	panic("storage: not implemented yet")
}

// Commit commits: an empty (read-only) transaction commits locally; otherwise the
// write-set goes through the replicator. The error is the one the client sees.
func (t *Txn) Commit(ctx context.Context) error { panic("storage: not implemented yet") }

// Rollback abandons the transaction and releases its locks. Safe after Commit.
func (t *Txn) Rollback() { panic("storage: not implemented yet") }
