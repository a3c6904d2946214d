package storage

import (
	"encoding/binary"
	"hash/fnv"

	"github.com/cockroachdb/pebble/v2"
)

// Checksums implements protocols.Applier: per table a 64-bit FNV-1a over every row's
// length-prefixed primary key and row bytes, in primary-key order. Both encodings are
// node-independent (no table ids), so two nodes have equal checksums exactly when their
// tables hold the same rows (up to 64-bit collisions). Secondary indexes are derived
// data and are not hashed.
func (e *Engine) Checksums() (map[string]uint64, error) {
	if e.closed.Load() {
		return nil, ErrClosed
	}
	snap := e.db.NewSnapshot()
	defer snap.Close()
	out := map[string]uint64{}
	for _, name := range e.Tables() {
		tb, err := e.table(name)
		if err != nil {
			return nil, err
		}
		h := fnv.New64a()
		it, err := snap.NewIter(&pebble.IterOptions{LowerBound: tb.rowPrefix, UpperBound: prefixEnd(tb.rowPrefix)})
		if err != nil {
			return nil, err
		}
		var lb [binary.MaxVarintLen64]byte
		for ok := it.First(); ok; ok = it.Next() {
			k := it.Key()[len(tb.rowPrefix):]
			v := it.Value()
			h.Write(lb[:binary.PutUvarint(lb[:], uint64(len(k)))])
			h.Write(k)
			h.Write(lb[:binary.PutUvarint(lb[:], uint64(len(v)))])
			h.Write(v)
		}
		if err := it.Close(); err != nil {
			return nil, err
		}
		out[name] = h.Sum64()
	}
	return out, nil
}

// RowCount returns the number of rows in a table (from the latest committed state).
func (e *Engine) RowCount(table string) (int64, error) {
	tb, err := e.table(table)
	if err != nil {
		return 0, err
	}
	it, err := e.db.NewIter(&pebble.IterOptions{LowerBound: tb.rowPrefix, UpperBound: prefixEnd(tb.rowPrefix)})
	if err != nil {
		return 0, err
	}
	var n int64
	for ok := it.First(); ok; ok = it.Next() {
		n++
	}
	return n, it.Close()
}
