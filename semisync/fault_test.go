package semisync

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// Spec 9.2: on timeout the source switches off ("no_times++"), every later commit
// proceeds without waiting and counts in no_tx, and it switches back on only when an ack
// reaches commit_pos, i.e. after a replica has caught up.
func TestTimeoutFallsBackToAsyncAndRearms(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const D = 5 * time.Millisecond
		c := newVCluster(t, 3, twoReplicas(D, D), "semisync", map[string]string{ParamTimeout: "200"})
		defer c.close()
		src := c.provs[0]
		ctx := context.Background()
		if err := c.commit(ctx, 1, nil); err != nil {
			t.Fatal(err)
		}

		c.em.Partition([]string{"n1"}, []string{"n2", "n3"})
		start := time.Now()
		if err := c.commit(ctx, 2, nil); err != nil {
			t.Fatal(err)
		}
		if got := time.Since(start); got != 200*time.Millisecond {
			t.Fatalf("first commit after the partition took %v, want exactly the 200ms timeout", got)
		}
		if got := status(src, "Rpl_semi_sync_master_status"); got != "OFF" {
			t.Fatalf("status %s after the timeout, want OFF", got)
		}
		start = time.Now()
		for i := range 10 {
			if err := c.commit(ctx, uint64(10+i), nil); err != nil {
				t.Fatal(err)
			}
		}
		if got := time.Since(start); got != 0 {
			t.Fatalf("10 commits while OFF took %v, want no wait at all", got)
		}
		if got := status(src, "Rpl_semi_sync_master_no_tx"); got != "11" {
			t.Errorf("no_tx = %s, want 11 (the timed-out commit and 10 async ones)", got)
		}
		if got := status(src, "Rpl_semi_sync_master_no_times"); got != "1" {
			t.Errorf("no_times = %s, want 1", got)
		}

		// Still partitioned: time passes, heartbeats and re-requests are lost, it stays off.
		time.Sleep(time.Second)
		if got := status(src, "Rpl_semi_sync_master_status"); got != "OFF" {
			t.Fatalf("status %s while still partitioned, want OFF", got)
		}

		c.em.Heal()
		c.converge(2 * time.Second)
		time.Sleep(2 * D) // the ack of the newest position travels back
		if got := status(src, "Rpl_semi_sync_master_status"); got != "ON" {
			t.Fatalf("status %s after the replicas caught up, want ON", got)
		}
		start = time.Now()
		if err := c.commit(ctx, 99, nil); err != nil {
			t.Fatal(err)
		}
		if got := time.Since(start); got != 2*D {
			t.Fatalf("commit after re-arming took %v, want one round trip %v", got, 2*D)
		}
		if got := status(src, "Rpl_semi_sync_master_yes_tx"); got != "2" {
			t.Errorf("yes_tx = %s, want 2", got)
		}
	})
}

// AFTER_COMMIT commits in the engine before the ack (another session can read the row
// while its own commit is still waiting); AFTER_SYNC commits only after the ack.
func TestWaitPointVisibility(t *testing.T) {
	const D = 30 * time.Millisecond
	for _, tc := range []struct {
		point       string
		wantVisible time.Duration // when the engine commit ran
	}{
		{"AFTER_SYNC", 2 * D},
		{"AFTER_COMMIT", 0},
	} {
		t.Run(tc.point, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				c := newVCluster(t, 2, twoReplicas(D, 0), "semisync", map[string]string{ParamWaitPoint: tc.point})
				defer c.close()
				start := time.Now()
				var visibleAt time.Duration
				if err := c.commit(context.Background(), 1, func() { visibleAt = time.Since(start) }); err != nil {
					t.Fatal(err)
				}
				returned := time.Since(start)
				if visibleAt != tc.wantVisible {
					t.Errorf("visible on the source after %v, want %v", visibleAt, tc.wantVisible)
				}
				if returned != 2*D {
					t.Errorf("commit returned after %v, want one round trip %v", returned, 2*D)
				}
				c.converge(time.Second)
			})
		})
	}
}

// The dump stream survives loss: with 20% of messages dropped in every direction, replicas
// re-request what they miss and converge; async commits never wait meanwhile.
func TestAsyncSurvivesLossAndPartition(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		nw := twoReplicas(10*time.Millisecond, 40*time.Millisecond)
		nw.Loss = 0.2
		c := newVCluster(t, 3, nw, "async", nil)
		defer c.close()
		var wg sync.WaitGroup
		for th := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range 50 {
					if err := c.commit(context.Background(), uint64(th*100+i%7), nil); err != nil {
						t.Error(err)
					}
					time.Sleep(time.Millisecond)
					if th == 0 && i == 20 {
						c.em.Partition([]string{"n1", "n2"}, []string{"n3"})
					}
				}
			}()
		}
		wg.Wait()
		time.Sleep(300 * time.Millisecond)
		c.em.Heal()
		nw.Loss = 0
		c.em.SetNetwork(nw)
		c.converge(5 * time.Second)
		gaps, _ := strconv.Atoi(status(c.provs[2], "Relay_log_gaps"))
		if gaps == 0 {
			t.Errorf("n3 saw no gaps under 20%% loss and a partition: the test did not exercise re-requests")
		}
	})
}

// A lost event or a lost ack costs a heartbeat period or so, not the 10 s timeout: the
// replica re-requests what it misses, and a heartbeat sent while a session waits asks a
// caught-up replica to ack again (TCP would have retransmitted both).
func TestSemiSyncRecoversLostMessagesWithoutTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		nw := twoReplicas(5*time.Millisecond, 0)
		nw.Loss = 0.2
		c := newVCluster(t, 2, nw, "semisync", nil)
		defer c.close()
		var worst time.Duration
		for i := range 200 {
			start := time.Now()
			if err := c.commit(context.Background(), uint64(i), nil); err != nil {
				t.Fatal(err)
			}
			worst = max(worst, time.Since(start))
		}
		src := c.provs[0]
		if got := status(src, "Rpl_semi_sync_master_no_times"); got != "0" {
			t.Fatalf("semi-sync switched off %s times under 20%% loss; a lost message cost the timeout", got)
		}
		if got := status(src, "Rpl_semi_sync_master_yes_tx"); got != "200" {
			t.Errorf("yes_tx = %s, want 200", got)
		}
		t.Logf("slowest of 200 commits under 20%% loss: %v (round trip 10ms, heartbeat 100ms)", worst)
		if worst < 100*time.Millisecond {
			t.Errorf("no commit waited for a heartbeat: the test did not lose anything")
		}
		nw.Loss = 0
		c.em.SetNetwork(nw)
		c.converge(time.Second)
	})
}
