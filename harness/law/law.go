// Package law computes Callaghan's-law bounds: from the emulated network's one-way delays,
// a protocol's commit mechanism, its parameters and where clients write, the lowest commit
// latency any implementation of that mechanism could reach, and what that floor implies for
// throughput at a thread count and for a hot row ("a given row can't be modified more than
// once per commit round trip").
//
// The bounds are a model, derived from each protocol's mechanism and never fitted to a
// measurement: they ignore CPU, storage, queueing and jitter (jitter only adds delay), so a
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
	},
	"group-replication": {
		{Name: "group_replication_single_primary_mode", Default: "ON", Help: "writes only on the primary"},
		{Name: "group_replication_consistency", Default: "EVENTUAL",
			Choices: []string{"EVENTUAL", "BEFORE_ON_PRIMARY_FAILOVER", "BEFORE", "AFTER", "BEFORE_AND_AFTER"},
			Help:    "BEFORE adds an ordering round, AFTER the slowest member's prepare and its ordering"},
	},
	"semisync": {
		{Name: "rpl_semi_sync_master_wait_for_slave_count", Default: "1", Help: "replica acks a commit waits for"},
		{Name: "semisync.serialized", Default: "false", Help: "the 5.5/5.6 behaviour: one commit per round trip for the whole source"},
	},
}

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
	m := model{in: in, writers: writers, proto: proto}
	switch proto {
	case "galera":
		return m.galera()
	case "group-replication":
		return m.groupReplication()
	case "semisync":
		return m.semisync()
	default:
		return m.local()
	}
}

type model struct {
	in      Input
	writers []string
	proto   string
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
// hot rows at one modification per floor.
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
	b.HotRowMaxTPS = 1 / lo.Seconds()
	e.HotRow = fmt.Sprintf("model: a row can change at most once per commit floor, 1/%s = %s modifications/s per row", fmtD(lo), fmtTPS(b.HotRowMaxTPS))
	if m.in.HotRows > 0 {
		hot := float64(m.in.HotRows) * b.HotRowMaxTPS
		e.HotRow += fmt.Sprintf("; with %d hot rows at most %s tps", m.in.HotRows, fmtTPS(hot))
		if hot < b.MaxTPS {
			b.MaxTPS = hot
			b.Limit = "hot_row"
			e.Throughput = fmt.Sprintf("model: every transaction modifies one of %d hot rows, each at most once per %s, so at most %s tps (the %d threads alone would allow more).", m.in.HotRows, fmtD(lo), fmtTPS(hot), m.in.Threads)
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
// farthest member and also counts a slow link between two other members.
func (m model) galera() (*Explanation, error) {
	floors := map[string]time.Duration{}
	paths := map[string]string{}
	for _, w := range m.writers {
		var best time.Duration
		path := w
		for _, i := range m.in.Members {
			for _, j := range m.in.Members {
				d := m.ow(w, i) + m.ow(i, j) + m.ow(j, w)
				if d > best {
					best = d
					path = strings.Join(compact([]string{w, i, j, w}), "->")
				}
			}
		}
		floors[w] = best + m.in.SyncCost
		paths[w] = path
	}
	w := slowest(m.writers, floors)
	why := fmt.Sprintf("model: Galera delivers a write-set only when every member has it and every member's aru has come back (EVS safe delivery), so a commit from %s costs its longest path %s = %s%s", w, paths[w], fmtD(floors[w]-m.in.SyncCost), m.syncNote())
	if len(m.writers) > 1 {
		why += fmt.Sprintf(" (the slowest of %d writers)", len(m.writers))
	}
	why += "."
	cap, capWhy := 0, ""
	win, _, err := m.intParam("evs.user_send_window")
	if err != nil {
		return nil, err
	}
	if !boolParam(m.param("evs.use_aggregate")) {
		cap = int(win)
		capWhy = fmt.Sprintf("evs.use_aggregate=OFF: each write-set is its own message and evs.user_send_window=%d limits a node to %d in flight", win, win)
	}
	e := m.finish(floors, why, cap, capWhy)
	if cap == 0 && e.Bound.MaxTPS > 0 {
		e.Throughput = strings.TrimSuffix(e.Throughput, ".") + fmt.Sprintf("; the send window (evs.user_send_window=%d messages) does not bind because queued write-sets are aggregated into one message.", win)
	}
	return e, nil
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
