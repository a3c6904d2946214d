// Package sysbench is the sysbench OLTP family (oltp_common.lua and its scripts): tables
// sbtestN(id, k, c, pad) with a secondary index on k, the statement mix of each script, the
// options with sysbench's defaults, and the key distributions of --rand-type.
//
// Fidelity matters more than convenience here, because sysbench numbers are what people
// quote for Galera and Group Replication: the same statements per transaction (oltp_read_write
// is 10 point selects, 4 ranges, 2 updates and a delete+insert of the same id), a fresh
// random table per statement group, range bounds [id, id+range-size-1], the same string
// templates, and the same distribution formulas. One deliberate difference: the load writes
// explicit ids 1..table-size even with --auto-inc, so the data does not depend on the
// auto-increment step a protocol sets before loading (a real Galera prepare would leave gaps).
package sysbench

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync/atomic"

	"github.com/replbench/replbench/storage"
	"github.com/replbench/replbench/workloads"
	"github.com/replbench/replbench/workloads/keydist"
)

// Script names, as the --workload values.
const (
	ReadWrite      = "oltp_read_write"
	WriteOnly      = "oltp_write_only"
	ReadOnly       = "oltp_read_only"
	PointSelect    = "oltp_point_select"
	Insert         = "oltp_insert"
	UpdateIndex    = "oltp_update_index"
	UpdateNonIndex = "oltp_update_non_index"
	Delete         = "oltp_delete"
)

// Scripts lists the registered scripts with their summaries.
var Scripts = []struct{ Name, Summary string }{
	{ReadWrite, "sysbench oltp_read_write: BEGIN; 10 point selects, 4 ranges, index and non-index update, delete+insert; COMMIT"},
	{WriteOnly, "sysbench oltp_write_only: BEGIN; index update, non-index update, delete+insert of one id; COMMIT"},
	{ReadOnly, "sysbench oltp_read_only: BEGIN; 10 point selects and 4 ranges; COMMIT"},
	{PointSelect, "sysbench oltp_point_select: one autocommit SELECT c WHERE id=?"},
	{Insert, "sysbench oltp_insert: one autocommit INSERT (auto-increment id unless --auto-inc off)"},
	{UpdateIndex, "sysbench oltp_update_index: autocommit UPDATE SET k=k+1 WHERE id=?"},
	{UpdateNonIndex, "sysbench oltp_update_non_index: autocommit UPDATE SET c=? WHERE id=?"},
	{Delete, "sysbench oltp_delete: one autocommit DELETE WHERE id=?"},
}

// Options are oltp_common.lua's options and sysbench's random-number options, with
// sysbench's defaults except --rand-type (see the option's help).
var Options = []workloads.Option{
	{Name: "tables", Default: "1", Help: "number of sbtestN tables"},
	{Name: "table-size", Default: "10000", Help: "rows per table"},
	{Name: "range-size", Default: "100", Help: "rows per range select: [id, id+range-size-1]"},
	{Name: "point-selects", Default: "10", Help: "SELECT c WHERE id=? per transaction (oltp_point_select always runs 1)"},
	{Name: "simple-ranges", Default: "1", Help: "SELECT c WHERE id BETWEEN per transaction"},
	{Name: "sum-ranges", Default: "1", Help: "SELECT SUM(k) WHERE id BETWEEN per transaction"},
	{Name: "order-ranges", Default: "1", Help: "SELECT c WHERE id BETWEEN ORDER BY c per transaction"},
	{Name: "distinct-ranges", Default: "1", Help: "SELECT DISTINCT c WHERE id BETWEEN ORDER BY c per transaction"},
	{Name: "range-selects", Default: "on", Help: "run the four kinds of range selects at all"},
	{Name: "index-updates", Default: "1", Help: "UPDATE SET k=k+1 WHERE id=? per transaction"},
	{Name: "non-index-updates", Default: "1", Help: "UPDATE SET c=? WHERE id=? per transaction"},
	{Name: "delete-inserts", Default: "1", Help: "DELETE WHERE id=? then INSERT of the same id per transaction"},
	{Name: "skip-trx", Default: "off", Help: "no BEGIN/COMMIT: every statement is its own autocommit transaction"},
	{Name: "auto-inc", Default: "on", Help: "oltp_insert lets the engine assign ids (on) or uses unique explicit ids on empty tables (off)"},
	{Name: "create-secondary", Default: "on", Help: "create the secondary index k_N on k"},
	{Name: "rand-type", Default: string(keydist.Special), Choices: keydist.Kinds, Help: "key distribution of ids and k: special is sysbench 1.0's default (75% of draws in 1% of rows, the published-number default), uniform is later sysbench's; the value ran is recorded in the result"},
	{Name: "rand-spec-iter", Default: "12", Help: "special/gaussian: uniforms averaged for the bell part"},
	{Name: "rand-spec-pct", Default: "1", Help: "special: width of the hot window, percent of the rows"},
	{Name: "rand-spec-res", Default: "75", Help: "special: percent of draws that land in the hot window"},
	{Name: "rand-zipfian-exp", Default: "0.8", Help: "zipfian: exponent theta"},
	{Name: "rand-pareto-h", Default: "0.2", Help: "pareto: shape h (h of the rows get 1-h of the draws)"},
}

func init() {
	for _, s := range Scripts {
		name := s.Name
		workloads.Register(workloads.Definition{
			Name:    name,
			Summary: s.Summary,
			Options: Options,
			New: workloads.Constructor(func(opts map[string]string, env workloads.Env) (*Workload, error) {
				return New(name, opts, env)
			}),
		})
	}
}

// Config is the parsed option set.
type Config struct {
	Tables, TableSize, RangeSize                                 int64
	PointSelects, SimpleRanges, SumRanges, OrderRanges, Distinct int
	IndexUpdates, NonIndexUpdates, DeleteInserts                 int
	RangeSelects, SkipTrx, AutoInc, CreateSecondary              bool
}

// Workload is one configured sysbench script.
type Workload struct {
	script   string
	cfg      Config
	dist     *keydist.Dist
	settings map[string]string
	seed     int64
	delta    atomic.Int64 // committed inserted rows minus committed deleted rows
}

// New configures script with opts.
func New(script string, opts map[string]string, env workloads.Env) (*Workload, error) {
	if !slices.ContainsFunc(Scripts, func(s struct{ Name, Summary string }) bool { return s.Name == script }) {
		return nil, fmt.Errorf("sysbench: unknown script %q", script)
	}
	o, err := workloads.ResolveOptions(script, Options, opts)
	if err != nil {
		return nil, err
	}
	const maxInt = 1 << 31
	count := func(n string) int { return int(o.Int(n, 0, 1000)) }
	c := Config{
		Tables:          o.Int("tables", 1, 1000),
		TableSize:       o.Int("table-size", 1, maxInt),
		RangeSize:       o.Int("range-size", 1, maxInt),
		PointSelects:    count("point-selects"),
		SimpleRanges:    count("simple-ranges"),
		SumRanges:       count("sum-ranges"),
		OrderRanges:     count("order-ranges"),
		Distinct:        count("distinct-ranges"),
		IndexUpdates:    count("index-updates"),
		NonIndexUpdates: count("non-index-updates"),
		DeleteInserts:   count("delete-inserts"),
		RangeSelects:    o.Bool("range-selects"),
		SkipTrx:         o.Bool("skip-trx"),
		AutoInc:         o.Bool("auto-inc"),
		CreateSecondary: o.Bool("create-secondary"),
	}
	dc := keydist.Config{
		Kind:     keydist.Kind(o.String("rand-type")),
		SpecIter: int(o.Int("rand-spec-iter", 1, 1000)),
		SpecPct:  int(o.Int("rand-spec-pct", 1, 100)),
		SpecRes:  int(o.Int("rand-spec-res", 0, 99)),
		ZipfExp:  o.Float("rand-zipfian-exp", 0, 100),
		ParetoH:  o.Float("rand-pareto-h", 1e-9, 1-1e-9),
	}
	if err := o.Err(); err != nil {
		return nil, err
	}
	if script == PointSelect {
		c.PointSelects = 1
	}
	d, err := keydist.New(dc)
	if err != nil {
		return nil, fmt.Errorf("workload %s: %w", script, err)
	}
	s := o.Settings()
	s["point-selects"] = fmt.Sprint(c.PointSelects)
	return &Workload{script: script, cfg: c, dist: d, settings: s, seed: env.Seed}, nil
}

// Name implements workloads.Workload.
func (w *Workload) Name() string { return w.script }

// Config returns the parsed options.
func (w *Workload) Config() Config { return w.cfg }

// Settings implements workloads.Configured: every option's value, the distribution included.
func (w *Workload) Settings() map[string]string { return w.settings }

// TableName is sbtest<n>, n from 1.
func TableName(n int64) string { return fmt.Sprintf("sbtest%d", n) }

// IndexName is k_<n>.
func IndexName(n int64) string { return fmt.Sprintf("k_%d", n) }

// Column positions of sbtestN.
const (
	colID = iota
	colK
	colC
	colPad
)

// Tables implements workloads.Workload.
func (w *Workload) Tables() []storage.TableSchema {
	var out []storage.TableSchema
	for n := int64(1); n <= w.cfg.Tables; n++ {
		s := storage.TableSchema{
			Name: TableName(n),
			Columns: []storage.Column{
				{Name: "id", Type: storage.Int, AutoIncrement: w.cfg.AutoInc},
				{Name: "k", Type: storage.Int},
				{Name: "c", Type: storage.String, Size: 120},
				{Name: "pad", Type: storage.String, Size: 60},
			},
			PrimaryKey: []int{colID},
		}
		if w.cfg.CreateSecondary {
			s.Indexes = []storage.Index{{Name: IndexName(n), Columns: []int{colK}}}
		}
		out = append(out, s)
	}
	return out
}

// CTemplate and PadTemplate are the string templates of oltp_common.lua (c is ten groups of
// eleven digits, pad five), filled by workloads.Template; exported so that benchmarks of
// the SQL front end read rows of sysbench's size and entropy.
const (
	CTemplate   = "###########-###########-###########-###########-###########-###########-###########-###########-###########-###########"
	PadTemplate = "###########-###########-###########-###########-###########"
)

// loadsRows reports whether prepare fills the tables: oltp_insert without auto-increment
// starts from empty tables so that its explicit ids cannot collide with loaded ones.
func (w *Workload) loadsRows() bool { return !(w.script == Insert && !w.cfg.AutoInc) }

// InitialRows is the number of rows Load writes over all tables.
func (w *Workload) InitialRows() int64 {
	if !w.loadsRows() {
		return 0
	}
	return w.cfg.Tables * w.cfg.TableSize
}

// LoadDB implements workloads.Workload: ids 1..table-size, k drawn from the configured
// distribution over [1, table-size] as prepare does, c and pad from the templates. Each
// table has its own random stream, so its content depends only on the seed.
func (w *Workload) Load(ctx context.Context, db workloads.DB, progress func(done, total int64)) error {
	l := workloads.NewLoader(ctx, db, w.InitialRows(), progress)
	if w.loadsRows() {
		for n := int64(1); n <= w.cfg.Tables; n++ {
			rng := workloads.NewRand(w.seed, uint64(n))
			for id := int64(1); id <= w.cfg.TableSize; id++ {
				k := w.dist.Int(rng, 1, w.cfg.TableSize)
				row := storage.Row{id, k, workloads.Template(rng, CTemplate), workloads.Template(rng, PadTemplate)}
				if err := l.Insert(TableName(n), row); err != nil {
					return err
				}
			}
		}
	}
	return l.Close()
}

// Tallies implements workloads.Tallier: the committed row delta (inserted less deleted rows)
// ExpectedRows counts with.
func (w *Workload) Tallies() map[string]int64 { return map[string]int64{"delta": w.delta.Load()} }

// SetTallies implements workloads.Tallier.
func (w *Workload) SetTallies(c map[string]int64) { w.delta.Store(c["delta"]) }

// ExpectedRows is the row count the tables should hold now over all tables: the loaded rows
// plus committed inserts minus committed deletes.
func (w *Workload) ExpectedRows() int64 { return w.InitialRows() + w.delta.Load() }

// CheckDB implements workloads.Workload. On every node: the tables hold the expected number of
// rows, and the secondary index on k lists exactly the table's rows (same count, same sum
// of ids and of k), which catches an index entry that replication or apply forgot.
func (w *Workload) Check(ctx context.Context, dbs []workloads.DB) (map[string]bool, error) {
	rowsOK, indexOK := true, true
	for _, db := range dbs {
		tx := db.Begin()
		var total int64
		for n := int64(1); n <= w.cfg.Tables; n++ {
			var cnt, ids, ks int64
			err := tx.Scan(ctx, TableName(n), storage.ScanOptions{}, func(r storage.Row) bool {
				cnt++
				ids += r[colID].(int64)
				ks += r[colK].(int64)
				return true
			})
			if err == nil && w.cfg.CreateSecondary {
				var icnt, iids, iks int64
				prev := int64(-1 << 62)
				err = tx.Scan(ctx, TableName(n), storage.ScanOptions{Index: IndexName(n)}, func(r storage.Row) bool {
					icnt++
					iids += r[colID].(int64)
					k := r[colK].(int64)
					iks += k
					if k < prev {
						indexOK = false // not in index order
					}
					prev = k
					return true
				})
				indexOK = indexOK && icnt == cnt && iids == ids && iks == ks
			}
			if err != nil {
				tx.Rollback()
				return nil, fmt.Errorf("%s check on %s: %w", w.script, db.Node(), err)
			}
			total += cnt
		}
		tx.Rollback()
		rowsOK = rowsOK && total == w.ExpectedRows()
	}
	out := map[string]bool{"rows_equal_expected": rowsOK}
	if w.cfg.CreateSecondary {
		out["k_index_matches_rows"] = indexOK
	}
	return out, nil
}

// NewClientDB implements workloads.Workload.
func (w *Workload) NewClient(id int, rng *rand.Rand) workloads.Client {
	return &client{w: w, id: int64(id), rng: rng}
}
