package results

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/replbench/replbench/protocols"
)

// SeriesFile is the name of the run directory's time-series CSV.
const SeriesFile = "timeseries.csv"

// Series is a point's measured phase interval by interval, as sysbench's --report-interval
// lines are, but kept: what an end-of-point average hides (a partition's hole, a flow-control
// pause, a stall) is in the samples. The interval is one second unless --report-interval asks
// for a finer one (or one that is not a whole number of seconds), so the lines printed and the
// samples kept are the same measurements.
type Series struct {
	IntervalS float64  `json:"interval_s"`
	Samples   []Sample `json:"samples"`
}

// Sample is one interval of a point's measured phase. Latency is of the commits that
// finished in the interval (an empty interval has zero latency, not a missing one: look at
// Committed). The flow-control fields read the protocols' own status counters by their real
// names and stay zero for a protocol that has none.
type Sample struct {
	T     float64 `json:"t_s"`    // end of the interval, seconds since the measured phase began
	SpanS float64 `json:"span_s"` // length of the interval; the last one is usually shorter
	// Committed and Aborts (by protocols.Cause) count what finished in the interval; TPS is
	// Committed / SpanS.
	Committed int64            `json:"committed"`
	TPS       float64          `json:"tps"`
	Aborts    map[string]int64 `json:"aborts,omitempty"`
	Latency   Latency          `json:"latency_ms"`
	// Reads, Writes and Other count the statements the clients issued in the interval, as
	// sysbench splits its qps: point and range reads, inserts/updates/deletes, and the BEGIN
	// and COMMIT/ROLLBACK of explicit transactions.
	Reads  int64 `json:"reads,omitempty"`
	Writes int64 `json:"writes,omitempty"`
	Other  int64 `json:"other,omitempty"`
	// FCPausedMs is the longest time any node spent paused by flow control in the interval
	// (Galera's wsrep_flow_control_paused_ns): while one node is paused every writer waits.
	FCPausedMs float64 `json:"fc_paused_ms,omitempty"`
	// FCSent counts flow-control messages the nodes sent in the interval
	// (wsrep_flow_control_sent), and FCSenders names the nodes that sent them: the slow ones.
	FCSent    int64    `json:"fc_sent,omitempty"`
	FCSenders []string `json:"fc_senders,omitempty"`
	// FCQuota is the tightest Group Replication flow-control quota in force at the end of
	// the interval (transactions per period a writer may commit, gr_model_flow_control_quota),
	// 0 when no member throttles.
	FCQuota int64 `json:"fc_quota,omitempty"`
}

// QPS is the statements per second of the interval (reads, writes and other).
func (s *Sample) QPS() float64 {
	if s.SpanS <= 0 {
		return 0
	}
	return float64(s.Reads+s.Writes+s.Other) / s.SpanS
}

// TotalAborts is the sample's aborts over every cause.
func (s *Sample) TotalAborts() int64 {
	var n int64
	for _, v := range s.Aborts {
		n += v
	}
	return n
}

// FaultMark is one fault event as it fired, parsed from Point.Faults ("4.000s partition
// n1,n2|n3"): its time in seconds from the start of the measured phase and the event.
type FaultMark struct {
	AtS   float64
	Event string // "partition n1,n2|n3", "heal", "delay n3=50ms", ...
}

// FaultMarks parses a point's fault timeline. An entry without a leading time (a file from a
// build that wrote them differently) is skipped: the marks are for drawing, and a mark at a
// guessed time would mislead.
func FaultMarks(p *Point) []FaultMark {
	var out []FaultMark
	for _, f := range p.Faults {
		at, ev, ok := strings.Cut(strings.TrimSpace(f), " ")
		if !ok || !strings.HasSuffix(at, "s") {
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSuffix(at, "s"), 64)
		if err != nil || v < 0 {
			continue
		}
		out = append(out, FaultMark{AtS: v, Event: strings.TrimSpace(ev)})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].AtS < out[j].AtS })
	return out
}

// FaultWindow is a stretch of the measured phase during which a cut or clog was in force:
// from the event that made it to the heal (or unclog) that ended it, or to end when nothing
// did. Plots shade it; changes that are not cuts (a new delay, loss) are marks, not windows.
type FaultWindow struct {
	FromS, ToS float64
	Label      string
}

// FaultWindows turns a point's fault marks into the windows of cuts and clogs, each closed by
// the next heal, by an unclog of the same link, or at end (seconds).
func FaultWindows(marks []FaultMark, end float64) []FaultWindow {
	type open struct {
		from float64
		kind string
		arg  string
	}
	var opens []open
	var out []FaultWindow
	closeWhere := func(at float64, keep func(o open) bool) {
		var rest []open
		for _, o := range opens {
			if keep(o) {
				rest = append(rest, o)
				continue
			}
			out = append(out, FaultWindow{FromS: o.from, ToS: at, Label: strings.TrimSpace(o.kind + " " + o.arg)})
		}
		opens = rest
	}
	for _, m := range marks {
		kind, arg, _ := strings.Cut(m.Event, " ")
		switch kind {
		case "partition", "oneway", "clog":
			opens = append(opens, open{m.AtS, kind, arg})
		case "heal":
			closeWhere(m.AtS, func(open) bool { return false })
		case "unclog":
			closeWhere(m.AtS, func(o open) bool { return !(o.kind == "clog" && sameLink(o.arg, arg)) })
		}
	}
	if end < 0 {
		end = 0
	}
	closeWhere(end, func(open) bool { return false })
	sort.SliceStable(out, func(i, j int) bool { return out[i].FromS < out[j].FromS })
	return out
}

// sameLink reports whether an unclog of b releases the clog of a: the same link written the
// same way, or b is both directions (A-B) of a one-way clog A>B or B>A.
func sameLink(a, b string) bool {
	if a == b {
		return true
	}
	x, y, ok := strings.Cut(b, "-")
	if !ok {
		return false
	}
	return a == x+">"+y || a == y+">"+x || a == y+"-"+x
}

// seriesColumns is the header of timeseries.csv before the per-cause abort columns.
var seriesColumns = []string{"point", "protocol", "nodes", "network", "workload", "writers", "threads", "repeat",
	"t_s", "span_s", "committed", "tps", "qps", "reads", "writes", "other",
	"latency_ms.min", "latency_ms.mean", "latency_ms.p50", "latency_ms.p95", "latency_ms.p99", "latency_ms.max",
	"aborts"}

// seriesTail follows the abort columns.
var seriesTail = []string{"fc_paused_ms", "fc_sent", "fc_senders", "fc_quota", "events"}

// SeriesCSVColumns is the header of timeseries.csv: one row per point and interval, the
// point (1-based, the order of results.json) and what tells it from the others, then the
// sample's fields flattened as in the JSON, a column for every cause in protocols.Causes
// ("aborts.certification", ...) after the total, and the fault events that fired in the
// interval.
func SeriesCSVColumns() []string {
	cols := append([]string{}, seriesColumns...)
	for _, c := range protocols.Causes {
		cols = append(cols, "aborts."+string(c))
	}
	return append(cols, seriesTail...)
}

// WriteSeriesCSV writes every point's samples to path (atomically); a run without samples
// gets the header alone, so a script can rely on the file being there.
func WriteSeriesCSV(path string, run *Run) error {
	if run == nil {
		return errors.New("results: WriteSeriesCSV needs a run, got nil")
	}
	header := SeriesCSVColumns()
	known := map[string]bool{}
	for _, c := range protocols.Causes {
		known[string(c)] = true
	}
	// A cause this build does not list still gets a column, before the tail.
	extra := map[string]bool{}
	for i := range run.Points {
		if s := run.Points[i].Series; s != nil {
			for _, smp := range s.Samples {
				for c := range smp.Aborts {
					if !known[c] {
						extra[c] = true
					}
				}
			}
		}
	}
	if len(extra) > 0 {
		head := header[:len(header)-len(seriesTail)]
		for _, c := range sortedKeys(extra) {
			head = append(head, "aborts."+c)
		}
		header = append(head, seriesTail...)
	}
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	_ = w.Write(header)
	for i := range run.Points {
		p := &run.Points[i]
		if p.Series == nil {
			continue
		}
		marks := FaultMarks(p)
		prev := -1.0 // intervals are (prev, t]; the first one starts at 0 inclusive
		for k, s := range p.Series.Samples {
			last := k == len(p.Series.Samples)-1
			var evs []string
			for _, m := range marks {
				if m.AtS > prev && (m.AtS <= s.T || last) {
					evs = append(evs, m.Event)
				}
			}
			prev = s.T
			row := map[string]string{
				"point": strconv.Itoa(i + 1), "protocol": p.Protocol, "nodes": strconv.Itoa(p.Nodes),
				"network": NetworkLabel(p.Network), "workload": p.Workload, "writers": strings.Join(p.Writers, ";"),
				"threads": strconv.Itoa(p.Threads), "repeat": strconv.Itoa(p.Repeat),
				"t_s": ftoa(s.T), "span_s": ftoa(s.SpanS), "committed": strconv.FormatInt(s.Committed, 10), "tps": ftoa(s.TPS),
				"qps": ftoa(s.QPS()), "reads": strconv.FormatInt(s.Reads, 10), "writes": strconv.FormatInt(s.Writes, 10), "other": strconv.FormatInt(s.Other, 10),
				"latency_ms.min": ftoa(s.Latency.Min), "latency_ms.mean": ftoa(s.Latency.Mean), "latency_ms.p50": ftoa(s.Latency.P50),
				"latency_ms.p95": ftoa(s.Latency.P95), "latency_ms.p99": ftoa(s.Latency.P99), "latency_ms.max": ftoa(s.Latency.Max),
				"aborts":       strconv.FormatInt(s.TotalAborts(), 10),
				"fc_paused_ms": ftoa(s.FCPausedMs), "fc_sent": strconv.FormatInt(s.FCSent, 10),
				"fc_senders": strings.Join(s.FCSenders, ";"), "fc_quota": strconv.FormatInt(s.FCQuota, 10),
				"events": strings.Join(evs, "; "),
			}
			rec := make([]string, len(header))
			for j, h := range header {
				if c, ok := strings.CutPrefix(h, "aborts."); ok {
					rec[j] = strconv.FormatInt(s.Aborts[c], 10)
					continue
				}
				rec[j] = row[h]
			}
			_ = w.Write(rec)
		}
	}
	w.Flush()
	if err := w.Error(); err != nil {
		return fmt.Errorf("results: encoding %s: %w", path, err)
	}
	return WriteFileAtomic(path, buf.Bytes())
}
