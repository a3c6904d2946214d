package galera

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/replbench/replbench/protocols"
	"github.com/replbench/replbench/protocols/transport"
	"github.com/replbench/replbench/storage"
)

// A client whose ctx ends while Replicate waits must get its answer at once (in virtual
// time: no time passes between the cancellation and the return), and the write-set's
// fate must be the same on every node: withdrawn before it left (nobody commits it), or,
// once it has left, certified and applied here like a remote write-set wherever the
// others commit it. Each case ends with the cluster converged; synctest fails the test
// if a goroutine is left behind after the cluster closed.
func TestCancelledClientReturnsAndClusterConverges(t *testing.T) {
	const hop = 20 * time.Millisecond // one-way delay of every link; a commit costs 3 hops
	cases := []struct {
		name string
		// run starts the clients, ends their ctx and returns what each client got and
		// how long after its ctx ended.
		run func(t *testing.T, c *dbCluster, em *transport.Emulator) ([]error, []time.Duration)
		// counter and rows every node must hold once converged
		counter, rows int64
		// withdrawn / detached on n1; -1: only both at least 1 and 4 in all, and every
		// detached one committed as an events row
		withdrawn, detached int64
	}{
		{
			// No fault: the client's deadline (1.5 hops) ends before the 3-hop commit. The
			// write-set has left, so every node, n1 included, commits it.
			name: "deadline while in flight",
			run: func(t *testing.T, c *dbCluster, _ *transport.Emulator) ([]error, []time.Duration) {
				ctx, cancel := context.WithTimeout(context.Background(), hop*3/2)
				defer cancel()
				err := increment(ctx, c.dbs[0])
				return []error{err}, []time.Duration{sinceDeadline(ctx)}
			},
			counter: 1, withdrawn: 0, detached: 1,
		},
		{
			// n1 is cut off after n2 and n3 received its write-set but before their
			// acknowledgements reached n1: it is never safe in the old view. The client
			// gives up; 5 s later n2 and n3 form a primary component and commit it in the
			// transitional delivery; n1, non-primary, gets it back by IST after the heal
			// and applies it as a remote write-set.
			name: "partition after the others received it",
			run: func(t *testing.T, c *dbCluster, em *transport.Emulator) ([]error, []time.Duration) {
				for range 3 { // history, so that the gap is served from gcache (IST)
					if err := increment(context.Background(), c.dbs[0]); err != nil {
						t.Fatal(err)
					}
				}
				before := c.ps[0].LastCommitted()
				ctx, cancel := context.WithCancel(context.Background())
				errc := make(chan error, 1)
				go func() { errc <- increment(ctx, c.dbs[0]) }()
				time.Sleep(hop * 3 / 2)
				em.Partition([]string{"n1"}, []string{"n2", "n3"})
				time.Sleep(300 * time.Millisecond)
				cancel()
				at := time.Now()
				err := <-errc
				took := time.Since(at)
				time.Sleep(6 * time.Second) // suspect timeout and view change on both sides
				if got := counter(t, c.dbs[1]); got != 4 {
					t.Errorf("n2 in the primary component: counter %d, want 4 (transitional delivery)", got)
				}
				if got := c.ps[0].LastCommitted(); got != before {
					t.Errorf("n1, non-primary: last committed %d, want %d until it rejoins", got, before)
				}
				wantStatus(t, c.ps[0], "wsrep_cluster_status", "non-Primary")
				em.Heal()
				waitSynced(t, c.ps[0], 3, 10*time.Second)
				wantStatus(t, c.ps[0], "replbench_ist_received", "1")
				return []error{err}, []time.Duration{took}
			},
			counter: 4, withdrawn: 0, detached: 1,
		},
		{
			// n1 is cut off before four clients commit: evs.user_send_window lets two
			// write-sets leave, the other two queue until the next tick (then
			// evs.send_window would let them go). All four give up: the queued ones are
			// withdrawn, the two that left are detached. The heal comes before the suspect
			// timeout, n1 resends its unsafe messages, and every node commits those two.
			name: "partition before sending: queued ones withdrawn",
			run: func(t *testing.T, c *dbCluster, em *transport.Emulator) ([]error, []time.Duration) {
				em.Partition([]string{"n1"}, []string{"n2", "n3"})
				ctx, cancel := context.WithCancel(context.Background())
				const clients = 4
				errs := make([]error, clients)
				var wg sync.WaitGroup
				for i := range clients {
					wg.Go(func() { errs[i] = insert(ctx, c.dbs[0], "n1") })
					synctest.Wait() // in order, so that the first two take the window
				}
				time.Sleep(50 * time.Millisecond) // before the next EVS tick flushes the queue
				cancel()
				at := time.Now()
				wg.Wait()
				took := time.Since(at)
				em.Heal()
				return errs, []time.Duration{took}
			},
			withdrawn: -1, detached: -1,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				em := transport.NewEmulator(transport.NewMemBus(), transport.Network{Base: hop}, transport.EmulatorOptions{Virtual: true})
				c := newDBCluster(t, 3, em, nil)
				defer c.close()
				errs, took := tc.run(t, c, em)
				for i, err := range errs {
					var me *protocols.Error
					if !errors.As(err, &me) || me.Code != protocols.ErQueryInterrupted {
						t.Fatalf("client %d got %v, want 1317 (interrupted)", i, err)
					}
				}
				for _, d := range took {
					if d != 0 {
						t.Fatalf("clients returned %v after their ctx ended, want at once (0 in virtual time)", d)
					}
				}
				withdrawn, _ := strconv.ParseInt(status(c.ps[0], "replbench_local_withdrawn"), 10, 64)
				detached, _ := strconv.ParseInt(status(c.ps[0], "replbench_local_detached"), 10, 64)
				wantRows := tc.rows
				if tc.withdrawn < 0 {
					if withdrawn < 1 || detached < 1 || withdrawn+detached != int64(len(errs)) {
						t.Fatalf("n1 withdrew %d and detached %d of %d write-sets; want both kinds", withdrawn, detached, len(errs))
					}
					wantRows = detached
				} else if withdrawn != tc.withdrawn || detached != tc.detached {
					t.Fatalf("n1 withdrew %d and detached %d write-sets; want %d and %d", withdrawn, detached, tc.withdrawn, tc.detached)
				}
				// The node still serves: one more commit from n1, then everything converges.
				if err := retry(func() error { return increment(context.Background(), c.dbs[0]) }); err != nil {
					t.Fatalf("n1 after the cancellation: %v", err)
				}
				c.converge(t)
				t.Logf("n1: %s", statusOf(c.ps[0], "replbench_local_withdrawn", "replbench_local_detached", "replbench_detached_conflicts"))
				for i, db := range c.dbs {
					if got := counter(t, db); got != tc.counter+1 {
						t.Errorf("n%d: counter %d, want %d", i+1, got, tc.counter+1)
					}
					if got := rows(t, db, "events"); got != wantRows {
						t.Errorf("n%d: %d events rows, want %d", i+1, got, wantRows)
					}
				}
			})
		})
	}
}

// retry runs f until it succeeds or fails with an error a client would not retry, backing
// off 1 ms between attempts (in virtual time, a retry loop without a pause would never let
// the clock move).
func retry(f func() error) error {
	for {
		err := f()
		if err == nil || !protocols.Retryable(err) {
			return err
		}
		time.Sleep(time.Millisecond)
	}
}

// sinceDeadline is how long ago ctx's deadline passed.
func sinceDeadline(ctx context.Context) time.Duration {
	d, _ := ctx.Deadline()
	return time.Since(d)
}

func rows(t testing.TB, db *storage.Engine, table string) int64 {
	t.Helper()
	tx := db.Begin()
	defer tx.Rollback()
	var n int64
	if err := tx.Scan(context.Background(), table, storage.ScanOptions{}, func(storage.Row) bool { n++; return true }); err != nil {
		t.Fatal(fmt.Errorf("counting %s: %w", table, err))
	}
	return n
}
