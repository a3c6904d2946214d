package gcs

import (
	"fmt"
	"slices"
	"testing"
)

// The quorum rule of pc_proto (galera.md §2.3): 2·w(kept) + w(left gracefully) > w(last
// primary component); equality is split brain.
func TestQuorumRule(t *testing.T) {
	prim := func(ws ...int) PrimView {
		p := PrimView{ConfID: 1}
		for i, w := range ws {
			p.Members = append(p.Members, i)
			p.Weights = append(p.Weights, w)
		}
		return p
	}
	cases := []struct {
		name    string
		last    PrimView
		members []int
		left    []int
		want    bool
	}{
		{"3 nodes, one partitioned away: the two keep quorum", prim(1, 1, 1), []int{0, 1}, nil, true},
		{"3 nodes, the one alone loses it", prim(1, 1, 1), []int{2}, nil, false},
		{"4 nodes split 2|2: split brain, neither side", prim(1, 1, 1, 1), []int{0, 1}, nil, false},
		{"4 nodes split 2|2 with pc.weight=2 on n1: n1's side wins", prim(2, 1, 1, 1), []int{0, 1}, nil, true},
		{"... and the other side is not primary", prim(2, 1, 1, 1), []int{2, 3}, nil, false},
		{"2 nodes, one leaves gracefully: the other stays primary", prim(1, 1), []int{0}, []int{1}, true},
		{"2 nodes, one vanishes: 1 of 2 is not a quorum", prim(1, 1), []int{0}, nil, false},
		{"5 nodes, 2 leave gracefully then 1 fails: 2 of 3 kept", prim(1, 1, 1, 1, 1), []int{0, 1}, []int{3, 4}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			joins := make([]Join, len(tc.members))
			for i := range joins {
				joins[i] = Join{Primary: true, Prim: tc.last, Left: tc.left}
			}
			got, _, kept, left, total := Quorum(tc.members, joins)
			if got != tc.want {
				t.Fatalf("primary=%v (2*%d + %d vs %d), want %v", got, kept, left, total, tc.want)
			}
		})
	}
}

// Without a member that comes from a primary component, pc_proto re-forms one only with
// every member of the last one (is_prim), and a component known only from gvwstate.dat
// (pc.recovery after every member went down) only with exactly its members, all of them
// restored from it (handle_reg: rst_view members == view members).
func TestQuorumWithoutAPrimaryMember(t *testing.T) {
	all := PrimView{ID: ViewID{3, 0}, ConfID: 2, Members: []int{0, 1, 2}, Weights: []int{1, 1, 1}}
	two := PrimView{ID: ViewID{4, 0}, ConfID: 3, Members: []int{0, 1}, Weights: []int{1, 1}}
	cut := func(p PrimView) Join { return Join{Prim: p} }
	rst := func(p PrimView) Join { return Join{Prim: p, Restored: true} }
	cases := []struct {
		name    string
		members []int
		joins   []Join
		want    bool
	}{
		{"pc.recovery: 2 of the 3 saved members restarted: wait for the third", []int{0, 1}, []Join{rst(all), rst(all)}, false},
		{"pc.recovery: all 3 saved members back: restored", []int{0, 1, 2}, []Join{rst(all), rst(all), rst(all)}, true},
		{"pc.recovery: saved {0,1}, and 2 (older saved view) is in the view too: not restored", []int{0, 1, 2}, []Join{rst(two), rst(two), rst(all)}, false},
		{"pc.recovery: saved {0,1}, exactly its members: restored", []int{0, 1}, []Join{rst(two), rst(two)}, true},
		{"3-way split, 2 heal: is_prim wants the third too", []int{0, 1}, []Join{cut(all), cut(all)}, false},
		{"3-way split, all heal: primary again", []int{0, 1, 2}, []Join{cut(all), cut(all), cut(all)}, true},
		{"no member knows a primary component", []int{0, 1, 2}, []Join{{}, {}, {}}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got, _, _, _, _ := Quorum(tc.members, tc.joins); got != tc.want {
				t.Fatalf("primary=%v, want %v", got, tc.want)
			}
		})
	}
}

// The most recent primary component any member knew is the reference: a node that was
// cut off keeps an older one and does not count against the side that moved on.
func TestQuorumUsesNewestPrimary(t *testing.T) {
	old := PrimView{ID: ViewID{1, 0}, ConfID: 1, Members: []int{0, 1, 2}, Weights: []int{1, 1, 1}}
	newer := PrimView{ID: ViewID{2, 0}, ConfID: 2, Members: []int{0, 1}, Weights: []int{1, 1}}
	ok, last, _, _, _ := Quorum([]int{0, 1, 2}, []Join{{Primary: true, Prim: newer}, {Primary: true, Prim: newer}, {Prim: old}})
	if !ok || last.ConfID != 2 {
		t.Fatalf("merge of {0,1}@2 with 2@1: primary=%v against conf %d; want primary against conf 2", ok, last.ConfID)
	}
}

func simWithTicks(n int, delay int64) *sim {
	s := newSim(n, 1, nil)
	for i := range n {
		for j := range n {
			if i != j {
				s.delay[i][j] = delay
			}
		}
	}
	s.tick = 100 // one tick is 100 units; suspect_timeout = 50 ticks = 5000 units
	s.nextTick = s.tick
	return s
}

func lastView(t *testing.T, s *sim, i int) *View {
	t.Helper()
	vs := s.views(i)
	if len(vs) == 0 {
		t.Fatalf("node %d installed no view", i)
	}
	return vs[len(vs)-1]
}

// Step by step, a partition of node 2: after the suspect timeout the two others install a
// primary view of two and keep ordering; node 2 installs a non-primary view of itself.
// After the heal all three merge into one primary view with the next conf id.
func TestPartitionSuspectInstallAndMerge(t *testing.T) {
	s := simWithTicks(3, 10)
	s.propose(0, "a")
	s.run(1000)
	s.partition([]int{0, 1}, []int{2})
	cutAt := s.now
	s.propose(0, "b") // cannot be SAFE while node 2 is away
	s.run(cutAt + 4000)
	if len(s.views(0)) != 0 {
		t.Fatalf("view change before the suspect timeout: %v", s.history(0))
	}
	s.run(cutAt + 7000)
	v0, v2 := lastView(t, s, 0), lastView(t, s, 2)
	if !slices.Equal(v0.Members, []int{0, 1}) || !v0.Primary || v0.ConfID != 2 {
		t.Fatalf("majority side view %+v; want members [0 1], primary, conf id 2", v0)
	}
	if !slices.Equal(v2.Members, []int{2}) || v2.Primary || v2.ConfID != -1 {
		t.Fatalf("minority side view %+v; want members [2], non-primary, conf id -1", v2)
	}
	want := []string{"a", "b", "view[0 1] P"}
	for i := range 2 {
		if got := s.history(i); !slices.Equal(got, want) {
			t.Fatalf("node %d history %v; want %v (b delivered in the transitional step)", i, got, want)
		}
	}
	if got := s.history(2); !slices.Equal(got, []string{"a", "view[2] N"}) {
		t.Fatalf("node 2 history %v; want [a view[2] N]", got)
	}
	s.propose(1, "c")
	s.run(s.now + 1000)
	if got := s.history(0); got[len(got)-1] != "c" {
		t.Fatalf("the primary side stopped ordering: %v", got)
	}
	s.heal()
	s.run(s.now + 5000)
	for i := range 3 {
		v := lastView(t, s, i)
		if !slices.Equal(v.Members, []int{0, 1, 2}) || !v.Primary || v.ConfID != 3 {
			t.Fatalf("after the heal node %d is in %+v; want [0 1 2] primary with conf id 3", i, v)
		}
	}
	s.propose(2, "d")
	s.run(s.now + 1000)
	for i := range 3 {
		if got := s.history(i); got[len(got)-1] != "d" {
			t.Fatalf("node %d after the merge: %v; want d last", i, got)
		}
	}
}

// A 2|2 split of four nodes leaves both halves non-primary; with pc.weight=2 on node 0 its
// half keeps the primary component. A heal merges all four back into a primary view.
func TestSplitBrainAndWeight(t *testing.T) {
	for _, weight := range []int{1, 2} {
		t.Run(fmt.Sprintf("weight of node 0 = %d", weight), func(t *testing.T) {
			s := newSim(4, 1, func(c *Config) {
				if c.Self == 0 {
					c.Weight = weight
				}
			})
			for i := range 4 {
				s.setNodeDelay(i, 5)
			}
			s.tick, s.nextTick = 100, 100
			// Every member knows every weight from the first view (the provider's state
			// exchange does this with SetWeight).
			for _, n := range s.nodes {
				n.SetWeight(0, weight)
			}
			s.run(1000)
			s.partition([]int{0, 1}, []int{2, 3})
			s.run(s.now + 8000)
			a, b := lastView(t, s, 0), lastView(t, s, 2)
			if a.Primary != (weight == 2) || b.Primary {
				t.Fatalf("weight %d: {0,1} primary=%v (kept %d, last %d), {2,3} primary=%v; want %v and false",
					weight, a.Primary, a.Kept, a.Last, b.Primary, weight == 2)
			}
			s.heal()
			s.run(s.now + 5000)
			for i := range 4 {
				if v := lastView(t, s, i); len(v.Members) != 4 || !v.Primary {
					t.Fatalf("after the heal node %d is in %+v; want all four, primary", i, v)
				}
			}
		})
	}
}

// A graceful leave counts as w(left): of two nodes, the one that stays keeps the primary
// component, while the same node losing its peer to a partition does not.
func TestGracefulLeaveKeepsQuorum(t *testing.T) {
	s := simWithTicks(2, 10)
	s.run(500)
	s.nodes[1].Leave()
	s.flush(1)
	s.run(s.now + 1000)
	if v := lastView(t, s, 0); !v.Primary || !slices.Equal(v.Members, []int{0}) {
		t.Fatalf("after a graceful leave node 0 is in %+v; want [0] primary", v)
	}
	s = simWithTicks(2, 10)
	s.run(500)
	s.partition([]int{0}, []int{1})
	s.run(s.now + 7000)
	if v := lastView(t, s, 0); v.Primary {
		t.Fatalf("after losing its peer node 0 is in %+v; want non-primary", v)
	}
}

// Property (virtual synchrony): whatever is in flight when a partition strikes, the two
// nodes that keep the primary component deliver the same sequence, and the node cut off
// delivered a prefix of it before it went non-primary.
func TestVirtualSynchronyUnderPartition(t *testing.T) {
	for seed := uint64(1); seed <= 40; seed++ {
		s := newSim(3, seed, nil)
		for i := range 3 {
			for j := range 3 {
				if i != j {
					s.delay[i][j] = 1 + int64(s.rng.IntN(60))
				}
			}
		}
		s.jitter = 20
		s.tick, s.nextTick = 100, 100
		away := int(seed % 3)
		cutAt := int64(200 + s.rng.IntN(400))
		for k := 0; k < 31; k++ {
			if (s.now >= cutAt || k == 30) && s.cut == nil {
				var rest []int
				for i := range 3 {
					if i != away {
						rest = append(rest, i)
					}
				}
				s.partition(rest, []int{away})
			}
			if k == 30 {
				break
			}
			s.propose(s.rng.IntN(3), fmt.Sprintf("s%dk%d", seed, k))
			s.run(s.now + int64(s.rng.IntN(40)))
		}
		s.run(s.now + 10000)
		var prim []int
		for i := range 3 {
			if i != away {
				prim = append(prim, i)
			}
		}
		h0, h1, hx := s.history(prim[0]), s.history(prim[1]), s.history(away)
		if !slices.Equal(h0, h1) {
			t.Fatalf("seed %d: the primary side differs:\n%v\n%v", seed, h0, h1)
		}
		v := lastView(t, s, prim[0])
		if !v.Primary || len(v.Members) != 2 {
			t.Fatalf("seed %d: primary side view %+v", seed, v)
		}
		// The non-primary node's deliveries before its view change are a prefix of the
		// primary side's.
		k := slices.IndexFunc(hx, func(x string) bool { return len(x) > 4 && x[:4] == "view" })
		if k < 0 {
			t.Fatalf("seed %d: node %d installed no view: %v", seed, away, hx)
		}
		if !slices.Equal(hx[:k], h0[:min(k, len(h0))]) {
			t.Fatalf("seed %d: node %d delivered %v before leaving; the primary side %v", seed, away, hx[:k], h0)
		}
	}
}
