package harness

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/replbench/replbench/protocols"
	"github.com/replbench/replbench/results"
)

// Histogram range: 1 µs to 1 h at 3 significant figures, the range and precision the result
// model promises. Values are recorded in microseconds.
const (
	histLowest  = 1
	histHighest = int64(time.Hour / time.Microsecond)
	histSigFigs = 3
)

func newHist() *hdr.Histogram { return hdr.New(histLowest, histHighest, histSigFigs) }

func recordLatency(h *hdr.Histogram, d time.Duration) {
	v := int64(d / time.Microsecond)
	if v < histLowest {
		v = histLowest
	}
	if v > histHighest {
		v = histHighest
	}
	_ = h.RecordValue(v) // cannot fail inside the clamped range
}

// latencyOf summarises a histogram in milliseconds.
func latencyOf(h *hdr.Histogram) results.Latency {
	if h.TotalCount() == 0 {
		return results.Latency{}
	}
	q := func(p float64) float64 { return float64(h.ValueAtQuantile(p)) / 1000 }
	return results.Latency{
		Min:  float64(h.Min()) / 1000,
		Mean: h.Mean() / 1000,
		P50:  q(50), P95: q(95), P99: q(99), P999: q(99.9),
		Max: float64(h.Max()) / 1000,
	}
}

// clientStats is what one client measured. Each client owns one, so recording takes an
// uncontended lock; the interval reporter is the only other reader.
type clientStats struct {
	mu        sync.Mutex
	all       *hdr.Histogram
	byType    map[string]*typeStats
	aborts    map[protocols.Cause]int64
	retries   int64
	serverRe  int64 // autocommit statements re-run by the server (wsrep_retry_autocommit)
	committed int64
	failed    int64 // transactions given up on (after retries)
	firstErr  map[protocols.Cause]string
	// the current reporting interval
	ivHist      *hdr.Histogram
	ivCommitted int64
	ivAborts    int64
	ivCauses    map[protocols.Cause]int64 // the interval's aborts by cause (timeseries.go)
}

type typeStats struct {
	hist      *hdr.Histogram
	committed int64
	aborted   int64
}

func newClientStats() *clientStats {
	return &clientStats{all: newHist(), byType: map[string]*typeStats{}, aborts: map[protocols.Cause]int64{}, ivHist: newHist(), firstErr: map[protocols.Cause]string{}, ivCauses: map[protocols.Cause]int64{}}
}

func (s *clientStats) typ(name string) *typeStats {
	t := s.byType[name]
	if t == nil {
		t = &typeStats{hist: newHist()}
		s.byType[name] = t
	}
	return t
}

func (s *clientStats) commit(txType string, lat time.Duration) {
	s.mu.Lock()
	recordLatency(s.all, lat)
	recordLatency(s.ivHist, lat)
	t := s.typ(txType)
	recordLatency(t.hist, lat)
	t.committed++
	s.committed++
	s.ivCommitted++
	s.mu.Unlock()
}

func (s *clientStats) abort(txType string, c protocols.Cause, retried bool, err error) {
	s.mu.Lock()
	s.aborts[c]++
	if _, seen := s.firstErr[c]; !seen && err != nil {
		s.firstErr[c] = err.Error()
	}
	s.ivAborts++
	s.ivCauses[c]++
	if txType != "" {
		s.typ(txType).aborted++
	}
	if retried {
		s.retries++
	}
	s.mu.Unlock()
}

func (s *clientStats) serverRetry() {
	s.mu.Lock()
	s.serverRe++
	s.mu.Unlock()
}

func (s *clientStats) giveUp() {
	s.mu.Lock()
	s.failed++
	s.mu.Unlock()
}

// interval returns and resets the current interval's figures into the merged accumulators,
// adding its aborts by cause to causes.
func (s *clientStats) interval(into *hdr.Histogram, causes map[protocols.Cause]int64) (committed, aborts int64) {
	s.mu.Lock()
	into.Merge(s.ivHist)
	s.ivHist.Reset()
	committed, aborts = s.ivCommitted, s.ivAborts
	s.ivCommitted, s.ivAborts = 0, 0
	for c, n := range s.ivCauses {
		causes[c] += n
	}
	clear(s.ivCauses)
	s.mu.Unlock()
	return committed, aborts
}

// refusalNote says how many transactions each writer node refused outright (read_only,
// not_ready) and what the clients did about it, or "" when none was refused. The abort
// columns give the totals; this gives where, which is what tells a misplaced writer (a
// client on a GR secondary) from a node that dropped out of the group.
func refusalNote(clients []*client, backoff time.Duration) string {
	perNode := map[string]map[protocols.Cause]int64{}
	for _, c := range clients {
		c.stats.mu.Lock()
		for _, cause := range []protocols.Cause{protocols.CauseReadOnly, protocols.CauseNotReady} {
			if n := c.stats.aborts[cause]; n > 0 {
				if perNode[c.node] == nil {
					perNode[c.node] = map[protocols.Cause]int64{}
				}
				perNode[c.node][cause] += n
			}
		}
		c.stats.mu.Unlock()
	}
	if len(perNode) == 0 {
		return ""
	}
	var parts []string
	for _, node := range sortedNodes(perNode) {
		for _, cause := range []protocols.Cause{protocols.CauseReadOnly, protocols.CauseNotReady} {
			if n := perNode[node][cause]; n > 0 {
				parts = append(parts, fmt.Sprintf("%s %d %s", node, n, cause))
			}
		}
	}
	pause := fmt.Sprintf("each refused client paused %s (--refused-backoff) before its next attempt", backoff)
	if backoff <= 0 {
		pause = "the clients retried at once (--refused-backoff 0)"
	}
	return fmt.Sprintf("refused by the node: %s; %s", strings.Join(parts, ", "), pause)
}

// sortedNodes orders node names n1, n2, ..., n10 by number rather than as strings.
func sortedNodes[V any](m map[string]V) []string {
	ks := sortedKeys(m)
	sort.SliceStable(ks, func(i, j int) bool {
		a, _ := strconv.Atoi(strings.TrimPrefix(ks[i], "n"))
		b, _ := strconv.Atoi(strings.TrimPrefix(ks[j], "n"))
		return a < b
	})
	return ks
}

// pointStats merges every client's figures into the result point.
func mergeStats(clients []*clientStats, p *results.Point) {
	all := newHist()
	types := map[string]*typeStats{}
	p.Aborts = map[string]int64{}
	firstErr := map[protocols.Cause]string{}
	for _, c := range clients {
		c.mu.Lock()
		all.Merge(c.all)
		for name, t := range c.byType {
			m := types[name]
			if m == nil {
				m = &typeStats{hist: newHist()}
				types[name] = m
			}
			m.hist.Merge(t.hist)
			m.committed += t.committed
			m.aborted += t.aborted
		}
		for cause, n := range c.aborts {
			p.Aborts[string(cause)] += n
		}
		for cause, e := range c.firstErr {
			firstErr[cause] = e
		}
		p.Retries += c.retries
		p.AutocommitRetries += c.serverRe
		p.Committed += c.committed
		c.mu.Unlock()
	}
	p.Latency = latencyOf(all)
	// The first error of each unexpected cause goes into the notes: CauseOther and
	// CauseTimeout are always worth reading, the rest are the protocol at work.
	for _, cause := range []protocols.Cause{protocols.CauseOther, protocols.CauseTimeout} {
		if e, ok := firstErr[cause]; ok {
			p.Notes = append(p.Notes, fmt.Sprintf("%d %s aborts, first: %s", p.Aborts[string(cause)], cause, e))
		}
	}
	if len(types) > 0 {
		p.ByType = map[string]results.TypeStats{}
		for name, t := range types {
			p.ByType[name] = results.TypeStats{Committed: t.committed, Aborted: t.aborted, Latency: latencyOf(t.hist)}
		}
	}
}
