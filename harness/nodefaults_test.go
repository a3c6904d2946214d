package harness

import (
	"context"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

// pause and resume parse, print back as they were written, and refuse anything but one node.
func TestParseNodeFaults(t *testing.T) {
	for _, s := range []string{"2s:pause=n2", "4s:resume=n2"} {
		f, err := ParseFault(s)
		if err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		if f.String() != s || f.Node != "n2" || !f.nodeEvent() {
			t.Errorf("%s: got %+v (%s)", s, f, f)
		}
	}
	for _, s := range []string{"1s:pause", "1s:pause=n1,n2", "1s:resume=n1>n2"} {
		if _, err := ParseFault(s); err == nil {
			t.Errorf("%s: accepted", s)
		} else if !strings.Contains(err.Error(), "pause") && !strings.Contains(err.Error(), "resume") {
			t.Errorf("%s: error %q does not name the event", s, err)
		}
	}
	f, _ := ParseFault("1s:pause=n4")
	if err := CheckFault(f, []string{"n1", "n2", "n3"}, 10*time.Second); err == nil {
		t.Error("pause of a node outside the cluster accepted")
	}
}

// A paused gate holds a client for exactly the pause, and a client whose context ends while
// it waits returns the context's error instead of hanging.
func TestNodeGateBlocksUntilResume(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := newNodeGate()
		if err := g.wait(context.Background()); err != nil {
			t.Fatal(err)
		}
		if !g.pause() || g.pause() {
			t.Fatal("pause should report the change once")
		}
		start := time.Now()
		go func() {
			time.Sleep(2 * time.Second)
			g.resume()
		}()
		if err := g.wait(context.Background()); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d != 2*time.Second {
			t.Errorf("client blocked %s, want the 2s pause", d)
		}
		g.pause()
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if err := g.wait(ctx); err != context.DeadlineExceeded {
			t.Errorf("wait on a paused gate with an ending context: %v", err)
		}
		g.resume()
	})
}
