package sqldb

import (
	"cmp"
	"context"
	"fmt"
	"strings"

	"github.com/replbench/replbench/storage"
)

// Pages of an open-ended scan (no bound in the direction of reading): the server is asked
// for firstPage rows, then twice as many each time up to maxPage, continuing after the last
// key seen. A MySQL result set must be read to its end before the connection can be used
// again, so an open-ended SELECT that the caller stops early (a workload that reads until
// a value changes) would otherwise read the rest of the table.
const (
	firstPage = 64
	maxPage   = 4096
)

// Scan implements workloads.Tx with the engine's semantics (storage.ScanOptions): From is
// an inclusive tuple prefix, To an exclusive one, Prefix fixes leading key columns, rows
// come in index order (index columns, then the primary key), backwards with Reverse.
func (t *Tx) Scan(ctx context.Context, table string, opt storage.ScanOptions, fn func(storage.Row) bool) error {
	ts, err := t.c.n.table(table)
	if err != nil {
		return err
	}
	keyCols, order, err := ts.orderCols(opt.Index)
	if err != nil {
		return err
	}
	for _, b := range [][]storage.Value{opt.From, opt.To, opt.Prefix} {
		if len(b) > len(keyCols) {
			return errTooManyValues(table, opt.Index, len(keyCols), len(b))
		}
	}
	eq, from, to, empty := bounds(opt.Prefix, opt.From, opt.To)
	if empty {
		return nil
	}
	ph, err := t.start(ctx, false, false)
	if err != nil {
		return err
	}
	shape := scanShape{index: opt.Index, eq: len(eq), from: len(from), to: len(to), reverse: opt.Reverse}
	openEnded := (!opt.Reverse && len(to) == 0) || (opt.Reverse && len(from) == 0)
	remaining := opt.Limit // 0: no limit
	page := 0
	if openEnded {
		page = firstPage
	}
	var after []storage.Value
	dest := newDest(ts.schema)
	for {
		ask := remaining
		if page > 0 && (ask == 0 || page < ask) {
			ask = page
		}
		shape.limit = ask > 0
		shape.after = len(after)
		text, err := ts.scanSQL(shape)
		if err != nil {
			return err
		}
		args := append([]any(nil), eq...)
		if len(from) > 0 {
			args = lexArgs(args, from)
		}
		if len(to) > 0 {
			args = lexArgs(args, to)
		}
		if len(after) > 0 {
			args = lexArgs(args, after)
		}
		if shape.limit {
			args = append(args, int64(ask))
		}
		s, err := t.c.stmt(ctx, text)
		if err != nil {
			return t.fail(err, ph)
		}
		rows, err := s.QueryContext(ctx, args...)
		if err != nil {
			return t.fail(err, ph)
		}
		n, stopped := 0, false
		var last storage.Row
		for rows.Next() {
			if err := rows.Scan(dest.ptrs...); err != nil {
				rows.Close()
				return t.fail(err, ph)
			}
			r := dest.row()
			n++
			last = r
			if !fn(r) {
				stopped = true
				break
			}
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return t.fail(err, ph)
		}
		if stopped || ask == 0 || n < ask {
			return nil
		}
		if remaining > 0 {
			remaining -= n
			if remaining == 0 {
				return nil
			}
		}
		if page == 0 { // a bounded scan that asked for exactly remaining rows
			return nil
		}
		after = make([]storage.Value, len(order))
		for i, c := range order {
			after[i] = last[c]
		}
		page = min(page*2, maxPage)
	}
}

func errTooManyValues(table, index string, cols, got int) error {
	if index == "" {
		index = "PRIMARY"
	}
	return fmt.Errorf("sqldb: table %s index %s has %d columns, a scan bound has %d values", table, index, cols, got)
}

// bounds folds Prefix into From and To and moves the leading values From and To share into
// equalities, so that the SQL is as plain as the range: (w, d, o) <= k < (w, d, o+1) becomes
// w=? AND d=? AND o>=? AND o<?. empty reports a range nothing can be in.
func bounds(prefix, from, to []storage.Value) (eq, f, t []storage.Value, empty bool) {
	k := len(prefix)
	eq = prefix
	f, t = from, to
	if len(f) > 0 && k > 0 {
		m := min(k, len(f))
		switch c := compareTuple(f[:m], prefix[:m]); {
		case c < 0:
			f = nil // every key with the prefix is above From
		case c > 0:
			return nil, nil, nil, true
		case len(f) <= k:
			f = nil
		default:
			f = f[k:]
		}
	}
	if len(t) > 0 && k > 0 {
		m := min(k, len(t))
		switch c := compareTuple(t[:m], prefix[:m]); {
		case c > 0:
			t = nil // every key with the prefix is below To
		case c < 0, len(t) <= k: // To is below the prefix, or a prefix of it: nothing is left
			return nil, nil, nil, true
		default:
			t = t[k:]
		}
	}
	eq = append([]storage.Value(nil), eq...)
	for len(f) > 0 && len(t) > 1 && compareValue(f[0], t[0]) == 0 {
		eq = append(eq, f[0])
		f, t = f[1:], t[1:]
	}
	if len(f) == 0 {
		f = nil
	}
	return eq, f, t, false
}

func compareTuple(a, b []storage.Value) int {
	for i := range a {
		if c := compareValue(a[i], b[i]); c != 0 {
			return c
		}
	}
	return 0
}

// compareValue orders values as the engine's keys do: NULL first, numbers by value, strings
// by bytes.
func compareValue(a, b storage.Value) int {
	if a == nil || b == nil {
		switch {
		case a == nil && b == nil:
			return 0
		case a == nil:
			return -1
		}
		return 1
	}
	as, aStr := a.(string)
	bs, bStr := b.(string)
	if aStr && bStr {
		return strings.Compare(as, bs)
	}
	af, aok := number(a)
	bf, bok := number(b)
	if aok && bok {
		return cmp.Compare(af, bf)
	}
	return 0
}

func number(v storage.Value) (float64, bool) {
	switch x := v.(type) {
	case int64:
		return float64(x), true
	case int:
		return float64(x), true
	case int32:
		return float64(x), true
	case float64:
		return x, true
	}
	return 0, false
}
