package results

import (
	"bytes"
	"encoding/csv"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func f64(v float64) *float64 { return &v }

// sampleRun is a small run with every optional part filled: two protocols, one abort cause
// on one point only, a bound and efficiency, status, metrics, checks, and one point that
// did not converge.
func sampleRun() *Run {
	return &Run{
		Schema: Schema, Scenario: "sample", Seed: 42, StartedAt: "2026-01-02T03:04:05Z",
		Environment: &Environment{Version: "dev", GoVersion: "go1.26.8", OS: "linux", Arch: "amd64", CPUs: 2, Bus: "memory"},
		Points: []Point{
			{
				Protocol: "galera", Nodes: 3, Network: Network{Preset: "wan-50", Egress: map[string]float64{"n1": 50},
					DelayError: &Percentiles{P50: 0.01, P99: 0.2, Max: 0.9, N: 1000}},
				Workload: "oltp_write_only", Params: map[string]string{"wsrep_slave_threads": "4"},
				Threads: 8, Writers: []string{"n1", "n2"}, Duration: 10, Committed: 1500,
				Aborts: map[string]int64{"certification": 12}, Retries: 3, ElapsedS: 10.01, TPS: 149.85,
				Latency:    Latency{Mean: 53.1, P50: 51.2, P95: 60.3, P99: 75.5, P999: 90, Max: 101},
				Status:     map[string]map[string]string{"n1": {"wsrep_local_cert_failures": "12"}, "n2": {"wsrep_local_cert_failures": "0"}},
				Metrics:    map[string]float64{"tpmC": 1234.5},
				Checks:     map[string]bool{"ytd_consistent": true},
				Bound:      &Bound{CommitFloorMs: 50.075, MaxTPS: 159.76, HotRowMaxTPS: 19.97, Limit: "latency", Derivation: "model: longest path n1->n2->n3->n1"},
				Efficiency: f64(149.85 / 159.76), Converged: true,
			},
			{
				Protocol: "group-replication", Nodes: 3, Network: Network{Preset: "lan"}, Workload: "oltp_write_only",
				Threads: 8, Writers: []string{"n1"}, Duration: 10, Committed: 30000, Aborts: map[string]int64{},
				ElapsedS: 10, TPS: 3000, Latency: Latency{Mean: 2.6, P50: 2.5, P95: 3.1, P99: 4.2, P999: 7, Max: 9},
				Checks:    map[string]bool{"ytd_consistent": false},
				Converged: false, ConvergenceDetail: "n3 checksum of sbtest1 differs",
				Notes:             []string{"raft leader forwarding differs from XCom"},
				Faults:            []string{"2.000s partition n1,n2|n3", "5.000s heal"},
				AutocommitRetries: 4,
			},
		},
	}
}

func TestJSONRoundTrip(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "results.json")
	run := sampleRun()
	if err := WriteJSON(path, run); err != nil {
		t.Fatal(err)
	}
	got, err := ReadJSON(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, run) {
		t.Fatalf("round trip changed the run:\n got %+v\nwant %+v", got, run)
	}
	b, _ := os.ReadFile(path)
	for _, want := range []string{`"schema": "replbench/v1"`, `"latency_ms": {`, `"aborts": {`, `"elapsed_s": 10.01`, `"converged": false`, `"bound": {`, `"efficiency": `} {
		if !bytes.Contains(b, []byte(want)) {
			t.Errorf("JSON lacks %s", want)
		}
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".results.json.*")); len(left) != 0 {
		t.Errorf("temporary files left behind: %v", left)
	}
}

func TestReadJSONRejects(t *testing.T) {
	dir := t.TempDir()
	cases := map[string]string{
		"other schema": `{"schema":"replbench/v2","points":[]}`,
		"no schema":    `{"points":[]}`,
		"no points":    `{"schema":"replbench/v1"}`,
		"not json":     `protocol,nodes`,
		"bad type":     `{"schema":"replbench/v1","points":[{"protocol":"galera","threads":"eight"}]}`,
		"no protocol":  `{"schema":"replbench/v1","points":[{"threads":1}]}`,
	}
	for name, body := range cases {
		p := filepath.Join(dir, strings.ReplaceAll(name, " ", "_")+".json")
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := ReadJSON(p); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := ReadJSON(filepath.Join(dir, "missing.json")); err == nil {
		t.Error("missing file accepted")
	}
}

func TestWriteJSONRefusesNonFinite(t *testing.T) {
	run := sampleRun()
	run.Points[0].Bound.MaxTPS = 1 / zero()
	if err := WriteJSON(filepath.Join(t.TempDir(), "r.json"), run); err == nil || !strings.Contains(err.Error(), "bound.max_tps") {
		t.Fatalf("err %v, want one naming bound.max_tps", err)
	}
}

func zero() float64 { return 0 }

func TestCSVColumns(t *testing.T) {
	path := filepath.Join(t.TempDir(), "results.csv")
	if err := WriteCSV(path, sampleRun()); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 3 {
		t.Fatalf("%d records, want header + 2", len(recs))
	}
	hdr := recs[0]
	fixed := CSVColumns()
	if !reflect.DeepEqual(hdr[:len(fixed)], fixed) {
		t.Fatalf("header does not start with the fixed columns:\n%v", hdr)
	}
	col := map[string]int{}
	for i, h := range hdr {
		col[h] = i
	}
	// The flattened columns of issue 2 point 8, and the variable ones.
	want := map[string][2]string{
		"protocol":                            {"galera", "group-replication"},
		"nodes":                               {"3", "3"},
		"network.preset":                      {"wan-50", "lan"},
		"network.egress_ms":                   {"n1=50", ""},
		"workload":                            {"oltp_write_only", "oltp_write_only"},
		"threads":                             {"8", "8"},
		"writers":                             {"n1;n2", "n1"},
		"committed":                           {"1500", "30000"},
		"aborts.certification":                {"12", "0"},
		"aborts.bf_abort":                     {"0", "0"},
		"retries":                             {"3", "0"},
		"elapsed_s":                           {"10.01", "10"},
		"tps":                                 {"149.85", "3000"},
		"latency_ms.p99":                      {"75.5", "4.2"},
		"latency_ms.p999":                     {"90", "7"},
		"converged":                           {"true", "false"},
		"bound.commit_floor_ms":               {"50.075", ""},
		"status.n1.wsrep_local_cert_failures": {"12", ""},
		"metrics.tpmC":                        {"1234.5", ""},
		"checks.ytd_consistent":               {"true", "false"},
		"params.wsrep_slave_threads":          {"4", ""},
		"network.delay_error_ms.p99":          {"0.2", ""},
		"convergence_detail":                  {"", "n3 checksum of sbtest1 differs"},
		"status.n2.wsrep_local_cert_failures": {"0", ""},
		"scenario":                            {"sample", "sample"},
		"seed":                                {"42", "42"},
		"duration_s":                          {"10", "10"},
		"notes":                               {"", "raft leader forwarding differs from XCom"},
		"faults":                              {"", "2.000s partition n1,n2|n3; 5.000s heal"},
		"autocommit_retries":                  {"", "4"},
		"bound.derivation":                    {"model: longest path n1->n2->n3->n1", ""},
		"reference.value":                     {"", ""},
		"network.links_ms":                    {"", ""},
		"latency_ms.mean":                     {"53.1", "2.6"},
		"bound.limit":                         {"latency", ""},
		"efficiency":                          {ftoa(149.85 / 159.76), ""},
		"network.delay_error_ms.max":          {"0.9", ""},
		"latency_ms.max":                      {"101", "9"},
		"latency_ms.p50":                      {"51.2", "2.5"},
		"latency_ms.p95":                      {"60.3", "3.1"},
	}
	for name, vals := range want {
		i, ok := col[name]
		if !ok {
			t.Errorf("no column %s", name)
			continue
		}
		for r := 0; r < 2; r++ {
			if got := recs[r+1][i]; got != vals[r] {
				t.Errorf("row %d column %s = %q, want %q", r+1, name, got, vals[r])
			}
		}
	}
}

func TestPrintTable(t *testing.T) {
	var buf bytes.Buffer
	PrintTable(&buf, sampleRun(), TableOptions{ShowStatus: true, ShowBound: true})
	s := buf.String()
	for _, want := range []string{
		"scenario sample: 3 nodes, oltp_write_only, 8 threads, 10s", // what every point shares, once
		"network", "writers", "n1,n2", "wsrep_slave_", // the settings that differ, each a column
		"cert", // the one cause that occurred has a column
		"floor", "model", "eff",
		"galera", "wan-50", "group-replication", "lan",
		"149.8", "51.2", "75.5", "101", // tps, p50, p99, max
		"50.1", "160", "94%", // bound and efficiency
		"NO <<<",
		"!!! NOT CONVERGED: point 2 (group-replication, lan, writers n1, wsrep_slave_threads=default): n3 checksum of sbtest1",
		"galera, wan-50, writers n1,n2, wsrep_slave_threads=4: model: longest path n1->n2->n3->n1",
		"a model, not a measurement",
		"network wan-50: egress n1 50ms",
		"status, point 1: galera", "wsrep_local_cert_failures",
		"note (group-replication, lan, writers n1, wsrep_slave_threads=default): raft leader forwarding differs from XCom",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("table lacks %q:\n%s", want, s)
		}
	}
	for _, absent := range []string{"bf_abort", "deadlock"} {
		if strings.Contains(s, absent) {
			t.Errorf("table has a column for a cause that never occurred: %q", absent)
		}
	}
	for _, line := range strings.Split(s, "\n") {
		if w := len([]rune(line)); w > DefaultWidth {
			t.Errorf("line of %d columns: %s", w, line)
		}
	}
	// The wide form has every column, the committed counts among them.
	buf.Reset()
	PrintTable(&buf, sampleRun(), TableOptions{Wide: true})
	for _, want := range []string{"committed", "1500", "30000", "abort certification", "p99.9 ms", "mean ms", "elapsed s", "bound limit", "latency"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("wide table lacks %q:\n%s", want, buf.String())
		}
	}
}

// Points that differ only by their repeat index fold into one row of mean ±sd; the wide
// form adds the range.
func TestPrintTableRepeats(t *testing.T) {
	run := &Run{Schema: Schema, Scenario: "rep"}
	for r, tps := range []float64{100, 110, 120} {
		p := insertPoint("galera", Network{Preset: "lan"}, 4, 500/tps)
		p.Queries, p.Duration, p.Repeat, p.TPS = 0, 5, r, tps
		p.Latency = Latency{P50: 1, P99: 2, Max: 3 + float64(r)}
		run.Points = append(run.Points, p)
	}
	other := insertPoint("galera", Network{Preset: "lan"}, 8, 1)
	other.Queries, other.Duration, other.TPS = 0, 5, 300
	run.Points = append(run.Points, other)
	var buf bytes.Buffer
	PrintTable(&buf, run, TableOptions{})
	s := buf.String()
	for _, want := range []string{"runs", "110.0 ±10.0", "4.00 ±1.00", "mean ±standard deviation"} {
		if !strings.Contains(s, want) {
			t.Errorf("table lacks %q:\n%s", want, s)
		}
	}
	if n := strings.Count(s, "│ galera") + strings.Count(s, "│       4 │") + strings.Count(s, "│       8 │"); n != 2 {
		t.Errorf("want one row per configuration (2), counted %d:\n%s", n, s)
	}
	buf.Reset()
	PrintTable(&buf, run, TableOptions{Wide: true})
	if !strings.Contains(buf.String(), "110.0 ±10.0 (100.0-120.0)") {
		t.Errorf("wide table lacks the range:\n%s", buf.String())
	}
	gs := GroupRepeats(run)
	if len(gs) != 2 || gs[0].Repeats() != 3 {
		t.Fatalf("groups %d (first %d), want 2 with 3 repeats first", len(gs), gs[0].Repeats())
	}
	st := gs[0].Stat(func(p *Point) (float64, bool) { return p.TPS, true })
	if st.Mean != 110 || st.SD != 10 || st.Min != 100 || st.Max != 120 || st.N != 3 {
		t.Errorf("stat %+v", st)
	}
}

func TestNetworkLabel(t *testing.T) {
	cases := []struct {
		n    Network
		want string
	}{
		{Network{Preset: "lan"}, "lan"},
		{Network{Preset: "wan-50", Egress: map[string]float64{"n1": 50}}, "wan-50"},
		{Network{Preset: "lan+n3=50ms", Egress: map[string]float64{"n3": 50}}, "lan+n3=50ms"},
		// The harness's label names the network; its delays are NetworkDetail's, never a legend.
		{Network{Preset: "3az", Links: map[string]float64{"n1>n2": 0.5, "n2>n1": 0.5, "n1>n3": 0.7, "n3>n1": 0.7}}, "3az"},
		{Network{Egress: map[string]float64{"n2": 50}}, "n2+50ms"},
		{Network{Links: map[string]float64{"n1>n2": 1, "n2>n1": 1, "n1>n3": 2, "n3>n1": 2}}, "custom (4 delays)"},
		{Network{}, "-"},
	}
	for _, c := range cases {
		if got := NetworkLabel(c.n); got != c.want {
			t.Errorf("NetworkLabel(%+v) = %q, want %q", c.n, got, c.want)
		}
	}
	d := NetworkDetail(Network{Preset: "3az", Egress: map[string]float64{"n1": 50},
		Links: map[string]float64{"n1>n2": 0.5, "n2>n1": 0.5, "n1>n3": 0.7, "n3>n1": 0.9}})
	if want := "egress n1 50ms; one-way links n1-n2 0.5ms, n1>n3 0.7ms, n3>n1 0.9ms"; d != want {
		t.Errorf("NetworkDetail = %q, want %q", d, want)
	}
}

func TestSetBound(t *testing.T) {
	p := Point{TPS: 80}
	p.SetBound(&Bound{MaxTPS: 160})
	if p.Efficiency == nil || *p.Efficiency != 0.5 {
		t.Fatalf("efficiency %v, want 0.5", p.Efficiency)
	}
	p.SetBound(&Bound{MaxTPS: 0, Limit: "none"})
	if p.Efficiency != nil {
		t.Fatalf("efficiency against no bound should be unset, got %v", *p.Efficiency)
	}
}

// TPC-C's five types get one row each with their share of the committed transactions and
// their own percentiles, beside the settings that tell the points apart; a single-type point
// adds no rows.
func TestPrintByType(t *testing.T) {
	pts := []Point{
		{Protocol: "galera", Network: Network{Preset: "lan"}, Workload: "tpcc", Threads: 4, Committed: 200,
			ByType: map[string]TypeStats{
				"new_order":    {Committed: 90, Aborted: 1, Latency: Latency{Mean: 2, P50: 1.5, P95: 5, P99: 9, Max: 12}},
				"payment":      {Committed: 86, Latency: Latency{Mean: 3, P50: 2.5, P95: 6, P99: 10, Max: 11}},
				"delivery":     {Committed: 8, Latency: Latency{Mean: 4, P50: 4, P95: 7, P99: 7, Max: 7}},
				"order_status": {Committed: 8, Latency: Latency{Mean: 0.2, P50: 0.1, P95: 0.5, P99: 0.5, Max: 0.5}},
				"stock_level":  {Committed: 8, Latency: Latency{Mean: 1, P50: 0.7, P95: 3, P99: 3, Max: 3}},
			}},
		{Protocol: "galera", Network: Network{Preset: "lan"}, Workload: "insert", Threads: 4, Committed: 10,
			ByType: map[string]TypeStats{"insert": {Committed: 10}}},
	}
	var b bytes.Buffer
	printByType(&b, pts, TableOptions{})
	out := b.String()
	for _, want := range []string{"latency by transaction type", "workload", "tpcc", "new_order", "45.0%", "payment", "43.0%", "delivery", "order_status", "stock_level", "12.0"} {
		if !strings.Contains(out, want) {
			t.Errorf("per-type table lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "│ insert") {
		t.Errorf("a single-type point got rows:\n%s", out)
	}
	b.Reset()
	printByType(&b, pts[1:], TableOptions{})
	if b.Len() != 0 {
		t.Errorf("a run of single-type points printed:\n%s", b.String())
	}
}
