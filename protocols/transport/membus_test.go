package transport

import (
	"encoding/binary"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// busOrderTest runs several concurrent senders on several nodes, each sending numbered
// messages to every other node, and checks per-link FIFO and completeness at every
// receiver.
func busOrderTest(t *testing.T, bus Bus, nodes []string, perLink int) {
	t.Helper()
	type key struct{ from, to string }
	var mu sync.Mutex
	next := map[key]uint64{}
	var wg sync.WaitGroup
	wg.Add(len(nodes) * (len(nodes) - 1) * perLink)
	eps := make([]Endpoint, len(nodes))
	for i, n := range nodes {
		ep, err := bus.Attach(n)
		if err != nil {
			t.Fatal(err)
		}
		eps[i] = ep
		n := n
		ep.SetHandler(func(from string, p []byte) {
			seq := binary.BigEndian.Uint64(p)
			mu.Lock()
			k := key{from, n}
			if seq != next[k] {
				t.Errorf("%s>%s: got %d, want %d", from, n, seq, next[k])
			}
			next[k] = seq + 1
			mu.Unlock()
			wg.Done()
		})
	}
	var senders sync.WaitGroup
	for _, ep := range eps {
		for _, to := range nodes {
			if to == ep.Node() {
				continue
			}
			senders.Add(1)
			go func() { // one goroutine per link: all senders run concurrently
				defer senders.Done()
				for i := range uint64(perLink) {
					if err := ep.Send(to, binary.BigEndian.AppendUint64(nil, i)); err != nil {
						t.Errorf("send: %v", err)
						return
					}
				}
			}()
		}
	}
	senders.Wait()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatalf("not every message arrived: %v", next)
	}
}

func TestMemBusOrderConcurrentSenders(t *testing.T) {
	bus := NewMemBus()
	defer bus.Close()
	busOrderTest(t, bus, []string{"n1", "n2", "n3", "n4"}, 2000)
}

// Messages sent before the handler is set, or before the destination attaches, are held.
func TestMemBusHoldsUntilHandler(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		bus := NewMemBus()
		defer bus.Close()
		a, _ := bus.Attach("a")
		a.Send("b", []byte("early")) // b not attached yet
		b, _ := bus.Attach("b")
		b.Send("a", []byte("x"))
		synctest.Wait()
		var got []string
		b.SetHandler(func(from string, p []byte) { got = append(got, from+":"+string(p)) })
		synctest.Wait()
		if len(got) != 1 || got[0] != "a:early" {
			t.Fatalf("got %v, want the held message", got)
		}
		if _, err := bus.Attach("a"); err == nil {
			t.Fatal("attaching a node twice succeeded")
		}
	})
}

func TestMemBusEndpointCloseDrops(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		bus := NewMemBus()
		a, _ := bus.Attach("a")
		b, _ := bus.Attach("b")
		n := 0
		b.SetHandler(func(string, []byte) { n++ })
		b.Close()
		if err := a.Send("b", nil); err != nil {
			t.Fatalf("send to a closed peer should be a silent drop, got %v", err)
		}
		if err := b.Send("a", nil); err != ErrClosed {
			t.Fatalf("send from a closed endpoint: %v, want ErrClosed", err)
		}
		synctest.Wait()
		if n != 0 {
			t.Fatal("closed endpoint received a message")
		}
		bus.Close()
		if _, err := bus.Attach("c"); err != ErrClosed {
			t.Fatalf("attach after close: %v", err)
		}
	})
}

// waitGoroutines waits until the goroutine count drops to at most base.
func waitGoroutines(t *testing.T, base int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > base {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			buf = buf[:runtime.Stack(buf, true)]
			t.Fatalf("%d goroutines left after Close, started with %d:\n%s", runtime.NumGoroutine(), base, buf)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestMemBusCloseLeavesNoGoroutines(t *testing.T) {
	base := runtime.NumGoroutine()
	bus := NewMemBus()
	em := NewEmulator(bus, Network{Base: time.Millisecond}, EmulatorOptions{})
	for i := range 5 {
		ep, _ := em.Attach(fmt.Sprint("n", i))
		ep.SetHandler(func(string, []byte) {})
		ep.Send("n0", []byte("x"))
	}
	em.Close()
	waitGoroutines(t, base)
}
