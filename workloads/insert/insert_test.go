package insert

import (
	"context"
	"testing"

	"github.com/replbench/replbench/storage"
	"github.com/replbench/replbench/workloads"
	"github.com/replbench/replbench/workloads/internal/wltest"
)

func TestInsertsCommitAndCheck(t *testing.T) {
	for _, b := range wltest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			w, err := New(nil, workloads.Env{Seed: 1})
			if err != nil {
				t.Fatal(err)
			}
			n := b.Open(t, "n1")
			wltest.Load(t, w, n)
			out := wltest.Run(t, w, n, 4, 100, 1)
			if out.Committed["insert"] != 400 || w.Committed() != 400 {
				t.Fatalf("committed %v (workload counted %d), want 400 inserts", out.Committed, w.Committed())
			}
			wltest.Check(t, w, n)
		})
	}
}

// Two writers with auto_increment_increment 2 and offsets 1 and 2 (what Galera sets on a
// 2-node cluster) insert concurrently; every id follows its node's offset, so the two
// nodes' rows can be merged without a duplicate key.
func TestAutoIncrementOffsetsNeverCollide(t *testing.T) {
	for _, b := range wltest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			w, _ := New(nil, workloads.Env{Seed: 1})
			ids := map[int64]string{}
			for i, name := range []string{"n1", "n2"} {
				n := b.Open(t, name)
				wltest.Create(t, w, n)
				n.SetAutoIncrement(2, i+1)
				wltest.Run(t, w, n, 3, 50, uint64(i))
				tx := n.Begin()
				err := tx.Scan(context.Background(), Table, storage.ScanOptions{}, func(r storage.Row) bool {
					id := r[0].(int64)
					if id%2 != int64(i+1)%2 {
						t.Errorf("%s: id %d does not follow offset %d of increment 2", name, id, i+1)
					}
					if other, dup := ids[id]; dup {
						t.Errorf("id %d inserted on both %s and %s", id, other, name)
					}
					ids[id] = name
					return true
				})
				tx.Rollback()
				if err != nil {
					t.Fatal(err)
				}
			}
			if len(ids) != 300 {
				t.Fatalf("%d distinct ids over two nodes, want 300", len(ids))
			}
		})
	}
}

func TestCheckCatchesAMissingRow(t *testing.T) {
	w, _ := New(nil, workloads.Env{Seed: 1})
	n := wltest.Backends(t)[0].Open(t, "n1")
	wltest.Load(t, w, n)
	wltest.Run(t, w, n, 1, 10, 1)
	tx := n.Begin()
	if ok, err := tx.Delete(context.Background(), Table, int64(3)); !ok || err != nil {
		t.Fatalf("delete: %v %v", ok, err)
	}
	if err := tx.Commit(context.Background()); err != nil {
		t.Fatal(err)
	}
	res, err := w.Check(context.Background(), []workloads.DB{n})
	if err != nil || res["rows_equal_committed_inserts"] {
		t.Fatalf("check after losing a row: %v %v, want rows_equal_committed_inserts false", res, err)
	}
}
