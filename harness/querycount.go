package harness

import (
	"context"
	"sync/atomic"

	"github.com/replbench/replbench/storage"
	"github.com/replbench/replbench/workloads"
)

// queryCounts counts a client's statements the way sysbench's interval lines split its
// qps: reads (point selects, FOR UPDATE reads, range scans), writes (inserts, updates,
// deletes) and other (BEGIN and COMMIT or ROLLBACK of an explicit transaction; an
// autocommit statement has neither). They count the operations the workload issues on
// workloads.Tx, which is not SQL: an UPDATE that a workload writes as a locking read and a
// write (sysbench's UPDATE ... WHERE id=?) counts one read and one write, so reads run a
// little above sysbench's (oltp_read_write: 16 reads, 4 writes, 2 other per transaction
// against sysbench's 14/4/2). The counters are atomics the series recorder drains
// once per sample, so counting costs each statement one uncontended add and takes no lock.
type queryCounts struct {
	reads, writes, other atomic.Int64
}

// drain returns the counts since the last drain and starts the next interval.
func (q *queryCounts) drain() (reads, writes, other int64) {
	return q.reads.Swap(0), q.writes.Swap(0), q.other.Swap(0)
}

// countingDB is a workloads.DB whose transactions count their statements into q. It wraps
// whatever DB the client has (the emulated engine behind its node's gate, or a real
// server), so the count is the statements the workload issued, not how a back end ran them.
type countingDB struct {
	workloads.DB
	q *queryCounts
}

// countQueries wraps db so that its statements are counted into q.
func countQueries(db workloads.DB, q *queryCounts) workloads.DB { return countingDB{DB: db, q: q} }

func (d countingDB) Begin() workloads.Tx {
	return &countingTx{Tx: d.DB.Begin(), q: d.q}
}

// countingTx counts each statement as it is issued, successful or not, as sysbench counts
// the queries it sent.
type countingTx struct {
	workloads.Tx
	q     *queryCounts
	auto  bool // an autocommit statement: no BEGIN, no COMMIT (a Tx is explicit until told)
	ended bool // the COMMIT or ROLLBACK is counted (a failed commit is then rolled back)
}

// end counts an explicit transaction's BEGIN and its COMMIT or ROLLBACK, once.
func (t *countingTx) end() {
	if !t.auto && !t.ended {
		t.q.other.Add(2)
	}
	t.ended = true
}

func (t *countingTx) SetAutocommit(on bool) {
	t.auto = on
	t.Tx.SetAutocommit(on)
}

func (t *countingTx) Get(ctx context.Context, table string, pk ...storage.Value) (storage.Row, error) {
	t.q.reads.Add(1)
	return t.Tx.Get(ctx, table, pk...)
}

func (t *countingTx) GetForUpdate(ctx context.Context, table string, pk ...storage.Value) (storage.Row, error) {
	t.q.reads.Add(1)
	return t.Tx.GetForUpdate(ctx, table, pk...)
}

func (t *countingTx) Scan(ctx context.Context, table string, opt storage.ScanOptions, fn func(storage.Row) bool) error {
	t.q.reads.Add(1)
	return t.Tx.Scan(ctx, table, opt, fn)
}

func (t *countingTx) Insert(ctx context.Context, table string, row storage.Row) (int64, error) {
	t.q.writes.Add(1)
	return t.Tx.Insert(ctx, table, row)
}

func (t *countingTx) Update(ctx context.Context, table string, row storage.Row) error {
	t.q.writes.Add(1)
	return t.Tx.Update(ctx, table, row)
}

func (t *countingTx) Delete(ctx context.Context, table string, pk ...storage.Value) (bool, error) {
	t.q.writes.Add(1)
	return t.Tx.Delete(ctx, table, pk...)
}

func (t *countingTx) Commit(ctx context.Context) error {
	t.end()
	return t.Tx.Commit(ctx)
}

func (t *countingTx) Rollback() {
	t.end()
	t.Tx.Rollback()
}

// Unwrap exposes the counted transaction, so that workloads.CommitID finds the commit's
// GTID and seqno through the counter (the histories and the ack log name lost writes by
// them).
func (t *countingTx) Unwrap() workloads.Tx { return t.Tx }
