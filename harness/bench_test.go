package harness

import (
	"context"
	"io"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/replbench/replbench/workloads"
)

type nopClient struct{}

func (nopClient) Next(context.Context, workloads.DB, bool) (string, error) { return "t", nil }

// BenchmarkClientLoop is the harness's own cost per transaction (scheduling, the latency
// clock, HdrHistogram recording) with 16 clients and a transaction that does nothing: the
// overhead every measured point carries on top of the engine and the protocol.
func BenchmarkClientLoop(b *testing.B) {
	cs := make([]*client, 16)
	for i := range cs {
		cs[i] = &client{wl: nopClient{}, stats: newClientStats()}
	}
	b.ResetTimer()
	runPhase(context.Background(), cs, load{queries: int64(b.N)})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "txn/s")
}

// BenchmarkStandaloneInsert runs the whole harness path on the floor: the insert workload on
// one in-memory standalone node with 16 clients, b.N inserts per point. Issue 2 aims at
// 50,000 commits/s or more on 2 cores.
func BenchmarkStandaloneInsert(b *testing.B) {
	s := &Scenario{Name: "bench", Protocol: "standalone", Workload: WorkloadSpec{Name: "insert"}, Threads: IntList{16}, Queries: int64(max(b.N, 16)), Seed: 1}
	pts, err := Expand(s)
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	b.ResetTimer()
	out, err := Run(context.Background(), s, pts, Options{Bus: BusConfig{Kind: "memory"}, OutDir: filepath.Join(dir, "runs"),
		NoProgress: true, Stdout: io.Discard, Stderr: io.Discard, ConvergeTimeout: time.Second})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(out.Run.Points[0].TPS, "commits/s")
}

// BenchmarkScale9x256 is the in-process half of issue 14's scale figure: 9 nodes, 256
// clients spread over all of them (writers=all), the insert workload on lan over embedded
// NATS, for galera and group-replication in one process. It reports commits/s, p99 and
// the Go heap in use per node after the point, and fails if the point did not converge.
// Run it with -benchtime=1x: each iteration is one 3 s point.
func BenchmarkScale9x256(b *testing.B) {
	for _, proto := range []string{"galera", "group-replication"} {
		b.Run(proto, func(b *testing.B) {
			s := &Scenario{Name: "scale", Protocol: proto, Cluster: Cluster{Nodes: 9}, Workload: WorkloadSpec{Name: "insert"},
				Threads: IntList{256}, Writers: Writers{"all"}, Duration: Duration(3 * time.Second), Seed: 1}
			if proto == "group-replication" {
				s.Params = map[string]string{"group_replication_single_primary_mode": "OFF"}
			}
			pts, err := Expand(s)
			if err != nil {
				b.Fatal(err)
			}
			for range b.N {
				out, err := Run(context.Background(), s, pts, Options{Bus: BusConfig{Kind: "nats"}, OutDir: filepath.Join(b.TempDir(), "runs"),
					NoProgress: true, Stdout: io.Discard, Stderr: io.Discard})
				if err != nil {
					b.Fatal(err)
				}
				var ms runtime.MemStats
				runtime.ReadMemStats(&ms)
				p := out.Run.Points[0]
				if !p.Converged {
					b.Fatalf("9 nodes x 256 clients did not converge: %s", p.ConvergenceDetail)
				}
				b.ReportMetric(p.TPS, "commits/s")
				b.ReportMetric(p.Latency.P99, "p99-ms")
				b.ReportMetric(float64(ms.HeapInuse)/9/(1<<20), "heap-MiB/node")
			}
		})
	}
}
