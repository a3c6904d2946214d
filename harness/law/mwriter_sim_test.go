package law

import (
	"fmt"
	"testing"
	"time"

	"github.com/replbench/replbench/protocols/transport"
)

// With several writers the others' messages fill the sequence, so a commit can cost as
// little as the round trip to the writer's farthest member: the real EVS machine, driven
// by non-conflicting writers with nothing but the network costing time, must never commit
// faster than the law's bound sum_w T_w/floor_w, on 3az, 3dc and an asymmetric network,
// with one thread per writer and with more threads than evs.user_send_window.
func TestGaleraMultiWriterThroughputAgainstEVS(t *testing.T) {
	cases := []struct {
		preset  string
		mods    []func(*transport.Network)
		writers []string
	}{
		{preset: "3az", writers: []string{"n1", "n2"}},
		{preset: "3az", writers: []string{"n1", "n2", "n3"}},
		{preset: "3dc", writers: []string{"n2", "n3"}},
		{preset: "3dc", writers: []string{"n1", "n2", "n3"}},
		{preset: "lan", mods: []func(*transport.Network){asymmetric}, writers: []string{"n2", "n3"}},
		{preset: "lan", mods: []func(*transport.Network){asymmetric}, writers: []string{"n1", "n2", "n3"}},
	}
	for _, c := range cases {
		name := c.preset
		if c.mods != nil {
			name = "asymmetric"
		}
		for _, per := range []int{1, 4} {
			t.Run(fmt.Sprintf("%s/writers=%v/threads=%d", name, c.writers, per*len(c.writers)), func(t *testing.T) {
				net, members := nw(t, c.preset, 3, c.mods...)
				threads := per * len(c.writers)
				e, err := Explain(Input{Network: net, Members: members, Protocol: "galera", Nodes: resolved(t, "galera", members, nil, nil), Writers: c.writers, Threads: threads})
				if err != nil {
					t.Fatal(err)
				}
				tw := map[int]int{}
				var ws []int
				for _, w := range c.writers {
					ws = append(ws, int(w[1]-'1'))
					tw[int(w[1]-'1')] = per
				}
				floor := time.Duration(e.Bound.CommitFloorMs * float64(time.Millisecond))
				got, _ := threadsSim(net, members, tw, 0, nil).loop(20*floor, 420*floor)
				if got > e.Bound.MaxTPS*1.001 {
					t.Fatalf("EVS committed %.1f tps, above the bound %.1f (%s)", got, e.Bound.MaxTPS, e.Throughput)
				}
				if got == 0 {
					t.Fatalf("no write-set committed")
				}
				t.Logf("%.1f tps = %.3f of the bound %.1f (%s)", got, got/e.Bound.MaxTPS, e.Bound.MaxTPS, e.Throughput)
			})
		}
	}
}
