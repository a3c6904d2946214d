package harness

import (
	"context"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// checkNoGoroutines fails t when more goroutines run than before, after giving closes that
// finish asynchronously a few seconds to end.
func checkNoGoroutines(t *testing.T, before int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		buf := make([]byte, 1<<20)
		t.Fatalf("%d goroutines left, %d before:\n%s", n, before, buf[:runtime.Stack(buf, true)])
	}
}

// A cluster that fails to start returns the error, never a panic and never a half-built
// cluster, and closes everything it had started. The failure is provoked at each stage of
// bring-up: a point nobody resolved (before any engine opens), and the context
// ending just before the providers start, when engines, the workload's data, the bus, the
// emulator and every provider already exist, over both buses.
func TestStartClusterFailureClosesEverything(t *testing.T) {
	cases := []struct {
		name, bus, cancelAt string
		want                string
	}{
		{"unresolved point", "memory", "", "is not resolved"},
		{"start fails/memory", "memory", "starting semisync", "semisync on n"},
		{"start fails/nats", "nats", "starting semisync", "semisync on n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := runtime.NumGoroutine()
			ps := &PointSpec{
				Protocol: "semisync", Nodes: 3, Workload: WorkloadSpec{Name: "insert"},
				Threads: 1, Writers: []string{"n1"}, Queries: 1,
			}
			if tc.cancelAt != "" {
				if err := ResolvePoint(ps); err != nil {
					t.Fatal(err)
				}
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			reached := false
			progress := func(stage string) {
				if stage == tc.cancelAt {
					reached = true
					cancel()
				}
			}
			data := t.TempDir()
			c, err := startCluster(ctx, ps, clusterConfig{dataDir: data, bus: BusConfig{Kind: tc.bus}, seed: 1}, progress)
			if err == nil {
				_ = c.close()
				t.Fatal("the cluster started; want a start-up error")
			}
			if c != nil {
				t.Errorf("a failed start returned a cluster; want nil")
			}
			if tc.cancelAt != "" && !reached {
				t.Fatalf("bring-up failed before %q: %v", tc.cancelAt, err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not contain %q", err, tc.want)
			}
			checkNoGoroutines(t, before)
			if left, _ := filepath.Glob(filepath.Join(data, "n*")); len(left) > 0 {
				t.Errorf("node directories left behind: %v", left)
			}
		})
	}
}

// A point made by hand is resolved by ResolvePoint, the same resolution Expand runs: a
// parameter the protocol refuses fails there, naming the node, before anything starts.
func TestResolvePoint(t *testing.T) {
	bad := map[string]string{"rpl_semi_sync_master_wait_for_slave_count": "0"}
	ps := &PointSpec{Protocol: "semi-sync", Nodes: 3, Given: map[string]map[string]string{"n2": bad}}
	if err := ResolvePoint(ps); err == nil || !strings.Contains(err.Error(), "n2: parameter rpl_semi_sync_master_wait_for_slave_count: 0 is out of range") {
		t.Fatalf("err = %v", err)
	}
	ps = &PointSpec{Protocol: "semi-sync", Nodes: 3, Network: NetworkSpec{Preset: "wan-50"}}
	if err := ResolvePoint(ps); err != nil {
		t.Fatal(err)
	}
	if ps.Protocol != "semisync" || len(ps.Cluster) != 3 || ps.Cluster[2].Name != "n3" || ps.Network.Name != "wan-50" || ps.Net.OneWay("n1", "n3") == 0 {
		t.Fatalf("resolved %+v", ps)
	}
	if err := ResolvePoint(&PointSpec{Protocol: "standalone", Nodes: 2}); err == nil || !strings.Contains(err.Error(), "runs on 1 nodes, not 2") {
		t.Fatalf("err = %v", err)
	}
}
