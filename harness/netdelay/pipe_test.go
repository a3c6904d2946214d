package netdelay

import (
	"bytes"
	"io"
	"net"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// echoPipe returns the client end of a connection that goes through Join (fwd, back
// delays) to an echo server, all in memory.
func echoPipe(fwd, back func() time.Duration) net.Conn {
	client, proxyIn := net.Pipe()
	proxyOut, server := net.Pipe()
	go Join(proxyIn, proxyOut, fwd, back)
	go func() {
		io.Copy(server, server)
		server.Close()
	}()
	return client
}

func fixed(d time.Duration) func() time.Duration { return func() time.Duration { return d } }

// In virtual time the round trip is exactly the two one-way delays.
func TestJoinRoundTripIsBothDelays(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := echoPipe(fixed(10*time.Millisecond), fixed(5*time.Millisecond))
		defer c.Close()
		buf := make([]byte, 4)
		for i := range 3 {
			start := time.Now()
			c.Write([]byte("ping"))
			if _, err := io.ReadFull(c, buf); err != nil {
				t.Fatal(err)
			}
			if rtt := time.Since(start); rtt != 15*time.Millisecond {
				t.Fatalf("round trip %d: %v, want exactly 15ms", i, rtt)
			}
		}
	})
}

// Bytes sent back to back are all held the same delay and arrive intact and in order;
// a delay changed while the connection runs applies to the bytes read after the change.
func TestJoinStreamsInOrderAndFollowsDelayChanges(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var d atomic.Int64
		d.Store(int64(20 * time.Millisecond))
		c := echoPipe(func() time.Duration { return time.Duration(d.Load()) }, fixed(0))
		defer c.Close()
		want := bytes.Repeat([]byte("0123456789"), 100_000) // 1 MB
		go c.Write(want)
		got := make([]byte, len(want))
		start := time.Now()
		if _, err := io.ReadFull(c, got); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatal("stream altered or reordered")
		}
		if el := time.Since(start); el != 20*time.Millisecond {
			t.Fatalf("1 MB took %v, want 20ms (every chunk held 20ms, no bandwidth limit)", el)
		}
		d.Store(int64(3 * time.Millisecond))
		start = time.Now()
		c.Write([]byte("x"))
		io.ReadFull(c, got[:1])
		if el := time.Since(start); el != 3*time.Millisecond {
			t.Fatalf("after lowering the delay: %v, want 3ms", el)
		}
	})
}

// A closed client ends the forwarding: the server sees EOF and Join returns.
func TestJoinPassesCloseOn(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		client, proxyIn := net.Pipe()
		proxyOut, server := net.Pipe()
		done := make(chan struct{})
		go func() { Join(proxyIn, proxyOut, fixed(time.Millisecond), nil); close(done) }()
		client.Write([]byte("bye"))
		client.Close()
		b, _ := io.ReadAll(server)
		if string(b) != "bye" {
			t.Fatalf("server got %q, want bye then EOF", b)
		}
		server.Close()
		<-done
	})
}
