// Package insert is mysqlslap's 100%-insert load: every transaction is the autocommit
// statement `insert into t1 set a='fooBa'` on t1(id int auto_increment primary key,
// a char(5)).
//
// It is the workload of the documents' latency table (500 inserts, 1 to 32 clients, 0 to
// 100 ms of delay): inserts never touch the same row, so nothing conflicts and what a run
// measures is the commit path alone, one round of the protocol per statement. Ids come
// from the engine's auto-increment, which the protocols set per node
// (auto_increment_increment / _offset), so inserts on several writers never collide.
package insert

import (
	"context"
	"fmt"
	"math/rand/v2"

	"github.com/replbench/replbench/storage"
	"github.com/replbench/replbench/workloads"
)

// Name is the registered name.
const Name = "insert"

// Table is the table name, as in the mysqlslap command of the documents.
const Table = "t1"

// Value is the inserted string.
const Value = "fooBa"

func init() {
	workloads.Register(workloads.Definition{
		Name:    Name,
		Summary: "mysqlslap 100% insert: autocommit insert into t1 set a='fooBa' (auto-increment id); --queries inserts split over --threads",
		New:     workloads.Constructor(New),
	})
}

// Workload is the configured insert workload. It counts its committed inserts so that the
// end-of-run check can compare them with the rows present.
type Workload struct {
	tally workloads.Tally
}

// New configures the workload; it takes no options.
func New(opts map[string]string, env workloads.Env) (*Workload, error) {
	if _, err := workloads.ResolveOptions(Name, nil, opts); err != nil {
		return nil, err
	}
	return &Workload{}, nil
}

// Name implements workloads.Workload.
func (w *Workload) Name() string { return Name }

// Tables implements workloads.Workload.
func (w *Workload) Tables() []storage.TableSchema {
	return []storage.TableSchema{{
		Name: Table,
		Columns: []storage.Column{
			{Name: "id", Type: storage.Int, AutoIncrement: true},
			{Name: "a", Type: storage.String, Size: 5},
		},
		PrimaryKey: []int{0},
	}}
}

// LoadDB implements workloads.Workload: mysqlslap starts from an empty table.
func (w *Workload) Load(ctx context.Context, db workloads.DB, progress func(done, total int64)) error {
	if progress != nil {
		progress(0, 0)
	}
	return nil
}

// Committed is the number of inserts that committed so far.
func (w *Workload) Committed() int64 { return w.tally.Committed() }

// Tallies implements workloads.Tallier: the commits and commits in doubt Check counts with.
func (w *Workload) Tallies() map[string]int64 { return w.tally.Counts() }

// SetTallies implements workloads.Tallier.
func (w *Workload) SetTallies(c map[string]int64) { w.tally.SetCounts(c) }

// NewClientDB implements workloads.Workload.
func (w *Workload) NewClient(id int, rng *rand.Rand) workloads.Client { return client{w} }

type client struct{ w *Workload }

// Next inserts one row. A retry inserts the same values again; the id is the engine's.
func (c client) Next(ctx context.Context, db workloads.DB, retry bool) (string, error) {
	tx := db.Begin()
	tx.SetAutocommit(true)
	_, err := tx.Insert(ctx, Table, storage.Row{int64(0), Value})
	return "insert", c.w.tally.End(ctx, tx, err)
}

// CheckDB implements workloads.Workload: every node holds one row per committed insert (plus at
// most one per commit whose outcome was in doubt), each with the inserted value.
func (w *Workload) Check(ctx context.Context, dbs []workloads.DB) (map[string]bool, error) {
	rowsOK, valuesOK := true, true
	for _, db := range dbs {
		tx := db.Begin()
		var n int64
		err := tx.Scan(ctx, Table, storage.ScanOptions{}, func(r storage.Row) bool {
			n++
			if r[1] != Value {
				valuesOK = false
			}
			return true
		})
		tx.Rollback()
		if err != nil {
			return nil, fmt.Errorf("insert check on %s: %w", db.Node(), err)
		}
		rowsOK = rowsOK && w.tally.Explains(n)
	}
	return map[string]bool{"rows_equal_committed_inserts": rowsOK, "values_intact": valuesOK}, nil
}
