package transport

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// recv collects what one node receives, with the (virtual) arrival time.
type recv struct {
	mu  sync.Mutex
	got []arrival
}

type arrival struct {
	from string
	seq  uint64
	at   time.Time
}

func (r *recv) handler(h func(from string, p []byte)) Handler {
	return func(from string, p []byte) {
		r.mu.Lock()
		r.got = append(r.got, arrival{from: from, seq: binary.BigEndian.Uint64(p), at: time.Now()})
		r.mu.Unlock()
		if h != nil {
			h(from, p)
		}
	}
}

func (r *recv) all() []arrival {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.got)
}

func msg(seq uint64) []byte { return binary.BigEndian.AppendUint64(nil, seq) }

// cluster attaches nodes to an emulator over a MemBus inside the current bubble.
func cluster(t *testing.T, nw Network, seed int64, nodes ...string) (*Emulator, map[string]Endpoint, map[string]*recv) {
	t.Helper()
	em := NewEmulator(NewMemBus(), nw, EmulatorOptions{Seed: seed, Virtual: true})
	eps := map[string]Endpoint{}
	rs := map[string]*recv{}
	for _, n := range nodes {
		ep, err := em.Attach(n)
		if err != nil {
			t.Fatal(err)
		}
		eps[n] = ep
		rs[n] = &recv{}
		ep.SetHandler(rs[n].handler(nil))
	}
	return em, eps, rs
}

// Spec: "a message with egress 50 ms on n1 plus a 20 ms link arrives exactly 70 ms after
// send"; egress applies to what leaves n1 only.
func TestEmulatorEgressPlusLinkExact(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var nw Network
		nw.SetEgress("n1", 50*time.Millisecond)
		nw.SetLinkBoth("n1", "n2", 20*time.Millisecond)
		em, eps, rs := cluster(t, nw, 1, "n1", "n2", "n3")
		defer em.Close()

		start := time.Now()
		eps["n1"].Send("n2", msg(1))
		eps["n1"].Send("n3", msg(2))
		eps["n2"].Send("n1", msg(3))
		eps["n3"].Send("n2", msg(4))
		time.Sleep(time.Second)
		synctest.Wait()

		want := map[uint64]time.Duration{1: 70 * time.Millisecond, 2: 50 * time.Millisecond, 3: 20 * time.Millisecond, 4: 0}
		for _, n := range []string{"n1", "n2", "n3"} {
			for _, a := range rs[n].all() {
				if got := a.at.Sub(start); got != want[a.seq] {
					t.Errorf("message %d %s->%s arrived after %v, want exactly %v", a.seq, a.from, n, got, want[a.seq])
				}
				delete(want, a.seq)
			}
		}
		if len(want) != 0 {
			t.Errorf("messages never delivered: %v", want)
		}
		st := em.Stats()
		if st.Sent != 4 || st.Delivered != 4 || st.Early != 0 || st.DelayErrorMaxMs != 0 {
			t.Errorf("stats %+v: want 4 sent, 4 delivered, no error in virtual time", st)
		}
	})
}

// Spec: "RTT of a ping-pong equals the sum of both directions".
func TestEmulatorPingPongRTT(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		nw, err := Preset("3dc", []string{"n1", "n2", "n3"})
		if err != nil {
			t.Fatal(err)
		}
		nw.SetEgress("n2", 7*time.Millisecond)
		nw.SetLink("n1", "n2", 3*time.Millisecond) // asymmetric on top of the matrix
		em := NewEmulator(NewMemBus(), nw, EmulatorOptions{Virtual: true})
		defer em.Close()
		n1, _ := em.Attach("n1")
		n2, _ := em.Attach("n2")
		n2.SetHandler(func(from string, p []byte) { n2.Send(from, p) })
		var rtts []time.Duration
		var sent time.Time
		done := make(chan struct{})
		n1.SetHandler(func(from string, p []byte) {
			rtts = append(rtts, time.Since(sent))
			if len(rtts) == 5 {
				close(done)
				return
			}
			sent = time.Now()
			n1.Send("n2", p)
		})
		sent = time.Now()
		n1.Send("n2", msg(0))
		<-done
		want := nw.RTT("n1", "n2")
		if want != (LANOneWay+3*time.Millisecond)+(LANOneWay+7*time.Millisecond+35*time.Millisecond) {
			t.Fatalf("RTT(n1,n2) = %v, not the sum of both one-way delays", want)
		}
		for i, r := range rtts {
			if r != want {
				t.Errorf("round trip %d took %v, want exactly %v", i, r, want)
			}
		}
	})
}

// Spec: "a message may never overtake an earlier one on the same link", even with jitter
// larger than the gap between sends.
func TestEmulatorFIFOWithJitter(t *testing.T) {
	for _, j := range []string{"uniform:20ms", "normal:10ms,8ms", "pareto:5ms,20ms"} {
		t.Run(j, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				jit, err := ParseJitter(j)
				if err != nil {
					t.Fatal(err)
				}
				nw := Network{Base: time.Millisecond, Jitter: jit}
				em, eps, rs := cluster(t, nw, 42, "n1", "n2", "n3")
				defer em.Close()
				const n = 500
				for i := range uint64(n) {
					eps["n1"].Send("n2", msg(i))
					eps["n3"].Send("n2", msg(i))
					time.Sleep(100 * time.Microsecond)
				}
				time.Sleep(10 * time.Second)
				synctest.Wait()
				next := map[string]uint64{}
				var distinct = map[int64]bool{}
				var prev = map[string]time.Time{}
				for _, a := range rs["n2"].all() {
					if a.seq != next[a.from] {
						t.Fatalf("from %s: got message %d, want %d (FIFO broken)", a.from, a.seq, next[a.from])
					}
					if a.at.Before(prev[a.from]) {
						t.Fatalf("from %s: message %d delivered before its predecessor", a.from, a.seq)
					}
					prev[a.from] = a.at
					next[a.from]++
					distinct[a.at.UnixNano()%int64(time.Millisecond)] = true
				}
				if next["n1"] != n || next["n3"] != n {
					t.Fatalf("delivered %v, want %d from each", next, n)
				}
				if len(distinct) < 10 {
					t.Fatalf("jitter %s produced only %d distinct sub-ms arrival offsets: not random", j, len(distinct))
				}
			})
		})
	}
}

func TestEmulatorPartitions(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		nw := Network{Base: 10 * time.Millisecond}
		em, eps, rs := cluster(t, nw, 1, "n1", "n2", "n3")
		defer em.Close()
		count := func() map[string]int {
			time.Sleep(time.Second)
			synctest.Wait()
			c := map[string]int{}
			for to, r := range rs {
				for _, a := range r.all() {
					c[a.from+">"+to]++
				}
				r.mu.Lock()
				r.got = nil
				r.mu.Unlock()
			}
			return c
		}
		all := func() {
			for _, a := range []string{"n1", "n2", "n3"} {
				for _, b := range []string{"n1", "n2", "n3"} {
					if a != b {
						eps[a].Send(b, msg(0))
					}
				}
			}
		}

		// Symmetric: {n1} | {n2, n3}.
		em.Partition([]string{"n1"}, []string{"n2", "n3"})
		all()
		got := count()
		want := map[string]int{"n2>n3": 1, "n3>n2": 1}
		if !mapsEqual(got, want) {
			t.Errorf("symmetric partition delivered %v, want %v", got, want)
		}

		// Heal restores everything.
		em.Heal()
		all()
		if got := count(); len(got) != 6 {
			t.Errorf("after heal delivered %v, want all 6 links", got)
		}

		// One-way: n1 cannot reach n2, n2 still reaches n1.
		em.PartitionOneWay("n1", "n2")
		all()
		got = count()
		if got["n1>n2"] != 0 || got["n2>n1"] != 1 || len(got) != 5 {
			t.Errorf("one-way partition delivered %v, want everything but n1>n2", got)
		}

		// A cut also loses what is on the wire: sent before the cut, due after it.
		em.Heal()
		eps["n1"].Send("n3", msg(0))
		time.Sleep(5 * time.Millisecond)
		em.Partition([]string{"n1"}, []string{"n3"})
		if got := count(); got["n1>n3"] != 0 {
			t.Errorf("message in flight across a new cut was delivered: %v", got)
		}
		st := em.Stats()
		if st.Dropped.Partition != 4+1+1 || st.Dropped.Loss != 0 {
			t.Errorf("dropped %+v, want 6 by partition", st.Dropped)
		}
		if st.Sent != st.Delivered+st.Dropped.Total() {
			t.Errorf("sent %d != delivered %d + dropped %d", st.Sent, st.Delivered, st.Dropped.Total())
		}
	})
}

func mapsEqual(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// Clogged links hold messages, in order, and deliver them at the moment of Unclog; other
// links are unaffected; later messages do not overtake held ones.
func TestEmulatorClog(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		nw := Network{Base: 10 * time.Millisecond}
		em, eps, rs := cluster(t, nw, 1, "n1", "n2", "n3")
		defer em.Close()
		start := time.Now()
		eps["n1"].Send("n2", msg(0)) // in flight when the link clogs
		time.Sleep(time.Millisecond)
		em.Clog("n1", "n2")
		for i := uint64(1); i <= 3; i++ {
			eps["n1"].Send("n2", msg(i))
		}
		eps["n1"].Send("n3", msg(100))
		eps["n2"].Send("n1", msg(200))
		time.Sleep(99 * time.Millisecond)
		synctest.Wait()
		if got := rs["n2"].all(); len(got) != 0 {
			t.Fatalf("clogged link delivered %v", got)
		}
		if len(rs["n3"].all()) != 1 || len(rs["n1"].all()) != 1 {
			t.Fatalf("clogging n1>n2 affected other links")
		}
		if st := em.Stats(); st.Held != 4 || st.InFlight != 4 {
			t.Fatalf("stats %+v: want 4 held", st)
		}
		em.Unclog("n1", "n2")
		eps["n1"].Send("n2", msg(4)) // sent after the release: due 10 ms later, after the held ones
		time.Sleep(time.Second)
		synctest.Wait()
		got := rs["n2"].all()
		if len(got) != 5 {
			t.Fatalf("after unclog got %d messages, want 5", len(got))
		}
		for i, a := range got {
			if a.seq != uint64(i) {
				t.Fatalf("after unclog message %d is %d: order broken", i, a.seq)
			}
			want := 100 * time.Millisecond
			if i == 4 {
				want = 110 * time.Millisecond
			}
			if d := a.at.Sub(start); d != want {
				t.Errorf("message %d arrived at %v, want %v", a.seq, d, want)
			}
		}
	})
}

// Spec: loss is a probability per message; for a fixed seed the count is within
// statistical bounds (5 standard deviations of the binomial).
func TestEmulatorLossRate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const n, p = 20000, 0.1
		nw := Network{Base: time.Millisecond, Loss: p}
		em, eps, rs := cluster(t, nw, 7, "n1", "n2")
		defer em.Close()
		for i := range uint64(n) {
			eps["n1"].Send("n2", msg(i))
		}
		time.Sleep(time.Second)
		synctest.Wait()
		st := em.Stats()
		sd := math.Sqrt(n * p * (1 - p))
		if d := math.Abs(float64(st.Dropped.Loss) - n*p); d > 5*sd {
			t.Errorf("lost %d of %d, want %v ± %.0f", st.Dropped.Loss, n, n*p, 5*sd)
		}
		got := rs["n2"].all()
		if uint64(len(got)) != st.Delivered || st.Delivered+st.Dropped.Loss != n {
			t.Errorf("delivered %d, handler saw %d, lost %d, sent %d", st.Delivered, len(got), st.Dropped.Loss, n)
		}
		for i := 1; i < len(got); i++ {
			if got[i].seq <= got[i-1].seq {
				t.Fatalf("order broken after loss at %d", i)
			}
		}
	})
}

// Spec: "two runs with one seed give identical delivery schedules", and another seed gives
// a different one.
func TestEmulatorSeededRepeatability(t *testing.T) {
	run := func(seed int64) []string {
		var out []string
		synctest.Test(t, func(t *testing.T) {
			jit, _ := ParseJitter("pareto:2ms,4ms")
			nw := Network{Base: time.Millisecond, Jitter: jit, Loss: 0.05}
			nw.SetEgress("n1", 3*time.Millisecond)
			em, eps, rs := cluster(t, nw, seed, "n1", "n2", "n3")
			defer em.Close()
			start := time.Now()
			for i := range uint64(300) {
				for _, from := range []string{"n1", "n2", "n3"} {
					for _, to := range []string{"n1", "n2", "n3"} {
						if from != to {
							eps[from].Send(to, msg(i))
						}
					}
				}
				time.Sleep(time.Duration(i%7) * 100 * time.Microsecond)
			}
			time.Sleep(10 * time.Second)
			synctest.Wait()
			for _, n := range []string{"n1", "n2", "n3"} {
				for _, a := range rs[n].all() {
					out = append(out, fmt.Sprintf("%s>%s#%d@%v", a.from, n, a.seq, a.at.Sub(start)))
				}
			}
		})
		return out
	}
	a, b, c := run(99), run(99), run(100)
	if !slices.Equal(a, b) {
		t.Errorf("same seed gave different schedules (%d vs %d deliveries)", len(a), len(b))
	}
	if slices.Equal(a, c) {
		t.Errorf("different seeds gave the same schedule")
	}
	if len(a) == 0 || len(a) == 6*300 {
		t.Errorf("delivered %d of %d: loss not applied", len(a), 6*300)
	}
}

// A zero-delay message sent behind a delayed one on the same link waits for it.
func TestEmulatorZeroDelayKeepsFIFO(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var nw Network
		nw.SetLink("n1", "n2", 5*time.Millisecond)
		em, eps, rs := cluster(t, nw, 1, "n1", "n2")
		defer em.Close()
		eps["n1"].Send("n2", msg(0))
		nw.SetLink("n1", "n2", 0)
		em.SetNetwork(nw)
		eps["n1"].Send("n2", msg(1))
		time.Sleep(time.Second)
		synctest.Wait()
		got := rs["n2"].all()
		if len(got) != 2 || got[0].seq != 0 || got[1].seq != 1 || got[1].at.Before(got[0].at) {
			t.Fatalf("got %v: a zero-delay message overtook a delayed one", got)
		}
	})
}

// Close stops the dispatcher and the inner bus: synctest.Test fails if any goroutine of
// the bubble is left blocked.
func TestEmulatorCloseDropsInFlight(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		em, eps, _ := cluster(t, Network{Base: time.Second}, 1, "n1", "n2")
		for i := range uint64(10) {
			eps["n1"].Send("n2", msg(i))
		}
		em.Close()
		if err := eps["n1"].Send("n2", msg(11)); err == nil {
			t.Errorf("send after close succeeded")
		}
		if st := em.Stats(); st.Dropped.Closed != 10 {
			t.Errorf("dropped %+v, want 10 closed", st.Dropped)
		}
	})
}

// Precise mode in real time: no message is ever handed over or received before its
// configured delay (the upper bound depends on the machine's load, so it is only
// reported, as microbench.md advises).
func TestEmulatorPreciseNeverEarly(t *testing.T) {
	nw := Network{Base: 200 * time.Microsecond, Jitter: Jitter{Uniform, 2 * time.Millisecond, 0}}
	nw.SetEgress("n1", time.Millisecond)
	em := NewEmulator(NewMemBus(), nw, EmulatorOptions{Seed: 5})
	defer em.Close()
	n1, _ := em.Attach("n1")
	n2, _ := em.Attach("n2")
	const n = 300
	type rec struct{ sent, got time.Time }
	recs := make([]rec, n)
	done := make(chan struct{})
	var k int
	n2.SetHandler(func(_ string, p []byte) {
		i := binary.BigEndian.Uint64(p)
		recs[i].got = time.Now()
		if k++; k == n {
			close(done)
		}
	})
	for i := range uint64(n) {
		recs[i].sent = time.Now()
		n1.Send("n2", msg(i))
		if i%10 == 0 {
			time.Sleep(time.Millisecond)
		}
	}
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatalf("only %d of %d delivered", k, n)
	}
	min := nw.OneWay("n1", "n2")
	for i, r := range recs {
		if d := r.got.Sub(r.sent); d < min {
			t.Errorf("message %d arrived after %v, before its %v minimum", i, d, min)
		}
	}
	st := em.Stats()
	if st.Early != 0 || st.Delivered != n || st.Received != n || st.DelayErrorNegative != 0 {
		t.Errorf("stats %+v: want %d delivered and received, none early", st, n)
	}
	t.Logf("delay error (at the handler) p50 %.3f ms, p99 %.3f ms, max %.3f ms; dispatch error p50 %.3f ms, p99 %.3f ms, max %.3f ms",
		st.DelayErrorP50Ms, st.DelayErrorP99Ms, st.DelayErrorMaxMs, st.DispatchErrorP50Ms, st.DispatchErrorP99Ms, st.DispatchErrorMaxMs)
}

// Heal ends partitions and releases clogged links too.
func TestEmulatorHealUnclogs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		em, eps, rs := cluster(t, Network{Base: time.Millisecond}, 1, "n1", "n2")
		defer em.Close()
		em.Clog("n1", "n2")
		em.PartitionOneWay("n2", "n1")
		eps["n1"].Send("n2", msg(1))
		eps["n2"].Send("n1", msg(2))
		time.Sleep(time.Second)
		em.Heal()
		eps["n2"].Send("n1", msg(3))
		time.Sleep(time.Second)
		synctest.Wait()
		if got := rs["n2"].all(); len(got) != 1 || got[0].seq != 1 {
			t.Errorf("n2 got %v, want the held message 1", got)
		}
		if got := rs["n1"].all(); len(got) != 1 || got[0].seq != 3 {
			t.Errorf("n1 got %v, want only message 3 (2 was cut)", got)
		}
	})
}
