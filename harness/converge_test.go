package harness

import (
	"context"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// drainingNodes is a source at top and replicas that apply rate transactions a second from
// where they start, each stopping at stuckAt (0: never stuck); every node's tables match
// once it has caught up.
type drainingNodes struct {
	mu      sync.Mutex
	start   time.Time
	top     int64
	from    []int64
	rate    float64
	stuckAt int64
}

func (d *drainingNodes) positions() ([]int64, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	el := time.Since(d.start).Seconds()
	out := make([]int64, len(d.from))
	for i, f := range d.from {
		v := min(d.top, f+int64(el*d.rate))
		if d.stuckAt > 0 && f < d.top {
			v = min(v, d.stuckAt)
		}
		out[i] = v
	}
	return out, nil
}

func (d *drainingNodes) checksums() ([]map[string]uint64, error) {
	pos, _ := d.positions()
	out := make([]map[string]uint64, len(pos))
	for i, p := range pos {
		out[i] = map[string]uint64{"t": uint64(p)}
	}
	return out, nil
}

// The convergence wait is bounded by progress, not by a fixed time: an async replica with a
// backlog that takes 90 s to apply (three times the 30 s no-progress bound) is waited for
// and the result says how far behind it was, how long it took and at what rate; a replica
// that stops applying is reported as not caught up once nothing has moved for the bound,
// with the positions it stopped at.
func TestConvergeWaitsForTheBacklog(t *testing.T) {
	members := []string{"n1", "n2", "n3"}
	synctest.Test(t, func(t *testing.T) {
		d := &drainingNodes{start: time.Now(), top: 10_000, from: []int64{10_000, 1_000, 5_500}, rate: 100}
		begin := time.Now()
		cv := convergeOn(context.Background(), members, d, ConvergeTimeout)
		took := time.Since(begin)
		if !cv.ok || cv.detail != "" {
			t.Fatalf("a replica only behind was not waited for: %+v", cv)
		}
		// 9000 transactions at 100/s, then quietFor polls of stability.
		if took < 90*time.Second || took > 91*time.Second {
			t.Errorf("waited %s for a 90 s backlog", took)
		}
		for _, want := range []string{"n2 9000 behind", "n3 4500 behind", "(of 10000)", "caught up in 90.", "(100 transactions/s on the slowest)"} {
			if !strings.Contains(cv.waited, want) {
				t.Errorf("waited %q does not say %q", cv.waited, want)
			}
		}
	})
	synctest.Test(t, func(t *testing.T) {
		d := &drainingNodes{start: time.Now(), top: 10_000, from: []int64{10_000, 1_000, 1_000}, rate: 100, stuckAt: 3_000}
		begin := time.Now()
		cv := convergeOn(context.Background(), members, d, ConvergeTimeout)
		took := time.Since(begin)
		if cv.ok {
			t.Fatalf("a stuck replica converged: %+v", cv)
		}
		// 20 s of progress to 3000, then the 30 s bound without progress.
		if took < 50*time.Second || took > 51*time.Second {
			t.Errorf("gave up after %s, want the 20 s of progress plus the 30 s bound", took)
		}
		for _, want := range []string{"replicas did not catch up: no node applied anything for 30s", "n1=10000 n2=3000 n3=3000", "table t differs from n1 on n2,n3"} {
			if !strings.Contains(cv.detail, want) {
				t.Errorf("detail %q does not say %q", cv.detail, want)
			}
		}
		if !strings.Contains(cv.waited, "gave up after 50.") {
			t.Errorf("waited %q does not say when it gave up", cv.waited)
		}
	})
}
