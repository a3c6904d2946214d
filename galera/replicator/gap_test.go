package replicator

import (
	"testing"

	"github.com/replbench/replbench/galera/gcs"
	"github.com/replbench/replbench/protocols"
)

func testConfig(self, n int) Config {
	return Config{EVS: gcs.Config{Self: self, N: n, UserSendWindow: 4, SendWindow: 8}, GCacheSize: 1 << 20, StateRetryTicks: 10}
}

func action(id uint64, row string) []byte {
	return EncodeWriteSet(nil, id, &protocols.WriteSet{Keys: []protocols.Key{{Table: "t", Row: []byte(row)}},
		Rows: []protocols.RowChange{{Table: "t", Op: protocols.OpInsert, Row: []byte(row), After: []byte(row)}}})
}

// A joiner whose transfer and queued live write-sets do not join up (here the IST ends at 4
// and the queue starts at 6: seqno 5 is in neither) must not go on to JOINED: it reports
// the gap and asks again, and what it applied stops at the hole. Before the check it
// announced JOIN with seqno 5 missing, and its apply monitor then waited for 5 for ever
// while it counted itself SYNCED.
func TestJoinerWithAGapDoesNotJoin(t *testing.T) {
	m := NewRestarted(testConfig(0, 3), 2, nil, RestartState{})
	m.g = 7 // the order has reached 7 here; the queue holds 6 and 7 only
	m.joinQueue = []cached{{g: 6, action: action(6, "f")}, {g: 7, action: action(7, "g")}}
	list := []cached{{g: 3, action: action(3, "c"), passed: true}, {g: 4, action: action(4, "d"), passed: true}}
	m.receive(1, encodeTransfer(IST, 4, 0, list))
	var got *Received
	var applied []int64
	for _, ef := range m.effects {
		switch ef := ef.(type) {
		case Received:
			got = &ef
		case Apply:
			applied = append(applied, ef.WS.Seqno)
		}
	}
	if got == nil || !got.Gap || got.Have != 4 || got.Want != 7 {
		t.Fatalf("Received = %+v, want a gap with history up to 4 and the order at 7", got)
	}
	if len(applied) != 2 || applied[0] != 3 || applied[1] != 4 {
		t.Fatalf("applied %v, want 3 and 4 only (nothing past the hole)", applied)
	}
	if s := m.Status(); s.TransferGaps != 1 {
		t.Fatalf("TransferGaps = %d, want 1", s.TransferGaps)
	}
	if want := "IST up to seqno 4 (transferred 3..4, queued 6..7: 0 skipped, 0 applied); gap: history up to 4, order at 7, not JOINED, asking again"; got.String() != want {
		t.Fatalf("account %q,\nwant    %q", got.String(), want)
	}
}

// A restarted node whose recovered seqno is the group's gets no transfer, so its
// certification index must come from its own galera.cache: a live write-set whose last_seen
// reaches below the recovered seqno passes here as on the members that kept their index.
// Before the preload the index started empty at the recovered seqno and failed it ("last_seen
// below this node's initial position"): the row was missing on that node alone.
func TestRestartedIndexPreloadedFromOwnGCache(t *testing.T) {
	var kept []Cached
	for g := int64(1); g <= 5; g++ {
		kept = append(kept, Cached{Seqno: g, Action: action(uint64(g), string(rune(int64('a')+g))), Passed: true})
	}
	m := NewRestarted(testConfig(0, 3), 5, kept, RestartState{})
	ws, err := decodeAction(action(6, "z"))
	if err != nil {
		t.Fatal(err)
	}
	ws.Seqno, ws.Snapshot, ws.Source = 6, 2, "n2"
	if v := m.cert.Certify(ws, false); !v.OK {
		t.Fatalf("write-set at 6 with last_seen 2 on a node restarted at 5: %s, want it certified as the others do", v.Reason)
	}
}

// The IST preload gives a restarted joiner the donor's initial position with its index: a
// live write-set whose last_seen (1) is below where the preload starts (3, the donor having
// purged 1..2) is certified against the same history on both, so both pass it. With the
// joiner's index starting at the preload it failed there alone ("last_seen below this
// node's initial position").
func TestISTPreloadCarriesTheDonorsInitialPosition(t *testing.T) {
	m := NewRestarted(testConfig(0, 3), 4, nil, RestartState{})
	list := []cached{{g: 3, action: action(3, "c"), passed: true}, {g: 4, action: action(4, "d"), passed: true}, {g: 5, action: action(5, "e"), passed: true}}
	m.receive(1, encodeTransfer(IST, 5, 0, list))
	ws, err := decodeAction(action(6, "z"))
	if err != nil {
		t.Fatal(err)
	}
	ws.Seqno, ws.Snapshot, ws.Source = 6, 1, "n2"
	if v := m.cert.Certify(ws, false); !v.OK {
		t.Fatalf("after an IST preloaded from 3 by a donor whose initial position is 0, a write-set with last_seen 1: %s, want it certified as the donor does", v.Reason)
	}
}
