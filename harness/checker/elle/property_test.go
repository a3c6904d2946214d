package elle

import (
	"testing"
	"testing/quick"

	"github.com/replbench/replbench/harness/checker"
	"github.com/replbench/replbench/harness/checker/internal/gen"
	"github.com/replbench/replbench/harness/history"
)

func check(t *testing.T, w gen.Workload, h []history.Op) checker.Verdict {
	t.Helper()
	if err := history.Validate(h); err != nil {
		t.Fatal(err)
	}
	var v checker.Verdict
	var err error
	if w == gen.ListAppend {
		v, err = CheckListAppend(h, Options{})
	} else {
		v, err = CheckRWRegister(h, RegisterOptions{})
	}
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// A serial history (one operation at a time, each read seeing every earlier write) is
// clean, whatever its shape, failures and unknown outcomes included.
func TestPropertySerialIsClean(t *testing.T) {
	for _, w := range []gen.Workload{gen.ListAppend, gen.RWRegister} {
		f := func(seed uint64, keys, mops uint8) bool {
			h, _ := gen.Generate(gen.Config{Workload: w, Seed: seed, Serial: true, Ops: 60,
				Keys: 1 + int(keys%6), MaxMops: 1 + int(mops%5), PFail: 0.1, PInfo: 0.1})
			v := check(t, w, h)
			if v.Valid != checker.True || len(v.Models.ConsistentWith) != 1 || v.Models.ConsistentWith[0] != "strict-serializable" {
				t.Logf("seed %d:\n%s", seed, v.String())
				return false
			}
			return true
		}
		if err := quick.Check(f, &quick.Config{MaxCount: 200}); err != nil {
			t.Errorf("workload %d: %v", w, err)
		}
	}
}

// Concurrent clients against a store that executes each transaction atomically inside its
// interval produce strict serializable histories: never flagged, realtime order included.
func TestPropertyStrictSerializableStoreIsNeverFlagged(t *testing.T) {
	for _, w := range []gen.Workload{gen.ListAppend, gen.RWRegister} {
		f := func(seed uint64, clients, keys uint8) bool {
			h, _ := gen.Generate(gen.Config{Workload: w, Seed: seed, Clients: 2 + int(clients%8), Ops: 300,
				Keys: 1 + int(keys%5), PFail: 0.05, PInfo: 0.05})
			v := check(t, w, h)
			if v.Valid != checker.True {
				t.Logf("seed %d:\n%s", seed, v.String())
				return false
			}
			return true
		}
		if err := quick.Check(f, &quick.Config{MaxCount: 100}); err != nil {
			t.Errorf("workload %d: %v", w, err)
		}
	}
}

// The same clients against a store that reads a snapshot from invocation and applies writes
// unchecked (what certifying write-sets only amounts to for read-modify-writes) must be
// flagged: lost updates and G-single, and serializability ruled out.
func TestSnapshotReadsWithoutConflictCheckAreFlagged(t *testing.T) {
	for _, w := range []gen.Workload{gen.ListAppend, gen.RWRegister} {
		h, _ := gen.Generate(gen.Config{Workload: w, Seed: 7, Clients: 8, Ops: 400, Keys: 3, Snapshot: true})
		v := check(t, w, h)
		if v.Anomaly("lost-update") == nil || v.Valid != checker.False {
			t.Errorf("workload %d: no lost update:\n%s", w, v.String())
		}
		for _, m := range v.Models.ConsistentWith {
			if m == "serializable" || m == "snapshot-isolation" || m == "strict-serializable" {
				t.Errorf("workload %d: still consistent with %s", w, m)
			}
		}
	}
	// A lagging replica: reads 5 µs behind, so they miss acknowledged writes.
	h, _ := gen.Generate(gen.Config{Workload: gen.ListAppend, Seed: 3, Clients: 6, Ops: 400, Keys: 3, Snapshot: true, Lag: 5000})
	v := check(t, gen.ListAppend, h)
	if v.Anomaly("stale-read") == nil {
		t.Errorf("lagging reads not flagged as stale:\n%s", v.String())
	}
}

func benchHistory(b *testing.B, snapshot bool) []history.Op {
	h, _ := gen.Generate(gen.Config{Workload: gen.ListAppend, Seed: 1, Clients: 10, Ops: 10_000, Keys: 20,
		PFail: 0.02, PInfo: 0.02, Snapshot: snapshot})
	return h
}

// BenchmarkListAppend10k checks a clean 10k-operation history (10 clients, 20 keys).
func BenchmarkListAppend10k(b *testing.B) {
	h := benchHistory(b, false)
	for b.Loop() {
		v, err := CheckListAppend(h, Options{})
		if err != nil || v.Valid != checker.True {
			b.Fatal(err, v.String())
		}
	}
}

// BenchmarkListAppend10kAnomalies checks a 10k-operation history full of cycles (snapshot
// reads, unchecked writes), where every search runs.
func BenchmarkListAppend10kAnomalies(b *testing.B) {
	h := benchHistory(b, true)
	for b.Loop() {
		v, err := CheckListAppend(h, Options{})
		if err != nil || v.Valid != checker.False {
			b.Fatal(err)
		}
	}
}

// A snapshot-isolation store (snapshot reads, first committer wins) allows write skew and
// nothing stronger: the checker may report G2-item but never G-single, G-nonadjacent or a
// lost update, and must leave (strong) snapshot isolation possible.
func TestPropertySnapshotIsolationStoreIsNotOverclaimed(t *testing.T) {
	for _, w := range []gen.Workload{gen.ListAppend, gen.RWRegister} {
		skew := 0
		f := func(seed uint64, clients, keys uint8) bool {
			h, _ := gen.Generate(gen.Config{Workload: w, Seed: seed, Clients: 2 + int(clients%8), Ops: 300,
				Keys: 2 + int(keys%4), MaxMops: 3, PInfo: 0.03, Snapshot: true, FirstCommitterWins: true})
			v := check(t, w, h)
			for _, a := range v.Anomalies {
				if a.Class != "G2-item" && a.Class != "G2-item-process" && a.Class != "G2-item-realtime" {
					t.Logf("seed %d: %s", seed, v.String())
					return false
				}
				skew++
			}
			if v.Note != "" || contains(v.Models.Not, "strong-snapshot-isolation") || contains(v.Models.AlsoNot, "strong-snapshot-isolation") {
				t.Logf("seed %d: %s", seed, v.String())
				return false
			}
			return true
		}
		if err := quick.Check(f, &quick.Config{MaxCount: 60}); err != nil {
			t.Errorf("workload %d: %v", w, err)
		}
		t.Logf("workload %d: %d G2-item classes found", w, skew)
		if skew == 0 && w == gen.ListAppend { // blind register writes rarely give the rw edges skew needs
			t.Errorf("workload %d: no write skew in 60 snapshot-isolation histories; the test shows nothing", w)
		}
	}
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}
