package semisync

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/replbench/replbench/protocols"
)

// Sessions blocked on an ack by a partition are killed (their ctx ends): each returns at
// once (no virtual time passes) with 1317, every transaction that reached the binlog has
// committed on the source, and the source keeps serving: after the heal the next commit
// costs one round trip again and the replicas converge on the source's data. A session
// still waiting for the serialised binlog lock is withdrawn instead and never commits.
// synctest fails the test if a goroutine is left behind after the cluster closed.
func TestKilledSessionsReturnAndSourceKeepsServing(t *testing.T) {
	const D = 5 * time.Millisecond // one-way delay to each replica
	cases := []struct {
		name   string
		params map[string]string
		// all: every killed session's transaction was written, so all of them commit
		all bool
	}{
		{"AFTER_SYNC group commit", nil, true},
		{"AFTER_COMMIT", map[string]string{ParamWaitPoint: "AFTER_COMMIT"}, true},
		{"AFTER_SYNC serialised", map[string]string{ParamSerialized: "true"}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				c := newVCluster(t, 3, twoReplicas(D, D), "semisync", tc.params)
				defer c.close()
				src := c.provs[0]
				if err := c.commit(context.Background(), 0, nil); err != nil {
					t.Fatal(err)
				}
				c.em.Partition([]string{"n1"}, []string{"n2", "n3"})
				ctx, cancel := context.WithCancel(context.Background())
				const sessions = 4
				errs := make([]error, sessions)
				var wg sync.WaitGroup
				for i := range sessions {
					wg.Go(func() { errs[i] = c.commit(ctx, uint64(1+i), nil) })
				}
				time.Sleep(300 * time.Millisecond) // well inside rpl_semi_sync_master_timeout
				for i, err := range errs {
					if err != nil {
						t.Fatalf("session %d ended before it was killed: %v", i, err)
					}
				}
				cancel()
				at := time.Now()
				wg.Wait()
				if took := time.Since(at); took != 0 {
					t.Fatalf("killed sessions returned %v after the kill, want at once", took)
				}
				for i, err := range errs {
					var me *protocols.Error
					if !errors.As(err, &me) || me.Code != protocols.ErQueryInterrupted {
						t.Fatalf("session %d got %v, want 1317", i, err)
					}
				}
				committed := src.LastCommitted() - 1
				if tc.all && committed != sessions {
					t.Fatalf("%d of %d killed sessions committed on the source; want all, they were in the binlog", committed, sessions)
				}
				if committed < 1 || committed > sessions {
					t.Fatalf("%d of %d killed sessions committed; want 1 (the one holding the binlog lock) or more", committed, sessions)
				}
				if got := status(src, "Rpl_semi_sync_master_status"); got != "ON" {
					t.Fatalf("semi-sync %s after the kills, want ON (no timeout happened)", got)
				}
				noTx, _ := strconv.Atoi(status(src, "Rpl_semi_sync_master_no_tx"))
				if noTx < 1 {
					t.Fatalf("no_tx=%d: the ack waits the kills ended must count as not acknowledged", noTx)
				}
				c.em.Heal()
				c.converge(2 * time.Second)
				start := time.Now()
				if err := c.commit(context.Background(), 99, nil); err != nil {
					t.Fatal(err)
				}
				if got := time.Since(start); got != 2*D {
					t.Fatalf("commit after the heal took %v, want one round trip %v", got, 2*D)
				}
				c.converge(time.Second)
				t.Logf("%d of %d killed sessions committed; yes_tx=%s no_tx=%d", committed, sessions,
					status(src, "Rpl_semi_sync_master_yes_tx"), noTx)
			})
		})
	}
}
