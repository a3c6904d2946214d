package workloads

import (
	"context"
	"math/rand/v2"
	"time"

	"github.com/replbench/replbench/storage"
)

// DB is the slice of a node's storage engine that a workload uses: begin a transaction and
// know which node it runs on. *storage.Engine provides it through OnEngine.
//
// The workloads are written against this interface rather than the concrete engine so that
// their logic (statement mix, parameters, end-of-run checks) can be exercised on a small
// in-memory table store in tests while the storage engine evolves; the cost is one
// interface call per statement, which is noise next to a Pebble read.
type DB interface {
	// Node is the node's name (n1..nN); hotspot uses it to decide which clients write hot rows.
	Node() string
	// Begin starts a transaction.
	Begin() Tx
}

// Tx is the transaction API the workloads use; *storage.Txn implements it. The semantics are
// storage's: Get reads the snapshot, GetForUpdate locks and reads the latest version, Insert
// assigns an auto-increment value to a nil or 0 first column, Delete of a missing row returns
// false, and Commit hands the write-set to the replication protocol.
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

// OnEngine adapts a storage engine to DB.
func OnEngine(e *storage.Engine) DB { return engineDB{e} }

type engineDB struct{ e *storage.Engine }

func (d engineDB) Node() string { return d.e.Node() }
func (d engineDB) Begin() Tx    { return d.e.Begin() }

// Impl is a workload written against DB. Adapt turns it into the Workload the harness drives;
// tests drive the Impl directly on any DB.
type Impl interface {
	Name() string
	Tables() []storage.TableSchema
	// LoadDB fills the tables on one node, deterministically from the seed given at New.
	LoadDB(ctx context.Context, db DB, progress func(done, total int64)) error
	// NewClientDB returns client id with its own random stream.
	NewClientDB(id int, rng *rand.Rand) ClientDB
	// CheckDB runs the end-of-run checks on every given node.
	CheckDB(ctx context.Context, dbs []DB) (map[string]bool, error)
}

// ClientDB is Client written against DB.
type ClientDB interface {
	// Run is Client.Next on a DB.
	Run(ctx context.Context, db DB, retry bool) (txType string, err error)
}

// Adapt wraps an Impl as a Workload. The result also implements Metricser and Configured,
// forwarding to the Impl when it implements them (and returning nil when it does not), so
// the harness can call them unconditionally.
func Adapt(impl Impl) Workload { return adapted{impl} }

type adapted struct{ impl Impl }

func (a adapted) Name() string                  { return a.impl.Name() }
func (a adapted) Tables() []storage.TableSchema { return a.impl.Tables() }
func (a adapted) Load(ctx context.Context, db *storage.Engine, progress func(done, total int64)) error {
	return a.impl.LoadDB(ctx, OnEngine(db), progress)
}
func (a adapted) NewClient(id int, rng *rand.Rand) Client {
	return adaptedClient{a.impl.NewClientDB(id, rng)}
}
func (a adapted) Check(ctx context.Context, dbs []*storage.Engine) (map[string]bool, error) {
	ds := make([]DB, len(dbs))
	for i, e := range dbs {
		ds[i] = OnEngine(e)
	}
	return a.impl.CheckDB(ctx, ds)
}

// Metrics implements Metricser.
func (a adapted) Metrics(committedByType map[string]int64, elapsed time.Duration) map[string]float64 {
	if m, ok := a.impl.(Metricser); ok {
		return m.Metrics(committedByType, elapsed)
	}
	return nil
}

// Settings implements Configured.
func (a adapted) Settings() map[string]string {
	if c, ok := a.impl.(Configured); ok {
		return c.Settings()
	}
	return nil
}

// Unwrap returns the Impl behind a Workload made by Adapt, or nil.
func Unwrap(w Workload) Impl {
	if a, ok := w.(adapted); ok {
		return a.impl
	}
	return nil
}

type adaptedClient struct{ c ClientDB }

func (c adaptedClient) Next(ctx context.Context, db *storage.Engine, retry bool) (string, error) {
	return c.c.Run(ctx, OnEngine(db), retry)
}
