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
	// ranges are alternative bounds on cols[len(eq)], from an OR of BETWEENs and equalities
	// on one column (sysbench's select_random_ranges); at run time they are sorted and
	// merged, so every row is visited once and in key order.
	ranges []bound
	point  bool // eq (or eq + in) names whole primary keys
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
	ranges []bound
}

// bound is one range of a column, as compiled expressions.
type bound struct {
	lo, hi       expr
	loInc, hiInc bool
}

// orRanges returns the column and the ranges of an OR whose every disjunct is a BETWEEN
// or an equality on that one column with values that name no column; ok is false for
// any other OR.
func orRanges(x *sqlparser.OrExpr, column func(sqlparser.Expr) (int, bool), value func(sqlparser.Expr) (expr, bool, error)) (col int, rs []bound, ok bool, err error) {
	var disjuncts func(x sqlparser.Expr) []sqlparser.Expr
	disjuncts = func(x sqlparser.Expr) []sqlparser.Expr {
		if o, ok := x.(*sqlparser.OrExpr); ok {
			return append(disjuncts(o.Left), disjuncts(o.Right)...)
		}
		return []sqlparser.Expr{x}
	}
	col = -1
	for _, d := range disjuncts(x) {
		var c int
		var b bound
		switch n := d.(type) {
		case *sqlparser.BetweenExpr:
			var okc, ok1, ok2 bool
			if c, okc = column(n.Left); !okc || !n.IsBetween {
				return 0, nil, false, nil
			}
			if b.lo, ok1, err = value(n.From); err != nil || !ok1 {
				return 0, nil, false, err
			}
			if b.hi, ok2, err = value(n.To); err != nil || !ok2 {
				return 0, nil, false, err
			}
			b.loInc, b.hiInc = true, true
		case *sqlparser.ComparisonExpr:
			var okc, okv bool
			if n.Operator != sqlparser.EqualOp {
				return 0, nil, false, nil
			}
			if c, okc = column(n.Left); !okc {
				return 0, nil, false, nil
			}
			if b.lo, okv, err = value(n.Right); err != nil || !okv {
				return 0, nil, false, err
			}
			b.hi, b.loInc, b.hiInc = b.lo, true, true
		default:
			return 0, nil, false, nil
		}
		if col >= 0 && c != col {
			return 0, nil, false, nil
		}
		col = c
		rs = append(rs, b)
	}
	return col, rs, col >= 0, nil
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
		case *sqlparser.OrExpr:
			col, rs, ok, err := orRanges(n, column, value)
			if err != nil {
				return nil, err
			}
			if ok {
				get(col).ranges = rs
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
			} else if kc.ranges != nil {
				a.ranges = kc.ranges
				score += 2
			}
			break
		}
		if primary {
			n := len(a.eq)
			if a.in != nil {
				n++
			}
			a.point = n == len(cols) && a.lo == nil && a.hi == nil && a.ranges == nil
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
			if more, err := emitRow(row, match, fn); err != nil || !more {
				return err
			}
		}
		return nil
	}
	spans, err := a.spans(e, cols)
	if err != nil || len(spans) == 0 {
		return err
	}
	rc := -1 // the range column
	if len(a.eq) < len(a.cols) {
		rc = a.cols[len(a.eq)]
	}
	var keys [][]Value // locking scans: primary keys found, locked afterwards
	for _, p := range prefixes {
		for _, sp := range spans {
			more, err := a.scanSpan(ctx, t, tm, p, sp, rc, match, lock, &keys, fn)
			if err != nil || !more {
				return err
			}
		}
	}
	for _, pk := range keys {
		row, err := t.GetForUpdate(ctx, tm.store, pk...)
		if err != nil {
			return err
		}
		// A row deleted since the snapshot is nil and skipped.
		if more, err := emitRow(row, match, fn); err != nil || !more {
			return err
		}
	}
	return nil
}

// emitRow hands a found row that matches the rest of the WHERE clause to fn; a missing row
// (nil) is skipped. more is false when fn wants no more rows.
func emitRow(row []Value, match, fn func([]Value) (bool, error)) (more bool, err error) {
	if row == nil {
		return true, nil
	}
	m, err := match(row)
	if err != nil || !m {
		return err == nil, err
	}
	return fn(row)
}

// scanSpan scans one range [lo, hi] of the range column under prefix p; more is false
// when fn asked to stop. Locking scans collect primary keys into keys instead of calling
// fn.
func (a *access) scanSpan(ctx context.Context, t *storage.Txn, tm *tableMeta, p []Value, sp span, rc int,
	match func([]Value) (bool, error), lock bool, keys *[][]Value, fn func([]Value) (bool, error)) (more bool, err error) {
	lo, hi, loInc, hiInc := sp.lo, sp.hi, sp.loInc, sp.hiInc
	{
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
					if d := compare(v, hi); d > 0 || (d == 0 && !hiInc) {
						return false
					}
				}
				if a.reverse && lo != nil && v != nil {
					if d := compare(v, lo); d < 0 || (d == 0 && !loInc) {
						return false
					}
				}
				if lo != nil && !loInc && v != nil && compare(v, lo) == 0 {
					return true
				}
				if hi != nil && a.reverse && v != nil {
					if d := compare(v, hi); d > 0 || (d == 0 && !hiInc) {
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
				*keys = append(*keys, pk)
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
			return false, err
		}
		if ferr != nil || stop {
			return false, ferr
		}
	}
	return true, nil
}

// span is one evaluated range of the range column (nil: open).
type span struct {
	lo, hi       Value
	loInc, hiInc bool
}

// spans evaluates the access path's bounds: one span, or the ranges sorted and merged so
// that no row is visited twice, in scan order. An empty result means no row can match.
func (a *access) spans(e *env, cols []storage.Column) ([]span, error) {
	rcol := func() *storage.Column { return &cols[a.cols[len(a.eq)]] }
	eval := func(x expr) (Value, bool, error) {
		if x == nil {
			return nil, true, nil
		}
		v, err := x.eval(e)
		if err != nil || v == nil {
			return nil, false, err // NULL bounds match nothing
		}
		cv, _ := coerce(rcol(), v)
		return cv, true, nil
	}
	if a.ranges == nil {
		lo, ok1, err := eval(a.lo)
		if err != nil || !ok1 {
			return nil, err
		}
		hi, ok2, err := eval(a.hi)
		if err != nil || !ok2 {
			return nil, err
		}
		return []span{{lo, hi, a.loInc, a.hiInc}}, nil
	}
	var out []span
	for _, b := range a.ranges {
		lo, ok1, err := eval(b.lo)
		if err != nil {
			return nil, err
		}
		hi, ok2, err := eval(b.hi)
		if err != nil {
			return nil, err
		}
		if !ok1 || !ok2 {
			continue
		}
		if d := compare(lo, hi); d > 0 || (d == 0 && !(b.loInc && b.hiInc)) {
			continue // empty
		}
		out = append(out, span{lo, hi, b.loInc, b.hiInc})
	}
	slices.SortFunc(out, func(x, y span) int {
		if d := compare(x.lo, y.lo); d != 0 {
			return d
		}
		if x.loInc != y.loInc { // an inclusive lower bound starts first
			if x.loInc {
				return -1
			}
			return 1
		}
		return 0
	})
	merged := out[:0]
	for _, sp := range out {
		if n := len(merged); n > 0 {
			cur := &merged[n-1]
			if d := compare(sp.lo, cur.hi); d < 0 || (d == 0 && (cur.hiInc || sp.loInc)) {
				if d := compare(sp.hi, cur.hi); d > 0 || (d == 0 && sp.hiInc) {
					cur.hi, cur.hiInc = sp.hi, sp.hiInc
				}
				continue
			}
		}
		merged = append(merged, sp)
	}
	if a.reverse {
		slices.Reverse(merged)
	}
	return merged, nil
}
