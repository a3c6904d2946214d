package harness

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/replbench/replbench/protocols"
	"github.com/replbench/replbench/storage"
	"github.com/replbench/replbench/workloads"
)

// load says how much work a phase does and how it is paced.
type load struct {
	queries  int64         // transactions over all clients, split evenly; 0 for a timed phase
	duration time.Duration // run length of a timed phase
	rate     float64       // transactions/s over all clients; 0 is closed loop
	retries  int           // retries of a Retryable failure (mysqlslap: none)
	backoff  time.Duration // pause before each retry
}

// client is one client thread: a workload client attached to its writer node's engine.
type client struct {
	id    int
	node  string
	db    *storage.Engine
	wl    workloads.Client
	stats *clientStats
	// serverRetries is how many times the node's server re-runs an autocommit statement
	// that failed certification before the client sees it (Galera's wsrep_retry_autocommit).
	serverRetries int
}

// share is client i's part of n transactions split over t clients, as mysqlslap splits
// --number-of-queries over --concurrency (the first n mod t clients run one more).
func share(n int64, i, t int) int64 {
	q := n / int64(t)
	if int64(i) < n%int64(t) {
		q++
	}
	return q
}

// runPhase runs every client until its share of queries is done, the duration has passed,
// or ctx ends, and returns the phase's elapsed time: from the common start until the last
// client finished its last transaction. A timed phase lets transactions in flight at the
// deadline finish (as sysbench does) rather than cancelling them, so that a cancelled commit
// is never counted as an abort.
//
// With a rate the phase is open loop: each client has a schedule of intended start times,
// and latency is measured from the intended start, so a stall that delays later
// transactions is charged to them (the correction for coordinated omission) instead of
// vanishing from the histogram.
func runPhase(ctx context.Context, clients []*client, l load) time.Duration {
	var stop atomic.Bool
	start := time.Now()
	if l.queries == 0 {
		t := time.AfterFunc(l.duration, func() { stop.Store(true) })
		defer t.Stop()
	}
	var interval time.Duration
	if l.rate > 0 {
		interval = time.Duration(float64(time.Second) * float64(len(clients)) / l.rate)
	}
	var wg sync.WaitGroup
	ends := make([]time.Time, len(clients))
	for i, c := range clients {
		quota := int64(-1)
		if l.queries > 0 {
			quota = share(l.queries, i, len(clients))
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Stagger open-loop clients over one interval so they do not fire together.
			next := start.Add(time.Duration(int64(interval) * int64(i) / int64(len(clients))))
			for n := int64(0); quota < 0 || n < quota; n++ {
				if ctx.Err() != nil || stop.Load() {
					break
				}
				began := time.Now()
				if interval > 0 {
					if l.queries == 0 && next.Sub(start) >= l.duration {
						break
					}
					if !sleepUntil(ctx, next) {
						break
					}
					began = next
					next = next.Add(interval)
				}
				c.transaction(ctx, began, l)
			}
			ends[i] = time.Now()
		}()
	}
	wg.Wait()
	last := start
	for _, e := range ends {
		if e.After(last) {
			last = e
		}
	}
	return last.Sub(start)
}

// transaction runs one transaction with up to l.retries retries and records the outcome.
// Every failed attempt counts as an abort under its cause; a committed transaction's latency
// runs from began (its intended start) to the commit, retries included, which is what the
// application waiting on it sees.
func (c *client) transaction(ctx context.Context, began time.Time, l load) {
	retry := false
	server := 0
	for attempt := 0; ; attempt++ {
		typ, err := c.wl.Next(ctx, c.db, retry)
		if err == nil {
			c.stats.commit(typ, time.Since(began))
			return
		}
		if ctx.Err() != nil {
			return // stopping: the run was interrupted, not the transaction aborted
		}
		// The server re-runs a conflicting autocommit statement itself: the application
		// sees neither the failure nor a retry, only the latency.
		if server < c.serverRetries && storage.IsAutocommitConflict(err) {
			server++
			attempt--
			c.stats.serverRetry()
			retry = true
			continue
		}
		again := attempt < l.retries && protocols.Retryable(err)
		c.stats.abort(typ, protocols.Classify(err), again, err)
		if !again {
			c.stats.giveUp()
			return
		}
		if l.backoff > 0 && !sleepUntil(ctx, time.Now().Add(l.backoff)) {
			return
		}
		retry = true
	}
}

// sleepUntil waits until t or until ctx ends; it reports whether t was reached.
func sleepUntil(ctx context.Context, t time.Time) bool {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err() == nil
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-tm.C:
		return true
	case <-ctx.Done():
		return false
	}
}
