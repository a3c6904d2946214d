package tpcc

import (
	"context"
	"maps"
	"testing"
	"time"

	"github.com/replbench/replbench/protocols"
	"github.com/replbench/replbench/storage"
	"github.com/replbench/replbench/workloads"
	"github.com/replbench/replbench/workloads/internal/wltest"
)

var small = map[string]string{"warehouses": "2", "scale": "0.01"}

func newW(t testing.TB, seed int64) *Workload {
	t.Helper()
	w, err := New(small, workloads.Env{Seed: seed})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// A run of the standard mix on two warehouses keeps every consistency condition true.
func TestRunKeepsConsistencyConditions(t *testing.T) {
	for _, b := range wltest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			w := newW(t, 5)
			n := b.Open(t, "n1")
			wltest.Load(t, w, n)
			wltest.Check(t, w, n) // true right after the load, too
			out := wltest.Run(t, w, n, 4, 100, 9, protocols.CauseRolledBack, protocols.CauseDeadlock, protocols.CauseLockWaitTimeout)
			res := wltest.Check(t, w, n)
			if len(res) != len(Checks) {
				t.Fatalf("ran %d checks, want %d", len(res), len(Checks))
			}
			for _, typ := range []string{TxNewOrder, TxPayment, TxOrderStatus, TxDelivery, TxStockLevel} {
				if out.Committed[typ] == 0 {
					t.Errorf("no %s committed in 400 transactions: %v", typ, out.Committed)
				}
			}
			if got := out.Aborted[protocols.CauseRolledBack]; got != w.Rollbacks() {
				t.Errorf("%d rolled_back errors, workload counted %d", got, w.Rollbacks())
			}
			t.Logf("committed %v aborted %v retries %d", out.Committed, out.Aborted, out.Retries)
		})
	}
}

func TestMixAndRollbackRate(t *testing.T) {
	w := newW(t, 1)
	c := w.NewClient(0, workloads.NewRand(1, 1)).(*client)
	const n = 40000
	count := map[string]int{}
	rollbacks, remoteLines, lines, remotePay, byName := 0, 0, 0, 0, 0
	for i := 0; i < n; i++ {
		c.newInput()
		count[c.in.typ]++
		switch c.in.typ {
		case TxNewOrder:
			if len(c.in.lines) < 5 || len(c.in.lines) > 15 {
				t.Fatalf("%d order lines", len(c.in.lines))
			}
			if c.in.lines[len(c.in.lines)-1].item > w.items {
				rollbacks++
			}
			for _, l := range c.in.lines {
				lines++
				if l.supply != c.home {
					remoteLines++
				}
			}
		case TxPayment:
			if c.in.cW != c.home {
				remotePay++
			}
			if c.in.byName {
				byName++
			}
		}
	}
	within := func(name string, got, want, tol float64) {
		if got < want-tol || got > want+tol {
			t.Errorf("%s: %.4f, want %.4f +- %.4f", name, got, want, tol)
		}
	}
	within("new_order share", float64(count[TxNewOrder])/n, 0.45, 0.01)
	within("payment share", float64(count[TxPayment])/n, 0.43, 0.01)
	for _, typ := range []string{TxOrderStatus, TxDelivery, TxStockLevel} {
		within(typ+" share", float64(count[typ])/n, 0.04, 0.005)
	}
	within("new_order rollbacks", float64(rollbacks)/float64(count[TxNewOrder]), 0.01, 0.003)
	within("remote order lines", float64(remoteLines)/float64(lines), 0.01, 0.002)
	within("remote payments", float64(remotePay)/float64(count[TxPayment]), 0.15, 0.01)
	within("payments by last name", float64(byName)/float64(count[TxPayment]), 0.60, 0.015)
}

func TestLoadIsDeterministic(t *testing.T) {
	for _, b := range wltest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			a := wltest.Load(t, newW(t, 5), b.Open(t, "n1"))
			c := wltest.Load(t, newW(t, 5), b.Open(t, "n2"))
			if len(a) != 9 || !maps.Equal(a, c) {
				t.Fatalf("same seed: checksums %v vs %v", a, c)
			}
			if d := wltest.Load(t, newW(t, 6), b.Open(t, "n3")); maps.Equal(a, d) {
				t.Fatal("different seeds gave the same data")
			}
		})
	}
}

func TestPopulationAtScale(t *testing.T) {
	w, _ := New(map[string]string{"scale": "1"}, workloads.Env{})
	if w.items != 100000 || w.customers != 3000 || w.newOrders != 900 || w.lastNames != 1000 {
		t.Fatalf("scale 1: %d items, %d customers, %d new orders, %d names; want TPC-C's 100000, 3000, 900, 1000",
			w.items, w.customers, w.newOrders, w.lastNames)
	}
	w = newW(t, 1)
	if w.items != 1000 || w.customers != 30 || w.newOrders != 9 {
		t.Fatalf("scale 0.01: %d items, %d customers, %d new orders", w.items, w.customers, w.newOrders)
	}
	if d := (w.c.cLastRun - w.c.cLastLoad + 256) % 256; d < 65 || d > 119 || d == 96 || d == 112 {
		t.Fatalf("C_LAST run-load delta %d violates TPC-C 2.1.6.1", d)
	}
}

// mutate changes one row on the node in its own transaction.
func mutate(t *testing.T, db workloads.DB, fn func(ctx context.Context, tx workloads.Tx) error) {
	t.Helper()
	ctx := context.Background()
	tx := db.Begin()
	if err := fn(ctx, tx); err != nil {
		tx.Rollback()
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
}

// Each deliberate corruption breaks the conditions that cover it, and only those.
func TestChecksCatchCorruption(t *testing.T) {
	cases := []struct {
		name string
		fn   func(ctx context.Context, tx workloads.Tx) error
		want []string
	}{
		{"district ytd off by a dollar", func(ctx context.Context, tx workloads.Tx) error {
			r, _ := tx.GetForUpdate(ctx, tDistrict, int64(1), int64(3))
			r[dYtd] = r[dYtd].(float64) + 1
			return tx.Update(ctx, tDistrict, r)
		}, []string{Check1, Check9}},
		{"order line lost", func(ctx context.Context, tx workloads.Tx) error {
			_, err := tx.Delete(ctx, tOrderLine, int64(2), int64(4), int64(1), int64(1))
			return err
		}, []string{Check4, Check6}},
		{"new order in the middle lost", func(ctx context.Context, tx workloads.Tx) error {
			var ids []int64
			tx.Scan(ctx, tNewOrder, storage.ScanOptions{From: []storage.Value{int64(1), int64(1)}, To: []storage.Value{int64(1), int64(2)}},
				func(r storage.Row) bool { ids = append(ids, r[noOID].(int64)); return true })
			if len(ids) < 3 {
				t.Fatalf("only %d new orders left in district 1", len(ids))
			}
			_, err := tx.Delete(ctx, tNewOrder, int64(1), int64(1), ids[len(ids)/2])
			return err
		}, []string{Check3, Check5}},
		{"d_next_o_id skipped", func(ctx context.Context, tx workloads.Tx) error {
			r, _ := tx.GetForUpdate(ctx, tDistrict, int64(2), int64(10))
			r[dNextOID] = r[dNextOID].(int64) + 1
			return tx.Update(ctx, tDistrict, r)
		}, []string{Check2}},
		{"payment without history", func(ctx context.Context, tx workloads.Tx) error {
			r, _ := tx.GetForUpdate(ctx, tCustomer, int64(1), int64(1), int64(7))
			r[cBalance] = r[cBalance].(float64) - 5
			r[cYtdPayment] = r[cYtdPayment].(float64) + 5
			return tx.Update(ctx, tCustomer, r)
		}, []string{Check10}},
		{"delivered line without date", func(ctx context.Context, tx workloads.Tx) error {
			r, _ := tx.GetForUpdate(ctx, tOrderLine, int64(1), int64(2), int64(1), int64(1))
			r[olDeliveryD] = nil
			return tx.Update(ctx, tOrderLine, r)
		}, []string{Check7}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := newW(t, 5)
			n := wltest.Backends(t)[0].Open(t, "n1")
			wltest.Load(t, w, n)
			wltest.Run(t, w, n, 2, 50, 3, protocols.CauseRolledBack)
			wltest.Check(t, w, n)
			mutate(t, n, c.fn)
			res, err := w.Check(context.Background(), []workloads.DB{n})
			if err != nil {
				t.Fatal(err)
			}
			want := map[string]bool{}
			for _, k := range Checks {
				want[k] = true
			}
			for _, k := range c.want {
				want[k] = false
			}
			if !maps.Equal(res, want) {
				t.Fatalf("checks %v, want failures exactly at %v", res, c.want)
			}
		})
	}
}

func TestCustomerByLastNamePicksTheMiddleOne(t *testing.T) {
	w := newW(t, 5)
	n := wltest.Backends(t)[0].Open(t, "n1")
	wltest.Load(t, w, n)
	ctx := context.Background()
	tx := n.Begin()
	defer tx.Rollback()
	// Every last name in use has customers, ordered by first name in the index.
	for num := int64(0); num < w.lastNames; num++ {
		last := lastName(num)
		var firsts []string
		tx.Scan(ctx, tCustomer, storage.ScanOptions{Index: ixCustomerName, From: []storage.Value{int64(1), int64(1), last}},
			func(r storage.Row) bool {
				if r[cLast] != last || r[cDID].(int64) != 1 {
					return false
				}
				firsts = append(firsts, r[cFirst].(string))
				return true
			})
		if len(firsts) == 0 {
			t.Fatalf("no customer named %s in district 1", last)
		}
		c := &client{w: w}
		id, err := c.customerByName(ctx, tx, 1, 1, last)
		if err != nil {
			t.Fatal(err)
		}
		r, _ := tx.Get(ctx, tCustomer, int64(1), int64(1), id)
		if r[cFirst] != firsts[(len(firsts)-1)/2] {
			t.Fatalf("%s: picked %s, want the middle of %v", last, r[cFirst], firsts)
		}
	}
}

func TestMetrics(t *testing.T) {
	w := newW(t, 1)
	m := w.Metrics(map[string]int64{TxNewOrder: 450, TxPayment: 430, TxDelivery: 40, TxOrderStatus: 40, TxStockLevel: 40}, 30*time.Second)
	if m["tpmC"] != 900 || m["tpmTotal"] != 2000 {
		t.Fatalf("metrics %v, want tpmC 900 and tpmTotal 2000 for 450 New-Orders of 1000 in 30 s", m)
	}
	var wl workloads.Workload = w
	if _, ok := wl.(workloads.Metricser); !ok {
		t.Fatal("the workload does not expose Metrics to the harness")
	}
}

func BenchmarkLoad(b *testing.B) {
	for b.Loop() {
		w, _ := New(map[string]string{"scale": "0.01"}, workloads.Env{Seed: 1})
		n := wltest.Backends(b)[0].Open(b, "n1")
		wltest.Load(b, w, n)
	}
}
