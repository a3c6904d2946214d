package storage

import (
	"bytes"
	"context"
	"fmt"
	"sort"

	"github.com/cockroachdb/pebble/v2"
)

// scanItem is one of the transaction's own writes that falls in a scan's range.
type scanItem struct {
	key []byte // the Pebble key it would have (row key or index entry key)
	row Row
}

// Scan calls fn for each row in the range, from the snapshot, until fn returns false.
// The transaction's own buffered writes are merged in: rows it inserted or changed appear
// with their new values at their (new) position, rows it deleted do not appear.
func (t *Txn) Scan(ctx context.Context, table string, opt ScanOptions, fn func(Row) bool) error {
	tb, err := t.tableStatement(ctx, false, table)
	if err != nil {
		return err
	}
	ix, err := tb.index(opt.Index)
	if err != nil {
		return err
	}
	prefix, cols := tb.rowPrefix, tb.schema.PrimaryKey
	if ix != nil {
		prefix, cols = ix.prefix, ix.cols
	}
	for _, b := range []*[]Value{&opt.From, &opt.To, &opt.Prefix} {
		if *b, err = tb.normalizeBound(cols, *b); err != nil {
			return err
		}
	}
	lower, upper := append([]byte(nil), prefix...), prefixEnd(prefix)
	if opt.From != nil {
		if lower, err = AppendKey(lower, opt.From...); err != nil {
			return err
		}
	}
	if opt.To != nil {
		if upper, err = AppendKey(append([]byte(nil), prefix...), opt.To...); err != nil {
			return err
		}
	}
	if opt.Prefix != nil {
		p, err := AppendKey(append([]byte(nil), prefix...), opt.Prefix...)
		if err != nil {
			return err
		}
		if bytes.Compare(p, lower) > 0 {
			lower = p
		}
		if e := prefixEnd(p); bytes.Compare(e, upper) < 0 {
			upper = e
		}
	}
	if bytes.Compare(lower, upper) >= 0 {
		return nil
	}

	// The transaction's own writes in range, sorted by key.
	var own []scanItem
	for _, p := range t.writes {
		if p.t != tb || p.row == nil {
			continue
		}
		var k []byte
		if ix == nil {
			k = tb.rowKey(p.pk)
		} else {
			k = ix.entryKey(p.row, p.pk)
		}
		if bytes.Compare(k, lower) >= 0 && bytes.Compare(k, upper) < 0 {
			own = append(own, scanItem{k, p.row})
		}
	}
	sort.Slice(own, func(i, j int) bool { return bytes.Compare(own[i].key, own[j].key) < 0 })

	snap := t.snapshot()
	it, err := snap.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
	if err != nil {
		return err
	}
	defer it.Close()
	ok := it.First()
	if opt.Reverse {
		ok = it.Last()
	}
	advance := func() bool {
		if opt.Reverse {
			return it.Prev()
		}
		return it.Next()
	}
	oi, ostep := 0, 1
	if opt.Reverse {
		oi, ostep = len(own)-1, -1
	}
	emitted := 0
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		// Skip snapshot entries this transaction has overwritten or deleted.
		var pk []byte
		for ok {
			k := it.Key()
			pk = k[len(prefix):]
			if ix != nil {
				n, err := keyTupleLen(pk, len(ix.cols))
				if err != nil {
					return err
				}
				pk = pk[n:]
			}
			if t.find(tb, pk) == nil {
				break
			}
			ok = advance()
		}
		haveOwn := oi >= 0 && oi < len(own)
		if !ok && !haveOwn {
			return it.Error()
		}
		var row Row
		useOwn := haveOwn
		if ok && haveOwn {
			c := bytes.Compare(own[oi].key, it.Key())
			useOwn = (c < 0) != opt.Reverse
		}
		if useOwn {
			row = cloneRow(own[oi].row)
			oi += ostep
		} else {
			var err error
			if ix == nil {
				row, err = DecodeRow(it.Value())
			} else {
				row, err = t.snapRow(snap, tb, pk)
			}
			if err != nil {
				return err
			}
			ok = advance()
			if row == nil {
				continue // an index entry without its row cannot happen in one snapshot
			}
		}
		emitted++
		if !fn(row) || (opt.Limit > 0 && emitted >= opt.Limit) {
			return nil
		}
	}
}

func (t *Txn) snapRow(snap *pebble.Snapshot, tb *table, pk []byte) (Row, error) {
	v, c, err := snap.Get(tb.rowKey(pk))
	if err == pebble.ErrNotFound {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer c.Close()
	return DecodeRow(v)
}

// normalizeBound converts scan bound values to the key columns' types, so that an int bound
// on a float column encodes as the float it compares with.
func (tb *table) normalizeBound(cols []int, vals []Value) ([]Value, error) {
	if vals == nil {
		return nil, nil
	}
	if len(vals) > len(cols) {
		return nil, fmt.Errorf("storage: scan of %s: a bound has %d values, the key has %d columns", tb.schema.Name, len(vals), len(cols))
	}
	out := make([]Value, len(vals))
	for i, v := range vals {
		n, err := normalize(&tb.schema.Columns[cols[i]], v)
		if err != nil {
			return nil, err
		}
		out[i] = n
	}
	return out, nil
}
