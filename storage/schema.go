package storage

import (
	"encoding/binary"
	"fmt"
	"sync"

	"github.com/replbench/replbench/internal/codec"
)

// Pebble key layout. Table ids are node-local (assigned in creation order), which is why
// write-sets carry table names and id-free encodings: two nodes agree on the bytes of a row
// and its primary key, not on where they live.
//
//	'm' name                         -> table id + schema (metadata)
//	'r' id(4) pk                     -> encoded row
//	'i' id(4) index(1) values pk     -> nothing (secondary index entry)
const (
	prefixMeta  = 'm'
	prefixRow   = 'r'
	prefixIndex = 'i'
)

// table is a created table with its derived key prefixes and auto-increment state.
type table struct {
	id        uint32
	schema    TableSchema
	rowPrefix []byte
	indexes   []*index
	autoCol   int // position of the auto-increment column, -1 if none

	autoMu  sync.Mutex
	autoMax int64 // the largest auto-increment value used or seen
}

// index is a secondary index. Entries are (index values, primary key) -> empty, so even a
// unique index allows any number of NULLs, as InnoDB does; uniqueness is checked on insert.
type index struct {
	id     byte
	name   string
	cols   []int
	unique bool
	prefix []byte
}

func validateSchema(s *TableSchema) error {
	if s.Name == "" {
		return fmt.Errorf("storage: CreateTable: the table needs a name")
	}
	if len(s.PrimaryKey) == 0 {
		return fmt.Errorf("storage: CreateTable %s: a table must have a primary key (replication refuses tables without one, as PXC strict mode and Group Replication do); add PrimaryKey", s.Name)
	}
	if len(s.Columns) == 0 {
		return fmt.Errorf("storage: CreateTable %s: no columns", s.Name)
	}
	names := map[string]bool{}
	for i, c := range s.Columns {
		if c.Type < Int || c.Type > String {
			return fmt.Errorf("storage: CreateTable %s: column %q has no valid type (use Int, Float or String)", s.Name, c.Name)
		}
		if names[c.Name] {
			return fmt.Errorf("storage: CreateTable %s: duplicate column %q", s.Name, c.Name)
		}
		names[c.Name] = true
		if c.AutoIncrement && (c.Type != Int || s.PrimaryKey[0] != i) {
			return fmt.Errorf("storage: CreateTable %s: auto-increment column %q must be an integer and the first primary-key column", s.Name, c.Name)
		}
		if c.HasDefault {
			d, err := normalize(&s.Columns[i], c.Default)
			if err != nil {
				return fmt.Errorf("storage: CreateTable %s: default of column %q: %w", s.Name, c.Name, err)
			}
			s.Columns[i].Default = d
		}
	}
	checkCols := func(what string, cols []int) error {
		if len(cols) == 0 {
			return fmt.Errorf("storage: CreateTable %s: %s has no columns", s.Name, what)
		}
		for _, c := range cols {
			if c < 0 || c >= len(s.Columns) {
				return fmt.Errorf("storage: CreateTable %s: %s names column position %d, but the table has %d columns", s.Name, what, c, len(s.Columns))
			}
		}
		return nil
	}
	if err := checkCols("the primary key", s.PrimaryKey); err != nil {
		return err
	}
	if len(s.Indexes) > 250 {
		return fmt.Errorf("storage: CreateTable %s: at most 250 secondary indexes", s.Name)
	}
	idx := map[string]bool{"": true, "PRIMARY": true}
	for _, ix := range s.Indexes {
		if idx[ix.Name] {
			return fmt.Errorf("storage: CreateTable %s: index name %q is empty, reserved or used twice", s.Name, ix.Name)
		}
		idx[ix.Name] = true
		if err := checkCols("index "+ix.Name, ix.Columns); err != nil {
			return err
		}
	}
	return nil
}

func cloneSchema(s TableSchema) TableSchema {
	c := s
	c.Columns = append([]Column(nil), s.Columns...)
	c.PrimaryKey = append([]int(nil), s.PrimaryKey...)
	c.Indexes = make([]Index, len(s.Indexes))
	for i, ix := range s.Indexes {
		c.Indexes[i] = Index{Name: ix.Name, Columns: append([]int(nil), ix.Columns...), Unique: ix.Unique}
	}
	return c
}

func newTable(id uint32, s TableSchema) *table {
	t := &table{id: id, schema: cloneSchema(s), autoCol: -1}
	t.rowPrefix = binary.BigEndian.AppendUint32([]byte{prefixRow}, id)
	for i, c := range t.schema.Columns {
		if c.AutoIncrement {
			t.autoCol = i
		}
	}
	for i, ix := range t.schema.Indexes {
		p := binary.BigEndian.AppendUint32([]byte{prefixIndex}, id)
		t.indexes = append(t.indexes, &index{id: byte(i + 1), name: ix.Name, cols: ix.Columns, unique: ix.Unique, prefix: append(p, byte(i+1))})
	}
	return t
}

func (t *table) index(name string) (*index, error) {
	if name == "" || name == "PRIMARY" {
		return nil, nil
	}
	for _, ix := range t.indexes {
		if ix.name == name {
			return ix, nil
		}
	}
	return nil, fmt.Errorf("storage: table %s has no index %q", t.schema.Name, name)
}

// normalizeRow checks a client row against the schema and converts its values.
func (t *table) normalizeRow(r Row) (Row, error) {
	if len(r) != len(t.schema.Columns) {
		return nil, fmt.Errorf("storage: table %s has %d columns, the row has %d values", t.schema.Name, len(t.schema.Columns), len(r))
	}
	out := make(Row, len(r))
	for i := range r {
		v, err := normalize(&t.schema.Columns[i], r[i])
		if err != nil {
			return nil, err
		}
		if v == nil && !t.schema.Columns[i].Nullable && !(i == t.autoCol) {
			return nil, fmt.Errorf("storage: column %s.%s cannot be NULL", t.schema.Name, t.schema.Columns[i].Name)
		}
		out[i] = v
	}
	return out, nil
}

// encodePK encodes primary-key values given by the client.
func (t *table) encodePK(pk []Value) ([]byte, error) {
	if len(pk) != len(t.schema.PrimaryKey) {
		return nil, fmt.Errorf("storage: table %s: primary key has %d columns, got %d values", t.schema.Name, len(t.schema.PrimaryKey), len(pk))
	}
	var buf [32]byte
	dst := buf[:0]
	for i, c := range t.schema.PrimaryKey {
		v, err := normalize(&t.schema.Columns[c], pk[i])
		if err != nil {
			return nil, err
		}
		if v == nil {
			return nil, fmt.Errorf("storage: table %s: a primary-key value cannot be NULL", t.schema.Name)
		}
		if dst, err = appendKeyValue(dst, v); err != nil {
			return nil, err
		}
	}
	return append([]byte(nil), dst...), nil
}

// rowPK encodes the primary key of a normalized row.
func (t *table) rowPK(r Row) []byte {
	var dst []byte
	for _, c := range t.schema.PrimaryKey {
		dst, _ = appendKeyValue(dst, r[c])
	}
	return dst
}

func (t *table) pkValues(r Row) []Value {
	out := make([]Value, len(t.schema.PrimaryKey))
	for i, c := range t.schema.PrimaryKey {
		out[i] = r[c]
	}
	return out
}

// indexValues encodes a row's values for ix; hasNull reports a NULL among them (such an
// entry never conflicts in a unique index).
func (ix *index) values(r Row) (enc []byte, hasNull bool) {
	for _, c := range ix.cols {
		if r[c] == nil {
			hasNull = true
		}
		enc, _ = appendKeyValue(enc, r[c])
	}
	return enc, hasNull
}

func (t *table) rowKey(pk []byte) []byte {
	k := make([]byte, 0, len(t.rowPrefix)+len(pk))
	return append(append(k, t.rowPrefix...), pk...)
}

func (ix *index) entryKey(r Row, pk []byte) []byte {
	v, _ := ix.values(r)
	k := make([]byte, 0, len(ix.prefix)+len(v)+len(pk))
	return append(append(append(k, ix.prefix...), v...), pk...)
}

// prefixEnd returns the smallest key greater than every key with prefix p.
func prefixEnd(p []byte) []byte {
	e := append([]byte(nil), p...)
	for i := len(e) - 1; i >= 0; i-- {
		if e[i] < 0xFF {
			e[i]++
			return e[:i+1]
		}
	}
	return nil
}

// Auto-increment, InnoDB's way: the next value is the smallest value greater than the
// largest one used that is congruent to offset modulo increment (an offset larger than
// the increment is ignored, as MySQL ignores it).
func nextAuto(max, inc, off int64) int64 {
	if inc < 1 {
		inc = 1
	}
	if off < 1 || off > inc {
		off = 1
	}
	if max < off {
		return off
	}
	return off + ((max-off)/inc+1)*inc
}

func (t *table) allocAuto(inc, off int64) int64 {
	t.autoMu.Lock()
	v := nextAuto(t.autoMax, inc, off)
	t.autoMax = v
	t.autoMu.Unlock()
	return v
}

// seeAuto raises the counter past a value inserted explicitly or applied from a remote
// write-set.
func (t *table) seeAuto(v int64) {
	t.autoMu.Lock()
	if v > t.autoMax {
		t.autoMax = v
	}
	t.autoMu.Unlock()
}

func (t *table) autoValue() int64 {
	t.autoMu.Lock()
	defer t.autoMu.Unlock()
	return t.autoMax
}

// Schema encoding, for the metadata keys and for snapshots.
func appendSchema(dst []byte, s *TableSchema) []byte {
	str := func(x string) { dst = binary.AppendUvarint(dst, uint64(len(x))); dst = append(dst, x...) }
	ints := func(xs []int) {
		dst = binary.AppendUvarint(dst, uint64(len(xs)))
		for _, x := range xs {
			dst = binary.AppendUvarint(dst, uint64(x))
		}
	}
	str(s.Name)
	dst = binary.AppendUvarint(dst, uint64(len(s.Columns)))
	for _, c := range s.Columns {
		str(c.Name)
		dst = append(dst, byte(c.Type))
		dst = binary.AppendUvarint(dst, uint64(c.Size))
		var f byte
		if c.AutoIncrement {
			f |= 1
		}
		if c.Nullable {
			f |= 2
		}
		if c.HasDefault {
			f |= 4
		}
		dst = append(dst, f)
		str(c.Decl)
		if c.HasDefault {
			enc, _ := AppendRow(nil, Row{c.Default}) // validateSchema checked the value's type
			str(string(enc))
		}
	}
	ints(s.PrimaryKey)
	dst = binary.AppendUvarint(dst, uint64(len(s.Indexes)))
	for _, ix := range s.Indexes {
		str(ix.Name)
		ints(ix.Columns)
		if ix.Unique {
			dst = append(dst, 1)
		} else {
			dst = append(dst, 0)
		}
	}
	return dst
}

// readInts reads a uvarint count and that many uvarints (column positions).
func readInts(r *codec.Reader) []int {
	n := r.Count(maxSchemaItems)
	out := make([]int, n)
	for i := range out {
		out[i] = int(r.Uvarint())
	}
	return out
}

// maxSchemaItems bounds a decoded column or index count: far above any real table (MySQL
// allows 4096 columns and 64 indexes), low enough that a corrupt count allocates little.
const maxSchemaItems = 1 << 16

func decodeSchema(r *codec.Reader) TableSchema {
	var s TableSchema
	s.Name = string(r.Bytes(maxSchemaField))
	n := r.Count(maxSchemaItems)
	for i := 0; i < n && !r.Failed(); i++ {
		c := Column{Name: string(r.Bytes(maxSchemaField)), Type: ColumnType(r.Byte()), Size: int(r.Uvarint())}
		f := r.Byte()
		c.AutoIncrement, c.Nullable, c.HasDefault = f&1 != 0, f&2 != 0, f&4 != 0
		c.Decl = string(r.Bytes(maxSchemaField))
		if c.HasDefault {
			if b := r.Bytes(maxSchemaField); !r.Failed() {
				d, err := DecodeRow(b)
				if err != nil || len(d) != 1 {
					r.Fail("column %s default", c.Name)
				} else {
					c.Default = d[0]
				}
			}
		}
		s.Columns = append(s.Columns, c)
	}
	s.PrimaryKey = readInts(r)
	n = r.Count(maxSchemaItems)
	for i := 0; i < n && !r.Failed(); i++ {
		ix := Index{Name: string(r.Bytes(maxSchemaField)), Columns: readInts(r)}
		ix.Unique = r.Byte() == 1
		s.Indexes = append(s.Indexes, ix)
	}
	return s
}

// maxSchemaField bounds a decoded name, declaration or default value (the bytes left bound
// it too).
const maxSchemaField = 16 << 20
