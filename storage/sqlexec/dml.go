package sqlexec

import (
	"context"
	"errors"
	"strings"

	"vitess.io/vitess/go/sqltypes"
	"vitess.io/vitess/go/vt/sqlparser"

	"github.com/replbench/replbench/protocols"
	"github.com/replbench/replbench/storage"
)

// insertPlan is a compiled INSERT / REPLACE: per row and column, where the value comes from.
type insertPlan struct {
	t       *tableMeta
	rows    [][]expr // per row, per table column: nil takes the column's default
	ignore  bool
	replace bool
}

// currentTimestamp is the default a DATETIME/TIMESTAMP column declared DEFAULT
// CURRENT_TIMESTAMP stores: the SQL layer replaces it with the time of the insert.
const currentTimestamp = "CURRENT_TIMESTAMP"

func (se *Session) planInsert(n *sqlparser.Insert, binds *bindSlots) (*compiled, error) {
	if n.OnDup != nil {
		return nil, notSupported("INSERT ... ON DUPLICATE KEY UPDATE")
	}
	if n.RowAlias != nil {
		return nil, notSupported("INSERT ... AS alias")
	}
	if n.Partitions != nil {
		return nil, notSupported("PARTITION selection")
	}
	tn, ok := n.Table.Expr.(sqlparser.TableName)
	if !ok {
		return nil, notSupported("INSERT into a derived table")
	}
	t, err := se.resolveTable(tn)
	if err != nil {
		return nil, err
	}
	values, ok := n.Rows.(sqlparser.Values)
	if !ok {
		return nil, notSupported("INSERT ... SELECT")
	}
	cols := t.visible
	if len(n.Columns) > 0 {
		cols = make([]int, len(n.Columns))
		seen := map[int]bool{}
		for i, c := range n.Columns {
			j, ok := t.col(c.String())
			if !ok || j == t.hidden {
				return nil, badField(c.String(), "field list")
			}
			if seen[j] {
				return nil, sqlErr(1110, "42000", "Column '%s' specified twice", c.String())
			}
			seen[j] = true
			cols[i] = j
		}
	}
	p := &insertPlan{t: t, ignore: bool(n.Ignore), replace: n.Action == sqlparser.ReplaceAct}
	sc := &scope{binds: binds, clause: "field list"}
	for ri, tup := range values {
		if len(tup) != len(cols) {
			return nil, sqlErr(erWrongValueCount, "21S01", "Column count doesn't match value count at row %d", ri+1)
		}
		row := make([]expr, len(t.schema.Columns))
		for i, x := range tup {
			if _, isDef := x.(*sqlparser.Default); isDef {
				continue
			}
			e, err := sc.compile(x)
			if err != nil {
				return nil, err
			}
			row[cols[i]] = e
		}
		p.rows = append(p.rows, row)
	}
	for i, c := range t.schema.Columns {
		if i == t.hidden || c.AutoIncrement || c.HasDefault || c.Nullable {
			continue
		}
		for _, row := range p.rows {
			if row[i] == nil {
				return nil, sqlErr(erNoDefault, "HY000", "Field '%s' doesn't have a default value", c.Name)
			}
		}
	}
	return &compiled{kind: comInsert, txn: true, run: p.run}, nil
}

func (p *insertPlan) run(ctx context.Context, s *Session, t *storage.Txn, binds []Value) (*sqltypes.Result, error) {
	e := &env{binds: binds, s: s}
	cols := p.t.schema.Columns
	var affected, firstAuto uint64
	for _, src := range p.rows {
		row := make(storage.Row, len(cols))
		for i := range cols {
			c := &cols[i]
			var v Value
			if src[i] != nil {
				x, err := src[i].eval(e)
				if err != nil {
					return nil, err
				}
				v = x
				if v == nil && !c.Nullable && !c.AutoIncrement {
					return nil, sqlErr(erBadNull, "23000", "Column '%s' cannot be null", c.Name)
				}
			} else if c.HasDefault {
				v = c.Default
				if v == currentTimestamp {
					v = now()
				}
			}
			cv, ok := coerce(c, v)
			if !ok {
				if c.Type == storage.String {
					return nil, sqlErr(1406, "22001", "Data too long for column '%s' at row 1", c.Name)
				}
				return nil, sqlErr(1366, "HY000", "Incorrect %s value: '%s' for column '%s' at row 1", c.Type, toString(v), c.Name)
			}
			row[i] = cv
		}
		if p.replace {
			pk := make([]Value, len(p.t.schema.PrimaryKey))
			for i, c := range p.t.schema.PrimaryKey {
				pk[i] = row[c]
			}
			if pk[0] != nil {
				if _, err := t.Delete(ctx, p.t.store, pk...); err != nil {
					return nil, err
				}
			}
		}
		ac := p.t.schema.PrimaryKey[0]
		generated := cols[ac].AutoIncrement && ac != p.t.hidden && (row[ac] == nil || row[ac] == int64(0))
		auto, err := t.Insert(ctx, p.t.store, row)
		if err != nil {
			if p.ignore && protocols.Classify(err) == protocols.CauseDuplicateKey {
				continue
			}
			return nil, err
		}
		affected++
		if generated && firstAuto == 0 {
			firstAuto = uint64(auto)
		}
	}
	if firstAuto != 0 {
		s.lastInsertID = firstAuto
	}
	return &sqltypes.Result{RowsAffected: affected, InsertID: firstAuto}, nil
}

// assignment is one SET col = expr of an UPDATE.
type assignment struct {
	col int
	e   expr
}

type updatePlan struct {
	t      *tableMeta
	acc    *access
	where  expr
	set    []assignment
	limit  expr
	pkCols map[int]bool
}

func (se *Session) dmlTable(exprs []sqlparser.TableExpr, what string) (*tableMeta, error) {
	if len(exprs) != 1 {
		return nil, notSupported("multi-table " + what)
	}
	return se.singleTable(exprs)
}

func (se *Session) planUpdate(n *sqlparser.Update, binds *bindSlots) (*compiled, error) {
	if n.With != nil {
		return nil, notSupported("WITH (common table expressions)")
	}
	if len(n.OrderBy) > 0 {
		return nil, notSupported("UPDATE ... ORDER BY")
	}
	t, err := se.dmlTable(n.TableExprs, "UPDATE")
	if err != nil {
		return nil, err
	}
	p := &updatePlan{t: t, pkCols: map[int]bool{}}
	for _, c := range t.schema.PrimaryKey {
		p.pkCols[c] = true
	}
	sc := &scope{t: t, binds: binds, clause: "field list"}
	for _, u := range n.Exprs {
		i, ok := t.col(u.Name.Name.String())
		if !ok || i == t.hidden {
			return nil, badField(u.Name.Name.String(), "field list")
		}
		var e expr
		if _, isDef := u.Expr.(*sqlparser.Default); isDef {
			c := t.schema.Columns[i]
			e = &constExpr{c.Default}
		} else if e, err = sc.compile(u.Expr); err != nil {
			return nil, err
		}
		p.set = append(p.set, assignment{i, e})
	}
	if p.where, p.acc, err = compileWhere(t, binds, n.Where); err != nil {
		return nil, err
	}
	if n.Limit != nil {
		if n.Limit.Offset != nil {
			return nil, notSupported("UPDATE ... LIMIT with an offset")
		}
		if p.limit, err = (&scope{binds: binds, clause: "limit"}).compile(n.Limit.Rowcount); err != nil {
			return nil, err
		}
	}
	return &compiled{kind: comUpdate, txn: true, run: p.run}, nil
}

func compileWhere(t *tableMeta, binds *bindSlots, w *sqlparser.Where) (expr, *access, error) {
	sc := &scope{t: t, binds: binds, clause: "where clause"}
	var where expr
	if w != nil {
		var err error
		if where, err = sc.compile(w.Expr); err != nil {
			return nil, nil, err
		}
	}
	acc, err := chooseAccess(t, sc, whereExpr(w))
	return where, acc, err
}

func evalLimit(x expr, e *env) (int64, error) {
	if x == nil {
		return -1, nil
	}
	v, err := x.eval(e)
	if err != nil {
		return 0, err
	}
	n, _ := toInt(v)
	return max(n, 0), nil
}

func (p *updatePlan) run(ctx context.Context, s *Session, t *storage.Txn, binds []Value) (*sqltypes.Result, error) {
	e := &env{binds: binds, s: s}
	limit, err := evalLimit(p.limit, e)
	if err != nil {
		return nil, err
	}
	cols := p.t.schema.Columns
	var matched, changed uint64
	err = p.acc.rows(ctx, e, t, p.t, p.where, true, func(old []Value) (bool, error) {
		if limit >= 0 && int64(matched) >= limit {
			return false, nil
		}
		matched++
		row := append(storage.Row(nil), old...)
		e.row = row // MySQL evaluates assignments left to right over the updated row
		pkChanged, diff := false, false
		for _, a := range p.set {
			v, err := a.e.eval(e)
			if err != nil {
				return false, err
			}
			c := &cols[a.col]
			if v == nil && !c.Nullable {
				return false, sqlErr(erBadNull, "23000", "Column '%s' cannot be null", c.Name)
			}
			cv, ok := coerce(c, v)
			if !ok {
				return false, sqlErr(1406, "22001", "Data too long for column '%s' at row 1", c.Name)
			}
			if !sameValue(row[a.col], cv) {
				diff = true
				pkChanged = pkChanged || p.pkCols[a.col]
			}
			row[a.col] = cv
		}
		if !diff {
			return true, nil
		}
		changed++
		if pkChanged {
			pk := make([]Value, len(p.t.schema.PrimaryKey))
			for i, c := range p.t.schema.PrimaryKey {
				pk[i] = old[c]
			}
			if _, err := t.Delete(ctx, p.t.store, pk...); err != nil {
				return false, err
			}
			_, err := t.Insert(ctx, p.t.store, row)
			return err == nil, err
		}
		err := t.Update(ctx, p.t.store, row)
		if errors.Is(err, storage.ErrRowNotFound) {
			return true, nil
		}
		return err == nil, err
	})
	if err != nil {
		return nil, err
	}
	return &sqltypes.Result{RowsAffected: changed, Info: infoMatched(matched, changed)}, nil
}

func infoMatched(matched, changed uint64) string {
	var b strings.Builder
	b.WriteString("Rows matched: ")
	b.WriteString(toString(int64(matched)))
	b.WriteString("  Changed: ")
	b.WriteString(toString(int64(changed)))
	b.WriteString("  Warnings: 0")
	return b.String()
}

func sameValue(a, b Value) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	switch x := a.(type) {
	case string:
		y, ok := b.(string)
		return ok && x == y
	case int64:
		y, ok := b.(int64)
		return ok && x == y
	case float64:
		y, ok := b.(float64)
		return ok && x == y
	}
	return false
}

type deletePlan struct {
	t     *tableMeta
	acc   *access
	where expr
	limit expr
}

func (se *Session) planDelete(n *sqlparser.Delete, binds *bindSlots) (*compiled, error) {
	if n.With != nil {
		return nil, notSupported("WITH (common table expressions)")
	}
	if len(n.Targets) > 0 {
		return nil, notSupported("multi-table DELETE")
	}
	if len(n.OrderBy) > 0 {
		return nil, notSupported("DELETE ... ORDER BY")
	}
	if n.Partitions != nil {
		return nil, notSupported("PARTITION selection")
	}
	t, err := se.dmlTable(n.TableExprs, "DELETE")
	if err != nil {
		return nil, err
	}
	p := &deletePlan{t: t}
	if p.where, p.acc, err = compileWhere(t, binds, n.Where); err != nil {
		return nil, err
	}
	if n.Limit != nil {
		if n.Limit.Offset != nil {
			return nil, notSupported("DELETE ... LIMIT with an offset")
		}
		if p.limit, err = (&scope{binds: binds, clause: "limit"}).compile(n.Limit.Rowcount); err != nil {
			return nil, err
		}
	}
	return &compiled{kind: comDelete, txn: true, run: p.run}, nil
}

func (p *deletePlan) run(ctx context.Context, s *Session, t *storage.Txn, binds []Value) (*sqltypes.Result, error) {
	e := &env{binds: binds, s: s}
	limit, err := evalLimit(p.limit, e)
	if err != nil {
		return nil, err
	}
	var n uint64
	err = p.acc.rows(ctx, e, t, p.t, p.where, true, func(row []Value) (bool, error) {
		if limit >= 0 && int64(n) >= limit {
			return false, nil
		}
		pk := make([]Value, len(p.t.schema.PrimaryKey))
		for i, c := range p.t.schema.PrimaryKey {
			pk[i] = row[c]
		}
		ok, err := t.Delete(ctx, p.t.store, pk...)
		if ok {
			n++
		}
		return err == nil, err
	})
	if err != nil {
		return nil, err
	}
	return &sqltypes.Result{RowsAffected: n}, nil
}
