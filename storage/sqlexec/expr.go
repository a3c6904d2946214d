// This file holds the expression evaluator and its compiler together (a little over 600
// lines): each node type's eval and its compile case are read side by side.

package sqlexec

import (
	"math"
	"strconv"
	"strings"

	"vitess.io/vitess/go/vt/sqlparser"
)

// env is what an expression reads while it is evaluated: the current row, the statement's
// bind values and the session (variables, DATABASE(), LAST_INSERT_ID()).
type env struct {
	row   []Value
	binds []Value
	s     *Session
}

// expr is a compiled expression. Compilation resolves column names to row positions and
// bind variables to slots once per plan, so evaluation is a walk over small structs.
type expr interface {
	eval(e *env) (Value, error)
}

type (
	constExpr struct{ v Value }
	colExpr   struct{ i int }
	bindExpr  struct{ i int }
	arithExpr struct {
		op   sqlparser.BinaryExprOperator
		l, r expr
	}
	negExpr struct{ x expr }
	notExpr struct{ x expr }
	andExpr struct{ l, r expr }
	orExpr  struct{ l, r expr }
	cmpExpr struct {
		op   sqlparser.ComparisonExprOperator
		l, r expr
	}
	inExpr struct {
		l    expr
		list []expr
		not  bool
	}
	betweenExpr struct {
		x, lo, hi expr
		not       bool
	}
	isNullExpr struct {
		x   expr
		not bool
	}
	likeExpr struct {
		l, pat expr
		not    bool
	}
	funcExpr struct {
		name string
		args []expr
		fn   func(e *env, args []Value) (Value, error)
	}
	sysVarExpr struct {
		name   string
		global bool
	}
	userVarExpr struct{ name string }
)

func (c *constExpr) eval(*env) (Value, error)  { return c.v, nil }
func (c *colExpr) eval(e *env) (Value, error)  { return e.row[c.i], nil }
func (b *bindExpr) eval(e *env) (Value, error) { return e.binds[b.i], nil }

func (a *arithExpr) eval(e *env) (Value, error) {
	l, err := a.l.eval(e)
	if err != nil || l == nil {
		return nil, err
	}
	r, err := a.r.eval(e)
	if err != nil || r == nil {
		return nil, err
	}
	return arith(a.op, l, r)
}

func arith(op sqlparser.BinaryExprOperator, l, r Value) (Value, error) {
	li, lInt := l.(int64)
	ri, rInt := r.(int64)
	if lInt && rInt {
		switch op {
		case sqlparser.PlusOp:
			return li + ri, nil
		case sqlparser.MinusOp:
			return li - ri, nil
		case sqlparser.MultOp:
			return li * ri, nil
		case sqlparser.IntDivOp:
			if ri == 0 {
				return nil, nil
			}
			return li / ri, nil
		case sqlparser.ModOp:
			if ri == 0 {
				return nil, nil
			}
			return li % ri, nil
		case sqlparser.BitAndOp:
			return li & ri, nil
		case sqlparser.BitOrOp:
			return li | ri, nil
		case sqlparser.BitXorOp:
			return li ^ ri, nil
		case sqlparser.ShiftLeftOp:
			return li << uint64(ri), nil
		case sqlparser.ShiftRightOp:
			return li >> uint64(ri), nil
		}
	}
	lf, _ := toFloat(l)
	rf, _ := toFloat(r)
	switch op {
	case sqlparser.PlusOp:
		return lf + rf, nil
	case sqlparser.MinusOp:
		return lf - rf, nil
	case sqlparser.MultOp:
		return lf * rf, nil
	case sqlparser.DivOp:
		if rf == 0 {
			return nil, nil // MySQL: division by zero is NULL (with a warning)
		}
		return lf / rf, nil
	case sqlparser.IntDivOp:
		if rf == 0 {
			return nil, nil
		}
		return int64(lf / rf), nil
	case sqlparser.ModOp:
		if rf == 0 {
			return nil, nil
		}
		return math.Mod(lf, rf), nil
	}
	li, _ = toInt(l)
	ri, _ = toInt(r)
	return arith(op, li, ri)
}

func (n *negExpr) eval(e *env) (Value, error) {
	v, err := n.x.eval(e)
	switch x := v.(type) {
	case int64:
		return -x, err
	case float64:
		return -x, err
	case string:
		return -parseNumPrefix(x), err
	}
	return nil, err
}

func (n *notExpr) eval(e *env) (Value, error) {
	v, err := n.x.eval(e)
	if err != nil || v == nil {
		return nil, err
	}
	return boolVal(!truth(v)), nil
}

func (a *andExpr) eval(e *env) (Value, error) {
	l, err := a.l.eval(e)
	if err != nil {
		return nil, err
	}
	if l != nil && !truth(l) {
		return int64(0), nil
	}
	r, err := a.r.eval(e)
	if err != nil {
		return nil, err
	}
	if r != nil && !truth(r) {
		return int64(0), nil
	}
	if l == nil || r == nil {
		return nil, nil
	}
	return int64(1), nil
}

func (o *orExpr) eval(e *env) (Value, error) {
	l, err := o.l.eval(e)
	if err != nil {
		return nil, err
	}
	if l != nil && truth(l) {
		return int64(1), nil
	}
	r, err := o.r.eval(e)
	if err != nil {
		return nil, err
	}
	if r != nil && truth(r) {
		return int64(1), nil
	}
	if l == nil || r == nil {
		return nil, nil
	}
	return int64(0), nil
}

func (c *cmpExpr) eval(e *env) (Value, error) {
	l, err := c.l.eval(e)
	if err != nil {
		return nil, err
	}
	r, err := c.r.eval(e)
	if err != nil {
		return nil, err
	}
	if c.op == sqlparser.NullSafeEqualOp {
		if l == nil || r == nil {
			return boolVal(l == nil && r == nil), nil
		}
		return boolVal(compare(l, r) == 0), nil
	}
	if l == nil || r == nil {
		return nil, nil
	}
	d := compare(l, r)
	switch c.op {
	case sqlparser.EqualOp:
		return boolVal(d == 0), nil
	case sqlparser.LessThanOp:
		return boolVal(d < 0), nil
	case sqlparser.GreaterThanOp:
		return boolVal(d > 0), nil
	case sqlparser.LessEqualOp:
		return boolVal(d <= 0), nil
	case sqlparser.GreaterEqualOp:
		return boolVal(d >= 0), nil
	case sqlparser.NotEqualOp:
		return boolVal(d != 0), nil
	}
	return nil, nil
}

func (in *inExpr) eval(e *env) (Value, error) {
	l, err := in.l.eval(e)
	if err != nil || l == nil {
		return nil, err
	}
	sawNull := false
	for _, x := range in.list {
		v, err := x.eval(e)
		if err != nil {
			return nil, err
		}
		if v == nil {
			sawNull = true
			continue
		}
		if compare(l, v) == 0 {
			return boolVal(!in.not), nil
		}
	}
	if sawNull {
		return nil, nil
	}
	return boolVal(in.not), nil
}

func (b *betweenExpr) eval(e *env) (Value, error) {
	x, err := b.x.eval(e)
	if err != nil || x == nil {
		return nil, err
	}
	lo, err := b.lo.eval(e)
	if err != nil || lo == nil {
		return nil, err
	}
	hi, err := b.hi.eval(e)
	if err != nil || hi == nil {
		return nil, err
	}
	in := compare(x, lo) >= 0 && compare(x, hi) <= 0
	return boolVal(in != b.not), nil
}

func (n *isNullExpr) eval(e *env) (Value, error) {
	v, err := n.x.eval(e)
	return boolVal((v == nil) != n.not), err
}

func (l *likeExpr) eval(e *env) (Value, error) {
	v, err := l.l.eval(e)
	if err != nil || v == nil {
		return nil, err
	}
	p, err := l.pat.eval(e)
	if err != nil || p == nil {
		return nil, err
	}
	return boolVal(likeMatch(toString(v), toString(p)) != l.not), nil
}

// likeMatch implements LIKE with % and _ and backslash escapes, ASCII case-insensitively
// (MySQL's default collations are case-insensitive; SHOW ... LIKE relies on it).
func likeMatch(s, p string) bool {
	s, p = strings.ToLower(s), strings.ToLower(p)
	var match func(si, pi int) bool
	match = func(si, pi int) bool {
		for pi < len(p) {
			switch c := p[pi]; c {
			case '%':
				for pi < len(p) && p[pi] == '%' {
					pi++
				}
				if pi == len(p) {
					return true
				}
				for k := si; k <= len(s); k++ {
					if match(k, pi) {
						return true
					}
				}
				return false
			case '_':
				if si >= len(s) {
					return false
				}
				si++
				pi++
			default:
				if c == '\\' && pi+1 < len(p) {
					pi++
					c = p[pi]
				}
				if si >= len(s) || s[si] != c {
					return false
				}
				si++
				pi++
			}
		}
		return si == len(s)
	}
	return match(0, 0)
}

func (f *funcExpr) eval(e *env) (Value, error) {
	args := make([]Value, len(f.args))
	for i, a := range f.args {
		v, err := a.eval(e)
		if err != nil {
			return nil, err
		}
		args[i] = v
	}
	return f.fn(e, args)
}

func (v *sysVarExpr) eval(e *env) (Value, error) { return e.s.sysVar(v.name, v.global) }

func (v *userVarExpr) eval(e *env) (Value, error) { return e.s.userVars[v.name], nil }

// scope resolves column names while compiling: the table of the statement (nil where
// no columns exist, as in INSERT ... VALUES or SELECT without FROM) and the bind slots.
type scope struct {
	t      *tableMeta
	binds  *bindSlots
	clause string // for "Unknown column 'x' in 'field list'"
	// aggRefs resolve the placeholders an aggregate query's output expressions have in place
	// of their aggregates to positions in the aggregate row.
	aggRefs map[string]int
}

// bindSlots numbers the statement's bind variables: :v1.. from a prepared statement or the
// literals the normaliser lifted out of a text query.
type bindSlots struct {
	names []string
	index map[string]int
}

func (b *bindSlots) slot(name string) int {
	if i, ok := b.index[name]; ok {
		return i
	}
	if b.index == nil {
		b.index = map[string]int{}
	}
	b.index[name] = len(b.names)
	b.names = append(b.names, name)
	return len(b.names) - 1
}

func literal(l *sqlparser.Literal) (Value, error) {
	switch l.Type {
	case sqlparser.IntVal:
		if i, err := strconv.ParseInt(l.Val, 10, 64); err == nil {
			return i, nil
		}
		f, err := strconv.ParseFloat(l.Val, 64)
		if err != nil {
			return nil, sqlErr(erSyntax, "42000", "bad number %s", l.Val)
		}
		return f, nil
	case sqlparser.FloatVal, sqlparser.DecimalVal:
		f, err := strconv.ParseFloat(l.Val, 64)
		if err != nil {
			return nil, sqlErr(erSyntax, "42000", "bad number %s", l.Val)
		}
		return f, nil
	case sqlparser.StrVal, sqlparser.DateVal, sqlparser.TimeVal, sqlparser.TimestampVal:
		return l.Val, nil
	case sqlparser.HexVal:
		b, err := l.HexDecode()
		if err != nil {
			return nil, sqlErr(erSyntax, "42000", "bad hex literal %s", l.Val)
		}
		return string(b), nil
	case sqlparser.HexNum:
		u, err := strconv.ParseUint(strings.TrimPrefix(strings.ToLower(l.Val), "0x"), 16, 64)
		if err != nil || u > math.MaxInt64 {
			return nil, notSupported("hexadecimal number " + l.Val)
		}
		return int64(u), nil
	}
	return nil, notSupported("literal " + sqlparser.String(l))
}

// compileExpr compiles a scalar expression. Aggregates are compiled by the SELECT planner,
// which calls compileExpr for their arguments; one reaching here is misplaced.
func (sc *scope) compile(x sqlparser.Expr) (expr, error) {
	switch n := x.(type) {
	case *sqlparser.Literal:
		v, err := literal(n)
		if err != nil {
			return nil, err
		}
		return &constExpr{v}, nil
	case *sqlparser.NullVal:
		return &constExpr{nil}, nil
	case sqlparser.BoolVal:
		return &constExpr{boolVal(bool(n))}, nil
	case *sqlparser.Argument:
		return &bindExpr{sc.binds.slot(n.Name)}, nil
	case *sqlparser.ColName:
		if i, ok := sc.aggRefs[n.Name.String()]; ok {
			return &colExpr{i}, nil
		}
		if sc.t == nil {
			return nil, badField(n.Name.String(), sc.clause)
		}
		if q := n.Qualifier.Name.String(); q != "" && q != sc.t.name && q != sc.t.alias {
			return nil, badField(q+"."+n.Name.String(), sc.clause)
		}
		i, ok := sc.t.col(n.Name.String())
		if !ok {
			return nil, badField(n.Name.String(), sc.clause)
		}
		return &colExpr{i}, nil
	case *sqlparser.BinaryExpr:
		l, r, err := sc.pair(n.Left, n.Right)
		if err != nil {
			return nil, err
		}
		return &arithExpr{n.Operator, l, r}, nil
	case *sqlparser.UnaryExpr:
		v, err := sc.compile(n.Expr)
		if err != nil {
			return nil, err
		}
		switch n.Operator {
		case sqlparser.UMinusOp:
			if c, ok := v.(*constExpr); ok {
				r, _ := (&negExpr{c}).eval(nil)
				return &constExpr{r}, nil
			}
			return &negExpr{v}, nil
		case sqlparser.UPlusOp:
			return v, nil
		case sqlparser.BangOp:
			return &notExpr{v}, nil
		}
		return nil, notSupported("operator " + sqlparser.String(n))
	case *sqlparser.AndExpr:
		l, r, err := sc.pair(n.Left, n.Right)
		if err != nil {
			return nil, err
		}
		return &andExpr{l, r}, nil
	case *sqlparser.OrExpr:
		l, r, err := sc.pair(n.Left, n.Right)
		if err != nil {
			return nil, err
		}
		return &orExpr{l, r}, nil
	case *sqlparser.NotExpr:
		v, err := sc.compile(n.Expr)
		if err != nil {
			return nil, err
		}
		return &notExpr{v}, nil
	case *sqlparser.ComparisonExpr:
		if n.Modifier != sqlparser.Missing {
			return nil, notSupported("ANY/ALL subqueries")
		}
		l, err := sc.compile(n.Left)
		if err != nil {
			return nil, err
		}
		switch n.Operator {
		case sqlparser.InOp, sqlparser.NotInOp:
			tup, ok := n.Right.(sqlparser.ValTuple)
			if !ok {
				return nil, notSupported("IN with a subquery or list argument")
			}
			list := make([]expr, len(tup))
			for i, t := range tup {
				if list[i], err = sc.compile(t); err != nil {
					return nil, err
				}
			}
			return &inExpr{l, list, n.Operator == sqlparser.NotInOp}, nil
		case sqlparser.LikeOp, sqlparser.NotLikeOp:
			if n.Escape != nil {
				return nil, notSupported("LIKE ... ESCAPE")
			}
			r, err := sc.compile(n.Right)
			if err != nil {
				return nil, err
			}
			return &likeExpr{l, r, n.Operator == sqlparser.NotLikeOp}, nil
		case sqlparser.RegexpOp, sqlparser.NotRegexpOp:
			return nil, notSupported("REGEXP")
		}
		r, err := sc.compile(n.Right)
		if err != nil {
			return nil, err
		}
		return &cmpExpr{n.Operator, l, r}, nil
	case *sqlparser.BetweenExpr:
		v, err := sc.compile(n.Left)
		if err != nil {
			return nil, err
		}
		lo, err := sc.compile(n.From)
		if err != nil {
			return nil, err
		}
		hi, err := sc.compile(n.To)
		if err != nil {
			return nil, err
		}
		return &betweenExpr{v, lo, hi, !n.IsBetween}, nil
	case *sqlparser.IsExpr:
		v, err := sc.compile(n.Left)
		if err != nil {
			return nil, err
		}
		switch n.Right {
		case sqlparser.IsNullOp:
			return &isNullExpr{v, false}, nil
		case sqlparser.IsNotNullOp:
			return &isNullExpr{v, true}, nil
		case sqlparser.IsTrueOp, sqlparser.IsNotFalseOp:
			return &cmpExpr{sqlparser.NotEqualOp, v, &constExpr{int64(0)}}, nil
		case sqlparser.IsFalseOp, sqlparser.IsNotTrueOp:
			return &cmpExpr{sqlparser.EqualOp, v, &constExpr{int64(0)}}, nil
		}
	case *sqlparser.Variable:
		name := strings.ToLower(n.Name.String())
		if n.Scope == sqlparser.VariableScope {
			return &userVarExpr{name}, nil
		}
		return &sysVarExpr{name, n.Scope == sqlparser.GlobalScope}, nil
	case *sqlparser.CurTimeFuncExpr:
		return &funcExpr{name: "now", fn: builtins["now"].fn}, nil
	case *sqlparser.FuncExpr:
		name := strings.ToLower(n.Name.String())
		b, ok := builtins[name]
		if !ok || !n.Qualifier.IsEmpty() {
			return nil, sqlErr(erNoSuchFunction, "42000", "FUNCTION %s does not exist (replbench implements: %s)", sqlparser.String(n.Name), builtinNames())
		}
		if len(n.Exprs) < b.min || (b.max >= 0 && len(n.Exprs) > b.max) {
			return nil, sqlErr(erWrongArgs, "42000", "Incorrect parameter count in the call to native function '%s'", name)
		}
		f := &funcExpr{name: name, fn: b.fn}
		for _, a := range n.Exprs {
			c, err := sc.compile(a)
			if err != nil {
				return nil, err
			}
			f.args = append(f.args, c)
		}
		return f, nil
	case *sqlparser.IntroducerExpr:
		return sc.compile(n.Expr)
	case *sqlparser.CollateExpr:
		return sc.compile(n.Expr)
	case sqlparser.ValTuple:
		if len(n) == 1 {
			return sc.compile(n[0])
		}
		return nil, notSupported("row constructors")
	case *sqlparser.Subquery:
		return nil, notSupported("subqueries")
	case sqlparser.AggrFunc:
		return nil, sqlErr(1111, "HY000", "Invalid use of group function")
	}
	return nil, notSupported("expression " + sqlparser.String(x))
}

// pair compiles the two operands of a binary operator.
func (sc *scope) pair(a, b sqlparser.Expr) (expr, expr, error) {
	l, err := sc.compile(a)
	if err != nil {
		return nil, nil, err
	}
	r, err := sc.compile(b)
	if err != nil {
		return nil, nil, err
	}
	return l, r, nil
}
