package storage

import (
	"bytes"
	"math"
	"reflect"
	"testing"
)

func cmpTuple(a, b []Value) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		if c := cmpValue(a[i], b[i]); c != 0 {
			return c
		}
	}
	switch {
	case len(a) < len(b):
		return -1
	case len(a) > len(b):
		return 1
	}
	return 0
}

// cmpValue is the intended order: NULL < numbers < strings; numbers by value within a type.
func cmpValue(a, b Value) int {
	rank := func(v Value) int {
		switch v.(type) {
		case nil:
			return 0
		case int64:
			return 1
		case float64:
			return 2
		}
		return 3
	}
	if ra, rb := rank(a), rank(b); ra != rb {
		return ra - rb
	}
	switch x := a.(type) {
	case int64:
		y := b.(int64)
		return map[bool]int{true: -1, false: 0}[x < y] + map[bool]int{true: 1, false: 0}[x > y]
	case float64:
		y := b.(float64)
		return map[bool]int{true: -1, false: 0}[x < y] + map[bool]int{true: 1, false: 0}[x > y]
	case string:
		return bytes.Compare([]byte(x), []byte(b.(string)))
	}
	return 0
}

// Encoded keys must sort as their tuples do, column by column, so that primary-key and
// index range scans are byte ranges.
func TestKeyEncodingOrder(t *testing.T) {
	tuples := [][]Value{
		{nil},
		{int64(math.MinInt64)},
		{int64(-1)},
		{int64(0)},
		{int64(0), "a"},
		{int64(0), "a", int64(5)},
		{int64(0), "a\x00"},
		{int64(0), "ab"},
		{int64(1)},
		{int64(255)},
		{int64(256)},
		{int64(math.MaxInt64)},
		{math.Inf(-1)},
		{-1e300},
		{-1.5},
		{-1e-300},
		{0.0},
		{1e-300},
		{2.5},
		{math.Inf(1)},
		{""},
		{"", int64(1)},
		{"\x00"},
		{"\x00\x00"},
		{"\x00\x01"},
		{"\x01"},
		{"a"},
		{"a", nil},
		{"a", int64(-3)},
		{"a\x00b"},
		{"a\xff"},
		{"b"},
	}
	enc := make([][]byte, len(tuples))
	for i, tu := range tuples {
		var err error
		if enc[i], err = EncodeKey(tu...); err != nil {
			t.Fatal(err)
		}
		dec, err := DecodeKey(enc[i])
		if err != nil || !reflect.DeepEqual(dec, tu) {
			t.Fatalf("round trip of %v: %v, %v", tu, dec, err)
		}
	}
	for i := range tuples {
		for j := range tuples {
			want := cmpTuple(tuples[i], tuples[j])
			got := bytes.Compare(enc[i], enc[j])
			if (want < 0) != (got < 0) || (want == 0) != (got == 0) {
				t.Errorf("order of %q vs %q: encoded compare %d, tuple compare %d", tuples[i], tuples[j], got, want)
			}
		}
	}
	// A tuple's prefix encodes to a byte prefix: what prefix scans rely on.
	full, _ := EncodeKey(int64(7), "abc", 1.5)
	pre, _ := EncodeKey(int64(7), "abc")
	if !bytes.HasPrefix(full, pre) {
		t.Fatal("tuple prefix is not a byte prefix")
	}
	if n, err := keyTupleLen(full, 2); err != nil || n != len(pre) {
		t.Fatalf("keyTupleLen = %d, %v; want %d", n, err, len(pre))
	}
	// -0 and +0 are one key.
	a, _ := EncodeKey(math.Copysign(0, -1))
	b, _ := EncodeKey(0.0)
	if !bytes.Equal(a, b) {
		t.Fatal("-0 and 0 encode differently")
	}
}

func TestRowEncodingRoundTrip(t *testing.T) {
	for _, r := range []Row{
		{},
		{nil},
		{int64(-1), 2.5, "x", nil, int64(math.MaxInt64), int64(math.MinInt64), ""},
	} {
		b, err := EncodeRow(r)
		if err != nil {
			t.Fatal(err)
		}
		got, err := DecodeRow(b)
		if err != nil || !reflect.DeepEqual(got, r) {
			t.Fatalf("round trip %v: %v %v", r, got, err)
		}
	}
	if _, err := DecodeRow([]byte{3, 1}); err == nil {
		t.Fatal("truncated row decoded")
	}
	if _, err := EncodeRow(Row{struct{}{}}); err == nil {
		t.Fatal("encoded an unsupported type")
	}
}

func FuzzKeyOrder(f *testing.F) {
	f.Add(int64(1), int64(2), "a", "b", 1.0, 2.0)
	f.Add(int64(-5), int64(-5), "a\x00", "a", -0.5, 0.5)
	f.Fuzz(func(t *testing.T, i1, i2 int64, s1, s2 string, f1, f2 float64) {
		if math.IsNaN(f1) || math.IsNaN(f2) {
			t.Skip()
		}
		a := []Value{i1, s1, f1}
		b := []Value{i2, s2, f2}
		ea, err := EncodeKey(a...)
		if err != nil {
			t.Fatal(err)
		}
		eb, _ := EncodeKey(b...)
		want, got := cmpTuple(a, b), bytes.Compare(ea, eb)
		if (want < 0) != (got < 0) || (want == 0) != (got == 0) {
			t.Fatalf("%v vs %v: bytes %d, tuples %d", a, b, got, want)
		}
		da, err := DecodeKey(ea)
		if err != nil {
			t.Fatal(err)
		}
		if da[0] != i1 || da[1] != s1 || (da[2].(float64) != f1) {
			t.Fatalf("round trip %v -> %v", a, da)
		}
		// Decoding arbitrary bytes must fail cleanly, never panic.
		DecodeKey([]byte(s1))
		DecodeRow([]byte(s2))
	})
}
