package harness

import (
	"context"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/replbench/replbench/galera"
	"github.com/replbench/replbench/harness/law"
)

// lan is the lan preset's one-way delay between any two nodes.
const lan = 25 * time.Microsecond

// boundPoint resolves a one-point scenario exactly as `replbench run` does and returns the
// point, with the bound's input.
func boundPoint(t *testing.T, s *Scenario) (*PointSpec, law.Input) {
	t.Helper()
	if s.Workload.Name == "" {
		s.Workload.Name = "insert"
	}
	if s.Queries == 0 && s.Duration == 0 {
		s.Queries = 1
	}
	pts, err := Expand(s)
	if err != nil {
		t.Fatal(err)
	}
	if len(pts) != 1 {
		t.Fatalf("%d points, want 1", len(pts))
	}
	return &pts[0], LawInput(&pts[0], 0)
}

func nearly(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b)) }

// Galera's flow-control limit, as the bound counts it, is the one the running provider
// enforces, for every parameter that moves it: gcs.fc_limit, gcs.fc_single_primary and its
// old name gcs.fc_master_slave (which the bound once read under a name the provider did
// not define, so that its single-primary branch never ran). The cluster is started for
// real and its slow node asked for its limits; the bound, from the same point, must count
// the same backlog: a slow n3 (5 ms a write-set, 200 tps) over a 10 s phase allows 200 +
// (upper + 16 in flight)/10 s.
func TestBoundAgreesWithGaleraFlowControl(t *testing.T) {
	for _, params := range []map[string]string{
		nil,
		{"gcs.fc_limit": "32"},
		{"gcs.fc_single_primary": "true"},
		{"gcs.fc_master_slave": "ON"},
		{"gcs.fc_limit": "40", "gcs.fc_single_primary": "1"},
	} {
		t.Run(strings.Join(mapPairs(params), ","), func(t *testing.T) {
			all := map[string]string{"n3:replbench.apply_delay": "5ms"}
			for k, v := range params {
				all[k] = v
			}
			ps, in := boundPoint(t, &Scenario{Protocol: "galera", Threads: IntList{16}, Params: all, Duration: Duration(10 * time.Second)})
			c, err := startCluster(context.Background(), ps, clusterConfig{bus: BusConfig{Kind: "memory"}, seed: 1}, func(string) {})
			if err != nil {
				t.Fatal(err)
			}
			_, upper := c.providers[2].(*galera.Provider).FCLimits()
			if err := c.close(); err != nil {
				t.Fatal(err)
			}
			b, err := law.Compute(in)
			if err != nil {
				t.Fatal(err)
			}
			want := 200 + float64(upper+16)/10
			if b.Limit != "apply" || !nearly(b.MaxTPS, want) {
				t.Fatalf("bound %v tps (%s), want %v from the provider's upper limit %d: %s", b.MaxTPS, b.Limit, want, upper, b.Derivation)
			}
		})
	}
}

func mapPairs(m map[string]string) []string {
	var out []string
	for _, k := range sortedKeys(m) {
		out = append(out, k+"="+m[k])
	}
	if len(out) == 0 {
		return []string{"defaults"}
	}
	return out
}

// Every other parameter that changes a bound reaches it through the one resolution: set on
// the command line (here: in the scenario, as a flag would; under an alias where MySQL has
// one), the bound moves from its value without the parameter to the figure the mechanism
// gives for the value. A parameter the bound read under its own name, or not at all, would
// leave the figure where it was. (replica_parallel_workers and
// replica_preserve_commit_order change no figure: a slow replica lags, the source does not
// wait; wsrep_slave_threads alone neither, while commits are in seqno order.)
func TestBoundReadsEveryParameterThatChangesIt(t *testing.T) {
	floor3 := 3 * lan // Galera's idle path n1->n2->n3->n1 on the LAN
	rtt := 2 * lan
	net := 16 / (2 * lan).Seconds() // GR's network bound for 16 threads on the LAN
	fig := func(b *lawFigures) float64 { return b.maxTPS }
	floor := func(b *lawFigures) float64 { return b.floorMs }
	for _, c := range []struct {
		name   string
		key    string // the parameter under test; the others set the scene
		s      Scenario
		params map[string]string
		read   func(*lawFigures) float64
		want   float64
	}{
		{"galera evs.use_aggregate=OFF: the send window caps a writer", "evs.use_aggregate", Scenario{Protocol: "galera", Threads: IntList{16}},
			map[string]string{"evs.use_aggregate": "OFF", "replbench.cost_profile": "none"}, fig, 4 / floor3.Seconds()},
		{"galera evs.send_window with aggregation off", "evs.send_window", Scenario{Protocol: "galera", Threads: IntList{16}},
			map[string]string{"evs.use_aggregate": "OFF", "evs.send_window": "8", "replbench.cost_profile": "none"}, fig, 8 / floor3.Seconds()},
		{"galera repl.commit_order=1 lets wsrep_slave_threads apply in parallel", "repl.commit_order", Scenario{Protocol: "galera", Threads: IntList{16}},
			map[string]string{"n3:replbench.apply_delay": "1ms", "repl.commit_order": "1", "wsrep_slave_threads": "8"}, fig, 8000},
		{"galera replbench.apply_delay on one node", "n2:replbench.apply_delay", Scenario{Protocol: "galera", Threads: IntList{16}},
			map[string]string{"n2:replbench.apply_delay": "2ms"}, fig, 500},
		{"gr group_replication_consistency=BEFORE orders a sync message first", "group_replication_consistency", Scenario{Protocol: "gr", Threads: IntList{16}},
			map[string]string{"replbench.cost_profile": "none", "group_replication_consistency": "BEFORE"}, floor, ms(2 * rtt)},
		{"gr group_replication_consistency=AFTER waits for every member's prepare", "group_replication_consistency", Scenario{Protocol: "gr", Threads: IntList{16}},
			map[string]string{"replbench.cost_profile": "none", "group_replication_consistency": "AFTER"}, floor, ms(3 * rtt)},
		{"gr group_replication_single_primary_mode=OFF lets n2 write", "group_replication_single_primary_mode", Scenario{Protocol: "gr", Threads: IntList{2}, Writers: Writers{"all"}},
			map[string]string{"replbench.cost_profile": "none", "group_replication_single_primary_mode": "OFF"}, fig, 1/rtt.Seconds() + 1/(lan+rtt+lan).Seconds()},
		{"gr group_replication_flow_control_mode=DISABLED: a slow member lags instead", "group_replication_flow_control_mode", Scenario{Protocol: "gr", Threads: IntList{16}, Duration: Duration(100 * time.Second)},
			map[string]string{"replbench.cost_profile": "none", "n3:replbench.apply_delay": "5ms", "group_replication_flow_control_mode": "DISABLED"}, fig, net},
		{"gr group_replication_flow_control_applier_threshold sets the backlog", "group_replication_flow_control_applier_threshold", Scenario{Protocol: "gr", Threads: IntList{16}, Duration: Duration(100 * time.Second)},
			map[string]string{"replbench.cost_profile": "none", "n3:replbench.apply_delay": "5ms", "group_replication_flow_control_applier_threshold": "1000"}, fig, 200 + (1000+16+net)/100},
		{"gr group_replication_flow_control_hold_percent lowers the held quota", "group_replication_flow_control_hold_percent", Scenario{Protocol: "gr", Threads: IntList{16}, Duration: Duration(100 * time.Second)},
			map[string]string{"replbench.cost_profile": "none", "n3:replbench.apply_delay": "5ms", "group_replication_flow_control_hold_percent": "50"}, fig, 625 + (25000+16+net)/100},
		{"gr group_replication_flow_control_max_quota caps it", "group_replication_flow_control_max_quota", Scenario{Protocol: "gr", Threads: IntList{16}, Duration: Duration(100 * time.Second)},
			map[string]string{"replbench.cost_profile": "none", "n3:replbench.apply_delay": "5ms", "group_replication_flow_control_max_quota": "300"}, fig, 300 + (25000+16+net)/100},
		{"gr group_replication_flow_control_min_quota raises its floor", "group_replication_flow_control_min_quota", Scenario{Protocol: "gr", Threads: IntList{16}, Duration: Duration(100 * time.Second)},
			map[string]string{"replbench.cost_profile": "none", "n3:replbench.apply_delay": "5ms", "group_replication_flow_control_min_quota": "3000"}, fig, 2700 + (25000+16+net)/100},
		{"gr group_replication_flow_control_period: the writers run free one period", "group_replication_flow_control_period", Scenario{Protocol: "gr", Threads: IntList{16}, Duration: Duration(100 * time.Second)},
			map[string]string{"replbench.cost_profile": "none", "n3:replbench.apply_delay": "5ms", "group_replication_flow_control_period": "3"}, fig, 1125.0/3 + (25000+16+3*net)/100},
		{"semisync rpl_semi_sync_master_wait_for_slave_count=2 waits for the farther replica", "rpl_semi_sync_source_wait_for_replica_count", Scenario{Protocol: "semisync", Threads: IntList{1}, Network: NetworkSpec{Egress: map[string]Duration{"n3": Duration(20 * time.Millisecond)}}},
			map[string]string{"replbench.cost_profile": "none", "rpl_semi_sync_source_wait_for_replica_count": "2"}, floor, ms(20*time.Millisecond + rtt)},
		{"semisync semisync.serialized=ON: once per round trip whatever the threads", "semisync.serialized", Scenario{Protocol: "semisync", Threads: IntList{8}},
			map[string]string{"replbench.cost_profile": "none", "semisync.serialized": "ON"}, fig, 1 / rtt.Seconds()},
	} {
		t.Run(c.name, func(t *testing.T) {
			def := c.s
			def.Params = map[string]string{}
			for k, v := range c.params {
				if k != c.key {
					def.Params[k] = v
				}
			}
			_, din := boundPoint(t, &def)
			set := c.s
			set.Params = c.params
			_, in := boundPoint(t, &set)
			got, err := figures(in)
			if err != nil {
				t.Fatal(err)
			}
			if !nearly(c.read(got), c.want) {
				t.Fatalf("bound %v, want %v: %s", c.read(got), c.want, got.why)
			}
			if d, err := figures(din); err == nil && nearly(c.read(d), c.want) {
				t.Fatalf("without %s the bound is the same %v: the test does not show the parameter is read", c.key, c.want)
			}
		})
	}
}

type lawFigures struct {
	floorMs, maxTPS float64
	why             string
}

func figures(in law.Input) (*lawFigures, error) {
	e, err := law.Explain(in)
	if err != nil {
		return nil, err
	}
	return &lawFigures{e.Bound.CommitFloorMs, e.Bound.MaxTPS, e.Floor + " " + e.Throughput}, nil
}
