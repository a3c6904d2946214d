package groupreplication

import (
	"testing"

	"go.etcd.io/raft/v3/raftpb"
)

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

func FuzzDecodeFrame(f *testing.F) {
	b, _ := appendFrame(nil, []raftpb.Message{{Type: raftpb.MsgApp, To: 2, From: 1, Entries: []raftpb.Entry{{Data: []byte("abc")}}}})
	f.Add(b)
	f.Add([]byte{2, 1, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = decodeFrame(b)
	})
}
