package groupreplication

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/replbench/replbench/protocols/transport"
	"github.com/replbench/replbench/storage"
)

// flowRun writes from 4 clients on n1 for 6 s of virtual time while n3's applier takes
// 2 ms per transaction, and returns n1's commit rate over the last 3 s and the largest
// applier queue n3 reached.
func flowRun(t *testing.T, mode string) (rate float64, maxQueue int64, quota string) {
	synctest.Test(t, func(t *testing.T) {
		nw := lan(t, 3)
		nw.Base = time.Millisecond // 2 ms RTT: 4 clients commit about 2000/s
		c := start(t, 3, transport.NewMemBus(), nw, true, map[string]string{
			pFCMode: mode, pFCCertThreshold: "200", pFCApplyThreshold: "200"}, nil,
			func(node string, o *storage.Options) {
				if node == "n3" {
					o.ApplyDelay = 2 * time.Millisecond
				}
			})
		defer c.close()
		ctx := context.Background()
		var id atomic.Int64
		var late atomic.Int64
		t0 := time.Now()
		var wg sync.WaitGroup
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for time.Since(t0) < 6*time.Second {
					if err := c.insert(ctx, 0, id.Add(1)); err != nil {
						t.Error(err)
						return
					}
					if time.Since(t0) >= 3*time.Second {
						late.Add(1)
					}
				}
			}()
		}
		var stop atomic.Bool
		var sampler sync.WaitGroup
		sampler.Add(1)
		go func() {
			defer sampler.Done()
			for !stop.Load() {
				q, _ := strconv.ParseInt(c.status(2, "COUNT_TRANSACTIONS_REMOTE_IN_APPLIER_QUEUE"), 10, 64)
				maxQueue = max(maxQueue, q)
				time.Sleep(100 * time.Millisecond)
			}
		}()
		wg.Wait()
		quota = c.status(0, "gr_model_flow_control_quota")
		stop.Store(true)
		sampler.Wait()
		rate = float64(late.Load()) / 3
		c.quiesce(ctx)
	})
	return rate, maxQueue, quota
}

// §6: "Flow control throttles the whole group to the slowest member": with QUOTA, once
// n3's applier queue passes the threshold the primary's writers are capped near n3's
// apply rate (500/s here) and the queue stops growing; DISABLED lets it grow without bound.
func TestFlowControl_ThrottlesToTheSlowestApplier(t *testing.T) {
	offRate, offQueue, _ := flowRun(t, "DISABLED")
	onRate, onQueue, quota := flowRun(t, "QUOTA")
	t.Logf("DISABLED: %.0f commits/s, n3 applier queue up to %d", offRate, offQueue)
	t.Logf("QUOTA:    %.0f commits/s, n3 applier queue up to %d, last quota %s", onRate, onQueue, quota)
	if onRate > 700 {
		t.Fatalf("QUOTA: the primary commits %.0f/s, want it capped near n3's 500/s", onRate)
	}
	if offRate < 2*onRate {
		t.Fatalf("DISABLED must not throttle: %.0f/s vs %.0f/s", offRate, onRate)
	}
	if onQueue >= offQueue/2 {
		t.Fatalf("QUOTA must bound n3's queue: %d vs %d unthrottled", onQueue, offQueue)
	}
}
