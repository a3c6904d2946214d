package membership

import (
	"slices"
	"testing"
	"time"
)

var t0 = time.Unix(1000, 0)

func at(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }

// step is one input to a detector followed by the report expected at its Tick.
type step struct {
	at           float64 // seconds after t0
	heard        []int   // members heard from just before the tick
	view         []bool  // new view, if set
	unreachable  []int
	expel        []int
	majorityLost bool
	giveUp       bool
}

func runDetector(t *testing.T, cfg DetectorConfig, steps []step) {
	t.Helper()
	d := NewDetector(cfg, t0)
	for _, s := range steps {
		for _, m := range s.heard {
			d.Heard(m, at(s.at))
		}
		if s.view != nil {
			d.SetView(s.view)
		}
		r := d.Tick(at(s.at))
		var un []int
		for i, u := range r.Unreachable {
			if u {
				un = append(un, i)
			}
		}
		if !slices.Equal(un, s.unreachable) || !slices.Equal(r.Expel, s.expel) ||
			r.MajorityLost != s.majorityLost || r.GiveUp != s.giveUp {
			t.Fatalf("t=%vs: got unreachable %v expel %v majorityLost %v giveUp %v; want %v %v %v %v",
				s.at, un, r.Expel, r.MajorityLost, r.GiveUp, s.unreachable, s.expel, s.majorityLost, s.giveUp)
		}
	}
}

func cfg3(self int) DetectorConfig {
	return DetectorConfig{Self: self, Members: 3, SuspectAfter: 5 * time.Second, ExpelTimeout: 5 * time.Second}
}

// §3.1: "5 s with no messages from a peer: the peer is suspected and shown as
// UNREACHABLE"; "member_expel_timeout later: the peer is expelled", proposed by the
// notifier, here n1 (index 0), the lowest member it does not suspect.
func TestDetector_SuspectThenExpel(t *testing.T) {
	runDetector(t, cfg3(0), []step{
		{at: 4.9, heard: []int{1}},
		{at: 5, heard: []int{1}, unreachable: []int{2}},
		{at: 9.9, heard: []int{1}, unreachable: []int{2}},
		{at: 10, heard: []int{1}, unreachable: []int{2}, expel: []int{2}},
		// repeated only after another SuspectAfter, in case the proposal was lost
		{at: 12, heard: []int{1}, unreachable: []int{2}},
		{at: 15, heard: []int{1}, unreachable: []int{2}, expel: []int{2}},
		// the view change removes it: no longer shown, no longer proposed
		{at: 15.1, heard: []int{1}, view: []bool{true, true, false}},
		{at: 30, heard: []int{1}},
	})
}

// Only the notifier proposes: n2 (index 1) suspects n3 too but n1 is reachable and lower.
func TestDetector_OnlyTheNotifierProposes(t *testing.T) {
	runDetector(t, cfg3(1), []step{
		{at: 10, heard: []int{0}, unreachable: []int{2}},
		{at: 20, heard: []int{0}, unreachable: []int{2}},
	})
	// With n1 suspected too, n2 has no majority (1 of 3) and proposes nothing.
	runDetector(t, cfg3(1), []step{
		{at: 10, unreachable: []int{0, 2}, majorityLost: true},
	})
}

// "A suspect that returns before the timeout replays what it missed ... as the same
// incarnation": hearing from it again clears the suspicion, and the expel clock restarts.
func TestDetector_SuspectReturnsBeforeExpel(t *testing.T) {
	runDetector(t, cfg3(0), []step{
		{at: 7, heard: []int{1}, unreachable: []int{2}},
		{at: 8, heard: []int{1, 2}},
		{at: 12.9, heard: []int{1}},
		{at: 13, heard: []int{1}, unreachable: []int{2}},
		{at: 18, heard: []int{1}, unreachable: []int{2}, expel: []int{2}},
	})
}

// "A minority partition blocks"; "unreachable_majority_timeout defaults to 0, which means
// wait forever"; "on expiry ... the member goes to ERROR".
func TestDetector_MinorityWaitsOrGivesUp(t *testing.T) {
	runDetector(t, cfg3(2), []step{
		{at: 5, unreachable: []int{0, 1}, majorityLost: true},
		{at: 3600, unreachable: []int{0, 1}, majorityLost: true},
	})
	c := cfg3(2)
	c.UnreachableMajorityTimeout = 10 * time.Second
	runDetector(t, c, []step{
		{at: 5, unreachable: []int{0, 1}, majorityLost: true},
		{at: 14.9, unreachable: []int{0, 1}, majorityLost: true},
		{at: 15, unreachable: []int{0, 1}, majorityLost: true, giveUp: true},
		{at: 16, unreachable: []int{0, 1}, majorityLost: true},
	})
}

// "Majority means floor(N/2)+1 of the current configuration, which still includes
// UNREACHABLE members until they are expelled": 5 members with 3 silent have none; after
// two of them are expelled, the remaining 2 of 3 have one again.
func TestDetector_MajorityCountsSuspectsUntilExpelled(t *testing.T) {
	c := DetectorConfig{Self: 0, Members: 5, SuspectAfter: 5 * time.Second, ExpelTimeout: 5 * time.Second}
	runDetector(t, c, []step{
		{at: 10, heard: []int{1}, unreachable: []int{2, 3, 4}, majorityLost: true},
		{at: 11, heard: []int{1}, view: []bool{true, true, true, false, false}, unreachable: []int{2}, expel: []int{2}},
	})
}

// §4: the election keeps the highest member_weight and breaks ties with the lowest
// server_uuid; only ONLINE members are candidates.
func TestView_Election(t *testing.T) {
	uuids := []string{"cc", "aa", "bb"}
	for _, tc := range []struct {
		name    string
		weights []int
		expel   []int
		join    []int
		want    int
	}{
		{"equal weights: lowest uuid", []int{50, 50, 50}, nil, nil, 1},
		{"weight beats uuid", []int{90, 50, 50}, nil, nil, 0},
		{"lowest uuid expelled", []int{50, 50, 50}, []int{1}, nil, 2},
		{"recovering is no candidate", []int{50, 50, 50}, []int{1}, []int{1}, 2},
		{"nobody online", []int{50, 50, 50}, []int{0, 1, 2}, nil, -1},
		{"weight clamped to 100", []int{50, 500, 100}, nil, nil, 1},
	} {
		v := NewView(uuids)
		for i, w := range tc.weights {
			v.SetWeight(i, w)
		}
		for _, m := range tc.expel {
			v.Expel(m, 0)
		}
		for _, m := range tc.join {
			v.Join(m, 0)
		}
		if got := v.Elect(); got != tc.want {
			t.Errorf("%s: elected %d, want %d", tc.name, got, tc.want)
		}
	}
}

// Expel and Join are idempotent view changes, so a duplicated proposal changes nothing.
func TestView_ChangesAreIdempotent(t *testing.T) {
	v := NewView([]string{"a", "b", "c"})
	if !v.Expel(2, 0) || v.Expel(2, 0) || v.Size() != 2 || v.Changes() != 1 {
		t.Fatalf("expel: size %d changes %d", v.Size(), v.Changes())
	}
	if v.SetOnline(2, 0) {
		t.Fatal("an absent member cannot go ONLINE without joining")
	}
	if !v.Join(2, 0) || v.Join(2, 0) || v.State(2) != Recovering || v.Size() != 3 {
		t.Fatal("join")
	}
	if !v.SetOnline(2, 0) || v.State(2) != Online || v.OnlineCount() != 3 || v.Changes() != 2 {
		t.Fatal("online")
	}
}

// A restarted member is a new incarnation: its join is refused while the view holds the
// old one, an expulsion or ONLINE of the wrong incarnation changes nothing, and once the
// old incarnation is expelled the new one joins as a new member.
func TestView_IncarnationsAreDistinctMembers(t *testing.T) {
	v := NewView([]string{"a", "b", "c"})
	const old, fresh = 0, 7
	if v.Join(0, fresh) || v.Holds(0, fresh) || !v.Holds(0, old) {
		t.Fatal("the new incarnation joined while the old one is in the view")
	}
	if v.Expel(0, fresh) || !v.In(0) {
		t.Fatal("an expulsion of the new incarnation removed the old one")
	}
	if !v.Expel(0, old) || v.In(0) {
		t.Fatal("the old incarnation was not expelled")
	}
	if !v.Join(0, fresh) || !v.Holds(0, fresh) || v.Holds(0, old) || v.Incarnation(0) != fresh {
		t.Fatal("the new incarnation did not join once the old one was gone")
	}
	if v.SetOnline(0, old) || !v.SetOnline(0, fresh) || v.State(0) != Online {
		t.Fatal("ONLINE must name the incarnation in the view")
	}
}

// A clone carries the donor's view: the joiner's view then elects and counts as the
// donor's does.
func TestView_StateRoundTrip(t *testing.T) {
	uuids := []string{"c", "a", "b"}
	donor := NewView(uuids)
	donor.SetWeight(2, 80)
	donor.Expel(0, 0)
	donor.Join(0, 5)
	b := donor.AppendState(nil)
	joiner := NewView(uuids)
	rest, err := joiner.RestoreState(append(b, 0xff))
	if err != nil || len(rest) != 1 {
		t.Fatalf("restore: %v, %d bytes left", err, len(rest))
	}
	if joiner.Elect() != 2 || joiner.State(0) != Recovering || joiner.Changes() != 2 || joiner.Weight(2) != 80 || !joiner.Holds(0, 5) {
		t.Fatalf("restored view: elect %d, n0 %v, changes %d", joiner.Elect(), joiner.State(0), joiner.Changes())
	}
	if _, err := NewView(uuids[:2]).RestoreState(b); err == nil {
		t.Fatal("a view of another group size must be refused")
	}
	for n := range len(b) {
		if _, err := NewView(uuids).RestoreState(b[:n]); err == nil {
			t.Fatalf("truncated to %d bytes: no error", n)
		}
	}
}
