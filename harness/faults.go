package harness

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/replbench/replbench/protocols/transport"
)

// FaultKind names what a fault event does to the emulated network.
type FaultKind string

// The fault events. Each acts on the emulator while the point's clients run; the cuts
// (partition, oneway) drop messages, a clog holds them and releases them in order, and the
// delay and loss events change the network for messages sent from then on.
const (
	FaultPartition FaultKind = "partition" // partition=n1,n2|n3: cut every link between the groups, both ways
	FaultOneWay    FaultKind = "oneway"    // oneway=n1>n3: drop messages n1 -> n3 only
	FaultHeal      FaultKind = "heal"      // heal: end every cut and release every clogged link
	FaultClog      FaultKind = "clog"      // clog=n1>n2 (one way) or clog=n1-n2 (both): hold messages
	FaultUnclog    FaultKind = "unclog"    // unclog=n1>n2 or unclog=n1-n2: release held messages
	FaultDelay     FaultKind = "delay"     // delay=n3=50ms: egress delay of one node
	FaultLink      FaultKind = "link"      // link=n1-n2=40ms or link=n1>n2=40ms: one-way delay of a link
	FaultLoss      FaultKind = "loss"      // loss=0.05 or loss=5%: message loss on every link
	FaultPause     FaultKind = "pause"     // pause=n2: freeze a node (SIGSTOP): clients block, messages held
	FaultResume    FaultKind = "resume"    // resume=n2: end a pause (SIGCONT): held messages delivered in order
	FaultKill      FaultKind = "kill"      // kill=n2 or kill=all: kill -9: written data survives, the process's buffers do not
	FaultCrash     FaultKind = "crash"     // crash=n2 or crash=all: power loss: only fsynced data survives
	FaultStop      FaultKind = "stop"      // stop=n2 or stop=all: clean shutdown: everything is flushed first
	FaultRestart   FaultKind = "restart"   // restart=n2 or restart=all: recover from what survived and rejoin
	FaultPromote   FaultKind = "promote"   // promote=n2: make n2 the source (semi-sync/async, after the source went down)
	FaultRandom    FaultKind = "random"    // random, random=SEED, random=compound or random=SEED,compound: a nemesis schedule from here to the end of the run
)

// AllNodes is the argument of a coordinated node fault (kill=all, crash=all).
const AllNodes = "all"

// faultForms lists the accepted events, for error messages.
const faultForms = "partition=A,B|C, oneway=A>B, heal, clog=A>B or A-B, unclog=A>B or A-B, delay=NODE=DUR, link=A-B=DUR or A>B=DUR, loss=P, pause=NODE, resume=NODE, kill=NODE|all, crash=NODE|all, stop=NODE|all, restart=NODE|all, promote=NODE, random, random=SEED, random=compound or random=SEED,compound"

// FaultEvent is one timed change to the network: at At after the start of the measured
// phase the emulator applies it. It is written AT:EVENT ("5s:partition=n1,n2|n3",
// "10s:heal"), the same on the command line (--fault) and in a scenario's faults: list, so
// a run's scenario.yaml replays exactly what the flags asked for. Times are relative to the
// measured phase, not to bring-up or warm-up, because the point of a fault timeline is to
// see what the fault does to the work being measured.
type FaultEvent struct {
	At   time.Duration
	Kind FaultKind
	// Groups are the sides of a partition; nodes in no group keep their links.
	Groups [][]string
	// From and To are the nodes of oneway, clog, unclog and link; Both applies a clog,
	// unclog or link delay in both directions.
	From, To string
	Both     bool
	// Node is the node of a delay event.
	Node string
	// Delay is the new delay of a delay or link event.
	Delay time.Duration
	// Loss is the loss probability of a loss event.
	Loss float64
	// Seed is the seed of a random nemesis (0: the run's seed).
	Seed int64
	// Compound makes a random nemesis draw overlapping faults: a node fault inside each
	// network fault (nemesis.go, NemesisCompound).
	Compound bool
}

// nodeEvent reports whether the event acts on a node (its process) rather than the network.
func (f FaultEvent) nodeEvent() bool {
	switch f.Kind {
	case FaultPause, FaultResume, FaultKill, FaultCrash, FaultStop, FaultRestart, FaultPromote:
		return true
	}
	return false
}

// ParseFault parses "AT:EVENT" (see the FaultKind constants for the events). Node names are
// checked later, against the cluster of each point (CheckFault).
func ParseFault(s string) (FaultEvent, error) {
	at, ev, ok := strings.Cut(strings.TrimSpace(s), ":")
	if !ok {
		return FaultEvent{}, fmt.Errorf("fault %q: expected AT:EVENT such as 5s:partition=n1,n2|n3 (events: %s)", s, faultForms)
	}
	d, err := ParseDuration(at)
	if err != nil {
		return FaultEvent{}, fmt.Errorf("fault %q: bad time: %v", s, err)
	}
	f, err := parseFaultEvent(strings.TrimSpace(ev))
	if err != nil {
		return FaultEvent{}, fmt.Errorf("fault %q: %v", s, err)
	}
	f.At = d
	return f, nil
}

func parseFaultEvent(ev string) (FaultEvent, error) {
	name, arg, hasArg := strings.Cut(ev, "=")
	f := FaultEvent{Kind: FaultKind(strings.TrimSpace(name))}
	arg = strings.TrimSpace(arg)
	needArg := func() error {
		if !hasArg || arg == "" {
			return fmt.Errorf("event %s needs an argument (accepted: %s)", f.Kind, faultForms)
		}
		return nil
	}
	switch f.Kind {
	case FaultHeal:
		if hasArg {
			return f, fmt.Errorf("event heal takes no argument (it ends every cut and clog)")
		}
	case FaultPartition:
		if err := needArg(); err != nil {
			return f, err
		}
		seen := map[string]bool{}
		for _, g := range strings.Split(arg, "|") {
			var group []string
			for _, n := range strings.Split(g, ",") {
				n = strings.TrimSpace(n)
				if n == "" {
					return f, fmt.Errorf("partition %q: empty node name (accepted: groups of nodes separated by |, such as n1,n2|n3)", arg)
				}
				if seen[n] {
					return f, fmt.Errorf("partition %q: node %s is in two groups", arg, n)
				}
				seen[n] = true
				group = append(group, n)
			}
			f.Groups = append(f.Groups, group)
		}
		if len(f.Groups) < 2 {
			return f, fmt.Errorf("partition %q: needs at least two groups separated by |, such as n1,n2|n3", arg)
		}
	case FaultOneWay, FaultClog, FaultUnclog:
		if err := needArg(); err != nil {
			return f, err
		}
		a, b, ok := strings.Cut(arg, ">")
		if !ok {
			if f.Kind == FaultOneWay {
				return f, fmt.Errorf("oneway %q: expected FROM>TO such as n1>n3 (for both directions use partition)", arg)
			}
			if a, b, ok = strings.Cut(arg, "-"); !ok {
				return f, fmt.Errorf("%s %q: expected A>B (one way) or A-B (both ways)", f.Kind, arg)
			}
			f.Both = true
		}
		f.From, f.To = strings.TrimSpace(a), strings.TrimSpace(b)
		if f.From == "" || f.To == "" || f.From == f.To {
			return f, fmt.Errorf("%s %q: expected two different node names", f.Kind, arg)
		}
	case FaultDelay:
		if err := needArg(); err != nil {
			return f, err
		}
		node, d, err := transport.ParseEgress(arg)
		if err != nil {
			return f, err
		}
		f.Node, f.Delay = node, d
	case FaultLink:
		if err := needArg(); err != nil {
			return f, err
		}
		l, err := transport.ParseLink(arg)
		if err != nil {
			return f, err
		}
		f.From, f.To, f.Delay, f.Both = l.From, l.To, l.Delay, !l.Directed
	case FaultLoss:
		if err := needArg(); err != nil {
			return f, err
		}
		v, err := transport.ParseLoss(arg)
		if err != nil {
			return f, err
		}
		if v >= 1 {
			return f, fmt.Errorf("loss %q: 100%% loss is a partition (accepted: a probability in [0,1))", arg)
		}
		f.Loss = v
	case FaultPause, FaultResume:
		if err := needArg(); err != nil {
			return f, err
		}
		if strings.ContainsAny(arg, ",|>=") {
			return f, fmt.Errorf("%s %q: expected one node name such as n2", f.Kind, arg)
		}
		f.Node = arg
	case FaultKill, FaultCrash, FaultStop, FaultRestart, FaultPromote:
		if err := needArg(); err != nil {
			return f, err
		}
		if strings.ContainsAny(arg, ",|>=") || (f.Kind == FaultPromote && arg == AllNodes) {
			if f.Kind == FaultPromote {
				return f, fmt.Errorf("promote %q: expected one node name such as n2", arg)
			}
			return f, fmt.Errorf("%s %q: expected one node name such as n2, or all", f.Kind, arg)
		}
		f.Node = arg
	case FaultRandom:
		if hasArg {
			bad := fmt.Errorf("random %q: expected a seed (random=7), compound (random=compound: a node fault inside each network fault), both (random=7,compound), or no argument for one fault at a time with the run's seed", arg)
			for i, tok := range strings.Split(arg, ",") {
				tok = strings.TrimSpace(tok)
				if tok == "compound" && !f.Compound {
					f.Compound = true
					continue
				}
				v, err := strconv.ParseInt(tok, 10, 64)
				if err != nil || i > 0 {
					return f, bad
				}
				f.Seed = v
			}
		}
	default:
		return f, fmt.Errorf("unknown fault event %q (accepted: %s)", name, faultForms)
	}
	return f, nil
}

// nodes lists every node the event names.
func (f FaultEvent) nodes() []string {
	var out []string
	for _, g := range f.Groups {
		out = append(out, g...)
	}
	for _, n := range []string{f.From, f.To, f.Node} {
		if n != "" && n != AllNodes {
			out = append(out, n)
		}
	}
	return out
}

// Event renders the event without its time, in the form ParseFault reads.
func (f FaultEvent) Event() string {
	sep := ">"
	if f.Both {
		sep = "-"
	}
	switch f.Kind {
	case FaultPartition:
		gs := make([]string, len(f.Groups))
		for i, g := range f.Groups {
			gs[i] = strings.Join(g, ",")
		}
		return "partition=" + strings.Join(gs, "|")
	case FaultOneWay, FaultClog, FaultUnclog:
		return string(f.Kind) + "=" + f.From + sep + f.To
	case FaultDelay:
		return fmt.Sprintf("delay=%s=%s", f.Node, f.Delay)
	case FaultLink:
		return fmt.Sprintf("link=%s%s%s=%s", f.From, sep, f.To, f.Delay)
	case FaultLoss:
		return fmt.Sprintf("loss=%g", f.Loss)
	case FaultPause, FaultResume, FaultKill, FaultCrash, FaultStop, FaultRestart, FaultPromote:
		return string(f.Kind) + "=" + f.Node
	case FaultRandom:
		var opts []string
		if f.Seed != 0 {
			opts = append(opts, strconv.FormatInt(f.Seed, 10))
		}
		if f.Compound {
			opts = append(opts, "compound")
		}
		if len(opts) > 0 {
			return "random=" + strings.Join(opts, ",")
		}
	}
	return string(f.Kind)
}

// String renders the event as ParseFault reads it: "5s:partition=n1,n2|n3".
func (f FaultEvent) String() string { return f.At.String() + ":" + f.Event() }

// Applied renders the event as the result records it: the time in seconds with
// millisecond precision, then the event with a space after its name ("5.000s partition
// n1,n2|n3"), so that a reader of the JSON can line it up with the interval lines.
func (f FaultEvent) Applied(at time.Duration) string {
	return fmt.Sprintf("%.3fs %s", at.Seconds(), strings.Replace(f.Event(), "=", " ", 1))
}

// UnmarshalYAML reads a fault as the string "AT:EVENT".
func (f *FaultEvent) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return lineError(n, "want a fault as AT:EVENT, such as 5s:partition=n1,n2|n3")
	}
	v, err := ParseFault(n.Value)
	if err != nil {
		return lineError(n, err.Error())
	}
	*f = v
	return nil
}

// MarshalYAML writes a fault as "AT:EVENT".
func (f FaultEvent) MarshalYAML() (any, error) { return f.String(), nil }

// CheckFault checks the nodes an event names against the members of a cluster, and its time
// against the length of a timed run (0 for a run of a number of queries, whose length is
// not known in advance).
func CheckFault(f FaultEvent, members []string, duration time.Duration) error {
	for _, n := range f.nodes() {
		if err := transport.CheckNode(n, members); err != nil {
			return fmt.Errorf("fault %s: %v", f, err)
		}
	}
	if duration > 0 && f.At >= duration {
		return fmt.Errorf("fault %s: bad time %s: the measured phase lasts %s, so the event would never fire (accepted: a time before the end of the run)", f, f.At, duration)
	}
	return nil
}

// sortFaults orders events by time, keeping the given order among events at the same time
// (a heal and a new partition at one instant apply in the order written).
func sortFaults(fs []FaultEvent) []FaultEvent {
	out := append([]FaultEvent(nil), fs...)
	sort.SliceStable(out, func(i, j int) bool { return out[i].At < out[j].At })
	return out
}

// faultTarget is the part of the emulator a fault timeline drives; the transport's
// Emulator implements it.
type faultTarget interface {
	Partition(groups ...[]string)
	PartitionOneWay(from, to string)
	Clog(from, to string)
	Unclog(from, to string)
	Heal()
	Network() transport.Network
	SetNetwork(transport.Network)
}

// apply makes the event happen on t.
func (f FaultEvent) apply(t faultTarget) {
	switch f.Kind {
	case FaultPartition:
		t.Partition(f.Groups...)
	case FaultOneWay:
		t.PartitionOneWay(f.From, f.To)
	case FaultHeal:
		t.Heal()
	case FaultClog:
		t.Clog(f.From, f.To)
		if f.Both {
			t.Clog(f.To, f.From)
		}
	case FaultUnclog:
		t.Unclog(f.From, f.To)
		if f.Both {
			t.Unclog(f.To, f.From)
		}
	case FaultDelay:
		nw := t.Network()
		nw.SetEgress(f.Node, f.Delay)
		t.SetNetwork(nw)
	case FaultLink:
		nw := t.Network()
		transport.LinkDelay{From: f.From, To: f.To, Delay: f.Delay, Directed: !f.Both}.Apply(&nw)
		t.SetNetwork(nw)
	case FaultLoss:
		nw := t.Network()
		nw.Loss = f.Loss
		t.SetNetwork(nw)
	case FaultPause, FaultResume:
		nf, ok := t.(nodeFaulter)
		if !ok {
			return // refused before the run by checkNodeFaults
		}
		if f.Kind == FaultPause {
			nf.Pause(f.Node)
		} else {
			nf.Resume(f.Node)
		}
	case FaultKill, FaultCrash, FaultStop, FaultRestart, FaultPromote:
		if nl, ok := t.(nodeLifecycle); ok {
			nl.Lifecycle(f)
		}
	}
}

// cuts reports whether the event leaves messages dropped or held until a heal.
func (f FaultEvent) cuts() bool {
	switch f.Kind {
	case FaultPartition, FaultOneWay, FaultClog:
		return true
	}
	return false
}

// timeline applies a point's fault events at their times, from the start of the measured
// phase, on its own goroutine, so that the clients' loop knows nothing of faults.
type timeline struct {
	mu      sync.Mutex
	applied []string
	pending []FaultEvent // not yet fired when the timeline stopped
	cut     bool         // a cut or clog is in force: the last cut came after the last heal
	done    chan struct{}
	wg      sync.WaitGroup
	target  faultTarget
	start   time.Time
}

// startTimeline starts applying events (sorted by time) to t, timed from start; announce is
// called with each event as it fires. With no events it starts nothing.
func startTimeline(events []FaultEvent, t faultTarget, start time.Time, announce func(at time.Duration, f FaultEvent)) *timeline {
	tl := &timeline{done: make(chan struct{}), pending: sortFaults(events), target: t, start: start}
	if len(events) == 0 {
		return tl
	}
	tl.wg.Add(1)
	go func() {
		defer tl.wg.Done()
		for {
			tl.mu.Lock()
			if len(tl.pending) == 0 {
				tl.mu.Unlock()
				return
			}
			f := tl.pending[0]
			tl.mu.Unlock()
			tm := time.NewTimer(time.Until(start.Add(f.At)))
			select {
			case <-tl.done:
				tm.Stop()
				return
			case <-tm.C:
			}
			f.apply(t)
			at := time.Since(start)
			tl.mu.Lock()
			tl.pending = tl.pending[1:]
			tl.applied = append(tl.applied, f.Applied(at))
			if nl, ok := t.(nodeLifecycle); ok {
				for _, ev := range nl.Events() {
					tl.applied = append(tl.applied, fmt.Sprintf("%.3fs %s", ev.at.Sub(start).Seconds(), ev.msg))
				}
			}
			switch {
			case f.Kind == FaultHeal:
				tl.cut = false
			case f.cuts():
				tl.cut = true
			}
			tl.mu.Unlock()
			if announce != nil {
				announce(at, f)
			}
		}
	}()
	return tl
}

// stop ends the timeline and returns the events applied (as the result records them), the
// events that never fired, and whether a cut or clog is still in force.
func (tl *timeline) stop() (applied []string, pending []FaultEvent, cut bool) {
	close(tl.done)
	tl.wg.Wait()
	tl.mu.Lock()
	defer tl.mu.Unlock()
	// A node still paused at the end of the phase is resumed before the convergence check,
	// as a cut is healed: otherwise every point that ends inside a pause looks diverged.
	if nf, ok := tl.target.(nodeFaulter); ok {
		for _, n := range nf.Paused() {
			nf.Resume(n)
			tl.applied = append(tl.applied, fmt.Sprintf("%.3fs resume %s (end of the measured phase, before the convergence check)", time.Since(tl.start).Seconds(), n))
		}
	}
	// Likewise a node still down is restarted, and every restart waited for, so that the
	// convergence and lost-write checks see every node recovered from what survived.
	if nl, ok := tl.target.(nodeLifecycle); ok {
		for _, n := range nl.RestartAll(rejoinTimeout) {
			tl.applied = append(tl.applied, fmt.Sprintf("%.3fs restart %s (end of the measured phase, before the convergence check)", time.Since(tl.start).Seconds(), n))
		}
		for _, ev := range nl.Events() {
			tl.applied = append(tl.applied, fmt.Sprintf("%.3fs %s", ev.at.Sub(tl.start).Seconds(), ev.msg))
		}
		for _, n := range nl.Down() {
			tl.applied = append(tl.applied, fmt.Sprintf("%.3fs %s still down at the convergence check", time.Since(tl.start).Seconds(), n))
		}
		// What a restart did is learnt after the fact: order the record by time.
		sort.SliceStable(tl.applied, func(i, j int) bool { return recordTime(tl.applied[i]) < recordTime(tl.applied[j]) })
	}
	return tl.applied, tl.pending, tl.cut
}

// recordTime reads the leading "1.234s" of a fault record.
func recordTime(rec string) float64 {
	at, _, _ := strings.Cut(rec, " ")
	v, _ := strconv.ParseFloat(strings.TrimSuffix(at, "s"), 64)
	return v
}
