package results

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// seriesRun is a partition-minority-like run: three protocols, twelve one-second samples
// each, the partition from 4 s to 8 s, Galera's throughput at zero inside it, and checker
// verdicts, one failed.
func seriesRun() *Run {
	run := &Run{Schema: Schema, Scenario: "partition-minority", Seed: 1, StartedAt: "2026-01-02T03:04:05Z",
		Description: "A writer on n1; n3 is cut off from 4 s to 8 s.",
		Explain:     "Galera's safe delivery needs every member, so its commits wait for the heal. Look for: the shaded window.",
		Environment: &Environment{Version: "dev", GoVersion: "go1.26.8", OS: "linux", Arch: "amd64", CPUs: 2, Bus: "memory"}}
	for k, proto := range []string{"galera", "group-replication", "semisync"} {
		p := Point{Protocol: proto, Nodes: 3, Network: Network{Preset: "lan"}, Workload: "insert", Threads: 4,
			Writers: []string{"n1"}, Duration: 12, Committed: 90000, Aborts: map[string]int64{"not_ready": int64(k)}, ElapsedS: 12, TPS: 7500,
			Latency: Latency{Min: 0.1, Mean: 0.5, P50: 0.3, P95: 0.8, P99: 4, Max: 4100}, Converged: true,
			Faults: []string{"4.000s partition n1,n2|n3", "8.001s heal"}, Series: &Series{IntervalS: 1}}
		p.SetBound(&Bound{CommitFloorMs: 0.075, MaxTPS: 53333, Limit: "latency", Derivation: "model: longest path n1->n2->n3->n1"})
		for i := 1; i <= 12; i++ {
			s := Sample{T: float64(i), SpanS: 1, Committed: 10000, TPS: 10000, Latency: Latency{P50: 0.3, P99: 2, Max: 9}}
			if proto == "galera" && i > 4 && i <= 8 {
				s = Sample{T: float64(i), SpanS: 1}
			}
			if proto == "galera" {
				s.FCPausedMs = 40
				s.Aborts = map[string]int64{"not_ready": 3}
			}
			p.Series.Samples = append(p.Series.Samples, s)
		}
		p.Verdicts = []Verdict{{Checker: "rows-equal", Outcome: VerdictPass, Detail: "every node has 90000 rows"}}
		run.Points = append(run.Points, p)
	}
	run.Verdicts = []Verdict{{Checker: "elle-list-append", Outcome: VerdictFail, Detail: "G1c cycle", Evidence: []string{"T1 -> T2 -> T1"}}}
	return run
}

func TestWriteHTML(t *testing.T) {
	dir := t.TempDir()
	run := seriesRun()
	if err := WriteJSON(filepath.Join(dir, ResultsFile), run); err != nil {
		t.Fatal(err)
	}
	files, err := WriteRendered(dir, run)
	if err != nil {
		t.Fatal(err)
	}
	page := files[len(files)-1]
	if filepath.Base(page) != ReportFile {
		t.Fatalf("last file %s, want %s", page, ReportFile)
	}
	b, err := os.ReadFile(page)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for _, want := range []string{
		"<title>replbench run: partition-minority</title>",
		"The question", "A writer on n1; n3 is cut off from 4 s to 8 s.",
		"What this shows and what to look for", "Look for: the shaded window.",
		"Results", "Charts", "Over time", "Model bounds", "model: longest path n1-&gt;n2-&gt;n3-&gt;n1",
		"Checker verdicts", "elle-list-append", `class="fail"`, "G1c cycle", "T1 -&gt; T2 -&gt; T1", "rows-equal",
		"Environment", "go1.26.8", "point 1: galera", "Faults as applied: 4.000s partition n1,n2|n3; 8.001s heal",
		`href="results.json"`,
	} {
		if !strings.Contains(s, want) {
			t.Errorf("index.html lacks %q", want)
		}
	}
	// Self-contained: every image inline, nothing fetched.
	imgs := regexp.MustCompile(`<img src="([^"]*)"`).FindAllStringSubmatch(s, -1)
	if len(imgs) < 5 { // throughput, latency, abort rate, the overview, three points
		t.Errorf("%d images in the report, want at least 5", len(imgs))
	}
	for _, m := range imgs {
		if !strings.HasPrefix(m[1], "data:image/png;base64,") {
			t.Errorf("image not inline: %.60s", m[1])
		}
	}
	for _, bad := range []string{"http://", "https://", "<link", `src="//`} {
		if strings.Contains(s, bad) {
			t.Errorf("index.html refers to the network: %q", bad)
		}
	}
}

// chromiumPath is the headless browser the report test uses; "" when none is installed.
func chromiumPath() string {
	for _, p := range []string{"/usr/bin/chromium", "/usr/bin/chromium-browser"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p
	}
	return ""
}

// renderInChromium loads page in headless Chromium with the network off and returns the
// DOM after load; with shot set it also writes a screenshot there.
func renderInChromium(t *testing.T, bin, page, shot string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	args := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir=" + t.TempDir(), "--virtual-time-budget=5000", "--window-size=1400,3000"}
	if shot != "" {
		out, err := exec.CommandContext(ctx, bin, append(args, "--screenshot="+shot, "file://"+page)...).CombinedOutput()
		if err != nil {
			t.Fatalf("chromium screenshot: %v\n%s", err, out)
		}
	}
	cmd := exec.CommandContext(ctx, bin, append(args, "--dump-dom", "file://"+page)...)
	cmd.Stderr = nil
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium --dump-dom: %v", err)
	}
	return string(out)
}

var (
	imagesAttr = regexp.MustCompile(`<html[^>]*data-images="(\d+) (\d+)"`)
	errorsAttr = regexp.MustCompile(`<html[^>]*data-errors="([^"]*)"`)
)

// The report renders in a real browser: every image decodes and no script error occurs.
// A broken copy of the page (a missing image, a script that throws) must fail the same
// checks, so the test cannot pass by checking nothing. REPLBENCH_SCREENSHOTS=DIR keeps a
// screenshot of the page there.
func TestHTMLInChromium(t *testing.T) {
	bin := chromiumPath()
	if bin == "" {
		t.Skip("chromium is not installed (Debian: apt-get install chromium)")
	}
	dir := t.TempDir()
	if _, err := WriteRendered(dir, seriesRun()); err != nil {
		t.Fatal(err)
	}
	page := filepath.Join(dir, ReportFile)
	shot := filepath.Join(dir, "screenshot.png")
	if d := os.Getenv("REPLBENCH_SCREENSHOTS"); d != "" {
		shot = filepath.Join(d, "report-partition-minority.png")
	}
	dom := renderInChromium(t, bin, page, shot)
	m := imagesAttr.FindStringSubmatch(dom)
	if m == nil {
		t.Fatalf("the page's load check did not run (no data-images on <html>):\n%.500s", dom)
	}
	if m[1] == "0" || m[2] != "0" {
		t.Errorf("images: %s in the page, %s did not load", m[1], m[2])
	}
	if e := errorsAttr.FindStringSubmatch(dom); e != nil {
		t.Errorf("script errors: %s", e[1])
	}
	checkPNG(t, shot)

	// Negative control: a page with a broken image and a throwing script is caught.
	b, _ := os.ReadFile(page)
	broken := strings.Replace(string(b), `<img src="data:image/png;base64,`, `<img src="data:image/png;base64,AAAA`, 1)
	broken = strings.Replace(broken, "</body>", "<script>undefinedFunction();</script></body>", 1)
	bad := filepath.Join(dir, "broken.html")
	if err := os.WriteFile(bad, []byte(broken), 0o644); err != nil {
		t.Fatal(err)
	}
	dom = renderInChromium(t, bin, bad, "")
	if m := imagesAttr.FindStringSubmatch(dom); m == nil || m[2] != "1" {
		t.Errorf("a broken image went unnoticed: %v", m)
	}
	if e := errorsAttr.FindStringSubmatch(dom); e == nil || !strings.Contains(e[1], "undefinedFunction") {
		t.Errorf("a script error went unnoticed: %v", e)
	}
}

// Rendering a run's plots and report: three points with a time series each, as
// partition-minority writes them (go test -bench WriteRendered ./results).
func BenchmarkWriteRendered(b *testing.B) {
	dir := b.TempDir()
	run := seriesRun()
	for b.Loop() {
		if _, err := WriteRendered(dir, run); err != nil {
			b.Fatal(err)
		}
	}
}

// The run's warnings reach the report as the terminal printed them, the per-point lines
// under their heading, and the report of a run with faults puts the time series first.
func TestHTMLWarningsAndFaultOrder(t *testing.T) {
	dir := t.TempDir()
	run := seriesRun()
	run.Warnings = []string{"warning: too short to measure (want at least about 1000 commits and 1 s):", "- galera 3n lan insert t=8: 3 commits in 0.001 s"}
	if _, err := WriteRendered(dir, run); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, ReportFile))
	if err != nil {
		t.Fatal(err)
	}
	page := string(b)
	for _, want := range []string{"<h3>Warnings</h3>", "<li>warning: too short to measure", `<li class="sub">galera 3n lan insert t=8: 3 commits in 0.001 s</li>`} {
		if !strings.Contains(page, want) {
			t.Errorf("index.html lacks %q", want)
		}
	}
	if s, c := strings.Index(page, `<h2 id="series">`), strings.Index(page, `<h2 id="charts">`); s < 0 || (c >= 0 && s > c) {
		t.Errorf("a run with faults: Over time at %d, Charts at %d; want Over time first", s, c)
	}
}
