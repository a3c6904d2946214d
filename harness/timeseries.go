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

// seriesStep chooses the sampling interval of a point's time series and how many samples
// make one --report-interval line. The series is per second, as the readers and
// sysbench's habit expect; a report interval finer than a second, or one that is not a
// whole number of seconds, becomes the sampling interval itself, so that every printed line
// is one kept sample and the two never disagree.
func seriesStep(report time.Duration) (step time.Duration, perLine int) {
	switch {
	case report <= 0:
		return time.Second, 0
	case report < time.Second || report%time.Second != 0:
		return report, 1
	default:
		return time.Second, int(report / time.Second)
	}
}

// flow-control status variables, by their real names: Galera's cumulative pause time and
// messages sent, Group Replication's quota in force (0: none).
const (
	statusFCPausedNs = "wsrep_flow_control_paused_ns"
	statusFCSent     = "wsrep_flow_control_sent"
	statusFCQuota    = "gr_model_flow_control_quota"
)

// seriesRecorder samples a point's measured phase every step: the clients' interval
// figures (commits, latency histogram, aborts by cause) and each node's flow-control
// counters, into results.Samples, and prints the --report-interval lines from the same
// samples. It is the one interval mechanism of a point: the lines and the series are the
// same measurements.
type seriesRecorder struct {
	con       *console
	clients   []*client
	providers []statusReader
	members   []string
	label     string
	start     time.Time
	step      time.Duration
	perLine   int

	done chan struct{}
	wg   sync.WaitGroup

	mu       sync.Mutex
	last     time.Time
	samples  []results.Sample
	prevFC   map[string][2]int64 // node -> paused ns, messages sent at the last sample
	lastHist *hdr.Histogram      // the last sample's latencies, for folding a short final one in
	// prevFCBase is prevFC as it was when the last sample began, for folding.
	prevFCBase map[string][2]int64
	line       lineAcc // what the next report line sums
}

// lineAcc sums samples into one report line.
type lineAcc struct {
	n         int
	span      float64
	committed int64
	queries   [3]int64 // reads, writes, other
	aborts    map[string]int64
	hist      *hdr.Histogram
	fcPausedM float64
	t         float64 // end of the last sample in the line
}

// statusReader is what the series reads of a node's provider: its status variables (a
// provider here, or a node process's last reported flow-control figures, bus_series.go).
type statusReader interface {
	Status() []protocols.StatusVar
}

// providerStatus is the providers as the series reads them.
func providerStatus(ps []protocols.Provider) []statusReader {
	out := make([]statusReader, len(ps))
	for i, p := range ps {
		out[i] = p
	}
	return out
}

// startSeries starts sampling from start (the measured phase's start, the fault timeline's
// zero) until stop. label names the point in the report lines.
func startSeries(con *console, clients []*client, providers []statusReader, members []string, label string, start time.Time, report time.Duration) *seriesRecorder {
	step, perLine := seriesStep(report)
	r := &seriesRecorder{con: con, clients: clients, providers: providers, members: members, label: label,
		start: start, step: step, perLine: perLine, done: make(chan struct{}), last: start}
	r.prevFC = r.readFC(nil)
	for _, cl := range clients {
		if cl.queries != nil {
			cl.queries.drain() // the warm-up's statements are not the measured phase's
		}
	}
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		t := time.NewTicker(step)
		defer t.Stop()
		for {
			select {
			case <-r.done:
				return
			case now := <-t.C:
				r.sample(now, false)
			}
		}
	}()
	return r
}

// stop ends the sampling at end, the end of the measured phase (its last transaction), and
// returns the series; nil when nothing was sampled. The time between the last tick and end
// is the last sample; one shorter than a quarter of the interval is folded into the sample
// before it, so that a few commits over a few milliseconds do not read as a spike or a drop.
func (r *seriesRecorder) stop(end time.Time) *results.Series {
	close(r.done)
	r.wg.Wait()
	r.sample(end, true)
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.samples) == 0 {
		return nil
	}
	return &results.Series{IntervalS: r.step.Seconds(), Samples: r.samples}
}

// sample closes the interval ending at now. The final one (at the phase's end) is kept if
// anything finished in it; a short final one joins the sample before it.
func (r *seriesRecorder) sample(now time.Time, final bool) {
	h := newHist()
	causes := map[protocols.Cause]int64{}
	var committed, aborts, reads, writes, other int64
	for _, cl := range r.clients {
		c, a := cl.stats.interval(h, causes)
		committed += c
		aborts += a
		if cl.queries != nil {
			rd, wr, ot := cl.queries.drain()
			reads, writes, other = reads+rd, writes+wr, other+ot
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if final && committed == 0 && aborts == 0 {
		if r.perLine > 0 && r.line.n > 0 && len(r.samples) > 0 {
			r.addLine(nil, nil, true) // print what the last line had gathered
		}
		return
	}
	if now.Before(r.last) {
		now = r.last // the phase ended before the last tick: what finished belongs to it
	}
	folded := false
	if final && len(r.samples) > 0 && now.Sub(r.last) < r.step/4 {
		folded = true
		prev := &r.samples[len(r.samples)-1]
		r.lastHist.Merge(h)
		h = r.lastHist
		committed += prev.Committed
		reads, writes, other = reads+prev.Reads, writes+prev.Writes, other+prev.Other
		for c, n := range prev.Aborts {
			causes[protocols.Cause(c)] += n
		}
		r.last = r.last.Add(-time.Duration(prev.SpanS * float64(time.Second)))
		r.samples = r.samples[:len(r.samples)-1]
		r.prevFC = r.prevFCBase // the flow-control deltas run from the folded sample's start
	}
	span := now.Sub(r.last).Seconds()
	if span <= 0 {
		span = r.step.Seconds()
	}
	r.last = now
	r.lastHist = h
	s := results.Sample{T: now.Sub(r.start).Seconds(), SpanS: span, Committed: committed,
		TPS: float64(committed) / span, Latency: latencyOf(h), Reads: reads, Writes: writes, Other: other}
	if len(causes) > 0 {
		s.Aborts = map[string]int64{}
		for c, n := range causes {
			s.Aborts[string(c)] = n
		}
	}
	cur := r.readFC(&s)
	for node, v := range cur {
		p, ok := r.prevFC[node]
		if !ok {
			continue
		}
		if d := float64(v[0]-p[0]) / 1e6; d > s.FCPausedMs {
			s.FCPausedMs = d
		}
		if d := v[1] - p[1]; d > 0 {
			s.FCSent += d
			s.FCSenders = append(s.FCSenders, node)
		}
	}
	sort.Strings(s.FCSenders)
	r.prevFCBase, r.prevFC = r.prevFC, cur
	r.samples = append(r.samples, s)
	// A folded final sample whose line was already printed is not printed again: the
	// line would repeat the last one with a few stragglers added.
	if r.perLine > 0 && !(folded && r.line.n == 0) {
		r.addLine(&s, h, final)
	}
}

// readFC reads each node's cumulative flow-control counters and, into s when given, the
// tightest Group Replication quota in force.
func (r *seriesRecorder) readFC(s *results.Sample) map[string][2]int64 {
	out := map[string][2]int64{}
	for i, pr := range r.providers {
		var paused, sent int64
		has := false
		for _, v := range pr.Status() {
			switch v.Name {
			case statusFCPausedNs:
				paused, _ = strconv.ParseInt(v.Value, 10, 64)
				has = true
			case statusFCSent:
				sent, _ = strconv.ParseInt(v.Value, 10, 64)
				has = true
			case statusFCQuota:
				if q, err := strconv.ParseInt(v.Value, 10, 64); err == nil && q > 0 && s != nil && (s.FCQuota == 0 || q < s.FCQuota) {
					s.FCQuota = q
				}
			}
		}
		if has && i < len(r.members) {
			out[r.members[i]] = [2]int64{paused, sent}
		}
	}
	return out
}

// addLine adds a sample to the next report line and prints the line when it is complete
// (or the phase ended): time, the point, tps, p95, aborts per second by cause, and the
// flow-control pause when there was one.
func (r *seriesRecorder) addLine(s *results.Sample, h *hdr.Histogram, final bool) {
	a := &r.line
	if a.hist == nil {
		a.hist, a.aborts = newHist(), map[string]int64{}
	}
	if s != nil {
		a.n++
		a.span += s.SpanS
		a.committed += s.Committed
		a.queries[0] += s.Reads
		a.queries[1] += s.Writes
		a.queries[2] += s.Other
		a.hist.Merge(h)
		a.fcPausedM += s.FCPausedMs
		for c, n := range s.Aborts {
			a.aborts[c] += n
		}
		a.t = s.T
	}
	if (a.n < r.perLine && !final) || a.n == 0 || a.span <= 0 {
		return
	}
	var ab int64
	var causes []string
	for _, c := range sortedKeys(a.aborts) {
		ab += a.aborts[c]
		causes = append(causes, fmt.Sprintf("%s %d", c, a.aborts[c]))
	}
	q := a.queries
	line := fmt.Sprintf("%s [%6.1fs] %s: tps %.1f qps %.1f (r/w/o %.1f/%.1f/%.1f) lat ms %s err/s %.1f aborts %d",
		time.Now().Format("15:04:05.000"), a.t, r.label, float64(a.committed)/a.span,
		float64(q[0]+q[1]+q[2])/a.span, float64(q[0])/a.span, float64(q[1])/a.span, float64(q[2])/a.span,
		percentileText(a.hist, r.con.pcts), float64(ab)/a.span, ab)
	if len(causes) > 0 {
		line += " (" + strings.Join(causes, ", ") + ")"
	}
	if a.fcPausedM > 0 {
		line += fmt.Sprintf(" fc paused %.0f ms", a.fcPausedM)
	}
	r.con.interval(line)
	r.line = lineAcc{}
}

// percentileText is "p95 1.234" for the percentiles pcts of h (95 when none are given),
// space-separated.
func percentileText(h *hdr.Histogram, pcts []float64) string {
	if len(pcts) == 0 {
		pcts = []float64{95}
	}
	parts := make([]string, len(pcts))
	for i, q := range pcts {
		parts[i] = fmt.Sprintf("p%s %.3f", strconv.FormatFloat(q, 'f', -1, 64), float64(h.ValueAtQuantile(q))/1000)
	}
	return strings.Join(parts, " ")
}

// pointLabel names a point in progress and report lines: protocol, nodes, network,
// workload, writers when more than n1, and threads.
func pointLabel(ps *PointSpec) string {
	return labelOf(ps.Protocol, ps.Nodes, ps.Network.Name, ps.Workload.Name, ps.Writers, ps.Threads, ps.Repeat)
}

// resultLabel is pointLabel for a finished point, read from its result.
func resultLabel(p *results.Point) string {
	return labelOf(p.Protocol, p.Nodes, results.NetworkLabel(p.Network), p.Workload, p.Writers, p.Threads, p.Repeat)
}

// labelOf is the one format of a point's label, so progress lines, interval lines and
// warnings name a point the same way and two points that differ only in writers or
// workload never read alike. A repeat after the first is numbered ("run 2"); the first
// carries no number, so a run without repeats reads as before.
func labelOf(protocol string, nodes int, network, workload string, writers []string, threads, repeat int) string {
	w := ""
	switch {
	case len(writers) > 1 && len(writers) == nodes:
		w = " w=all" // as the tables name it
	case len(writers) > 1 || (len(writers) == 1 && writers[0] != "n1"):
		w = " w=" + strings.Join(writers, ",")
	}
	r := ""
	if repeat > 0 {
		r = fmt.Sprintf(" run %d", repeat+1)
	}
	return fmt.Sprintf("%s %dn %s %s%s t=%d%s", protocol, nodes, network, workload, w, threads, r)
}
