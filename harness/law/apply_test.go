package law

import (
	"strings"
	"testing"
	"time"
)

// A slow applier caps throughput where flow control makes writers wait for it. The review's
// measurements (run slow-node-flow-control, galera on lan, 16 threads on n1) must sit at or
// below the bound: 17,922 tps with no delay, 822 with n3:replbench.apply_delay=1ms, 191
// with 5ms.
func TestApplyCap(t *testing.T) {
	n3 := func(kv ...string) map[string]map[string]string {
		p := map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			p[kv[i]] = kv[i+1]
		}
		return map[string]map[string]string{"n3": p}
	}
	cases := []struct {
		sentence string
		proto    string
		params   map[string]string
		node     map[string]map[string]string
		writers  []string
		threads  int
		duration time.Duration
		measured float64 // 0: none; else must be <= the bound
		maxTPS   float64 // 0: not checked
		limit    string
		says     []string // in the throughput derivation
	}{
		{sentence: "no apply delay: the network bound stands", proto: "galera", threads: 16, measured: 17922,
			maxTPS: 16 / (3 * lan).Seconds(), limit: "latency"},
		{sentence: "Galera is as slow as its slowest node: n3 commits one write-set per 1 ms in seqno order", proto: "galera", threads: 16,
			node: n3("replbench.apply_delay", "1ms"), measured: 822, maxTPS: 1000, limit: "apply", says: []string{"n3", "1 ms each", "STOP"}},
		{sentence: "5 ms per write-set on n3: 200 tps for the whole cluster", proto: "galera", threads: 16,
			node: n3("replbench.apply_delay", "5ms"), measured: 191, maxTPS: 200, limit: "apply"},
		{sentence: "with the run's duration the flow-control backlog (28 = round(16 sqrt 3) plus the 16 in flight) is allowed for", proto: "galera", threads: 16,
			node: n3("replbench.apply_delay", "5ms"), duration: 10 * time.Second, maxTPS: 200 + float64(28+16)/10, limit: "apply"},
		{sentence: "more applier threads do not help while commits are in seqno order", proto: "galera", threads: 16,
			node: n3("replbench.apply_delay", "1ms", "wsrep_slave_threads", "8"), maxTPS: 1000, limit: "apply"},
		{sentence: "out-of-order commit lets the applier threads overlap", proto: "galera", threads: 16,
			node: n3("replbench.apply_delay", "1ms", "wsrep_applier_threads", "8", "repl.commit_order", "1"), maxTPS: 8000, limit: "apply"},
		{sentence: "the slowest of several slow nodes binds", proto: "galera", threads: 16,
			node: map[string]map[string]string{"n2": {"replbench.apply_delay": "2ms"}, "n3": {"replbench.apply_delay": "1ms"}}, maxTPS: 500, limit: "apply", says: []string{"n2"}},
		{sentence: "a delay set for every node binds at a non-writer, not at the writer, which applies nothing", proto: "galera", threads: 16,
			params: map[string]string{"replbench.apply_delay": "1ms"}, maxTPS: 1000, limit: "apply", says: []string{"n2"}},
		{sentence: "a slow node that also writes caps only the others' transactions", proto: "galera", threads: 3, writers: []string{"n1", "n3"},
			// n3 applies n1's write-sets at 100 tps and commits its own one thread at its
			// multi-writer floor, the LAN round trip 2 lan.
			node: n3("replbench.apply_delay", "10ms"), maxTPS: 100 + 1/(2*lan).Seconds(), limit: "apply"},
		{sentence: "GR: the quota holds writers only after the applier threshold, so without a duration nothing is capped", proto: "gr", threads: 16,
			node: n3("replbench.apply_delay", "5ms"), maxTPS: 16 / (2 * lan).Seconds(), limit: "latency", says: []string{"not counted"}},
		{sentence: "GR with the run's duration: the quota rule never holds writers below its minimum, 5% of the lower threshold (1250 a period) less hold_percent, so a 200 tps lagger lets them run at 1125 tps, plus the threshold and one period at the network bound",
			proto: "gr", threads: 16, node: n3("replbench.apply_delay", "5ms"), duration: 100 * time.Second,
			maxTPS: 1125 + (25000+16+16/(2*lan).Seconds())/100, limit: "apply", says: []string{"quota rule's minimum, 1125 tps"}},
		{sentence: "GR: a lagger faster than the quota's minimum holds the writers to its own pace (the held quota, 90% of it, is below it)",
			proto: "gr", threads: 16, node: n3("replbench.apply_delay", "500us"), duration: 100 * time.Second,
			maxTPS: 2000 + (25000+16+16/(2*lan).Seconds())/100, limit: "apply", says: []string{"lagging member's pace"}},
		{sentence: "GR: group_replication_flow_control_min_quota raises that minimum: 5000 a period, less 10%, over the one writer",
			proto: "gr", threads: 16, node: n3("replbench.apply_delay", "500us"), params: map[string]string{"group_replication_flow_control_min_quota": "5000"},
			duration: 100 * time.Second, maxTPS: 4500 + (25000+16+16/(2*lan).Seconds())/100, limit: "apply"},
		{sentence: "GR: a longer flow-control period lets the writers run free for longer before the quota holds",
			proto: "gr", threads: 16, node: n3("replbench.apply_delay", "500us"), params: map[string]string{"group_replication_flow_control_period": "2"},
			duration: 100 * time.Second, maxTPS: 2000 + (25000+16+2*16/(2*lan).Seconds())/100, limit: "apply"},
		{sentence: "semi-sync: a slow replica does not throttle the source, it lags", proto: "semisync", threads: 16,
			node: n3("replbench.apply_delay", "5ms"), maxTPS: 16 / (2 * lan).Seconds(), limit: "latency", says: []string{"lags behind", "relay-log"}},
		{sentence: "async: a slow replica lags", proto: "async", threads: 16,
			node: n3("replbench.apply_delay", "5ms"), limit: "none", says: []string{"lags behind"}},
	}
	for _, c := range cases {
		t.Run(c.sentence, func(t *testing.T) {
			net, members := nw(t, "lan", 3)
			e, err := Explain(Input{Network: net, Members: members, Protocol: c.proto, Nodes: resolved(t, c.proto, members, c.params, c.node),
				Writers: c.writers, Threads: c.threads, Duration: c.duration})
			if err != nil {
				t.Fatal(err)
			}
			b := e.Bound
			if c.maxTPS != 0 && !near(b.MaxTPS, c.maxTPS) {
				t.Errorf("max tps %v, want %v (%s)", b.MaxTPS, c.maxTPS, e.Throughput)
			}
			if b.Limit != c.limit {
				t.Errorf("limit %q, want %q", b.Limit, c.limit)
			}
			if c.measured > 0 && c.measured > b.MaxTPS {
				t.Errorf("measured %v tps above the bound %v", c.measured, b.MaxTPS)
			}
			if !containsAll(e.Throughput, c.says...) {
				t.Errorf("throughput derivation lacks %q: %s", c.says, e.Throughput)
			}
			if b.Limit == "apply" && (!strings.Contains(b.Derivation, "capped at") || strings.Count(b.Derivation, ". ") > 0) {
				t.Errorf("derivation must say, in one sentence, which node caps throughput: %q", b.Derivation)
			}
		})
	}
}

// Inputs the law cannot model are refused with the reason: settings of another protocol
// than the one asked, a configuration count that does not match the members, a negative
// apply delay.
func TestInputErrors(t *testing.T) {
	net, members := nw(t, "lan", 3)
	semi := resolved(t, "semisync", members, nil, nil)
	slow := resolved(t, "galera", members, nil, nil)
	slow[2].Engine.ApplyDelay = -time.Millisecond
	for _, c := range []struct {
		name  string
		nodes []Node
		want  string
	}{
		{"another protocol's settings", semi, "the settings of n1 are *semisync.Settings, not galera's"},
		{"one configuration short", semi[:2], "2 node configurations for 3 members"},
		{"negative apply delay", slow, "apply delay on n3: -1ms is negative"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Compute(Input{Network: net, Members: members, Protocol: "galera", Threads: 1, Nodes: c.nodes})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err %v, want %q", err, c.want)
			}
		})
	}
}
