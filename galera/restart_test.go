package galera

import (
	"context"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/replbench/replbench/protocols"
	"github.com/replbench/replbench/protocols/transport"
)

func statusVar(p *Provider, name string) string {
	for _, v := range p.Status() {
		if v.Name == name {
			return v.Value
		}
	}
	return ""
}

// A node stopped and restarted rejoins by IST from a donor's gcache: it receives every
// write-set it missed, exactly once and in order, and the write-sets it applies from the IST
// pass through its receive queue like any other, so wsrep_local_recv_queue is back at 0 once
// they are applied (it went to minus the IST's length before enqueue counted them).
func TestRestartedNodeRejoinsByISTAndItsQueueBalances(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newVCluster(t, 3, transport.Network{Name: "lan0", Links: links("n1", []string{"n1", "n2", "n3"}, 100*time.Microsecond)}, nil)
		defer c.close()
		ctx := context.Background()
		for i := range 30 {
			if err := commitRow(ctx, c.ps[0], fmt.Sprint(i)); err != nil {
				t.Fatal(err)
			}
		}
		synctest.Wait()
		old := c.ps[1]
		old.Close()
		_ = old.ep.Close()
		// Its storage recovered three seqnos short of what it had delivered (still in its
		// appliers when it stopped): the IST must start right after the recovered position.
		recovered := old.LastCommitted() - 3
		for i := 30; i < 50; i++ {
			if err := commitRow(ctx, c.ps[0], fmt.Sprint(i)); err != nil {
				t.Fatal(err)
			}
		}
		ep, err := c.em.Attach("n2")
		if err != nil {
			t.Fatal(err)
		}
		ap := &fakeApplier{}
		pr, err := New(protocols.Config{Node: "n2", Members: c.name, Endpoint: ep, Applier: ap,
			Settings: testSettings(t, nil), Rejoin: true, Position: recovered})
		if err != nil {
			t.Fatal(err)
		}
		p := pr.(*Provider)
		c.ps[1], c.aps[1] = p, ap
		sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		if err := p.Start(sctx); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Second)
		synctest.Wait()
		if got := statusVar(p, "replbench_ist_received"); got != "1" {
			t.Fatalf("replbench_ist_received = %s, want 1 (last transfer: %s)", got, statusVar(p, "replbench_last_state_transfer"))
		}
		ap.mu.Lock()
		applied := append([]int64(nil), ap.applied...)
		ap.mu.Unlock()
		if int64(len(applied)) != 50-recovered {
			t.Fatalf("restarted at %d, applied %v, want %d..50 once each", recovered, applied, recovered+1)
		}
		for k, g := range applied {
			if g != recovered+1+int64(k) {
				t.Fatalf("applied %v, want %d..50 in order", applied, recovered+1)
			}
		}
		if q := statusVar(p, "wsrep_local_recv_queue"); q != "0" {
			t.Fatalf("wsrep_local_recv_queue = %s after the IST was applied, want 0", q)
		}
		if lc := p.LastCommitted(); lc != 50 {
			t.Fatalf("last committed %d, want 50", lc)
		}
	})
}

// The same with a client writing on n1 all through the restart: the write-sets delivered
// while n2 waits for its IST are queued and applied after it, with neither gap nor overlap
// at the boundary between the transfer and the live ones.
func TestRestartUnderLoadHasNoGapAtTheTransferBoundary(t *testing.T) {
	for seed := range 5 {
		synctest.Test(t, func(t *testing.T) {
			c := newVCluster(t, 3, transport.Network{Name: "lan0", Links: links("n1", []string{"n1", "n2", "n3"}, time.Duration(100+37*seed)*time.Microsecond)}, nil)
			defer c.close()
			ctx, stop := context.WithCancel(context.Background())
			done := make(chan int)
			go func() {
				n := 0
				for ; ctx.Err() == nil; n++ {
					if commitRow(context.Background(), c.ps[0], fmt.Sprint(n)) != nil {
						time.Sleep(time.Millisecond)
					}
				}
				done <- n
			}()
			time.Sleep(20 * time.Millisecond)
			old := c.ps[1]
			old.Close()
			_ = old.ep.Close()
			recovered := old.LastCommitted() - int64(seed%3)
			time.Sleep(50 * time.Millisecond)
			ep, err := c.em.Attach("n2")
			if err != nil {
				t.Fatal(err)
			}
			ap := &fakeApplier{}
			pr, err := New(protocols.Config{Node: "n2", Members: c.name, Endpoint: ep, Applier: ap,
				Settings: testSettings(t, nil), Rejoin: true, Position: recovered})
			if err != nil {
				t.Fatal(err)
			}
			p := pr.(*Provider)
			c.ps[1], c.aps[1] = p, ap
			sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := p.Start(sctx); err != nil {
				t.Fatal(err)
			}
			time.Sleep(30 * time.Millisecond)
			stop()
			<-done
			time.Sleep(time.Second)
			synctest.Wait()
			want := c.ps[0].LastCommitted()
			ap.mu.Lock()
			applied := append([]int64(nil), ap.applied...)
			ap.mu.Unlock()
			for k, g := range applied {
				if g != recovered+1+int64(k) {
					t.Fatalf("seed %d: restarted at %d, applied %v..., want %d..%d in order once each", seed, recovered, applied[:min(len(applied), k+3)], recovered+1, want)
				}
			}
			if got := p.LastCommitted(); got != want || int64(len(applied)) != want-recovered {
				t.Fatalf("seed %d: n2 at %d with %d applied since %d, n1 at %d (%s)", seed, got, len(applied), recovered, want, statusVar(p, "replbench_last_state_transfer"))
			}
			if q := statusVar(p, "wsrep_local_recv_queue"); q != "0" {
				t.Fatalf("seed %d: wsrep_local_recv_queue = %s, want 0", seed, q)
			}
		})
	}
}
