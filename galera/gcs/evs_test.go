package gcs

import (
	"bytes"
	"fmt"
	"slices"
	"testing"
)

// Step by step: the originator delivers its own message only after every member's aru
// has passed it, which takes a fill from each peer and then an aru report from each peer
// that was not yet complete when it filled.
func TestSafeDeliveryStepByStep(t *testing.T) {
	n := []*EVS{New(DefaultConfig(0, 3)), New(DefaultConfig(1, 3)), New(DefaultConfig(2, 3))}
	n[0].Propose([]byte("w1"))
	r0 := n[0].Ready()
	if len(r0.Messages) != 1 || r0.Messages[0].Msg.Seq != 1 || len(r0.Deliveries) != 0 {
		t.Fatalf("originator: %+v; want one broadcast user message at seq 1, nothing delivered", r0)
	}
	user := r0.Messages[0].Msg
	// n1 receives it and, having nothing to send, fills seq 1 with an empty message.
	n[1].Step(user)
	r1 := n[1].Ready()
	if len(r1.Messages) != 1 || r1.Messages[0].Msg.Type != MsgUser || len(r1.Messages[0].Msg.Actions) != 0 ||
		r1.Messages[0].Msg.Last() != 1 {
		t.Fatalf("n1 answer %+v; want one empty user message filling seq 1", r1.Messages)
	}
	fill1 := r1.Messages[0].Msg
	if fill1.Aru != 0 {
		t.Fatalf("n1's aru %d; want 0 (n2 has not filled yet)", fill1.Aru)
	}
	n[0].Step(fill1)
	if r := n[0].Ready(); len(r.Deliveries) != 0 {
		t.Fatalf("originator delivered before n2 had the message: %+v", r.Deliveries)
	}
	n[2].Step(user)
	n[2].Step(fill1)
	r2 := n[2].Ready()
	fill2 := r2.Messages[0].Msg
	if fill2.Aru != 1 {
		t.Fatalf("n2 fills with aru %d; want 1 (it has everything up to 1)", fill2.Aru)
	}
	n[0].Step(fill2)
	r0 = n[0].Ready()
	// The originator's aru is now 1, but n1 has only reported 0: still not safe.
	if len(r0.Deliveries) != 0 {
		t.Fatalf("delivered while n1's aru was 0: %+v", r0.Deliveries)
	}
	n[1].Step(fill2)
	r1 = n[1].Ready()
	if len(r1.Messages) != 1 || r1.Messages[0].Msg.Type != MsgGap || r1.Messages[0].Msg.Aru != 1 {
		t.Fatalf("n1 after completing: %+v; want a gap message reporting aru 1", r1.Messages)
	}
	n[0].Step(r1.Messages[0].Msg)
	r0 = n[0].Ready()
	if len(r0.Deliveries) != 1 || string(r0.Deliveries[0].Action) != "w1" {
		t.Fatalf("originator deliveries %+v; want w1", r0.Deliveries)
	}
}

// Commit latency is the longest path originator -> i -> j -> originator (galera.md §2.1).
func TestLatencyIsLongestPath(t *testing.T) {
	const D = 1000
	cases := []struct {
		name string
		set  func(s *sim)
		want int64
	}{
		{"delay on a non-writer's links", func(s *sim) { s.setNodeDelay(2, D) }, 2 * D},
		{"delay on the writer's links", func(s *sim) { s.setNodeDelay(0, D) }, 2 * D},
		{"delay between the two non-writers", func(s *sim) { s.delay[1][2], s.delay[2][1] = D, D }, D},
		{"asymmetric: only n1 -> n2 slow", func(s *sim) { s.delay[1][2] = D }, D},
		{"uniform delay d: 3 hops are needed, RTT is not enough", func(s *sim) {
			for i := range 3 {
				s.setNodeDelay(i, D)
			}
		}, 3 * D},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := newSim(3, 1, nil)
			tc.set(s)
			s.propose(0, "w")
			s.run(1 << 40)
			if len(s.at[0]) != 1 || s.at[0][0] != tc.want {
				t.Fatalf("delivered at %v; want at %d", s.at[0], tc.want)
			}
		})
	}
}

// The user send window: a fresh action goes at once while seq <= safe+2; the backlog is
// aggregated into one message once acks arrive.
func TestSendWindowAndAggregation(t *testing.T) {
	s := newSim(3, 1, nil)
	s.setNodeDelay(0, 1000)
	for i := range 10 {
		s.nodes[0].Propose(fmt.Appendf(nil, "a%d", i))
	}
	rd := s.nodes[0].Ready()
	if len(rd.Messages) != 2 {
		t.Fatalf("%d messages left at once; want 2 (evs.user_send_window)", len(rd.Messages))
	}
	if q := s.nodes[0].Stats().Queued; q != 8 {
		t.Fatalf("%d queued; want 8", q)
	}
	for _, e := range rd.Messages {
		for j := 1; j < 3; j++ {
			s.send(0, j, e.Msg)
		}
	}
	s.run(1 << 40)
	if got := len(s.out[0]); got != 10 {
		t.Fatalf("delivered %d of 10", got)
	}
	sent := s.nodes[0].Stats().Sent
	if sent != 3 {
		t.Fatalf("originator sent %d user messages; want 3 (two fresh, then one aggregating the 8 queued)", sent)
	}
	if s.at[0][9] != 4000 {
		t.Fatalf("last delivered at %d; want 4000 (two round trips)", s.at[0][9])
	}
}

// Several senders interleave by (seq, node index): every member delivers the same sequence.
func TestConcurrentSendersSameOrder(t *testing.T) {
	s := newSim(3, 1, nil)
	s.delay[0][1], s.delay[1][0] = 300, 300
	s.delay[1][2], s.delay[2][1] = 700, 700
	s.delay[0][2], s.delay[2][0] = 100, 100
	for i := range 3 {
		s.propose(i, fmt.Sprintf("x%d", i))
	}
	s.run(1 << 40)
	want := []string{"1/0:x0", "1/1:x1", "1/2:x2"}
	for i := range 3 {
		if got := s.actions(i); !slices.Equal(got, want) {
			t.Fatalf("node %d delivered %v; want %v", i, got, want)
		}
	}
}

// Property: under random delays, jitter and loss, every member delivers every action, and
// all in the same order.
func TestTotalOrderUnderLossAndJitter(t *testing.T) {
	for seed := uint64(1); seed <= 30; seed++ {
		n := 3 + int(seed%3)
		s := newSim(n, seed, nil)
		for i := range n {
			for j := range n {
				if i != j {
					s.delay[i][j] = int64(s.rng.IntN(5000))
				}
			}
		}
		s.jitter = 2000
		s.loss = 0.05
		s.tick = 100_000
		s.nextTick = s.tick
		want := 0
		for round := range 20 {
			for i := range n {
				if s.rng.IntN(2) == 0 {
					s.propose(i, fmt.Sprintf("r%dn%d", round, i))
					want++
				}
			}
			s.run(s.now + int64(s.rng.IntN(3000)))
		}
		s.loss = 0
		s.run(s.now + 5_000_000)
		ref := s.actions(0)
		if len(ref) != want {
			t.Fatalf("seed %d: node 0 delivered %d of %d actions", seed, len(ref), want)
		}
		for i := 1; i < n; i++ {
			if got := s.actions(i); !slices.Equal(got, ref) {
				t.Fatalf("seed %d: node %d delivered\n%v\nnode 0 delivered\n%v", seed, i, got, ref)
			}
		}
	}
}

// An idle cluster sends keepalives, and they deliver nothing.
func TestKeepaliveWhenIdle(t *testing.T) {
	s := newSim(3, 1, nil)
	s.tick = 100
	s.nextTick = 100
	s.run(10_000)
	st := s.nodes[0].Stats()
	if st.Fills == 0 || st.LastSent < 5 {
		t.Fatalf("no keepalives after 100 ticks: %+v", st)
	}
	if len(s.out[0]) != 0 {
		t.Fatalf("keepalives delivered actions: %v", s.out[0])
	}
	if st.Safe != st.LastSent && st.Safe+1 < st.LastSent {
		t.Fatalf("keepalives not safe: %+v", st)
	}
}

// A causal token asked with no recent keepalive costs a round trip and comes after every
// action delivered before it was asked; a second one right after is immediate.
func TestCausalToken(t *testing.T) {
	s := newSim(3, 1, nil)
	s.setNodeDelay(0, 500)
	s.propose(1, "w")
	s.run(1 << 40)
	start := s.now
	s.nodes[0].Causal(7)
	s.flush(0)
	s.run(1 << 40)
	last := s.out[0][len(s.out[0])-1]
	if !last.Causal || last.Token != 7 || s.at[0][len(s.at[0])-1]-start != 1000 {
		t.Fatalf("token %+v at %d after asking; want token 7 after one RTT (1000)", last, s.at[0][len(s.at[0])-1]-start)
	}
	s.nodes[0].Causal(8)
	s.flush(0)
	if last := s.out[0][len(s.out[0])-1]; !last.Causal || last.Token != 8 {
		t.Fatalf("second token not immediate: %+v", last)
	}
}

func TestCodecRoundTrip(t *testing.T) {
	for _, m := range []*Msg{
		{Type: MsgUser, Source: 2, Seq: 10, Range: 3, Aru: 9, ReqFrom: -1, Actions: [][]byte{[]byte("a"), {}, []byte("ccc")}},
		{Type: MsgGap, Source: 1, Aru: 4, ReqFrom: 0, ReqLo: 2, ReqHi: 4},
		{Type: MsgGap, Source: 0, Aru: 4, ReqFrom: -1},
	} {
		b := Encode(nil, m)
		got, err := Decode(b, 3)
		if err != nil {
			t.Fatalf("decode %+v: %v", m, err)
		}
		if !bytes.Equal(Encode(nil, got), b) {
			t.Fatalf("round trip changed %+v into %+v", m, got)
		}
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(Encode(nil, &Msg{Type: MsgUser, Source: 1, Seq: 3, Aru: 2, ReqFrom: -1, Actions: [][]byte{[]byte("x")}}))
	f.Add(Encode(nil, &Msg{Type: MsgGap, Source: 2, Aru: 2, ReqFrom: 1, ReqLo: 1, ReqHi: 2}))
	f.Add([]byte{1, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Decode(b, 3)
		if err != nil {
			return
		}
		if _, err := Decode(Encode(nil, m), 3); err != nil {
			t.Fatalf("re-encoding a decoded message fails: %v", err)
		}
		// A decoded message never crashes a member.
		e := New(DefaultConfig((m.Source+1)%3, 3))
		e.Step(m)
		e.Ready()
	})
}

// An action still queued for the send window can be withdrawn and is delivered nowhere;
// one that has left cannot, and every member delivers it (evs.user_send_window lets two
// leave at once, the rest queue).
func TestWithdrawQueuedOnly(t *testing.T) {
	s := newSim(3, 1, nil)
	s.setNodeDelay(0, 1000)
	for _, a := range []string{"a0", "a1", "a2", "a3"} {
		s.nodes[0].Propose([]byte(a))
	}
	is := func(want string) func([]byte) bool { return func(a []byte) bool { return string(a) == want } }
	cases := []struct {
		action string
		want   bool
	}{
		{"a0", false}, // sent at once
		{"a2", true},  // queued
		{"a2", false}, // already withdrawn
		{"zz", false}, // never proposed
	}
	for _, tc := range cases {
		if got := s.nodes[0].Withdraw(is(tc.action)); got != tc.want {
			t.Fatalf("Withdraw(%s) = %v, want %v", tc.action, got, tc.want)
		}
	}
	if q, b := s.nodes[0].Stats().Queued, s.nodes[0].QueuedBytes(); q != 1 || b != 2 {
		t.Fatalf("queued %d actions, %d bytes; want 1 action (a3), 2 bytes", q, b)
	}
	s.flush(0)
	s.run(1 << 40)
	want := []string{"a0", "a1", "a3"}
	for i := range 3 {
		var got []string
		for _, d := range s.out[i] {
			got = append(got, string(d.Action))
		}
		if !slices.Equal(got, want) {
			t.Fatalf("node %d delivered %v; want %v", i, got, want)
		}
	}
}

// HasReady is what lets a driver run Ready until nothing is left: it is false once a Ready
// has consumed every input, true after an input (a message, a tick) or a proposal made
// while handling the deliveries of the last Ready, and false again after one more Ready.
func TestHasReady(t *testing.T) {
	a, b := New(DefaultConfig(0, 2)), New(DefaultConfig(1, 2))
	if a.HasReady() {
		t.Fatal("a fresh member has nothing ready")
	}
	a.Propose([]byte("x"))
	if !a.HasReady() {
		t.Fatal("a proposal that left at once must be sent by the next Ready")
	}
	rd := a.Ready()
	if len(rd.Messages) != 1 || a.HasReady() {
		t.Fatalf("after Ready: %d messages, HasReady %v; want 1 message and nothing left", len(rd.Messages), a.HasReady())
	}
	// b receives it and acks; a receives the ack: the action becomes safe on a.
	b.Step(rd.Messages[0].Msg)
	if !b.HasReady() {
		t.Fatal("a received message must be decided by the next Ready")
	}
	rb := b.Ready()
	for b.HasReady() {
		rb.Messages = append(rb.Messages, b.Ready().Messages...)
	}
	for _, env := range rb.Messages {
		a.Step(env.Msg)
	}
	if !a.HasReady() {
		t.Fatal("an ack that makes an action safe must be delivered by the next Ready")
	}
	if got := a.Ready(); len(got.Deliveries) != 1 {
		t.Fatalf("deliveries %v, want x", got.Deliveries)
	}
	// The layer above reacts to the delivery by proposing (a STOP, a commit-cut report):
	// that is ready at once, not at the next tick.
	a.Propose([]byte("reaction"))
	if !a.HasReady() {
		t.Fatal("a proposal made while handling deliveries must be ready")
	}
	a.Ready()
	if a.HasReady() {
		t.Fatal("nothing left after the last Ready")
	}
	a.Tick()
	if !a.HasReady() {
		t.Fatal("a tick is an input: Ready must run")
	}
}
