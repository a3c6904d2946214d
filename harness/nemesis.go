package harness

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/replbench/replbench/protocols"
)

// The random nemesis (`random` or `random=SEED` in a fault timeline) stands for a schedule
// of faults drawn from a distribution, as Jepsen's combined nemesis does: from its time to
// the end of the run, one fault at a time, each held for a while and then undone, with a
// quiet gap between them. The schedule is a pure function of the seed, the members, the
// protocol and the run's length, so the same seed replays the same faults at the same
// times, and the result's fault record lists every event it drew.
//
// The kinds: kill, crash and stop of one node (undone by restart), pause (resume), a
// partition isolating one node (heal), and a one-way cut (heal). A protocol that cannot
// restart a node (protocols.Protocol.Rejoins false) gets only pauses and cuts. A
// source/replica protocol's source is killed like any node: it recovers its binlog and its
// replicas reconnect (the nemesis never promotes).

// Nemesis timing: a gap of nemesisGap to 2*nemesisGap between faults, each held nemesisHold
// to 3*nemesisHold, and the last one undone at least nemesisTail before the run ends, so
// the measured phase ends with a whole cluster.
const (
	nemesisGap  = 500 * time.Millisecond
	nemesisHold = 500 * time.Millisecond
	nemesisTail = 500 * time.Millisecond
)

// nemesisKinds lists the fault kinds the random nemesis draws from for a protocol on n
// nodes. One node has no link to cut, so it draws only node faults: drawing a partition
// and skipping it would leave a one-node run of a few seconds with no fault at all.
func nemesisKinds(p protocols.Protocol, n int) []FaultKind {
	kinds := []FaultKind{FaultPause}
	if n > 1 {
		kinds = append(kinds, FaultPartition, FaultOneWay)
	}
	if p.Rejoins {
		kinds = append(kinds, FaultKill, FaultCrash, FaultStop)
	}
	return kinds
}

// expandNemesis replaces every random event of events by the schedule it draws; other
// events are kept. runSeed seeds a random event without a seed of its own.
func expandNemesis(events []FaultEvent, members []string, duration time.Duration, protocol string, runSeed int64) []FaultEvent {
	var out []FaultEvent
	for _, f := range events {
		if f.Kind != FaultRandom {
			out = append(out, f)
			continue
		}
		p, err := protocols.Lookup(protocol)
		if err != nil {
			continue // refused before the run (Expand)
		}
		seed := f.Seed
		if seed == 0 {
			seed = runSeed
		}
		if f.Compound {
			out = append(out, NemesisCompound(seed, f.At, duration, members, *p)...)
		} else {
			out = append(out, NemesisSchedule(seed, f.At, duration, members, *p)...)
		}
	}
	return sortFaults(out)
}

// NemesisSchedule draws the random nemesis's schedule from start to the end of a run of
// the given length (a run of a number of queries, duration 0, gets one minute of faults).
func NemesisSchedule(seed int64, start, duration time.Duration, members []string, p protocols.Protocol) []FaultEvent {
	if duration <= 0 {
		duration = time.Minute
	}
	rng := rand.New(rand.NewPCG(uint64(seed), 0x6e656d65736973))
	between := func(lo, hi time.Duration) time.Duration { return lo + time.Duration(rng.Int64N(int64(hi-lo)+1)) }
	kinds := nemesisKinds(p, len(members))
	var out []FaultEvent
	t := start
	for {
		t += between(nemesisGap, 2*nemesisGap)
		hold := between(nemesisHold, 3*nemesisHold)
		if t+hold > duration-nemesisTail {
			return out
		}
		kind := kinds[rng.IntN(len(kinds))]
		node := members[rng.IntN(len(members))]
		var on, off FaultEvent
		switch kind {
		case FaultPartition:
			var rest []string
			for _, m := range members {
				if m != node {
					rest = append(rest, m)
				}
			}
			if len(rest) == 0 {
				continue
			}
			on = FaultEvent{Kind: FaultPartition, Groups: [][]string{{node}, rest}}
			off = FaultEvent{Kind: FaultHeal}
		case FaultOneWay:
			if len(members) < 2 {
				continue
			}
			to := node
			for to == node {
				to = members[rng.IntN(len(members))]
			}
			on = FaultEvent{Kind: FaultOneWay, From: node, To: to}
			off = FaultEvent{Kind: FaultHeal}
		case FaultPause:
			on, off = FaultEvent{Kind: FaultPause, Node: node}, FaultEvent{Kind: FaultResume, Node: node}
		default:
			on, off = FaultEvent{Kind: kind, Node: node}, FaultEvent{Kind: FaultRestart, Node: node}
		}
		on.At, off.At = t, t+hold
		out = append(out, on, off)
		t += hold
	}
}

// The compound nemesis (`random=compound`, `random=SEED,compound`) asks what a single fault
// at a time never can: what a node fault does while a network fault is in force — Jepsen's
// crash during a partition, a kill of a paused process, a coordinated crash while the
// cluster is split, a restart while the node is still cut off. Each round, after a gap of
// nemesisGap to 2*nemesisGap, draws:
//
//   - the outer fault, held H, uniform in [2*nemesisHold, 4*nemesisHold] (1 to 2 s), one of
//     three with equal chance: a partition isolating one node x (x | the rest, healed at
//     the end), a one-way cut x>y (healed), a pause of x (resumed at the end); x and y are
//     uniform among the members;
//   - the inner fault, kill, crash or stop with equal chance, at U[0.2,0.5]·H after the
//     outer one, on x with chance 1/2, on another node (uniform) with chance 1/4, on every
//     node (kill=all, ...) with chance 1/4;
//   - its restart, with chance 1/2 while the outer fault is still in force (at
//     U[0.6,0.9]·H: a restart while still partitioned or paused elsewhere, then the heal)
//     and with chance 1/2 after the outer fault is undone (0.1 to 0.5 s after the heal).
//
// A kill of the paused node ends its pause, so that round has no resume; everything is
// undone nemesisTail before the end of the run. The schedule passes checkTimeline by
// construction (TestNemesisCompoundIsValid). With one node there is nothing to partition
// (outer faults are pauses only); a protocol that cannot restart a node gets the
// one-at-a-time schedule, since its only node fault is a pause.
func NemesisCompound(seed int64, start, duration time.Duration, members []string, p protocols.Protocol) []FaultEvent {
	if !p.Rejoins {
		return NemesisSchedule(seed, start, duration, members, p)
	}
	if duration <= 0 {
		duration = time.Minute
	}
	rng := rand.New(rand.NewPCG(uint64(seed), 0x636f6d706f756e64))
	between := func(lo, hi time.Duration) time.Duration { return lo + time.Duration(rng.Int64N(int64(hi-lo)+1)) }
	frac := func(h time.Duration, lo, hi float64) time.Duration {
		return time.Duration(float64(h) * (lo + (hi-lo)*rng.Float64()))
	}
	pick := func(not string) string {
		for {
			if m := members[rng.IntN(len(members))]; m != not || len(members) == 1 {
				return m
			}
		}
	}
	inner := []FaultKind{FaultKill, FaultCrash, FaultStop}
	var out []FaultEvent
	t := start
	for {
		t += between(nemesisGap, 2*nemesisGap)
		h := between(2*nemesisHold, 4*nemesisHold)
		x := pick("")
		outer := []FaultKind{FaultPartition, FaultOneWay, FaultPause}[rng.IntN(3)]
		if len(members) < 2 {
			outer = FaultPause
		}
		var on, off FaultEvent
		switch outer {
		case FaultPartition:
			var rest []string
			for _, m := range members {
				if m != x {
					rest = append(rest, m)
				}
			}
			on, off = FaultEvent{Kind: FaultPartition, Groups: [][]string{{x}, rest}}, FaultEvent{Kind: FaultHeal}
		case FaultOneWay:
			on, off = FaultEvent{Kind: FaultOneWay, From: x, To: pick(x)}, FaultEvent{Kind: FaultHeal}
		default:
			on, off = FaultEvent{Kind: FaultPause, Node: x}, FaultEvent{Kind: FaultResume, Node: x}
		}
		kind := inner[rng.IntN(len(inner))]
		target := x
		switch r := rng.IntN(4); {
		case r == 2 && len(members) > 1:
			target = pick(x)
		case r == 3:
			target = AllNodes
		}
		downAt := t + frac(h, 0.2, 0.5)
		restartAt := t + h + between(100*time.Millisecond, 500*time.Millisecond)
		if rng.IntN(2) == 0 {
			restartAt = t + frac(h, 0.6, 0.9)
		}
		end := max(t+h, restartAt)
		if end > duration-nemesisTail {
			return out
		}
		on.At, off.At = t, t+h
		round := []FaultEvent{on,
			{At: downAt, Kind: kind, Node: target},
			{At: restartAt, Kind: FaultRestart, Node: target}}
		if !(outer == FaultPause && (target == x || target == AllNodes)) {
			round = append(round, off) // a kill of the paused node ended its pause
		}
		out = append(out, sortFaults(round)...)
		t = end
	}
}

// checkNodeFaults refuses, before anything starts, a node fault the protocol cannot carry
// out: a restart (or a kill, crash or stop, which need one) or a promotion where the
// provider cannot rejoin, and a promotion outside a source/replica protocol.
func checkNodeFaults(f FaultEvent, p protocols.Protocol) error {
	switch f.Kind {
	case FaultKill, FaultCrash, FaultStop, FaultRestart:
		if !p.Rejoins {
			return fmt.Errorf("fault %s: protocol %s cannot restart a node in this model (accepted here: pause, resume and the network faults)", f, p.Name)
		}
	case FaultPromote:
		if !p.FixedSource {
			return fmt.Errorf("fault %s: promote applies to a source/replica protocol (semisync, async); %s elects or orders on its own", f, p.Name)
		}
	}
	return nil
}
