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
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/replbench/replbench/protocols"
	"github.com/replbench/replbench/protocols/transport"
	"github.com/replbench/replbench/results"
)

// Input is what a bound depends on. The harness fills it per point; `replbench law` fills
// it from flags.
type Input struct {
	// Network is the emulated network; only its configured delays (OneWay) matter.
	Network transport.Network
	// Members are the cluster's nodes in order. The first is the default writer, Group
	// Replication's primary (the raft leader) and semi-sync's source.
	Members []string
	// Protocol is a protocol name or alias: galera, group-replication (gr), semisync,
	// async, standalone.
	Protocol string
	// Params are the protocol's resolved parameters; names the model reads and that are
	// absent take their documented defaults (see ModelParams).
	Params protocols.Params
	// Writers are the nodes clients send writes to; empty means the first member.
	Writers []string
	// Threads is the number of client threads, spread round-robin over Writers.
	Threads int
	// HotRows is the number of rows every transaction picks one of to modify (Callaghan's
	// hotspot); 0 means no hot rows, so only the latency bound applies.
	HotRows int
	// Leader is Group Replication's primary, kept on the raft leader; "" means Members[0].
	// Added beside the fields the harness was promised; the zero value keeps the old meaning.
	Leader string
	// SyncCost is the local durable-commit cost (an fsync of the log) added to every floor;
	// 0 models an in-memory engine or innodb_flush_log_at_trx_commit != 1.
	SyncCost time.Duration
	// NodeParams are parameters set on one node only (--param n3:NAME=VALUE), by node name;
	// a name absent there falls back to Params. nil means no per-node parameters. The model
	// reads replbench.apply_delay and the applier settings from them: a slow applier caps
	// throughput where the protocol's flow control makes the writers wait for it.
	NodeParams map[string]protocols.Params
	// Duration is the length of the measured phase, when known (0: unknown). It lets the
	// apply cap count the backlog flow control allows a writer to run ahead by, so the cap
	// stays a bound for short runs; without it the cap is the sustained rate.
	Duration time.Duration
}

// Explanation is a bound with the one-line derivation of each of its three figures, for
// `replbench law` and for anyone who wants to see why.
type Explanation struct {
	Bound *results.Bound
	// Floor, Throughput and HotRow each say in one sentence which path, quorum or limit
	// sets the figure.
	Floor, Throughput, HotRow string
	// PerWriterFloor is each writer's commit floor.
	PerWriterFloor map[string]time.Duration
}

// Model names the protocols this package has a model for, in listing order.
var Models = []string{"galera", "group-replication", "semisync", "async", "standalone"}

// ModelParams are the parameters the models read, with the defaults they assume when the
// protocol's resolved parameters do not carry them (for example when the protocol package
// is not linked in). Names and defaults are the real systems'.
var ModelParams = map[string][]protocols.Param{
	"galera": {
		{Name: "evs.user_send_window", Default: "2", Help: "messages a node may have in flight beyond the all-member safe point"},
		{Name: "evs.send_window", Default: "4", Help: "the same limit for the queued backlog"},
		{Name: "evs.use_aggregate", Default: "ON", Help: "pack queued write-sets into one message; OFF makes the send window bound transactions"},
		{Name: "wsrep_slave_threads", Aliases: []string{"wsrep_applier_threads"}, Default: "1", Help: "applier threads of a node (they overlap only when commits are not serialised)"},
		{Name: "repl.commit_order", Default: "3", Choices: []string{"0", "1", "2", "3"}, Help: "2 and 3 commit remote write-sets in seqno order, one at a time"},
		{Name: "gcs.fc_limit", Default: "16", Help: "receive-queue length (times sqrt(N)) at which a node stops every writer"},
		{Name: "gcs.fc_master_slave", Default: "false", Help: "do not scale gcs.fc_limit by sqrt(N)"},
		applyDelayParam,
	},
	"group-replication": {
		{Name: "group_replication_single_primary_mode", Default: "ON", Help: "writes only on the primary"},
		{Name: "group_replication_consistency", Default: "EVENTUAL",
			Choices: []string{"EVENTUAL", "BEFORE_ON_PRIMARY_FAILOVER", "BEFORE", "AFTER", "BEFORE_AND_AFTER"},
			Help:    "BEFORE adds an ordering round, AFTER the slowest member's prepare and its ordering"},
		{Name: "group_replication_flow_control_mode", Default: "QUOTA", Choices: []string{"QUOTA", "DISABLED"}, Help: "QUOTA holds writers to the pace of a member whose queue passed a threshold"},
		{Name: "group_replication_flow_control_applier_threshold", Default: "25000", Help: "applier-queue length at which the quota starts to hold writers"},
		applyDelayParam,
	},
	"semisync": {
		{Name: "rpl_semi_sync_master_wait_for_slave_count", Default: "1", Help: "replica acks a commit waits for"},
		{Name: "semisync.serialized", Default: "false", Help: "the 5.5/5.6 behaviour: one commit per round trip for the whole source"},
		replicaWorkers, replicaOrder, applyDelayParam,
	},
	"async": {replicaWorkers, replicaOrder, applyDelayParam},
}

// The replica applier settings of semi-sync and async: they decide how fast a replica
// applies, which there sets its lag, not the source's throughput.
var (
	replicaWorkers = protocols.Param{Name: "replica_parallel_workers", Aliases: []string{"slave_parallel_workers"}, Default: "4", Help: "applier workers on a replica"}
	replicaOrder   = protocols.Param{Name: "replica_preserve_commit_order", Aliases: []string{"slave_preserve_commit_order"}, Default: "ON", Help: "ON commits in binlog order, one at a time"}
)

// applyDelayParam is the storage engine's artificial apply cost, spent in the commit step
// of every remote write-set while its locks are held (storage/apply.go).
var applyDelayParam = protocols.Param{Name: "replbench.apply_delay", Default: "0s", Help: "time each remote write-set's commit takes on a node (a slow applier); per node as NODE:replbench.apply_delay"}

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
	if len(in.Members) == 0 {
		return nil, errors.New("no members: give the cluster's node names (n1, n2, ...)")
	}
	if d := dup(in.Members); d != "" {
		return nil, fmt.Errorf("member %s listed twice", d)
	}
	if in.Threads < 1 {
		return nil, fmt.Errorf("threads %d: give at least 1 client thread", in.Threads)
	}
	if in.HotRows < 0 {
		return nil, fmt.Errorf("hot rows %d: give 0 (no hot rows) or a positive count", in.HotRows)
	}
	if in.SyncCost < 0 {
		return nil, fmt.Errorf("sync cost %v: give a non-negative duration", in.SyncCost)
	}
	writers := in.Writers
	if len(writers) == 0 {
		writers = in.Members[:1]
	}
	for _, w := range writers {
		if err := transport.CheckNode(w, in.Members); err != nil {
			return nil, fmt.Errorf("writer: %w", err)
		}
	}
	if d := dup(writers); d != "" {
		return nil, fmt.Errorf("writer %s listed twice", d)
	}
	if err := in.Network.Validate(in.Members); err != nil {
		return nil, fmt.Errorf("network: %w", err)
	}
	for n := range in.NodeParams {
		if err := transport.CheckNode(n, in.Members); err != nil {
			return nil, fmt.Errorf("per-node parameters: %w", err)
		}
	}
	if in.Duration < 0 {
		return nil, fmt.Errorf("duration %v: give the measured phase's length, or 0 when unknown", in.Duration)
	}
	m := model{in: in, writers: writers, proto: proto}
	var e *Explanation
	switch proto {
	case "galera":
		e, err = m.galera()
	case "group-replication":
		e, err = m.groupReplication()
	case "semisync":
		e, err = m.semisync()
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

type model struct {
	in      Input
	writers []string
	proto   string
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

func (m model) param(name string) string {
	if v, ok := m.in.Params[name]; ok && v != "" {
		return v
	}
	for _, p := range ModelParams[m.proto] {
		if p.Name == name {
			return p.Default
		}
	}
	return ""
}

// nodeParam is a parameter as node sees it: set on that node, else set for every node,
// else the model's default. The first name is the canonical one, the rest its aliases.
func (m model) nodeParam(node string, names ...string) string {
	for _, src := range []protocols.Params{m.in.NodeParams[node], m.in.Params} {
		for _, n := range names {
			if v, ok := src[n]; ok && v != "" {
				return v
			}
		}
	}
	return m.param(names[0])
}

func (m model) intParam(names ...string) (int64, string, error) {
	for _, n := range names {
		if v, ok := m.in.Params[n]; ok && v != "" {
			x, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return 0, n, fmt.Errorf("parameter %s: %q is not an integer", n, v)
			}
			return x, n, nil
		}
	}
	x, err := strconv.ParseInt(m.param(names[0]), 10, 64)
	return x, names[0], err
}

func boolParam(v string) bool {
	switch strings.ToLower(v) {
	case "on", "true", "yes", "1":
		return true
	}
	return false
}

// threadsPer spreads the threads round-robin over the writers, as the harness assigns
// clients to nodes.
func (m model) threadsPer() map[string]int {
	out := map[string]int{}
	for i := 0; i < m.in.Threads; i++ {
		out[m.writers[i%len(m.writers)]]++
	}
	return out
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func fmtD(d time.Duration) string {
	return strconv.FormatFloat(ms(d), 'f', -1, 64) + " ms"
}

func fmtTPS(v float64) string {
	switch {
	case v >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case v >= 1:
		return strconv.FormatFloat(v, 'f', 1, 64)
	}
	return strconv.FormatFloat(v, 'g', 3, 64)
}

func (m model) syncNote() string {
	if m.in.SyncCost > 0 {
		return " plus the local sync " + fmtD(m.in.SyncCost)
	}
	return ""
}

// finish turns per-writer floors into the bound: throughput sum_w T_w/floor_w (each thread
// has one commit in flight), capped per writer by perWriterCap when positive, and by the
// hot rows at one modification per fastest hand-off cycle between the writers (rowCycle).
func (m model) finish(floors map[string]time.Duration, floorWhy string, perWriterCap int, capWhy string) *Explanation {
	tp := m.threadsPer()
	lo := time.Duration(math.MaxInt64)
	for _, w := range m.writers {
		if f, ok := floors[w]; ok && f < lo {
			lo = f
		}
	}
	e := &Explanation{PerWriterFloor: floors}
	b := &results.Bound{CommitFloorMs: ms(lo), Limit: "latency"}
	e.Floor = floorWhy
	if lo <= 0 {
		b.Limit = "none"
		e.Throughput = "model: no floor, so no throughput bound from the network (the local commit cost decides)."
		e.HotRow = "model: no floor, so the model puts no limit on how often one row changes."
		b.Derivation = floorWhy
		e.Bound = b
		return e
	}
	var maxTPS float64
	var parts []string
	capped := false
	for _, w := range m.writers {
		f, ok := floors[w]
		if !ok {
			continue
		}
		t := tp[w]
		if perWriterCap > 0 && t > perWriterCap {
			t = perWriterCap
			capped = true
		}
		maxTPS += float64(t) / f.Seconds()
		parts = append(parts, fmt.Sprintf("%d/%s", t, fmtD(f)))
	}
	b.MaxTPS = maxTPS
	e.Throughput = fmt.Sprintf("model: each thread has one commit in flight, so at most %s = %s tps", strings.Join(parts, " + "), fmtTPS(maxTPS))
	if capped {
		b.Limit = "send_window"
		e.Throughput += " (" + capWhy + ")"
	}
	e.Throughput += "."
	gap, cycle := m.rowCycle(floors)
	if gap <= 0 {
		e.HotRow = "model: a row can pass from one writer to the next as soon as the next has delivered it, and here that takes no time in the model, so it puts no limit on how often one row changes."
		e.Bound = b
		b.Derivation = floorWhy
		return e
	}
	b.HotRowMaxTPS = 1 / gap.Seconds()
	if _, ok := m.handoff[[2]string{cycle[0], cycle[0]}]; len(cycle) == 1 && !ok {
		e.HotRow = fmt.Sprintf("model: a row can change at most once per commit floor of %s, 1/%s = %s modifications/s per row", cycle[0], fmtD(gap), fmtTPS(b.HotRowMaxTPS))
	} else {
		if len(cycle) == 1 {
			cycle = []string{cycle[0], cycle[0]}
		}
		e.HotRow = fmt.Sprintf("model: a row can pass from one writer to the next as soon as the next has delivered it (%s), so its modifications are at least the fastest hand-off cycle %s apart on average, %s: at most %s modifications/s per row", m.handoffWhy, strings.Join(cycle, "->"), fmtD(gap), fmtTPS(b.HotRowMaxTPS))
	}
	if m.in.HotRows > 0 {
		hot := float64(m.in.HotRows) * b.HotRowMaxTPS
		e.HotRow += fmt.Sprintf("; with %d hot rows at most %s tps", m.in.HotRows, fmtTPS(hot))
		if hot < b.MaxTPS {
			b.MaxTPS = hot
			b.Limit = "hot_row"
			e.Throughput = fmt.Sprintf("model: every transaction modifies one of %d hot rows, each at most once per %s, so at most %s tps (the %d threads alone would allow more).", m.in.HotRows, fmtD(gap), fmtTPS(hot), m.in.Threads)
		}
	}
	e.HotRow += "."
	b.Derivation = floorWhy
	e.Bound = b
	return e
}

// galera: EVS delivers a write-set only when it is SAFE: every member has received it and
// has told everyone so through its aru. The originator w therefore waits for its message to
// reach each member i, for i's aru-carrying message to reach every member j (j's own aru
// covers the seqno only once it has i's fill-in), and for j's report to come back: the
// longest path w -> i -> j -> w over all members, which is at least the round trip to the
// farthest member and also counts a slow link between two other members. That path is the
// floor of a single writer on an otherwise idle group; with two or more writers sending,
// their messages fill the sequence, the relayed legs can vanish, and each writer's floor is
// only its hand-off self-loop (galeraRound(w, w), the round trip to its farthest member), so
// the throughput bound sums T_w over those smaller floors to stay an upper bound.
func (m model) galera() (*Explanation, error) {
	floors := map[string]time.Duration{}
	paths := map[string]string{}
	learn := m.shortest()
	for _, w := range m.writers {
		var best time.Duration
		path := w
		for _, i := range m.in.Members {
			for _, j := range m.in.Members {
				// i fills its place once it has learnt seq s, by the fastest route (any
				// member's fill carries s onward); the fill itself and j's report travel
				// directly.
				d := learn[[2]string{w, i}] + m.ow(i, j) + m.ow(j, w)
				if d > best {
					best = d
					hop := "->"
					if learn[[2]string{w, i}] < m.ow(w, i) {
						hop = "~>" // relayed: s reaches i sooner through another member
					}
					path = strings.Join(compact([]string{w + hop + i, j, w}), "->")
					if i == w {
						path = strings.Join(compact([]string{w, j, w}), "->")
					}
				}
			}
		}
		floors[w] = best + m.in.SyncCost
		paths[w] = path
	}
	m.galeraHandoff()
	var why string
	if m.handoff != nil {
		// Several writers send: the others' messages fill the sequence, so a member's place
		// at s may be filled before it has seen w's write-set and the idle path above is no
		// longer a floor. What remains is the hand-off self-loop, the round trip to w's
		// farthest member; the throughput bound sums T_w over these floors.
		for _, w := range m.writers {
			far, d := w, time.Duration(0)
			for _, j := range m.in.Members {
				if r := m.rtt(w, j); r > d {
					far, d = j, r
				}
			}
			floors[w] = m.galeraRound(w, w) + m.in.SyncCost
			paths[w] = strings.Join(compact([]string{w, far, w}), "->")
		}
		w := slowest(m.writers, floors)
		why = fmt.Sprintf("model: Galera delivers a write-set only when every member has it and every member's aru has come back (EVS safe delivery), and with %d writers sending the others' messages fill the sequence numbers, so a commit from writer w can cost as little as the round trip to its farthest member, max over j of w->j->w (the slowest writer %s: %s = %s%s), and throughput is at most the sum over writers of T_w/floor_w with these floors.", len(m.writers), w, paths[w], fmtD(floors[w]-m.in.SyncCost), m.syncNote())
	} else {
		w := slowest(m.writers, floors)
		why = fmt.Sprintf("model: Galera delivers a write-set only when every member has it and every member's aru has come back (EVS safe delivery), so a commit from %s costs its longest path %s = %s%s", w, paths[w], fmtD(floors[w]-m.in.SyncCost), m.syncNote())
		if len(m.writers) > 1 {
			why += fmt.Sprintf(" (the slowest of %d writers)", len(m.writers))
		}
		why += "."
	}
	uwin, _, err := m.intParam("evs.user_send_window")
	if err != nil {
		return nil, err
	}
	swin, _, err := m.intParam("evs.send_window")
	if err != nil {
		return nil, err
	}
	if uwin < 1 || swin < 1 {
		return nil, fmt.Errorf("evs.user_send_window=%d, evs.send_window=%d: give windows of at least 1 message", uwin, swin)
	}
	cap, capWhy := 0, ""
	aggregate := boolParam(m.param("evs.use_aggregate"))
	if !aggregate {
		// Every message carries one write-set; a fresh one leaves while the node has fewer
		// than user_send_window unsafe messages, a queued one while it has fewer than
		// send_window, so at most the larger of the two are unsafe at once, each for at
		// least a floor.
		cap = int(max(uwin, swin))
		capWhy = fmt.Sprintf("evs.use_aggregate=OFF: each write-set is its own message and a node has at most max(evs.user_send_window=%d, evs.send_window=%d) = %d unsafe messages", uwin, swin, cap)
	}
	e := m.finish(floors, why, cap, capWhy)
	if aggregate && e.Bound.MaxTPS > 0 && e.Bound.Limit == "latency" {
		e.Throughput = strings.TrimSuffix(e.Throughput, ".") + m.galeraWindowNote(floors, uwin, swin)
	}
	return e, nil
}

// shortest is the least time for news to travel from a to b through any members (Floyd-
// Warshall over the one-way delays): on a network where a detour beats the direct link,
// a member learns a seq sooner from another member's fill than from the originator.
func (m model) shortest() map[[2]string]time.Duration {
	d := map[[2]string]time.Duration{}
	for _, a := range m.in.Members {
		for _, b := range m.in.Members {
			d[[2]string{a, b}] = m.ow(a, b)
		}
	}
	for _, k := range m.in.Members {
		for _, a := range m.in.Members {
			for _, b := range m.in.Members {
				if v := d[[2]string{a, k}] + d[[2]string{k, b}]; v < d[[2]string{a, b}] {
					d[[2]string{a, b}] = v
				}
			}
		}
	}
	return d
}

// galeraHandoff sets the hot-row hand-off times when more than one writer has threads.
// Member j's aru passes a write-set's seq s only once j holds the write-set itself and
// every member's place at s; with a single writer the other members fill their places only
// after they have seen s (hence the idle path w -> i -> j), but with several writers
// sending, another writer's concurrent message numbered s (every member numbers from its
// own last seq, so concurrent messages share seqs) already fills its place, and a member
// may learn s from it before the write-set arrives. What no traffic can shorten: every
// member j must receive the write-set from w and its aru report must reach the deliverer,
// so a write-set sent by w is delivered on w' no sooner than max over j of w -> j -> w'
// (for w' = w: the round trip to the farthest member). That is each hand-off's time, the
// writer's own included, plus the deliverer's local sync.
func (m *model) galeraHandoff() {
	tp := m.threadsPer()
	var active []string
	for _, w := range m.writers {
		if tp[w] > 0 {
			active = append(active, w)
		}
	}
	if len(active) < 2 {
		return
	}
	m.handoff = map[[2]string]time.Duration{}
	for _, a := range active {
		for _, b := range active {
			m.handoff[[2]string{a, b}] = m.galeraRound(a, b) + m.in.SyncCost
		}
	}
	m.handoffWhy = "with other writers sending, their messages fill the sequence, so a write-set from w is delivered on w' once it has reached every member j and j's aru has reached w': max over j of w->j->w'"
}

// galeraRound is the least time from writer a sending a write-set to writer b delivering
// it when other writers' traffic fills the sequence: every member j must receive it from a
// and j's aru report must reach b, max over j of a -> j -> b. For a == b it is the round
// trip to a's farthest member, the multi-writer commit floor.
func (m model) galeraRound(a, b string) time.Duration {
	var d time.Duration
	for _, j := range m.in.Members {
		d = max(d, m.ow(a, j)+m.ow(j, b))
	}
	return d
}

// galeraWindowNote says what the send windows do to a writer with more threads than
// evs.user_send_window. EVS sends a fresh write-set at once only while the node has fewer
// than user_send_window messages that are not yet safe and nothing queued; otherwise the
// write-set is queued, and queued write-sets leave, aggregated into one message, only when
// an incoming message or a safe-point advance steps the node and the node has fewer than
// send_window unsafe messages. A queue exists only while messages are unsafe, and the
// oldest of them becomes safe within one floor of the queueing, which also opens the send
// window, so a queued write-set waits at most one floor: its commit takes between one and
// two floors, and the writer's throughput lies between T/(2 floor) and T/floor. Which end
// it reaches depends on whether another incoming message happens to arrive right after a
// batch commits (then the batch waits one hop) or not (a whole floor): on an idle network
// the writer's batches alternate between the two, about 1.5 floors and two thirds of
// T/floor with the defaults. That phase is set by timing (CPU, jitter, other writers'
// traffic) that the model does not know, and the wait can be as short as one hop, so the
// bound stays T/floor: a true bound, with an efficiency of 50% to 100% expected from the
// window alone.
func (m model) galeraWindowNote(floors map[string]time.Duration, uwin, swin int64) string {
	tp := m.threadsPer()
	over := false
	for _, w := range m.writers {
		if int64(tp[w]) > uwin {
			over = true
		}
	}
	if !over {
		return fmt.Sprintf("; no writer has more than evs.user_send_window=%d threads, so every write-set leaves at once and the window does not bind.", uwin)
	}
	if len(m.writers) > 1 {
		// The window counts sequence numbers, and a node's fills occupy the seqs of the
		// other writers' messages, so their traffic fills its window too: no lower figure.
		return fmt.Sprintf("; with more threads than evs.user_send_window=%d on a writer, a write-set that finds the window full (other writers' messages count, since every node's fills occupy their seqs) is queued until the node's next incoming message or safe point and leaves aggregated within evs.send_window=%d, so commits take longer than a floor, but that wait can be as short as one hop, so this stays the bound.", uwin, swin)
	}
	w := m.writers[0]
	lo := float64(tp[w]) / (2 * floors[w].Seconds())
	return fmt.Sprintf("; with more than evs.user_send_window=%d threads, a write-set that finds the window full is queued until the writer's next incoming message or safe point (at most one floor later, when it leaves aggregated within evs.send_window=%d), so commits take between one and two floors and the window alone holds throughput between %s tps and this bound, which stays the bound because that wait can be as short as one hop.", uwin, swin, fmtTPS(lo))
}

// applier is one node's remote-apply capacity.
type applier struct {
	node  string
	delay time.Duration
	rate  float64 // remote write-sets per second
	how   string  // why that rate
}

// appliers returns the nodes with a replbench.apply_delay and what each can apply per
// second. The storage engine spends the delay in the commit step of a remote write-set,
// holding its locks (storage/apply.go), so where the protocol commits remote write-sets
// one at a time in order, more applier threads do not help: the node applies 1/delay.
func (m model) appliers() ([]applier, error) {
	var out []applier
	for _, n := range m.in.Members {
		v := m.nodeParam(n, applyDelayParam.Name)
		if v == "" {
			continue
		}
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			return nil, fmt.Errorf("parameter %s on %s: %q is not a non-negative duration (for example 2ms)", applyDelayParam.Name, n, v)
		}
		if d == 0 {
			continue
		}
		a := applier{node: n, delay: d, rate: 1 / d.Seconds()}
		switch m.proto {
		case "galera":
			order := m.nodeParam(n, "repl.commit_order")
			threads, err := strconv.ParseInt(m.nodeParam(n, "wsrep_slave_threads", "wsrep_applier_threads"), 10, 64)
			if err != nil || threads < 1 {
				return nil, fmt.Errorf("parameter wsrep_slave_threads on %s: %q is not a positive integer", n, m.nodeParam(n, "wsrep_slave_threads", "wsrep_applier_threads"))
			}
			if order == "2" || order == "3" {
				a.how = fmt.Sprintf("commits remote write-sets one at a time in seqno order (repl.commit_order=%s), %s each", order, fmtD(d))
			} else {
				a.rate = float64(threads) / d.Seconds()
				a.how = fmt.Sprintf("applies with %d threads out of order (repl.commit_order=%s), %s each", threads, order, fmtD(d))
			}
		case "semisync", "async":
			workers, err := strconv.ParseInt(m.nodeParam(n, "replica_parallel_workers", "slave_parallel_workers"), 10, 64)
			if err != nil || workers < 1 {
				workers = 1 // 0 applies in the coordinator, one at a time
			}
			if boolParam(m.nodeParam(n, "replica_preserve_commit_order", "slave_preserve_commit_order")) {
				a.how = fmt.Sprintf("commits in binlog order (replica_preserve_commit_order=ON), %s each", fmtD(d))
			} else {
				a.rate = float64(workers) / d.Seconds()
				a.how = fmt.Sprintf("applies with %d workers out of order, %s each", workers, fmtD(d))
			}
		default:
			a.how = fmt.Sprintf("commits remote transactions one at a time in order, %s each", fmtD(d))
		}
		out = append(out, a)
	}
	return out, nil
}

// applyCap lowers the throughput bound to the slowest applier's pace where flow control
// makes the writers wait for it. Galera: a node whose receive queue passes
// gcs.fc_limit*sqrt(N) sends STOP and every writer pauses, so the cluster runs at its
// slowest node's apply rate; a writer's own transactions need no remote apply there, so a
// node caps the others' share (its rate plus its own writers' bound). Group Replication:
// the quota loop holds writers to a lagging member's pace, but only once its queue passed
// group_replication_flow_control_applier_threshold (25000 by default) and a period went
// by, so the cap is counted only when Duration is known. Semi-sync and async: the source
// never waits for a replica's apply (the ack follows the relay-log write), so a slow
// replica lags instead and the bound is unchanged. The backlog a writer may run ahead by
// is added as backlog/Duration when Duration is known, so the cap stays a bound.
func (m model) applyCap(e *Explanation) error {
	as, err := m.appliers()
	if err != nil || len(as) == 0 {
		return err
	}
	b := e.Bound
	tp := m.threadsPer()
	// A node applies everything but its own writers' transactions, so the cluster commits
	// at most its rate plus what its own threads can commit; the node with the lowest such
	// figure binds (a writer with a slow applier may bind less than a slower-looking peer).
	capOf := func(a applier) float64 {
		c := a.rate
		if f, ok := e.PerWriterFloor[a.node]; ok && tp[a.node] > 0 {
			if f <= 0 {
				return math.Inf(1)
			}
			c += float64(tp[a.node]) / f.Seconds()
		}
		return c
	}
	slow := as[0]
	for _, a := range as {
		if capOf(a) < capOf(slow) {
			slow = a
		}
	}
	switch m.proto {
	case "semisync", "async":
		what := "the semi-sync ack follows the relay-log write, not the apply"
		if m.proto == "async" {
			what = "async commits without waiting for any replica"
		}
		e.Throughput = strings.TrimSuffix(e.Throughput, ".") + fmt.Sprintf("; the slow applier on %s (%s, at most %s tps) does not slow the source, because %s, so %s lags behind instead.", slow.node, slow.how, fmtTPS(slow.rate), what, slow.node)
		return nil
	case "standalone":
		return nil
	}
	var backlog float64
	var fcWhy string
	switch m.proto {
	case "galera":
		limit, _, err := m.intParam("gcs.fc_limit")
		if err != nil {
			return err
		}
		upper := float64(limit)
		if !boolParam(m.param("gcs.fc_master_slave")) {
			upper = math.Round(float64(limit) * math.Sqrt(float64(len(m.in.Members))))
		}
		backlog = upper + float64(m.in.Threads)
		fcWhy = fmt.Sprintf("Galera's flow control (a receive queue past %d write-sets sends STOP and every writer pauses) holds the cluster to it", int64(upper))
	case "group-replication":
		if strings.ToUpper(m.param("group_replication_flow_control_mode")) == "DISABLED" {
			e.Throughput = strings.TrimSuffix(e.Throughput, ".") + fmt.Sprintf("; the slow applier on %s (at most %s tps) does not slow the writers with group_replication_flow_control_mode=DISABLED, so it lags behind instead.", slow.node, fmtTPS(slow.rate))
			return nil
		}
		th, _, err := m.intParam("group_replication_flow_control_applier_threshold")
		if err != nil {
			return err
		}
		if m.in.Duration <= 0 {
			e.Throughput = strings.TrimSuffix(e.Throughput, ".") + fmt.Sprintf("; the slow applier on %s (%s) holds writers to at most %s tps once its queue passes group_replication_flow_control_applier_threshold=%d, which the model cannot place in time without the run's duration, so it is not counted.", slow.node, slow.how, fmtTPS(slow.rate), th)
			return nil
		}
		// Before the quota holds, the writers run free for up to the threshold and one
		// flow-control period (1 s) at the network bound.
		backlog = float64(th) + float64(m.in.Threads)
		if b.MaxTPS > 0 {
			backlog += b.MaxTPS
		}
		fcWhy = fmt.Sprintf("the flow-control quota holds the writers to the lagging member's pace once its applier queue passes %d", th)
	}
	limit := capOf(slow)
	if math.IsInf(limit, 1) {
		return nil
	}
	allowance := ""
	if m.in.Duration > 0 {
		limit += backlog / m.in.Duration.Seconds()
		allowance = fmt.Sprintf(" (plus a backlog of %d transactions the writers may run ahead by, over %s)", int64(backlog), m.in.Duration)
	}
	why := fmt.Sprintf("%s %s, so at most %s tps, and %s%s", slow.node, slow.how, fmtTPS(slow.rate), fcWhy, allowance)
	if b.MaxTPS > 0 && limit >= b.MaxTPS {
		e.Throughput = strings.TrimSuffix(e.Throughput, ".") + fmt.Sprintf("; the slowest applier does not bind: %s (%s tps).", why, fmtTPS(limit))
		return nil
	}
	b.MaxTPS = limit
	b.Limit = "apply"
	e.Throughput = fmt.Sprintf("model: the slowest applier binds: %s: %s tps.", why, fmtTPS(limit))
	b.Derivation = strings.TrimSuffix(b.Derivation, ".") + fmt.Sprintf("; throughput is capped at %s tps because %s.", fmtTPS(limit), why)
	return nil
}

// quorum returns the k-th smallest round trip from leader to the other members, k =
// floor(N/2): with the leader's own vote that is a majority.
func (m model) quorum(leader string) (time.Duration, string) {
	type peer struct {
		name string
		rtt  time.Duration
	}
	var ps []peer
	for _, n := range m.in.Members {
		if n != leader {
			ps = append(ps, peer{n, m.rtt(leader, n)})
		}
	}
	k := len(m.in.Members) / 2
	if k == 0 || len(ps) == 0 {
		return 0, "a one-member group is its own majority"
	}
	sort.SliceStable(ps, func(a, b int) bool { return ps[a].rtt < ps[b].rtt })
	p := ps[k-1]
	return p.rtt, fmt.Sprintf("the leader %s needs %d of %d members, so it waits for its %s peer %s (RTT %s)", leader, k+1, len(m.in.Members), nearest(k), p.name, fmtD(p.rtt))
}

// groupReplication: the model orders with raft, so the primary (kept on the raft leader)
// commits once its entry is at a majority: the RTT to the closest majority. A write on
// another member in multi-primary mode is forwarded to the leader and learns the commit
// from it. Consistency levels add what the real plugin adds: BEFORE an ordering round of its
// own, AFTER every member's prepare plus the ordering of the slowest member's message.
func (m model) groupReplication() (*Explanation, error) {
	leader := m.in.Leader
	if leader == "" {
		leader = m.in.Members[0]
	}
	if err := transport.CheckNode(leader, m.in.Members); err != nil {
		return nil, fmt.Errorf("leader: %w", err)
	}
	single := boolParam(m.param("group_replication_single_primary_mode"))
	if single {
		var bad []string
		for _, w := range m.writers {
			if w != leader {
				bad = append(bad, w)
			}
		}
		if len(bad) > 0 {
			return nil, fmt.Errorf("single-primary mode writes on the primary %s only; %s would be refused as read-only (write on %s, or set group_replication_single_primary_mode=OFF)", leader, strings.Join(bad, ","), leader)
		}
	}
	q, qWhy := m.quorum(leader)
	cons := strings.ToUpper(m.param("group_replication_consistency"))
	floors := map[string]time.Duration{}
	var slowestAfter time.Duration
	var afterNode string
	for _, n := range m.in.Members {
		if d := m.ow(leader, n) + m.ow(n, leader); d >= slowestAfter {
			slowestAfter, afterNode = d, n
		}
	}
	for _, w := range m.writers {
		order := m.ow(w, leader) + q + m.ow(leader, w)
		f := order
		if cons == "BEFORE" || cons == "BEFORE_AND_AFTER" {
			f += order
		}
		if cons == "AFTER" || cons == "BEFORE_AND_AFTER" {
			f += slowestAfter + q + m.ow(leader, w)
		}
		floors[w] = f + m.in.SyncCost
	}
	// Hand-offs of a hot row: a member applies a transaction once the leader's commit
	// index reaches it, which the leader sends with its next append as soon as a majority
	// holds the entry; so a modification sent by a reaches b after a -> leader, the
	// majority round trip and leader -> b (the leader itself learns it at the majority).
	m.handoff = map[[2]string]time.Duration{}
	for _, a := range m.writers {
		for _, b := range m.writers {
			if a != b {
				m.handoff[[2]string{a, b}] = m.ow(a, leader) + q + m.ow(leader, b) + m.in.SyncCost
			}
		}
	}
	m.handoffWhy = "a member applies a transaction once the raft commit index reaches it: a->leader, the majority round trip, leader->b"
	w := slowest(m.writers, floors)
	why := "model: Group Replication is modelled as raft majority: " + qWhy
	if w != leader {
		why += fmt.Sprintf(", and a write on %s is forwarded to the leader and learns the commit back (%s + %s, a hop XCom's own-slot proposals do not have)", w, fmtD(m.ow(w, leader)), fmtD(m.ow(leader, w)))
	}
	switch cons {
	case "BEFORE":
		why += ", and consistency BEFORE orders a sync message first (one more round)"
	case "AFTER":
		why += fmt.Sprintf(", and consistency AFTER waits for every member to prepare (the slowest, %s, %s there and back) and for that message's ordering", afterNode, fmtD(slowestAfter))
	case "BEFORE_AND_AFTER":
		why += fmt.Sprintf(", and consistency BEFORE_AND_AFTER adds a sync round and every member's prepare (slowest %s)", afterNode)
	}
	why += fmt.Sprintf(": floor %s%s.", fmtD(floors[w]-m.in.SyncCost), m.syncNote())
	return m.finish(floors, why, 0, ""), nil
}

// semisync: one source (the first member) waits, per binlog group, for acks from
// wait_for_slave_count replicas after their relay-log write: the RTT to the k-th fastest
// replica. Group commit lets all threads share that wait (T/floor); the serialised mode of
// 5.5/5.6 lets the whole source commit once per floor whatever the thread count.
func (m model) semisync() (*Explanation, error) {
	src := m.in.Members[0]
	if err := m.onlySource(src); err != nil {
		return nil, err
	}
	k, name, err := m.intParam("rpl_semi_sync_master_wait_for_slave_count", "rpl_semi_sync_source_wait_for_replica_count")
	if err != nil {
		return nil, err
	}
	var rtts []time.Duration
	var names []string
	for _, n := range m.in.Members[1:] {
		rtts = append(rtts, m.rtt(src, n))
		names = append(names, n)
	}
	if k < 1 || int(k) > len(rtts) {
		return nil, fmt.Errorf("%s=%d but the source %s has %d replicas: give 1..%d (with more, every commit would wait for the timeout and fall back to async)", name, k, src, len(rtts), len(rtts))
	}
	idx := make([]int, len(rtts))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return rtts[idx[a]] < rtts[idx[b]] })
	kth := idx[k-1]
	floor := rtts[kth] + m.in.SyncCost
	why := fmt.Sprintf("model: the semi-sync source %s waits for %s=%d replica ack(s) after the relay-log write, so for its %s replica %s: RTT %s%s.", src, name, k, nearest(int(k)), names[kth], fmtD(rtts[kth]), m.syncNote())
	floors := map[string]time.Duration{src: floor}
	if boolParam(m.param("semisync.serialized")) {
		e := m.finish(floors, why, 0, "")
		e.Bound.MaxTPS = 1 / floor.Seconds()
		e.Bound.Limit = "serialised"
		e.Throughput = fmt.Sprintf("model: semisync.serialized holds the binlog lock across the ack wait, so the whole source commits at most once per %s = %s tps whatever the %d threads.", fmtD(floor), fmtTPS(e.Bound.MaxTPS), m.in.Threads)
		if m.in.HotRows > 0 && float64(m.in.HotRows)*e.Bound.HotRowMaxTPS < e.Bound.MaxTPS {
			e.Bound.MaxTPS = float64(m.in.HotRows) * e.Bound.HotRowMaxTPS
			e.Bound.Limit = "hot_row"
		}
		return e, nil
	}
	e := m.finish(floors, why, 0, "")
	if e.Bound.Limit == "latency" {
		e.Throughput = strings.TrimSuffix(e.Throughput, ".") + " (group commit: the threads' commits share one ack wait per binlog group)."
	}
	return e, nil
}

func (m model) onlySource(src string) error {
	var bad []string
	for _, w := range m.writers {
		if w != src {
			bad = append(bad, w)
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("%s has one writable source, %s; %s would be refused as read-only replicas (write on %s)", m.proto, src, strings.Join(bad, ","), src)
	}
	return nil
}

// local: async and standalone commit without waiting for any other node, so the network
// sets no floor; only the local durable commit does.
func (m model) local() (*Explanation, error) {
	src := m.in.Members[0]
	if err := m.onlySource(src); err != nil {
		return nil, err
	}
	var why string
	if m.proto == "async" {
		why = "model: async replication commits without waiting for any replica, so the network sets no floor"
	} else {
		why = "model: a standalone node replicates nothing, so the network sets no floor"
	}
	if m.in.SyncCost > 0 {
		why += "; the floor is the local sync " + fmtD(m.in.SyncCost) + "."
	} else {
		why += "; the floor is the local commit cost, 0 in the model without a sync cost (--sync)."
	}
	return m.finish(map[string]time.Duration{src: m.in.SyncCost}, why, 0, ""), nil
}

func slowest(ws []string, f map[string]time.Duration) string {
	best := ws[0]
	for _, w := range ws {
		if f[w] > f[best] {
			best = w
		}
	}
	return best
}

// compact drops consecutive repeats from a path (w->w->j->w is w->j->w).
func compact(p []string) []string {
	out := p[:0:0]
	for _, n := range p {
		if len(out) == 0 || out[len(out)-1] != n {
			out = append(out, n)
		}
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

// nearest names the k-th closest peer in words ("nearest", "2nd nearest").
func nearest(k int) string {
	if k == 1 {
		return "nearest"
	}
	return ordinal(k) + " nearest"
}

func ordinal(k int) string {
	switch k {
	case 1:
		return "1st"
	case 2:
		return "2nd"
	case 3:
		return "3rd"
	}
	return strconv.Itoa(k) + "th"
}

// rowCycle returns the least average time between consecutive modifications of one hot
// row, and the writer cycle that reaches it. A row can pass from one writer to the next as
// soon as the next has delivered it: the next modification can start on writer b once b
// has committed the previous one from a, which for a != b may be sooner than a's own
// floor. A chain of modifications is a walk over the writers, so its rate is bounded by
// the cycle with the least mean hand-off time (a walk's mean is at least its cheapest
// cycle's). Only writers with threads take part. Without cross hand-offs it is the lowest
// floor, as before.
func (m model) rowCycle(floors map[string]time.Duration) (time.Duration, []string) {
	tp := m.threadsPer()
	var ws []string
	for _, w := range m.writers {
		if _, ok := floors[w]; ok && tp[w] > 0 {
			ws = append(ws, w)
		}
	}
	edge := func(a, b string) (time.Duration, bool) {
		if d, ok := m.handoff[[2]string{a, b}]; ok {
			return d, true
		}
		if a == b {
			return floors[a], true
		}
		return 0, false
	}
	best := time.Duration(math.MaxInt64)
	var cycle []string
	consider := func(sum time.Duration, path []string) {
		if mean := sum / time.Duration(len(path)); mean < best {
			best, cycle = mean, append(slices.Clone(path), path[0])
		}
	}
	if len(ws) > 9 {
		// Too many simple cycles to list; the cheapest single hand-off is still a bound,
		// since no cycle's mean is below its cheapest edge.
		for _, a := range ws {
			for _, b := range ws {
				if d, ok := edge(a, b); ok && d < best {
					best, cycle = d, []string{a, b}
				}
			}
		}
	} else {
		// Every simple cycle, listed once from its lowest-index writer.
		var walk func(start int, path []string, sum time.Duration, used []bool)
		walk = func(start int, path []string, sum time.Duration, used []bool) {
			last := path[len(path)-1]
			if d, ok := edge(last, ws[start]); ok {
				consider(sum+d, path)
			}
			for k := start + 1; k < len(ws); k++ {
				if used[k] {
					continue
				}
				if d, ok := edge(last, ws[k]); ok {
					used[k] = true
					walk(start, append(path, ws[k]), sum+d, used)
					used[k] = false
				}
			}
		}
		for s := range ws {
			walk(s, []string{ws[s]}, 0, make([]bool, len(ws)))
		}
	}
	if cycle == nil {
		return 0, nil
	}
	if len(cycle) == 2 && cycle[0] == cycle[1] {
		cycle = cycle[:1]
	}
	return best, cycle
}
