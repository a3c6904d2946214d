package sysbench

import (
	"context"
	"maps"
	"testing"

	"github.com/replbench/replbench/protocols"
	"github.com/replbench/replbench/workloads"
	"github.com/replbench/replbench/workloads/internal/wltest"
)

var small = map[string]string{"table-size": "1000", "tables": "2"}

func newW(t *testing.T, script string, extra map[string]string) *Workload {
	t.Helper()
	opts := maps.Clone(small)
	maps.Copy(opts, extra)
	w, err := New(script, opts, workloads.Env{Seed: 42})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// Every script loads, runs a few hundred transactions on 4 clients with only retryable or
// (for skip-trx delete+insert races) duplicate-key errors, and passes its checks.
func TestEveryScriptRunsAndChecks(t *testing.T) {
	for _, b := range wltest.Backends(t) {
		for _, s := range Scripts {
			for _, extra := range []map[string]string{nil, {"auto-inc": "off", "skip-trx": "on"}} {
				name := b.Name + "/" + s.Name
				if extra != nil {
					name += "/skip-trx,auto-inc-off"
				}
				t.Run(name, func(t *testing.T) {
					w := newW(t, s.Name, extra)
					n := b.Open(t, "n1")
					wltest.Load(t, w, n)
					out := wltest.Run(t, w, n, 4, 60, 7, protocols.CauseDeadlock, protocols.CauseLockWaitTimeout, protocols.CauseDuplicateKey)
					if out.Committed[s.Name] < 200 {
						t.Fatalf("committed %v, aborted %v: want most of 240 to commit", out.Committed, out.Aborted)
					}
					wltest.Check(t, w, n)
				})
			}
		}
	}
}

func TestLoadIsDeterministic(t *testing.T) {
	for _, b := range wltest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			a := wltest.Load(t, newW(t, ReadWrite, nil), b.Open(t, "n1"))
			c := wltest.Load(t, newW(t, ReadWrite, nil), b.Open(t, "n2"))
			if !maps.Equal(a, c) || len(a) != 2 {
				t.Fatalf("same seed, different checksums: %v vs %v", a, c)
			}
			w, _ := New(ReadWrite, small, workloads.Env{Seed: 43})
			if d := wltest.Load(t, w, b.Open(t, "n3")); maps.Equal(a, d) {
				t.Fatal("different seeds gave the same data")
			}
		})
	}
}

func kinds(plan []stmt) map[stmtKind]int {
	out := map[stmtKind]int{}
	for _, s := range plan {
		out[s.kind]++
	}
	return out
}

// oltp_read_write: 10 point selects, one of each range, one index and one non-index update,
// one delete and one insert of the same id (20 statements with BEGIN/COMMIT).
func TestStatementMix(t *testing.T) {
	cases := []struct {
		script string
		want   map[stmtKind]int
	}{
		{ReadWrite, map[stmtKind]int{pointSelect: 10, simpleRange: 1, sumRange: 1, orderRange: 1, distinctRange: 1, indexUpdate: 1, nonIndexUpdate: 1, deleteRow: 1, insertRow: 1}},
		{ReadOnly, map[stmtKind]int{pointSelect: 10, simpleRange: 1, sumRange: 1, orderRange: 1, distinctRange: 1}},
		{WriteOnly, map[stmtKind]int{indexUpdate: 1, nonIndexUpdate: 1, deleteRow: 1, insertRow: 1}},
		{PointSelect, map[stmtKind]int{pointSelect: 1}},
		{Insert, map[stmtKind]int{insertRow: 1}},
		{UpdateIndex, map[stmtKind]int{indexUpdate: 1}},
		{UpdateNonIndex, map[stmtKind]int{nonIndexUpdate: 1}},
		{Delete, map[stmtKind]int{deleteRow: 1}},
	}
	for _, c := range cases {
		w := newW(t, c.script, nil)
		cl := w.NewClient(0, workloads.NewRand(1, 1)).(*client)
		cl.newPlan()
		if got := kinds(cl.plan); !maps.Equal(got, c.want) {
			t.Errorf("%s: statements %v, want %v", c.script, got, c.want)
		}
		if cl.transactional() != (c.script == ReadWrite || c.script == ReadOnly || c.script == WriteOnly) {
			t.Errorf("%s: transactional = %v", c.script, cl.transactional())
		}
	}
	// delete_inserts re-inserts the id it deleted; ids stay in [1, table-size].
	w := newW(t, WriteOnly, map[string]string{"delete-inserts": "3"})
	cl := w.NewClient(0, workloads.NewRand(1, 1)).(*client)
	for i := 0; i < 100; i++ {
		cl.newPlan()
		for j, s := range cl.plan {
			if s.id < 1 || s.id > 1000 || s.table < 1 || s.table > 2 {
				t.Fatalf("statement %+v outside the tables", s)
			}
			if s.kind == deleteRow && (cl.plan[j+1].kind != insertRow || cl.plan[j+1].id != s.id) {
				t.Fatalf("delete of %d not followed by an insert of the same id: %+v", s.id, cl.plan[j+1])
			}
		}
	}
}

func TestRetryRerunsTheSamePlan(t *testing.T) {
	w := newW(t, ReadWrite, nil)
	n := wltest.Backends(t)[0].Open(t, "n1")
	wltest.Load(t, w, n)
	cl := w.NewClient(0, workloads.NewRand(1, 1)).(*client)
	ctx := context.Background()
	if _, err := cl.Next(ctx, n, false); err != nil {
		t.Fatal(err)
	}
	before := append([]stmt(nil), cl.plan...)
	if _, err := cl.Next(ctx, n, true); err != nil {
		t.Fatal(err)
	}
	if len(before) != len(cl.plan) {
		t.Fatal("retry changed the plan")
	}
	for i := range before {
		if before[i] != cl.plan[i] {
			t.Fatalf("retry changed statement %d: %+v -> %+v", i, before[i], cl.plan[i])
		}
	}
	cl.Next(ctx, n, false)
	if cl.plan[0] == before[0] && cl.plan[1] == before[1] {
		t.Fatal("a new transaction reused the old parameters")
	}
}

// With --rand-type special three quarters of the point selects hit the 1% window.
func TestDistributionReachesTheStatements(t *testing.T) {
	w := newW(t, PointSelect, map[string]string{"table-size": "10000"})
	lo, hi := w.dist.SpecialWindow(1, 10000)
	cl := w.NewClient(0, workloads.NewRand(1, 1)).(*client)
	in := 0
	const n = 20000
	for i := 0; i < n; i++ {
		cl.newPlan()
		if id := cl.plan[0].id; id >= lo && id <= hi {
			in++
		}
	}
	if share := float64(in) / n; share < 0.74 || share > 0.79 {
		t.Fatalf("special: %.3f of point selects in the hot 1%%, want about 0.76", share)
	}
}

func TestCheckCatchesAMissingRow(t *testing.T) {
	w := newW(t, WriteOnly, nil)
	n := wltest.Backends(t)[0].Open(t, "n1")
	wltest.Load(t, w, n)
	wltest.Run(t, w, n, 2, 20, 1)
	wltest.Check(t, w, n)
	tx := n.Begin()
	tx.Delete(context.Background(), TableName(1), int64(500))
	tx.Commit(context.Background())
	res, _ := w.Check(context.Background(), []workloads.DB{n})
	if res["rows_equal_expected"] {
		t.Fatal("rows check passed with a row missing")
	}
}

func BenchmarkReadWriteMemdb(b *testing.B) {
	w, _ := New(ReadWrite, small, workloads.Env{Seed: 1})
	n := wltest.Backends(b)[0].Open(b, "n1")
	wltest.Load(b, w, n)
	cl := w.NewClient(0, workloads.NewRand(1, 1))
	ctx := context.Background()
	for b.Loop() {
		if _, err := cl.Next(ctx, n, false); err != nil {
			b.Fatal(err)
		}
	}
}
