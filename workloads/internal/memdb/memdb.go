// Package memdb is a small in-memory table store with storage's transaction semantics, for
// testing workloads without the Pebble engine: primary keys, secondary indexes in order,
// prefix range scans, auto-increment with increment and offset, and per-table checksums.
//
// It buys simplicity with concurrency: a transaction holds one store-wide mutex from Begin
// to Commit or Rollback, so transactions are serial and never conflict. That is enough to
// check what a workload computes and what its end-of-run checks catch; conflicts and
// aborts are the storage engine's and the protocols' business and are tested there.
package memdb

import (
	"context"
	"fmt"
	"hash/fnv"
	"sort"
	"sync"

	"github.com/replbench/replbench/protocols"
	"github.com/replbench/replbench/storage"
	"github.com/replbench/replbench/workloads"
)

// DB is one node's store.
type DB struct {
	node   string
	mu     sync.Mutex
	tables map[string]*table
	inc    int64
	off    int64
}

type entry struct {
	key []storage.Value // index columns then primary key (pk only for the primary index)
	row storage.Row
}

type table struct {
	schema  storage.TableSchema
	rows    []entry // by primary key
	idx     map[string][]entry
	autoInc int64 // last auto-increment value handed out or seen
}

// New returns an empty store for node.
func New(node string) *DB { return &DB{node: node, tables: map[string]*table{}, inc: 1, off: 1} }

// Node implements workloads.DB.
func (d *DB) Node() string { return d.node }

// CreateTable creates a table; like storage, a table needs a primary key.
func (d *DB) CreateTable(s storage.TableSchema) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(s.PrimaryKey) == 0 {
		return fmt.Errorf("table %s has no primary key", s.Name)
	}
	if _, ok := d.tables[s.Name]; ok {
		return fmt.Errorf("table %s exists", s.Name)
	}
	t := &table{schema: s, idx: map[string][]entry{}}
	for _, ix := range s.Indexes {
		t.idx[ix.Name] = nil
	}
	d.tables[s.Name] = t
	return nil
}

// SetAutoIncrement sets auto_increment_increment and auto_increment_offset.
func (d *DB) SetAutoIncrement(increment, offset int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.inc, d.off = int64(increment), int64(offset)
}

// Checksums returns a checksum per table over its rows in primary-key order.
func (d *DB) Checksums() (map[string]uint64, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := map[string]uint64{}
	for name, t := range d.tables {
		h := fnv.New64a()
		for _, e := range t.rows {
			for _, v := range e.row {
				fmt.Fprintf(h, "%T:%v|", v, v)
			}
			h.Write([]byte{'\n'})
		}
		out[name] = h.Sum64()
	}
	return out, nil
}

// Rows returns the number of rows of a table.
func (d *DB) Rows(table string) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.tables[table].rows)
}

// Begin implements workloads.DB. The transaction holds the store until it ends.
func (d *DB) Begin() workloads.Tx {
	d.mu.Lock()
	return &Tx{d: d}
}

// Tx is a transaction.
type Tx struct {
	d    *DB
	undo []func()
	done bool
}

// SetAutocommit is accepted and ignored.
func (tx *Tx) SetAutocommit(bool) {}

func (tx *Tx) table(name string) (*table, error) {
	if tx.done {
		return nil, fmt.Errorf("memdb: transaction already ended")
	}
	t, ok := tx.d.tables[name]
	if !ok {
		return nil, fmt.Errorf("memdb: no table %s", name)
	}
	return t, nil
}

// Compare orders two values: NULL first, then numbers, then strings.
func Compare(a, b storage.Value) int {
	rank := func(v storage.Value) int {
		switch v.(type) {
		case nil:
			return 0
		case int64, float64:
			return 1
		case string:
			return 2
		}
		panic(fmt.Sprintf("memdb: unsupported value %T (use int64, float64, string or nil)", v))
	}
	ra, rb := rank(a), rank(b)
	if ra != rb {
		return ra - rb
	}
	switch ra {
	case 0:
		return 0
	case 2:
		as, bs := a.(string), b.(string)
		switch {
		case as < bs:
			return -1
		case as > bs:
			return 1
		}
		return 0
	}
	ai, aInt := a.(int64)
	bi, bInt := b.(int64)
	if aInt && bInt {
		switch {
		case ai < bi:
			return -1
		case ai > bi:
			return 1
		}
		return 0
	}
	af, bf := num(a), num(b)
	switch {
	case af < bf:
		return -1
	case af > bf:
		return 1
	}
	return 0
}

func num(v storage.Value) float64 {
	if i, ok := v.(int64); ok {
		return float64(i)
	}
	return v.(float64)
}

// comparePrefix compares the first len(p) values of key with p.
func comparePrefix(key, p []storage.Value) int {
	for i := 0; i < len(p) && i < len(key); i++ {
		if c := Compare(key[i], p[i]); c != 0 {
			return c
		}
	}
	return 0
}

func compareKeys(a, b []storage.Value) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		if c := Compare(a[i], b[i]); c != 0 {
			return c
		}
	}
	return len(a) - len(b)
}

func (t *table) pk(row storage.Row) []storage.Value {
	k := make([]storage.Value, len(t.schema.PrimaryKey))
	for i, c := range t.schema.PrimaryKey {
		k[i] = row[c]
	}
	return k
}

func (t *table) ixKey(ix storage.Index, row storage.Row) []storage.Value {
	k := make([]storage.Value, 0, len(ix.Columns)+len(t.schema.PrimaryKey))
	for _, c := range ix.Columns {
		k = append(k, row[c])
	}
	return append(k, t.pk(row)...)
}

func find(es []entry, key []storage.Value) (int, bool) {
	i := sort.Search(len(es), func(i int) bool { return compareKeys(es[i].key, key) >= 0 })
	return i, i < len(es) && compareKeys(es[i].key, key) == 0
}

func insertAt(es []entry, i int, e entry) []entry {
	es = append(es, entry{})
	copy(es[i+1:], es[i:])
	es[i] = e
	return es
}

func removeAt(es []entry, i int) []entry {
	copy(es[i:], es[i+1:])
	return es[:len(es)-1]
}

// put writes row (replacing any row with its key) and maintains the indexes.
func (t *table) put(row storage.Row) {
	k := t.pk(row)
	i, ok := find(t.rows, k)
	if ok {
		t.unindex(t.rows[i].row)
		t.rows[i].row = row
	} else {
		t.rows = insertAt(t.rows, i, entry{key: k, row: row})
	}
	for _, ix := range t.schema.Indexes {
		ik := t.ixKey(ix, row)
		j, _ := find(t.idx[ix.Name], ik)
		t.idx[ix.Name] = insertAt(t.idx[ix.Name], j, entry{key: ik, row: row})
	}
}

func (t *table) unindex(row storage.Row) {
	for _, ix := range t.schema.Indexes {
		ik := t.ixKey(ix, row)
		if j, ok := find(t.idx[ix.Name], ik); ok {
			t.idx[ix.Name] = removeAt(t.idx[ix.Name], j)
		}
	}
}

func (t *table) remove(k []storage.Value) storage.Row {
	i, ok := find(t.rows, k)
	if !ok {
		return nil
	}
	old := t.rows[i].row
	t.unindex(old)
	t.rows = removeAt(t.rows, i)
	return old
}

func (t *table) get(k []storage.Value) storage.Row {
	if i, ok := find(t.rows, k); ok {
		return t.rows[i].row
	}
	return nil
}

func clone(r storage.Row) storage.Row { return append(storage.Row(nil), r...) }

// Get implements workloads.Tx.
func (tx *Tx) Get(ctx context.Context, table string, pk ...storage.Value) (storage.Row, error) {
	t, err := tx.table(table)
	if err != nil {
		return nil, err
	}
	if r := t.get(pk); r != nil {
		return clone(r), nil
	}
	return nil, nil
}

// GetForUpdate implements workloads.Tx.
func (tx *Tx) GetForUpdate(ctx context.Context, table string, pk ...storage.Value) (storage.Row, error) {
	return tx.Get(ctx, table, pk...)
}

// Scan implements workloads.Tx.
func (tx *Tx) Scan(ctx context.Context, table string, opt storage.ScanOptions, fn func(storage.Row) bool) error {
	t, err := tx.table(table)
	if err != nil {
		return err
	}
	es := t.rows
	if opt.Index != "" {
		var ok bool
		if es, ok = t.idx[opt.Index]; !ok {
			return fmt.Errorf("memdb: table %s has no index %s", table, opt.Index)
		}
	}
	lo := 0
	if opt.From != nil {
		lo = sort.Search(len(es), func(i int) bool { return comparePrefix(es[i].key, opt.From) >= 0 })
	}
	hi := len(es)
	if opt.To != nil {
		hi = sort.Search(len(es), func(i int) bool { return comparePrefix(es[i].key, opt.To) >= 0 })
	}
	var rows []storage.Row
	for i := lo; i < hi; i++ {
		rows = append(rows, es[i].row)
	}
	if opt.Reverse {
		for i, j := 0, len(rows)-1; i < j; i, j = i+1, j-1 {
			rows[i], rows[j] = rows[j], rows[i]
		}
	}
	for n, r := range rows {
		if opt.Limit > 0 && n >= opt.Limit {
			break
		}
		if !fn(clone(r)) {
			break
		}
	}
	return nil
}

// Insert implements workloads.Tx.
func (tx *Tx) Insert(ctx context.Context, table string, row storage.Row) (int64, error) {
	t, err := tx.table(table)
	if err != nil {
		return 0, err
	}
	if len(row) != len(t.schema.Columns) {
		return 0, fmt.Errorf("memdb: %s has %d columns, row has %d", table, len(t.schema.Columns), len(row))
	}
	row = clone(row)
	var id int64
	oldAuto := t.autoInc
	if t.schema.Columns[0].AutoIncrement {
		if v, _ := row[0].(int64); row[0] == nil || v == 0 {
			inc, off := tx.d.inc, tx.d.off
			n := t.autoInc + 1
			if r := (n - off) % inc; r != 0 {
				if r < 0 {
					r += inc
				}
				n += inc - r
			}
			if n < off {
				n = off
			}
			id, row[0], t.autoInc = n, n, n
		} else {
			id = v
			t.autoInc = max(t.autoInc, v)
		}
	}
	for c, v := range row {
		if err := checkType(t.schema, c, v); err != nil {
			t.autoInc = oldAuto
			return 0, err
		}
	}
	k := t.pk(row)
	if t.get(k) != nil {
		t.autoInc = oldAuto
		return 0, protocols.ErrDuplicateKey(fmt.Sprint(k...), "PRIMARY")
	}
	t.put(row)
	tx.undo = append(tx.undo, func() { t.remove(k) })
	return id, nil
}

func checkType(s storage.TableSchema, c int, v storage.Value) error {
	col := s.Columns[c]
	ok := false
	switch v.(type) {
	case nil:
		ok = col.Nullable
	case int64:
		ok = col.Type == storage.Int
	case float64:
		ok = col.Type == storage.Float
	case string:
		ok = col.Type == storage.String
	}
	if !ok {
		return fmt.Errorf("memdb: %s.%s: value %v of type %T does not fit the column", s.Name, col.Name, v, v)
	}
	return nil
}

// Update implements workloads.Tx.
func (tx *Tx) Update(ctx context.Context, table string, row storage.Row) error {
	t, err := tx.table(table)
	if err != nil {
		return err
	}
	for c, v := range row {
		if err := checkType(t.schema, c, v); err != nil {
			return err
		}
	}
	old := t.get(t.pk(row))
	if old == nil {
		return fmt.Errorf("memdb: update of a missing row of %s", table)
	}
	t.put(clone(row))
	tx.undo = append(tx.undo, func() { t.put(old) })
	return nil
}

// Delete implements workloads.Tx.
func (tx *Tx) Delete(ctx context.Context, table string, pk ...storage.Value) (bool, error) {
	t, err := tx.table(table)
	if err != nil {
		return false, err
	}
	old := t.remove(pk)
	if old == nil {
		return false, nil
	}
	tx.undo = append(tx.undo, func() { t.put(old) })
	return true, nil
}

// Commit implements workloads.Tx.
func (tx *Tx) Commit(ctx context.Context) error {
	if tx.done {
		return fmt.Errorf("memdb: transaction already ended")
	}
	tx.done = true
	tx.undo = nil
	tx.d.mu.Unlock()
	return nil
}

// Rollback implements workloads.Tx.
func (tx *Tx) Rollback() {
	if tx.done {
		return
	}
	for i := len(tx.undo) - 1; i >= 0; i-- {
		tx.undo[i]()
	}
	tx.done = true
	tx.d.mu.Unlock()
}
