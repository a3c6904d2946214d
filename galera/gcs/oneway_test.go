package gcs

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// A one-way cut (node 0's messages to node 1 are dropped, node 1's to node 0 still arrive)
// is the asymmetric partition of issue 16 (found #2): node 1 suspects node 0, node 0 hears
// everyone. Within the suspect and inactive timeouts a primary view of two must form and
// keep ordering, and after the heal all three must be back in one primary view.
func TestOneWayCutFormsPrimaryAndHeals(t *testing.T) {
	for seed := uint64(1); seed <= 5; seed++ {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			s := simWithTicks(3, 10)
			s.rng = rand.New(rand.NewPCG(seed, 7))
			s.jitter = 5
			s.propose(0, "a")
			s.run(1000)
			s.cut = map[[2]int]bool{{0, 1}: true}
			cutAt := s.now
			// suspect (50 ticks) + inactive (150 ticks) + join rounds, in units of 100.
			s.run(cutAt + 30000)
			prim := -1
			for i := range 3 {
				if v := lastView(t, s, i); v.Primary && len(v.Members) >= 2 {
					prim = i
				}
			}
			if prim < 0 {
				for i := range 3 {
					t.Logf("node %d: %v", i, s.history(i))
				}
				t.Fatalf("no primary view of two within the suspect and inactive timeouts")
			}
			s.propose(prim, "b")
			s.run(s.now + 2000)
			if got := s.history(prim); got[len(got)-1] != "b" {
				t.Fatalf("the primary side stopped ordering: %v", got)
			}
			s.heal()
			s.run(s.now + 30000)
			for i := range 3 {
				v := lastView(t, s, i)
				if !slices.Equal(v.Members, []int{0, 1, 2}) || !v.Primary {
					for k := range 3 {
						t.Logf("node %d: %v", k, s.history(k))
					}
					t.Fatalf("after the heal node %d is in %+v; want [0 1 2] primary", i, v)
				}
			}
			s.propose(1, "c")
			s.run(s.now + 2000)
			for i := range 3 {
				if got := s.history(i); got[len(got)-1] != "c" {
					t.Fatalf("node %d after the merge: %v; want c last", i, got)
				}
			}
		})
	}
}
