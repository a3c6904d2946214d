package harness

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/replbench/replbench/protocols"
	"github.com/replbench/replbench/results"
)

// runSmall runs a small ad-hoc scenario and returns the outcome and the --json file.
func runSmall(t *testing.T, s *Scenario, bus BusConfig) (*Outcome, string) {
	t.Helper()
	pts, err := Expand(s)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	jsonPath := filepath.Join(dir, "out.json")
	out, err := Run(context.Background(), s, pts, Options{
		Bus: bus, OutDir: filepath.Join(dir, "runs"), JSONPath: jsonPath, CSVPath: filepath.Join(dir, "out.csv"),
		NoProgress: true, Stdout: io.Discard, Stderr: io.Discard,
	})
	if err != nil {
		t.Fatal(err)
	}
	return out, jsonPath
}

// End to end, every protocol registered in this binary with the insert and hotspot
// workloads on the in-memory bus: every point commits all its work, converges, passes the
// workload's checks, and the JSON carries schema replbench/v1 with the fields of issue 2.
func TestRunEveryProtocolMemoryBus(t *testing.T) {
	for _, proto := range protocols.Names() {
		for _, wl := range []string{"insert", "hotspot"} {
			t.Run(proto+"/"+wl, func(t *testing.T) {
				s := &Scenario{Name: "e2e", Protocol: proto, Workload: WorkloadSpec{Name: wl}, Threads: IntList{1, 4}, Queries: 120, Seed: 3}
				out, jsonPath := runSmall(t, s, BusConfig{Kind: "memory"})
				checkRun(t, out, jsonPath, 2)
			})
		}
	}
}

func checkRun(t *testing.T, out *Outcome, jsonPath string, points int) {
	t.Helper()
	if len(out.Run.Points) != points {
		t.Fatalf("%d points, want %d", len(out.Run.Points), points)
	}
	for _, p := range out.Run.Points {
		if !p.Converged {
			t.Errorf("%s t=%d did not converge: %s", p.Protocol, p.Threads, p.ConvergenceDetail)
		}
		if p.Committed+p.TotalAborts() != p.Queries {
			t.Errorf("%s t=%d: committed %d + aborts %v != queries %d", p.Protocol, p.Threads, p.Committed, p.Aborts, p.Queries)
		}
		if p.Committed == 0 || p.TPS <= 0 || p.Latency.P50 <= 0 || p.ElapsedS <= 0 {
			t.Errorf("%s t=%d: nothing measured: %+v", p.Protocol, p.Threads, p)
		}
		for name, ok := range p.Checks {
			if !ok {
				t.Errorf("%s t=%d: workload check %s failed", p.Protocol, p.Threads, name)
			}
		}
		if len(p.Status) != p.Nodes {
			t.Errorf("status of %d nodes, want %d", len(p.Status), p.Nodes)
		}
	}
	// The file format of issue 2 point 8, read back as plain JSON.
	b, err := os.ReadFile(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	if doc["schema"] != "replbench/v1" || doc["seed"] == nil {
		t.Fatalf("header %v %v", doc["schema"], doc["seed"])
	}
	pts := doc["points"].([]any)
	for _, f := range []string{"protocol", "nodes", "network", "workload", "threads", "writers", "queries", "committed", "aborts", "retries", "elapsed_s", "tps", "latency_ms", "status", "converged"} {
		if _, ok := pts[0].(map[string]any)[f]; !ok {
			t.Errorf("point has no %q", f)
		}
	}
	for _, f := range []string{"mean", "p50", "p95", "p99", "p999", "max"} {
		if _, ok := pts[0].(map[string]any)["latency_ms"].(map[string]any)[f]; !ok {
			t.Errorf("latency has no %q", f)
		}
	}
	// The run directory holds everything a run writes.
	for _, f := range []string{"results.json", "results.csv", "scenario.yaml", "environment.json", results.SeriesFile, results.ReportFile} {
		if _, err := os.Stat(filepath.Join(out.Dir, f)); err != nil {
			t.Errorf("run directory: %v", err)
		}
	}
	if again, err := results.ReadJSON(filepath.Join(out.Dir, "results.json")); err != nil || len(again.Points) != points {
		t.Errorf("results.json read back: %v", err)
	}
	for _, p := range out.Run.Points {
		if p.Series == nil || len(p.Series.Samples) == 0 || p.Series.Samples[len(p.Series.Samples)-1].T <= 0 {
			t.Errorf("%s t=%d: no time series", p.Protocol, p.Threads)
		}
	}
	if !strings.Contains(filepath.Base(out.Dir), "-e2e") {
		t.Errorf("run directory %s is not named after the scenario", out.Dir)
	}
}

// A replicated protocol over the emulated network reports the emulator's delivery error.
func TestRunRecordsDelayError(t *testing.T) {
	s := &Scenario{Name: "e2e", Protocol: "semisync", Workload: WorkloadSpec{Name: "insert"}, Threads: IntList{2}, Queries: 50, Seed: 1,
		Network: NetworkSpec{Egress: map[string]Duration{"n2": Duration(2e6)}}}
	out, jsonPath := runSmall(t, s, BusConfig{Kind: "memory"})
	checkRun(t, out, jsonPath, 1)
	p := out.Run.Points[0]
	if p.Network.DelayError == nil || p.Network.DelayError.N == 0 {
		t.Fatalf("no delay error recorded: %+v", p.Network)
	}
	if p.Network.Preset != "lan+n2=2ms" || p.Network.Egress["n2"] != 2 {
		t.Fatalf("network %+v", p.Network)
	}
}

// A run leaves no goroutine behind: providers, emulator, bus (embedded NATS included),
// engines and clients are all closed after each point.
func TestRunLeavesNoGoroutines(t *testing.T) {
	for _, bus := range []string{"memory", "nats"} {
		t.Run(bus, func(t *testing.T) {
			before := runtime.NumGoroutine()
			s := &Scenario{Name: "e2e", Protocol: "semisync", Workload: WorkloadSpec{Name: "insert"}, Threads: IntList{4}, Queries: 100, Seed: 1}
			out, jsonPath := runSmall(t, s, BusConfig{Kind: bus})
			checkRun(t, out, jsonPath, 1)
			deadline := time.Now().Add(5 * time.Second)
			for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
				time.Sleep(20 * time.Millisecond)
			}
			if n := runtime.NumGoroutine(); n > before {
				buf := make([]byte, 1<<20)
				t.Fatalf("%d goroutines after the run, %d before:\n%s", n, before, buf[:runtime.Stack(buf, true)])
			}
		})
	}
}

// Clients on semi-sync replicas are refused (1290 read-only): every refusal counts as a
// read_only abort, the note under the table says how many each node refused, and each
// refused client paused --refused-backoff between attempts, so its 20 refusals took at
// least 19 pauses.
func TestRunRefusedWritersNote(t *testing.T) {
	s := &Scenario{Name: "e2e", Protocol: "semisync", Workload: WorkloadSpec{Name: "insert"}, Threads: IntList{3}, Writers: Writers{"all"}, Queries: 60, Seed: 1}
	out, _ := runSmall(t, s, BusConfig{Kind: "memory"})
	p := out.Run.Points[0]
	if p.Committed != 20 || p.Aborts["read_only"] != 40 {
		t.Fatalf("committed %d, aborts %v; want 20 commits on n1 and 40 read_only refusals", p.Committed, p.Aborts)
	}
	want := "refused by the node: n2 20 read_only, n3 20 read_only; each refused client paused 10ms (--refused-backoff) before its next attempt"
	found := false
	for _, n := range p.Notes {
		found = found || n == want
	}
	if !found {
		t.Fatalf("notes %q, want %q", p.Notes, want)
	}
	if p.ElapsedS < 19*DefaultRefusedBackoff.Seconds() {
		t.Fatalf("elapsed %.3fs: the refused clients did not pause (19 pauses of %s)", p.ElapsedS, DefaultRefusedBackoff)
	}
	if strings.Join(p.Writers, ",") != "n1,n2,n3" {
		t.Fatalf("writers %v", p.Writers)
	}
}
