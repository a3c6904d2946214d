package harness_test

import (
	"context"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/replbench/replbench/harness"
	"github.com/replbench/replbench/harness/endpoint"
	"github.com/replbench/replbench/harness/target"
	_ "github.com/replbench/replbench/protocols/standalone"
	"github.com/replbench/replbench/storage/sqlexec"
	_ "github.com/replbench/replbench/workloads/all"
)

// A point on a target runs the workload through go-sql-driver against MySQL-protocol
// servers: here replbench's own endpoint over a standalone engine, so no real server is
// needed. The result is a real-target point with the server's version, commits counted by
// the same client loop, status read from the server and convergence checked.
func TestRunOnTargetThroughEndpoint(t *testing.T) {
	ps := &harness.PointSpec{Protocol: "standalone", Nodes: 1, Workload: harness.WorkloadSpec{Name: "insert"},
		Threads: 1, Writers: []string{"n1"}, Given: map[string]map[string]string{"n1": nil}}
	if err := harness.ResolvePoint(ps); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	live, err := harness.StartLive(ctx, ps, harness.BusConfig{Kind: "memory"}, "", 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close()
	var ns []*sqlexec.Node
	for _, n := range live.Nodes() {
		ns = append(ns, &sqlexec.Node{Name: n.Name, Engine: n.Engine, Provider: n.Provider, Protocol: n.Protocol, Params: n.Params})
	}
	srv, err := sqlexec.NewServer(ns, sqlexec.Options{MaxAllowedPacket: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	set, err := endpoint.Start(srv, endpoint.Config{Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer set.Close()
	var host string
	var port int
	if _, err := fmt.Sscanf(set.Addrs()[0], "127.0.0.1:%d", &port); err != nil {
		t.Fatal(err)
	}
	host = "127.0.0.1"
	tf, err := target.ParseFile("t.yaml", []byte(fmt.Sprintf("kind: standalone\nnodes:\n  - {name: n1, host: %s, port: %d, user: root, password: \"\"}\n", host, port)))
	if err != nil {
		t.Fatal(err)
	}
	for _, wl := range []struct {
		name string
		opts map[string]string
	}{
		{"insert", nil},
		{"hotspot", nil},
		{"oltp_read_write", map[string]string{"table-size": "500"}},
		{"oltp_point_select", map[string]string{"table-size": "500"}},
		{"tpcc", map[string]string{"warehouses": "1", "scale": "0.01"}},
	} {
		t.Run(wl.name, func(t *testing.T) {
			s := &harness.Scenario{Name: "t", Workload: harness.WorkloadSpec{Name: wl.name, Options: wl.opts}, Threads: harness.IntList{2},
				Sweep: harness.Sweep{Protocols: []string{"standalone"}}, Queries: 60, Seed: 1}
			n := 1
			s.Apply(harness.Overrides{Nodes: &n})
			points, err := harness.Expand(s)
			if err != nil {
				t.Fatal(err)
			}
			out, err := harness.Run(ctx, s, points, harness.Options{OutDir: t.TempDir(), NoProgress: true, Stdout: io.Discard, Stderr: io.Discard, Target: tf})
			if err != nil {
				t.Fatal(err)
			}
			p := out.Run.Points[0]
			t.Logf("tps %.0f, aborts %v, %s, checks %v", p.TPS, p.Aborts, p.ConvergenceDetail, p.Checks)
			if p.Target != harness.TargetReal || p.ServerVersion == "" {
				t.Errorf("target %q version %q: want a real point with the server's version", p.Target, p.ServerVersion)
			}
			var aborts int64
			for _, a := range p.Aborts {
				aborts += a
			}
			if p.Committed+aborts != 60 {
				t.Errorf("committed %d + aborted %d, want the 60 transactions asked", p.Committed, aborts)
			}
			if !p.Converged {
				t.Errorf("not converged: %s", p.ConvergenceDetail)
			}
			for name, ok := range p.Checks {
				if !ok {
					t.Errorf("workload check %s failed", name)
				}
			}
			if p.Network.Preset != "real" {
				t.Errorf("network %q, want real", p.Network.Preset)
			}
		})
	}
}
