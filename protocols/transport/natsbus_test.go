package transport

import (
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

func newNATS(t testing.TB) Bus {
	t.Helper()
	bus, err := NewNATSBus(NATSOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return bus
}

func TestNATSBusOrderConcurrentSenders(t *testing.T) {
	bus := newNATS(t)
	defer bus.Close()
	busOrderTest(t, bus, []string{"n1", "n2", "n3"}, 2000)
}

func TestNATSBusWithEmulatorOrder(t *testing.T) {
	em := NewEmulator(newNATS(t), Network{Base: 200 * time.Microsecond, Jitter: Jitter{Uniform, time.Millisecond, 0}}, EmulatorOptions{Seed: 3})
	defer em.Close()
	busOrderTest(t, em, []string{"n1", "n2", "n3"}, 500)
	if st := em.Stats(); st.Early != 0 || st.Delivered != 3000 {
		t.Errorf("stats %+v: want 3000 delivered, none early", st)
	}
}

// Messages published before the receiver sets its handler are held, not lost, and the
// sender name survives the trip.
func TestNATSBusHoldsUntilHandler(t *testing.T) {
	bus := newNATS(t)
	defer bus.Close()
	a, err := bus.Attach("a")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := bus.Attach("b")
	for _, s := range []string{"1", "2", "3"} {
		if err := a.Send("b", []byte(s)); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(20 * time.Millisecond)
	got := make(chan string, 3)
	b.SetHandler(func(from string, p []byte) { got <- from + ":" + string(p) })
	for _, want := range []string{"a:1", "a:2", "a:3"} {
		select {
		case g := <-got:
			if g != want {
				t.Fatalf("got %s, want %s", g, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("message %s never arrived", want)
		}
	}
	if _, err := bus.Attach("a"); err == nil {
		t.Fatal("attached a twice")
	}
	if _, err := bus.Attach("bad.name"); err == nil || !strings.Contains(err.Error(), "n1") {
		t.Fatalf("bad node name accepted or unhelpful error: %v", err)
	}
}

// Two runs on one external NATS with different prefixes do not see each other's messages,
// even with the same node names; an external URL without a prefix is refused.
func TestNATSBusExternalPrefixIsolation(t *testing.T) {
	ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: server.RANDOM_PORT, NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	ns.Start()
	defer func() { ns.Shutdown(); ns.WaitForShutdown() }()
	if !ns.ReadyForConnections(5 * time.Second) {
		t.Fatal("server not ready")
	}
	if _, err := NewNATSBus(NATSOptions{URL: ns.ClientURL()}); err == nil || !strings.Contains(err.Error(), "Prefix") {
		t.Fatalf("external URL without prefix: %v", err)
	}
	got := map[string]chan string{}
	var buses []Bus
	for _, run := range []string{"runA", "runB"} {
		bus, err := NewNATSBus(NATSOptions{URL: ns.ClientURL(), Prefix: "replbench." + run})
		if err != nil {
			t.Fatal(err)
		}
		buses = append(buses, bus)
		n1, _ := bus.Attach("n1")
		n2, _ := bus.Attach("n2")
		c := make(chan string, 10)
		got[run] = c
		n2.SetHandler(func(from string, p []byte) { c <- string(p) })
		n1.Send("n2", []byte(run))
	}
	for run, c := range got {
		select {
		case g := <-c:
			if g != run {
				t.Errorf("%s received %s's message", run, g)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: nothing arrived", run)
		}
	}
	time.Sleep(20 * time.Millisecond)
	for run, c := range got {
		if len(c) != 0 {
			t.Errorf("%s received a second message: runs mixed", run)
		}
	}
	for _, b := range buses {
		if err := b.Close(); err != nil {
			t.Error(err)
		}
	}
}

func TestNATSBusCloseLeavesNoGoroutines(t *testing.T) {
	base := runtime.NumGoroutine()
	bus := newNATS(t)
	em := NewEmulator(bus, Network{Base: time.Millisecond}, EmulatorOptions{})
	eps := []Endpoint{}
	for _, n := range []string{"n1", "n2", "n3"} {
		ep, err := em.Attach(n)
		if err != nil {
			t.Fatal(err)
		}
		eps = append(eps, ep)
	}
	eps[1].SetHandler(func(string, []byte) {}) // n3 never sets one: Close must not hang on it
	for range 100 {
		eps[0].Send("n2", []byte("x"))
		eps[0].Send("n3", []byte("x"))
	}
	time.Sleep(10 * time.Millisecond)
	if err := em.Close(); err != nil {
		t.Fatal(err)
	}
	waitGoroutines(t, base)
	if _, err := bus.Attach("n4"); err != ErrClosed {
		t.Fatalf("attach after close: %v", err)
	}
}
