package harness

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	_ "github.com/replbench/replbench/protocols/standalone"
	_ "github.com/replbench/replbench/semisync"
	_ "github.com/replbench/replbench/workloads/hotspot"
	_ "github.com/replbench/replbench/workloads/insert"
)

func loadTestdata(t *testing.T, name string) (*Scenario, error) {
	t.Helper()
	return LoadScenario(filepath.Join("testdata", name))
}

// The schema (scenario.md): every field of a good file decodes to its value.
func TestParseGoodScenario(t *testing.T) {
	s, err := loadTestdata(t, "good.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if s.Name != "good" || s.Cluster.Nodes != 3 || s.Protocol != "semisync" {
		t.Fatalf("header: %+v", s)
	}
	if s.Params["innodb_lock_wait_timeout"] != "5" || s.Params["n3:replbench.apply_delay"] != "1ms" {
		t.Fatalf("params %v", s.Params)
	}
	if time.Duration(s.Network.Egress["n2"]) != 5*time.Millisecond || time.Duration(s.Network.Links["n1-n3"]) != 2*time.Millisecond || s.Network.Jitter != "uniform:100us" {
		t.Fatalf("network %+v", s.Network)
	}
	if s.Workload.Name != "hotspot" || s.Workload.Options["hot-rows"] != "2" {
		t.Fatalf("workload %+v", s.Workload)
	}
	if !reflect.DeepEqual(s.Threads, IntList{1, 2}) || !reflect.DeepEqual(s.Writers, Writers{"n1"}) {
		t.Fatalf("threads %v writers %v", s.Threads, s.Writers)
	}
	if time.Duration(s.Duration) != 200*time.Millisecond || time.Duration(s.Warmup) != 10*time.Millisecond ||
		s.Retries != 2 || time.Duration(s.RetryBackoff) != time.Millisecond || s.Repeats != 2 || s.Seed != 7 {
		t.Fatalf("run length %+v", s)
	}
	if len(s.Sweep.Networks) != 2 || len(s.Sweep.Params) != 2 {
		t.Fatalf("sweep %+v", s.Sweep)
	}
}

// Bad files: one line naming the file, the line and the field, and what is accepted.
func TestParseBadScenarios(t *testing.T) {
	for _, tc := range []struct {
		file string
		want []string
	}{
		{"unknown-field.yaml", []string{"unknown-field.yaml:5:", `unknown field "theads"`, "accepted:", "threads"}},
		{"nested-unknown.yaml", []string{"nested-unknown.yaml:7:", `unknown field "delay"`, "egress"}},
		{"bad-duration.yaml", []string{"bad-duration.yaml:4:", `"10 seconds"`, "accepted"}},
		{"bad-threads.yaml", []string{"bad-threads.yaml:5:", `"four"`}},
		{"not-yaml.yaml", []string{"not-yaml.yaml:", "line 1"}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			_, err := loadTestdata(t, tc.file)
			if err == nil {
				t.Fatal("parsed a bad file")
			}
			msg := err.Error()
			if strings.Contains(msg, "\n") {
				t.Errorf("error spans lines: %q", msg)
			}
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not contain %q", msg, w)
				}
			}
		})
	}
}

// Semantic errors found by Expand also point at the file's line, or at the flag that set
// the field.
func TestExpandErrorsNameLineOrFlag(t *testing.T) {
	for _, tc := range []struct {
		file string
		want []string
	}{
		{"unknown-protocol.yaml", []string{"unknown-protocol.yaml:6: sweep.protocols[1]", `unknown protocol "nosuch"`, "accepted:", "standalone"}},
		{"writer-beyond.yaml", []string{"writer-beyond.yaml:8: writers", `"n4"`, "n1, n2, n3"}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			s, err := loadTestdata(t, tc.file)
			if err != nil {
				t.Fatal(err)
			}
			_, err = Expand(s)
			if err == nil {
				t.Fatal("expanded a bad scenario")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
	s, err := loadTestdata(t, "writer-beyond.yaml")
	if err != nil {
		t.Fatal(err)
	}
	nodes := 2
	s.Apply(Overrides{Nodes: &nodes, Writers: Writers{"n3"}})
	if _, err := Expand(s); err == nil || !strings.HasPrefix(err.Error(), "--writers:") {
		t.Fatalf("err %v, want one naming --writers", err)
	}
}

// Every built-in scenario parses strictly and, where its protocols and workloads are
// registered in this test binary, expands; otherwise it fails validation with a message
// naming what is missing, never a crash.
func TestBuiltinScenarios(t *testing.T) {
	names := BuiltinNames()
	for _, want := range []string{"wan-concurrency", "wan-concurrency-nonwriter"} {
		found := false
		for _, n := range names {
			found = found || n == want
		}
		if !found {
			t.Fatalf("built-in %s missing from %v", want, names)
		}
	}
	for _, n := range names {
		s, err := Builtin(n)
		if err != nil {
			t.Fatalf("%s: %v", n, err)
		}
		if s.Description == "" {
			t.Errorf("%s: no description", n)
		}
		if _, err := Expand(s); err != nil {
			if !strings.Contains(err.Error(), "unknown") || !strings.Contains(err.Error(), "accepted") {
				t.Errorf("%s: %v", n, err)
			}
		}
	}
	if _, err := Builtin("nosuch"); err == nil || !strings.Contains(err.Error(), "wan-concurrency") {
		t.Fatalf("unknown built-in: %v", err)
	}
}

// The scenario as run is written back as YAML that parses to the same experiment.
func TestScenarioRoundTrip(t *testing.T) {
	s, err := loadTestdata(t, "good.yaml")
	if err != nil {
		t.Fatal(err)
	}
	y, err := s.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "again.yaml")
	if err := os.WriteFile(p, y, 0o644); err != nil {
		t.Fatal(err)
	}
	s2, err := LoadScenario(p)
	if err != nil {
		t.Fatalf("%v\n%s", err, y)
	}
	a, _ := Expand(s)
	b, _ := Expand(s2)
	for i := range a {
		a[i].Scenario, b[i].Scenario = "", ""
	}
	if !reflect.DeepEqual(a, b) {
		t.Fatalf("round trip changed the points:\n%+v\n%+v", a, b)
	}
}
