package tpcc

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/replbench/replbench/protocols"
	"github.com/replbench/replbench/storage"
	"github.com/replbench/replbench/workloads"
)

// NewClientDB implements workloads.Workload. Client i is a terminal of warehouse i mod W + 1.
func (w *Workload) NewClient(id int, rng *rand.Rand) workloads.Client {
	return &client{w: w, rng: rng, home: int64(id)%w.warehouses + 1}
}

type orderLine struct {
	item, supply, qty int64
}

// input is one transaction's parameters, drawn before it starts so a retry repeats it.
type input struct {
	typ       string
	d         int64
	cW, cD    int64 // customer's warehouse and district (Payment may be remote)
	c         int64 // customer id, when not by name
	last      string
	byName    bool
	amount    float64
	lines     []orderLine
	carrier   int64
	threshold int64
}

type client struct {
	w    *Workload
	rng  *rand.Rand
	home int64
	in   input
}

func (c *client) otherWarehouse() int64 {
	o := workloads.IntRange(c.rng, 1, c.w.warehouses-1)
	if o >= c.home {
		o++
	}
	return o
}

func (c *client) newInput() {
	w, rng := c.w, c.rng
	in := input{d: workloads.IntRange(rng, 1, districtsPerWarehouse)}
	in.cW, in.cD = c.home, in.d
	customer := func() {
		if rng.IntN(100) < w.byNamePct {
			in.byName = true
			in.last = w.randLastName(rng, w.c.cLastRun)
		} else {
			in.c = w.randCustomerID(rng)
		}
	}
	r := rng.IntN(100)
	switch {
	case r < w.mix[0]:
		in.typ = TxNewOrder
		in.c = w.randCustomerID(rng)
		n := workloads.IntRange(rng, 5, 15)
		rollback := rng.IntN(100) < w.rbkPct
		for i := int64(0); i < n; i++ {
			l := orderLine{item: w.randItemID(rng), supply: c.home, qty: workloads.IntRange(rng, 1, 10)}
			if w.warehouses > 1 && rng.IntN(100) < w.remLinePct {
				l.supply = c.otherWarehouse()
			}
			if rollback && i == n-1 {
				l.item = w.items + 1 // unused item id: the transaction must roll back
			}
			in.lines = append(in.lines, l)
		}
	case r < w.mix[0]+w.mix[1]:
		in.typ = TxPayment
		if w.warehouses > 1 && rng.IntN(100) < w.remPayPct {
			in.cW = c.otherWarehouse()
			in.cD = workloads.IntRange(rng, 1, districtsPerWarehouse)
		}
		customer()
		in.amount = randMoney(rng, 1, 5000)
	case r < w.mix[0]+w.mix[1]+w.mix[2]:
		in.typ = TxOrderStatus
		customer()
	case r < w.mix[0]+w.mix[1]+w.mix[2]+w.mix[3]:
		in.typ = TxDelivery
		in.carrier = workloads.IntRange(rng, 1, 10)
	default:
		in.typ = TxStockLevel
		in.threshold = workloads.IntRange(rng, 10, 20)
	}
	c.in = in
}

// Next implements workloads.Client.
func (c *client) Next(ctx context.Context, db workloads.DB, retry bool) (string, error) {
	if !retry || c.in.typ == "" {
		c.newInput()
	}
	tx := db.Begin()
	var err error
	switch c.in.typ {
	case TxNewOrder:
		err = c.newOrder(ctx, tx)
	case TxPayment:
		err = c.payment(ctx, tx)
	case TxOrderStatus:
		err = c.orderStatus(ctx, tx)
	case TxDelivery:
		err = c.delivery(ctx, tx)
	case TxStockLevel:
		err = c.stockLevel(ctx, tx)
	}
	if err != nil {
		tx.Rollback()
		return c.in.typ, err
	}
	return c.in.typ, tx.Commit(ctx)
}

func missing(table string, key ...any) error {
	return fmt.Errorf("tpcc: %s row %v is missing; the database was not loaded by this workload with the same options and seed", table, key)
}

// newOrder is clause 2.4.2.
func (c *client) newOrder(ctx context.Context, tx workloads.Tx) error {
	in, wh := &c.in, c.home
	now := time.Now().Unix()
	wr, err := tx.Get(ctx, tWarehouse, wh)
	if err != nil {
		return err
	}
	if wr == nil {
		return missing(tWarehouse, wh)
	}
	dr, err := tx.GetForUpdate(ctx, tDistrict, wh, in.d)
	if err != nil {
		return err
	}
	if dr == nil {
		return missing(tDistrict, wh, in.d)
	}
	o := dr[dNextOID].(int64)
	dr[dNextOID] = o + 1
	if err := tx.Update(ctx, tDistrict, dr); err != nil {
		return err
	}
	cr, err := tx.Get(ctx, tCustomer, wh, in.d, in.c)
	if err != nil {
		return err
	}
	if cr == nil {
		return missing(tCustomer, wh, in.d, in.c)
	}
	allLocal := int64(1)
	for _, l := range in.lines {
		if l.supply != wh {
			allLocal = 0
		}
	}
	if _, err := tx.Insert(ctx, tOrders, storage.Row{o, in.d, wh, in.c, now, nil, int64(len(in.lines)), allLocal}); err != nil {
		return err
	}
	if _, err := tx.Insert(ctx, tNewOrder, storage.Row{o, in.d, wh}); err != nil {
		return err
	}
	for n, l := range in.lines {
		ir, err := tx.Get(ctx, tItem, l.item)
		if err != nil {
			return err
		}
		if ir == nil {
			c.w.rollbacks.Add(1)
			return protocols.ErrRolledBack(fmt.Sprintf("New-Order names unused item %d (TPC-C 2.4.2.3)", l.item))
		}
		sr, err := tx.GetForUpdate(ctx, tStock, l.supply, l.item)
		if err != nil {
			return err
		}
		if sr == nil {
			return missing(tStock, l.supply, l.item)
		}
		q := sr[sQuantity].(int64)
		if q >= l.qty+10 {
			q -= l.qty
		} else {
			q += 91 - l.qty
		}
		sr[sQuantity] = q
		sr[sYtd] = sr[sYtd].(int64) + l.qty
		sr[sOrderCnt] = sr[sOrderCnt].(int64) + 1
		if l.supply != wh {
			sr[sRemote] = sr[sRemote].(int64) + 1
		}
		if err := tx.Update(ctx, tStock, sr); err != nil {
			return err
		}
		amount := cents(float64(l.qty) * ir[iPrice].(float64))
		row := storage.Row{o, in.d, wh, int64(n + 1), l.item, l.supply, nil, l.qty, amount, sr[sDist01+int(in.d)-1]}
		if _, err := tx.Insert(ctx, tOrderLine, row); err != nil {
			return err
		}
	}
	return nil
}

// customerByName returns the primary key of the customer in the middle (position n/2
// rounded up) of those with the last name, ordered by first name (clause 2.5.2.2).
func (c *client) customerByName(ctx context.Context, tx workloads.Tx, cw, cd int64, last string) (int64, error) {
	var ids []int64
	err := tx.Scan(ctx, tCustomer, storage.ScanOptions{Index: ixCustomerName, From: []storage.Value{cw, cd, last}},
		func(r storage.Row) bool {
			if r[cWID].(int64) != cw || r[cDID].(int64) != cd || r[cLast].(string) != last {
				return false
			}
			ids = append(ids, r[cID].(int64))
			return true
		})
	if err != nil {
		return 0, err
	}
	if len(ids) == 0 {
		return 0, missing(tCustomer, cw, cd, "c_last="+last)
	}
	return ids[(len(ids)-1)/2], nil
}

// payment is clause 2.5.2.
func (c *client) payment(ctx context.Context, tx workloads.Tx) error {
	in, wh := &c.in, c.home
	wr, err := tx.GetForUpdate(ctx, tWarehouse, wh)
	if err != nil {
		return err
	}
	if wr == nil {
		return missing(tWarehouse, wh)
	}
	wr[wYtd] = cents(wr[wYtd].(float64) + in.amount)
	if err := tx.Update(ctx, tWarehouse, wr); err != nil {
		return err
	}
	dr, err := tx.GetForUpdate(ctx, tDistrict, wh, in.d)
	if err != nil {
		return err
	}
	if dr == nil {
		return missing(tDistrict, wh, in.d)
	}
	dr[dYtd] = cents(dr[dYtd].(float64) + in.amount)
	if err := tx.Update(ctx, tDistrict, dr); err != nil {
		return err
	}
	cid := in.c
	if in.byName {
		if cid, err = c.customerByName(ctx, tx, in.cW, in.cD, in.last); err != nil {
			return err
		}
	}
	cr, err := tx.GetForUpdate(ctx, tCustomer, in.cW, in.cD, cid)
	if err != nil {
		return err
	}
	if cr == nil {
		return missing(tCustomer, in.cW, in.cD, cid)
	}
	cr[cBalance] = cents(cr[cBalance].(float64) - in.amount)
	cr[cYtdPayment] = cents(cr[cYtdPayment].(float64) + in.amount)
	cr[cPaymentCnt] = cr[cPaymentCnt].(int64) + 1
	if cr[cCredit] == "BC" {
		s := fmt.Sprintf("%d %d %d %d %d %.2f|", cid, in.cD, in.cW, in.d, wh, in.amount) + cr[cData].(string)
		cr[cData] = s[:min(len(s), 500)]
	}
	if err := tx.Update(ctx, tCustomer, cr); err != nil {
		return err
	}
	hdata := wr[wName].(string) + "    " + dr[dName].(string)
	_, err = tx.Insert(ctx, tHistory, storage.Row{int64(0), cid, in.cD, in.cW, in.d, wh, time.Now().Unix(), in.amount, hdata[:min(len(hdata), 24)]})
	return err
}

// orderStatus is clause 2.6.2: read-only.
func (c *client) orderStatus(ctx context.Context, tx workloads.Tx) error {
	in, wh := &c.in, c.home
	cid := in.c
	var err error
	if in.byName {
		if cid, err = c.customerByName(ctx, tx, wh, in.d, in.last); err != nil {
			return err
		}
	}
	cr, err := tx.Get(ctx, tCustomer, wh, in.d, cid)
	if err != nil {
		return err
	}
	if cr == nil {
		return missing(tCustomer, wh, in.d, cid)
	}
	o := int64(-1)
	err = tx.Scan(ctx, tOrders, storage.ScanOptions{Index: ixOrderCust, From: []storage.Value{wh, in.d, cid},
		To: []storage.Value{wh, in.d, cid + 1}, Reverse: true, Limit: 1}, func(r storage.Row) bool {
		if r[oCID].(int64) == cid && r[oDID].(int64) == in.d && r[oWID].(int64) == wh {
			o = r[oID].(int64)
		}
		return false
	})
	if err != nil || o < 0 {
		return err // a customer without orders is legal after a reduced-scale load
	}
	return tx.Scan(ctx, tOrderLine, storage.ScanOptions{From: []storage.Value{wh, in.d, o}, To: []storage.Value{wh, in.d, o + 1}},
		func(r storage.Row) bool { return r[olOID].(int64) == o })
}

// delivery is clause 2.7.4, executed at once rather than deferred, as DBT2 does.
func (c *client) delivery(ctx context.Context, tx workloads.Tx) error {
	wh := c.home
	now := time.Now().Unix()
	for d := int64(1); d <= districtsPerWarehouse; d++ {
		o := int64(-1)
		err := tx.Scan(ctx, tNewOrder, storage.ScanOptions{From: []storage.Value{wh, d}, To: []storage.Value{wh, d + 1}, Limit: 1},
			func(r storage.Row) bool {
				if r[noWID].(int64) == wh && r[noDID].(int64) == d {
					o = r[noOID].(int64)
				}
				return false
			})
		if err != nil {
			return err
		}
		if o < 0 {
			continue // no undelivered order in this district: skipped, as the spec allows
		}
		ok, err := tx.Delete(ctx, tNewOrder, wh, d, o)
		if err != nil {
			return err
		}
		if !ok {
			continue // delivered by a concurrent Delivery since our snapshot
		}
		or, err := tx.GetForUpdate(ctx, tOrders, wh, d, o)
		if err != nil {
			return err
		}
		if or == nil {
			return missing(tOrders, wh, d, o)
		}
		or[oCarrierID] = c.in.carrier
		if err := tx.Update(ctx, tOrders, or); err != nil {
			return err
		}
		var lines []storage.Row
		err = tx.Scan(ctx, tOrderLine, storage.ScanOptions{From: []storage.Value{wh, d, o}, To: []storage.Value{wh, d, o + 1}},
			func(r storage.Row) bool {
				if r[olOID].(int64) != o {
					return false
				}
				lines = append(lines, r)
				return true
			})
		if err != nil {
			return err
		}
		sum := 0.0
		for _, l := range lines {
			sum += l[olAmount].(float64)
			l[olDeliveryD] = now
			if err := tx.Update(ctx, tOrderLine, l); err != nil {
				return err
			}
		}
		cid := or[oCID].(int64)
		cr, err := tx.GetForUpdate(ctx, tCustomer, wh, d, cid)
		if err != nil {
			return err
		}
		if cr == nil {
			return missing(tCustomer, wh, d, cid)
		}
		cr[cBalance] = cents(cr[cBalance].(float64) + sum)
		cr[cDeliveryCnt] = cr[cDeliveryCnt].(int64) + 1
		if err := tx.Update(ctx, tCustomer, cr); err != nil {
			return err
		}
	}
	return nil
}

// stockLevel is clause 2.8.2: read-only; counts distinct items of the district's last 20
// orders whose stock is below the threshold.
func (c *client) stockLevel(ctx context.Context, tx workloads.Tx) error {
	in, wh := &c.in, c.home
	dr, err := tx.Get(ctx, tDistrict, wh, in.d)
	if err != nil {
		return err
	}
	if dr == nil {
		return missing(tDistrict, wh, in.d)
	}
	next := dr[dNextOID].(int64)
	items := map[int64]bool{}
	err = tx.Scan(ctx, tOrderLine, storage.ScanOptions{From: []storage.Value{wh, in.d, next - 20}, To: []storage.Value{wh, in.d, next}},
		func(r storage.Row) bool {
			if r[olOID].(int64) >= next || r[olDID].(int64) != in.d {
				return false
			}
			items[r[olIID].(int64)] = true
			return true
		})
	if err != nil {
		return err
	}
	low := 0
	for i := range items {
		sr, err := tx.Get(ctx, tStock, wh, i)
		if err != nil {
			return err
		}
		if sr != nil && sr[sQuantity].(int64) < in.threshold {
			low++
		}
	}
	_ = low
	return nil
}
