package harness

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/replbench/replbench/protocols"
	"github.com/replbench/replbench/results"
	"github.com/replbench/replbench/storage"
	"github.com/replbench/replbench/workloads"
)

// fakeClient takes service[i] for its i-th transaction (the last value repeats) and fails
// the first failures attempts with err.
type fakeClient struct {
	service  []time.Duration
	n        int
	failures int
	err      error
	retried  int
}

func (f *fakeClient) Next(ctx context.Context, db workloads.DB, retry bool) (string, error) {
	if retry {
		f.retried++
	}
	d := f.service[min(f.n, len(f.service)-1)]
	f.n++
	time.Sleep(d)
	if f.failures > 0 {
		f.failures--
		return "t", f.err
	}
	return "t", nil
}

func pointOf(clients []*client) *results.Point {
	stats := make([]*clientStats, len(clients))
	for i, c := range clients {
		stats[i] = c.stats
	}
	p := &results.Point{}
	mergeStats(stats, p)
	return p
}

// Closed loop, --queries: 500 transactions split over 4 clients, each taking 10 ms, finish
// in ceil(500/4) x 10 ms, and each latency is the service time.
func TestClosedLoopQueries(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var cs []*client
		for i := 0; i < 4; i++ {
			cs = append(cs, &client{id: i, wl: &fakeClient{service: []time.Duration{10 * time.Millisecond}}, stats: newClientStats()})
		}
		elapsed := runPhase(context.Background(), cs, load{queries: 500}).elapsed
		if elapsed != 1250*time.Millisecond {
			t.Fatalf("elapsed %v, want 1.25s (125 transactions x 10 ms on the busiest client)", elapsed)
		}
		p := pointOf(cs)
		if p.Committed != 500 || !approx(p.Latency.P50, 10) || !approx(p.Latency.Max, 10) {
			t.Fatalf("committed %d latency %+v", p.Committed, p.Latency)
		}
	})
}

// Open loop, --rate: one client at 50/s (every 20 ms) whose second transaction stalls for
// 100 ms. The transactions due during the stall start late, and their latency counts from
// the intended start, not from when the client got round to them (coordinated omission).
func TestOpenLoopCorrectsCoordinatedOmission(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		svc := []time.Duration{5 * time.Millisecond, 100 * time.Millisecond, 5 * time.Millisecond}
		c := &client{wl: &fakeClient{service: svc}, stats: newClientStats()}
		runPhase(context.Background(), []*client{c}, load{queries: 10, rate: 50})
		p := pointOf([]*client{c})
		// intended starts 0,20,...,180 ms. #0 at 0 takes 5; #1 at 20 ends at 120 (100);
		// #2 due 40, starts 120, ends 125 (85); #3 due 60 -> 130 (70); #4 due 80 -> 135 (55);
		// #5 due 100 -> 140 (40); #6 due 120 -> 145 (25); #7 due 140 -> 150 (10); #8 due
		// 160, on time (5); #9 due 180 (5).
		if p.Committed != 10 || !approx(p.Latency.Max, 100) || !approx(p.Latency.P50, 25) {
			t.Fatalf("committed %d latency %+v, want max 100 ms and median 25 ms", p.Committed, p.Latency)
		}
		// a closed loop would have recorded the service times only: median 5 ms
	})
}

// --duration: a timed phase stops starting transactions at the deadline and lets the ones
// in flight finish.
func TestTimedPhase(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := &client{wl: &fakeClient{service: []time.Duration{30 * time.Millisecond}}, stats: newClientStats()}
		elapsed := runPhase(context.Background(), []*client{c}, load{duration: 100 * time.Millisecond}).elapsed
		p := pointOf([]*client{c})
		if p.Committed != 4 || elapsed != 120*time.Millisecond {
			t.Fatalf("committed %d in %v, want 4 in 120ms (the one in flight at 100 ms finishes)", p.Committed, elapsed)
		}
	})
}

// Retries: every failed attempt is an abort under its cause; a retry re-runs the same
// transaction and the latency of the committed one includes the failed attempts.
func TestRetries(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		for _, tc := range []struct {
			retries, committed, aborts, retryCount int
		}{
			{0, 0, 1, 0},
			{1, 0, 2, 1},
			{2, 1, 2, 2},
		} {
			f := &fakeClient{service: []time.Duration{time.Millisecond}, failures: 2, err: protocols.ErrCertification()}
			c := &client{wl: f, stats: newClientStats()}
			runPhase(context.Background(), []*client{c}, load{queries: 1, retries: tc.retries, backoff: time.Millisecond})
			p := pointOf([]*client{c})
			if p.Committed != int64(tc.committed) || p.Aborts["certification"] != int64(tc.aborts) || p.Retries != int64(tc.retryCount) || f.retried != tc.retryCount {
				t.Fatalf("retries=%d: committed %d aborts %v retries %d", tc.retries, p.Committed, p.Aborts, p.Retries)
			}
			if tc.committed == 1 && !approx(p.Latency.Max, 5) { // 3 attempts x 1 ms + 2 backoffs x 1 ms
				t.Fatalf("latency %+v, want 5 ms", p.Latency)
			}
		}
		// a non-retryable failure is not retried
		f := &fakeClient{service: []time.Duration{time.Millisecond}, failures: 1, err: protocols.ErrReadOnly()}
		c := &client{wl: f, stats: newClientStats()}
		runPhase(context.Background(), []*client{c}, load{queries: 1, retries: 3})
		if p := pointOf([]*client{c}); p.Aborts["read_only"] != 1 || p.Retries != 0 {
			t.Fatalf("read-only: %v retries %d", p.Aborts, p.Retries)
		}
	})
}

// Ctrl-C: a cancelled context stops the phase; the cancelled transaction is not an abort.
func TestPhaseStopsOnCancel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		c := &client{wl: &ctxClient{}, stats: newClientStats()}
		time.AfterFunc(35*time.Millisecond, cancel)
		runPhase(ctx, []*client{c}, load{queries: 1000})
		p := pointOf([]*client{c})
		if p.Committed != 3 || len(p.Aborts) != 0 {
			t.Fatalf("committed %d aborts %v", p.Committed, p.Aborts)
		}
	})
}

type ctxClient struct{}

func (ctxClient) Next(ctx context.Context, db workloads.DB, retry bool) (string, error) {
	select {
	case <-time.After(10 * time.Millisecond):
		return "t", nil
	case <-ctx.Done():
		return "t", ctx.Err()
	}
}

func TestDiffChecksums(t *testing.T) {
	members := []string{"n1", "n2", "n3"}
	same := []map[string]uint64{{"a": 1, "b": 2}, {"a": 1, "b": 2}, {"a": 1, "b": 2}}
	if d := diffChecksums(members, same); d != "" {
		t.Fatalf("equal: %q", d)
	}
	odd := []map[string]uint64{{"a": 1, "b": 2}, {"a": 1, "b": 3}, {"a": 1}}
	if d := diffChecksums(members, odd); d != "table b differs from n1 on n2,n3" {
		t.Fatalf("diff: %q", d)
	}
}

// approx compares a histogram figure with the exact value it stands for: HdrHistogram at 3
// significant figures reports the top of the value's bucket, at most 0.1% above.
func approx(got, want float64) bool { return got >= want && got <= want*1.001 }

// wsrep_retry_autocommit: an autocommit statement that fails certification is re-run by the
// server up to that many times; the client sees neither the failure nor a retry, only the
// latency of both runs. Past the limit the client gets the 1213.
func TestServerRetriesAutocommitConflicts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		conflict := &storage.AutocommitConflict{Err: protocols.ErrCertification()}
		for _, tc := range []struct {
			server, failures         int
			committed, aborts, rerun int64
		}{
			{server: 1, failures: 1, committed: 1, aborts: 0, rerun: 1},
			{server: 1, failures: 2, committed: 0, aborts: 1, rerun: 1},
			{server: 0, failures: 1, committed: 0, aborts: 1, rerun: 0},
		} {
			f := &fakeClient{service: []time.Duration{2 * time.Millisecond}, failures: tc.failures, err: conflict}
			c := &client{wl: f, stats: newClientStats(), serverRetries: tc.server}
			runPhase(context.Background(), []*client{c}, load{queries: 1})
			p := pointOf([]*client{c})
			if p.Committed != tc.committed || p.Aborts["certification"] != tc.aborts || p.AutocommitRetries != tc.rerun || p.Retries != 0 {
				t.Fatalf("%+v: committed %d aborts %v autocommit_retries %d retries %d", tc, p.Committed, p.Aborts, p.AutocommitRetries, p.Retries)
			}
			if tc.committed == 1 && !approx(p.Latency.Max, 4) {
				t.Fatalf("%+v: latency %v ms, want 4 (both runs)", tc, p.Latency.Max)
			}
		}
		// a plain certification failure (not autocommit) is never re-run by the server
		f := &fakeClient{service: []time.Duration{time.Millisecond}, failures: 1, err: protocols.ErrCertification()}
		c := &client{wl: f, stats: newClientStats(), serverRetries: 1}
		runPhase(context.Background(), []*client{c}, load{queries: 1})
		if p := pointOf([]*client{c}); p.Committed != 0 || p.AutocommitRetries != 0 {
			t.Fatalf("explicit transaction re-run by the server: %+v", p)
		}
	})
}

// A node that refuses work (1290 read-only, 1047 not ready) costs the client a pause of
// --refused-backoff before its next attempt, as a connection pool waits before trying the
// same server again; every refusal still counts as an abort under its cause. A lost race
// (certification) is retried at once, as before. The pause never runs past a timed phase's
// end, and the phase's elapsed time ends with the last transaction, not with a pause.
func TestRefusedBackoff(t *testing.T) {
	const svc = 3 * time.Millisecond
	for _, tc := range []struct {
		name     string
		err      error
		backoff  time.Duration
		attempts int // in a 1 s timed phase
		elapsed  time.Duration
	}{
		// attempts start every 3 ms + 10 ms: at 0, 13, ..., 988 ms; the last ends at 991,
		// and the pause after it would outlast the phase.
		{"read_only", protocols.ErrReadOnly(), 10 * time.Millisecond, 77, 991 * time.Millisecond},
		{"not_ready", protocols.ErrNotReady(), 10 * time.Millisecond, 77, 991 * time.Millisecond},
		// no pause: the tight loop the pause exists to prevent, one attempt per service
		// time, at 0, 3, ..., 999 ms; the one in flight at the deadline finishes at 1002
		{"read_only without backoff", protocols.ErrReadOnly(), 0, 334, 1002 * time.Millisecond},
		// a certification failure is a race lost, not a refusal: no pause
		{"certification", protocols.ErrCertification(), 10 * time.Millisecond, 334, 1002 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := &fakeClient{service: []time.Duration{svc}, failures: 1 << 30, err: tc.err}
				c := &client{node: "n2", wl: f, stats: newClientStats()}
				res := runPhase(context.Background(), []*client{c}, load{duration: time.Second, refused: tc.backoff})
				p := pointOf([]*client{c})
				cause := string(protocols.Classify(tc.err))
				if f.n != tc.attempts || p.Aborts[cause] != int64(tc.attempts) || p.Committed != 0 {
					t.Fatalf("%d attempts, aborts %v, committed %d; want %d attempts, each a %s abort", f.n, p.Aborts, p.Committed, tc.attempts, cause)
				}
				if res.elapsed != tc.elapsed {
					t.Fatalf("elapsed %v, want %v (the end of the last attempt)", res.elapsed, tc.elapsed)
				}
			})
		})
	}
}

// With --queries a refused transaction uses up its share like any other; the pause comes
// between attempts, never after the last one: 10 refusals of 1 ms with 10 ms pauses take
// 10 x 1 + 9 x 10 = 100 ms.
func TestRefusedBackoffQueries(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeClient{service: []time.Duration{time.Millisecond}, failures: 1 << 30, err: protocols.ErrReadOnly()}
		c := &client{node: "n2", wl: f, stats: newClientStats()}
		res := runPhase(context.Background(), []*client{c}, load{queries: 10, refused: 10 * time.Millisecond})
		if f.n != 10 || res.elapsed != 100*time.Millisecond {
			t.Fatalf("%d attempts in %v, want 10 in 100ms", f.n, res.elapsed)
		}
	})
}
