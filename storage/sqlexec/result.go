package sqlexec

import (
	"strconv"
	"strings"

	"vitess.io/vitess/go/sqltypes"
	querypb "vitess.io/vitess/go/vt/proto/query"

	"github.com/replbench/replbench/storage"
)

// Character set numbers of result columns: utf8mb4_general_ci for text, binary for numbers.
const (
	charsetUTF8MB4 = 45
	charsetBinary  = 63
)

// columnField describes column i of a table in a result set: the wire type follows the
// declared SQL type where the engine's stored type allows it (DECIMAL, INT, CHAR, TEXT...).
// Dates and times are stored as strings and reported as VARCHAR: the binary protocol would
// need them well-formed, which the engine does not check.
func columnField(t *tableMeta, i int) *querypb.Field {
	c := &t.schema.Columns[i]
	f := &querypb.Field{Name: c.Name, OrgName: c.Name, Table: t.name, OrgTable: t.name, Database: t.db}
	decl := strings.ToLower(c.Decl)
	switch c.Type {
	case storage.Int:
		f.Type, f.Charset, f.ColumnLength = sqltypes.Int64, charsetBinary, 20
		f.Flags |= uint32(querypb.MySqlFlag_NUM_FLAG)
		if strings.HasPrefix(decl, "int") || strings.HasPrefix(decl, "integer") || strings.HasPrefix(decl, "mediumint") {
			f.Type, f.ColumnLength = sqltypes.Int32, 11
		}
	case storage.Float:
		f.Type, f.Charset, f.ColumnLength, f.Decimals = sqltypes.Float64, charsetBinary, 22, 31
		f.Flags |= uint32(querypb.MySqlFlag_NUM_FLAG)
		if scale, ok := decimalScale(decl); ok {
			f.Type, f.Decimals, f.ColumnLength = sqltypes.Decimal, uint32(scale), 65
		}
	default:
		f.Type, f.Charset = sqltypes.VarChar, charsetUTF8MB4
		f.ColumnLength = uint32(max(c.Size, 1) * 4)
		if strings.HasPrefix(decl, "char") {
			f.Type = sqltypes.Char
		}
		if strings.Contains(decl, "text") || strings.Contains(decl, "blob") {
			f.Type, f.ColumnLength = sqltypes.Text, 65535*4
		}
	}
	if !c.Nullable {
		f.Flags |= uint32(querypb.MySqlFlag_NOT_NULL_FLAG)
	}
	for _, p := range t.schema.PrimaryKey {
		if p == i && t.hidden < 0 {
			f.Flags |= uint32(querypb.MySqlFlag_PRI_KEY_FLAG)
		}
	}
	if c.AutoIncrement {
		f.Flags |= uint32(querypb.MySqlFlag_AUTO_INCREMENT_FLAG)
	}
	return f
}

// decimalScale returns the scale of a DECIMAL(p,s) / NUMERIC declaration.
func decimalScale(decl string) (int, bool) {
	if !strings.HasPrefix(decl, "decimal") && !strings.HasPrefix(decl, "numeric") {
		return 0, false
	}
	if _, rest, ok := strings.Cut(decl, ","); ok {
		n, _ := strconv.Atoi(strings.TrimSpace(strings.TrimRight(rest, ") unsigned")))
		return n, true
	}
	return 0, true
}

// exprField describes a computed result column (an expression, an aggregate, a variable).
func exprField(name string, v Value) *querypb.Field {
	f := &querypb.Field{Name: name}
	switch v.(type) {
	case int64:
		f.Type, f.Charset, f.ColumnLength = sqltypes.Int64, charsetBinary, 21
		f.Flags = uint32(querypb.MySqlFlag_NUM_FLAG)
	case float64:
		f.Type, f.Charset, f.ColumnLength, f.Decimals = sqltypes.Float64, charsetBinary, 23, 31
		f.Flags = uint32(querypb.MySqlFlag_NUM_FLAG)
	default:
		f.Type, f.Charset, f.ColumnLength = sqltypes.VarChar, charsetUTF8MB4, 1024
	}
	return f
}

func textField(name string) *querypb.Field {
	return &querypb.Field{Name: name, Type: sqltypes.VarChar, Charset: charsetUTF8MB4, ColumnLength: 1024}
}

// wireValue renders v for a column of type f (the text protocol sends every value as text;
// the binary protocol re-encodes by the field's type, so the two must agree).
func wireValue(f *querypb.Field, v Value) sqltypes.Value {
	switch x := v.(type) {
	case nil:
		return sqltypes.NULL
	case int64:
		switch f.Type {
		case sqltypes.Int64, sqltypes.Int32:
			return sqltypes.MakeTrusted(f.Type, strconv.AppendInt(nil, x, 10))
		case sqltypes.Float64, sqltypes.Decimal:
			return floatValue(f, float64(x))
		}
		return sqltypes.MakeTrusted(f.Type, strconv.AppendInt(nil, x, 10))
	case float64:
		switch f.Type {
		case sqltypes.Float64, sqltypes.Decimal:
			return floatValue(f, x)
		case sqltypes.Int64, sqltypes.Int32:
			i, _ := toInt(x)
			return sqltypes.MakeTrusted(f.Type, strconv.AppendInt(nil, i, 10))
		}
		return sqltypes.MakeTrusted(f.Type, []byte(formatFloat(x)))
	case string:
		switch f.Type {
		case sqltypes.Int64, sqltypes.Int32:
			i, _ := toInt(x)
			return sqltypes.MakeTrusted(f.Type, strconv.AppendInt(nil, i, 10))
		case sqltypes.Float64, sqltypes.Decimal:
			fl, _ := toFloat(x)
			return floatValue(f, fl)
		}
		return sqltypes.MakeTrusted(f.Type, []byte(x))
	}
	return sqltypes.NULL
}

func floatValue(f *querypb.Field, x float64) sqltypes.Value {
	if f.Type == sqltypes.Decimal {
		return sqltypes.MakeTrusted(sqltypes.Decimal, strconv.AppendFloat(nil, x, 'f', int(f.Decimals), 64))
	}
	return sqltypes.MakeTrusted(sqltypes.Float64, []byte(formatFloat(x)))
}

// textResult builds a result of string columns (SHOW output).
func textResult(names []string, rows [][]string) *sqltypes.Result {
	r := &sqltypes.Result{Fields: make([]*querypb.Field, len(names))}
	for i, n := range names {
		r.Fields[i] = textField(n)
	}
	r.Rows = make([][]sqltypes.Value, len(rows))
	for i, row := range rows {
		vals := make([]sqltypes.Value, len(row))
		for j, v := range row {
			vals[j] = sqltypes.MakeTrusted(sqltypes.VarChar, []byte(v))
		}
		r.Rows[i] = vals
	}
	return r
}
