package groupreplication

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/replbench/replbench/protocols"
	"github.com/replbench/replbench/protocols/transport"
)

// Issue 16, point 1: "a proposal forwarded to the raft leader is resent only when the
// leader changes". Multi-primary, the raft leader n1 cut off for 2 s (below the 5 s
// election timeout, so it stays leader and nobody is expelled) while n2 commits: n2's
// forwarded proposal, and every resend into the cut, is lost. After the heal a resend
// reaches n1 and the commit returns; before the fix it never did.
func TestMultiPrimary_ForwardedProposalLostInAPartitionCommitsAfterTheHeal(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := start(t, 3, transport.NewMemBus(), lan(t, 3), true, map[string]string{pSinglePrimary: "OFF"}, nil)
		defer c.close()
		ctx := context.Background()
		if err := c.insert(ctx, 1, 1); err != nil {
			t.Fatal(err)
		}
		c.em.Partition([]string{"n1"}, []string{"n2", "n3"})
		done := make(chan error, 1)
		go func() { done <- c.insert(ctx, 1, 2) }()
		time.Sleep(2 * time.Second)
		select {
		case err := <-done:
			t.Fatalf("n2's commit returned without the raft leader: %v", err)
		default:
		}
		healed := time.Now()
		c.em.Heal()
		var err error
		waitUntil(t, 10*time.Second, "n2's commit after the heal", func() bool {
			select {
			case err = <-done:
				return true
			default:
				return false
			}
		})
		t.Logf("n2's commit returned %v after the heal: %v", time.Since(healed), err)
		if err != nil {
			t.Fatalf("n2's commit: %v, want it committed once the leader is reachable", err)
		}
		if !c.quiesce(ctx) {
			t.Fatal("members did not converge")
		}
	})
}

// Issue 16, point 1, the report's run in virtual time: multi-primary hotspot from every
// member, 20% message loss for 2 s. Every client finishes (a lost proposal is sent again,
// so a client BF-aborted while it waits for its verdict, and the applier waiting on its
// row lock, are released), the members stay ONLINE and converge.
func TestMultiPrimary_HotspotUnderLossFinishesAndConverges(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		nw := lan(t, 3)
		c := start(t, 3, transport.NewMemBus(), nw, true, map[string]string{pSinglePrimary: "OFF"}, nil)
		defer c.close()
		done := make(chan map[protocols.Cause]int, 1)
		go func() { done <- hotspot(t, c, 4, 200, 4) }()
		time.Sleep(10 * time.Millisecond)
		lossy := nw.Clone()
		lossy.Loss = 0.2
		c.em.SetNetwork(lossy)
		time.Sleep(2 * time.Second)
		c.em.SetNetwork(nw)
		var causes map[protocols.Cause]int
		took := waitUntil(t, 30*time.Second, "every hotspot client finished", func() bool {
			select {
			case causes = <-done:
				return true
			default:
				return false
			}
		})
		t.Logf("clients finished %v after the loss ended; errors by cause %v; %d messages lost", took, causes, c.em.Stats().Dropped.Loss)
		for cause := range causes {
			if cause != protocols.CauseCertification && cause != protocols.CauseBFAbort && cause != protocols.CauseDeadlock {
				t.Fatalf("unexpected error cause %s: %v", cause, causes)
			}
		}
		for i := range c.provs {
			if st := c.status(i, "MEMBER_STATE"); st != "ONLINE" {
				t.Fatalf("%s is %s", c.nodes[i], st)
			}
		}
		if !c.quiesce(context.Background()) {
			t.Fatal("members did not converge")
		}
	})
}
