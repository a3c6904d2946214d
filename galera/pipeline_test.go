package galera

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/replbench/replbench/protocols"
	"github.com/replbench/replbench/protocols/servicetime"
	"github.com/replbench/replbench/protocols/transport"
)

// costCluster is newVCluster with every node charging the given profile (its own host,
// unlimited cores, its own redo device, innodb_flush_log_at_trx_commit=1), on a network with
// no delay, so that the service times alone decide the throughput.
func costCluster(t *testing.T, prof *servicetime.Profile, params map[string]string, prepare time.Duration) (*vcluster, []*servicetime.Node) {
	t.Helper()
	c := &vcluster{em: transport.NewEmulator(transport.NewMemBus(), transport.Network{Name: "lan0"}, transport.EmulatorOptions{Virtual: true, Seed: 1})}
	c.name = []string{"n1", "n2", "n3"}
	var costs []*servicetime.Node
	for _, node := range c.name {
		ep, err := c.em.Attach(node)
		if err != nil {
			t.Fatal(err)
		}
		cost := servicetime.NewNode(prof, servicetime.NewHost(0), nil)
		cost.FlushAtCommit = 1
		costs = append(costs, cost)
		ap := &fakeApplier{prepare: prepare}
		pr, err := New(protocols.Config{Node: node, Members: c.name, Endpoint: ep, Applier: ap, Settings: testSettings(t, params), Cost: cost})
		if err != nil {
			t.Fatal(err)
		}
		c.ps = append(c.ps, pr.(*Provider))
		c.aps = append(c.aps, ap)
	}
	for _, p := range c.ps {
		if err := p.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	return c, costs
}

// The commit pipeline under the service-time model, exactly, in virtual time. Each commit
// costs a redo flush F on every node and each applied row A on the replicas. On the
// originator the flush comes after commit order is released, so c concurrent committers
// share flushes (group commit) and are never capped at 1/F. A replica's single applier
// (wsrep_slave_threads=1) pays apply and flush per write-set in turn, as MariaDB's applier
// thread does (on a real 3-node cluster here, oltp_insert at 8 threads: n2 and n3 did one
// fsync per applied transaction, Innodb_data_fsyncs = wsrep_last_committed, and their flow
// control paused the writer 44 % of the time): flow control then holds the cluster at
// 1/(A+F). With four appliers their flushes group-commit too and the cap rises above 1/F.
// The engine's own apply work (here 30 us, less than A) overlaps the booked apply time and
// adds nothing.
func TestCommitPipelineServiceTimesVirtualTime(t *testing.T) {
	const A, F = 100, 500 // microseconds
	prof := &servicetime.Profile{Name: "t",
		Commit:      servicetime.CommitCosts{RedoFsyncUs: F},
		Replication: servicetime.ReplicationCosts{ApplyRowUs: A}}
	run := func(t *testing.T, clients int, params map[string]string) (tps float64, originFlushes, originCommits int64) {
		synctest.Test(t, func(t *testing.T) {
			c, costs := costCluster(t, prof, params, 30*time.Microsecond)
			defer c.close()
			const span = 2 * time.Second
			ctx, cancel := context.WithTimeout(context.Background(), span)
			defer cancel()
			var mu sync.Mutex
			done := 0
			var wg sync.WaitGroup
			for th := range clients {
				wg.Go(func() {
					for i := 0; ctx.Err() == nil; i++ {
						if commitRow(context.Background(), c.ps[0], fmt.Sprintf("%d-%d", th, i)) == nil && ctx.Err() == nil {
							mu.Lock()
							done++
							mu.Unlock()
						}
					}
				})
			}
			wg.Wait()
			tps = float64(done) / span.Seconds()
			originFlushes, originCommits = costs[0].Redo.Counts()
			synctest.Wait()
		})
		return
	}
	applierCap := 1e6 / float64(A+F)
	// Within 2 %: the write-sets still in the replicas' receive queues (at most gcs.fc_limit)
	// are counted at the window's edge.
	near := func(got, want float64) bool { return got < want*1.02 && got > want*0.98 }
	t.Run("one client pays one flush per commit", func(t *testing.T) {
		tps, fl, req := run(t, 1, nil)
		t.Logf("1 client: %.0f tps (1/F = %.0f, 1/(A+F) = %.0f), origin %d flushes for %d commits", tps, 1e6/F, applierCap, fl, req)
		if fl != req {
			t.Fatalf("one client: %d flushes for %d commits, want one each", fl, req)
		}
		// The client could commit every F, the replicas apply one every A+F: flow control
		// holds the client to the replicas.
		if !near(tps, applierCap) {
			t.Fatalf("one client: %.0f tps, want 1/(A+F) = %.0f", tps, applierCap)
		}
	})
	t.Run("one applier per replica caps at 1/(A+F)", func(t *testing.T) {
		tps, fl, req := run(t, 8, nil)
		t.Logf("8 clients, wsrep_slave_threads=1: %.0f tps (1/(A+F) = %.0f), origin %d flushes for %d commits", tps, applierCap, fl, req)
		if !near(tps, applierCap) {
			t.Fatalf("%.0f tps, want the applier's 1/(A+F) = %.0f", tps, applierCap)
		}
		if fl*2 > req {
			t.Fatalf("origin did %d flushes for %d commits: its flush is not group-committed", fl, req)
		}
	})
	t.Run("four appliers group-commit their flushes", func(t *testing.T) {
		tps, _, _ := run(t, 8, map[string]string{"wsrep_slave_threads": "4"})
		t.Logf("8 clients, wsrep_slave_threads=4: %.0f tps (1/F = %.0f)", tps, 1e6/F)
		if tps < 1.5e6/F {
			t.Fatalf("%.0f tps with four appliers, want well above 1/F = %.0f", tps, 1e6/F)
		}
	})
}
