package tpcc

import (
	"context"
	"fmt"
	"math"

	"github.com/replbench/replbench/storage"
	"github.com/replbench/replbench/workloads"
)

// Check names, keyed to TPC-C clause 3.3.2 (consistency conditions 1-10 and 12; 11 holds
// only in a freshly loaded database and is not checked after a run).
const (
	Check1  = "c01_w_ytd_eq_sum_d_ytd"
	Check2  = "c02_d_next_o_id_eq_max_o_id_eq_max_no_o_id"
	Check3  = "c03_new_orders_contiguous"
	Check4  = "c04_sum_o_ol_cnt_eq_order_lines"
	Check5  = "c05_carrier_null_iff_new_order"
	Check6  = "c06_o_ol_cnt_eq_lines_per_order"
	Check7  = "c07_delivery_d_null_iff_carrier_null"
	Check8  = "c08_w_ytd_eq_sum_h_amount"
	Check9  = "c09_d_ytd_eq_sum_h_amount"
	Check10 = "c10_c_balance_eq_delivered_minus_paid"
	Check12 = "c12_c_balance_plus_ytd_payment_eq_delivered"
)

// Checks lists every check name.
var Checks = []string{Check1, Check2, Check3, Check4, Check5, Check6, Check7, Check8, Check9, Check10, Check12}

// moneyEq compares sums of cent amounts kept in float64.
func moneyEq(a, b float64) bool {
	return math.Abs(a-b) <= 0.005+1e-12*math.Max(math.Abs(a), math.Abs(b))
}

type dkey struct{ w, d int64 }
type okey struct{ w, d, o int64 }
type ckey struct{ w, d, c int64 }

type districtStats struct {
	nextOID, maxOID, maxNO, minNO, countNO int64
	sumOlCnt, lines                        int64
	ytd, hist                              float64
}

// CheckDB implements workloads.Workload: the TPC-C consistency conditions on every node. It
// reads whole tables in one transaction per node, after the run has quiesced.
func (w *Workload) Check(ctx context.Context, dbs []workloads.DB) (map[string]bool, error) {
	out := map[string]bool{}
	for _, name := range Checks {
		out[name] = true
	}
	for _, db := range dbs {
		res, err := w.checkNode(ctx, db)
		if err != nil {
			return nil, fmt.Errorf("tpcc check on %s: %w", db.Node(), err)
		}
		for k, v := range res {
			out[k] = out[k] && v
		}
	}
	return out, nil
}

func (w *Workload) checkNode(ctx context.Context, db workloads.DB) (map[string]bool, error) {
	tx := db.Begin()
	defer tx.Rollback()
	ok := map[string]bool{}
	for _, n := range Checks {
		ok[n] = true
	}
	fail := func(n string) { ok[n] = false }
	scan := func(table string, fn func(storage.Row)) error {
		return tx.Scan(ctx, table, storage.ScanOptions{}, func(r storage.Row) bool { fn(r); return true })
	}

	whYtd := map[int64]float64{}
	wHist := map[int64]float64{}
	wSumD := map[int64]float64{}
	ds := map[dkey]*districtStats{}
	if err := scan(tWarehouse, func(r storage.Row) { whYtd[r[wID].(int64)] = r[wYtd].(float64) }); err != nil {
		return nil, err
	}
	if err := scan(tDistrict, func(r storage.Row) {
		k := dkey{r[dWID].(int64), r[dID].(int64)}
		ds[k] = &districtStats{nextOID: r[dNextOID].(int64), ytd: r[dYtd].(float64), minNO: math.MaxInt64}
		wSumD[k.w] += r[dYtd].(float64)
	}); err != nil {
		return nil, err
	}
	dist := func(w, d int64) *districtStats {
		s := ds[dkey{w, d}]
		if s == nil {
			s = &districtStats{minNO: math.MaxInt64}
			ds[dkey{w, d}] = s
		}
		return s
	}
	hasNO := map[okey]bool{}
	if err := scan(tNewOrder, func(r storage.Row) {
		s := dist(r[noWID].(int64), r[noDID].(int64))
		o := r[noOID].(int64)
		s.countNO++
		s.maxNO = max(s.maxNO, o)
		s.minNO = min(s.minNO, o)
		hasNO[okey{r[noWID].(int64), r[noDID].(int64), o}] = true
	}); err != nil {
		return nil, err
	}
	type order struct {
		c, olCnt, lines int64
		delivered       bool
	}
	orders := map[okey]*order{}
	if err := scan(tOrders, func(r storage.Row) {
		k := okey{r[oWID].(int64), r[oDID].(int64), r[oID].(int64)}
		s := dist(k.w, k.d)
		s.maxOID = max(s.maxOID, k.o)
		s.sumOlCnt += r[oOlCnt].(int64)
		delivered := r[oCarrierID] != nil
		orders[k] = &order{c: r[oCID].(int64), olCnt: r[oOlCnt].(int64), delivered: delivered}
		if delivered == hasNO[k] {
			fail(Check5)
		}
	}); err != nil {
		return nil, err
	}
	for k := range hasNO {
		if orders[k] == nil {
			fail(Check5) // a new_order row without its order
		}
	}
	deliveredAmount := map[ckey]float64{}
	if err := scan(tOrderLine, func(r storage.Row) {
		k := okey{r[olWID].(int64), r[olDID].(int64), r[olOID].(int64)}
		dist(k.w, k.d).lines++
		o := orders[k]
		if o == nil {
			fail(Check6) // an order line without its order
			return
		}
		o.lines++
		if (r[olDeliveryD] == nil) == o.delivered {
			fail(Check7)
		}
		if r[olDeliveryD] != nil {
			deliveredAmount[ckey{k.w, k.d, o.c}] += r[olAmount].(float64)
		}
	}); err != nil {
		return nil, err
	}
	for _, o := range orders {
		if o.lines != o.olCnt {
			fail(Check6)
		}
	}
	paid := map[ckey]float64{}
	if err := scan(tHistory, func(r storage.Row) {
		a := r[hAmount].(float64)
		wHist[r[hWID].(int64)] += a
		dist(r[hWID].(int64), r[hDID].(int64)).hist += a
		paid[ckey{r[hCWID].(int64), r[hCDID].(int64), r[hCID].(int64)}] += a
	}); err != nil {
		return nil, err
	}
	if err := scan(tCustomer, func(r storage.Row) {
		k := ckey{r[cWID].(int64), r[cDID].(int64), r[cID].(int64)}
		bal := r[cBalance].(float64)
		if !moneyEq(bal, deliveredAmount[k]-paid[k]) {
			fail(Check10)
		}
		if !moneyEq(bal+r[cYtdPayment].(float64), deliveredAmount[k]) {
			fail(Check12)
		}
	}); err != nil {
		return nil, err
	}

	for wh, ytd := range whYtd {
		if !moneyEq(ytd, wSumD[wh]) {
			fail(Check1)
		}
		if !moneyEq(ytd, wHist[wh]) {
			fail(Check8)
		}
	}
	for _, s := range ds {
		if s.nextOID-1 != s.maxOID || (s.countNO > 0 && s.maxNO != s.maxOID) {
			fail(Check2)
		}
		if s.countNO > 0 && s.maxNO-s.minNO+1 != s.countNO {
			fail(Check3)
		}
		if s.sumOlCnt != s.lines {
			fail(Check4)
		}
		if !moneyEq(s.ytd, s.hist) {
			fail(Check9)
		}
	}
	return ok, nil
}
