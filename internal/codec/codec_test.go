package codec

import (
	"encoding/binary"
	"errors"
	"strings"
	"testing"
)

var errTest = errors.New("corrupt test record")

// A record written with the Append functions reads back field by field, and the offset ends
// at the end.
func TestRoundTrip(t *testing.T) {
	b := []byte{7}
	b = binary.AppendUvarint(b, 300)
	b = binary.AppendVarint(b, -5)
	b = AppendString(b, "table")
	b = AppendBytes(b, nil)
	b = append(b, 1)
	b = append(b, 0xAA, 0xBB)
	r := NewReader(b, errTest)
	if r.Byte() != 7 || r.Uvarint() != 300 || r.Varint() != -5 || string(r.Bytes(16)) != "table" ||
		len(r.Bytes(16)) != 0 || !r.Bool() || string(r.Raw(2)) != "\xAA\xBB" {
		t.Fatalf("fields misread: %v", r.Err())
	}
	if r.Err() != nil || r.Len() != 0 || r.Offset() != len(b) {
		t.Fatalf("err %v, %d left, offset %d of %d", r.Err(), r.Len(), r.Offset(), len(b))
	}
}

// The first error sticks: it wraps the caller's sentinel, names the byte and the problem,
// and every later read returns zero without changing it.
func TestStickyError(t *testing.T) {
	b := binary.AppendUvarint(nil, 1<<40) // a length far beyond the input
	r := NewReader(append(b, 'x'), errTest)
	if got := r.Bytes(1 << 50); got != nil {
		t.Fatalf("Bytes = %q, want nil", got)
	}
	err := r.Err()
	if !errors.Is(err, errTest) || !strings.Contains(err.Error(), "at byte 6: length 1099511627776 exceeds what remains") {
		t.Fatalf("err = %v", err)
	}
	if r.Byte() != 0 || r.Uvarint() != 0 || r.Rest() != nil || r.Len() != 0 || r.Err() != err {
		t.Fatal("reads after an error must return zero and keep the first error")
	}
}

// Every malformed shape is an error, not a panic.
func TestMalformed(t *testing.T) {
	for name, c := range map[string]struct {
		in   []byte
		read func(r *Reader)
		want string
	}{
		"empty byte":        {nil, func(r *Reader) { r.Byte() }, "truncated"},
		"unterminated":      {[]byte{0x80, 0x80}, func(r *Reader) { r.Uvarint() }, "bad uvarint"},
		"overlong varint":   {[]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, func(r *Reader) { r.Varint() }, "bad varint"},
		"bool 2":            {[]byte{2}, func(r *Reader) { r.Bool() }, "flag byte 2"},
		"count over limit":  {[]byte{5, 1, 1, 1, 1, 1}, func(r *Reader) { r.Count(4) }, "count 5"},
		"count over input":  {[]byte{3, 1}, func(r *Reader) { r.Count(100) }, "count 3"},
		"raw short":         {[]byte{1, 2}, func(r *Reader) { r.Raw(8) }, "want 8 bytes, 2 left"},
		"bytes over limit":  {[]byte{3, 'a', 'b', 'c'}, func(r *Reader) { r.Bytes(2) }, "length 3"},
		"caller's own fail": {[]byte{9}, func(r *Reader) { r.Fail("type %d", r.Byte()) }, "at byte 1: type 9"},
	} {
		t.Run(name, func(t *testing.T) {
			r := NewReader(c.in, errTest)
			c.read(&r)
			if err := r.Err(); !errors.Is(err, errTest) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want one wrapping %v and saying %q", err, errTest, c.want)
			}
		})
	}
}

// Bytes and Raw alias the input with a capped capacity: appending to a field cannot
// overwrite the bytes after it.
func TestFieldsCannotGrowIntoTheInput(t *testing.T) {
	b := AppendString(nil, "ab")
	b = append(b, 'z')
	r := NewReader(b, nil)
	f := r.Bytes(8)
	_ = append(f, 'X')
	if b[3] != 'z' {
		t.Fatal("appending to a decoded field overwrote the input")
	}
}

// Decoding allocates nothing, so the row decoder on storage's read path pays only for the
// values it returns.
func TestNoAllocations(t *testing.T) {
	b := binary.AppendUvarint(nil, 12345)
	b = binary.AppendVarint(b, -12345)
	b = AppendString(b, "payload")
	if n := testing.AllocsPerRun(100, func() {
		r := NewReader(b, errTest)
		_, _, _ = r.Uvarint(), r.Varint(), r.Bytes(64)
		if r.Err() != nil {
			t.Fatal(r.Err())
		}
	}); n != 0 {
		t.Fatalf("%v allocations per decode, want 0", n)
	}
}
