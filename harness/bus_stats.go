package harness

import (
	"encoding/json"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/replbench/replbench/harness/nodes"
	"github.com/replbench/replbench/workloads"
)

// statsEvery is how often a node process publishes its clients' statistics while a
// measured phase runs. A node process killed in the middle of a phase takes its clients'
// memory with it: what the coordinator counts for it is its last report, so this is the
// longest stretch of work a kill can leave uncounted. A report is one merged, compressed
// set of histograms per node (a few KiB), so four a second cost nothing beside the
// commits they describe.
const statsEvery = 250 * time.Millisecond

// statsReport is what one node process's clients have done so far in a measured phase:
// their statistics since the phase began (cumulative, so a lost report loses nothing but
// its freshness), and how many transactions were in flight, whose outcome a kill would
// leave unknown.
type statsReport struct {
	Phase    string        `json:"phase"`
	Node     string        `json:"node"`
	PID      int           `json:"pid"`
	Seq      int64         `json:"seq"`
	Elapsed  time.Duration `json:"elapsed"`
	InFlight int64         `json:"in_flight"`
	Clients  int           `json:"clients"`
	Stats    *wireStats    `json:"stats"`
	// Iv is what finished since the previous report, for the per-second series
	// (bus_series.go); Final marks the report sent when the clients were done.
	Iv    *wireInterval `json:"iv,omitempty"`
	Final bool          `json:"final,omitempty"`
	at    time.Time     // when the coordinator received it
}

// countBegins counts the transactions a node's clients begin, for the in-flight count of
// its reports: every attempt begins one transaction and ends in a commit, an abort or a
// server-side retry, so what has begun and not ended is in flight.
type countBegins struct {
	workloads.DB
	n *atomic.Int64
}

func (d countBegins) Begin() workloads.Tx {
	d.n.Add(1)
	return d.DB.Begin()
}

// inFlight is how many of w's transactions had begun and not ended, between 0 and the
// node's clients.
func inFlight(begun int64, w *wireStats, clients int) int64 {
	ended := w.Committed + w.ServerRe
	for _, n := range w.Aborts {
		ended += n
	}
	return min(max(begun-ended, 0), int64(clients))
}

// streamStats publishes the clients' statistics every statsEvery until the returned stop
// is called (the measured phase only: the warm-up's figures are thrown away).
func (h *nodeHost) streamStats(pt *nodePoint, phase string, stats []*clientStats, begun0 int64) (stop func()) {
	if phase == "" {
		return func() {}
	}
	subj := nodes.StatsSubject(h.opt.RunID, h.opt.Name)
	pid := os.Getpid()
	start := time.Now()
	for _, c := range pt.clients {
		if c.queries != nil {
			c.queries.drain() // the warm-up's statements are not the measured phase's
		}
	}
	var seq int64
	publish := func(final bool) {
		seq++
		begun := pt.begun.Load() - begun0
		iv := &wireInterval{}
		w := encodeStatsInterval(stats, iv)
		pt.takeInterval(iv)
		b, _ := json.Marshal(statsReport{Phase: phase, Node: h.opt.Name, PID: pid, Seq: seq, Elapsed: time.Since(start),
			InFlight: inFlight(begun, w, len(stats)), Clients: len(stats), Stats: w, Iv: iv, Final: final})
		_ = h.nc.Publish(subj, b)
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(statsEvery)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				publish(false)
			}
		}
	}()
	return func() { close(done); wg.Wait(); publish(true) }
}

// statsBoard is the coordinator's copy of the newest report of every node process in the
// running phase.
type statsBoard struct {
	sub *nats.Subscription

	mu     sync.Mutex
	latest map[string]statsReport // phase/node/pid
	sink   func(statsReport)      // hears every report while set (the series, bus_series.go)
}

// setSink makes f hear every report from now on (nil: none).
func (b *statsBoard) setSink(f func(statsReport)) {
	b.mu.Lock()
	b.sink = f
	b.mu.Unlock()
}

func boardKey(phase, node string, pid int) string {
	return phase + "/" + node + "/" + strconv.Itoa(pid)
}

// subscribeStats starts collecting the reports of every node of run.
func subscribeStats(nc *nats.Conn, run string) (*statsBoard, error) {
	b := &statsBoard{latest: map[string]statsReport{}}
	sub, err := nc.Subscribe(nodes.StatsSubject(run, "*"), func(m *nats.Msg) {
		var r statsReport
		if json.Unmarshal(m.Data, &r) != nil {
			return
		}
		r.at = time.Now()
		k := boardKey(r.Phase, r.Node, r.PID)
		b.mu.Lock()
		if cur, ok := b.latest[k]; !ok || cur.Seq < r.Seq {
			b.latest[k] = r
		}
		sink := b.sink
		b.mu.Unlock()
		if sink != nil {
			sink(r)
		}
	})
	if err != nil {
		return nil, err
	}
	b.sub = sub
	return b, nc.Flush()
}

// last returns the newest report of node's process pid in phase, if any arrived.
func (b *statsBoard) last(phase, node string, pid int) (statsReport, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	r, ok := b.latest[boardKey(phase, node, pid)]
	return r, ok
}

// forget drops the reports of phase.
func (b *statsBoard) forget(phase string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for k, r := range b.latest {
		if r.Phase == phase {
			delete(b.latest, k)
		}
	}
}
