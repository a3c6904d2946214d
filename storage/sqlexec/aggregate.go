package sqlexec

import (
	"context"

	querypb "vitess.io/vitess/go/vt/proto/query"

	"github.com/replbench/replbench/storage"
)

// aggSpec is one aggregate of a SELECT: its function and argument.
type aggSpec struct {
	fn       string // count, sum, avg, min, max
	arg      expr   // nil for COUNT(*)
	distinct bool
	field    *querypb.Field
}

// aggState accumulates one aggregate over a group.
type aggState struct {
	n    int64
	sum  float64
	isum int64
	ints bool
	best Value
	seen map[string]bool
}

func (a *aggState) add(sp *aggSpec, v Value) {
	if sp.arg != nil && v == nil {
		return // aggregates skip NULLs
	}
	if sp.distinct {
		k := toString(v)
		if _, isStr := v.(string); isStr {
			k = "s" + k
		}
		if a.seen == nil {
			a.seen = map[string]bool{}
		}
		if a.seen[k] {
			return
		}
		a.seen[k] = true
	}
	a.n++
	switch sp.fn {
	case "sum", "avg":
		if i, ok := v.(int64); ok && (a.ints || a.n == 1) {
			a.ints = true
			a.isum += i
		} else {
			if a.ints {
				a.sum += float64(a.isum)
				a.isum, a.ints = 0, false
			}
			f, _ := toFloat(v)
			a.sum += f
		}
	case "min":
		if a.best == nil || compare(v, a.best) < 0 {
			a.best = v
		}
	case "max":
		if a.best == nil || compare(v, a.best) > 0 {
			a.best = v
		}
	}
}

func (a *aggState) result(sp *aggSpec) Value {
	switch sp.fn {
	case "count":
		return a.n
	case "sum":
		if a.n == 0 {
			return nil
		}
		if a.ints {
			return a.isum
		}
		return a.sum
	case "avg":
		if a.n == 0 {
			return nil
		}
		if a.ints {
			return float64(a.isum) / float64(a.n)
		}
		return a.sum / float64(a.n)
	}
	return a.best
}

func (p *selectPlan) aggregate(ctx context.Context, e *env, t *storage.Txn) ([][]Value, error) {
	type group struct {
		first  []Value
		states []aggState
	}
	groups := map[string]*group{}
	var order []string
	var kb []byte
	gvals := make([]Value, len(p.groupBy))
	err := p.acc.rows(ctx, e, t, p.t, p.where, p.lock, func(row []Value) (bool, error) {
		e.row = row
		for i, g := range p.groupBy {
			v, err := g.eval(e)
			if err != nil {
				return false, err
			}
			gvals[i] = v
		}
		kb = rowKey(kb[:0], gvals)
		g := groups[string(kb)]
		if g == nil {
			g = &group{first: row, states: make([]aggState, len(p.aggs))}
			groups[string(kb)] = g
			order = append(order, string(kb))
		}
		for i, sp := range p.aggs {
			var v Value = int64(1)
			if sp.arg != nil {
				var err error
				if v, err = sp.arg.eval(e); err != nil {
					return false, err
				}
			}
			g.states[i].add(sp, v)
		}
		return true, nil
	})
	if err != nil {
		return nil, err
	}
	ncols := len(p.t.schema.Columns)
	if len(groups) == 0 && len(p.groupBy) == 0 {
		groups[""] = &group{first: make([]Value, ncols), states: make([]aggState, len(p.aggs))}
		order = append(order, "")
	}
	var out [][]Value
	for _, k := range order {
		g := groups[k]
		row := make([]Value, ncols+len(p.aggs))
		copy(row, g.first)
		for i, sp := range p.aggs {
			row[ncols+i] = g.states[i].result(sp)
		}
		e.row = row
		if p.having != nil {
			v, err := p.having.eval(e)
			if err != nil {
				return nil, err
			}
			if !truth(v) {
				continue
			}
		}
		vals := make([]Value, len(p.outs))
		for i, o := range p.outs {
			v, err := o.eval(e)
			if err != nil {
				return nil, err
			}
			vals[i] = v
		}
		out = append(out, vals)
	}
	return out, nil
}
