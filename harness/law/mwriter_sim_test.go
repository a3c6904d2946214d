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

// writersSim drives the real EVS state machine (galera/gcs) for several writers whose
// threads modify disjoint rows, in integer virtual time with no goroutines and no CPU,
// storage or jitter cost: each thread proposes a write-set, commits when its own node
// delivers it and proposes the next one at once. Nothing conflicts, so every write-set
// commits, and each writer's traffic fills sequence numbers for the others: the case in
// which a commit can cost less than the idle single-writer path.
type writersSim struct {
	*evsSim
	commits int64 // write-sets committed, counted at their originator
}

func newWritersSim(nw transport.Network, members []string, writers []int) *writersSim {
	return &writersSim{evsSim: newEVSSim(nw, members, writers[0], nil)}
}

func (s *writersSim) step(i int) {
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
			if d.Source != i || len(d.Action) != 4 {
				continue
			}
			s.commits++
			s.push(simEv{due: s.now, to: i, th: binary.BigEndian.Uint32(d.Action)})
		}
	}
}

// run starts each writer's threads at time 0 (threads[w] for writer w) and returns the
// commits per second of the whole cluster in [warm, horizon).
func (s *writersSim) run(threads map[int]int, warm, horizon time.Duration) float64 {
	for w, t := range threads {
		for th := range t {
			s.push(simEv{due: 0, to: w, th: uint32(th)})
		}
	}
	var c0 int64
	warmed := false
	for s.q.Len() > 0 {
		e := heap.Pop(&s.q).(simEv)
		if e.due >= int64(horizon) {
			break
		}
		if !warmed && e.due >= int64(warm) {
			warmed, c0 = true, s.commits
		}
		s.now = e.due
		if e.msg == nil {
			s.nodes[e.to].Propose(binary.BigEndian.AppendUint32(nil, e.th))
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
	return float64(s.commits-c0) / (horizon - warm).Seconds()
}

// With several writers the others' messages fill the sequence, so a commit can cost as
// little as the round trip to the writer's farthest member: the real EVS machine, driven
// by non-conflicting writers with nothing but the network costing time, must never commit
// faster than the law's bound sum_w T_w/floor_w, on 3az, 3dc and an asymmetric network,
// with one thread per writer and with more threads than evs.user_send_window.
func TestGaleraMultiWriterThroughputAgainstEVS(t *testing.T) {
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
		{preset: "3az", writers: []string{"n1", "n2"}},
		{preset: "3az", writers: []string{"n1", "n2", "n3"}},
		{preset: "3dc", writers: []string{"n2", "n3"}},
		{preset: "3dc", writers: []string{"n1", "n2", "n3"}},
		{preset: "lan", mods: []func(*transport.Network){asym}, writers: []string{"n2", "n3"}},
		{preset: "lan", mods: []func(*transport.Network){asym}, writers: []string{"n1", "n2", "n3"}},
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
				e, err := Explain(Input{Network: net, Members: members, Protocol: "galera", Writers: c.writers, Threads: threads})
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
				got := newWritersSim(net, members, ws).run(tw, 20*floor, 420*floor)
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
