package storage

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/replbench/replbench/internal/codec"
)

// Key tuples are encoded so that bytes.Compare on two encodings orders them as the tuples
// compare column by column. Each value starts with a tag byte (NULL sorts before every
// number, numbers before strings); integers are big-endian with the sign bit flipped,
// floats have their IEEE bits transformed so that the unsigned order is the numeric order,
// and strings escape 0x00 as 0x00 0xFF and end with 0x00 0x01, so a string sorts before
// its own extensions. The encoding of a tuple prefix is a byte prefix of the full tuple's
// encoding, which is what makes prefix range scans over a primary key or index work.
const (
	tagNull   = 0x01
	tagInt    = 0x10
	tagFloat  = 0x20
	tagString = 0x30
)

// ErrCorruptKey is returned (wrapped) for a key or row that does not decode.
var ErrCorruptKey = errors.New("storage: corrupt encoded key or row")

// AppendKey appends the order-preserving encoding of vals to dst. Values must be int64,
// float64, string or nil (use the types a Row holds; plain int is accepted too).
func AppendKey(dst []byte, vals ...Value) ([]byte, error) {
	for _, v := range vals {
		var err error
		if dst, err = appendKeyValue(dst, v); err != nil {
			return nil, err
		}
	}
	return dst, nil
}

// EncodeKey returns the encoding of a primary-key or index tuple: what protocols.Key.Row
// and protocols.RowChange.Row carry.
func EncodeKey(vals ...Value) ([]byte, error) { return AppendKey(nil, vals...) }

func appendKeyValue(dst []byte, v Value) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return append(dst, tagNull), nil
	case int64:
		return binary.BigEndian.AppendUint64(append(dst, tagInt), uint64(x)^(1<<63)), nil
	case int:
		return binary.BigEndian.AppendUint64(append(dst, tagInt), uint64(int64(x))^(1<<63)), nil
	case float64:
		if x == 0 {
			x = 0 // -0 and +0 are the same key
		}
		b := math.Float64bits(x)
		if b&(1<<63) != 0 {
			b = ^b
		} else {
			b ^= 1 << 63
		}
		return binary.BigEndian.AppendUint64(append(dst, tagFloat), b), nil
	case string:
		dst = append(dst, tagString)
		for i := 0; i < len(x); i++ {
			if x[i] == 0 {
				dst = append(dst, 0, 0xFF)
			} else {
				dst = append(dst, x[i])
			}
		}
		return append(dst, 0, 1), nil
	}
	return nil, fmt.Errorf("storage: cannot encode %T as a key value; use int64, float64, string or nil", v)
}

// DecodeKey decodes a whole encoded tuple.
func DecodeKey(b []byte) ([]Value, error) {
	var out []Value
	for len(b) > 0 {
		v, n, err := decodeKeyValue(b)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
		b = b[n:]
	}
	return out, nil
}

func decodeKeyValue(b []byte) (Value, int, error) {
	if len(b) == 0 {
		return nil, 0, fmt.Errorf("%w: empty", ErrCorruptKey)
	}
	switch b[0] {
	case tagNull:
		return nil, 1, nil
	case tagInt:
		if len(b) < 9 {
			return nil, 0, fmt.Errorf("%w: truncated int", ErrCorruptKey)
		}
		return int64(binary.BigEndian.Uint64(b[1:]) ^ (1 << 63)), 9, nil
	case tagFloat:
		if len(b) < 9 {
			return nil, 0, fmt.Errorf("%w: truncated float", ErrCorruptKey)
		}
		u := binary.BigEndian.Uint64(b[1:])
		if u&(1<<63) != 0 {
			u ^= 1 << 63
		} else {
			u = ^u
		}
		return math.Float64frombits(u), 9, nil
	case tagString:
		var sb []byte
		for i := 1; i+1 < len(b); i++ {
			if b[i] != 0 {
				sb = append(sb, b[i])
				continue
			}
			switch b[i+1] {
			case 0xFF:
				sb = append(sb, 0)
				i++
			case 1:
				return string(sb), i + 2, nil
			default:
				return nil, 0, fmt.Errorf("%w: bad string escape", ErrCorruptKey)
			}
		}
		return nil, 0, fmt.Errorf("%w: unterminated string", ErrCorruptKey)
	}
	return nil, 0, fmt.Errorf("%w: tag 0x%02x", ErrCorruptKey, b[0])
}

// keyTupleLen returns the byte length of the first n values of an encoded tuple.
func keyTupleLen(b []byte, n int) (int, error) {
	off := 0
	for i := 0; i < n; i++ {
		if off >= len(b) {
			return 0, fmt.Errorf("%w: tuple has fewer than %d values", ErrCorruptKey, n)
		}
		switch b[off] {
		case tagNull:
			off++
		case tagInt, tagFloat:
			off += 9
		case tagString:
			j := off + 1
			for ; j+1 < len(b); j++ {
				if b[j] == 0 {
					if b[j+1] == 1 {
						break
					}
					j++
				}
			}
			if j+1 >= len(b) {
				return 0, fmt.Errorf("%w: unterminated string", ErrCorruptKey)
			}
			off = j + 2
		default:
			return 0, fmt.Errorf("%w: tag 0x%02x", ErrCorruptKey, b[off])
		}
	}
	if off > len(b) {
		return 0, fmt.Errorf("%w: truncated", ErrCorruptKey)
	}
	return off, nil
}

// Rows are encoded compactly, not order-preserving: a column count, then per column a tag
// and the value (zigzag varint for integers, 8 little-endian bytes for floats, a length
// prefix for strings). The encoding is self-describing, so an applier can decode a
// remote after-image without consulting the schema.
const (
	rowNull   = 0
	rowInt    = 1
	rowFloat  = 2
	rowString = 3
)

// AppendRow appends the row encoding of r to dst.
func AppendRow(dst []byte, r Row) ([]byte, error) {
	dst = binary.AppendUvarint(dst, uint64(len(r)))
	for _, v := range r {
		switch x := v.(type) {
		case nil:
			dst = append(dst, rowNull)
		case int64:
			dst = binary.AppendVarint(append(dst, rowInt), x)
		case int:
			dst = binary.AppendVarint(append(dst, rowInt), int64(x))
		case float64:
			dst = binary.LittleEndian.AppendUint64(append(dst, rowFloat), math.Float64bits(x))
		case string:
			dst = binary.AppendUvarint(append(dst, rowString), uint64(len(x)))
			dst = append(dst, x...)
		default:
			return nil, fmt.Errorf("storage: cannot store %T in a row; use int64, float64, string or nil", v)
		}
	}
	return dst, nil
}

// EncodeRow returns the row encoding of r: what protocols.RowChange.After carries.
func EncodeRow(r Row) ([]byte, error) { return AppendRow(make([]byte, 0, 16+8*len(r)), r) }

// DecodeRow decodes a row encoding.
func DecodeRow(b []byte) (Row, error) {
	d := codec.NewReader(b, ErrCorruptKey)
	r := make(Row, d.Count(len(b)))
	for i := range r {
		switch tag := d.Byte(); tag {
		case rowNull:
		case rowInt:
			r[i] = d.Varint()
		case rowFloat:
			if f := d.Raw(8); f != nil {
				r[i] = math.Float64frombits(binary.LittleEndian.Uint64(f))
			}
		case rowString:
			r[i] = string(d.Bytes(len(b)))
		default:
			d.Fail("row tag %d", tag)
		}
		if d.Failed() {
			return nil, d.Err()
		}
	}
	if n := d.Len(); n != 0 {
		d.Fail("%d trailing bytes after row", n)
	}
	if err := d.Err(); err != nil {
		return nil, err
	}
	return r, nil
}

// normalize converts a client value to the column's stored type (int64, float64, string
// or nil), so that the same logical value always encodes to the same bytes.
func normalize(c *Column, v Value) (Value, error) {
	if v == nil {
		return nil, nil
	}
	switch c.Type {
	case Int:
		switch x := v.(type) {
		case int64:
			return x, nil
		case int:
			return int64(x), nil
		case int32:
			return int64(x), nil
		case int16:
			return int64(x), nil
		case int8:
			return int64(x), nil
		case uint32:
			return int64(x), nil
		case uint16:
			return int64(x), nil
		case uint8:
			return int64(x), nil
		case uint64:
			if x <= math.MaxInt64 {
				return int64(x), nil
			}
		case uint:
			if uint64(x) <= math.MaxInt64 {
				return int64(x), nil
			}
		}
	case Float:
		switch x := v.(type) {
		case float64:
			return x, nil
		case float32:
			return float64(x), nil
		case int64:
			return float64(x), nil
		case int:
			return float64(x), nil
		}
	case String:
		switch x := v.(type) {
		case string:
			return x, nil
		case []byte:
			return string(x), nil
		}
	}
	return nil, fmt.Errorf("storage: column %s: cannot store %T value %v in a %s column", c.Name, v, v, c.Type)
}

// String names the type as error messages print it.
func (t ColumnType) String() string {
	switch t {
	case Int:
		return "integer"
	case Float:
		return "float"
	case String:
		return "string"
	}
	return "invalid(" + strconv.Itoa(int(t)) + ")"
}

// formatEntry renders key values the way MySQL's duplicate-key message does ('1-abc').
func formatEntry(vals []Value) string {
	parts := make([]string, len(vals))
	for i, v := range vals {
		if v == nil {
			parts[i] = "NULL"
		} else {
			parts[i] = fmt.Sprint(v)
		}
	}
	return strings.Join(parts, "-")
}
