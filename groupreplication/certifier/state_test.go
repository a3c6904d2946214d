package certifier

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"testing"
)

// "The donor's certification info travels with the marker" (§7): a certifier restored
// from another's state at any point reaches the same verdicts, GNOs and dependencies on
// every later message, in both modes, across block recollection and garbage collection.
func TestRestoredStateCertifiesLikeTheDonor(t *testing.T) {
	for _, detection := range []bool{false, true} {
		rng := rand.New(rand.NewPCG(7, 11))
		donor := New(5, detection) // small blocks: several reservations and recollections
		var joiner *Certifier
		cloneAt := 300
		for i := range 1000 {
			if i == cloneAt {
				var err error
				if joiner, err = RestoreState(donor.AppendState(nil)); err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(joiner.AppendState(nil), donor.AppendState(nil)) {
					t.Fatal("restored state encodes differently from the donor's")
				}
			}
			both := func(f func(c *Certifier) any) {
				a := f(donor)
				if joiner != nil {
					if b := f(joiner); a != b {
						t.Fatalf("detection=%v message %d: donor %v, restored %v", detection, i, a, b)
					}
				}
			}
			if rng.IntN(20) == 0 {
				m, pos := rng.IntN(3), donor.Stats().Seqno-int64(rng.IntN(5))
				both(func(c *Certifier) any { return c.GTIDExecuted(m, pos, 3) })
				continue
			}
			txn := Txn{Origin: rng.IntN(3), Snapshot: max(donor.Stats().Seqno-int64(rng.IntN(8)), 0), Barrier: rng.IntN(50) == 0}
			for range 1 + rng.IntN(3) {
				txn.Keys = append(txn.Keys, uint64(rng.IntN(40)))
			}
			both(func(c *Certifier) any { return c.Certify(txn) })
		}
		if !bytes.Equal(joiner.AppendState(nil), donor.AppendState(nil)) {
			t.Fatalf("detection=%v: states differ after the same messages", detection)
		}
		if donor.Stats() != joiner.Stats() || donor.GTIDExecutedSet() != joiner.GTIDExecutedSet() {
			t.Fatalf("stats differ: %+v / %+v", donor.Stats(), joiner.Stats())
		}
	}
}

// Bytes that are not a state give ErrCorruptState, never a panic or a huge allocation.
func TestRestoreStateRejectsGarbage(t *testing.T) {
	c := New(3, true)
	for i := range 50 {
		c.Certify(Txn{Origin: i % 2, Snapshot: int64(i), Keys: []uint64{uint64(i % 7)}})
	}
	c.GTIDExecuted(0, 10, 2)
	good := c.AppendState(nil)
	for n := range len(good) {
		if _, err := RestoreState(good[:n]); !errors.Is(err, ErrCorruptState) {
			t.Fatalf("truncated to %d of %d bytes: %v, want ErrCorruptState", n, len(good), err)
		}
	}
	if _, err := RestoreState(append(good, 0)); !errors.Is(err, ErrCorruptState) {
		t.Fatal("trailing byte: no error")
	}
}

func FuzzRestoreState(f *testing.F) {
	c := New(3, true)
	c.Certify(Txn{Origin: 1, Keys: []uint64{1, 2}})
	f.Add(c.AppendState(nil))
	f.Fuzz(func(t *testing.T, b []byte) {
		if r, err := RestoreState(b); err == nil {
			r.Certify(Txn{Origin: 0, Keys: []uint64{1}})
		}
	})
}
