package gcs

import "testing"

// The join sequence of galera.md §5, step by step: after a primary view the state exchange
// finds the member behind, its request picks the same donor on every member, and JOIN then
// SYNC bring both back to SYNCED.
func TestGroupJoinSequence(t *testing.T) {
	g := NewGroup(2, 3, View{Members: []int{0, 1, 2}, Primary: true, ConfID: 1})
	g.Install(View{Members: []int{2}, ConfID: -1})
	if g.Own() != NodeNonPrim || g.Own().Comment() != "Initialized" {
		t.Fatalf("alone after a partition: %v", g.Own().Comment())
	}
	g.Install(View{Members: []int{0, 1, 2}, Primary: true, ConfID: 3})
	if !g.Exchanging() {
		t.Fatal("no state exchange after a primary view")
	}
	steps := []struct {
		name string
		do   func() bool
		want [3]NodeState
	}{
		{"state from 0", func() bool { return !g.StateDelivered(0, StateMsg{Seqno: 40, State: NodeSynced, Weight: 1}) }, [3]NodeState{NodeSynced, NodeNonPrim, NodeNonPrim}},
		{"state from 2 (behind)", func() bool { return !g.StateDelivered(2, StateMsg{Seqno: 10, State: NodeNonPrim, Weight: 1}) }, [3]NodeState{NodeSynced, NodeNonPrim, NodeNonPrim}},
		{"state from 1 completes the exchange", func() bool { return g.StateDelivered(1, StateMsg{Seqno: 40, State: NodeSynced, Weight: 1}) }, [3]NodeState{NodeSynced, NodeSynced, NodePrim}},
		{"request from 2: donor 0", func() bool { return g.RequestDelivered(2) == 0 }, [3]NodeState{NodeDonor, NodeSynced, NodeJoiner}},
		{"a second request is refused", func() bool { return g.RequestDelivered(2) == -1 }, [3]NodeState{NodeDonor, NodeSynced, NodeJoiner}},
		{"donor JOIN", func() bool { g.JoinDelivered(0, true); return true }, [3]NodeState{NodeJoined, NodeSynced, NodeJoiner}},
		{"joiner JOIN", func() bool { g.JoinDelivered(2, true); return true }, [3]NodeState{NodeJoined, NodeSynced, NodeJoined}},
		{"SYNCs", func() bool { g.SyncDelivered(0); g.SyncDelivered(2); return true }, [3]NodeState{NodeSynced, NodeSynced, NodeSynced}},
	}
	for _, s := range steps {
		if !s.do() {
			t.Fatalf("%s: unexpected result", s.name)
		}
		if got := [3]NodeState(g.States); got != s.want {
			t.Fatalf("%s: states %v, want %v", s.name, got, s.want)
		}
	}
	if g.Seqno != 40 {
		t.Fatalf("group seqno %d, want 40", g.Seqno)
	}
}

// A failed transfer sends the joiner back to PRIMARY, to ask again; with no SYNCED member
// nobody can donate.
func TestGroupFailedTransferAndNoDonor(t *testing.T) {
	g := NewGroup(1, 2, View{Members: []int{0, 1}, Primary: true, ConfID: 1})
	g.Install(View{Members: []int{0, 1}, Primary: true, ConfID: 2})
	g.StateDelivered(0, StateMsg{Seqno: 5, State: NodeSynced})
	g.StateDelivered(1, StateMsg{Seqno: 3, State: NodeNonPrim})
	if d := g.RequestDelivered(1); d != 0 {
		t.Fatalf("donor %d, want 0", d)
	}
	g.JoinDelivered(1, false)
	if g.States[1] != NodePrim {
		t.Fatalf("after a failed transfer: %v, want PRIMARY", g.States[1].Comment())
	}
	g.States[0] = NodeJoined
	if d := g.RequestDelivered(1); d != -1 {
		t.Fatalf("donor %d with nobody SYNCED, want -1", d)
	}
}
