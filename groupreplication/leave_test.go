package groupreplication

import (
	"context"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/replbench/replbench/groupreplication/group"
	"github.com/replbench/replbench/groupreplication/membership"
	"github.com/replbench/replbench/protocols/transport"
	"github.com/replbench/replbench/storage"
)

// §3.1 against a clean stop: STOP GROUP_REPLICATION (a clean shutdown) has the member
// propose its own removal, agreed like any view change, so the others drop it from the
// view one agreement after the stop, not after 5 s of suspicion and 5 s of
// member_expel_timeout as for a killed member; the stopped primary's successor is elected
// in the same view change and takes writes at once, and the member's restart joins at
// once as a new member (its old incarnation is not in the view to be expelled first).
//
// 3 members, 1 ms one-way links (a round trip R = 2 ms), 4 clients writing on whichever
// member is primary; at 1 s the primary n1 leaves, then shuts down, at 2 s it restarts.
func TestStop_PrimaryLeavesAtOnceAndTheGroupGoesOn(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const rtt = 2 * time.Millisecond
		c, up, acked, stop := anyPrimaryCluster(t)
		defer c.close()
		ctx := context.Background()
		time.Sleep(time.Second)
		before := countAcked(acked)

		up[0].Store(false)
		stopped := time.Now()
		viewChanged, resumed := make(chan time.Duration, 1), make(chan time.Duration, 1)
		go func() { // when n2 installs the view without n1, then the next commit (polled every 50 µs)
			for c.stateOf(1, 0) != "" {
				time.Sleep(50 * time.Microsecond)
			}
			viewChanged <- time.Since(stopped)
			for n := countAcked(acked); countAcked(acked) == n; {
				time.Sleep(50 * time.Microsecond)
			}
			resumed <- time.Since(stopped)
		}()
		lctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := c.provs[0].Leave(lctx)
		cancel()
		left := time.Since(stopped)
		if err != nil {
			t.Fatalf("leave: %v", err)
		}
		view := <-viewChanged
		// The removal is one raft agreement proposed by the leader n1: its append reaches
		// n2 and n3 after R/2, their acks come back at R, and n2 learns the commit from
		// the leader's next append at 1.5 R. Leave then waits for raft leadership to move
		// to the new primary: the leader's next tick, then a vote (R).
		t.Logf("n2 installed the view without n1 %v after the stop (R = %v)", view, rtt)
		if want := 3 * rtt / 2; view < want || view > want+rtt/4 {
			t.Fatalf("n2 dropped n1 from its view %v after the stop: want 1.5 R = %v (one agreement), never the %v suspicion + %v expel timeout of a kill",
				view, want, membership.DefaultSuspectAfter, c.provs[0].set.ExpelTimeout)
		}
		c.provs[1].mu.Lock()
		inView, primary := c.provs[1].m.State() == group.Online, c.provs[1].m.Primary()
		c.provs[1].mu.Unlock()
		viewOnN2 := c.stateOf(1, 0)
		t.Logf("Leave returned %v after the stop: n2 sees n1 as %q, primary n%d; n1 is %s", left, viewOnN2, primary+1, c.provs[0].m.State())
		if !inView || viewOnN2 != "" || primary == 0 || primary < 0 {
			t.Fatalf("after the leave n2 (online %v) sees n1 as %q and primary n%d: want n1 out of the view and another primary", inView, viewOnN2, primary+1)
		}
		if c.provs[0].m.State() != group.Offline {
			t.Fatalf("n1 is %s after leaving: want OFFLINE", c.provs[0].m.State())
		}
		if limit := view + c.provs[0].set.RaftTick + 2*rtt; left < view || left > limit {
			t.Fatalf("Leave returned %v after the stop: want the view change (%v) plus at most a raft tick and a vote (%v)", left, view, limit)
		}
		e, _ := c.down(0, storage.HaltStop)

		// Writes go on at the new primary once the view changes: it applies its backlog
		// and has QUEUE_APPLIED agreed (1.5 R), a refused client retries after 1 ms, and
		// its commit is one agreement through the raft leader (n1 until it hands over):
		// about 4 R after the view change, bounded here by 6 R.
		first := <-resumed
		atStop := countAcked(acked)
		time.Sleep(time.Second)
		during := countAcked(acked) - atStop
		t.Logf("before the stop %d commits in 1 s; after it: first commit after the view change %v after the stop, %d in the second after Leave", before, first, during)
		if first < view || first > view+6*rtt || during < before/2 {
			t.Fatalf("after the stop: first commit %v later (view change %v), %d commits in a second (%d in the first): writes should go on once the view changes", first, view, during, before)
		}

		// The restart is a new member joining: no old incarnation to expel first.
		restarted := time.Now()
		_, done := c.restart(0, e)
		if err := <-done; err != nil {
			t.Fatalf("restart: %v", err)
		}
		up[0].Store(true)
		rejoined := time.Since(restarted)
		t.Logf("n1 ONLINE again %v after its restart, as %s (join refused: %s)", rejoined, c.roleOf(1, 0), c.status(0, "gr_model_join_refused"))
		if rejoined > time.Second {
			t.Fatalf("n1 came back ONLINE %v after its restart: a member that left joins at once", rejoined)
		}
		time.Sleep(500 * time.Millisecond)
		stop()
		if !c.quiesce(ctx) {
			t.Fatal("members did not converge")
		}
		for i := range c.provs {
			if lost, total := c.lostAcked(t, i, acked); lost != 0 {
				t.Fatalf("n%d lost %d of %d acknowledged rows", i+1, lost, total)
			}
		}
		d := c.provs[1].verdictDigest()
		for i := range c.provs {
			if c.provs[i].verdictDigest() != d {
				t.Fatalf("verdict digests differ: n%d", i+1)
			}
		}
	})
}

// countAcked counts the acknowledged ids in acked.
func countAcked(acked *sync.Map) int64 {
	var n int64
	acked.Range(func(_, _ any) bool { n++; return true })
	return n
}

// The same leave in multi-primary mode, where no primary is elected: the leaving raft
// leader hands leadership to the first member of the view it hears, so Leave returns
// after the view change, a raft tick and a vote, as in single-primary mode.
func TestStop_MultiPrimaryMemberLeavesAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const rtt = 2 * time.Millisecond
		nw := slowLinks(lan(t, 3), 3, time.Millisecond, "n1", "n2", "n3")
		c := start(t, 3, transport.NewMemBus(), nw, true, map[string]string{pSinglePrimary: "OFF"}, nil)
		defer c.close()
		time.Sleep(100 * time.Millisecond)
		stopped := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := c.provs[0].Leave(ctx); err != nil {
			t.Fatalf("leave: %v", err)
		}
		left := time.Since(stopped)
		t.Logf("n1 left in %v; n2 sees n1 as %q, n3 sees it as %q", left, c.stateOf(1, 0), c.stateOf(2, 0))
		if c.stateOf(1, 0) != "" || c.stateOf(2, 0) != "" || c.provs[0].m.State() != group.Offline {
			t.Fatalf("after the leave n2 sees n1 as %q, n3 as %q, n1 is %s: want n1 out of both views and OFFLINE", c.stateOf(1, 0), c.stateOf(2, 0), c.provs[0].m.State())
		}
		if limit := 3*rtt/2 + c.provs[0].set.RaftTick + 2*rtt; left > limit {
			t.Fatalf("Leave took %v: want at most the view change, a raft tick and a vote (%v)", left, limit)
		}
	})
}
