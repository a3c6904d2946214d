package harness

import (
	"strings"
	"testing"
	"time"

	"github.com/replbench/replbench/protocols/transport"
	"github.com/replbench/replbench/results"
)

// The smallest one-way delay is taken over every ordered pair of members, so an egress
// delay on one node does not hide the fast links between the others.
func TestSmallestOneWay(t *testing.T) {
	members := []string{"n1", "n2", "n3"}
	for _, tc := range []struct {
		name string
		net  func() transport.Network
		want time.Duration
	}{
		{"instant", func() transport.Network { return transport.Network{} }, 0},
		{"egress on n1 only", func() transport.Network {
			n := transport.Network{}
			n.SetEgress("n1", 50*time.Millisecond)
			return n
		}, 50 * time.Millisecond},
		{"base and egress", func() transport.Network {
			n := transport.Network{Base: 25 * time.Microsecond}
			n.SetEgress("n1", 50*time.Millisecond)
			return n
		}, 25 * time.Microsecond},
		{"every link slow", func() transport.Network {
			n := transport.Network{}
			n.SetLinkBoth("n1", "n2", 40*time.Millisecond)
			n.SetLinkBoth("n1", "n3", 30*time.Millisecond)
			n.SetLinkBoth("n2", "n3", 20*time.Millisecond)
			return n
		}, 20 * time.Millisecond},
	} {
		if got := smallestOneWay(tc.net(), members); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

// The warning fires only above both thresholds: 1% of the smallest configured one-way delay
// and 0.2 ms, at p99.
func TestDelayWarning(t *testing.T) {
	point := func(p99 float64) *results.Point {
		return &results.Point{Protocol: "galera", Threads: 8, Network: results.Network{Preset: "3dc", DelayError: &results.Percentiles{P50: 0.01, P99: p99, N: 1000}}}
	}
	for _, tc := range []struct {
		name  string
		p99   float64
		least time.Duration
		warn  bool
	}{
		{"LAN, under the floor", 0.15, 25 * time.Microsecond, false},
		{"LAN, over the floor", 0.3, 25 * time.Microsecond, true},
		{"WAN, over the floor but under 1%", 0.3, 50 * time.Millisecond, false},
		{"WAN, over 1%", 0.6, 50 * time.Millisecond, true},
		{"no delay configured", 5, 0, false},
	} {
		got := delayWarning(point(tc.p99), tc.least)
		if (got != "") != tc.warn {
			t.Errorf("%s: %q, want warning %v", tc.name, got, tc.warn)
		}
		if tc.warn && (strings.Contains(got, "\n") || !strings.Contains(got, "p99 lateness")) {
			t.Errorf("%s: %q is not one line saying how late", tc.name, got)
		}
	}
	if got := delayWarning(point(0.6), 50*time.Millisecond); !strings.Contains(got, "p99 lateness 0.600 ms, 0.012x the smallest one-way delay (50.000 ms), ") {
		t.Errorf("wording: %q", got)
	}
	if got := delayWarning(point(7.8), 25*time.Microsecond); !strings.Contains(got, "p99 lateness 7.800 ms, 312x the smallest one-way delay (0.025 ms), ") {
		t.Errorf("wording: %q", got)
	}
	if got := delayWarning(&results.Point{}, time.Millisecond); got != "" {
		t.Errorf("a point without a delay error: %q", got)
	}
}

// The late points are one warning: a heading saying once what is counted, a line per point.
func TestLateWarningsOneHeading(t *testing.T) {
	if got := lateWarnings(nil); got != nil {
		t.Errorf("no late point: %q", got)
	}
	got := lateWarnings([]string{"a: p99 lateness 1 ms", "b: p99 lateness 2 ms"})
	if len(got) != 3 || !strings.HasPrefix(got[0], "warning: ") || !strings.Contains(got[0], "deliverable") ||
		got[1] != "- a: p99 lateness 1 ms" || got[2] != "- b: p99 lateness 2 ms" {
		t.Errorf("lateWarnings: %q", got)
	}
}
