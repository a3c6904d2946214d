package storage

import (
	"bytes"
	"encoding/binary"
	"fmt"

	"github.com/cockroachdb/pebble/v2"

	"github.com/replbench/replbench/protocols"
)

// ErrNoTable is wrapped by DropTable and AddIndex for a table that does not exist, so that
// a SQL layer can tell "unknown table" (1051/1146) from other failures.
var ErrNoTable = fmt.Errorf("storage: no such table")

// DropTable removes a table, its rows and its index entries. Table ids are never reused, so
// a transaction that still holds the dropped table writes under an id nothing reads.
//
// The engine is one node's: replicating a schema change is the caller's job (the SQL layer
// applies DDL to every node at a point where the cluster is quiet, as Galera's total-order
// isolation runs it on every node in the same place of the order). A write-set for a table
// that no longer exists fails to apply on that node.
func (e *Engine) DropTable(name string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed.Load() {
		return ErrClosed
	}
	t := e.tables[name]
	if t == nil {
		return fmt.Errorf("%w %q on node %s", ErrNoTable, name, e.opts.Node)
	}
	b := e.db.NewBatch()
	defer b.Close()
	if err := b.Delete(append([]byte{prefixMeta}, name...), nil); err != nil {
		return err
	}
	if err := b.DeleteRange(t.rowPrefix, prefixEnd(t.rowPrefix), nil); err != nil {
		return err
	}
	ip := binary.BigEndian.AppendUint32([]byte{prefixIndex}, t.id)
	if err := b.DeleteRange(ip, prefixEnd(ip), nil); err != nil {
		return err
	}
	if err := b.Commit(e.wo); err != nil {
		return fmt.Errorf("storage: drop table %s: %w", name, err)
	}
	delete(e.tables, name)
	return nil
}

// AddIndex adds a secondary index to a table and builds it from the committed rows; a
// unique index over values two rows share is refused with 1062 and nothing changes.
//
// Transactions already open on the table keep the table as it was when they resolved it:
// rows they commit afterwards get no entry in the new index. Run it while the table is
// quiet (the SQL layer's DDL does).
func (e *Engine) AddIndex(name string, ix Index) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed.Load() {
		return ErrClosed
	}
	old := e.tables[name]
	if old == nil {
		return fmt.Errorf("%w %q on node %s", ErrNoTable, name, e.opts.Node)
	}
	s := cloneSchema(old.schema)
	s.Indexes = append(s.Indexes, Index{Name: ix.Name, Columns: append([]int(nil), ix.Columns...), Unique: ix.Unique})
	if err := validateSchema(&s); err != nil {
		return err
	}
	t := newTable(old.id, s)
	t.autoMax = old.autoValue()
	nix := t.indexes[len(t.indexes)-1]
	it, err := e.db.NewIter(&pebble.IterOptions{LowerBound: t.rowPrefix, UpperBound: prefixEnd(t.rowPrefix)})
	if err != nil {
		return err
	}
	defer it.Close()
	b := e.db.NewBatch()
	defer b.Close()
	seen := map[string]bool{}
	for ok := it.First(); ok; ok = it.Next() {
		row, err := DecodeRow(it.Value())
		if err != nil {
			return fmt.Errorf("storage: add index %s to %s: %w", ix.Name, name, err)
		}
		pk := it.Key()[len(t.rowPrefix):]
		if nix.unique {
			v, null := nix.values(row)
			if !null {
				if seen[string(v)] {
					vals := make([]Value, len(nix.cols))
					for i, c := range nix.cols {
						vals[i] = row[c]
					}
					return protocols.ErrDuplicateKey(formatEntry(vals), ix.Name)
				}
				seen[string(v)] = true
			}
		}
		if err := b.Set(nix.entryKey(row, bytes.Clone(pk)), nil, nil); err != nil {
			return err
		}
	}
	if err := it.Error(); err != nil {
		return err
	}
	meta := appendSchema(binary.AppendUvarint(nil, uint64(t.id)), &t.schema)
	if err := b.Set(append([]byte{prefixMeta}, name...), meta, nil); err != nil {
		return err
	}
	if err := b.Commit(e.wo); err != nil {
		return fmt.Errorf("storage: add index %s to %s: %w", ix.Name, name, err)
	}
	e.tables[name] = t
	return nil
}
