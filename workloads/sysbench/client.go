package sysbench

import (
	"context"
	"fmt"
	"slices"

	"math/rand/v2"

	"github.com/replbench/replbench/storage"
	"github.com/replbench/replbench/workloads"
)

type stmtKind uint8

const (
	pointSelect stmtKind = iota
	simpleRange
	sumRange
	orderRange
	distinctRange
	indexUpdate
	nonIndexUpdate
	deleteRow
	insertRow
)

// stmt is one statement with its parameters, drawn before the transaction starts so that a
// retry re-runs exactly the same statements.
type stmt struct {
	kind  stmtKind
	table int64
	id    int64 // row id, range start; 0 on insert asks for an auto-increment id
	k     int64
	c     string
	pad   string
}

type client struct {
	w    *Workload
	id   int64
	rng  *rand.Rand
	plan []stmt
	next int   // first statement not yet committed, in autocommit mode
	seq  int64 // oltp_insert without auto-increment: per-client id sequence
}

func (c *client) table() int64 { return workloads.IntRange(c.rng, 1, c.w.cfg.Tables) }
func (c *client) rowID() int64 { return c.w.dist.Int(c.rng, 1, c.w.cfg.TableSize) }

// group appends n statements of one kind on one random table, as each execute_* function
// of oltp_common.lua picks its table once.
func (c *client) group(kind stmtKind, n int) {
	if n == 0 {
		return
	}
	t := c.table()
	for i := 0; i < n; i++ {
		s := stmt{kind: kind, table: t, id: c.rowID()}
		switch kind {
		case nonIndexUpdate:
			s.c = workloads.Template(c.rng, CTemplate)
		case deleteRow:
			c.plan = append(c.plan, s)
			s = stmt{kind: insertRow, table: t, id: s.id, k: c.rowID(),
				c: workloads.Template(c.rng, CTemplate), pad: workloads.Template(c.rng, PadTemplate)}
		}
		c.plan = append(c.plan, s)
	}
}

// newPlan draws the statements of the next event of the script.
func (c *client) newPlan() {
	cfg := c.w.cfg
	c.plan = c.plan[:0]
	c.next = 0
	reads := func() {
		c.group(pointSelect, cfg.PointSelects)
		if cfg.RangeSelects {
			c.group(simpleRange, cfg.SimpleRanges)
			c.group(sumRange, cfg.SumRanges)
			c.group(orderRange, cfg.OrderRanges)
			c.group(distinctRange, cfg.Distinct)
		}
	}
	writes := func() {
		c.group(indexUpdate, cfg.IndexUpdates)
		c.group(nonIndexUpdate, cfg.NonIndexUpdates)
		c.group(deleteRow, cfg.DeleteInserts)
	}
	switch c.w.script {
	case ReadWrite:
		reads()
		writes()
	case ReadOnly:
		reads()
	case WriteOnly:
		writes()
	case PointSelect:
		c.group(pointSelect, 1)
	case UpdateIndex:
		c.group(indexUpdate, cfg.IndexUpdates)
	case UpdateNonIndex:
		c.group(nonIndexUpdate, cfg.NonIndexUpdates)
	case Delete:
		c.plan = append(c.plan, stmt{kind: deleteRow, table: c.table(), id: c.rowID()})
	case Insert:
		s := stmt{kind: insertRow, table: c.table(), k: c.rowID(),
			c: workloads.Template(c.rng, CTemplate), pad: workloads.Template(c.rng, PadTemplate)}
		if !cfg.AutoInc {
			c.seq++
			s.id = (c.id+1)<<32 | c.seq // unique over clients, like sysbench's rand.unique
		}
		c.plan = append(c.plan, s)
	}
}

// transactional reports whether the event runs inside BEGIN/COMMIT: the three mixed scripts
// unless --skip-trx; the single-statement scripts never.
func (c *client) transactional() bool {
	switch c.w.script {
	case ReadWrite, ReadOnly, WriteOnly:
		return !c.w.cfg.SkipTrx
	}
	return false
}

// Next implements workloads.Client. In a transaction a retry re-runs every statement; in
// autocommit mode each statement commits on its own, and a retry resumes at the one that
// failed.
func (c *client) Next(ctx context.Context, db workloads.DB, retry bool) (string, error) {
	if !retry || len(c.plan) == 0 {
		c.newPlan()
	}
	if c.transactional() {
		tx := db.Begin()
		var delta int64
		for i := range c.plan {
			d, err := c.exec(ctx, tx, &c.plan[i])
			if err != nil {
				tx.Rollback()
				return c.w.script, err
			}
			delta += d
		}
		if err := tx.Commit(ctx); err != nil {
			return c.w.script, err
		}
		c.w.delta.Add(delta)
		return c.w.script, nil
	}
	for ; c.next < len(c.plan); c.next++ {
		tx := db.Begin()
		tx.SetAutocommit(true)
		d, err := c.exec(ctx, tx, &c.plan[c.next])
		if err != nil {
			tx.Rollback()
			return c.w.script, err
		}
		if err := tx.Commit(ctx); err != nil {
			return c.w.script, err
		}
		c.w.delta.Add(d)
	}
	return c.w.script, nil
}

// exec runs one statement and returns the change in row count it makes.
func (c *client) exec(ctx context.Context, tx workloads.Tx, s *stmt) (int64, error) {
	table := TableName(s.table)
	switch s.kind {
	case pointSelect:
		_, err := tx.Get(ctx, table, s.id)
		return 0, err
	case simpleRange, sumRange, orderRange, distinctRange:
		return 0, c.rangeSelect(ctx, tx, table, s)
	case indexUpdate, nonIndexUpdate:
		// UPDATE ... WHERE id=? locks the row; an absent row is a no-op, as in SQL.
		r, err := tx.GetForUpdate(ctx, table, s.id)
		if err != nil || r == nil {
			return 0, err
		}
		if s.kind == indexUpdate {
			r[colK] = r[colK].(int64) + 1
		} else {
			r[colC] = s.c
		}
		return 0, tx.Update(ctx, table, r)
	case deleteRow:
		ok, err := tx.Delete(ctx, table, s.id)
		if ok {
			return -1, err
		}
		return 0, err
	case insertRow:
		_, err := tx.Insert(ctx, table, storage.Row{s.id, s.k, s.c, s.pad})
		if err != nil {
			return 0, err
		}
		return 1, nil
	}
	return 0, fmt.Errorf("sysbench: unknown statement kind %d", s.kind)
}

// rangeSelect reads [id, id+range-size-1] and does what the statement asks of the rows:
// the sum of k, the values of c sorted, or sorted and de-duplicated. The result is
// discarded; the work and the reads are what the benchmark measures.
func (c *client) rangeSelect(ctx context.Context, tx workloads.Tx, table string, s *stmt) error {
	last := s.id + c.w.cfg.RangeSize - 1
	var sum int64
	var cs []string
	err := tx.Scan(ctx, table, storage.ScanOptions{From: []storage.Value{s.id}, To: []storage.Value{last + 1}},
		func(r storage.Row) bool {
			if r[colID].(int64) > last {
				return false
			}
			if s.kind == sumRange {
				sum += r[colK].(int64)
			} else {
				cs = append(cs, r[colC].(string))
			}
			return true
		})
	switch s.kind {
	case orderRange:
		slices.Sort(cs)
	case distinctRange:
		slices.Sort(cs)
		cs = slices.Compact(cs)
	}
	_ = sum
	return err
}
