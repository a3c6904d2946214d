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
	refused  time.Duration // pause after the node refused the transaction (read_only, not_ready)
	stall    time.Duration // stop the phase when no transaction finished for this long; 0: never
	// quotas, when set, is each client's own number of transactions in place of its
	// share of queries: a node process runs only some of a point's clients (each its
	// share by its id over all threads), or the rest of a killed process's work.
	quotas []int64
}

// client is one client thread: a workload client attached to its writer node's engine.
type client struct {
	id    int
	node  string
	db    workloads.DB
	wl    workloads.Client
	stats *clientStats
	// queries counts the statements db issued (reads, writes, other), for qps per interval.
	queries *queryCounts
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

// phaseResult is what a phase measured beyond the clients' own statistics.
type phaseResult struct {
	elapsed time.Duration // from the common start until the last client finished
	// stalled is set when no transaction finished for the stall bound and the phase was
	// stopped instead of waiting for ever; stuck counts, per writer node, the clients whose
	// transaction was still in flight then.
	stalled bool
	stuck   map[string]int
	// abandoned counts clients that did not return even after their context was
	// cancelled: a provider that ignores cancellation. They are left to the cluster's close.
	abandoned int
}

// DefaultRefusedBackoff is how long a client pauses, by default, after its node refused a
// transaction with read_only (1290) or not_ready (1047) before it tries again. A refusal
// costs the node almost nothing, so a client that retried at once would spin: eight
// clients on a GR secondary made hundreds of thousands of attempts a second, taking the
// CPU from the nodes being measured. An application's connection pool waits a little
// before it tries the same server again; 10 ms is that order, short beside a
// replicated commit on any network the presets model, so a node that becomes writable
// again (a new primary, a rejoined component) is used again almost at once.
const DefaultRefusedBackoff = 10 * time.Millisecond

// refusal reports whether err is the node refusing work outright, rather than the
// transaction losing a race: the same attempt would fail the same way until the node's
// role or membership changes.
func refusal(err error) bool {
	c := protocols.Classify(err)
	return c == protocols.CauseReadOnly || c == protocols.CauseNotReady
}

// abandonGrace is the longest a stopped phase waits for clients to return from a cancelled
// transaction before it stops waiting for them; a shorter stall bound shortens it too.
const abandonGrace = 5 * time.Second

// runPhase runs every client until its share of queries is done, the duration has passed,
// or ctx ends, and returns the phase's elapsed time: from the common start until the last
// client finished its last transaction. A timed phase lets transactions in flight at the
// deadline finish (as sysbench does) rather than cancelling them, so that a cancelled commit
// is never counted as an abort.
//
// A client whose node refused its transaction (read_only, not_ready) pauses l.refused
// before its next attempt; the pause never runs past a timed phase's end and is not part
// of the client's elapsed time, which ends with its last transaction.
//
// With a rate the phase is open loop: each client has a schedule of intended start times,
// and latency is measured from the intended start, so a stall that delays later
// transactions is charged to them (the correction for coordinated omission) instead of
// vanishing from the histogram.
//
// With a stall bound (l.stall > 0) a watchdog stops the phase when no transaction has
// finished, committed or aborted, for that long while clients still have work in flight:
// a protocol that blocks commits for ever (a partitioned group that never regains quorum,
// a lost message never resent) ends the point with the stall reported, instead of hanging
// the run. The bound is on progress, not on the phase's length, so a slow but moving
// network never trips it, and a timed phase ends at most one bound after its duration.
func runPhase(ctx context.Context, clients []*client, l load) phaseResult {
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
	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var lastProgress atomic.Int64 // nanoseconds since start of the last finished transaction
	inFlight := make([]atomic.Bool, len(clients))
	var wg sync.WaitGroup
	ends := make([]time.Time, len(clients))
	for i, c := range clients {
		quota := int64(-1)
		if l.queries > 0 {
			quota = share(l.queries, i, len(clients))
		}
		if l.quotas != nil {
			quota = l.quotas[i]
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Stagger open-loop clients over one interval so they do not fire together.
			next := start.Add(time.Duration(int64(interval) * int64(i) / int64(len(clients))))
			ends[i] = start
			refused := false
			for n := int64(0); quota < 0 || n < quota; n++ {
				if pctx.Err() != nil || stop.Load() {
					break
				}
				if refused && l.refused > 0 {
					until := time.Now().Add(l.refused)
					if l.queries == 0 {
						if !until.Before(start.Add(l.duration)) {
							break // the pause outlasts the phase: nothing more to start
						}
					}
					if !sleepUntil(pctx, until) {
						break
					}
				}
				began := time.Now()
				if interval > 0 {
					if l.queries == 0 && next.Sub(start) >= l.duration {
						break
					}
					if !sleepUntil(pctx, next) {
						break
					}
					began = next
					next = next.Add(interval)
				}
				inFlight[i].Store(true)
				refused = c.transaction(pctx, began, l)
				inFlight[i].Store(false)
				ends[i] = time.Now()
				if pctx.Err() == nil { // a transaction the watchdog cancelled is no progress
					lastProgress.Store(int64(ends[i].Sub(start)))
				}
			}
		}()
	}
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	var res phaseResult
	var watch <-chan time.Time
	if l.stall > 0 {
		tk := time.NewTicker(max(l.stall/20, time.Millisecond))
		defer tk.Stop()
		watch = tk.C
	}
wait:
	for {
		select {
		case <-done:
			break wait
		case <-watch:
			// An open-loop client sleeping until its next start is idle, not stuck; only
			// a transaction in flight can stall.
			idle := time.Since(start) - time.Duration(lastProgress.Load())
			busy := false
			for i := range inFlight {
				busy = busy || inFlight[i].Load()
			}
			if !busy || idle < l.stall {
				continue
			}
			res.stalled = true
			res.stuck = map[string]int{}
			for i, c := range clients {
				if inFlight[i].Load() {
					res.stuck[c.node]++
				}
			}
			cancel()
			select {
			case <-done:
			case <-time.After(min(abandonGrace, l.stall)):
				for i := range inFlight {
					if inFlight[i].Load() {
						res.abandoned++
					}
				}
			}
			break wait
		}
	}
	last := start
	for i := range ends {
		if res.abandoned == 0 && ends[i].After(last) {
			last = ends[i]
		}
	}
	if res.stalled {
		// The phase ended when the watchdog gave up; what came after the last finished
		// transaction was waiting, not work.
		last = start.Add(time.Duration(lastProgress.Load()))
	}
	res.elapsed = last.Sub(start)
	return res
}

// transaction runs one transaction with up to l.retries retries and records the outcome.
// Every failed attempt counts as an abort under its cause; a committed transaction's latency
// runs from began (its intended start) to the commit, retries included, which is what the
// application waiting on it sees. It reports whether the node refused the transaction
// outright (read_only, not_ready), so that the caller pauses before the next one.
func (c *client) transaction(ctx context.Context, began time.Time, l load) (refused bool) {
	retry := false
	server := 0
	for attempt := 0; ; attempt++ {
		typ, err := c.wl.Next(ctx, c.db, retry)
		if err == nil {
			c.stats.commit(typ, time.Since(began))
			return false
		}
		if ctx.Err() != nil {
			return false // stopping: the run was interrupted, not the transaction aborted
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
			return refusal(err)
		}
		if l.backoff > 0 && !sleepUntil(ctx, time.Now().Add(l.backoff)) {
			return false
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
