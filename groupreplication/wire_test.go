package groupreplication

import (
	"reflect"
	"testing"

	"go.etcd.io/raft/v3/raftpb"

	"github.com/replbench/replbench/groupreplication/flowcontrol"
	"github.com/replbench/replbench/groupreplication/group"
	"github.com/replbench/replbench/protocols"
)

func sampleMessages() []*message {
	ws := &protocols.WriteSet{Source: "n2", TrxID: 9, Snapshot: 4, Flags: protocols.FlagAutocommit,
		Keys: []protocols.Key{{Table: "t", Row: []byte{1, 2}, Type: protocols.KeyExclusive}},
		Rows: []protocols.RowChange{{Table: "t", Op: protocols.OpUpdate, Row: []byte{1, 2}, After: []byte{3}}}}
	return []*message{
		{Kind: kindTxn, Origin: 1, ID: 77, Level: group.After, WS: ws},
		{Kind: kindStats, Origin: 2, Stats: flowcontrol.Stats{CertQueue: 1, ApplyQueue: 30000, Certified: 5, Applied: 4, Local: 3, Recovering: true}},
		{Kind: kindGTIDExecuted, Origin: 0, ID: 123456},
		{Kind: kindSyncBefore, Origin: 3, ID: 5},
		{Kind: kindPrepared, Origin: 4, ID: 99},
		{Kind: kindNewPrimary, Origin: 1},
		{Kind: kindQueueApplied, Origin: 1},
		{Kind: kindExpel, Origin: 0, ID: 2},
		{Kind: kindJoin, Origin: 2, ID: 70},
		{Kind: kindOnline, Origin: 2},
		{Kind: kindWeight, Origin: 1, ID: 50},
	}
}

func TestMessageRoundTrip(t *testing.T) {
	for _, m := range sampleMessages() {
		got, err := decodeMessage(appendMessage(nil, m))
		if err != nil {
			t.Fatalf("kind %d: %v", m.Kind, err)
		}
		if !reflect.DeepEqual(got, m) {
			t.Fatalf("kind %d: got %+v, want %+v", m.Kind, got, m)
		}
	}
}

func TestFrameRoundTrip(t *testing.T) {
	msgs := []raftpb.Message{
		{Type: raftpb.MsgApp, To: 2, From: 1, Term: 3, Index: 10, Entries: []raftpb.Entry{{Term: 3, Index: 11, Data: []byte("x")}}},
		{Type: raftpb.MsgHeartbeat, To: 2, From: 1, Term: 3, Commit: 11},
	}
	b, err := appendFrame(nil, msgs)
	if err != nil {
		t.Fatal(err)
	}
	got, err := decodeFrame(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Entries[0].Index != 11 || got[1].Commit != 11 {
		t.Fatalf("got %+v", got)
	}
}

// Garbage gives an error, never a panic.
func FuzzDecodeMessage(f *testing.F) {
	for _, m := range sampleMessages() {
		f.Add(appendMessage(nil, m))
	}
	f.Add([]byte{})
	f.Add([]byte{1, 0, 0, 5})
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := decodeMessage(b)
		if err == nil {
			// what decodes must encode back to something that decodes the same
			m2, err := decodeMessage(appendMessage(nil, m))
			if err != nil || m2.Kind != m.Kind || m2.ID != m.ID {
				t.Fatalf("re-decode: %v", err)
			}
		}
	})
}

func FuzzDecodeFrame(f *testing.F) {
	b, _ := appendFrame(nil, []raftpb.Message{{Type: raftpb.MsgApp, To: 2, From: 1, Entries: []raftpb.Entry{{Data: []byte("abc")}}}})
	f.Add(b)
	f.Add([]byte{2, 1, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = decodeFrame(b)
	})
}
