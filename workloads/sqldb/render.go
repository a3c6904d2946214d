package sqldb

import (
	"fmt"
	"strings"

	"github.com/replbench/replbench/storage"
)

// Statement text, rendered once per table (and per scan shape) and prepared once per
// connection. Only plain MySQL that any server with the protocol parses: backquoted names,
// `?` placeholders, no hints, no vendor extensions beyond FOR UPDATE and LIMIT ?.

func quote(name string) string { return "`" + strings.ReplaceAll(name, "`", "``") + "`" }

// tableSQL holds a table's fixed statements.
type tableSQL struct {
	schema      storage.TableSchema
	cols        string // `a`,`b`,...
	pkWhere     string // `id`=? AND ...
	get         string
	getForUpd   string
	insert      string // every column
	insertNoPK  string // without the auto-increment column ("" if none)
	update      string
	del         string
	autoCol     int
	pkIsAllCols bool
}

func renderTable(s storage.TableSchema) *tableSQL {
	t := &tableSQL{schema: s, autoCol: -1}
	names := make([]string, len(s.Columns))
	for i, c := range s.Columns {
		names[i] = quote(c.Name)
		if c.AutoIncrement {
			t.autoCol = i
		}
	}
	t.cols = strings.Join(names, ",")
	var where []string
	inPK := map[int]bool{}
	for _, c := range s.PrimaryKey {
		where = append(where, names[c]+"=?")
		inPK[c] = true
	}
	t.pkWhere = strings.Join(where, " AND ")
	tn := quote(s.Name)
	t.get = fmt.Sprintf("SELECT %s FROM %s WHERE %s", t.cols, tn, t.pkWhere)
	t.getForUpd = t.get + " FOR UPDATE"
	t.insert = fmt.Sprintf("INSERT INTO %s (%s) VALUES (%s)", tn, t.cols, placeholders(len(names)))
	if t.autoCol >= 0 {
		rest := append(append([]string(nil), names[:t.autoCol]...), names[t.autoCol+1:]...)
		t.insertNoPK = fmt.Sprintf("INSERT INTO %s (%s) VALUES (%s)", tn, strings.Join(rest, ","), placeholders(len(rest)))
	}
	var set []string
	for i := range s.Columns {
		if !inPK[i] {
			set = append(set, names[i]+"=?")
		}
	}
	if len(set) == 0 { // a table that is all key: an UPDATE can only match the row
		t.pkIsAllCols = true
		set = []string{names[s.PrimaryKey[0]] + "=" + names[s.PrimaryKey[0]]}
	}
	t.update = fmt.Sprintf("UPDATE %s SET %s WHERE %s", tn, strings.Join(set, ","), t.pkWhere)
	t.del = fmt.Sprintf("DELETE FROM %s WHERE %s", tn, t.pkWhere)
	return t
}

func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?,", n), ",")
}

// bulkInsert is INSERT INTO t (all columns) VALUES (...),(...) for rows rows.
func (t *tableSQL) bulkInsert(rows int) string {
	one := "(" + placeholders(len(t.schema.Columns)) + ")"
	return fmt.Sprintf("INSERT INTO %s (%s) VALUES %s", quote(t.schema.Name), t.cols, strings.TrimSuffix(strings.Repeat(one+",", rows), ","))
}

// scanShape is everything about a range read that changes its SQL text; the values are
// bound. eq leading key columns are fixed by equality (Prefix, or the values From and To
// share); from/to/after are how many of the following columns each bound constrains.
type scanShape struct {
	index   string
	eq      int
	from    int  // inclusive lower bound over columns eq.. (tuple, prefix sorts first)
	to      int  // exclusive upper bound over columns eq..
	after   int  // exclusive continuation bound over the whole ordering (paging)
	reverse bool // descending order; `after` then means "before"
	limit   bool // LIMIT ? at the end
}

// orderCols are the columns a scan is ordered by: the index's, then the primary key's
// (the engine's index entries are values followed by the primary key), or the primary key.
func (t *tableSQL) orderCols(index string) ([]int, []int, error) {
	if index == "" || index == "PRIMARY" {
		return t.schema.PrimaryKey, t.schema.PrimaryKey, nil
	}
	for _, ix := range t.schema.Indexes {
		if ix.Name == index {
			order := append([]int(nil), ix.Columns...)
			for _, c := range t.schema.PrimaryKey {
				if !containsInt(order, c) {
					order = append(order, c)
				}
			}
			return ix.Columns, order, nil
		}
	}
	return nil, nil, fmt.Errorf("sqldb: table %s has no index %q", t.schema.Name, index)
}

func containsInt(xs []int, x int) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// scanSQL renders the range read; its parameters are, in order: the eq values, the from
// values, the to values, the after values, then the LIMIT.
func (t *tableSQL) scanSQL(s scanShape) (string, error) {
	keyCols, order, err := t.orderCols(s.index)
	if err != nil {
		return "", err
	}
	if s.eq+max(s.from, s.to) > len(keyCols) || s.after > len(order) {
		return "", fmt.Errorf("sqldb: table %s: a scan bound has more values than the key has columns", t.schema.Name)
	}
	name := func(i int) string { return quote(t.schema.Columns[i].Name) }
	var conds []string
	for i := 0; i < s.eq; i++ {
		conds = append(conds, name(keyCols[i])+"=?")
	}
	if s.from > 0 {
		conds = append(conds, lexCompare(names(t, keyCols[s.eq:s.eq+s.from]), ">", ">="))
	}
	if s.to > 0 {
		conds = append(conds, lexCompare(names(t, keyCols[s.eq:s.eq+s.to]), "<", "<"))
	}
	if s.after > 0 {
		op := ">"
		if s.reverse {
			op = "<"
		}
		conds = append(conds, lexCompare(names(t, order[:s.after]), op, op))
	}
	var b strings.Builder
	fmt.Fprintf(&b, "SELECT %s FROM %s", t.cols, quote(t.schema.Name))
	if len(conds) > 0 {
		b.WriteString(" WHERE " + strings.Join(conds, " AND "))
	}
	dir := ""
	if s.reverse {
		dir = " DESC"
	}
	var ob []string
	for _, c := range order {
		ob = append(ob, name(c)+dir)
	}
	b.WriteString(" ORDER BY " + strings.Join(ob, ","))
	if s.limit {
		b.WriteString(" LIMIT ?")
	}
	return b.String(), nil
}

func names(t *tableSQL, cols []int) []string {
	out := make([]string, len(cols))
	for i, c := range cols {
		out[i] = quote(t.schema.Columns[c].Name)
	}
	return out
}

// lexCompare renders a tuple comparison (c1..cn) OP (?..?) as the OR of its lexicographic
// cases, which every optimizer turns into index ranges: c1 OP' ? OR (c1=? AND c2 OP' ?) ...
// with strict for every column but the last, and last for it. Its parameters repeat the
// values: v1, v1 v2, v1 v2 v3, ... (see lexArgs).
func lexCompare(cols []string, strict, last string) string {
	if len(cols) == 1 {
		return cols[0] + last + "?"
	}
	var terms []string
	for i := range cols {
		var parts []string
		for j := 0; j < i; j++ {
			parts = append(parts, cols[j]+"=?")
		}
		op := strict
		if i == len(cols)-1 {
			op = last
		}
		parts = append(parts, cols[i]+op+"?")
		terms = append(terms, "("+strings.Join(parts, " AND ")+")")
	}
	return "(" + strings.Join(terms, " OR ") + ")"
}

// lexArgs lays out the parameters lexCompare's text expects.
func lexArgs(dst []any, vals []storage.Value) []any {
	if len(vals) == 1 {
		return append(dst, vals[0])
	}
	for i := range vals {
		dst = append(dst, vals[:i+1]...)
	}
	return dst
}

// CreateTableSQL is the DDL for a schema: BIGINT, DOUBLE and VARCHAR(Size) (255 when Size is
// 0) columns, the primary key, unique and secondary indexes, AUTO_INCREMENT, InnoDB, and a
// binary collation so that strings compare and sort by bytes, as the engine's keys do (a
// case-insensitive default collation would make 'a' and 'A' collide in a unique index).
func CreateTableSQL(s storage.TableSchema) string {
	var defs []string
	for _, c := range s.Columns {
		typ := "BIGINT"
		switch c.Type {
		case storage.Float:
			typ = "DOUBLE"
		case storage.String:
			size := c.Size
			if size <= 0 {
				size = 255
			}
			typ = fmt.Sprintf("VARCHAR(%d)", size)
		}
		d := quote(c.Name) + " " + typ
		if !c.Nullable || c.AutoIncrement {
			d += " NOT NULL"
		}
		if c.AutoIncrement {
			d += " AUTO_INCREMENT"
		}
		defs = append(defs, d)
	}
	colList := func(cols []int) string {
		out := make([]string, len(cols))
		for i, c := range cols {
			out[i] = quote(s.Columns[c].Name)
		}
		return strings.Join(out, ",")
	}
	defs = append(defs, "PRIMARY KEY ("+colList(s.PrimaryKey)+")")
	for _, ix := range s.Indexes {
		kw := "KEY"
		if ix.Unique {
			kw = "UNIQUE KEY"
		}
		defs = append(defs, fmt.Sprintf("%s %s (%s)", kw, quote(ix.Name), colList(ix.Columns)))
	}
	return fmt.Sprintf("CREATE TABLE %s (%s) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin", quote(s.Name), strings.Join(defs, ", "))
}
