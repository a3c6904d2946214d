package cert

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/replbench/replbench/protocols"
)

func ws(src string, g, lastSeen int64, flags protocols.Flags, keys ...protocols.Key) *protocols.WriteSet {
	return &protocols.WriteSet{Source: src, Seqno: g, Snapshot: lastSeen, Flags: flags, Keys: keys}
}

func row(id string, t protocols.KeyType) protocols.Key {
	return protocols.Key{Table: "t", Row: []byte(id), Type: t}
}

var types = []protocols.KeyType{protocols.KeyShared, protocols.KeyReference, protocols.KeyUpdate, protocols.KeyExclusive}

// The 4x4 matrix of galera.md §1.3, spelled out cell by cell: rows are the earlier
// write-set's key type (in the index), columns the incoming one.
func TestMatrixCells(t *testing.T) {
	want := map[[2]protocols.KeyType]string{}
	rows := [4]string{"--DD", "--DC", "DDCC", "CCCC"}
	for i, r := range rows {
		for j, c := range r {
			want[[2]protocols.KeyType{types[i], types[j]}] = map[rune]string{'-': "", 'D': "D", 'C': "C"}[c]
		}
	}
	for k, w := range want {
		if got := Relation(k[0], k[1]); got != w {
			t.Errorf("Relation(%v indexed, %v incoming) = %q, want %q", k[0], k[1], got, w)
		}
	}
}

// Each cell's effect on a real certification: a C inside the interval from another node
// fails; a D (and a C outside the interval or from the same node) raises depends_seqno to
// the earlier write-set; "-" leaves depends at the start of the window.
func TestMatrixInsideAndOutsideInterval(t *testing.T) {
	cases := []struct {
		name     string
		src2     string
		lastSeen int64 // of the second write-set; 0 puts seqno 1 inside its interval
	}{
		{"other node, inside interval", "n2", 0},
		{"other node, already seen", "n2", 1},
		{"same node, inside interval", "n1", 0},
	}
	for _, tc := range cases {
		for _, a := range types {
			for _, b := range types {
				t.Run(fmt.Sprintf("%s/%v-then-%v", tc.name, a, b), func(t *testing.T) {
					c := New(DefaultConfig(), 0)
					if v := c.Certify(ws("n1", 1, 0, 0, row("r", a)), false); !v.OK {
						t.Fatalf("first write-set failed: %s", v.Reason)
					}
					v := c.Certify(ws(tc.src2, 2, tc.lastSeen, 0, row("r", b)), false)
					rel := Relation(a, b)
					wantFail := rel == "C" && tc.src2 != "n1" && tc.lastSeen < 1
					if v.OK == wantFail {
						t.Fatalf("verdict OK=%v (%s), want fail=%v for cell %q", v.OK, v.Reason, wantFail, rel)
					}
					if wantFail {
						return
					}
					// The branch (table) key is SHARED in both: SH-SH is "-", so only the
					// row cell decides the dependency.
					wantDep := int64(0)
					if rel != "" {
						wantDep = 1
					}
					if v.Depends != wantDep {
						t.Fatalf("depends_seqno %d, want %d (cell %q)", v.Depends, wantDep, rel)
					}
				})
			}
		}
	}
}

// Different rows never interact; a failed write-set leaves no trace in the index (a later
// write-set that saw nothing does not conflict with the loser) but still takes its slot.
func TestDisjointRowsAndDummies(t *testing.T) {
	c := New(DefaultConfig(), 0)
	x := protocols.KeyExclusive
	steps := []struct {
		w      *protocols.WriteSet
		ok     bool
		depend int64
	}{
		{ws("n1", 1, 0, 0, row("a", x)), true, 0},
		{ws("n2", 2, 0, 0, row("b", x)), true, 0},
		{ws("n2", 3, 0, 0, row("a", x)), false, 0}, // loses to 1
		{ws("n3", 4, 1, 0, row("a", x)), true, 1},  // saw 1; 3 was a dummy
		{ws("n1", 5, 4, 0, row("b", x)), true, 2},
	}
	for i, s := range steps {
		v := c.Certify(s.w, false)
		if v.OK != s.ok || (s.ok && v.Depends != s.depend) {
			t.Fatalf("step %d: got OK=%v depends=%d (%s), want OK=%v depends=%d", i, v.OK, v.Depends, v.Reason, s.ok, s.depend)
		}
	}
	if st := c.Stats(); st.Failed != 1 || st.Certified != 5 || st.Window != 5 {
		t.Fatalf("stats %+v", st)
	}
}

// TOI: an incoming TOI skips the test and depends on g-1; a TOI in the index conflicts even
// with the same node's later write-set that had not seen it.
func TestTOI(t *testing.T) {
	c := New(DefaultConfig(), 0)
	x := protocols.KeyExclusive
	tbl := protocols.Key{Table: "t", Type: x}
	c.Certify(ws("n2", 1, 0, 0, row("a", x)), false)
	if v := c.Certify(ws("n1", 2, 0, protocols.FlagTOI, tbl), false); !v.OK || v.Depends != 1 {
		t.Fatalf("TOI: OK=%v depends=%d, want pass depending on 1", v.OK, v.Depends)
	}
	if v := c.Certify(ws("n1", 3, 1, 0, row("b", x)), false); v.OK {
		t.Fatalf("same-node write-set that had not seen the TOI passed")
	}
	if v := c.Certify(ws("n3", 4, 2, 0, row("b", x)), false); !v.OK || v.Depends != 2 {
		t.Fatalf("write-set that saw the TOI: OK=%v depends=%d (%s)", v.OK, v.Depends, v.Reason)
	}
	// Anything after a PA-unsafe write-set depends on it.
	if v := c.Certify(ws("n3", 5, 4, 0, row("z", x)), false); v.Depends != 2 {
		t.Fatalf("depends %d after TOI at 2, want 2 (last_pa_unsafe)", v.Depends)
	}
}

func TestMaxLengthAndInitialPosition(t *testing.T) {
	cfg := DefaultConfig()
	c := New(cfg, 100)
	if v := c.Certify(ws("n1", 101, 99, 0, row("a", protocols.KeyExclusive)), false); v.OK {
		t.Fatal("last_seen below the initial position passed")
	}
	if v := c.Certify(ws("n1", 102, 101, 0, row("a", protocols.KeyExclusive)), false); !v.OK {
		t.Fatalf("ordinary write-set failed: %s", v.Reason)
	}
	c2 := New(cfg, 0)
	for g := int64(1); g <= DefaultMaxLength+1; g++ {
		c2.Certify(ws("n1", g, g-1, 0), false)
	}
	g := int64(DefaultMaxLength + 2)
	if v := c2.Certify(ws("n1", g, 1, 0), false); v.OK {
		t.Fatal("write-set 16385 past its last_seen passed")
	}
	if v := c2.Certify(ws("n1", g+1, 3, 0), false); !v.OK {
		t.Fatalf("write-set exactly cert.max_length past its last_seen failed: %s", v.Reason)
	}
	if w := c2.Stats().Window; w > DefaultMaxLength+128 {
		t.Fatalf("trx map holds %d positions; the safety trim keeps it near %d", w, DefaultMaxLength)
	}
}

func TestOptimisticPAOff(t *testing.T) {
	cfg := DefaultConfig()
	cfg.OptimisticPA = false
	c := New(cfg, 0)
	c.Certify(ws("n1", 1, 0, 0, row("a", protocols.KeyExclusive)), false)
	c.Certify(ws("n1", 2, 1, 0, row("b", protocols.KeyExclusive)), false)
	if v := c.Certify(ws("n2", 3, 2, 0, row("c", protocols.KeyExclusive)), false); v.Depends != 2 {
		t.Fatalf("depends %d with cert.optimistic_pa=no, want last_seen 2", v.Depends)
	}
}

// Purging at the commit cut drops keys from the index and raises later dependencies to the
// start of the window; safe-to-discard never passes a local write-set still in flight.
func TestPurgeAndSafeToDiscard(t *testing.T) {
	c := New(DefaultConfig(), 0)
	x := protocols.KeyExclusive
	for g := int64(1); g <= 10; g++ {
		c.Certify(ws("n1", g, g-1, 0, row(fmt.Sprint(g), x)), g == 7)
	}
	if st := c.Stats(); st.IndexSize != 11 { // ten rows plus the table's branch key
		t.Fatalf("index size %d, want 11", st.IndexSize)
	}
	if got := c.SafeToDiscard(10); got != 5 {
		t.Fatalf("safe to discard %d with local write-set 7 (last_seen 6) in flight, want 5", got)
	}
	c.PurgeUpTo(min(8, c.SafeToDiscard(10)))
	if st := c.Stats(); st.IndexSize != 6 || st.Window != 5 {
		t.Fatalf("after purge to 5: %+v, want 5 row keys + branch, window 5", st)
	}
	if v := c.Certify(ws("n2", 11, 10, 0, row("new", x)), false); v.Depends != 5 {
		t.Fatalf("depends %d, want 5 (start of window - 1)", v.Depends)
	}
	c.Committed(true, 6, 1, 10, 10)
	if got := c.SafeToDiscard(10); got != 10 {
		t.Fatalf("safe to discard %d after the local write-set committed, want 10", got)
	}
}

func TestCommittedReportsEvery128(t *testing.T) {
	c := New(DefaultConfig(), 0)
	reports := 0
	for i := 1; i <= 1000; i++ {
		if _, ok := c.Committed(false, 0, 1, 100, int64(i)); ok {
			reports++
		}
	}
	if reports != 1000/128 {
		t.Fatalf("%d reports in 1000 commits, want one per 128 write-sets (%d)", reports, 1000/128)
	}
}

// Determinism: certifiers fed the same sequence reach the same verdicts even when one
// purges at different moments, as long as purges respect the commit cut.
func TestDeterministicUnderDifferentPurges(t *testing.T) {
	for seed := uint64(1); seed <= 20; seed++ {
		rng := rand.New(rand.NewPCG(seed, 0))
		a, b := New(DefaultConfig(), 0), New(DefaultConfig(), 0)
		var committed int64
		for g := int64(1); g <= 2000; g++ {
			lastSeen := max(0, g-1-int64(rng.IntN(8)))
			committed = max(committed, lastSeen)
			k := row(fmt.Sprint(rng.IntN(30)), types[rng.IntN(4)])
			src := fmt.Sprintf("n%d", rng.IntN(3)+1)
			va := a.Certify(ws(src, g, lastSeen, 0, k), false)
			vb := b.Certify(ws(src, g, lastSeen, 0, k), false)
			if va.OK != vb.OK {
				t.Fatalf("seed %d g %d: verdicts differ: %v vs %v", seed, g, va, vb)
			}
			// a purges eagerly at a cut that lags every last_seen to come by 8; b rarely.
			if g%16 == 0 {
				a.PurgeUpTo(g - 9)
			}
			if g%500 == 0 {
				b.PurgeUpTo(g - 9)
			}
		}
	}
}

// cert.length_check is a mask: the safety trim runs at positions where position & mask is 0.
// The default 127 lets the window overshoot cert.max_length by up to 127 positions; 0 checks
// at every position, so the window never exceeds cert.max_length + 1.
func TestLengthCheckMask(t *testing.T) {
	for _, tc := range []struct {
		mask, maxWindow int64
	}{{0, 9}, {127, 8 + 128}} {
		cfg := DefaultConfig()
		cfg.MaxLength, cfg.LengthCheck = 8, tc.mask
		c := New(cfg, 0)
		peak := 0
		for g := int64(1); g <= 300; g++ {
			c.Certify(ws("n1", g, g-1, 0), false)
			peak = max(peak, c.Stats().Window)
		}
		if int64(peak) > tc.maxWindow {
			t.Errorf("cert.length_check=%d: window peaked at %d, want at most %d", tc.mask, peak, tc.maxWindow)
		}
		if tc.mask == 127 && peak <= 9 {
			t.Errorf("cert.length_check=127: window peaked at %d; the trim should only run every 128 positions", peak)
		}
	}
}

// Preload rebuilds a joiner's index after an SST with the group's verdicts: a preloaded
// write-set whose last_seen lies below the index's start is recorded, not refused, and a
// later write-set that did not see it conflicts with it exactly as on the members that
// certified it; a failed one is a dummy.
func TestPreloadKeepsTheGroupsVerdicts(t *testing.T) {
	key := func(row string) []protocols.Key {
		return []protocols.Key{{Table: "t", Row: []byte(row), Type: protocols.KeyExclusive}}
	}
	full := New(DefaultConfig(), 0)
	var order []*protocols.WriteSet
	var verdicts []bool
	for i, w := range []struct {
		src, row string
		seen     int64
	}{{"n1", "a", 0}, {"n2", "a", 0}, {"n1", "b", 1}, {"n2", "c", 1}} {
		ws := &protocols.WriteSet{Source: w.src, Snapshot: w.seen, Seqno: int64(i + 1), Keys: key(w.row)}
		verdicts = append(verdicts, full.Certify(ws, false).OK)
		order = append(order, ws)
	}
	if !slices.Equal(verdicts, []bool{true, false, true, true}) {
		t.Fatalf("verdicts %v", verdicts)
	}
	// A joiner restored at seqno 4 preloads 2..4 (the donor's cache): its index starts at 1.
	joiner := New(DefaultConfig(), 1)
	for i, ws := range order[1:] {
		joiner.Preload(ws, verdicts[i+1])
	}
	if got, want := joiner.Stats().IndexSize, full.Stats().IndexSize-1; got != want {
		t.Errorf("index size %d after the preload, want %d (the donor's, less row a of seqno 1)", got, want)
	}
	for _, c := range []*Certifier{full, joiner} {
		late := &protocols.WriteSet{Source: "n1", Snapshot: 2, Seqno: 5, Keys: key("c")}
		if v := c.Certify(late, false); v.OK {
			t.Errorf("a write-set of n1 that did not see n2's seqno 4 on row c passed: %+v", v)
		}
	}
}
