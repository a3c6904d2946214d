package results

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var pngMagic = []byte("\x89PNG\r\n\x1a\n")

func checkPNG(t *testing.T, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) < 1000 || !bytes.HasPrefix(b, pngMagic) {
		t.Fatalf("%s: %d bytes, not a drawn PNG", path, len(b))
	}
}

// wanRun is the documents' sweep for galera at two networks and three thread counts.
func wanRun() *Run {
	run := &Run{Schema: Schema, Scenario: "wan-concurrency", Seed: 1}
	for _, nw := range []Network{{Preset: "lan"}, {Preset: "wan-50", Egress: map[string]float64{"n1": 50}}} {
		for _, th := range []int{1, 8, 64} {
			p := insertPoint("galera", nw, th, 30/float64(th))
			p.Latency = Latency{Mean: 60, P50: 55, P95: 70, P99: 80, Max: 90}
			p.SetBound(&Bound{CommitFloorMs: 50.075, MaxTPS: float64(th) / 0.050075, Limit: "latency", Derivation: "model: test"})
			run.Points = append(run.Points, p)
		}
	}
	return run
}

func checkSVG(t *testing.T, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, []byte("<svg")) || len(b) < 1000 {
		t.Fatalf("%s: %d bytes, not a drawn SVG", path, len(b))
	}
}

// checkFiles checks every written plot and returns their base names without extension,
// each once (a plot is written as PNG and SVG, both checked).
func checkFiles(t *testing.T, files []string) []string {
	t.Helper()
	var names []string
	seen := map[string]int{}
	for _, f := range files {
		base := filepath.Base(f)
		switch filepath.Ext(f) {
		case ".png":
			checkPNG(t, f)
		case ".svg":
			checkSVG(t, f)
		default:
			t.Errorf("unexpected file %s", f)
		}
		name := strings.TrimSuffix(base, filepath.Ext(base))
		if seen[name] == 0 {
			names = append(names, name)
		}
		seen[name]++
	}
	for n, c := range seen {
		if c != 2 {
			t.Errorf("%s written %d times, want a PNG and an SVG", n, c)
		}
	}
	return names
}

func TestWritePlots(t *testing.T) {
	dir := t.TempDir()
	files, err := WritePlots(dir, wanRun())
	if err != nil {
		t.Fatal(err)
	}
	got := checkFiles(t, files)
	want := []string{PlotThroughput, PlotLatency, PlotSeconds} // no abort rate: nothing aborted
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("plots %v, want %v", got, want)
	}
}

func TestWritePlotsAbortRate(t *testing.T) {
	run := &Run{Schema: Schema}
	for _, w := range [][]string{{"n1"}, {"n1", "n2"}, {"n1", "n2", "n3"}} {
		p := Point{Protocol: "galera", Nodes: 3, Network: Network{Preset: "lan"}, Workload: "oltp_write_only", Threads: 8, Writers: w,
			Committed: 1000, Aborts: map[string]int64{"certification": int64(10 * len(w) * len(w))}, ElapsedS: 1, TPS: 1000, Converged: true}
		run.Points = append(run.Points, p)
	}
	files, err := WritePlots(t.TempDir(), run)
	if err != nil {
		t.Fatal(err)
	}
	got := checkFiles(t, files)
	if !contains(got, PlotAbortRate) || contains(got, PlotSeconds) {
		t.Fatalf("plots %v: want an abort-rate plot and no seconds plot for a timed run", got)
	}
}

// A single point gets no comparison chart (one mark compares nothing); with no series it
// gets nothing at all, and with one it gets its time series.
func TestWritePlotsSinglePoint(t *testing.T) {
	p := insertPoint("standalone", Network{Preset: "lan"}, 8, 0.013)
	p.Nodes = 1
	p.Latency = Latency{Mean: 0.05, P50: 0.003, P95: 0.01, P99: 0.02, Max: 0.3}
	p.SetBound(&Bound{CommitFloorMs: 0, MaxTPS: 0, Limit: "none", Derivation: "model: no floor"})
	files, err := WritePlots(t.TempDir(), &Run{Schema: Schema, Points: []Point{p}})
	if err != nil || len(files) != 0 {
		t.Fatalf("files %v err %v, want none for one point without a series", files, err)
	}
	p.Series = &Series{IntervalS: 1}
	for i := 1; i <= 5; i++ {
		p.Series.Samples = append(p.Series.Samples, Sample{T: float64(i), SpanS: 1, Committed: 100, TPS: 100, Latency: Latency{P50: 0.003, P99: 0.02, Max: 0.3}})
	}
	files, err = WritePlots(t.TempDir(), &Run{Schema: Schema, Points: []Point{p}})
	if err != nil {
		t.Fatal(err)
	}
	if got := checkFiles(t, files); strings.Join(got, ",") != "timeseries-01" {
		t.Fatalf("plots %v, want the point's time series only", got)
	}
}

func TestWritePlotsNoData(t *testing.T) {
	files, err := WritePlots(t.TempDir(), &Run{Schema: Schema, Points: []Point{}})
	if err != nil || len(files) != 0 {
		t.Fatalf("files %v err %v, want nothing for an empty run", files, err)
	}
}

func TestReportMain(t *testing.T) {
	dir := t.TempDir()
	run := wanRun()
	if err := WriteJSON(filepath.Join(dir, ResultsFile), run); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, ScenarioFile), []byte("name: wan-concurrency\ndescription: The table.\nexplain: Each commit pays one round trip.\n"), 0o644)
	var out, errb bytes.Buffer
	if rc := ReportMain([]string{dir}, &out, &errb); rc != 0 {
		t.Fatalf("rc %d, stderr %q", rc, errb.String())
	}
	s := out.String()
	for _, want := range []string{"scenario wan-concurrency", "floor", "model",
		"Percona XtraDB Cluster 5.7.16 latency/seconds (pub. = published) vs galera (meas. = measured)", "25.583",
		"wrote " + filepath.Join(dir, "seconds.png"), "wrote " + filepath.Join(dir, ReportFile),
		"What this shows: Each commit pays one round trip."} {
		if !strings.Contains(s, want) {
			t.Errorf("report lacks %q:\n%s", want, s)
		}
	}
	checkPNG(t, filepath.Join(dir, "seconds.png"))
	page, err := os.ReadFile(filepath.Join(dir, ReportFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"The table.", "Each commit pays one round trip.", "data:image/png;base64,"} {
		if !strings.Contains(string(page), want) {
			t.Errorf("index.html lacks %q", want)
		}
	}
	// --wide prints every column.
	out.Reset()
	if rc := ReportMain([]string{"--wide", "--no-plots", dir}, &out, &errb); rc != 0 {
		t.Fatalf("rc %d", rc)
	}
	for _, want := range []string{"p99.9 ms", "mean ms", "floor ms (model)", "bound limit"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("--wide lacks column %q", want)
		}
	}

	// The results file itself works too, and --no-plots writes none.
	other := t.TempDir()
	out.Reset()
	if rc := ReportMain([]string{"--no-plots", "--plots", other, filepath.Join(dir, ResultsFile)}, &out, &errb); rc != 0 {
		t.Fatalf("rc %d", rc)
	}
	if ents, _ := os.ReadDir(other); len(ents) != 0 {
		t.Errorf("--no-plots wrote %d files", len(ents))
	}
}

func TestReportMainBadInput(t *testing.T) {
	dir := t.TempDir()
	foreign := filepath.Join(dir, "foreign.json")
	os.WriteFile(foreign, []byte(`{"schema":"other/v9","points":[]}`), 0o644)
	empty := t.TempDir() // a directory without results.json
	for _, args := range [][]string{{}, {"a", "b"}, {"--bogus", dir}, {filepath.Join(dir, "nope")}, {foreign}, {empty}} {
		var out, errb bytes.Buffer
		if rc := ReportMain(args, &out, &errb); rc != 2 {
			t.Errorf("%v: rc %d, want 2", args, rc)
		}
		if n := strings.Count(errb.String(), "\n"); n != 1 || !strings.HasPrefix(errb.String(), "replbench report: ") {
			t.Errorf("%v: want one stderr line, got %q", args, errb.String())
		}
	}
}

// A results file shaped like what the harness writes now: points with a fault timeline,
// notes, autocommit retries, an apply-limited bound, and a point that stalled (no commits,
// no bound). The report must render all of it and still draw the plots.
func TestReportMainCurrentHarnessFile(t *testing.T) {
	src, err := os.ReadFile(filepath.Join("testdata", "harness-v1-faults", ResultsFile))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, ResultsFile), src, 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	if rc := ReportMain([]string{"--wide", dir}, &out, &errb); rc != 0 {
		t.Fatalf("rc %d, stderr %q", rc, errb.String())
	}
	s := strings.Join(strings.Fields(out.String()), " ") // prose is wrapped to 120 columns
	for _, want := range []string{
		"scenario partition-minority",
		"faults (galera, hotspot hot-rows=1, writers all, n3:apply_delay=1ms): 2.000s partition n1,n2|n3; 5.000s heal; 5.000s stall 3.0s: no commit on n3",
		"faults (group-replication, hotspot, writers n1, n3:apply_delay=default): 0.000s partition n1|n2,n3",
		"autocommit retries (galera, hotspot hot-rows=1, writers all, n3:apply_delay=1ms): 57",
		"note (galera, hotspot hot-rows=1, writers all, n3:apply_delay=1ms): n3 was non-primary",
		"stalled: no commit in the measured phase",
		"72%", // efficiency against the apply-limited bound (--wide: the narrow form may hide it)
		"!!! NOT CONVERGED",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("report lacks %q:\n%s", want, s)
		}
	}
	if strings.Count(out.String(), ".png\n") == 0 {
		t.Errorf("no plot written:\n%s", s)
	}
	for _, line := range strings.Split(out.String(), "\n") {
		if f, ok := strings.CutPrefix(line, "wrote "); ok && strings.HasSuffix(f, ".png") {
			checkPNG(t, f)
		}
	}
	// The CSV of the same run carries the faults and the autocommit retries.
	run, err := ReadJSON(filepath.Join(dir, ResultsFile))
	if err != nil {
		t.Fatal(err)
	}
	csvPath := filepath.Join(dir, "results.csv")
	if err := WriteCSV(csvPath, run); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(csvPath)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "2.000s partition n1,n2|n3; 5.000s heal") || !strings.Contains(string(b), ",57,") {
		t.Errorf("CSV lacks the faults or the autocommit retries:\n%s", b)
	}
}

// Repeats of one configuration are one mark (their mean) with the min-max range as an
// error bar: the repeat index is no series of its own.
func TestWritePlotsRepeats(t *testing.T) {
	run := &Run{Schema: Schema, Scenario: "rep"}
	for _, th := range []int{1, 4, 16} {
		for r := 0; r < 3; r++ {
			p := insertPoint("galera", Network{Preset: "lan"}, th, 1)
			p.Queries, p.Duration, p.Repeat = 0, 3, r
			p.TPS = float64(100*th) * (1 + 0.1*float64(r))
			p.Latency = Latency{P50: 1 + 0.1*float64(r), P99: 3, Max: 5}
			run.Points = append(run.Points, p)
		}
	}
	l := chooseLayout(run.Points)
	if l.x == nil || l.x.key != "threads" || l.series != nil || len(l.facets) != 0 {
		t.Fatalf("layout %+v: want threads on x and nothing else", l)
	}
	f := lineFigure(run.Points, l, runMetrics(run)[0], newPalette())
	if len(f.panels) != 1 || len(f.legend) != 2 || f.legend[0].label != "galera" || f.legend[1].label != "error bars: min-max over repeats" {
		var names []string
		for _, e := range f.legend {
			names = append(names, e.label)
		}
		t.Fatalf("%d panels, legend %v: want one line with its repeat range", len(f.panels), names)
	}
	dir := t.TempDir()
	if os.Getenv("REPLBENCH_SCREENSHOTS") != "" {
		dir = os.Getenv("REPLBENCH_SCREENSHOTS")
	}
	files, err := WritePlots(dir, run)
	if err != nil {
		t.Fatal(err)
	}
	checkFiles(t, files)
}
