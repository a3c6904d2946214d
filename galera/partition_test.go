package galera

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/replbench/replbench/protocols"
	"github.com/replbench/replbench/protocols/transport"
)

func wantStatus(t *testing.T, p *Provider, name, want string) {
	t.Helper()
	if got := status(p, name); got != want {
		t.Fatalf("%s: %s=%s, want %s", p.cfg.Node, name, got, want)
	}
}

func isNotReady(err error) bool {
	var me *protocols.Error
	return errors.As(err, &me) && me.Code == protocols.ErUnknownCommand
}

// waitSynced polls (in virtual time) until p reports Synced in a primary component of
// size members, or fails after limit.
func waitSynced(t *testing.T, p *Provider, size int, limit time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for status(p, "wsrep_local_state_comment") != "Synced" || status(p, "wsrep_ready") != "ON" ||
		status(p, "wsrep_cluster_size") != fmt.Sprint(size) {
		if time.Since(start) > limit {
			t.Fatalf("%s not Synced after %v: %s", p.cfg.Node, limit,
				statusOf(p, "wsrep_local_state_comment", "wsrep_cluster_status", "wsrep_cluster_size", "wsrep_evs_state"))
		}
		time.Sleep(10 * time.Millisecond)
	}
	return time.Since(start)
}

// Three nodes, writer n1; n3 is 50 ms away (one-way) from everyone, n2 is 5 ms away.
// Before the partition a commit costs the longest path, n1 -> n3 -> n2 -> n1: 105 ms. With n3
// partitioned away, commits stall until the suspect timeout (5 s), then n1 and n2 form a
// primary component of two and commits resume at the new longest path, 10 ms. n3, alone,
// is non-primary: its in-flight transaction fails with 1047 and it refuses new work. After
// the heal n3 merges back, catches up by IST, and the cluster converges.
func TestPartitionMinorityNonPrimaryThenISTRejoin(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		members := []string{"n1", "n2", "n3"}
		lk := links("n3", members, 50*time.Millisecond)
		lk[transport.Link{From: "n1", To: "n2"}] = 5 * time.Millisecond
		lk[transport.Link{From: "n2", To: "n1"}] = 5 * time.Millisecond
		em := transport.NewEmulator(transport.NewMemBus(), transport.Network{Links: lk}, transport.EmulatorOptions{Virtual: true})
		c := newDBCluster(t, 3, em, nil)
		defer c.close()
		ctx := context.Background()
		p1, p3 := c.ps[0], c.ps[2]

		// Before: 100 ms per commit.
		const before = 10
		start := time.Now()
		for range before {
			if err := increment(ctx, c.dbs[0]); err != nil {
				t.Fatal(err)
			}
		}
		within(t, "commit before the partition", time.Since(start)/before, 105*time.Millisecond, 0.01)
		wantStatus(t, p1, "wsrep_cluster_conf_id", "1")

		em.Partition([]string{"n1", "n2"}, []string{"n3"})
		cutAt := time.Now()
		// A transaction in flight on n3 when it is cut off.
		n3err := make(chan error, 1)
		go func() { n3err <- insert(ctx, c.dbs[2], "n3") }()
		// The writer's next commit waits for the view change.
		if err := increment(ctx, c.dbs[0]); err != nil {
			t.Fatal(err)
		}
		stall := time.Since(cutAt)
		// n3 is suspected 5 s after it was last heard (its last fill, just before the cut),
		// on a 100 ms tick; then one JOIN/INSTALL round and one state exchange between n1
		// and n2 (10 ms round trips) and the commit itself.
		t.Logf("first commit after the partition took %v (evs.suspect_timeout 5s + view change + state exchange)", stall)
		if stall < 4800*time.Millisecond || stall > 5300*time.Millisecond {
			t.Fatalf("commit stalled %v; want the suspect timeout (5 s, from n3's last message, on a 100 ms tick) plus a few 10 ms rounds", stall)
		}
		// After: the longest path among n1, n2 is 10 ms, once the view change's own traffic
		// (the state exchange's last acks) is out of the way: the first commit overlaps it.
		start = time.Now()
		if err := increment(ctx, c.dbs[0]); err != nil {
			t.Fatal(err)
		}
		t.Logf("the next commit: %v", time.Since(start))
		const after = 20
		start = time.Now()
		for range after {
			if err := increment(ctx, c.dbs[0]); err != nil {
				t.Fatal(err)
			}
		}
		within(t, "commit in the primary component {n1,n2}", time.Since(start)/after, 10*time.Millisecond, 0.01)
		wantStatus(t, p1, "wsrep_cluster_status", "Primary")
		wantStatus(t, p1, "wsrep_cluster_size", "2")
		wantStatus(t, p1, "wsrep_cluster_conf_id", "2")
		wantStatus(t, p1, "wsrep_local_state_comment", "Synced")

		if err := <-n3err; !isNotReady(err) {
			t.Fatalf("n3's in-flight transaction: %v, want 1047", err)
		}
		wantStatus(t, p3, "wsrep_cluster_status", "non-Primary")
		wantStatus(t, p3, "wsrep_cluster_size", "1")
		wantStatus(t, p3, "wsrep_cluster_conf_id", "-1")
		wantStatus(t, p3, "wsrep_ready", "OFF")
		wantStatus(t, p3, "wsrep_local_state_comment", "Initialized")
		if err := p3.BeforeRead(ctx); !isNotReady(err) {
			t.Fatalf("n3 BeforeRead: %v, want 1047", err)
		}
		if err := p3.BeforeWrite(ctx); !isNotReady(err) {
			t.Fatalf("n3 BeforeWrite: %v, want 1047", err)
		}

		em.Heal()
		took := waitSynced(t, p3, 3, 10*time.Second)
		t.Logf("n3 Synced %v after the heal; %s", took, status(p3, "replbench_last_state_transfer"))
		wantStatus(t, p3, "replbench_ist_received", "1")
		wantStatus(t, p3, "replbench_sst_received", "0")
		wantStatus(t, p3, "wsrep_cluster_size", "3")
		wantStatus(t, p1, "wsrep_cluster_conf_id", "3")
		wantStatus(t, p3, "wsrep_cluster_conf_id", "3")
		// n3 serves again, and everything converges.
		if err := increment(ctx, c.dbs[2]); err != nil {
			t.Fatalf("n3 after rejoining: %v", err)
		}
		// n1 reads n3's change causally (wsrep_sync_wait), or its update would conflict.
		if err := p1.SyncWait(ctx); err != nil {
			t.Fatal(err)
		}
		if err := increment(ctx, c.dbs[0]); err != nil {
			t.Fatal(err)
		}
		c.converge(t)
		if got, want := counter(t, c.dbs[2]), int64(before+2+after+2); got != want {
			t.Fatalf("counter on n3 is %d, want %d", got, want)
		}
	})
}

// gcache.size too small for the gap: the rejoining node gets an SST (a snapshot of the
// donor's storage) instead of IST, and still converges.
func TestSmallGCacheForcesSST(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		em := transport.NewEmulator(transport.NewMemBus(), transport.Network{Base: time.Millisecond}, transport.EmulatorOptions{Virtual: true})
		c := newDBCluster(t, 3, em, map[string]string{ParamGCacheSize: "1K"})
		defer c.close()
		ctx := context.Background()
		for range 5 {
			if err := increment(ctx, c.dbs[0]); err != nil {
				t.Fatal(err)
			}
		}
		em.Partition([]string{"n1", "n2"}, []string{"n3"})
		for range 60 {
			if err := increment(ctx, c.dbs[0]); err != nil {
				t.Fatal(err)
			}
		}
		wantStatus(t, c.ps[2], "wsrep_cluster_status", "non-Primary")
		t.Logf("donor %s", statusOf(c.ps[0], "wsrep_local_cached_downto", "wsrep_last_committed"))
		em.Heal()
		waitSynced(t, c.ps[2], 3, 10*time.Second)
		t.Logf("n3: %s", status(c.ps[2], "replbench_last_state_transfer"))
		wantStatus(t, c.ps[2], "replbench_sst_received", "1")
		wantStatus(t, c.ps[2], "replbench_ist_received", "0")
		for range 4 {
			if err := increment(ctx, c.dbs[0]); err != nil {
				t.Fatal(err)
			}
		}
		if err := insert(ctx, c.dbs[2], "n3"); err != nil {
			t.Fatalf("n3 after the SST: %v", err)
		}
		c.converge(t)
		if got := counter(t, c.dbs[2]); got != 69 {
			t.Fatalf("counter on n3 is %d, want 69", got)
		}
	})
}

// Four nodes split 2|2: by the quorum rule neither half is primary and both refuse work.
// With pc.weight=2 on n1, n1's half (weight 3 of 5) keeps the primary component.
func TestTwoTwoSplitAndWeight(t *testing.T) {
	for _, w := range []string{"1", "2"} {
		t.Run("pc.weight(n1)="+w, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				em := transport.NewEmulator(transport.NewMemBus(), transport.Network{Base: time.Millisecond}, transport.EmulatorOptions{Virtual: true})
				var names []string
				for i := range 4 {
					names = append(names, fmt.Sprintf("n%d", i+1))
				}
				var ps []*Provider
				for _, node := range names {
					ep, err := em.Attach(node)
					if err != nil {
						t.Fatal(err)
					}
					params := map[string]string{}
					if node == "n1" {
						params[ParamWeight] = w
					}
					pr, err := New(protocols.Config{Node: node, Members: names, Endpoint: ep, Applier: &fakeApplier{}, Settings: testSettings(t, params)})
					if err != nil {
						t.Fatal(err)
					}
					ps = append(ps, pr.(*Provider))
				}
				for _, p := range ps {
					if err := p.Start(context.Background()); err != nil {
						t.Fatal(err)
					}
				}
				defer func() {
					for _, p := range ps {
						p.Close()
					}
					em.Close()
				}()
				ctx := context.Background()
				if err := commitRow(ctx, ps[0], "a"); err != nil {
					t.Fatal(err)
				}
				wantStatus(t, ps[0], "wsrep_cluster_weight", map[string]string{"1": "4", "2": "5"}[w])
				em.Partition([]string{"n1", "n2"}, []string{"n3", "n4"})
				time.Sleep(8 * time.Second)
				firstPrimary := w == "2"
				for i, p := range ps {
					want := "non-Primary"
					if firstPrimary && i < 2 {
						want = "Primary"
					}
					wantStatus(t, p, "wsrep_cluster_status", want)
					wantStatus(t, p, "wsrep_cluster_size", "2")
					err := commitRow(ctx, p, fmt.Sprintf("x%d", i))
					if want == "Primary" && err != nil {
						t.Fatalf("%s in the primary half: %v", p.cfg.Node, err)
					}
					if want != "Primary" && !isNotReady(err) {
						t.Fatalf("%s in a non-primary half: %v, want 1047", p.cfg.Node, err)
					}
				}
				em.Heal()
				for _, p := range ps {
					waitSynced(t, p, 4, 10*time.Second)
					wantStatus(t, p, "wsrep_cluster_size", "4")
				}
				if err := commitRow(ctx, ps[3], "after"); err != nil {
					t.Fatal(err)
				}
				time.Sleep(time.Second)
				last := ps[0].LastCommitted()
				for _, p := range ps[1:] {
					if p.LastCommitted() != last {
						t.Fatalf("%s last committed %d, n1 %d", p.cfg.Node, p.LastCommitted(), last)
					}
				}
			})
		})
	}
}
