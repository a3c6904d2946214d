package law

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/replbench/replbench/protocols/transport"
)

const lan = transport.LANOneWay

func nw(t *testing.T, preset string, n int, mods ...func(*transport.Network)) (transport.Network, []string) {
	t.Helper()
	members := make([]string, n)
	for i := range members {
		members[i] = "n" + string(rune('1'+i))
	}
	net, err := transport.Preset(preset, members)
	if err != nil {
		t.Fatal(err)
	}
	net = net.Clone()
	for _, m := range mods {
		m(&net)
	}
	return net, members
}

func egress(node string, d time.Duration) func(*transport.Network) {
	return func(n *transport.Network) { n.SetEgress(node, d) }
}

func link(a, b string, d time.Duration) func(*transport.Network) {
	return func(n *transport.Network) { n.SetLinkBoth(a, b, d) }
}

func msOf(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b)) }

// Each case is keyed to a sentence of DESIGN.md, the research specs or the seeds; want is
// the commit floor and, where given, the throughput bound and what limits it.
func TestCompute(t *testing.T) {
	ms := time.Millisecond
	cases := []struct {
		sentence string
		proto    string
		preset   string
		nodes    int
		mods     []func(*transport.Network)
		writers  []string
		threads  int
		hotRows  int
		params   map[string]string
		floor    time.Duration
		maxTPS   float64 // 0: not checked
		limit    string  // "": not checked
	}{
		{sentence: "Galera: a commit costs the longest path originator -> i -> j -> originator; on the LAN that is three one-way hops",
			proto: "galera", preset: "lan", nodes: 3, threads: 1, floor: 3 * lan, maxTPS: 1 / (3 * lan).Seconds(), limit: "latency"},
		{sentence: "Galera: a commit costs at least one RTT to the farthest member",
			proto: "galera", preset: "lan", nodes: 3, mods: []func(*transport.Network){link("n1", "n3", 10*ms)}, threads: 1,
			floor: 2 * (10*ms + lan)},
		{sentence: "a slow link between two other members slows a Galera commit by that one-way delay",
			proto: "galera", preset: "lan", nodes: 3, mods: []func(*transport.Network){link("n2", "n3", 30*ms)}, threads: 1,
			floor: 3*lan + 30*ms},
		{sentence: "Galera is as slow as its slowest node, regardless of where the commit comes from (delay on n2, writer n1)",
			proto: "galera", preset: "lan", nodes: 3, mods: []func(*transport.Network){egress("n2", 50*ms)}, writers: []string{"n1"}, threads: 1,
			floor: 3*lan + 50*ms},
		{sentence: "Galera is as slow as its slowest node, regardless of where the commit comes from (delay on n2, writer n3)",
			proto: "galera", preset: "lan", nodes: 3, mods: []func(*transport.Network){egress("n2", 50*ms)}, writers: []string{"n3"}, threads: 1,
			floor: 3*lan + 50*ms},
		{sentence: "wan-50 (netem 50 ms on n1, the writer): Galera pays the delay once on the way out; 8 threads over evs.user_send_window=2 on the far writer with no commit-path time split into two batches that each wait half a round trip R more: 1.5 R per commit (galeraWindowCycle)",
			proto: "galera", preset: "wan-50", nodes: 3, threads: 8, floor: 3*lan + 50*ms, maxTPS: 8 / (3 * (2*lan + 50*ms) / 2).Seconds()},
		{sentence: "throughput for T threads on non-conflicting rows is T/floor per writer, summed over writers (3 threads over 2 writers: 2 + 1)",
			proto: "galera", preset: "lan", nodes: 3, mods: []func(*transport.Network){link("n1", "n2", 10*ms)}, writers: []string{"n1", "n3"}, threads: 3,
			// With two writers sending, each writer's floor is the round trip to its farthest
			// member: n1's is n2 across the slow link both ways, 2(10 ms + lan); n3's farthest
			// is a LAN hop away, 2 lan, which is also the floor reported (the lower).
			floor: 2 * lan, maxTPS: 2/(20*ms+2*lan).Seconds() + 1/(2*lan).Seconds()},
		{sentence: "without aggregation a fresh write-set leaves within evs.user_send_window and a queued one within evs.send_window, so max(2, 4) write-sets are unsafe at once",
			proto: "galera", preset: "wan-50", nodes: 3, threads: 8, params: map[string]string{"evs.use_aggregate": "OFF"},
			floor: 3*lan + 50*ms, maxTPS: 4 / (3*lan + 50*ms).Seconds(), limit: "send_window"},
		{sentence: "without aggregation the send window binds when it is raised (Galera refuses a user window above it, so the larger one is always the send window)",
			proto: "galera", preset: "wan-50", nodes: 3, threads: 8, params: map[string]string{"evs.use_aggregate": "OFF", "evs.user_send_window": "3", "evs.send_window": "6"},
			floor: 3*lan + 50*ms, maxTPS: 6 / (3*lan + 50*ms).Seconds(), limit: "send_window"},
		{sentence: "a given row can't be modified more than once per RTT (one hot row, eight threads)",
			proto: "galera", preset: "wan-50", nodes: 3, threads: 8, hotRows: 1,
			floor: 3*lan + 50*ms, maxTPS: 1 / (3*lan + 50*ms).Seconds(), limit: "hot_row"},
		{sentence: "a row can pass from one writer to the next as soon as the next has delivered it: one writer on 3az keeps its floor n1->n2->n3->n1",
			proto: "galera", preset: "3az", nodes: 3, writers: []string{"n1"}, threads: 3, hotRows: 1,
			floor: 1875 * time.Microsecond, maxTPS: 1 / (1875 * time.Microsecond).Seconds(), limit: "hot_row"},
		{sentence: "a row can pass from one writer to the next as soon as the next has delivered it: writers n1,n2,n3 on 3az hand it over n1->n3->n1, max over j of n1->j->n3 = 0.525+0.625 ms each way",
			proto: "galera", preset: "3az", nodes: 3, writers: []string{"n1", "n2", "n3"}, threads: 3, hotRows: 1,
			// Floors with three writers: n1 max(1.05, 1.45), n2 max(1.05, 1.25), n3 max(1.45, 1.25)
			// ms round trips; the lowest, n2's 1.25 ms, is reported.
			floor: 1250 * time.Microsecond, maxTPS: 1 / (1150 * time.Microsecond).Seconds(), limit: "hot_row"},
		{sentence: "a row can pass from one writer to the next as soon as the next has delivered it: on 3dc writers n2,n3 hand it over through n1, 35+38 ms each way",
			proto: "galera", preset: "3dc", nodes: 3, writers: []string{"n2", "n3"}, threads: 2, hotRows: 1,
			// Floors with two writers: the round trip n2<->n3 (62 ms + lan each way) is the
			// farthest for both, 124 ms + 2 lan.
			floor: 124*ms + 2*lan, maxTPS: 1 / (73*ms + 2*lan).Seconds(), limit: "hot_row"},
		{sentence: "a row can pass from one writer to the next as soon as the next has delivered it: GR followers learn it at the leader's next append, so a far follower gains nothing from handing it to a near one",
			proto: "group-replication", preset: "lan", nodes: 3, mods: []func(*transport.Network){link("n1", "n2", 10*ms)}, writers: []string{"n2", "n3"}, threads: 8, hotRows: 1,
			params: map[string]string{"group_replication_single_primary_mode": "OFF"},
			floor:  4 * lan, maxTPS: 1 / (4 * lan).Seconds(), limit: "hot_row"},
		{sentence: "GR with one slow member of three commits at the RTT to the fast one",
			proto: "group-replication", preset: "lan", nodes: 3, mods: []func(*transport.Network){egress("n3", 50*ms)}, threads: 1,
			floor: 2 * lan},
		{sentence: "GR with the delay on the primary pays one RTT to the closest majority (the published GR column)",
			proto: "gr", preset: "wan-50", nodes: 3, threads: 1, floor: 2*lan + 50*ms},
		{sentence: "GR: the floor is the RTT to the closest majority, the floor(N/2)-th smallest RTT (5 nodes: the 2nd nearest)",
			proto: "group-replication", preset: "lan", nodes: 5,
			mods:    []func(*transport.Network){link("n1", "n2", 1*ms), link("n1", "n3", 2*ms), link("n1", "n4", 3*ms), link("n1", "n5", 4*ms)},
			threads: 1, floor: 2 * (2*ms + lan)},
		{sentence: "a write on a non-leader member in multi-primary adds the forwarding hop and the commit reaching the writer",
			proto: "group-replication", preset: "lan", nodes: 3, mods: []func(*transport.Network){link("n1", "n2", 10*ms)}, writers: []string{"n2"}, threads: 1,
			params: map[string]string{"group_replication_single_primary_mode": "OFF"},
			floor:  (10*ms + lan) + 2*lan + (10*ms + lan)},
		{sentence: "consistency BEFORE adds one ordering round (X + D, D = 0 in the model)",
			proto: "group-replication", preset: "wan-50", nodes: 3, threads: 1, params: map[string]string{"group_replication_consistency": "BEFORE"},
			floor: 2 * (2*lan + 50*ms)},
		{sentence: "consistency AFTER adds the slowest member's prepare and its ordering (A_max + X)",
			proto: "group-replication", preset: "lan", nodes: 3, mods: []func(*transport.Network){egress("n3", 50*ms)}, threads: 1,
			params: map[string]string{"group_replication_consistency": "AFTER"},
			floor:  2*lan + (lan + 50*ms + lan) + 2*lan + 0},
		{sentence: "semi-sync waits for the RTT to its nearest replica with the default wait count 1",
			proto: "semisync", preset: "lan", nodes: 3, mods: []func(*transport.Network){link("n1", "n3", 20*ms)}, threads: 1,
			floor: 2 * lan},
		{sentence: "semi-sync with wait count 2 waits for the slower replica",
			proto: "semisync", preset: "lan", nodes: 3, mods: []func(*transport.Network){link("n1", "n3", 20*ms)}, threads: 1,
			params: map[string]string{"rpl_semi_sync_master_wait_for_slave_count": "2"},
			floor:  2 * (20*ms + lan)},
		{sentence: "semi-sync group commit: T threads share one ack wait, T/floor",
			proto: "semisync", preset: "wan-50", nodes: 3, threads: 16,
			floor: 2*lan + 50*ms, maxTPS: 16 / (2*lan + 50*ms).Seconds(), limit: "latency"},
		{sentence: "serialised semi-sync: you can't commit (at all) more than once per RTT, whatever the threads",
			proto: "semisync", preset: "wan-50", nodes: 3, threads: 16, params: map[string]string{"semisync.serialized": "true"},
			floor: 2*lan + 50*ms, maxTPS: 1 / (2*lan + 50*ms).Seconds(), limit: "serialised"},
		{sentence: "async: no network floor",
			proto: "async", preset: "wan-100", nodes: 3, threads: 4, floor: 0, limit: "none"},
		{sentence: "standalone: the sync cost only",
			proto: "standalone", preset: "lan", nodes: 1, threads: 4, floor: 0, limit: "none"},
	}
	for _, c := range cases {
		t.Run(c.sentence, func(t *testing.T) {
			net, members := nw(t, c.preset, c.nodes, c.mods...)
			b, err := Compute(Input{Network: net, Members: members, Protocol: c.proto, Nodes: resolved(t, c.proto, members, c.params, nil),
				Writers: c.writers, Threads: c.threads, HotRows: c.hotRows})
			if err != nil {
				t.Fatal(err)
			}
			if !near(b.CommitFloorMs, msOf(c.floor)) {
				t.Errorf("floor %v ms, want %v ms (%s)", b.CommitFloorMs, msOf(c.floor), b.Derivation)
			}
			if c.maxTPS != 0 && !near(b.MaxTPS, c.maxTPS) {
				t.Errorf("max tps %v, want %v", b.MaxTPS, c.maxTPS)
			}
			if c.limit != "" && b.Limit != c.limit {
				t.Errorf("limit %q, want %q", b.Limit, c.limit)
			}
			if !strings.HasPrefix(b.Derivation, "model:") || strings.Count(b.Derivation, ". ") > 0 {
				t.Errorf("derivation must be one sentence labelled as a model: %q", b.Derivation)
			}
			if math.IsInf(b.MaxTPS, 0) || math.IsNaN(b.MaxTPS) || math.IsInf(b.HotRowMaxTPS, 0) {
				t.Errorf("bound not finite: %+v", b)
			}
		})
	}
}

// The placement difference the documents explain: with the delay on a non-writer, Galera
// (all members) still pays it and GR (majority) does not.
func TestMajorityVersusAll(t *testing.T) {
	net, members := nw(t, "lan", 3, egress("n2", 100*time.Millisecond))
	g, err := Compute(Input{Network: net, Members: members, Protocol: "galera", Nodes: resolved(t, "galera", members, nil, nil), Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	r, err := Compute(Input{Network: net, Members: members, Protocol: "gr", Nodes: resolved(t, "gr", members, nil, nil), Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	if g.CommitFloorMs < 100 || r.CommitFloorMs > 1 {
		t.Fatalf("galera %v ms (want >= 100), gr %v ms (want LAN)", g.CommitFloorMs, r.CommitFloorMs)
	}
}

func TestSyncCostAddsToEveryFloor(t *testing.T) {
	net, members := nw(t, "lan", 3)
	for _, p := range []string{"galera", "group-replication", "semisync", "async"} {
		without, err := Compute(Input{Network: net, Members: members, Protocol: p, Nodes: resolved(t, p, members, nil, nil), Threads: 2})
		if err != nil {
			t.Fatal(err)
		}
		with, err := Compute(Input{Network: net, Members: members, Protocol: p, Nodes: resolved(t, p, members, nil, nil), Threads: 2, SyncCost: time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		if !near(with.CommitFloorMs-without.CommitFloorMs, 1) {
			t.Errorf("%s: sync 1 ms moved the floor by %v ms", p, with.CommitFloorMs-without.CommitFloorMs)
		}
		if !near(with.MaxTPS, 2/(with.CommitFloorMs/1000)) {
			t.Errorf("%s: max tps %v with floor %v ms and 2 threads", p, with.MaxTPS, with.CommitFloorMs)
		}
	}
}

func TestComputeErrors(t *testing.T) {
	net, members := nw(t, "lan", 3)
	cases := []struct {
		name string
		in   Input
		want string
	}{
		{"unknown protocol", Input{Network: net, Members: members, Protocol: "paxos", Threads: 1}, "accepted: galera"},
		{"no threads", Input{Network: net, Members: members, Protocol: "galera"}, "at least 1"},
		{"writer not a member", Input{Network: net, Members: members, Protocol: "galera", Threads: 1, Writers: []string{"n7"}}, "unknown node n7"},
		{"single-primary secondary", Input{Network: net, Members: members, Protocol: "gr", Threads: 1, Writers: []string{"n2"}}, "group_replication_single_primary_mode=OFF"},
		{"semisync wait count above replicas", Input{Network: net, Members: members, Protocol: "semisync", Threads: 1,
			Nodes: resolved(t, "semisync", members, map[string]string{"rpl_semi_sync_master_wait_for_slave_count": "3"}, nil)}, "give 1..2"},
		{"semisync replica writer", Input{Network: net, Members: members, Protocol: "semisync", Threads: 1, Writers: []string{"n3"}}, "read-only"},
		{"no members", Input{Network: net, Protocol: "galera", Threads: 1}, "no members"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Compute(c.in)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err %v, want it to contain %q", err, c.want)
			}
		})
	}
}

func containsAll(s string, subs ...string) bool {
	for _, x := range subs {
		if !strings.Contains(s, x) {
			return false
		}
	}
	return true
}
