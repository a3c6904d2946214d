package semisync

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"testing/synctest"
	"time"

	"github.com/replbench/replbench/protocols"
)

// Replicas apply with replica_parallel_workers workers after each write-set's dependency
// and commit in binlog order: 40 transactions on distinct rows that take 10 ms each to
// apply finish in 100 ms with 4 workers and 400 ms with none; on one hot row they depend
// on each other and take 400 ms whatever the workers.
func TestParallelApplier(t *testing.T) {
	for _, tc := range []struct {
		workers string
		hot     bool
		want    time.Duration
		busy    int
	}{
		{"4", false, 100 * time.Millisecond, 4},
		{"0", false, 400 * time.Millisecond, 1},
		{"4", true, 400 * time.Millisecond, 1},
	} {
		t.Run("workers="+tc.workers+"/hot="+strconv.FormatBool(tc.hot), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				c := newVCluster(t, 2, twoReplicas(0, 0), "async", map[string]string{ParamWorkers: tc.workers})
				defer c.close()
				c.apps[1].work = 10 * time.Millisecond
				start := time.Now()
				for i := range 40 {
					key := uint64(i)
					if tc.hot {
						key = 1
					}
					if err := c.commit(context.Background(), key, nil); err != nil {
						t.Fatal(err)
					}
				}
				c.converge(time.Second)
				if got := time.Since(start); got < tc.want || got > tc.want+10*time.Millisecond {
					t.Errorf("replica applied 40 transactions in %v, want %v (converge polls every 10 ms)", got, tc.want)
				}
				if c.apps[1].maxBusy != tc.busy {
					t.Errorf("%d write-sets applied at once, want %d", c.apps[1].maxBusy, tc.busy)
				}
			})
		})
	}
}

// SHOW REPLICA STATUS's lag: a replica that applies slower than the source commits falls
// behind in seconds (now minus the source commit time of the oldest unapplied event) and
// in transactions; both return to 0 once it has caught up.
func TestReplicaLagStatus(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newVCluster(t, 2, twoReplicas(time.Millisecond, 0), "async", map[string]string{ParamWorkers: "0"})
		defer c.close()
		c.apps[1].work = 100 * time.Millisecond
		for i := range 50 {
			if err := c.commit(context.Background(), uint64(i), nil); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(2*time.Second + 50*time.Millisecond) // 20 applied, the 21st in progress
		r := c.provs[1]
		if got := status(r, "Seconds_Behind_Source"); got != "2" {
			t.Errorf("Seconds_Behind_Source = %s, want 2", got)
		}
		if got := status(r, "Replica_transactions_behind"); got != "30" {
			t.Errorf("Replica_transactions_behind = %s, want 30", got)
		}
		c.converge(10 * time.Second)
		if got := status(r, "Seconds_Behind_Source") + "/" + status(r, "Replica_transactions_behind"); got != "0/0" {
			t.Errorf("lag after catching up = %s, want 0/0", got)
		}
	})
}

// replica_preserve_commit_order: with ON a replica commits in binlog order even when a
// later independent write-set is applied first; with OFF the faster one commits first.
func TestPreserveCommitOrder(t *testing.T) {
	for _, tc := range []struct {
		preserve string
		want     string
	}{{"ON", "[1 2]"}, {"OFF", "[2 1]"}} {
		t.Run(tc.preserve, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				c := newVCluster(t, 2, twoReplicas(0, 0), "async", map[string]string{ParamPreserve: tc.preserve})
				defer c.close()
				c.apps[1].workOf = func(ws *protocols.WriteSet) time.Duration {
					return time.Duration(3-ws.Seqno) * 10 * time.Millisecond // position 1 is the slower
				}
				for i := range 2 {
					if err := c.commit(context.Background(), uint64(i), nil); err != nil {
						t.Fatal(err)
					}
				}
				c.converge(time.Second)
				if got := fmt.Sprint(c.apps[1].order); got != tc.want {
					t.Fatalf("replica committed positions in order %s, want %s", got, tc.want)
				}
			})
		})
	}
}
