package harness

import (
	"context"
	"testing"

	"github.com/replbench/replbench/storage"
	"github.com/replbench/replbench/workloads"
)

// fakeTx is a workloads.Tx that does nothing; the counting wrapper only watches the calls.
type fakeTx struct{}

func (fakeTx) SetAutocommit(bool) {}
func (fakeTx) Get(context.Context, string, ...storage.Value) (storage.Row, error) {
	return nil, nil
}
func (fakeTx) GetForUpdate(context.Context, string, ...storage.Value) (storage.Row, error) {
	return nil, nil
}
func (fakeTx) Scan(context.Context, string, storage.ScanOptions, func(storage.Row) bool) error {
	return nil
}
func (fakeTx) Insert(context.Context, string, storage.Row) (int64, error) { return 0, nil }
func (fakeTx) Update(context.Context, string, storage.Row) error          { return nil }
func (fakeTx) Delete(context.Context, string, ...storage.Value) (bool, error) {
	return false, nil
}
func (fakeTx) Commit(context.Context) error { return nil }
func (fakeTx) Rollback()                    {}

type fakeDB struct{}

func (fakeDB) Node() string        { return "n1" }
func (fakeDB) Begin() workloads.Tx { return fakeTx{} }

// Statements are counted as sysbench splits qps: reads, writes, and BEGIN+COMMIT of an
// explicit transaction once (a failed commit's rollback is not a second end); an
// autocommit statement has no other.
func TestQueryCounts(t *testing.T) {
	ctx := context.Background()
	q := &queryCounts{}
	db := countQueries(fakeDB{}, q)
	tx := db.Begin()
	tx.Get(ctx, "t")
	tx.GetForUpdate(ctx, "t")
	tx.Scan(ctx, "t", storage.ScanOptions{}, nil)
	tx.Insert(ctx, "t", nil)
	tx.Update(ctx, "t", nil)
	tx.Delete(ctx, "t")
	tx.Commit(ctx)
	tx.Rollback()
	auto := db.Begin()
	auto.SetAutocommit(true)
	auto.Insert(ctx, "t", nil)
	auto.Commit(ctx)
	if r, w, o := q.drain(); r != 3 || w != 4 || o != 2 {
		t.Errorf("reads/writes/other = %d/%d/%d, want 3/4/2", r, w, o)
	}
	if r, w, o := q.drain(); r+w+o != 0 {
		t.Errorf("drain did not start a new interval: %d/%d/%d", r, w, o)
	}
}
