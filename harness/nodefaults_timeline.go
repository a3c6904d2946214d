package harness

import (
	"fmt"
	"slices"
	"strings"

	"github.com/replbench/replbench/protocols"
)

// checkTimeline walks a point's whole fault timeline (sorted, with the random nemesis
// expanded) through the state each event leaves — which nodes are down and how, which are
// paused, which links are clogged, which node is the source — and refuses, before anything
// runs, an event that would mean nothing at its time. Every combination the parser accepts
// is thus either carried out or refused here with the reason:
//
//   - kill, crash or stop of a node that is down already (restart it first); of every node
//     (all) when every node is down;
//   - restart of a node that is not down; restart=all when no node is down;
//   - pause of a node that is down (there is no process to freeze) or paused already;
//   - resume of a node that is not paused, including one whose pause a kill, crash or stop
//     ended (the restart brings it back);
//   - promote of a node that is down, or of the source itself;
//   - kill, crash or stop of a node with a clogged link (clog=…): a clog holds messages to
//     deliver them later, in order, as a stalled TCP connection does, but a dead process's
//     connections are reset, so the held messages would reach its next incarnation, which
//     no network does (heal or unclog first, or cut the node with partition, which drops).
//
// Network faults combine freely with each other and with node faults otherwise: a node can
// go down inside a partition, restart while still partitioned (its rejoin waits for the
// heal, as a real node's does) or after the heal; a paused node can be killed (the kill
// ends the pause); a node can be paused while its restart is under way. What is decided at
// run time only — a kill of a node whose restart has not finished — is carried out then
// (nodefaults_restart.go: the rejoin is abandoned and the node stays down) and recorded.
func checkTimeline(events []FaultEvent, members []string, p protocols.Protocol) error {
	down := map[string]FaultEvent{}     // node -> the event that took it down
	paused := map[string]FaultEvent{}   // node -> its pause
	unpaused := map[string]FaultEvent{} // node -> the down event that ended its pause
	clogged := map[[2]string]FaultEvent{}
	source := ""
	if p.FixedSource && len(members) > 0 {
		source = members[0]
	}
	targets := func(n string) []string {
		if n == AllNodes {
			return members
		}
		return []string{n}
	}
	refuse := func(f FaultEvent, format string, args ...any) error {
		return fmt.Errorf("fault %s: %s", f, fmt.Sprintf(format, args...))
	}
	for _, f := range sortFaults(events) {
		switch f.Kind {
		case FaultKill, FaultCrash, FaultStop:
			var up []string
			for _, n := range targets(f.Node) {
				if d, ok := down[n]; ok {
					if f.Node != AllNodes {
						return refuse(f, "%s is down already since %s (accepted: restart=%s before taking it down again)", n, d, n)
					}
					continue
				}
				up = append(up, n)
			}
			if len(up) == 0 {
				return refuse(f, "every node is down already (accepted: restart=all before taking them down again)")
			}
			for _, n := range up {
				for l, c := range clogged {
					if l[0] == n || l[1] == n {
						return refuse(f, "%s has a clogged link since %s, whose held messages would reach its next incarnation, which a reset TCP connection never does (accepted: heal or unclog before it, or cut it with partition, which drops)", n, c)
					}
				}
				if _, ok := paused[n]; ok {
					delete(paused, n) // a dead process is not paused any more
					unpaused[n] = f
				}
				down[n] = f
			}
		case FaultRestart:
			var some bool
			for _, n := range targets(f.Node) {
				if _, ok := down[n]; ok {
					delete(down, n)
					some = true
				} else if f.Node != AllNodes {
					return refuse(f, "%s is not down (accepted: a restart after kill, crash or stop of %s)", n, n)
				}
			}
			if !some {
				return refuse(f, "no node is down (accepted: a restart after kill, crash or stop)")
			}
		case FaultPause:
			n := f.Node
			if d, ok := down[n]; ok {
				return refuse(f, "%s is down since %s: there is no process to freeze (accepted: restart=%s first, or pause before it goes down)", n, d, n)
			}
			if pf, ok := paused[n]; ok {
				return refuse(f, "%s is paused already since %s (accepted: resume=%s first)", n, pf, n)
			}
			paused[n] = f
			delete(unpaused, n)
		case FaultResume:
			n := f.Node
			if _, ok := paused[n]; ok {
				delete(paused, n)
				continue
			}
			if d, ok := unpaused[n]; ok {
				return refuse(f, "%s's pause ended when it went down at %s (accepted: drop the resume; restart=%s brings it back)", n, d, n)
			}
			return refuse(f, "%s is not paused (accepted: a resume after pause=%s)", n, n)
		case FaultPromote:
			if d, ok := down[f.Node]; ok {
				return refuse(f, "%s is down since %s (accepted: promote a live replica, or restart=%s first)", f.Node, d, f.Node)
			}
			if f.Node == source {
				return refuse(f, "%s is the source already (accepted: promote a replica)", f.Node)
			}
			source = f.Node
		case FaultClog:
			clogged[[2]string{f.From, f.To}] = f
			if f.Both {
				clogged[[2]string{f.To, f.From}] = f
			}
		case FaultUnclog:
			delete(clogged, [2]string{f.From, f.To})
			if f.Both {
				delete(clogged, [2]string{f.To, f.From})
			}
		case FaultHeal:
			clear(clogged)
		}
	}
	return nil
}

// nemesisOrigin names the random event a drawn event came from, for a refusal of a timeline
// that mixes a nemesis with explicit node faults.
func nemesisOrigin(events []FaultEvent) string {
	var rs []string
	for _, f := range events {
		if f.Kind == FaultRandom {
			rs = append(rs, f.String())
		}
	}
	if len(rs) == 0 {
		return ""
	}
	return " (the timeline includes what " + strings.Join(slices.Compact(rs), ", ") + " drew; another seed draws another schedule)"
}
