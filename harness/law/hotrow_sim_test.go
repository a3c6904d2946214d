package law

import (
	"encoding/binary"
	"fmt"
	"testing"
	"time"

	"github.com/replbench/replbench/galera/gcs"
	"github.com/replbench/replbench/protocols/transport"
)

// rowSim is the contending experiment: every writer modifies one hot row. Each writer holds
// the row's local lock for one write-set at a time (a second local thread would wait on it),
// sends a write-set stamped with the row version it read, and on that write-set's delivery
// retries at once: certification passes a write-set only if no other modification of the
// row was ordered since the version it read, which every member decides alike because all
// deliver in the same order. So the row moves to another writer as soon as that writer has
// delivered the previous modification, and the failing write-sets keep every writer
// sending, which is the traffic that fills the sequence. It counts committed modifications.
func rowSim(nw transport.Network, members []string, writers []int) *evsSim {
	s := newEVSSim(nw, members, nil)
	version := make([]uint32, len(members)) // per member: modifications delivered there
	s.onPropose = func(e simEv) {
		s.nodes[e.to].Propose(binary.BigEndian.AppendUint32(nil, version[e.to]))
	}
	s.onDeliver = func(node int, d gcs.Delivery) {
		ok := binary.BigEndian.Uint32(d.Action) == version[node]
		if ok {
			version[node]++
		}
		if d.Source == node {
			if ok {
				s.done++
			}
			s.propose(node, 0) // the writer's next attempt, on the new version
		}
	}
	for _, w := range writers {
		s.propose(w, 0)
	}
	return s
}

// A row can pass from one writer to the next as soon as the next has delivered it: the
// real EVS machine, driven with every writer contending for one row and nothing but the
// network costing time, must never modify the row faster than the law's per-row bound, on
// symmetric presets and on an asymmetric network, with one writer and with several.
func TestGaleraHotRowChainAgainstEVS(t *testing.T) {
	cases := []struct {
		preset  string
		mods    []func(*transport.Network)
		writers []string
	}{
		{preset: "3az", writers: []string{"n1"}},
		{preset: "3az", writers: []string{"n1", "n2"}},
		{preset: "3az", writers: []string{"n1", "n2", "n3"}},
		{preset: "3dc", writers: []string{"n1"}},
		{preset: "3dc", writers: []string{"n2", "n3"}},
		{preset: "3dc", writers: []string{"n1", "n2", "n3"}},
		{preset: "lan", writers: []string{"n1", "n2", "n3"}},
		{preset: "lan", mods: []func(*transport.Network){asymmetric}, writers: []string{"n1"}},
		{preset: "lan", mods: []func(*transport.Network){asymmetric}, writers: []string{"n2", "n3"}},
		{preset: "lan", mods: []func(*transport.Network){asymmetric}, writers: []string{"n1", "n2", "n3"}},
	}
	for _, c := range cases {
		name := c.preset
		if c.mods != nil {
			name = "asymmetric"
		}
		t.Run(fmt.Sprintf("%s/writers=%v", name, c.writers), func(t *testing.T) {
			net, members := nw(t, c.preset, 3, c.mods...)
			e, err := Explain(Input{Network: net, Members: members, Protocol: "galera", Nodes: resolved(t, "galera", members, nil, nil), Writers: c.writers, Threads: len(c.writers), HotRows: 1})
			if err != nil {
				t.Fatal(err)
			}
			var ws []int
			for _, w := range c.writers {
				ws = append(ws, int(w[1]-'1'))
			}
			floor := time.Duration(e.Bound.CommitFloorMs * float64(time.Millisecond))
			got, _ := rowSim(net, members, ws).loop(20*floor, 420*floor)
			if got > e.Bound.HotRowMaxTPS*1.001 {
				t.Fatalf("EVS modified the row %.1f times/s, above the bound %.1f (%s)", got, e.Bound.HotRowMaxTPS, e.HotRow)
			}
			if got == 0 {
				t.Fatalf("no modification committed")
			}
			t.Logf("%.1f modifications/s = %.3f of the bound %.1f (%s)", got, got/e.Bound.HotRowMaxTPS, e.Bound.HotRowMaxTPS, e.HotRow)
		})
	}
}
