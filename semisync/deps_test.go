package semisync

import (
	"testing"

	"github.com/replbench/replbench/protocols"
)

// WRITESET dependency tracking: a transaction depends on the last position that wrote one
// of its rows; disjoint rows give independent transactions a replica may apply in
// parallel; TOI and PA-unsafe transactions apply alone; a full history is forgotten and
// later transactions depend on the position where it was cleared.
func TestDependencies(t *testing.T) {
	ws := func(flags protocols.Flags, rows ...string) *protocols.WriteSet {
		w := &protocols.WriteSet{Flags: flags}
		for _, r := range rows {
			w.Keys = append(w.Keys, protocols.Key{Table: "t", Row: []byte(r), Type: protocols.KeyExclusive})
		}
		return w
	}
	d := newDepTracker(4)
	for i, tc := range []struct {
		ws   *protocols.WriteSet
		want int64
	}{
		{ws(0, "a"), 0},                     // 1
		{ws(0, "b"), 0},                     // 2: disjoint, parallel with 1
		{ws(0, "a", "c"), 1},                // 3: shares a with 1
		{ws(0, "c"), 3},                     // 4
		{ws(protocols.FlagTOI), 4},          // 5: DDL waits for everything before it
		{ws(0, "z"), 5},                     // 6: and everything after waits for it
		{ws(0, "x", "y", "w", "v", "u"), 5}, // 7: overflows the history of 4 rows
		{ws(0, "q"), 7},                     // 8: history cleared at 7
	} {
		if got := d.track(tc.ws, int64(i+1)); got != tc.want {
			t.Errorf("position %d: depends on %d, want %d", i+1, got, tc.want)
		}
	}
}
