package protocols

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
)

func sampleWriteSet() *WriteSet {
	return &WriteSet{
		Source: "n2", TrxID: 77, Snapshot: 41, Seqno: 45, DependsSeqno: 43,
		Flags: FlagAutocommit,
		Keys: []Key{
			{Table: "sbtest1", Row: []byte{1, 2, 3}, Type: KeyExclusive},
			{Table: "warehouse", Index: "PRIMARY", Row: []byte{9}, Type: KeyReference},
			{Table: "t1", Type: KeyShared},
		},
		Rows: []RowChange{
			{Table: "sbtest1", Op: OpUpdate, Row: []byte{1, 2, 3}, After: []byte("after")},
			{Table: "sbtest1", Op: OpDelete, Row: []byte{4}},
			{Table: "t1", Op: OpInsert, Row: []byte{5}, After: []byte{}},
		},
	}
}

func TestWriteSetRoundTrip(t *testing.T) {
	for _, ws := range []*WriteSet{{}, sampleWriteSet()} {
		b := EncodeWriteSet(ws)
		got, n, err := DecodeWriteSet(b)
		if err != nil {
			t.Fatalf("decode: %v", err)
		}
		if n != len(b) {
			t.Fatalf("consumed %d of %d bytes", n, len(b))
		}
		if !reflect.DeepEqual(got, ws) {
			t.Fatalf("round trip:\n got %+v\nwant %+v", got, ws)
		}
	}
}

func TestWriteSetDecodeRejectsTruncation(t *testing.T) {
	b := EncodeWriteSet(sampleWriteSet())
	for i := 0; i < len(b); i++ {
		if _, _, err := DecodeWriteSet(b[:i]); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("prefix of %d bytes: err %v, want ErrCorrupt", i, err)
		}
	}
}

func TestWriteSetDecodeRejectsUnknownVersion(t *testing.T) {
	b := EncodeWriteSet(sampleWriteSet())
	b[0] = 99
	if _, _, err := DecodeWriteSet(b); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("err %v, want ErrCorrupt", err)
	}
}

// FuzzDecodeWriteSet: garbage must give an error, never a panic, and anything that decodes
// must re-encode to the bytes it was decoded from.
func FuzzDecodeWriteSet(f *testing.F) {
	f.Add(EncodeWriteSet(sampleWriteSet()))
	f.Add(EncodeWriteSet(&WriteSet{}))
	f.Add([]byte{1, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, b []byte) {
		ws, n, err := DecodeWriteSet(b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v does not wrap ErrCorrupt", err)
			}
			return
		}
		again := EncodeWriteSet(ws)
		ws2, _, err := DecodeWriteSet(again)
		if err != nil || !reflect.DeepEqual(ws, ws2) {
			t.Fatalf("re-encode of decoded input does not round-trip: %v", err)
		}
		if !bytes.Equal(again, b[:n]) && len(again) > n {
			t.Fatalf("re-encoding grew: %d > %d", len(again), n)
		}
	})
}
