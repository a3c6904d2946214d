package harness

import (
	"context"
	"io"
	"path/filepath"
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
