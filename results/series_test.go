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

func TestFaultWindows(t *testing.T) {
	p := &Point{Faults: []string{"4.000s partition n1,n2|n3", "6.000s clog n1>n2", "7.500s delay n3=50ms",
		"8.001s unclog n1-n2", "9.000s oneway n1>n3", "not a timed entry", "10.000s heal", "11.000s clog n2-n3"}}
	marks := FaultMarks(p)
	if len(marks) != 7 || marks[0].AtS != 4 || marks[0].Event != "partition n1,n2|n3" {
		t.Fatalf("marks %+v", marks)
	}
	got := FaultWindows(marks, 12)
	want := []FaultWindow{
		{4, 10, "partition n1,n2|n3"}, // until the heal
		{6, 8.001, "clog n1>n2"},      // until the unclog of both directions
		{9, 10, "oneway n1>n3"},
		{11, 12, "clog n2-n3"}, // still in force at the end
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("windows\n got %+v\nwant %+v", got, want)
	}
}

func TestWriteSeriesCSV(t *testing.T) {
	run := seriesRun()
	path := filepath.Join(t.TempDir(), SeriesFile)
	if err := WriteSeriesCSV(path, run); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	recs, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(recs[0], SeriesCSVColumns()) {
		t.Fatalf("header %v", recs[0])
	}
	if len(recs) != 1+3*12 {
		t.Fatalf("%d rows, want 36 and a header", len(recs)-1)
	}
	col := map[string]int{}
	for i, h := range recs[0] {
		col[h] = i
	}
	for _, c := range []string{"aborts.certification", "aborts.not_ready", "fc_paused_ms", "events", "latency_ms.p99"} {
		if _, ok := col[c]; !ok {
			t.Errorf("no column %s", c)
		}
	}
	// Galera's fifth second is inside the partition: nothing committed; the events land in
	// the intervals they fired in.
	row := recs[1+4]
	if row[col["protocol"]] != "galera" || row[col["t_s"]] != "5" || row[col["committed"]] != "0" || row[col["tps"]] != "0" {
		t.Errorf("galera 5 s row %v", row)
	}
	if got := recs[1+3][col["events"]]; got != "partition n1,n2|n3" {
		t.Errorf("4 s row events %q", got)
	}
	if got := recs[1+8][col["events"]]; got != "heal" {
		t.Errorf("9 s row events %q", got)
	}
	if got := recs[1][col["aborts.not_ready"]]; got != "3" {
		t.Errorf("aborts.not_ready %q", got)
	}
	if got := recs[1][col["fc_paused_ms"]]; got != "40" {
		t.Errorf("fc_paused_ms %q", got)
	}
	// A run without series still gets the header, so scripts can rely on the file.
	empty := filepath.Join(t.TempDir(), SeriesFile)
	if err := WriteSeriesCSV(empty, sampleRun()); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(empty); strings.Count(string(b), "\n") != 1 {
		t.Errorf("want the header alone, got %q", b)
	}
}

// The series survives the JSON round trip, and a file without it (replbench/v1 as written
// before) still reads.
func TestSeriesJSONCompatible(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, ResultsFile)
	run := seriesRun()
	if err := WriteJSON(path, run); err != nil {
		t.Fatal(err)
	}
	got, err := ReadJSON(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.Points[0].Series, run.Points[0].Series) || !reflect.DeepEqual(got.Verdicts, run.Verdicts) {
		t.Fatal("series or verdicts changed in the round trip")
	}
	b, _ := os.ReadFile(path)
	for _, want := range []string{`"series": {`, `"interval_s": 1`, `"t_s": 5`, `"fc_paused_ms": 40`, `"verdicts": [`, `"explain": `} {
		if !bytes.Contains(b, []byte(want)) {
			t.Errorf("JSON lacks %s", want)
		}
	}
	old, err := ReadJSON(filepath.Join("testdata", "harness-v1-faults", ResultsFile))
	if err != nil {
		t.Fatal(err)
	}
	if old.Points[0].Series != nil {
		t.Error("an old file grew a series")
	}
}

func TestChooseLayout(t *testing.T) {
	pt := func(proto, net, wl string, writers []string, nodes, threads int) Point {
		return Point{Protocol: proto, Network: Network{Preset: net}, Workload: wl, Writers: writers, Nodes: nodes, Threads: threads, Committed: 1, TPS: 1}
	}
	var hot, tpcc, cert, def []Point
	for _, w := range [][]string{{"n1"}, {"n1", "n2", "n3"}} {
		for _, n := range []string{"lan", "3az"} {
			for _, th := range []int{4, 16} {
				hot = append(hot, pt("galera", n, "hotspot", w, 3, th))
			}
		}
	}
	for _, p := range []string{"galera", "group-replication", "semisync"} {
		for _, wl := range []string{"oltp_read_write", "tpcc"} {
			tpcc = append(tpcc, pt(p, "lan", wl, []string{"n1"}, 3, 8))
		}
		def = append(def, pt(p, "lan", "insert", []string{"n1"}, 3, 8))
	}
	def = append(def, pt("standalone", "lan", "insert", []string{"n1"}, 1, 8))
	for _, n := range []int{3, 5} {
		for _, w := range [][]string{{"n1"}, {"n1", "n2"}, nil} {
			if w == nil {
				w = []string{"n1", "n2", "n3", "n4", "n5"}[:n]
			}
			cert = append(cert, pt("galera", "3az", "oltp_write_only", w, n, 16))
		}
	}
	name := func(d *dimension) string {
		if d == nil {
			return "-"
		}
		return d.key
	}
	facets := func(l layout) string {
		var s []string
		for _, d := range l.facets {
			s = append(s, d.key)
		}
		return strings.Join(s, ",")
	}
	for _, c := range []struct {
		name                   string
		pts                    []Point
		x, cat, series, facets string
	}{
		// writers and network both vary beside threads: neither is averaged away.
		{"hot-row-writers", hot, "threads", "-", "writers", "network"},
		// the workloads are panels, the protocols compared in each.
		{"sysbench-tpcc", tpcc, "-", "protocol", "-", "workload"},
		// writers on the x axis, one line per cluster size.
		{"cert-aborts", cert, "writers", "-", "nodes", ""},
		// the node count follows from the protocol: protocols side by side, no nodes axis.
		{"default", def, "-", "protocol", "-", ""},
	} {
		l := chooseLayout(c.pts)
		if name(l.x) != c.x || name(l.cat) != c.cat || name(l.series) != c.series || facets(l) != c.facets {
			t.Errorf("%s: x %s cat %s series %s facets %q, want %s %s %s %q", c.name, name(l.x), name(l.cat), name(l.series), facets(l),
				c.x, c.cat, c.series, c.facets)
		}
	}
}
