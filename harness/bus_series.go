package harness

import (
	"slices"
	"sync"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/replbench/replbench/protocols"
)

// This file is the per-second series (timeseries.go) of a point on node processes. Each
// node's statistics report (bus_stats.go) carries what its clients finished since the
// previous report (commits, aborts by cause, their latency histogram, the statements
// issued) and its provider's flow-control counters; the coordinator adds them into one
// stand-in client per node and one stand-in provider per node, and the same recorder as in
// one process samples those every second and prints the --report-interval lines. A report
// covers the 250 ms before it was sent, so a sample's boundary is exact to that much, and
// a node process killed in a phase takes at most its last 250 ms of figures with it.

// wireInterval is a report's share of the series.
type wireInterval struct {
	Committed int64                 `json:"committed"`
	Aborts    int64                 `json:"aborts"`
	Causes    map[string]int64      `json:"causes,omitempty"`
	Hist      []byte                `json:"hist"`
	Reads     int64                 `json:"reads"`
	Writes    int64                 `json:"writes"`
	Other     int64                 `json:"other"`
	Status    []protocols.StatusVar `json:"status,omitempty"` // flow-control counters
}

// seriesStatus are the status variables the series reads (readFC).
var seriesStatus = []string{statusFCPausedNs, statusFCSent, statusFCQuota}

// takeInterval drains the statements the clients issued and reads the provider's
// flow-control counters into iv (encodeStatsInterval drains the rest; nothing else reads
// them in a node process).
func (pt *nodePoint) takeInterval(iv *wireInterval) {
	for _, c := range pt.clients {
		if c.queries != nil {
			r, w, o := c.queries.drain()
			iv.Reads, iv.Writes, iv.Other = iv.Reads+r, iv.Writes+w, iv.Other+o
		}
	}
	for _, v := range pt.prov.Status() {
		if slices.Contains(seriesStatus, v.Name) {
			iv.Status = append(iv.Status, v)
		}
	}
}

// remoteSeries is the coordinator's stand-ins for the nodes of a measured phase.
type remoteSeries struct {
	phase   string
	members []string
	proxies map[string]*client

	mu     sync.Mutex
	status map[string][]protocols.StatusVar
	final  map[string]bool // node -> its process's last report of the phase arrived
	done   chan struct{}   // closed and replaced on every final report
}

func newRemoteSeries(phase string, members []string) *remoteSeries {
	rs := &remoteSeries{phase: phase, members: members, proxies: map[string]*client{}, status: map[string][]protocols.StatusVar{},
		final: map[string]bool{}, done: make(chan struct{})}
	for _, m := range members {
		rs.proxies[m] = &client{node: m, stats: newClientStats(), queries: &queryCounts{}}
	}
	return rs
}

// clients are the stand-in clients, one per node, for startSeries.
func (rs *remoteSeries) clients() []*client {
	out := make([]*client, len(rs.members))
	for i, m := range rs.members {
		out[i] = rs.proxies[m]
	}
	return out
}

// statusReaders are the stand-in providers, one per node, for startSeries.
func (rs *remoteSeries) statusReaders() []statusReader {
	out := make([]statusReader, len(rs.members))
	for i, m := range rs.members {
		out[i] = remoteStatus{rs, m}
	}
	return out
}

type remoteStatus struct {
	rs   *remoteSeries
	node string
}

// Status implements statusReader: the node's last reported flow-control counters.
func (s remoteStatus) Status() []protocols.StatusVar {
	s.rs.mu.Lock()
	defer s.rs.mu.Unlock()
	return slices.Clone(s.rs.status[s.node])
}

// add is the statistics board's sink: it adds a report's interval to its node's stand-ins.
func (rs *remoteSeries) add(r statsReport) {
	c := rs.proxies[r.Node]
	if r.Phase != rs.phase || c == nil || r.Iv == nil {
		return
	}
	h, err := hdr.Decode(r.Iv.Hist)
	if err != nil {
		return
	}
	st := c.stats
	st.mu.Lock()
	st.ivHist.Merge(h)
	st.ivCommitted += r.Iv.Committed
	st.ivAborts += r.Iv.Aborts
	for k, n := range r.Iv.Causes {
		st.ivCauses[protocols.Cause(k)] += n
	}
	st.mu.Unlock()
	c.queries.reads.Add(r.Iv.Reads)
	c.queries.writes.Add(r.Iv.Writes)
	c.queries.other.Add(r.Iv.Other)
	rs.mu.Lock()
	rs.status[r.Node] = r.Iv.Status
	if r.Final {
		rs.final[r.Node] = true
		close(rs.done)
		rs.done = make(chan struct{})
	}
	rs.mu.Unlock()
}

// waitFinal waits, at most d, for the last report of every node in nodes (a node
// publishes it when its clients are done, just before it answers the phase): the reply
// and the report travel on different subjects, so either may arrive first.
func (rs *remoteSeries) waitFinal(nodes []string, d time.Duration) {
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	for {
		rs.mu.Lock()
		missing := false
		for _, n := range nodes {
			missing = missing || !rs.final[n]
		}
		done := rs.done
		rs.mu.Unlock()
		if !missing {
			return
		}
		select {
		case <-done:
		case <-deadline.C:
			return
		}
	}
}
