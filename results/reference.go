package results

import (
	_ "embed"
	"encoding/csv"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"sync"

	"github.com/jedib0t/go-pretty/v6/table"
	"github.com/jedib0t/go-pretty/v6/text"

	"github.com/replbench/replbench/protocols"
)

// wanTableCSV is the published table the wan-concurrency scenario reproduces, kept as data
// with its source in the file's header so that a figure can be checked against the document.
//
//go:embed refdata/wan-concurrency.csv
var wanTableCSV string

// WANTableSource names the document and table the reference figures come from.
const WANTableSource = `Percona blog, "WAN Synchronous Clusters: Dealing with Latency Using Concurrency" (2017), tables "XtraDB Cluster latency/seconds" and "GR latency/seconds"`

// WANTableMetric is the metric of the published WAN table.
const WANTableMetric = "seconds per 500 inserts"

// WANTableQueries is the number of single-row inserts each published figure timed.
const WANTableQueries = 500

// RefFigure is one published figure: a system, the protocol that models it, the netem delay
// on one node (0.05 stands for the undisturbed LAN), the client concurrency and the seconds.
type RefFigure struct {
	System   string
	Protocol string
	DelayMs  float64
	Threads  int
	Seconds  float64
}

var (
	refOnce sync.Once
	refData []RefFigure
	refErr  error
)

// WANTable returns the published figures, in the file's order. A parse error is a broken
// build (the file is embedded), so it panics with the line at fault.
func WANTable() []RefFigure {
	refOnce.Do(func() { refData, refErr = parseRefCSV(wanTableCSV) })
	if refErr != nil {
		panic("results: embedded refdata/wan-concurrency.csv: " + refErr.Error())
	}
	return refData
}

func parseRefCSV(s string) ([]RefFigure, error) {
	r := csv.NewReader(strings.NewReader(s))
	r.Comment = '#'
	recs, err := r.ReadAll()
	if err != nil {
		return nil, err
	}
	if len(recs) < 2 || strings.Join(recs[0], ",") != "system,protocol,delay_ms,threads,seconds" {
		return nil, fmt.Errorf("want header system,protocol,delay_ms,threads,seconds")
	}
	var out []RefFigure
	for i, rec := range recs[1:] {
		d, err1 := strconv.ParseFloat(rec[2], 64)
		t, err2 := strconv.Atoi(rec[3])
		v, err3 := strconv.ParseFloat(rec[4], 64)
		if err1 != nil || err2 != nil || err3 != nil {
			return nil, fmt.Errorf("record %d: %v", i+1, rec)
		}
		out = append(out, RefFigure{System: rec[0], Protocol: rec[1], DelayMs: d, Threads: t, Seconds: v})
	}
	return out, nil
}

// canonicalProtocol maps a protocol name or alias to the name the reference data uses.
// The registry resolves aliases when the protocol is linked in; the fallback table keeps
// reports of old result files working in a binary without it.
func canonicalProtocol(name string) string {
	if p, err := protocols.Lookup(name); err == nil {
		name = p.Name
	}
	switch strings.ToLower(name) {
	case "galera", "pxc", "percona-xtradb-cluster", "mariadb-galera":
		return "galera"
	case "group-replication", "gr", "groupreplication", "mgr":
		return "group-replication"
	}
	return name
}

// wanDelay classifies a point's network as one of the published columns: the LAN (0.05),
// or a delay on exactly one node's egress, as tc netem on one interface does. ok is false for
// anything else (a link matrix, jitter, loss, delays on two nodes), which the table did not
// measure. node is the delayed node, "" for the LAN or a preset that does not say.
func wanDelay(n Network) (delay float64, node string, ok bool) {
	if n.Loss != 0 || (n.Jitter != "" && n.Jitter != "none") {
		return 0, "", false
	}
	if len(nonZero(n.Links)) > 0 {
		return 0, "", false
	}
	eg := nonZero(n.Egress)
	base, _, _ := strings.Cut(n.Preset, "+") // "lan+n3=50ms" is the lan preset with an override
	switch len(eg) {
	case 0:
		switch base {
		case "lan":
			return 0.05, "", true
		case "wan-50":
			return 50, "n1", true
		case "wan-100":
			return 100, "n1", true
		}
		return 0, "", false
	case 1:
		for k, v := range eg { // a multi-region preset has links, refused above
			return v, k, true
		}
	}
	return 0, "", false
}

func isInsertWorkload(w string) bool { return strings.Contains(strings.ToLower(w), "insert") }

// ReferenceFor returns the published figure that point p reproduces, or nil. The match is by
// the point's configuration, not by scenario name, so a user's own scenario file that
// rebuilds the table is compared too (scenario is accepted for references tied to one
// scenario in future; none is yet): protocol galera (for Percona XtraDB Cluster) or
// group-replication (for MySQL GR), three nodes, an insert workload of 500 queries, a
// network that is the LAN or one node's egress at 50 or 100 ms, and a published thread
// count. Measured is the point's elapsed seconds; Ratio = Measured / Value.
func ReferenceFor(scenario string, p *Point) *Reference {
	_ = scenario
	if p == nil || p.Nodes != 3 || p.Queries != WANTableQueries || !isInsertWorkload(p.Workload) {
		return nil
	}
	delay, _, ok := wanDelay(p.Network)
	if !ok {
		return nil
	}
	proto := canonicalProtocol(p.Protocol)
	for _, f := range WANTable() {
		if f.Protocol != proto || f.Threads != p.Threads || math.Abs(f.DelayMs-delay) > 1e-9 {
			continue
		}
		ref := &Reference{
			Source:   fmt.Sprintf("%s: %s, %s, %d threads", WANTableSource, f.System, delayLabel(f.DelayMs), f.Threads),
			Metric:   WANTableMetric,
			Value:    f.Seconds,
			Measured: p.ElapsedS,
		}
		if f.Seconds > 0 {
			ref.Ratio = p.ElapsedS / f.Seconds
		}
		return ref
	}
	return nil
}

func delayLabel(ms float64) string { return strconv.FormatFloat(ms, 'g', -1, 64) + "ms" }

// refCell gathers the measured points of one (protocol, delay, threads) cell; repeats are
// averaged.
type refCell struct {
	sum, boundSum float64
	n, boundN     int
}

// PrintReference prints, for each protocol of the published table that the run measured,
// the published and measured seconds side by side in the published layout: rows are thread
// counts, and for each network (100 ms, 50 ms, 0.05 ms, as published) a column of published
// seconds, measured seconds and their ratio, plus the model's seconds (500 inserts at the
// Callaghan bound) when the points carry a bound. Notes under each block say where the run put
// the delay and what the model predicts for that placement.
func PrintReference(w io.Writer, run *Run) {
	if run == nil {
		return
	}
	type key struct {
		proto   string
		delay   float64
		threads int
	}
	cells := map[key]*refCell{}
	placements := map[string]map[float64]map[string]bool{} // proto -> delay -> "n2 (not a writer)"
	floors := map[string]map[float64][]float64{}
	matched := 0
	for i := range run.Points {
		p := &run.Points[i]
		ref := ReferenceFor(run.Scenario, p)
		if ref == nil {
			continue
		}
		matched++
		delay, node, _ := wanDelay(p.Network)
		proto := canonicalProtocol(p.Protocol)
		k := key{proto, delay, p.Threads}
		c := cells[k]
		if c == nil {
			c = &refCell{}
			cells[k] = c
		}
		c.sum += p.ElapsedS
		c.n++
		if p.Bound != nil && p.Bound.MaxTPS > 0 {
			c.boundSum += float64(WANTableQueries) / p.Bound.MaxTPS
			c.boundN++
			if floors[proto] == nil {
				floors[proto] = map[float64][]float64{}
			}
			floors[proto][delay] = append(floors[proto][delay], p.Bound.CommitFloorMs)
		}
		if delay != 0.05 {
			if placements[proto] == nil {
				placements[proto] = map[float64]map[string]bool{}
			}
			if placements[proto][delay] == nil {
				placements[proto][delay] = map[string]bool{}
			}
			placements[proto][delay][placementLabel(node, p.Writers)] = true
		}
	}
	if matched == 0 {
		fmt.Fprintln(w, wrap(fmt.Sprintf("No point of this run reproduces a published figure (%s: galera or group-replication, 3 nodes, %d inserts, lan or one node's egress at 50/100 ms, threads 1-64).", WANTableSource, WANTableQueries), DefaultWidth, 0))
		return
	}
	delays := []float64{100, 50, 0.05}
	for _, proto := range []string{"galera", "group-replication"} {
		var figs []RefFigure
		for _, f := range WANTable() {
			if f.Protocol == proto {
				figs = append(figs, f)
			}
		}
		has, hasModel := false, false
		for k, c := range cells {
			if k.proto == proto {
				has = true
				hasModel = hasModel || c.boundN > 0
			}
		}
		if !has || len(figs) == 0 {
			continue
		}
		sub := []string{"pub.", "meas.", "ratio"}
		if hasModel {
			sub = append(sub, "model")
		}
		t := newTable()
		fmt.Fprintln(w, wrap(fmt.Sprintf("%s latency/seconds (pub. = published) vs %s (meas. = measured), %s",
			figs[0].System, proto, WANTableMetric), DefaultWidth, 2))
		h1 := table.Row{"Threads"}
		h2 := table.Row{""}
		for _, d := range delays {
			for _, s := range sub {
				h1 = append(h1, delayLabel(d))
				h2 = append(h2, s)
			}
		}
		t.AppendHeader(h1, table.RowConfig{AutoMerge: true})
		t.AppendHeader(h2)
		threadSet := map[int]bool{}
		byCell := map[key]float64{}
		for _, f := range figs {
			threadSet[f.Threads] = true
			byCell[key{proto, f.DelayMs, f.Threads}] = f.Seconds
		}
		threads := sortedInts(threadSet)
		for _, th := range threads {
			row := table.Row{th}
			for _, d := range delays {
				pub, okPub := byCell[key{proto, d, th}]
				c := cells[key{proto, d, th}]
				row = append(row, pubCell(pub, okPub))
				if c == nil || c.n == 0 {
					row = append(row, "-", "-")
				} else {
					m := c.sum / float64(c.n)
					row = append(row, fmtF(m, 3))
					if okPub && pub > 0 {
						row = append(row, fmtF(m/pub, 2))
					} else {
						row = append(row, "-")
					}
				}
				if hasModel {
					if c != nil && c.boundN > 0 {
						row = append(row, fmtSec(c.boundSum/float64(c.boundN)))
					} else {
						row = append(row, "-")
					}
				}
			}
			t.AppendRow(row)
		}
		cfg := []table.ColumnConfig{}
		for i := 2; i <= 1+len(delays)*len(sub); i++ {
			cfg = append(cfg, table.ColumnConfig{Number: i, Align: text.AlignRight})
		}
		t.SetColumnConfigs(cfg)
		fmt.Fprintln(w, t.Render())
		fmt.Fprintln(w, wrap(fmt.Sprintf("measured = this run's elapsed seconds for %d inserts (mean over repeats); ratio = measured / published.", WANTableQueries), DefaultWidth, 0))
		if hasModel {
			fmt.Fprintln(w, wrap(fmt.Sprintf("model = %d inserts at the Callaghan's-law bound (%d / max tps): a floor on seconds from the emulated delays, a model, not a measurement.", WANTableQueries, WANTableQueries), DefaultWidth, 0))
		}
		for _, d := range []float64{50, 100} {
			pl := placements[proto][d]
			if len(pl) == 0 {
				continue
			}
			line := fmt.Sprintf("delay placement, %s: %s", delayLabel(d), strings.Join(sortedKeys(pl), "; "))
			if fl := floors[proto][d]; len(fl) > 0 {
				lo, hi := minMax(fl)
				if lo == hi {
					line += fmt.Sprintf("; model commit floor %s ms", fmtMs(lo))
				} else {
					line += fmt.Sprintf("; model commit floor %s-%s ms", fmtMs(lo), fmtMs(hi))
				}
			}
			fmt.Fprintln(w, wrap(line+".", DefaultWidth, 4))
		}
		fmt.Fprintln(w, wrap(placementNote(proto, placements[proto]), DefaultWidth, 0))
		fmt.Fprintln(w)
	}
}

// fmtSec prints seconds to the published table's precision (milliseconds); a model figure
// below a millisecond is "<0.001" rather than a 0.000 that reads as zero.
func fmtSec(v float64) string {
	if v > 0 && v < 0.0005 {
		return "<0.001"
	}
	return fmtF(v, 3)
}

func pubCell(v float64, ok bool) string {
	if !ok {
		return "-"
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}

func minMax(v []float64) (float64, float64) {
	lo, hi := v[0], v[0]
	for _, x := range v {
		lo, hi = math.Min(lo, x), math.Max(hi, x)
	}
	return lo, hi
}

// placementLabel says which node carries the delay and whether clients write there.
func placementLabel(node string, writers []string) string {
	if node == "" {
		return "preset delay (node not recorded)"
	}
	for _, w := range writers {
		if w == node {
			return "egress on " + node + " (a writer)"
		}
	}
	if len(writers) == 0 {
		return "egress on " + node
	}
	return "egress on " + node + " (not a writer; writers " + strings.Join(writers, ",") + ")"
}

// placementNote explains what the model says about where the delay sits, per protocol.
func placementNote(proto string, pl map[float64]map[string]bool) string {
	nonWriter := false
	for _, m := range pl {
		for k := range m {
			if strings.Contains(k, "not a writer") {
				nonWriter = true
			}
		}
	}
	switch proto {
	case "galera":
		return "Galera delivers only when every member has the write-set (EVS safe delivery), so in the model the delay costs the same wherever it sits: each commit waits for the slowest path through all members."
	case "group-replication":
		if nonWriter {
			return "Group Replication is modelled as raft majority: with the delay on a non-writer the primary commits at the RTT to the fast member, so the model predicts LAN speed; the published GR figures slow down anyway (a delayed primary, or XCom's Mencius slots waiting on the slow member), and a large ratio here is that difference."
		}
		return "Group Replication is modelled as raft majority: the delay sits on the writer (the primary, kept on the raft leader), so every commit pays one RTT to the closest majority, as the published GR figures do; a delay on a non-writer would let the majority commit at LAN speed (see the non-writer variant)."
	}
	return ""
}
