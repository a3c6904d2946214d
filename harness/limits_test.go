package harness

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/replbench/replbench/results"
)

// Values above the stated bounds are refused before a point is expanded, naming the bound.
func TestScenarioLimits(t *testing.T) {
	base := func() *Scenario {
		return &Scenario{Name: "x", Protocol: "semisync", Workload: WorkloadSpec{Name: "insert"}, Queries: 10}
	}
	for _, tc := range []struct {
		name string
		edit func(*Scenario)
		want string
	}{
		{"repeats", func(s *Scenario) { s.Repeats = 1_000_000_000 }, "repeats: 1000000000 repeats is above the limit (accepted: 1 to 100)"},
		{"warmup", func(s *Scenario) { s.Warmup = Duration(1000 * time.Hour) }, "warmup: warm-up 1000h0m0s is above the limit"},
		{"link", func(s *Scenario) { s.Network.Links = map[string]Duration{"n1-n2": Duration(1<<63 - 1)} }, "is above the limit (accepted: 0 to 1m0s one way)"},
		{"sweep", func(s *Scenario) {
			for i := 1; i <= 200; i++ {
				s.Sweep.Threads = append(s.Sweep.Threads, i)
			}
			s.Repeats = 100
		}, "20000 points is above the limit"},
	} {
		s := base()
		tc.edit(s)
		_, err := Expand(s)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
	if _, err := Expand(base()); err != nil {
		t.Errorf("within the limits: %v", err)
	}
}

// A point under about 1000 commits or 1 s, and a point that did not converge, each earn a
// warning that says why.
func TestPointWarnings(t *testing.T) {
	ps := &PointSpec{Protocol: "galera", Nodes: 3, Threads: 8, Network: NetworkSpec{Name: "lan"}, Workload: WorkloadSpec{Name: "insert"}}
	n := shortNote(&results.Point{Committed: 3, ElapsedS: 0.0004, Converged: true}, ps)
	if n != "galera 3n lan insert t=8: 3 commits in 0.000 s" {
		t.Errorf("short point: %q", n)
	}
	if n := shortNote(&results.Point{Committed: 5000, ElapsedS: 2}, ps); n != "" {
		t.Errorf("a long enough point: %q", n)
	}
	if w := shortWarnings([]string{n, "b: 5 commits in 0.001 s"}); len(w) != 3 || !strings.HasPrefix(w[0], "warning: too short to measure (want at least about 1000 commits and 1 s") || w[2] != "- b: 5 commits in 0.001 s" {
		t.Errorf("short warnings: %q", w)
	}
	if w := pointWarnings(&results.Point{Committed: 3, ElapsedS: 0.0004, Converged: true}, ps); len(w) != 0 {
		t.Errorf("a short but converged point has a per-point warning: %q", w)
	}
	long := pointWarnings(&results.Point{Committed: 5000, ElapsedS: 2, Converged: false, ConvergenceDetail: "n3 has 4 rows fewer"}, ps)
	if len(long) != 1 || !strings.Contains(long[0], "did not converge: n3 has 4 rows fewer") {
		t.Errorf("diverged point: %q", long)
	}
	if w := pointWarnings(&results.Point{Committed: 5000, ElapsedS: 2, Converged: true}, ps); len(w) != 0 {
		t.Errorf("good point: %q", w)
	}
}

// Without a terminal the progress is one line per point, numbered, with what is left.
func TestConsolePlainProgress(t *testing.T) {
	var b bytes.Buffer
	c := newConsole(&b, 2, false)
	c.plan([]PointSpec{{Duration: time.Second}, {Duration: time.Second}}, nil)
	c.begin(0, "a")
	c.done("a done")
	c.begin(1, "b")
	c.done("b done")
	c.finish()
	got := b.String()
	if !strings.Contains(got, "point 1/2: a done, ~") || !strings.Contains(got, "point 2/2: b done\n") {
		t.Errorf("progress lines: %q", got)
	}
}
