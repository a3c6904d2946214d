package sqlexec

import (
	"context"
	"slices"

	"vitess.io/vitess/go/vt/sqlparser"

	"github.com/replbench/replbench/storage"
)

// access is how a statement finds its rows: a primary-key point (or IN list of points), a
// range or prefix scan of the primary key or a secondary index, or a full scan. The WHERE
// clause is always re-checked on every row found, so the access path only narrows the
// search; it never decides the answer.
type access struct {
	index string // "" is the primary key
	cols  []int  // the key's columns
	eq    []expr // values of cols[:len(eq)]
	in    []expr // alternatives for cols[len(eq)]
	lo    expr   // bounds on cols[len(eq)] (nil: open)
	hi    expr
	loInc bool
	hiInc bool
	point bool // eq (or eq + in) names whole primary keys
	// reverse scans backwards and sorted says the rows come out in the ORDER BY's order,
	// set by the SELECT planner when the ORDER BY follows the key.
	reverse bool
	sorted  bool
}

// keyCond is what WHERE says about one column.
type keyCond struct {
	eq     expr
	in     []expr
	lo, hi expr
	loInc  bool
	hiInc  bool
}

// chooseAccess picks the access path for a table from the conjuncts of where.
func chooseAccess(t *tableMeta, sc *scope, where sqlparser.Expr) (*access, error) {
	conds := map[int]*keyCond{}
	get := func(i int) *keyCond {
		if conds[i] == nil {
			conds[i] = &keyCond{}
		}
		return conds[i]
	}
	column := func(x sqlparser.Expr) (int, bool) {
		c, ok := x.(*sqlparser.ColName)
		if !ok {
			return 0, false
		}
		if q := c.Qualifier.Name.String(); q != "" && q != t.name && q != t.alias {
			return 0, false
		}
		return t.col(c.Name.String())
	}
	value := func(x sqlparser.Expr) (expr, bool, error) {
		if hasColumns(x) {
			return nil, false, nil
		}
		e, err := sc.compile(x)
		return e, err == nil, err
	}
	for _, c := range conjuncts(where) {
		switch n := c.(type) {
		case *sqlparser.ComparisonExpr:
			col, ok := column(n.Left)
			other := n.Right
			op := n.Operator
			if !ok {
				if col, ok = column(n.Right); !ok {
					continue
				}
				other = n.Left
				op = flip(op)
			}
			if op == sqlparser.InOp {
				tup, isTup := other.(sqlparser.ValTuple)
				if !isTup || hasColumns(tup) {
					continue
				}
				list := make([]expr, len(tup))
				for i, x := range tup {
					e, err := sc.compile(x)
					if err != nil {
						return nil, err
					}
					list[i] = e
				}
				if kc := get(col); kc.eq == nil {
					kc.in = list
				}
				continue
			}
			v, ok, err := value(other)
			if err != nil {
				return nil, err
			}
			if !ok {
				continue
			}
			kc := get(col)
			switch op {
			case sqlparser.EqualOp:
				kc.eq, kc.in = v, nil
			case sqlparser.GreaterThanOp:
				kc.lo, kc.loInc = v, false
			case sqlparser.GreaterEqualOp:
				kc.lo, kc.loInc = v, true
			case sqlparser.LessThanOp:
				kc.hi, kc.hiInc = v, false
			case sqlparser.LessEqualOp:
				kc.hi, kc.hiInc = v, true
			}
		case *sqlparser.BetweenExpr:
			col, ok := column(n.Left)
			if !ok || !n.IsBetween {
				continue
			}
			lo, ok1, err := value(n.From)
			if err != nil {
				return nil, err
			}
			hi, ok2, err := value(n.To)
			if err != nil {
				return nil, err
			}
			if ok1 && ok2 {
				kc := get(col)
				kc.lo, kc.loInc, kc.hi, kc.hiInc = lo, true, hi, true
			}
		}
	}
	best := &access{cols: t.schema.PrimaryKey}
	bestScore := -1
	try := func(index string, cols []int, primary bool) {
		a := &access{index: index, cols: cols}
		score := 0
		for _, c := range cols {
			kc := conds[c]
			if kc == nil {
				break
			}
			if kc.eq != nil {
				a.eq = append(a.eq, kc.eq)
				score += 4
				continue
			}
			if kc.in != nil {
				a.in = kc.in
				score += 3
			} else if kc.lo != nil || kc.hi != nil {
				a.lo, a.hi, a.loInc, a.hiInc = kc.lo, kc.hi, kc.loInc, kc.hiInc
				score += 2
			}
			break
		}
		if primary {
			n := len(a.eq)
			if a.in != nil {
				n++
			}
			a.point = n == len(cols) && a.lo == nil && a.hi == nil
			if a.point {
				score += 100
			}
			score++ // prefer the primary key on ties: no second lookup per row
		}
		if score > bestScore {
			best, bestScore = a, score
		}
	}
	try("", t.schema.PrimaryKey, true)
	for _, ix := range t.schema.Indexes {
		try(ix.Name, ix.Columns, false)
	}
	return best, nil
}

func flip(op sqlparser.ComparisonExprOperator) sqlparser.ComparisonExprOperator {
	switch op {
	case sqlparser.LessThanOp:
		return sqlparser.GreaterThanOp
	case sqlparser.GreaterThanOp:
		return sqlparser.LessThanOp
	case sqlparser.LessEqualOp:
		return sqlparser.GreaterEqualOp
	case sqlparser.GreaterEqualOp:
		return sqlparser.LessEqualOp
	}
	return op
}

func conjuncts(x sqlparser.Expr) []sqlparser.Expr {
	if x == nil {
		return nil
	}
	if a, ok := x.(*sqlparser.AndExpr); ok {
		return append(conjuncts(a.Left), conjuncts(a.Right)...)
	}
	return []sqlparser.Expr{x}
}

// rows calls fn with every row the access path finds that satisfies where, in key order
// (IN lists in ascending order), until fn returns false. With lock set every row is locked
// exclusively and read in its latest committed version (a locking read, what UPDATE,
// DELETE and SELECT ... FOR UPDATE see), and where is checked again on that version.
func (a *access) rows(ctx context.Context, e *env, t *storage.Txn, tm *tableMeta, where expr, lock bool, fn func([]Value) (bool, error)) error {
	match := func(row []Value) (bool, error) {
		if where == nil {
			return true, nil
		}
		e.row = row
		v, err := where.eval(e)
		return err == nil && truth(v), err
	}
	cols := tm.schema.Columns
	keyVals := func(extra expr) ([]Value, bool, error) {
		vals := make([]Value, 0, len(a.eq)+1)
		for i, x := range a.eq {
			v, err := x.eval(e)
			if err != nil {
				return nil, false, err
			}
			cv, ok := coerce(&cols[a.cols[i]], v)
			if v == nil || !ok {
				return nil, false, nil // NULL or an unconvertible value matches no key
			}
			vals = append(vals, cv)
		}
		if extra != nil {
			v, err := extra.eval(e)
			if err != nil {
				return nil, false, err
			}
			cv, ok := coerce(&cols[a.cols[len(a.eq)]], v)
			if v == nil || !ok {
				return nil, false, nil
			}
			vals = append(vals, cv)
		}
		return vals, true, nil
	}
	// The lists of key prefixes to visit: one, or one per IN value (sorted, deduplicated).
	var prefixes [][]Value
	if a.in != nil {
		for _, x := range a.in {
			vals, ok, err := keyVals(x)
			if err != nil {
				return err
			}
			if ok {
				prefixes = append(prefixes, vals)
			}
		}
		slices.SortFunc(prefixes, func(x, y []Value) int { return compare(x[len(x)-1], y[len(y)-1]) })
		prefixes = slices.CompactFunc(prefixes, func(x, y []Value) bool { return compare(x[len(x)-1], y[len(y)-1]) == 0 })
		if a.reverse {
			slices.Reverse(prefixes)
		}
	} else {
		vals, ok, err := keyVals(nil)
		if err != nil || !ok {
			return err
		}
		prefixes = [][]Value{vals}
	}
	if a.point {
		for _, pk := range prefixes {
			var row storage.Row
			var err error
			if lock {
				row, err = t.GetForUpdate(ctx, tm.store, pk...)
			} else {
				row, err = t.Get(ctx, tm.store, pk...)
			}
			if err != nil {
				return err
			}
			if row == nil {
				continue
			}
			if m, err := match(row); err != nil {
				return err
			} else if m {
				if more, err := fn(row); err != nil || !more {
					return err
				}
			}
		}
		return nil
	}
	var lo, hi Value
	if a.lo != nil {
		v, err := a.lo.eval(e)
		if err != nil || v == nil {
			return err
		}
		lo, _ = coerce(&cols[a.cols[len(a.eq)]], v)
	}
	if a.hi != nil {
		v, err := a.hi.eval(e)
		if err != nil || v == nil {
			return err
		}
		hi, _ = coerce(&cols[a.cols[len(a.eq)]], v)
	}
	rc := -1 // the range column
	if len(a.eq) < len(a.cols) {
		rc = a.cols[len(a.eq)]
	}
	var keys [][]Value // locking scans: primary keys found, locked afterwards
	for _, p := range prefixes {
		opt := storage.ScanOptions{Index: a.index, Reverse: a.reverse}
		if len(p) > 0 {
			opt.Prefix = p
		}
		if lo != nil && !a.reverse {
			opt.From = append(slices.Clip(p), lo)
		}
		if hi != nil && a.reverse {
			// Reverse scans start at the top: bound the range above with To, exclusive of
			// everything after hi; the stop check below handles inclusivity.
			if x, ok := hi.(int64); ok && x < 1<<62 {
				opt.To = append(slices.Clip(p), x+1)
			}
		}
		var ferr error
		stop := false
		err := t.Scan(ctx, tm.store, opt, func(row storage.Row) bool {
			if rc >= 0 {
				v := row[rc]
				if !a.reverse && hi != nil && v != nil {
					if d := compare(v, hi); d > 0 || (d == 0 && !a.hiInc) {
						return false
					}
				}
				if a.reverse && lo != nil && v != nil {
					if d := compare(v, lo); d < 0 || (d == 0 && !a.loInc) {
						return false
					}
				}
				if lo != nil && !a.loInc && v != nil && compare(v, lo) == 0 {
					return true
				}
				if hi != nil && a.reverse && v != nil {
					if d := compare(v, hi); d > 0 || (d == 0 && !a.hiInc) {
						return true
					}
				}
			}
			m, err := match(row)
			if err != nil {
				ferr = err
				return false
			}
			if !m {
				return true
			}
			if lock {
				pk := make([]Value, len(tm.schema.PrimaryKey))
				for i, c := range tm.schema.PrimaryKey {
					pk[i] = row[c]
				}
				keys = append(keys, pk)
				return true
			}
			more, err := fn(row)
			if err != nil {
				ferr = err
			}
			if !more {
				stop = true
			}
			return more && err == nil
		})
		if err != nil {
			return err
		}
		if ferr != nil || stop {
			return ferr
		}
	}
	for _, pk := range keys {
		row, err := t.GetForUpdate(ctx, tm.store, pk...)
		if err != nil {
			return err
		}
		if row == nil {
			continue // deleted since the snapshot
		}
		if m, err := match(row); err != nil {
			return err
		} else if m {
			if more, err := fn(row); err != nil || !more {
				return err
			}
		}
	}
	return nil
}
