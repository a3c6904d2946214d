// Package tpcc is TPC-C as DBT2 and go-tpc run it: nine tables, the five transactions in
// the standard mix (New-Order 45, Payment 43, Order-Status 4, Delivery 4, Stock-Level 4),
// 1% of New-Orders rolled back through an unused item id, remote warehouses (1% of order
// lines, 15% of payments), customers found by last name through a secondary index in 60% of
// Payment and Order-Status, no keying or think time (DBT2's -n), and the consistency
// conditions of TPC-C clause 3.3.2 checked at the end.
//
// For replication the interesting part is where TPC-C concentrates writes: every New-Order
// increments its district's d_next_o_id and every Payment adds to a warehouse's w_ytd and a
// district's d_ytd, so with few warehouses a handful of rows are written by almost every
// transaction. That is Callaghan's hot row again, inside a standard benchmark.
//
// --scale shrinks the population for quick runs (items, customers and initial orders per
// district), keeping ratios and the NURand skew; --scale 1 is the full 100000 items and
// 3000 customers per district.
package tpcc

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/replbench/replbench/storage"
	"github.com/replbench/replbench/workloads"
)

// Name is the registered name.
const Name = "tpcc"

// Transaction type names, as results and per-type histograms show them.
const (
	TxNewOrder    = "new_order"
	TxPayment     = "payment"
	TxOrderStatus = "order_status"
	TxDelivery    = "delivery"
	TxStockLevel  = "stock_level"
)

// TPC-C's fixed cardinalities at scale 1.
const (
	districtsPerWarehouse = 10
	fullItems             = 100000
	fullCustomers         = 3000 // per district
	fullNewOrders         = 900  // undelivered initial orders per district
	fullLastNames         = 1000
)

// Options lists the workload's options.
var Options = []workloads.Option{
	{Name: "warehouses", Default: "1", Help: "warehouses (W); every client has a home warehouse, client i uses warehouse i mod W + 1"},
	{Name: "scale", Default: "0.1", Help: "population factor: items = 100000*scale, customers and initial orders per district = 3000*scale; 1 is full TPC-C (slow to load), 0.1 loads about 60000 rows per warehouse"},
	{Name: "mix", Default: "45,43,4,4,4", Help: "percent of New-Order, Payment, Order-Status, Delivery, Stock-Level; must sum to 100"},
	{Name: "rollback-pct", Default: "1", Help: "percent of New-Orders that name an unused item and roll back (TPC-C: 1)"},
	{Name: "remote-line-pct", Default: "1", Help: "percent of New-Order lines supplied by another warehouse (TPC-C: 1; needs warehouses > 1)"},
	{Name: "remote-payment-pct", Default: "15", Help: "percent of Payments for a customer of another warehouse (TPC-C: 15; needs warehouses > 1)"},
	{Name: "by-name-pct", Default: "60", Help: "percent of Payment and Order-Status that find the customer by last name (TPC-C: 60)"},
}

func init() {
	workloads.Register(workloads.Definition{
		Name:    Name,
		Summary: "TPC-C / DBT2: 9 tables, New-Order/Payment/Order-Status/Delivery/Stock-Level 45/43/4/4/4, consistency checks, tpmC",
		Options: Options,
		New:     workloads.Constructor(New),
	})
}

// Workload is the configured TPC-C workload.
type Workload struct {
	settings   map[string]string
	seed       int64
	warehouses int64
	items      int64
	customers  int64 // per district
	newOrders  int64 // initial undelivered orders per district
	lastNames  int64 // distinct last-name numbers in use
	mix        [5]int
	rbkPct     int
	remLinePct int
	remPayPct  int
	byNamePct  int
	c          nuConstants

	rollbacks atomic.Int64 // New-Orders rolled back on purpose
}

// nuConstants are TPC-C's run-time constants C of NURand (clause 2.1.6), drawn from the
// seed. cLastRun differs from cLastLoad by a delta in [65, 119] other than 96 and 112.
type nuConstants struct {
	cLastLoad, cLastRun, cID, olIID int64
}

// New configures the workload.
func New(opts map[string]string, env workloads.Env) (*Workload, error) {
	o, err := workloads.ResolveOptions(Name, Options, opts)
	if err != nil {
		return nil, err
	}
	w := &Workload{
		settings:   o.Settings(),
		seed:       env.Seed,
		warehouses: o.Int("warehouses", 1, 10000),
		rbkPct:     int(o.Int("rollback-pct", 0, 100)),
		remLinePct: int(o.Int("remote-line-pct", 0, 100)),
		remPayPct:  int(o.Int("remote-payment-pct", 0, 100)),
		byNamePct:  int(o.Int("by-name-pct", 0, 100)),
	}
	scale := o.Float("scale", 0.001, 1)
	if err := o.Err(); err != nil {
		return nil, err
	}
	var sum int
	var n int
	if _, err := fmt.Sscanf(o.String("mix"), "%d,%d,%d,%d,%d", &w.mix[0], &w.mix[1], &w.mix[2], &w.mix[3], &w.mix[4]); err != nil {
		return nil, fmt.Errorf("workload %s: option mix: invalid value %q (accepted: five percentages separated by commas, summing to 100, e.g. 45,43,4,4,4)", Name, o.String("mix"))
	}
	for _, m := range w.mix {
		if m < 0 {
			n++
		}
		sum += m
	}
	if sum != 100 || n > 0 {
		return nil, fmt.Errorf("workload %s: option mix: %q does not sum to 100 with non-negative parts (accepted: e.g. 45,43,4,4,4)", Name, o.String("mix"))
	}
	w.items = max(100, int64(math.Round(fullItems*scale)))
	w.customers = max(10, int64(math.Round(fullCustomers*scale)))
	w.newOrders = w.customers * fullNewOrders / fullCustomers
	w.lastNames = min(fullLastNames, w.customers)
	rng := workloads.NewRand(env.Seed, 0xC0)
	w.c.cLastLoad = rng.Int64N(256)
	for {
		delta := 65 + rng.Int64N(55)
		if delta != 96 && delta != 112 {
			w.c.cLastRun = (w.c.cLastLoad + delta) % 256
			break
		}
	}
	w.c.cID = rng.Int64N(1024)
	w.c.olIID = rng.Int64N(8192)
	w.settings["items"] = fmt.Sprint(w.items)
	w.settings["customers-per-district"] = fmt.Sprint(w.customers)
	return w, nil
}

// Name implements workloads.Workload.
func (w *Workload) Name() string { return Name }

// Tables implements workloads.Workload.
func (w *Workload) Tables() []storage.TableSchema { return Schema() }

// Settings implements workloads.Configured, including the derived population sizes.
func (w *Workload) Settings() map[string]string { return w.settings }

// Rollbacks is the number of New-Orders rolled back on purpose so far.
func (w *Workload) Rollbacks() int64 { return w.rollbacks.Load() }

// Metrics implements workloads.Metricser: tpmC (DBT2's NOTPM) counts committed New-Orders
// per minute, tpmTotal every committed transaction per minute.
func (w *Workload) Metrics(committedByType map[string]int64, elapsed time.Duration) map[string]float64 {
	if elapsed <= 0 {
		return nil
	}
	var total int64
	for _, n := range committedByType {
		total += n
	}
	min := elapsed.Minutes()
	return map[string]float64{
		"tpmC":                float64(committedByType[TxNewOrder]) / min,
		"tpmTotal":            float64(total) / min,
		"new_order_rollbacks": float64(w.rollbacks.Load()),
	}
}

// --- random input, TPC-C clause 2.1 and 4.3.2 ---

// nuRand is NURand(A, x, y) = (((random(0, A) | random(x, y)) + C) % (y - x + 1)) + x. With a
// reduced population A shrinks in proportion (to the next 2^k - 1), so the skew keeps its
// shape instead of washing out over a small range.
func nuRand(rng *rand.Rand, a, c, x, y, full int64) int64 {
	if n := y - x + 1; n < full {
		scaled := a * n / full
		a = 1
		for a < scaled {
			a = a<<1 | 1
		}
	}
	return ((workloads.IntRange(rng, 0, a)|workloads.IntRange(rng, x, y))+c)%(y-x+1) + x
}

func (w *Workload) randCustomerID(rng *rand.Rand) int64 {
	return nuRand(rng, 1023, w.c.cID, 1, w.customers, fullCustomers)
}

func (w *Workload) randItemID(rng *rand.Rand) int64 {
	return nuRand(rng, 8191, w.c.olIID, 1, w.items, fullItems)
}

func (w *Workload) randLastName(rng *rand.Rand, c int64) string {
	return lastName(nuRand(rng, 255, c, 0, w.lastNames-1, fullLastNames))
}

var syllables = [10]string{"BAR", "OUGHT", "ABLE", "PRI", "PRES", "ESE", "ANTI", "CALLY", "ATION", "EING"}

// lastName builds C_LAST from a number 0..999, three syllables by its digits.
func lastName(n int64) string {
	return syllables[n/100%10] + syllables[n/10%10] + syllables[n%10]
}

const alnum = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

// aString is a random alphanumeric string of length [lo, hi].
func aString(rng *rand.Rand, lo, hi int) string {
	b := make([]byte, lo+rng.IntN(hi-lo+1))
	for i := range b {
		b[i] = alnum[rng.IntN(len(alnum))]
	}
	return string(b)
}

// nString is a random string of digits of length [lo, hi].
func nString(rng *rand.Rand, lo, hi int) string {
	b := make([]byte, lo+rng.IntN(hi-lo+1))
	for i := range b {
		b[i] = byte('0' + rng.IntN(10))
	}
	return string(b)
}

func zip(rng *rand.Rand) string { return nString(rng, 4, 4) + "11111" }

// data is i_data / s_data: 26..50 characters, 10% with "ORIGINAL" somewhere inside.
func data(rng *rand.Rand) string {
	s := aString(rng, 26, 50)
	if rng.IntN(10) == 0 {
		p := rng.IntN(len(s) - 8)
		s = s[:p] + "ORIGINAL" + s[p+8:]
	}
	return s
}

// cents rounds money to the cent, as DECIMAL(12,2) columns would.
func cents(x float64) float64 { return math.Round(x*100) / 100 }

func randMoney(rng *rand.Rand, lo, hi float64) float64 {
	return cents(lo + rng.Float64()*(hi-lo))
}

// --- load, TPC-C clause 4.3.3.1 ---

// loadTime is the timestamp of every loaded row, fixed so that a seed gives the same bytes.
const loadTime = int64(1767225600) // 2026-01-01T00:00:00Z

// InitialRows estimates the rows Load writes (order lines are random, 10 per order on average).
func (w *Workload) InitialRows() int64 {
	perDistrict := 1 + w.customers*2 + w.customers + w.customers*10 + w.newOrders
	return w.items + w.warehouses*(1+w.items+districtsPerWarehouse*perDistrict)
}

// LoadDB implements workloads.Workload. The items come from one random stream and each
// warehouse from its own, so the data depends only on the seed and the options. The initial
// w_ytd and d_ytd equal the loaded history amounts (300000 and 30000 at scale 1), which
// keeps consistency conditions 8 and 9 true from the start at any scale.
func (w *Workload) Load(ctx context.Context, db workloads.DB, progress func(done, total int64)) (err error) {
	l := workloads.NewLoader(ctx, db, w.InitialRows(), progress)
	defer func() {
		if err != nil {
			l.Abort()
		}
	}()
	rng := workloads.NewRand(w.seed, 1)
	for i := int64(1); i <= w.items; i++ {
		row := storage.Row{i, workloads.IntRange(rng, 1, 10000), aString(rng, 14, 24), randMoney(rng, 1, 100), data(rng)}
		if err := l.Insert(tItem, row); err != nil {
			return err
		}
	}
	for wh := int64(1); wh <= w.warehouses; wh++ {
		if err := w.loadWarehouse(l, workloads.NewRand(w.seed, uint64(1000+wh)), wh); err != nil {
			return err
		}
	}
	return l.Close()
}

func (w *Workload) loadWarehouse(l *workloads.Loader, rng *rand.Rand, wh int64) error {
	histPerDistrict := cents(10 * float64(w.customers))
	ins := func(t string, r storage.Row) error { return l.Insert(t, r) }
	if err := ins(tWarehouse, storage.Row{wh, aString(rng, 6, 10), aString(rng, 10, 20), aString(rng, 10, 20), aString(rng, 10, 20),
		aString(rng, 2, 2), zip(rng), randMoney(rng, 0, 0.2), cents(histPerDistrict * districtsPerWarehouse)}); err != nil {
		return err
	}
	for i := int64(1); i <= w.items; i++ {
		r := storage.Row{i, wh, workloads.IntRange(rng, 10, 100)}
		for d := 0; d < 10; d++ {
			r = append(r, aString(rng, 24, 24))
		}
		r = append(r, int64(0), int64(0), int64(0), data(rng))
		if err := ins(tStock, r); err != nil {
			return err
		}
	}
	for d := int64(1); d <= districtsPerWarehouse; d++ {
		if err := ins(tDistrict, storage.Row{d, wh, aString(rng, 6, 10), aString(rng, 10, 20), aString(rng, 10, 20), aString(rng, 10, 20),
			aString(rng, 2, 2), zip(rng), randMoney(rng, 0, 0.2), histPerDistrict, w.customers + 1}); err != nil {
			return err
		}
		for c := int64(1); c <= w.customers; c++ {
			last := c - 1
			if c > w.lastNames {
				last = nuRand(rng, 255, w.c.cLastLoad, 0, w.lastNames-1, fullLastNames)
			}
			credit := "GC"
			if rng.IntN(10) == 0 {
				credit = "BC"
			}
			if err := ins(tCustomer, storage.Row{c, d, wh, aString(rng, 8, 16), "OE", lastName(last), aString(rng, 10, 20), aString(rng, 10, 20),
				aString(rng, 10, 20), aString(rng, 2, 2), zip(rng), nString(rng, 16, 16), loadTime, credit, 50000.0,
				cents(rng.Float64() * 0.5), -10.0, 10.0, int64(1), int64(0), aString(rng, 300, 500)}); err != nil {
				return err
			}
			if err := ins(tHistory, storage.Row{nil, c, d, wh, d, wh, loadTime, 10.0, aString(rng, 12, 24)}); err != nil {
				return err
			}
		}
		// Orders: one per customer, customers in a random permutation; the last newOrders
		// are undelivered (no carrier, order lines without delivery date, a new_order row).
		perm := rng.Perm(int(w.customers))
		firstNew := w.customers - w.newOrders + 1
		for o := int64(1); o <= w.customers; o++ {
			olCnt := workloads.IntRange(rng, 5, 15)
			var carrier storage.Value
			if o < firstNew {
				carrier = workloads.IntRange(rng, 1, 10)
			}
			if err := ins(tOrders, storage.Row{o, d, wh, int64(perm[o-1] + 1), loadTime, carrier, olCnt, int64(1)}); err != nil {
				return err
			}
			for n := int64(1); n <= olCnt; n++ {
				var delivery storage.Value
				amount := 0.0
				if o < firstNew {
					delivery = loadTime
				} else {
					amount = randMoney(rng, 0.01, 9999.99)
				}
				if err := ins(tOrderLine, storage.Row{o, d, wh, n, workloads.IntRange(rng, 1, w.items), wh, delivery, int64(5),
					amount, aString(rng, 24, 24)}); err != nil {
					return err
				}
			}
			if o >= firstNew {
				if err := ins(tNewOrder, storage.Row{o, d, wh}); err != nil {
					return err
				}
			}
		}
	}
	return nil
}
