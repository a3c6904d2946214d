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

// nemesisKinds lists the fault kinds the random nemesis draws from for a protocol.
func nemesisKinds(p protocols.Protocol) []FaultKind {
	kinds := []FaultKind{FaultPause, FaultPartition, FaultOneWay}
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
		out = append(out, NemesisSchedule(seed, f.At, duration, members, *p)...)
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
	kinds := nemesisKinds(p)
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
