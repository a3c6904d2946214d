package replicator

import "testing"

// galera.md §5: "IST is tried first. The candidate needs cached ≤ ist_seqno + 1" and "Safety
// gap. IST is refused if ist_seqno < lowest_cached + min((conf_seqno - lowest_cached) >> 7,
// 2^20)". The joiner holds everything up to ist; the donor caches lowest..conf.
func TestISTPossible(t *testing.T) {
	for _, tc := range []struct {
		ist, lowest, conf int64
		want              bool
	}{
		{ist: 10, lowest: 10, conf: 20, want: true},       // the joiner's last seqno is the oldest cached
		{ist: 9, lowest: 10, conf: 20, want: false},       // cached from ist+1, but ist < lowest + gap (0)
		{ist: 8, lowest: 10, conf: 20, want: false},       // 9 is gone
		{ist: 20, lowest: 0, conf: 20, want: true},        // nothing cached, nothing missing
		{ist: 19, lowest: 0, conf: 20, want: false},       // nothing cached, one missing
		{ist: 100, lowest: 100, conf: 1380, want: false},  // gap (1280>>7) = 10: 100 < 110
		{ist: 110, lowest: 100, conf: 1380, want: true},   // at the gap's end
		{ist: 1380, lowest: 1000, conf: 1380, want: true}, // nothing missing
	} {
		if got := ISTPossible(tc.ist, tc.lowest, tc.conf); got != tc.want {
			t.Errorf("ISTPossible(ist %d, cached from %d, group at %d) = %v, want %v", tc.ist, tc.lowest, tc.conf, got, tc.want)
		}
	}
}
