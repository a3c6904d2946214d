package law

import (
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/replbench/replbench/protocols/transport"
)

// safeDeliveryTime runs the message pattern behind the Galera floor over the real emulator
// in virtual time and returns when the originator may deliver: the originator broadcasts its
// write-set; every member, on receiving it, broadcasts a fill-in carrying its aru (EVS's
// ack); a member's aru covers the write-set once it holds the write-set and every other
// member's fill-in, and it then reports that aru to the originator; the originator delivers
// once every member has reported (its own report included). The law's floor is a formula;
// this is the causal chain it summarises, delivered message by message by the emulator.
func safeDeliveryTime(t *testing.T, nw transport.Network, members []string, origin string) time.Duration {
	var got time.Duration
	synctest.Test(t, func(t *testing.T) {
		em := transport.NewEmulator(transport.NewMemBus(), nw, transport.EmulatorOptions{Virtual: true})
		defer em.Close()
		start := time.Now()
		var mu sync.Mutex
		type state struct {
			haveWS  bool
			fills   map[string]bool
			covered bool
		}
		st := map[string]*state{}
		reports := map[string]bool{}
		done := make(chan time.Duration, 1)
		eps := map[string]transport.Endpoint{}
		for _, m := range members {
			ep, err := em.Attach(m)
			if err != nil {
				t.Fatal(err)
			}
			eps[m] = ep
			st[m] = &state{fills: map[string]bool{m: true, origin: true}}
		}
		// cover runs with mu held: a member whose aru now covers the write-set reports it.
		var cover func(m string)
		report := func(from string) {
			reports[from] = true
			if len(reports) == len(members) {
				done <- time.Since(start)
			}
		}
		cover = func(m string) {
			s := st[m]
			if s.covered || !s.haveWS || len(s.fills) < len(members) {
				return
			}
			s.covered = true
			if m == origin {
				report(m)
			} else if err := eps[m].Send(origin, []byte("R")); err != nil {
				t.Error(err)
			}
		}
		for _, m := range members {
			m := m
			eps[m].SetHandler(func(from string, p []byte) {
				mu.Lock()
				defer mu.Unlock()
				switch p[0] {
				case 'W': // the write-set: note it, send the fill-in to everyone
					st[m].haveWS = true
					if err := transport.Broadcast(eps[m], members, []byte("F")); err != nil {
						t.Error(err)
					}
				case 'F':
					st[m].fills[from] = true
				case 'R':
					report(from)
				}
				cover(m)
			})
		}
		mu.Lock()
		st[origin].haveWS = true
		if err := transport.Broadcast(eps[origin], members, []byte("W")); err != nil {
			t.Fatal(err)
		}
		cover(origin)
		mu.Unlock()
		got = <-done
	})
	return got
}

// The Galera floor equals the time the safe-delivery message chain takes over the emulator,
// for networks where the binding path differs: the farthest member, a slow link between two
// other members, a slow originator, and a three-region matrix.
func TestGaleraFloorMatchesSafeDeliveryChain(t *testing.T) {
	ms := time.Millisecond
	cases := []struct {
		name   string
		preset string
		nodes  int
		mods   []func(*transport.Network)
		origin string
	}{
		{"lan", "lan", 3, nil, "n1"},
		{"delay on the writer", "wan-50", 3, nil, "n1"},
		{"slow link between two other members", "lan", 3, []func(*transport.Network){link("n2", "n3", 30*ms)}, "n1"},
		{"one-way slow link", "lan", 4, []func(*transport.Network){func(n *transport.Network) { n.SetLink("n3", "n4", 17*ms) }}, "n2"},
		{"three regions, five nodes", "3dc", 5, nil, "n2"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			net, members := nw(t, c.preset, c.nodes, c.mods...)
			b, err := Compute(Input{Network: net, Members: members, Protocol: "galera", Nodes: resolved(t, "galera", members, nil, nil), Writers: []string{c.origin}, Threads: 1})
			if err != nil {
				t.Fatal(err)
			}
			got := safeDeliveryTime(t, net, members, c.origin)
			if !near(msOf(got), b.CommitFloorMs) {
				t.Fatalf("message chain took %v, law floor %v ms (%s)", got, b.CommitFloorMs, b.Derivation)
			}
		})
	}
}

// The GR floor equals a leader's wait for acks from a majority (its own vote included),
// measured over the emulator in virtual time.
func TestGRFloorMatchesMajorityAcks(t *testing.T) {
	net, members := nw(t, "lan", 5, link("n1", "n2", 40*time.Millisecond), link("n1", "n3", 5*time.Millisecond),
		link("n1", "n4", 60*time.Millisecond), link("n1", "n5", 9*time.Millisecond))
	b, err := Compute(Input{Network: net, Members: members, Protocol: "gr", Nodes: resolved(t, "gr", members, nil, nil), Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	var got time.Duration
	synctest.Test(t, func(t *testing.T) {
		em := transport.NewEmulator(transport.NewMemBus(), net, transport.EmulatorOptions{Virtual: true})
		defer em.Close()
		start := time.Now()
		done := make(chan time.Duration, 1)
		var mu sync.Mutex
		acks := 1 // the leader's own
		eps := map[string]transport.Endpoint{}
		for _, m := range members {
			ep, err := em.Attach(m)
			if err != nil {
				t.Fatal(err)
			}
			eps[m] = ep
		}
		for _, m := range members {
			m := m
			eps[m].SetHandler(func(from string, p []byte) {
				if m != "n1" {
					if err := eps[m].Send("n1", []byte("ack")); err != nil {
						t.Error(err)
					}
					return
				}
				mu.Lock()
				defer mu.Unlock()
				acks++
				if acks == len(members)/2+1 {
					done <- time.Since(start)
				}
			})
		}
		if err := transport.Broadcast(eps["n1"], members, []byte("append")); err != nil {
			t.Fatal(err)
		}
		got = <-done
	})
	if !near(msOf(got), b.CommitFloorMs) {
		t.Fatalf("majority acks after %v, law floor %v ms", got, b.CommitFloorMs)
	}
}
