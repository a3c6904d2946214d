package sqlexec

import (
	"context"
	"slices"
	"strconv"
	"strings"

	"vitess.io/vitess/go/sqltypes"
	querypb "vitess.io/vitess/go/vt/proto/query"
	"vitess.io/vitess/go/vt/sqlparser"

	"github.com/replbench/replbench/storage"
)

// selectPlan is a compiled single-table SELECT.
type selectPlan struct {
	t        *tableMeta // nil without FROM
	acc      *access
	where    expr
	lock     bool
	outs     []expr // output columns; in an aggregate query over row+aggregate values
	fields   []*querypb.Field
	aggs     []*aggSpec
	groupBy  []expr
	agg      bool
	having   expr
	distinct bool
	order    []orderKey
	limit    expr
	offset   expr
	nExtra   int // order keys that are not output columns, appended to each output row
}

type orderKey struct {
	i    int // index in the extended output row
	desc bool
}

func (se *Session) planSelect(n *sqlparser.Select, binds *bindSlots) (*compiled, error) {
	if n.With != nil {
		return nil, notSupported("WITH (common table expressions)")
	}
	if n.Into != nil {
		return nil, notSupported("SELECT ... INTO")
	}
	if len(n.Windows) > 0 {
		return nil, notSupported("window functions")
	}
	p := &selectPlan{distinct: n.Distinct}
	sc := &scope{binds: binds, clause: "field list"}
	fromDual := len(n.From) == 0
	if len(n.From) == 1 {
		if at, ok := n.From[0].(*sqlparser.AliasedTableExpr); ok {
			if tn, ok := at.Expr.(sqlparser.TableName); ok && strings.EqualFold(tn.Name.String(), "dual") && tn.Qualifier.IsEmpty() {
				fromDual = true
			}
		}
	}
	if !fromDual {
		t, err := se.singleTable(n.From)
		if err != nil {
			return nil, err
		}
		p.t, sc.t = t, t
	}
	switch n.Lock {
	case sqlparser.NoLock:
	case sqlparser.ForUpdateLock, sqlparser.ShareModeLock, sqlparser.ForShareLock:
		p.lock = p.t != nil
	default:
		return nil, notSupported("NOWAIT / SKIP LOCKED")
	}
	// Aggregates: a query is aggregate if it has GROUP BY or an aggregate function in its
	// select list or HAVING.
	exprs := n.SelectExprs.Exprs
	hasAgg := n.GroupBy != nil && len(n.GroupBy.Exprs) > 0
	for _, sx := range exprs {
		if ae, ok := sx.(*sqlparser.AliasedExpr); ok && containsAggregate(ae.Expr) {
			hasAgg = true
		}
	}
	if n.Having != nil {
		hasAgg = true
	}
	p.agg = hasAgg
	var ncols int
	if p.t != nil {
		ncols = len(p.t.schema.Columns)
	}
	osc := sc // scope of output expressions
	if hasAgg {
		osc = &scope{t: sc.t, binds: binds, clause: "field list"}
	}
	compileOut := func(x sqlparser.Expr) (expr, error) {
		if !hasAgg {
			return sc.compile(x)
		}
		return se.compileAggExpr(osc, sc, x, &p.aggs, ncols)
	}
	var names []string
	var srcs []sqlparser.Expr
	for _, sx := range exprs {
		switch x := sx.(type) {
		case *sqlparser.StarExpr:
			if p.t == nil {
				return nil, sqlErr(1096, "HY000", "No tables used")
			}
			for _, i := range p.t.visible {
				p.outs = append(p.outs, &colExpr{i})
				p.fields = append(p.fields, p.t.fields[i])
				names = append(names, p.t.schema.Columns[i].Name)
				srcs = append(srcs, nil)
			}
		case *sqlparser.AliasedExpr:
			e, err := compileOut(x.Expr)
			if err != nil {
				return nil, err
			}
			name := x.As.String()
			if name == "" {
				name = columnName(x.Expr)
			}
			p.outs = append(p.outs, e)
			p.fields = append(p.fields, se.outField(p, e, name, x.Expr))
			names = append(names, name)
			srcs = append(srcs, x.Expr)
		default:
			return nil, notSupported(sqlparser.String(sx))
		}
	}
	if n.Where != nil {
		w, err := (&scope{t: sc.t, binds: binds, clause: "where clause"}).compile(n.Where.Expr)
		if err != nil {
			return nil, err
		}
		p.where = w
	}
	if p.t != nil {
		acc, err := chooseAccess(p.t, &scope{t: p.t, binds: binds, clause: "where clause"}, whereExpr(n.Where))
		if err != nil {
			return nil, err
		}
		p.acc = acc
	} else if n.Where != nil {
		p.acc = nil
	}
	if n.GroupBy != nil {
		if n.GroupBy.WithRollup {
			return nil, notSupported("WITH ROLLUP")
		}
		for _, g := range n.GroupBy.Exprs {
			if i, ok := outputRef(g, names, srcs); ok {
				g = srcs[i]
				if g == nil {
					return nil, notSupported("GROUP BY over *")
				}
			}
			e, err := (&scope{t: sc.t, binds: binds, clause: "group statement"}).compile(g)
			if err != nil {
				return nil, err
			}
			p.groupBy = append(p.groupBy, e)
		}
	}
	if n.Having != nil {
		h, err := se.compileAggExpr(osc, sc, n.Having.Expr, &p.aggs, ncols)
		if err != nil {
			return nil, err
		}
		p.having = h
	}
	for _, o := range n.OrderBy {
		desc := o.Direction == sqlparser.DescOrder
		if i, ok := outputRef(o.Expr, names, srcs); ok {
			p.order = append(p.order, orderKey{i, desc})
			continue
		}
		if lit, ok := o.Expr.(*sqlparser.Literal); ok && lit.Type == sqlparser.IntVal {
			k, _ := strconv.Atoi(lit.Val)
			if k < 1 || k > len(p.outs) {
				return nil, sqlErr(erBadField, "42S22", "Unknown column '%s' in 'order clause'", lit.Val)
			}
			p.order = append(p.order, orderKey{k - 1, desc})
			continue
		}
		if p.distinct {
			return nil, sqlErr(3065, "HY000", "Expression #1 of ORDER BY clause is not in SELECT list, references column which is not in SELECT list; this is incompatible with DISTINCT")
		}
		e, err := compileOut(o.Expr)
		if err != nil {
			if se, ok := err.(interface{ Number() int }); ok && se.Number() == erBadField {
				return nil, sqlErr(erBadField, "42S22", "Unknown column '%s' in 'order clause'", sqlparser.String(o.Expr))
			}
			return nil, err
		}
		p.outs = append(p.outs, e)
		p.order = append(p.order, orderKey{len(p.outs) - 1, desc})
		p.nExtra++
	}
	if n.Limit != nil {
		lsc := &scope{binds: binds, clause: "limit"}
		if n.Limit.Rowcount != nil {
			e, err := lsc.compile(n.Limit.Rowcount)
			if err != nil {
				return nil, err
			}
			p.limit = e
		}
		if n.Limit.Offset != nil {
			e, err := lsc.compile(n.Limit.Offset)
			if err != nil {
				return nil, err
			}
			p.offset = e
		}
	}
	p.orderByKey(n.OrderBy)
	return &compiled{kind: comSelect, txn: p.t != nil, fields: p.fields, run: p.run}, nil
}

func whereExpr(w *sqlparser.Where) sqlparser.Expr {
	if w == nil {
		return nil
	}
	return w.Expr
}

// orderByKey lets a scan deliver rows already in ORDER BY order when the ORDER BY lists
// the access path's key columns after its equality prefix, all in one direction: then no
// sort is needed and LIMIT stops the scan early (TPC-C's ORDER BY o_id DESC LIMIT 1).
func (p *selectPlan) orderByKey(ob sqlparser.OrderBy) {
	if p.acc == nil || p.acc.point || p.acc.in != nil || p.acc.ranges != nil || p.agg || p.distinct || len(ob) == 0 {
		return
	}
	rest := p.acc.cols[len(p.acc.eq):]
	if len(ob) > len(rest) {
		return
	}
	desc := ob[0].Direction == sqlparser.DescOrder
	for i, o := range ob {
		c, ok := o.Expr.(*sqlparser.ColName)
		if !ok || (o.Direction == sqlparser.DescOrder) != desc {
			return
		}
		j, ok := p.t.col(c.Name.String())
		if !ok || j != rest[i] {
			return
		}
	}
	p.acc.reverse, p.acc.sorted = desc, true
}

// outputRef finds an ORDER BY / GROUP BY expression among the output columns: by alias or
// by the same expression text.
func outputRef(x sqlparser.Expr, names []string, srcs []sqlparser.Expr) (int, bool) {
	if c, ok := x.(*sqlparser.ColName); ok && c.Qualifier.IsEmpty() {
		for i, n := range names {
			if srcs[i] != nil && strings.EqualFold(n, c.Name.String()) {
				return i, true
			}
		}
	}
	s := sqlparser.String(x)
	for i, src := range srcs {
		if src != nil && sqlparser.String(src) == s {
			return i, true
		}
	}
	return 0, false
}

func columnName(x sqlparser.Expr) string {
	switch n := x.(type) {
	case *sqlparser.ColName:
		return n.Name.String()
	case *sqlparser.Literal:
		return n.Val
	case *sqlparser.Variable:
		if n.Scope == sqlparser.VariableScope {
			return "@" + n.Name.String()
		}
		return "@@" + n.Name.String()
	}
	return sqlparser.String(x)
}

func containsAggregate(x sqlparser.Expr) bool {
	found := false
	_ = sqlparser.Walk(func(n sqlparser.SQLNode) (bool, error) {
		if _, ok := n.(sqlparser.AggrFunc); ok {
			found = true
			return false, nil
		}
		return true, nil
	}, x)
	return found
}

// compileAggExpr compiles an output expression of an aggregate query: each aggregate
// becomes a reference to its value, stored after the group's first row (so a plain column
// reads the group's first row, as MySQL does without ONLY_FULL_GROUP_BY).
func (se *Session) compileAggExpr(osc, sc *scope, x sqlparser.Expr, aggs *[]*aggSpec, ncols int) (expr, error) {
	var ferr error
	rewritten := sqlparser.Rewrite(sqlparser.Clone(x), nil, func(c *sqlparser.Cursor) bool {
		af, ok := c.Node().(sqlparser.AggrFunc)
		if !ok || ferr != nil {
			return ferr == nil
		}
		sp := &aggSpec{}
		switch a := af.(type) {
		case *sqlparser.CountStar:
			sp.fn = "count"
		case *sqlparser.Count:
			sp.fn, sp.distinct = "count", a.Distinct
			if len(a.Args) != 1 {
				ferr = notSupported("COUNT over several expressions")
				return false
			}
			sp.arg, ferr = sc.compile(a.Args[0])
		case *sqlparser.Sum:
			sp.fn, sp.distinct = "sum", a.Distinct
			sp.arg, ferr = sc.compile(a.Arg)
		case *sqlparser.Avg:
			sp.fn, sp.distinct = "avg", a.Distinct
			sp.arg, ferr = sc.compile(a.Arg)
		case *sqlparser.Min:
			sp.fn = "min"
			sp.arg, ferr = sc.compile(a.Arg)
		case *sqlparser.Max:
			sp.fn = "max"
			sp.arg, ferr = sc.compile(a.Arg)
		default:
			ferr = notSupported("aggregate " + sqlparser.String(af))
			return false
		}
		if ferr != nil {
			return false
		}
		*aggs = append(*aggs, sp)
		name := aggRefPrefix + strconv.Itoa(len(*aggs)-1)
		if osc.aggRefs == nil {
			osc.aggRefs = map[string]int{}
		}
		osc.aggRefs[name] = ncols + len(*aggs) - 1
		c.Replace(&sqlparser.ColName{Name: sqlparser.NewIdentifierCI(name)})
		return true
	})
	if ferr != nil {
		return nil, ferr
	}
	return osc.compile(rewritten.(sqlparser.Expr))
}

// aggRefPrefix names the column an aggregate's value is read from in an aggregate query's
// output expressions; no SQL identifier can start with a NUL byte.
const aggRefPrefix = "\x00agg"

// outField types an output column at planning time: a table column keeps its column's
// type, COUNT is an integer, SUM/AVG of an integer a DECIMAL, other expressions a string
// unless they are constants.
func (se *Session) outField(p *selectPlan, e expr, name string, src sqlparser.Expr) *querypb.Field {
	if c, ok := e.(*colExpr); ok {
		if p.t != nil && c.i < len(p.t.fields) {
			f := p.t.fields[c.i].CloneVT()
			f.Name = name
			return f
		}
		if p.agg && p.t != nil {
			sp := p.aggs[c.i-len(p.t.schema.Columns)]
			switch sp.fn {
			case "count":
				return exprField(name, int64(0))
			case "sum", "avg":
				f := &querypb.Field{Name: name, Type: sqltypes.Decimal, Charset: charsetBinary, ColumnLength: 32, Decimals: 0,
					Flags: uint32(querypb.MySqlFlag_NUM_FLAG)}
				if ac, ok := sp.arg.(*colExpr); ok && p.t.schema.Columns[ac.i].Type == storage.Float || sp.fn == "avg" {
					f.Decimals = 4
					if ok {
						if s, dec := decimalScale(strings.ToLower(p.t.schema.Columns[ac.i].Decl)); dec {
							f.Decimals = uint32(s)
						} else {
							f.Type, f.Decimals = sqltypes.Float64, 31
						}
					}
				}
				return f
			default:
				if ac, ok := sp.arg.(*colExpr); ok {
					f := p.t.fields[ac.i].CloneVT()
					f.Name = name
					return f
				}
			}
		}
	}
	if c, ok := e.(*constExpr); ok {
		return exprField(name, c.v)
	}
	switch x := e.(type) {
	case *arithExpr, *negExpr, *cmpExpr, *andExpr, *orExpr, *notExpr, *isNullExpr, *inExpr, *betweenExpr, *likeExpr:
		_ = x
		if containsFloatColumn(p, e) {
			return exprField(name, float64(0))
		}
		return exprField(name, int64(0))
	case *funcExpr:
		switch x.name {
		case "connection_id", "last_insert_id", "length", "char_length", "unix_timestamp":
			return exprField(name, int64(0))
		case "rand":
			return exprField(name, float64(0))
		}
	}
	return exprField(name, "")
}

func containsFloatColumn(p *selectPlan, e expr) bool {
	switch n := e.(type) {
	case *colExpr:
		return p.t != nil && n.i < len(p.t.schema.Columns) && p.t.schema.Columns[n.i].Type != storage.Int
	case *arithExpr:
		return n.op == sqlparser.DivOp || containsFloatColumn(p, n.l) || containsFloatColumn(p, n.r)
	case *negExpr:
		return containsFloatColumn(p, n.x)
	case *constExpr:
		_, f := n.v.(float64)
		return f
	case *bindExpr:
		return true
	}
	return false
}

// run executes the SELECT.
func (p *selectPlan) run(ctx context.Context, s *Session, t *storage.Txn, binds []Value) (*sqltypes.Result, error) {
	e := &env{binds: binds, s: s}
	limit, offset := int64(-1), int64(0)
	if p.limit != nil {
		v, err := p.limit.eval(e)
		if err != nil {
			return nil, err
		}
		if limit, _ = toInt(v); limit < 0 {
			limit = 0
		}
	}
	if p.offset != nil {
		v, err := p.offset.eval(e)
		if err != nil {
			return nil, err
		}
		offset, _ = toInt(v)
	}
	var out [][]Value
	streaming := !p.agg && !p.distinct && (len(p.order) == 0 || (p.acc != nil && p.acc.sorted))
	project := func(row []Value) ([]Value, error) {
		e.row = row
		vals := make([]Value, len(p.outs))
		for i, o := range p.outs {
			v, err := o.eval(e)
			if err != nil {
				return nil, err
			}
			vals[i] = v
		}
		return vals, nil
	}
	if p.t == nil {
		if p.where != nil {
			v, err := p.where.eval(e)
			if err != nil {
				return nil, err
			}
			if !truth(v) {
				return p.result(nil), nil
			}
		}
		if p.agg {
			return nil, notSupported("aggregates without FROM")
		}
		vals, err := project(nil)
		if err != nil {
			return nil, err
		}
		out = append(out, vals)
	} else if !p.agg {
		skipped := int64(0)
		err := p.acc.rows(ctx, e, t, p.t, p.where, p.lock, func(row []Value) (bool, error) {
			if streaming && skipped < offset {
				skipped++
				return true, nil
			}
			vals, err := project(row)
			if err != nil {
				return false, err
			}
			out = append(out, vals)
			return !streaming || limit < 0 || int64(len(out)) < limit, nil
		})
		if err != nil {
			return nil, err
		}
		if streaming {
			return p.result(out), nil
		}
	} else {
		var err error
		if out, err = p.aggregate(ctx, e, t); err != nil {
			return nil, err
		}
	}
	if p.distinct {
		seen := map[string]bool{}
		kept := out[:0]
		var kb []byte
		for _, r := range out {
			kb = rowKey(kb[:0], r[:len(r)-p.nExtra])
			if !seen[string(kb)] {
				seen[string(kb)] = true
				kept = append(kept, r)
			}
		}
		out = kept
	}
	if len(p.order) > 0 && !(p.acc != nil && p.acc.sorted) {
		slices.SortStableFunc(out, func(a, b []Value) int {
			for _, k := range p.order {
				x, y := a[k.i], b[k.i]
				var d int
				switch {
				case x == nil && y == nil:
				case x == nil:
					d = -1
				case y == nil:
					d = 1
				default:
					d = compare(x, y)
				}
				if k.desc {
					d = -d
				}
				if d != 0 {
					return d
				}
			}
			return 0
		})
	}
	if offset > 0 {
		if offset >= int64(len(out)) {
			out = nil
		} else {
			out = out[offset:]
		}
	}
	if limit >= 0 && int64(len(out)) > limit {
		out = out[:limit]
	}
	return p.result(out), nil
}

// rowKey encodes values for DISTINCT and GROUP BY (type-tagged, so 1 and '1' differ).
func rowKey(dst []byte, vals []Value) []byte {
	for _, v := range vals {
		switch x := v.(type) {
		case nil:
			dst = append(dst, 'N')
		case int64:
			dst = strconv.AppendInt(append(dst, 'I'), x, 10)
		case float64:
			dst = strconv.AppendFloat(append(dst, 'F'), x, 'g', -1, 64)
		case string:
			dst = append(strconv.AppendInt(append(dst, 'S'), int64(len(x)), 10), ':')
			dst = append(dst, x...)
		}
		dst = append(dst, 0)
	}
	return dst
}

// result builds the wire result from output rows (the extra ORDER BY values dropped).
func (p *selectPlan) result(rows [][]Value) *sqltypes.Result {
	r := &sqltypes.Result{Fields: p.fields, Rows: make([][]sqltypes.Value, len(rows))}
	n := len(p.fields)
	for i, row := range rows {
		vals := make([]sqltypes.Value, n)
		for j := 0; j < n; j++ {
			vals[j] = wireValue(p.fields[j], row[j])
		}
		r.Rows[i] = vals
	}
	return r
}
