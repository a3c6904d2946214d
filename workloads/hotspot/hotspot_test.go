package hotspot

import (
	"context"
	"testing"

	"github.com/replbench/replbench/protocols"
	"github.com/replbench/replbench/storage"
	"github.com/replbench/replbench/workloads"
	"github.com/replbench/replbench/workloads/internal/wltest"
)

var env = workloads.Env{Nodes: 2, Writers: []string{"n1", "n2"}, Threads: 4, Seed: 3}

func counts(t *testing.T, db workloads.DB) map[int64]int64 {
	t.Helper()
	out := map[int64]int64{}
	tx := db.Begin()
	defer tx.Rollback()
	if err := tx.Scan(context.Background(), counterTable, storage.ScanOptions{}, func(r storage.Row) bool {
		out[r[0].(int64)] = r[2].(int64)
		return true
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// The foundation's hotspot: every increment lands on --hot-rows rows (default 1), and the
// counters sum to the committed increments. Lock waits and deadlocks are allowed; the
// harness retries them.
func TestCounterOnOneHotRow(t *testing.T) {
	for _, b := range wltest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			w, err := New(nil, env)
			if err != nil {
				t.Fatal(err)
			}
			n := b.Open(t, "n1")
			wltest.Load(t, w, n)
			out := wltest.Run(t, w, n, 4, 50, 1, protocols.CauseDeadlock, protocols.CauseLockWaitTimeout)
			if got := out.Committed[txIncrement]; got != w.Committed() || got == 0 {
				t.Fatalf("committed %d, workload counted %d", got, w.Committed())
			}
			c := counts(t, n)
			if len(c) != 300 || c[1] != w.Committed() {
				t.Fatalf("%d rows, hot row count %d, want 300 rows and all %d increments on row 1", len(c), c[1], w.Committed())
			}
			wltest.Check(t, w, n)
		})
	}
}

func TestHotShareAndHotNodes(t *testing.T) {
	w, err := New(map[string]string{"hot-rows": "2", "hot-share": "0.5", "hot-nodes": "n1"}, env)
	if err != nil {
		t.Fatal(err)
	}
	b := wltest.Backends(t)[0]
	n1, n2 := b.Open(t, "n1"), b.Open(t, "n2")
	wltest.Load(t, w, n1)
	wltest.Run(t, w, n1, 1, 2000, 1)
	c := counts(t, n1)
	hot := c[1] + c[2]
	if share := float64(hot) / 2000; share < 0.45 || share > 0.55 {
		t.Fatalf("hot rows got %.3f of n1's increments, want 0.5 +- 0.05", share)
	}
	// Clients on n2, not a hot node, leave the hot rows alone.
	wltest.Load(t, w, n2)
	wltest.Run(t, w, n2, 1, 500, 2)
	if c := counts(t, n2); c[1]+c[2] != 0 {
		t.Fatalf("n2 is not in hot-nodes but wrote the hot rows %d times", c[1]+c[2])
	}
}

func TestCounterCheckCatchesALostUpdate(t *testing.T) {
	w, _ := New(nil, env)
	n := wltest.Backends(t)[0].Open(t, "n1")
	wltest.Load(t, w, n)
	wltest.Run(t, w, n, 2, 20, 1)
	wltest.Check(t, w, n)
	// Lose one increment, as a replication bug (Galera's P4) would.
	tx := n.Begin()
	r, _ := tx.GetForUpdate(context.Background(), counterTable, int64(1))
	r[2] = r[2].(int64) - 1
	if err := tx.Update(context.Background(), counterTable, r); err != nil {
		t.Fatal(err)
	}
	tx.Commit(context.Background())
	res, err := w.Check(context.Background(), []workloads.DB{n})
	if err != nil || res["counter_sum_equals_committed_increments"] {
		t.Fatalf("check after a lost update: %v %v, want the counter check to fail", res, err)
	}
}

func TestUsersGroups(t *testing.T) {
	for _, b := range wltest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			w, err := New(map[string]string{"mode": ModeUsersGroups, "users": "500"}, env)
			if err != nil {
				t.Fatal(err)
			}
			n := b.Open(t, "n1")
			wltest.Load(t, w, n)
			out := wltest.Run(t, w, n, 4, 50, 1, protocols.CauseDeadlock, protocols.CauseLockWaitTimeout)
			if out.Committed[txJoin] == 0 || out.Committed[txJoin] != w.Committed() {
				t.Fatalf("committed %v, workload counted %d", out.Committed, w.Committed())
			}
			wltest.Check(t, w, n)
			tx := n.Begin()
			g, _ := tx.Get(context.Background(), groupsTable, int64(1))
			tx.Rollback()
			if g[2].(int64) != w.Committed() || g[4].(int64) < 1 {
				t.Fatalf("hot group row %v, want members = %d and a last user", g, w.Committed())
			}
		})
	}
}

func TestRetryRepeatsTheSameRow(t *testing.T) {
	w, _ := New(map[string]string{"hot-share": "0"}, env)
	n := wltest.Backends(t)[0].Open(t, "n1")
	wltest.Load(t, w, n)
	c := w.NewClient(0, workloads.NewRand(1, 1)).(*client)
	ctx := context.Background()
	c.Next(ctx, n, false)
	first := c.row
	for i := 0; i < 5; i++ {
		c.Next(ctx, n, true)
		if c.row != first {
			t.Fatalf("retry %d moved from row %d to %d", i, first, c.row)
		}
	}
	if got := counts(t, n)[first]; got != 6 {
		t.Fatalf("row %d counted %d, want 6", first, got)
	}
}
