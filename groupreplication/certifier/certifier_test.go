package certifier

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"

	"github.com/replbench/replbench/protocols"
)

// TestCertifier runs the scripts in testdata/. Each script quotes, in its comments, the
// sentence of the spec (gr-semisync.md §2) it checks.
//
//	new block=<n> detection=<on|off>
//	certify origin=<i> snapshot=<pos> keys=(a,b,...) [barrier]
//	detection <on|off>
//	gtid-executed member=<i> pos=<p> online=<n>
//	stats
func TestCertifier(t *testing.T) {
	datadriven.Walk(t, "testdata", func(t *testing.T, path string) {
		var c *Certifier
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			switch d.Cmd {
			case "new":
				block := int64(DefaultBlockSize)
				if d.HasArg("block") {
					var b int
					d.ScanArgs(t, "block", &b)
					block = int64(b)
				}
				det := "off"
				if d.HasArg("detection") {
					d.ScanArgs(t, "detection", &det)
				}
				c = New(block, det == "on")
				return ""
			case "certify":
				var origin, snap int
				d.ScanArgs(t, "origin", &origin)
				d.ScanArgs(t, "snapshot", &snap)
				var keys []string
				if d.HasArg("keys") {
					d.ScanArgs(t, "keys", &keys)
				}
				txn := Txn{Origin: origin, Snapshot: int64(snap), Barrier: d.HasArg("barrier")}
				for _, k := range keys {
					txn.Keys = append(txn.Keys, KeyHash(protocols.Key{Table: "t", Row: []byte(k)}))
				}
				r := c.Certify(txn)
				if !r.Positive {
					return fmt.Sprintf("seq=%d negative", r.Seqno)
				}
				return fmt.Sprintf("seq=%d positive gno=%d depends=%d", r.Seqno, r.GNO, r.DependsSeqno)
			case "detection":
				c.SetConflictDetection(d.CmdArgs[0].Key == "on")
				return ""
			case "gtid-executed":
				var m, pos, online int
				d.ScanArgs(t, "member", &m)
				d.ScanArgs(t, "pos", &pos)
				d.ScanArgs(t, "online", &online)
				if !c.GTIDExecuted(m, int64(pos), online) {
					return "waiting"
				}
				s := c.Stats()
				return fmt.Sprintf("swept stable=%d rows=%d", s.Stable, s.RowsValidating)
			case "stats":
				s := c.Stats()
				return fmt.Sprintf("checked=%d conflicts=%d rows=%d committed_all=%q last_conflict_free=%d executed=%q",
					s.Checked, s.Conflicts, s.RowsValidating, s.CommittedAll, s.LastConflictFree, c.GTIDExecutedSet())
			}
			t.Fatalf("unknown command %q", d.Cmd)
			return ""
		})
	})
}

// TestSameVerdictsEverywhere feeds one random stream of transactions, in one agreed order,
// to several certifiers and checks they agree on every verdict, GNO and dependency: the
// spec's first invariant ("all members produce an identical certification outcome and GTID
// for each delivered transaction"). It also checks the second: no two positive
// transactions that were concurrent (neither's position inside the other's snapshot)
// share a key while detection is on.
func TestSameVerdictsEverywhere(t *testing.T) {
	for seed := uint64(1); seed <= 20; seed++ {
		rng := rand.New(rand.NewPCG(seed, 7))
		const members = 3
		cs := make([]*Certifier, members)
		for i := range cs {
			cs[i] = New(int64(1+rng.IntN(5)), true)
			cs[i].gen.blockSize = cs[0].gen.blockSize
		}
		type pos struct {
			snap int64
			keys []uint64
		}
		var positives = map[int64]pos{}
		var last int64
		for n := 0; n < 2000; n++ {
			if rng.IntN(50) == 0 {
				// a round of gtid_executed broadcasts, delivered to all in the same order
				for m := 0; m < members; m++ {
					p := last - int64(rng.IntN(5))
					for _, c := range cs {
						c.GTIDExecuted(m, max(p, 0), members)
					}
				}
				continue
			}
			txn := Txn{Origin: rng.IntN(members), Snapshot: max(0, last-int64(rng.IntN(10)))}
			for k := 0; k < 1+rng.IntN(3); k++ {
				txn.Keys = append(txn.Keys, uint64(rng.IntN(40)))
			}
			r0 := cs[0].Certify(txn)
			for i, c := range cs[1:] {
				if r := c.Certify(txn); r != r0 {
					t.Fatalf("seed %d txn %d: member %d says %+v, member 0 says %+v", seed, n, i+1, r, r0)
				}
			}
			last = r0.Seqno
			if !r0.Positive {
				continue
			}
			for s, p := range positives {
				if s <= txn.Snapshot {
					continue // committed before this one executed: not concurrent
				}
				for _, a := range p.keys {
					for _, b := range txn.Keys {
						if a == b && cs[0].Stats().GCRuns == 0 {
							t.Fatalf("seed %d: positions %d and %d both certified on key %d", seed, s, r0.Seqno, a)
						}
					}
				}
			}
			positives[r0.Seqno] = pos{txn.Snapshot, txn.Keys}
		}
	}
}

func TestIntervals(t *testing.T) {
	var s Intervals
	for _, g := range []int64{5, 1, 3, 2, 4, 10, 12, 11, 1000001} {
		s.Add(g)
	}
	if got := s.String(); got != "1-5:10-12:1000001" {
		t.Fatalf("got %q", got)
	}
	if !s.Contains(11) || s.Contains(6) || s.Count() != 9 {
		t.Fatalf("contains/count wrong: %v %v %d", s.Contains(11), s.Contains(6), s.Count())
	}
	free := s.complement()
	if len(free) != 3 || free[0] != (interval{6, 9}) || free[1] != (interval{13, 1000000}) {
		t.Fatalf("complement %v", free)
	}
}

func TestKeyHashes(t *testing.T) {
	ws := &protocols.WriteSet{Keys: []protocols.Key{
		{Table: "t", Row: []byte{1}, Type: protocols.KeyExclusive},
		{Table: "t", Type: protocols.KeyShared}, // table-level: Galera only
		{Table: "t", Index: "PRIMARY", Row: []byte{1}},
		{Table: "t", Index: "uk", Row: []byte{1}},
	}}
	h := KeyHashes(ws)
	if len(h) != 3 {
		t.Fatalf("want 3 keys (table-level key skipped), got %d", len(h))
	}
	if h[0] != h[1] {
		t.Fatal(`"" and "PRIMARY" must name the same index`)
	}
	if h[0] == h[2] {
		t.Fatal("a unique index value must hash apart from the primary key with the same bytes")
	}
	if !strings.Contains(fmt.Sprint(IsBarrier(&protocols.WriteSet{Flags: protocols.FlagTOI})), "true") {
		t.Fatal("TOI must be a barrier")
	}
}
