// Package law computes Callaghan's-law bounds: from the emulated network's one-way delays,
// a protocol's commit mechanism, its parameters and where clients write, the lowest commit
// latency any implementation of that mechanism could reach, and what that floor implies for
// throughput at a thread count and for a hot row ("a given row can't be modified more than
// once per commit round trip").
//
// The bounds are a model, derived from each protocol's mechanism and never fitted to a
// measurement: they ignore CPU, storage, queueing and jitter (jitter only adds delay), except
// a configured slow applier (replbench.apply_delay), which caps throughput where flow
// control makes writers wait for it; so a
// measured figure should sit at or below them and the gap is what the implementation costs.
// Every number says which path or quorum sets it, so a reader can check it by hand against
// the delay matrix.
package law

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/replbench/replbench/protocols"
	"github.com/replbench/replbench/protocols/transport"
	"github.com/replbench/replbench/results"
	"github.com/replbench/replbench/storage"
)

// Input is what a bound depends on. The harness fills it from a resolved point
// (harness.LawInput); `replbench law` resolves its points the same way.
type Input struct {
	// Network is the emulated network; only its configured delays (OneWay) matter.
	Network transport.Network
	// Members are the cluster's nodes in order. The first is the default writer, Group
	// Replication's primary (the raft leader) and semi-sync's source.
	Members []string
	// Protocol is a protocol name or alias: galera, group-replication (gr), semisync,
	// async, standalone.
	Protocol string
	// Nodes are the members' resolved settings, in Members order: the protocol's own typed
	// settings, exactly as its Parse built them for the provider (*galera.Settings,
	// *groupreplication.Settings, *semisync.Settings), and the engine's options (a slow
	// applier, replbench.apply_delay, is Engine.ApplyDelay). The model reads nothing else,
	// so it cannot read a parameter differently from the provider. nil means every member
	// at the defaults.
	Nodes []Node
	// Writers are the nodes clients send writes to; empty means the first member.
	Writers []string
	// Threads is the number of client threads, spread round-robin over Writers.
	Threads int
	// HotRows is the number of rows every transaction picks one of to modify (Callaghan's
	// hotspot); 0 means no hot rows, so only the latency bound applies.
	HotRows int
	// Leader is Group Replication's primary, kept on the raft leader; "" means Members[0].
	Leader string
	// SyncCost is the local durable-commit cost (an fsync of the log) added to every floor;
	// 0 models an in-memory engine or innodb_flush_log_at_trx_commit != 1.
	SyncCost time.Duration
	// Duration is the length of the measured phase, when known (0: unknown). It lets the
	// apply cap count the backlog flow control allows a writer to run ahead by, so the cap
	// stays a bound for short runs; without it the cap is the sustained rate.
	Duration time.Duration
}

// Node is one member's resolved configuration.
type Node struct {
	Settings protocols.Settings
	Engine   storage.Options
}

// Models names the protocols this package has a model for, in listing order.
var Models = []string{"galera", "group-replication", "semisync", "async", "standalone"}

// Canonical maps a protocol name or alias to its model name, or returns an error listing the
// accepted names.
func Canonical(name string) (string, error) {
	if p, err := protocols.Lookup(name); err == nil {
		name = p.Name
	}
	switch strings.ToLower(name) {
	case "galera", "pxc":
		return "galera", nil
	case "group-replication", "gr", "groupreplication", "mgr":
		return "group-replication", nil
	case "semisync", "semi-sync":
		return "semisync", nil
	case "async":
		return "async", nil
	case "standalone":
		return "standalone", nil
	}
	return "", fmt.Errorf("no model for protocol %q (accepted: %s)", name, strings.Join(Models, ", "))
}

// Compute returns the bound of one configuration: the commit-latency floor, the throughput
// bound at in.Threads and the per-hot-row bound, labelled as a model.
func Compute(in Input) (*results.Bound, error) {
	e, err := Explain(in)
	if err != nil {
		return nil, err
	}
	return e.Bound, nil
}

// Explain is Compute with a derivation for each figure.
func Explain(in Input) (*Explanation, error) {
	proto, err := Canonical(in.Protocol)
	if err != nil {
		return nil, err
	}
	m, err := newModel(in, proto)
	if err != nil {
		return nil, err
	}

	var e *Explanation
	switch proto {
	case "galera":
		e, err = m.galeraModel()
	case "group-replication":
		e, err = m.groupReplication()
	case "semisync":
		e, err = m.semisyncModel()
	default:
		e, err = m.local()
	}
	if err != nil {
		return nil, err
	}
	if err := m.applyCap(e); err != nil {
		return nil, err
	}
	return e, nil
}

// model is one Explain call: the input, checked, with each member's configuration by name.
type model struct {
	in      Input
	writers []string
	proto   string
	nodes   map[string]Node
	// handoff is the least time from a hot row's modification being sent by writer a to
	// its commit on writer b, keyed {a, b}, where it differs from a's own floor (a == b)
	// or exists at all (a != b); nil: a row is modified by one writer at a time, at its
	// floor. handoffWhy says what sets it.
	handoff    map[[2]string]time.Duration
	handoffWhy string
}

// ow is the configured one-way delay; a node reaches itself at no cost.
func (m model) ow(a, b string) time.Duration {
	if a == b {
		return 0
	}
	return m.in.Network.OneWay(a, b)
}

func (m model) rtt(a, b string) time.Duration { return m.ow(a, b) + m.ow(b, a) }

// threadsPer spreads the threads round-robin over the writers, as the harness assigns
// clients to nodes.
func (m model) threadsPer() map[string]int {
	out := map[string]int{}
	for i := 0; i < m.in.Threads; i++ {
		out[m.writers[i%len(m.writers)]]++
	}
	return out
}

func dup(xs []string) string {
	s := slices.Clone(xs)
	sort.Strings(s)
	for i := 1; i < len(s); i++ {
		if s[i] == s[i-1] {
			return s[i]
		}
	}
	return ""
}
