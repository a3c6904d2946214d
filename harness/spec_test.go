package harness

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/replbench/replbench/protocols"
	"github.com/replbench/replbench/semisync"
)

// Sweep expansion: the cartesian product in the documented order (protocols, workloads,
// nodes, writers, params, networks, threads innermost), each point repeated.
func TestExpandSweepOrder(t *testing.T) {
	s, err := loadTestdata(t, "good.yaml")
	if err != nil {
		t.Fatal(err)
	}
	pts, err := Expand(s)
	if err != nil {
		t.Fatal(err)
	}
	// 2 param sets x 2 networks x 2 thread counts x 2 repeats
	if len(pts) != 16 {
		t.Fatalf("%d points, want 16", len(pts))
	}
	var got []string
	for _, p := range pts {
		got = append(got, fmt.Sprintf("%g/%s/t%d/r%d", p.Cluster[0].Engine.LockWaitTimeout.Seconds(), p.Network.Name, p.Threads, p.Repeat))
	}
	want := []string{
		"5/lan/t1/r0", "5/lan/t1/r1", "5/lan/t2/r0", "5/lan/t2/r1",
		"5/wan-50/t1/r0", "5/wan-50/t1/r1", "5/wan-50/t2/r0", "5/wan-50/t2/r1",
		"1/lan/t1/r0", "1/lan/t1/r1", "1/lan/t2/r0", "1/lan/t2/r1",
		"1/wan-50/t1/r0", "1/wan-50/t1/r1", "1/wan-50/t2/r0", "1/wan-50/t2/r1",
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("order:\n got %v\nwant %v", got, want)
	}
	for i, p := range pts {
		if p.Index != i || p.Protocol != "semisync" || p.Nodes != 3 || p.Duration != 200*time.Millisecond {
			t.Fatalf("point %d: %+v", i, p)
		}
		// the per-node parameter lands on n3 only, resolved once into the engine's options
		if p.Cluster[2].Engine.ApplyDelay != time.Millisecond || p.Cluster[0].Engine.ApplyDelay != 0 || p.Cluster[2].Name != "n3" {
			t.Fatalf("per-node params %+v", p.Cluster)
		}
		if _, ok := p.Cluster[0].Settings.(*semisync.Settings); !ok {
			t.Fatalf("settings %T, want the protocol's own", p.Cluster[0].Settings)
		}
		if p.Network.Name == "wan-50" && p.Net.OneWay("n1", "n2") != 50*time.Millisecond+p.Net.OneWay("n2", "n1") {
			t.Fatalf("the point's network is not built from its preset: %+v", p.Net)
		}
	}
	if up := pts[0].UserParams(); up["innodb_lock_wait_timeout"] != "5" || up["n3:replbench.apply_delay"] != "1ms" {
		t.Fatalf("user params %v", up)
	}
}

// Nodes 0 means 3, clamped to the protocol: standalone runs on one node beside the others.
func TestExpandAutoNodes(t *testing.T) {
	s := &Scenario{Workload: WorkloadSpec{Name: "insert"}, Queries: 10, Sweep: Sweep{Protocols: []string{"standalone", "semisync"}}}
	pts, err := Expand(s)
	if err != nil {
		t.Fatal(err)
	}
	if len(pts) != 2 || pts[0].Nodes != 1 || pts[1].Nodes != 3 {
		t.Fatalf("points %+v", pts)
	}
}

// Flags override the file: a flag replaces the field and its sweep axis.
func TestOverridesReplaceAxes(t *testing.T) {
	s, err := loadTestdata(t, "good.yaml")
	if err != nil {
		t.Fatal(err)
	}
	net := "wan-100"
	q := int64(50)
	s.Apply(Overrides{Threads: IntList{4}, Network: &net, Queries: &q, Egress: map[string]time.Duration{"n3": 7 * time.Millisecond},
		Params: map[string]string{"innodb_lock_wait_timeout": "9"}})
	pts, err := Expand(s)
	if err != nil {
		t.Fatal(err)
	}
	if len(pts) != 4 { // 2 param sets (now equal) x 1 network x 1 thread count x 2 repeats
		t.Fatalf("%d points", len(pts))
	}
	for _, p := range pts {
		if p.Threads != 4 || p.Network.Name != "wan-100+n3=7ms" || p.Queries != 50 || p.Duration != 0 || p.Cluster[1].Engine.LockWaitTimeout != 9*time.Second {
			t.Fatalf("point %+v", p)
		}
	}
}

// Every bad input is one line naming the problem and what is accepted.
func TestExpandBadInput(t *testing.T) {
	base := func() *Scenario {
		return &Scenario{Protocol: "semisync", Workload: WorkloadSpec{Name: "insert"}, Queries: 10}
	}
	str := func(s string) *string { return &s }
	i := func(v int) *int { return &v }
	dur := func(d time.Duration) *time.Duration { return &d }
	for _, tc := range []struct {
		name string
		o    Overrides
		mod  func(*Scenario)
		want string
	}{
		{"unknown protocol", Overrides{Protocols: []string{"paxos"}}, nil, `--protocol: unknown protocol "paxos" (accepted:`},
		{"unknown protocol in a list", Overrides{Protocols: []string{"galera", "paxos"}}, nil, `--protocol: unknown protocol "paxos" (accepted:`},
		{"unknown workload", Overrides{Workload: str("tpcd")}, nil, `--workload: unknown workload "tpcd" (accepted:`},
		{"unknown preset", Overrides{Network: str("moon")}, nil, `--network: unknown network preset "moon" (accepted: lan`},
		{"unknown parameter", Overrides{Params: map[string]string{"wsrep_nope": "1"}}, nil, `--param wsrep_nope: unknown parameter "wsrep_nope" for protocol semisync (accepted:`},
		{"bad parameter value", Overrides{Params: map[string]string{"innodb_flush_log_at_trx_commit": "7"}}, nil, "invalid value \"7\" (accepted: 0, 1, 2)"},
		{"param node beyond", Overrides{Params: map[string]string{"n9:innodb_lock_wait_timeout": "1"}}, nil, `unknown node "n9" (accepted: n1, n2, n3)`},
		{"delay node beyond", Overrides{Egress: map[string]time.Duration{"n4": time.Millisecond}}, nil, "unknown node n4 (accepted: n1, n2, n3)"},
		{"link node beyond", Overrides{Links: map[string]time.Duration{"n1-n7": time.Millisecond}}, nil, "unknown node n7"},
		{"writer beyond", Overrides{Writers: Writers{"n5"}}, nil, `--writers: unknown writer node "n5"`},
		{"threads 0", Overrides{Threads: IntList{0}}, nil, "--threads: invalid thread count 0"},
		{"nodes for standalone", Overrides{Protocols: []string{"standalone"}, Nodes: i(3)}, nil, "--nodes: protocol standalone runs on 1 nodes, not 3"},
		{"unknown workload option", Overrides{WorkloadOptions: map[string]string{"colour": "red"}}, nil, `unknown option "colour" of workload insert`},
		{"both queries and duration", Overrides{}, func(s *Scenario) { s.Duration = Duration(time.Second) }, "both queries"},
		{"neither queries nor duration", Overrides{}, func(s *Scenario) { s.Queries = 0 }, "neither queries nor duration"},
		{"bad jitter", Overrides{Jitter: str("gauss:1ms")}, nil, "unknown distribution"},
		// values outside the protocol's declared range, on every node or on one, and under
		// an alias (the MySQL 8.0.26+ name)
		{"param below range", Overrides{Params: map[string]string{"rpl_semi_sync_master_wait_for_slave_count": "0"}}, nil, "--param rpl_semi_sync_master_wait_for_slave_count: parameter rpl_semi_sync_master_wait_for_slave_count: 0 is out of range (accepted: 1 to 65535)"},
		{"per-node param below range", Overrides{Params: map[string]string{"n3:rpl_semi_sync_master_wait_for_slave_count": "0"}}, nil, "--param n3:rpl_semi_sync_master_wait_for_slave_count: parameter rpl_semi_sync_master_wait_for_slave_count: 0 is out of range"},
		{"alias above range", Overrides{Params: map[string]string{"rpl_semi_sync_source_wait_for_replica_count": "70000"}}, nil, "70000 is out of range (accepted: 1 to 65535)"},
		{"in a sweep", Overrides{}, func(s *Scenario) {
			s.Sweep.Params = []map[string]string{{"rpl_semi_sync_master_wait_for_slave_count": "1"}, {"rpl_semi_sync_master_wait_for_slave_count": "0"}}
		}, "sweep.params[1]"},
		{"negative refused backoff", Overrides{RefusedBackoff: dur(-time.Millisecond)}, nil, "--refused-backoff: negative pause -1ms"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := base()
			if tc.mod != nil {
				tc.mod(s)
			}
			s.Apply(tc.o)
			_, err := Expand(s)
			if err == nil {
				t.Fatal("accepted bad input")
			}
			if strings.Contains(err.Error(), "\n") || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q, want one line containing %q", err, tc.want)
			}
		})
	}
}

// Nodes round-robin: client i runs on writer i mod len(writers), and mysqlslap's split.
func TestShare(t *testing.T) {
	var sum int64
	for i := 0; i < 3; i++ {
		sum += share(500, i, 3)
	}
	if sum != 500 || share(500, 0, 3) != 167 || share(500, 2, 3) != 166 {
		t.Fatalf("share: %d %d %d", share(500, 0, 3), share(500, 1, 3), share(500, 2, 3))
	}
}

// A workload option from the command line goes to the workloads of the run that define it.
func TestWorkloadOptionRouting(t *testing.T) {
	s := &Scenario{Protocol: "semisync", Queries: 10, Sweep: Sweep{Workloads: []WorkloadSpec{{Name: "insert"}, {Name: "hotspot"}}}}
	s.Apply(Overrides{WorkloadOptions: map[string]string{"hot-rows": "3"}})
	pts, err := Expand(s)
	if err != nil {
		t.Fatal(err)
	}
	if len(pts) != 2 || pts[0].Workload.Options["hot-rows"] != "" || pts[1].Workload.Options["hot-rows"] != "3" {
		t.Fatalf("points %+v", pts)
	}
	s.Apply(Overrides{WorkloadOptions: map[string]string{"nosuch": "1"}})
	if _, err := Expand(s); err == nil || !strings.Contains(err.Error(), `unknown option "nosuch"`) {
		t.Fatalf("err %v", err)
	}
}

// A parameter given under its alias (rpl_semi_sync_source_* for rpl_semi_sync_master_*) is
// accepted like its real name, with the range checked either way.
func TestExpandParamAlias(t *testing.T) {
	s := &Scenario{Protocol: "semisync", Workload: WorkloadSpec{Name: "insert"}, Queries: 10}
	s.Apply(Overrides{Params: map[string]string{"rpl_semi_sync_source_wait_for_replica_count": "2"}})
	pts, err := Expand(s)
	if err != nil {
		t.Fatal(err)
	}
	if got := pts[0].Cluster[0].Settings.(*semisync.Settings).WaitCount; got != 2 {
		t.Fatalf("wait count %d, want 2 (settings %v)", got, pts[0].Cluster[0].Settings.Params())
	}
	if got := pts[0].UserParams()["rpl_semi_sync_source_wait_for_replica_count"]; got != "2" {
		t.Fatalf("the result records what the user typed: %v", pts[0].UserParams())
	}
}

// The point's writers are the nodes that have clients: clients go round-robin over the
// writers, so with fewer threads than writers only the first ones get any.
func TestExpandWritersWithClients(t *testing.T) {
	s := &Scenario{Protocol: "semisync", Workload: WorkloadSpec{Name: "insert"}, Queries: 10, Writers: Writers{"all"}, Threads: IntList{1, 2, 3, 8}}
	pts, err := Expand(s)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"n1", "n1,n2", "n1,n2,n3", "n1,n2,n3"}
	for i, p := range pts {
		if got := strings.Join(p.Writers, ","); got != want[i] {
			t.Errorf("%d threads: writers %s, want %s", p.Threads, got, want[i])
		}
	}
}

// The refused-transaction pause defaults to DefaultRefusedBackoff; 0 (no pause) can be
// asked for, in a file or with the flag.
func TestExpandRefusedBackoff(t *testing.T) {
	s := &Scenario{Protocol: "semisync", Workload: WorkloadSpec{Name: "insert"}, Queries: 10}
	pts, err := Expand(s)
	if err != nil || pts[0].RefusedBackoff != DefaultRefusedBackoff {
		t.Fatalf("default: %v %v", err, pts)
	}
	y, err := ParseScenario("r.yaml", []byte("name: r\nprotocol: semisync\nworkload: {name: insert}\nqueries: 10\nrefused_backoff: 0s\n"))
	if err != nil {
		t.Fatal(err)
	}
	if pts, err = Expand(y); err != nil || pts[0].RefusedBackoff != 0 {
		t.Fatalf("file with 0s: %v %v", err, pts)
	}
	zero := 25 * time.Millisecond
	y.Apply(Overrides{RefusedBackoff: &zero})
	if pts, err = Expand(y); err != nil || pts[0].RefusedBackoff != 25*time.Millisecond {
		t.Fatalf("flag over file: %v %v", err, pts)
	}
}

func TestNodeRange(t *testing.T) {
	for _, tc := range []struct {
		p    protocols.Protocol
		want string
	}{
		{protocols.Protocol{MinNodes: 1, MaxNodes: 1}, "1"},
		{protocols.Protocol{MinNodes: 2}, "2 or more"},
		{protocols.Protocol{MinNodes: 3, MaxNodes: 9}, "3 to 9"},
	} {
		if got := NodeRange(&tc.p); got != tc.want {
			t.Errorf("%+v: %q, want %q", tc.p, got, tc.want)
		}
	}
}
