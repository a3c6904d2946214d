package groupreplication

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/replbench/replbench/protocols/prototest"
	"github.com/replbench/replbench/protocols/transport"
)

// D is the one-way delay the latency tests put on some links.
const D = 50 * time.Millisecond

// commitCost measures, in virtual time, the mean latency of sequential single-row commits
// from member writer, after a warm-up commit.
func commitCost(t *testing.T, n int, writer int, nw transport.Network, params map[string]string) time.Duration {
	t.Helper()
	var cost time.Duration
	synctest.Test(t, func(t *testing.T) {
		c := start(t, n, transport.NewMemBus(), nw, true, params, nil)
		defer c.close()
		ctx := context.Background()
		if err := c.insert(ctx, writer, 0); err != nil {
			t.Fatal(err)
		}
		const commits = 20
		t0 := time.Now()
		for i := 1; i <= commits; i++ {
			if err := c.insert(ctx, writer, int64(i)); err != nil {
				t.Fatal(err)
			}
		}
		cost = time.Since(t0) / commits
		if !c.quiesce(ctx) {
			t.Error("members did not converge")
		}
	})
	return cost
}

func lan(t *testing.T, n int) transport.Network {
	nw, err := transport.Preset("lan", prototest.Nodes(n))
	if err != nil {
		t.Fatal(err)
	}
	return nw
}

// slowLinks adds a one-way delay d to every link of the named members, both ways.
func slowLinks(nw transport.Network, n int, d time.Duration, slow ...string) transport.Network {
	nw = nw.Clone()
	for _, s := range slow {
		for _, o := range prototest.Nodes(n) {
			if o != s {
				nw.SetLinkBoth(s, o, d)
			}
		}
	}
	return nw
}

// §3: "xcom will consider the message delivered as soon as it has got a majority." With
// n3's links slow, the primary n1 reaches the majority {n1, n2} over the LAN: a commit
// costs the LAN round trip to n2, not the 2D round trip to n3.
func TestMajorityNotAll_SlowSecondaryCostsNothing(t *testing.T) {
	nw := slowLinks(lan(t, 3), 3, D, "n3")
	cost := commitCost(t, 3, 0, nw, nil)
	rtt := nw.RTT("n1", "n2")
	t.Logf("3 members, D=%v on n3's links: commit on n1 costs %v (LAN RTT n1-n2 %v)", D, cost, rtt)
	if cost != rtt {
		t.Fatalf("commit cost %v, want exactly the n1-n2 round trip %v (a majority, not all)", cost, rtt)
	}
}

// The same delay on the primary's own links is on every path to a majority: 2D.
func TestMajorityNotAll_SlowPrimaryCostsOneRoundTrip(t *testing.T) {
	nw := slowLinks(lan(t, 3), 3, D, "n1")
	cost := commitCost(t, 3, 0, nw, nil)
	rtt := nw.RTT("n1", "n2")
	t.Logf("3 members, D=%v on n1's links: commit on n1 costs %v (RTT n1-n2 %v)", D, cost, rtt)
	if cost != rtt || cost < 2*D {
		t.Fatalf("commit cost %v, want the n1-n2 round trip %v (>= 2D)", cost, rtt)
	}
}

// Five members, two of them slow: the primary still reaches a majority of three over the
// LAN.
func TestMajorityNotAll_FiveMembersTwoSlow(t *testing.T) {
	nw := slowLinks(lan(t, 5), 5, D, "n4", "n5")
	cost := commitCost(t, 5, 0, nw, nil)
	rtt := nw.RTT("n1", "n2")
	t.Logf("5 members, D=%v on n4's and n5's links: commit on n1 costs %v", D, cost)
	if cost != rtt {
		t.Fatalf("commit cost %v, want the LAN round trip %v", cost, rtt)
	}
	// Three slow members leave no fast majority: the cost becomes the round trip to the
	// nearest slow one.
	nw3 := slowLinks(lan(t, 5), 5, D, "n3", "n4", "n5")
	cost3 := commitCost(t, 5, 0, nw3, nil)
	t.Logf("5 members, three slow: %v", cost3)
	if cost3 != nw3.RTT("n1", "n3") {
		t.Fatalf("three slow members: cost %v, want %v", cost3, nw3.RTT("n1", "n3"))
	}
}

// Where raft differs from XCom: in multi-primary mode a member that is not the raft leader
// forwards its proposal to the leader and learns the commit from it. With D on the
// leader's (n1's) links, a commit from n2 costs forward D + append D + ack D + commit
// notice D = 4D, where XCom, whose members order their own messages, would need only the
// n2-n3 LAN round trip. The README and `replbench params gr` state this.
func TestRaftDivergence_MultiPrimaryForwardingHop(t *testing.T) {
	nw := slowLinks(lan(t, 3), 3, D, "n1")
	mp := map[string]string{pSinglePrimary: "OFF"}
	fromLeader := commitCost(t, 3, 0, nw, mp)
	fromFollower := commitCost(t, 3, 1, nw, mp)
	t.Logf("multi-primary, D=%v on the leader n1's links: commit from n1 %v, from n2 %v", D, fromLeader, fromFollower)
	if fromLeader < 2*D || fromLeader > 2*D+time.Millisecond {
		t.Fatalf("leader's commit %v, want about 2D", fromLeader)
	}
	if fromFollower < 4*D || fromFollower > 4*D+time.Millisecond {
		t.Fatalf("follower's commit %v, want about 4D (forwarding hop through the leader)", fromFollower)
	}
}
