package harness

import (
	"fmt"
	"time"

	"github.com/replbench/replbench/harness/law"
)

// The stated upper bounds of a scenario. A value above them is far more likely a typo or a
// script's runaway variable than an experiment (a billion repeats fills the disk with
// points before the first one ends, a 9e18 ns delay overflows the emulator's clock), so
// Expand refuses it before anything is created, naming the bound. They are wide enough for
// any real measurement: an hour of warm-up, a day per point, a minute of one-way delay
// (a geostationary hop is 0.25 s).
const (
	MaxRepeats  = 100
	MaxWarmup   = time.Hour
	MaxDuration = 24 * time.Hour
	MaxDelay    = time.Minute
	MaxQueries  = int64(1_000_000_000)
	// MaxSweepPoints is the most points one run may have, repeats included.
	MaxSweepPoints = 10_000
)

// A run this large (in points or in estimated time) needs the user's confirmation
// (`replbench run --yes`): it is allowed, but it should not start by accident.
const (
	ConfirmPoints = 200
	ConfirmTime   = 2 * time.Hour
)

// checkLimits checks the scenario's counts and durations against the stated bounds, before
// Expand allocates a point for each.
func (s *Scenario) checkLimits() error {
	fail := func(p, format string, args ...any) error {
		return fmt.Errorf("%s: %s", s.where(p), fmt.Sprintf(format, args...))
	}
	if s.Repeats > MaxRepeats {
		return fail("repeats", "%d repeats is above the limit (accepted: 1 to %d)", s.Repeats, MaxRepeats)
	}
	if w := time.Duration(s.Warmup); w > MaxWarmup {
		return fail("warmup", "warm-up %s is above the limit (accepted: 0 to %s)", w, MaxWarmup)
	}
	if d := time.Duration(s.Duration); d > MaxDuration {
		return fail("duration", "run length %s is above the limit (accepted: up to %s per point)", d, MaxDuration)
	}
	if s.Queries > MaxQueries {
		return fail("queries", "%d transactions is above the limit (accepted: up to %d per point)", s.Queries, MaxQueries)
	}
	for _, d := range []struct {
		path string
		v    *Duration
	}{{"retry_backoff", &s.RetryBackoff}, {"refused_backoff", s.RefusedBackoff}} {
		if d.v != nil && time.Duration(*d.v) > MaxDelay {
			return fail(d.path, "pause %s is above the limit (accepted: 0 to %s)", time.Duration(*d.v), MaxDelay)
		}
	}
	checkNet := func(path string, n NetworkSpec) error {
		for node, d := range n.Egress {
			if time.Duration(d) > MaxDelay {
				return fail(path+".egress", "delay %s=%s is above the limit (accepted: 0 to %s one way)", node, time.Duration(d), MaxDelay)
			}
		}
		for link, d := range n.Links {
			if time.Duration(d) > MaxDelay {
				return fail(path+".links", "delay %s=%s is above the limit (accepted: 0 to %s one way)", link, time.Duration(d), MaxDelay)
			}
		}
		return nil
	}
	if err := checkNet("network", s.Network); err != nil {
		return err
	}
	for i, n := range s.Sweep.Networks {
		if err := checkNet(fmt.Sprintf("sweep.networks[%d]", i), n); err != nil {
			return err
		}
	}
	for i, f := range s.Faults {
		if f.Delay > MaxDelay {
			return fail(fmt.Sprintf("faults[%d]", i), "delay %s is above the limit (accepted: 0 to %s one way)", f.Delay, MaxDelay)
		}
		if f.At > MaxDuration {
			return fail(fmt.Sprintf("faults[%d]", i), "time %s is above the limit (accepted: 0 to %s)", f.At, MaxDuration)
		}
	}
	n := s.pointCount()
	if n > MaxSweepPoints {
		return fail("sweep", "%d points is above the limit (accepted: up to %d points per run, repeats included)", n, MaxSweepPoints)
	}
	return nil
}

// pointCount is the number of points the sweep would expand to, computed from the axes'
// lengths without expanding them (so an absurd sweep costs nothing to refuse).
func (s *Scenario) pointCount() int {
	n := 1
	for _, l := range []int{len(s.Sweep.Protocols), len(s.Sweep.Workloads), len(s.Sweep.Nodes), len(s.Sweep.Writers), len(s.Sweep.Params), len(s.Sweep.Networks), max(len(s.Sweep.Threads), len(s.Threads))} {
		n *= max(l, 1)
		if n > MaxSweepPoints*MaxRepeats {
			return n
		}
	}
	return n * max(s.Repeats, 1)
}

// Estimate is how long the points would take to run: each point's warm-up and run length,
// or, for a point given as a number of transactions, that number at the rate given (or, in
// a closed loop, assumedRate, a guess of a few thousand transactions per second, or the
// point's Callaghan's-law throughput bound when that is lower), plus a
// fixed cost per point for starting, loading and checking its cluster.
func Estimate(points []PointSpec) time.Duration {
	const perPoint = 500 * time.Millisecond
	const assumedRate = 2000.0
	var total time.Duration
	for i, p := range points {
		total += perPoint + p.Warmup
		switch {
		case p.Duration > 0:
			total += p.Duration
		case p.Queries > 0:
			rate := assumedRate
			if p.Rate > 0 {
				rate = p.Rate
			}
			// A closed loop on a slow network cannot beat Callaghan's law: 500 inserts
			// from one client over a 100 ms floor take 50 s, not a quarter of a second.
			if b, err := law.Compute(LawInput(&points[i], 0)); err == nil && b.MaxTPS > 0 && b.MaxTPS < rate {
				rate = b.MaxTPS
			}
			total += time.Duration(float64(p.Queries) / rate * float64(time.Second))
		}
	}
	return total
}
