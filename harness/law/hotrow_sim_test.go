package law

import (
	"container/heap"
	"encoding/binary"
	"fmt"
	"testing"
	"time"

	"github.com/replbench/replbench/galera/gcs"
	"github.com/replbench/replbench/protocols/transport"
)

// rowSim drives the real EVS state machine (galera/gcs) for several writers that all
// modify one hot row, in integer virtual time with no goroutines and no CPU, storage or
// jitter cost. Each writer holds the row's local lock for one write-set at a time (a second
// local thread would wait on it), sends a write-set stamped with the row version it read,
// and on that write-set's delivery retries at once: certification passes a write-set only
// if no other modification of the row was ordered since the version it read, which every
// member decides alike because all deliver in the same order. So the row moves to another
// writer as soon as that writer has delivered the previous modification, and the failing
// write-sets keep every writer sending, which is the traffic that fills the sequence.
type rowSim struct {
	*evsSim
	writers []int
	version []uint32 // per member: committed modifications of the row delivered there
	mods    int64    // modifications committed (counted at their originator)
}

func newRowSim(nw transport.Network, members []string, writers []int) *rowSim {
	return &rowSim{evsSim: newEVSSim(nw, members, writers[0], nil), writers: writers, version: make([]uint32, len(members))}
}

func (s *rowSim) propose(w int) {
	s.nodes[w].Propose(binary.BigEndian.AppendUint32(nil, s.version[w]))
}

func (s *rowSim) step(i int) {
	for range 4 {
		rd := s.nodes[i].Ready()
		for _, env := range rd.Messages {
			b := gcs.Encode(nil, env.Msg)
			for j := 0; j < s.n; j++ {
				if j != i && (env.To < 0 || env.To == j) {
					s.push(simEv{due: s.now + s.delay[i][j], to: j, from: i, msg: b})
				}
			}
		}
		if len(rd.Deliveries) == 0 {
			return
		}
		for _, d := range rd.Deliveries {
			if len(d.Action) != 4 {
				continue
			}
			ok := binary.BigEndian.Uint32(d.Action) == s.version[i]
			if ok {
				s.version[i]++
			}
			if d.Source == i {
				if ok {
					s.mods++
				}
				s.push(simEv{due: s.now, to: i}) // the writer's next attempt, on the new version
			}
		}
	}
}

// run returns the committed modifications per second of the row in [warm, horizon).
func (s *rowSim) run(warm, horizon time.Duration) float64 {
	for _, w := range s.writers {
		s.push(simEv{due: 0, to: w})
	}
	var m0 int64
	warmed := false
	for s.q.Len() > 0 {
		e := heap.Pop(&s.q).(simEv)
		if e.due >= int64(horizon) {
			break
		}
		if !warmed && e.due >= int64(warm) {
			warmed, m0 = true, s.mods
		}
		s.now = e.due
		if e.msg == nil {
			s.propose(e.to)
		} else {
			m, err := gcs.Decode(e.msg, s.n)
			if err != nil {
				panic(err)
			}
			m.Source = e.from
			s.nodes[e.to].Step(m)
		}
		s.step(e.to)
	}
	return float64(s.mods-m0) / (horizon - warm).Seconds()
}

// A row can pass from one writer to the next as soon as the next has delivered it: the
// real EVS machine, driven with every writer contending for one row and nothing but the
// network costing time, must never modify the row faster than the law's per-row bound, on
// symmetric presets and on an asymmetric network, with one writer and with several.
func TestGaleraHotRowChainAgainstEVS(t *testing.T) {
	asym := func(n *transport.Network) {
		n.SetLink("n1", "n2", 2*time.Millisecond)
		n.SetLink("n2", "n1", 9*time.Millisecond)
		n.SetLink("n2", "n3", 1*time.Millisecond)
		n.SetLink("n3", "n2", 6*time.Millisecond)
		n.SetLink("n1", "n3", 4*time.Millisecond)
		n.SetLink("n3", "n1", 3*time.Millisecond)
	}
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
		{preset: "lan", mods: []func(*transport.Network){asym}, writers: []string{"n1"}},
		{preset: "lan", mods: []func(*transport.Network){asym}, writers: []string{"n2", "n3"}},
		{preset: "lan", mods: []func(*transport.Network){asym}, writers: []string{"n1", "n2", "n3"}},
	}
	for _, c := range cases {
		name := c.preset
		if c.mods != nil {
			name = "asymmetric"
		}
		t.Run(fmt.Sprintf("%s/writers=%v", name, c.writers), func(t *testing.T) {
			net, members := nw(t, c.preset, 3, c.mods...)
			e, err := Explain(Input{Network: net, Members: members, Protocol: "galera", Writers: c.writers, Threads: len(c.writers), HotRows: 1})
			if err != nil {
				t.Fatal(err)
			}
			var ws []int
			for _, w := range c.writers {
				ws = append(ws, int(w[1]-'1'))
			}
			floor := time.Duration(e.Bound.CommitFloorMs * float64(time.Millisecond))
			got := newRowSim(net, members, ws).run(20*floor, 420*floor)
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
