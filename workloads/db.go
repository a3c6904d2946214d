package workloads

import (
	"context"

	"github.com/replbench/replbench/protocols"
	"github.com/replbench/replbench/storage"
)

// DB is what a workload runs on: one node's database, of which it needs only to begin a
// transaction and to know which node it is. It is the seam between a workload and whatever
// executes its statements. Today that is the replicated storage engine of the emulated
// cluster (OnEngine); a SQL client (go-sql-driver against a real server, or against
// replbench's own MySQL endpoint) will implement it too, so that one workload definition
// drives the model, the endpoint and a real server alike. That is why DB and Tx stay as
// narrow as the workloads' needs: every method added here is one more thing each of those
// back ends must implement with the same meaning. The cost is one interface call per
// statement, noise next to a Pebble read.
type DB interface {
	// Node is the node's name (n1..nN); hotspot uses it to decide which clients write hot rows.
	Node() string
	// Begin starts a transaction.
	Begin() Tx
}

// Tx is the transaction API the workloads use; *storage.Txn implements it. The semantics are
// storage's: Get reads the snapshot, GetForUpdate locks and reads the latest version (SELECT
// ... FOR UPDATE), Scan reads a primary-key or index range, Insert assigns an auto-increment
// value to a nil or 0 first column, Delete of a missing row returns false, and Commit hands
// the write-set to the replication protocol. Errors are classified by protocols.Classify, so
// a back end reports a deadlock, a certification failure or a read-only node as the MySQL
// error a client would see.
type Tx interface {
	SetAutocommit(on bool)
	Get(ctx context.Context, table string, pk ...storage.Value) (storage.Row, error)
	GetForUpdate(ctx context.Context, table string, pk ...storage.Value) (storage.Row, error)
	Scan(ctx context.Context, table string, opt storage.ScanOptions, fn func(storage.Row) bool) error
	Insert(ctx context.Context, table string, row storage.Row) (int64, error)
	Update(ctx context.Context, table string, row storage.Row) error
	Delete(ctx context.Context, table string, pk ...storage.Value) (bool, error)
	Commit(ctx context.Context) error
	Rollback()
}

var _ Tx = (*storage.Txn)(nil)

// OnEngine is a storage engine as a DB. (Engine.Begin returns the concrete *storage.Txn,
// and Go interfaces do not accept a narrower result type, so this is the one line between
// them.)
func OnEngine(e *storage.Engine) DB { return engineDB{e} }

type engineDB struct{ e *storage.Engine }

func (d engineDB) Node() string { return d.e.Node() }
func (d engineDB) Begin() Tx    { return d.e.Begin() }

// CommitID returns the protocol's id of tx's commit (a GTID, or Galera's seqno with the
// cluster's state UUID) and its position in the protocol's total order, once Commit has
// returned nil, looking through wrappers that expose the transaction they wrap as
// Unwrap() Tx; false when the back end does not say (a SQL client without session
// tracking). The history records it, so that a lost acknowledged write is named by the
// commit its client was told about.
func CommitID(tx Tx) (id protocols.GTID, seqno int64, ok bool) {
	for tx != nil {
		if c, ok := tx.(interface {
			CommitID() protocols.GTID
			CommitSeqno() int64
		}); ok {
			return c.CommitID(), c.CommitSeqno(), true
		}
		u, ok := tx.(interface{ Unwrap() Tx })
		if !ok {
			break
		}
		tx = u.Unwrap()
	}
	return protocols.GTID{}, 0, false
}

// OnEngineLocal is an engine as a DB whose transactions read the node's own data without
// the protocol's gates (storage.Engine.BeginLocal): for end-of-run checks, never for clients.
func OnEngineLocal(e *storage.Engine) DB { return localDB{e} }

type localDB struct{ e *storage.Engine }

func (d localDB) Node() string { return d.e.Node() }
func (d localDB) Begin() Tx    { return d.e.BeginLocal() }
