package group

import (
	"testing"
	"time"
)

// The retransmission wait follows RFC 6298 in ticks: 1 s before any sample; then
// SRTT + max(1 tick, 4 RTTVAR); a resend doubles the wait, kept for new proposals until a
// fresh sample; never beyond the suspicion window.
func TestRetransmissionWait(t *testing.T) {
	m := New(Config{Self: 0, Members: []string{"n1"}, UUIDs: []string{"a"}, Tick: 100 * time.Millisecond,
		SuspectAfter: 5 * time.Second}, time.Unix(0, 0))
	if w := m.rto(); w != 10 {
		t.Fatalf("before any sample: %d ticks, want 1 s = 10", w)
	}
	m.rtt.sample(4) // SRTT 4, RTTVAR 2
	if w := m.rto(); w != 12 {
		t.Fatalf("one 4-tick sample: %d ticks, want 4 + 4*2 = 12", w)
	}
	for range 20 {
		m.rtt.sample(4)
	}
	if w := m.rto(); w != 5 {
		t.Fatalf("steady 4-tick samples: %d ticks, want 4 + 1 (the granularity) = 5", w)
	}
	p := m.track([]byte{1})
	var eff Effects
	for m.ticks = 0; m.ticks < 200; m.ticks++ {
		m.pending[1] = p
		m.resendOverdue(&eff)
	}
	// waits 5, 10, 20, 40, then the 50-tick cap: sends at 6, 17, 38, 79, 130, 181.
	if len(eff.Proposals) != 6 || p.wait != 50 {
		t.Fatalf("%d resends, wait %d; want 6 and the 50-tick cap", len(eff.Proposals), p.wait)
	}
	if w := m.rto(); w != 50 {
		t.Fatalf("after backing off: %d ticks, want the backed-off 50 until a fresh sample", w)
	}
	m.arrived(p) // resent: Karn's rule, no sample
	if w := m.rto(); w != 50 {
		t.Fatalf("a resent proposal's delivery must not sample: %d", w)
	}
	m.rtt.sample(4)
	if w := m.rto(); w != 5 {
		t.Fatalf("a fresh sample clears the backoff: %d", w)
	}
}
