package storage

import (
	"fmt"
	"slices"
	"testing"
)

// The agreed log survives a crash (it is synced with every write under mode 1), a write
// from an index replaces the suffix, and DropThrough compacts the front; the state is
// kept apart from the entries and outside the rows.
func TestAgreedLogSurvivesACrash(t *testing.T) {
	opts := Options{Node: "n1", LogFlush: LogFlushCommit}
	e, err := Open(opts)
	must(t, err)
	ents := func(from, n int) [][]byte {
		var out [][]byte
		for i := from; i < from+n; i++ {
			out = append(out, []byte(fmt.Sprintf("e%d", i)))
		}
		return out
	}
	must(t, e.WriteAgreedLog(AgreedLogWrite{State: []byte("hs1"), From: 2, Entries: ents(2, 5)}))                         // 2..6
	must(t, e.WriteAgreedLog(AgreedLogWrite{State: []byte("hs2"), From: 5, Entries: [][]byte{[]byte("x5")}, OldLast: 6})) // 2..5, 5 replaced, 6 gone
	must(t, e.WriteAgreedLog(AgreedLogWrite{DropThrough: 2}))                                                             // 3..5
	img, err := e.Down(HaltCrash, 1)
	must(t, err)
	r, err := Reopen(opts, img)
	must(t, err)
	defer r.Close()
	var got []string
	st, err := r.ReadAgreedLog(func(i uint64, d []byte) bool {
		got = append(got, fmt.Sprintf("%d:%s", i, d))
		return true
	})
	must(t, err)
	if want := []string{"3:e3", "4:e4", "5:x5"}; string(st) != "hs2" || !slices.Equal(got, want) {
		t.Fatalf("recovered state %q entries %v, want hs2 %v", st, got, want)
	}
	if sums, err := r.Checksums(); err != nil || len(sums) != 0 {
		t.Fatalf("the agreed log shows in the checksums: %v %v", sums, err)
	}
}
