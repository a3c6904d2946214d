package group

import (
	"reflect"
	"testing"

	"github.com/replbench/replbench/groupreplication/flowcontrol"
	"github.com/replbench/replbench/protocols"
)

func sampleMessages() []*Message {
	ws := &protocols.WriteSet{Source: "n2", TrxID: 9, Snapshot: 4, Flags: protocols.FlagAutocommit,
		Keys: []protocols.Key{{Table: "t", Row: []byte{1, 2}, Type: protocols.KeyExclusive}},
		Rows: []protocols.RowChange{{Table: "t", Op: protocols.OpUpdate, Row: []byte{1, 2}, After: []byte{3}}}}
	return []*Message{
		{Kind: KindTxn, Origin: 1, ID: 77, Inc: 1_700_000_000_000_000_001, Level: After, WS: ws},
		{Kind: KindStats, Origin: 2, Stats: flowcontrol.Stats{CertQueue: 1, ApplyQueue: 30000, Certified: 5, Applied: 4, Local: 3, Recovering: true}},
		{Kind: KindGTIDExecuted, Origin: 0, ID: 123456},
		{Kind: KindSyncBefore, Origin: 3, ID: 5},
		{Kind: KindPrepared, Origin: 4, ID: 99},
		{Kind: KindNewPrimary, Origin: 1},
		{Kind: KindQueueApplied, Origin: 1},
		{Kind: KindExpel, Origin: 0, ID: 2, TargetInc: 1_700_000_000_000_000_000},
		{Kind: KindJoin, Origin: 2, ID: 70, Inc: 1_700_000_000_000_000_000},
		{Kind: KindOnline, Origin: 2, Inc: 5},
		{Kind: KindWeight, Origin: 1, ID: 50},
	}
}

func TestMessageRoundTrip(t *testing.T) {
	for _, m := range sampleMessages() {
		got, err := DecodeMessage(AppendMessage(nil, m))
		if err != nil {
			t.Fatalf("kind %d: %v", m.Kind, err)
		}
		if !reflect.DeepEqual(got, m) {
			t.Fatalf("kind %d: got %+v, want %+v", m.Kind, got, m)
		}
	}
}

// Garbage gives an error, never a panic.
func FuzzDecodeMessage(f *testing.F) {
	for _, m := range sampleMessages() {
		f.Add(AppendMessage(nil, m))
	}
	f.Add([]byte{})
	f.Add([]byte{1, 0, 0, 5})
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := DecodeMessage(b)
		if err == nil {
			// what decodes must encode back to something that decodes the same
			m2, err := DecodeMessage(AppendMessage(nil, m))
			if err != nil || m2.Kind != m.Kind || m2.ID != m.ID {
				t.Fatalf("re-decode: %v", err)
			}
		}
	})
}
