package semisync

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/replbench/replbench/internal/precise"
	"github.com/replbench/replbench/protocols"
	"github.com/replbench/replbench/protocols/prototest"
	"github.com/replbench/replbench/protocols/servicetime"
	"github.com/replbench/replbench/protocols/transport"
)

// newCostCluster is newVCluster with a cost profile on every node (innodb_flush_log_at_trx_commit=1),
// each node on a host of its own.
func newCostCluster(t *testing.T, n int, nw transport.Network, user map[string]string, prof *servicetime.Profile) *vcluster {
	t.Helper()
	c := &vcluster{t: t, em: transport.NewEmulator(transport.NewMemBus(), nw, transport.EmulatorOptions{Seed: 1, Virtual: true})}
	c.nodes = prototest.Nodes(n)
	ps := resolve(t, "semisync", user)
	for _, node := range c.nodes {
		ep, err := c.em.Attach(node)
		if err != nil {
			t.Fatal(err)
		}
		app := newFakeApplier()
		cost := servicetime.NewNode(prof, servicetime.NewHost(prof.Host.Cores), precise.Virtual{})
		if cost != nil {
			cost.FlushAtCommit = 1
		}
		pv, err := New(protocols.Config{Node: node, Members: c.nodes, Endpoint: ep, Applier: app, Settings: ps, Seed: 1, Cost: cost})
		if err != nil {
			t.Fatal(err)
		}
		c.provs = append(c.provs, pv.(*Provider))
		c.apps = append(c.apps, app)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := prototest.StartAll(ctx, c.provs); err != nil {
		t.Fatal(err)
	}
	return c
}

// staggered commits three transactions, the i-th submitted at i*gap, and returns when
// each one's Apply returned, from the start.
func staggered(t *testing.T, c *vcluster, gap time.Duration) [3]time.Duration {
	t.Helper()
	var out [3]time.Duration
	var wg sync.WaitGroup
	start := time.Now()
	for i := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			time.Sleep(time.Duration(i) * gap)
			if err := c.commit(context.Background(), uint64(i), nil); err != nil {
				t.Error(err)
			}
			out[i] = time.Since(start)
		}()
	}
	wg.Wait()
	return out
}

// Each flavour's AFTER_SYNC wait is held where its source holds it (real-servers.md 2 and
// 3). Three transactions arrive 1 ms apart; the replica is 25 ms away each way (R = 50 ms),
// no stage costs anything:
//   - MySQL, binlog_order_commits=ON: T1 waits in the commit stage under LOCK_commit until
//     50 ms. T2 and T3 flush and sync at once (their events leave at 1 and 2 ms) and queue
//     for LOCK_commit; when T1 releases it they are one commit-stage group, whose one wait
//     is for T3's ack: both finish at 52 ms.
//   - MySQL, OFF: no commit stage; each sync group waits holding no stage mutex: 50, 51, 52.
//   - MariaDB: T1's leader waits under LOCK_after_binlog_sync; T2's leader writes (its
//     event leaves at 1 ms) and blocks on that lock still holding LOCK_log, so T3 cannot
//     even write until T1's ack at 50 ms: T2 finishes at 51 ms and T3 one round trip after
//     its write, at 100 ms.
func TestAfterSyncLockPerFlavour(t *testing.T) {
	const D = 25 * time.Millisecond
	ms := time.Millisecond
	for _, tc := range []struct {
		name string
		user map[string]string
		want [3]time.Duration
	}{
		{"mysql-8.0/order_commits=ON", map[string]string{protocols.FlavorParam: "mysql-8.0"}, [3]time.Duration{50 * ms, 52 * ms, 52 * ms}},
		{"mysql-8.0/order_commits=OFF", map[string]string{protocols.FlavorParam: "mysql-8.0", ParamOrderCommit: "OFF"}, [3]time.Duration{50 * ms, 51 * ms, 52 * ms}},
		{"mysql-5.7", map[string]string{protocols.FlavorParam: "mysql-5.7"}, [3]time.Duration{50 * ms, 52 * ms, 52 * ms}},
		{"mariadb-10.11", map[string]string{protocols.FlavorParam: "mariadb-10.11", ParamWaitPoint: "AFTER_SYNC"}, [3]time.Duration{50 * ms, 51 * ms, 100 * ms}},
		// AFTER_COMMIT waits after every lock is released: each its own round trip.
		{"mariadb-10.11/AFTER_COMMIT", map[string]string{protocols.FlavorParam: "mariadb-10.11"}, [3]time.Duration{50 * ms, 51 * ms, 52 * ms}},
		{"mysql-8.0/AFTER_COMMIT", map[string]string{protocols.FlavorParam: "mysql-8.0", ParamWaitPoint: "AFTER_COMMIT"}, [3]time.Duration{50 * ms, 51 * ms, 52 * ms}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				c := newVCluster(t, 2, twoReplicas(D, D), "semisync", tc.user)
				defer c.close()
				if got := staggered(t, c, ms); got != tc.want {
					t.Fatalf("T1..T3 finished at %v, want exactly %v", got, tc.want)
				}
				c.converge(time.Second)
			})
		})
	}
}

// fsyncProfile costs one binlog fsync of F per group and nothing else.
func fsyncProfile(f time.Duration) *servicetime.Profile {
	p := &servicetime.Profile{Name: "binlog-fsync", Host: servicetime.HostCosts{Cores: 2}}
	p.Commit.BinlogFsyncUs = float64(f.Microseconds())
	return p
}

// Per-group service time: with sync_binlog=1 every group's sync costs one binlog fsync F
// on the source's binlog device, queued there (servicetime.Disk), and nothing else costs
// anything. One client pays exactly R + F per commit. Eight clients that start together
// split into two groups: T1 alone (its sync starts at once), then the seven that queued
// behind that fsync. From then on each half is released by its own ack and resubmits at
// once: at best two groups and eight commits per R + F, the last at per*(R+F) + F. In
// virtual time the clients a group releases come back one after another at one instant,
// and a free sync stage starts on the first of them, so a bunch can split in two (its
// first member alone, the rest one fsync later): at most per*(R+2F) + F, four groups per
// round. Both bounds hold for MySQL at either wait point and for MariaDB's AFTER_COMMIT;
// MariaDB's AFTER_SYNC goes beyond them once a bunch splits, since the split-off third
// group cannot write until the first group's ack (TestAfterSyncLockPerFlavour).
func TestGroupFsyncPerRoundTrip(t *testing.T) {
	const D, F = 5 * time.Millisecond, time.Millisecond
	const R = 2 * D
	const per = 10
	for _, fl := range []string{"mysql-8.0", "mariadb-10.11"} {
		for _, wp := range []string{"AFTER_SYNC", "AFTER_COMMIT"} {
			for _, th := range []int{1, 8} {
				t.Run(fl+"/"+wp+"/"+strconv.Itoa(th), func(t *testing.T) {
					synctest.Test(t, func(t *testing.T) {
						c := newCostCluster(t, 2, twoReplicas(D, D), map[string]string{protocols.FlavorParam: fl, ParamWaitPoint: wp, ParamSyncBinlog: "1"}, fsyncProfile(F))
						defer c.close()
						el := runThreads(t, c, th, per)
						g, _ := strconv.Atoi(status(c.provs[0], "Binlog_group_commits"))
						t.Logf("%d threads x %d commits: %v, %d groups", th, per, el, g)
						if th == 1 {
							if want := per * (R + F); el != want {
								t.Fatalf("one client: %d commits took %v, want exactly %v", per, el, want)
							}
							return
						}
						lo, hi := per*(R+F)+F, per*(R+2*F)+F
						if fl == "mariadb-10.11" && wp == "AFTER_SYNC" {
							if el <= hi {
								t.Fatalf("MariaDB AFTER_SYNC took %v, want more than MySQL's worst %v (the third group waits)", el, hi)
							}
							return
						}
						if el < lo || el > hi {
							t.Fatalf("took %v, want %v..%v", el, lo, hi)
						}
						// AFTER_COMMIT's sessions are released one by one, by their own acks,
						// so its groups are whoever happened to flush together.
						if wp == "AFTER_SYNC" && (g < 2*per || g > 4*per) {
							t.Errorf("%d binlog groups, want %d..%d", g, 2*per, 4*per)
						}
					})
				})
			}
		}
	}
}

// thinkProfile is a server whose commit path spreads the clients out: a redo fsync at
// prepare (MariaDB per transaction, group-committed; MySQL once per flush group), a binlog
// fsync per group and a client round trip before each transaction, as a LAN client pays.
func thinkProfile() *servicetime.Profile {
	p := &servicetime.Profile{Name: "think", Host: servicetime.HostCosts{Cores: 2}}
	p.Commit.RedoFsyncUs = 700
	p.Commit.BinlogFsyncUs = 700
	return p
}

// With the clients' arrivals spread out by a redo fsync at prepare, a binlog fsync per
// group and 100 us between a client's commits, the pipelines part: MySQL's AFTER_SYNC
// completes about two groups per round trip (the ack waits do not overlap, but any number
// of groups flush and sync meanwhile and merge into the next commit-stage group), close to
// AFTER_COMMIT's c per round trip; MariaDB's lets only one group write while another waits,
// so a client released just after a group began writing waits for the group after it:
// about 1.5 round trips per commit at 8 and 32 clients. AFTER_COMMIT is the same on both.
// The figures are virtual time; bounds are loose where goroutines meet at one instant.
func TestPipelineWithThinkTime(t *testing.T) {
	const D = 5 * time.Millisecond
	const R = 2 * D
	const per = 20
	type key struct {
		fl, wp string
		th     int
	}
	got := map[key]float64{}
	grp := map[key]float64{}
	for _, fl := range []string{"mysql-8.0", "mariadb-10.11"} {
		for _, wp := range []string{"AFTER_SYNC", "AFTER_COMMIT"} {
			for _, th := range []int{1, 8, 32} {
				synctest.Test(t, func(t *testing.T) {
					c := newCostCluster(t, 2, twoReplicas(D, D), map[string]string{protocols.FlavorParam: fl, ParamWaitPoint: wp, ParamSyncBinlog: "1"}, thinkProfile())
					defer c.close()
					var wg sync.WaitGroup
					start := time.Now()
					for i := range th {
						wg.Add(1)
						go func() {
							defer wg.Done()
							for j := range per {
								time.Sleep(100 * time.Microsecond)
								if err := c.commit(context.Background(), uint64(i*1000+j), nil); err != nil {
									t.Error(err)
									return
								}
							}
						}()
					}
					wg.Wait()
					el := time.Since(start)
					g, _ := strconv.Atoi(status(c.provs[0], "Binlog_group_commits"))
					k := key{fl, wp, th}
					got[k] = float64(th*per) * float64(R) / float64(el)
					grp[k] = float64(g) * float64(R) / float64(el)
					t.Logf("%s %s c=%d: %v for %d commits: %.2f commits and %.2f groups per round trip", fl, wp, th, el, th*per, got[k], grp[k])
					if th == 1 {
						// One client: R + the redo fsync + the binlog fsync + the 100 us pause.
						if want := per * (R + 1500*time.Microsecond); el != want {
							t.Errorf("one client took %v, want exactly %v", el, want)
						}
					}
				})
			}
		}
	}
	for _, th := range []int{8, 32} {
		ms, mc := got[key{"mysql-8.0", "AFTER_SYNC", th}], got[key{"mysql-8.0", "AFTER_COMMIT", th}]
		as, ac := got[key{"mariadb-10.11", "AFTER_SYNC", th}], got[key{"mariadb-10.11", "AFTER_COMMIT", th}]
		if g := grp[key{"mysql-8.0", "AFTER_SYNC", th}]; g < 1.5 || g > 2.05 {
			t.Errorf("c=%d: MySQL AFTER_SYNC %.2f groups per round trip, want about two (1.5..2)", th, g)
		}
		if g := grp[key{"mariadb-10.11", "AFTER_SYNC", th}]; g < 1.5 || g > 2.05 {
			t.Errorf("c=%d: MariaDB AFTER_SYNC %.2f groups per round trip, want about two (1.5..2)", th, g)
		}
		// AFTER_COMMIT: about c per round trip (less the local costs, R/(R+1.5 ms) at most).
		for _, x := range []float64{mc, ac} {
			if lo := 0.75 * float64(th); x < lo || x > float64(th) {
				t.Errorf("c=%d: AFTER_COMMIT %.2f commits per round trip, want about c (%.1f..%d)", th, x, lo, th)
			}
		}
		if ms < 0.75*float64(th) {
			t.Errorf("c=%d: MySQL AFTER_SYNC %.2f commits per round trip, want close to c", th, ms)
		}
		// MariaDB's third group waits: about 1.5 round trips per commit.
		if r := as / ms; r < 0.55 || r > 0.8 {
			t.Errorf("c=%d: MariaDB AFTER_SYNC / MySQL AFTER_SYNC = %.2f, want about 2/3 (0.55..0.8)", th, r)
		}
	}
}
