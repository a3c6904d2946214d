package results

import (
	"bufio"
	"bytes"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestWANTableShape(t *testing.T) {
	figs := WANTable()
	if len(figs) != 36 {
		t.Fatalf("%d figures, want 2 systems x 3 delays x 6 thread counts = 36", len(figs))
	}
	seen := map[string]bool{}
	for _, f := range figs {
		k := fmt.Sprintf("%s/%g/%d", f.Protocol, f.DelayMs, f.Threads)
		if seen[k] {
			t.Errorf("duplicate figure %s", k)
		}
		seen[k] = true
		if f.Seconds <= 0 {
			t.Errorf("%s: seconds %v", k, f.Seconds)
		}
	}
}

// The embedded figures are the seeds' table, cell for cell. The seeds live beside the
// repository (../shared/seeds), so a fresh clone without them skips this check.
func TestWANTableMatchesSeeds(t *testing.T) {
	files, _ := filepath.Glob("../../shared/seeds/003_*.txt")
	if len(files) == 0 {
		t.Skip("seeds not present beside the checkout")
	}
	f, err := os.Open(files[0])
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	// The document prints "<system> latency/seconds", a header "Threads 100ms 50ms 0.05ms",
	// and six rows of a thread count and three seconds.
	want := map[string]float64{}
	proto := ""
	count := map[string]int{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case strings.HasPrefix(line, "XtraDB Cluster latency/seconds"):
			proto = "galera"
		case strings.HasPrefix(line, "GR latency/seconds"):
			proto = "group-replication"
		case proto != "" && count[proto] < 6:
			fs := strings.Fields(line)
			if len(fs) != 4 {
				continue
			}
			if _, err := strconv.Atoi(fs[0]); err != nil {
				continue
			}
			count[proto]++
			for i, d := range []string{"100", "50", "0.05"} {
				v, _ := strconv.ParseFloat(fs[i+1], 64)
				want[proto+"/"+d+"/"+fs[0]] = v
			}
		}
	}
	if len(want) != 36 {
		t.Fatalf("parsed %d figures from the seed, want 36", len(want))
	}
	for _, fig := range WANTable() {
		k := fmt.Sprintf("%s/%g/%d", fig.Protocol, fig.DelayMs, fig.Threads)
		if want[k] != fig.Seconds {
			t.Errorf("%s: embedded %v, seed %v", k, fig.Seconds, want[k])
		}
	}
}

func insertPoint(proto string, nw Network, threads int, elapsed float64) Point {
	return Point{Protocol: proto, Nodes: 3, Network: nw, Workload: "insert", Threads: threads, Writers: []string{"n1"},
		Queries: 500, Committed: 500, ElapsedS: elapsed, TPS: 500 / elapsed, Aborts: map[string]int64{}, Converged: true}
}

func TestReferenceFor(t *testing.T) {
	wan50 := Network{Preset: "wan-50", Egress: map[string]float64{"n1": 50}}
	cases := []struct {
		name string
		p    Point
		want float64 // 0: no match
	}{
		{"galera lan 1 thread", insertPoint("galera", Network{Preset: "lan"}, 1, 0.5), 0.268},
		{"galera wan-50 8 threads", insertPoint("galera", wan50, 8, 5), 4.18},
		{"gr alias wan-100 64 threads", insertPoint("gr", Network{Preset: "wan-100", Egress: map[string]float64{"n1": 100}}, 64, 3), 2.099},
		{"egress on a non-writer counts as the one delayed node", insertPoint("group-replication", Network{Preset: "lan+n3=50ms", Egress: map[string]float64{"n3": 50}}, 16, 1), 2.507},
		{"custom egress 50 on one node", insertPoint("galera", Network{Preset: "custom", Egress: map[string]float64{"n2": 50}}, 4, 1), 8.359},
		{"unpublished thread count", insertPoint("galera", wan50, 2, 1), 0},
		{"unpublished delay", insertPoint("galera", Network{Preset: "lan", Egress: map[string]float64{"n1": 80}}, 1, 1), 0},
		{"two delayed nodes", insertPoint("galera", Network{Preset: "lan", Egress: map[string]float64{"n1": 50, "n2": 50}}, 1, 1), 0},
		{"a link matrix", insertPoint("galera", Network{Preset: "3dc", Links: map[string]float64{"n1>n2": 35}}, 1, 1), 0},
		{"jitter", insertPoint("galera", Network{Preset: "wan-50", Jitter: "uniform:5ms"}, 1, 1), 0},
		{"semisync has no published figure", insertPoint("semisync", wan50, 1, 1), 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ref := ReferenceFor("wan-concurrency", &c.p)
			if c.want == 0 {
				if ref != nil {
					t.Fatalf("matched %+v", ref)
				}
				return
			}
			if ref == nil {
				t.Fatal("no match")
			}
			if ref.Value != c.want || ref.Measured != c.p.ElapsedS || math.Abs(ref.Ratio-c.p.ElapsedS/c.want) > 1e-12 {
				t.Fatalf("got %+v, want value %v measured %v", ref, c.want, c.p.ElapsedS)
			}
			if !strings.Contains(ref.Source, "WAN Synchronous Clusters") || ref.Metric != WANTableMetric {
				t.Fatalf("source or metric not named: %+v", ref)
			}
		})
	}
	// Not the published workload: other query counts, other workloads, other sizes.
	p := insertPoint("galera", wan50, 8, 5)
	p.Queries = 1000
	if ReferenceFor("", &p) != nil {
		t.Error("1000 queries matched a 500-insert figure")
	}
	p = insertPoint("galera", wan50, 8, 5)
	p.Workload = "oltp_write_only"
	if ReferenceFor("", &p) != nil {
		t.Error("oltp_write_only matched an insert figure")
	}
	p = insertPoint("galera", wan50, 8, 5)
	p.Nodes = 5
	if ReferenceFor("", &p) != nil {
		t.Error("5 nodes matched a 3-node figure")
	}
}

// cells splits a rendered table row into its trimmed cells.
func cells(line string) []string {
	parts := strings.Split(line, "│")
	var out []string
	for _, p := range parts[1 : len(parts)-1] {
		out = append(out, strings.TrimSpace(p))
	}
	return out
}

// A synthetic run that measured every galera cell at exactly twice the published seconds,
// with a bound, and GR only at 50 ms with the delay on a non-writer: the printed table must
// have the published layout (rows = threads; per network published, measured, ratio,
// model) with the published figures in place and ratio 2.00 everywhere galera ran.
func TestPrintReferenceLayout(t *testing.T) {
	run := &Run{Schema: Schema, Scenario: "wan-concurrency"}
	for _, f := range WANTable() {
		if f.Protocol != "galera" {
			continue
		}
		var nw Network
		switch f.DelayMs {
		case 0.05:
			nw = Network{Preset: "lan"}
		case 50:
			nw = Network{Preset: "wan-50", Egress: map[string]float64{"n1": 50}}
		case 100:
			nw = Network{Preset: "wan-100", Egress: map[string]float64{"n1": 100}}
		}
		p := insertPoint("galera", nw, f.Threads, 2*f.Seconds)
		floor := f.DelayMs + 0.075
		p.SetBound(&Bound{CommitFloorMs: floor, MaxTPS: float64(f.Threads) / (floor / 1000), Limit: "latency", Derivation: "model: test"})
		run.Points = append(run.Points, p)
	}
	gr := insertPoint("group-replication", Network{Preset: "lan+n3=50ms", Egress: map[string]float64{"n3": 50}}, 8, 0.2)
	gr.SetBound(&Bound{CommitFloorMs: 0.05, MaxTPS: 8 / 0.00005, Limit: "latency", Derivation: "model: test"})
	run.Points = append(run.Points, gr)

	var buf bytes.Buffer
	PrintReference(&buf, run)
	out := buf.String()
	lines := strings.Split(out, "\n")

	// Galera block: header order and one row per published thread count.
	var hdr1, hdr2 []string
	rows := map[string][]string{}
	block := ""
	for _, l := range lines {
		switch {
		case strings.Contains(l, "Percona XtraDB Cluster 5.7.16 latency/seconds (pub. = published) vs galera (meas. = measured)"):
			block = "galera"
		case strings.Contains(l, "MySQL Group Replication 5.7.17 latency/seconds (pub. = published) vs group-replication (meas. = measured)"):
			block = "gr"
		case block == "galera" && strings.HasPrefix(l, "│"):
			c := cells(l)
			if c[0] == "Threads" && hdr1 == nil {
				hdr1 = c
			} else if c[0] == "Threads" || c[0] == "" {
				hdr2 = c
			} else {
				rows[c[0]] = c
			}
		}
	}
	if block != "gr" {
		t.Fatalf("both blocks expected, galera then group-replication:\n%s", out)
	}
	if len(hdr1) == 0 || !strings.Contains(strings.Join(hdr1, "|"), "100ms") {
		t.Fatalf("first header row lacks the networks: %q\n%s", hdr1, out)
	}
	h := strings.Join(hdr1, " ")
	if !(strings.Index(h, "100ms") < strings.Index(h, "50ms") && strings.Index(h, "50ms") < strings.Index(h, "0.05ms")) {
		t.Errorf("networks not in the published order 100ms, 50ms, 0.05ms: %q", hdr1)
	}
	if got := strings.Join(hdr2, ","); !strings.Contains(got, "pub.,meas.,ratio,model,pub.,meas.,ratio,model,pub.,meas.,ratio,model") {
		t.Errorf("second header row %q", got)
	}
	wantRows := map[string][]string{
		"1":  {"1", "51.671", "103.342", "2.00", "", "25.583", "51.166", "2.00", "", "0.268", "0.536", "2.00", ""},
		"64": {"64", "1.808", "3.616", "2.00", "", "0.925", "1.850", "2.00", "", "0.098", "0.196", "2.00", ""},
	}
	for th, want := range wantRows {
		got := rows[th]
		if len(got) != len(want) {
			t.Fatalf("row %s: %q", th, got)
		}
		for i := range want {
			if want[i] != "" && got[i] != want[i] {
				t.Errorf("row %s cell %d = %q, want %q", th, i, got[i], want[i])
			}
		}
		// model = 500 / max tps = 500 * floor / threads.
		n, _ := strconv.Atoi(th)
		if m := fmt.Sprintf("%.3f", 500*(100.075/1000)/float64(n)); got[4] != m {
			t.Errorf("row %s model at 100ms = %q, want %q", th, got[4], m)
		}
	}
	if len(rows) != 6 {
		t.Errorf("%d thread rows, want 6", len(rows))
	}
	for _, want := range []string{
		"delay placement, 50ms: egress on n1 (a writer); model commit floor 50.1 ms.",
		"delay placement, 100ms: egress on n1 (a writer)",
		"delay placement, 50ms: egress on n3 (not a writer; writers n1); model commit floor 0.05 ms.",
		"with the delay on a non-writer the primary commits at the RTT to the fast member",
		"a model, not a measurement",
	} {
		if !strings.Contains(strings.Join(strings.Fields(out), " "), want) { // prose is wrapped to 120 columns
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	for _, l := range lines {
		if w := len([]rune(l)); w > DefaultWidth {
			t.Errorf("line of %d columns: %s", w, l)
		}
	}
}

func TestPrintReferenceNoMatch(t *testing.T) {
	var buf bytes.Buffer
	PrintReference(&buf, sampleRun())
	if !strings.Contains(buf.String(), "No point of this run reproduces a published figure") {
		t.Fatalf("got %q", buf.String())
	}
}
