package storage

import (
	"sync"
	"sync/atomic"
	"testing"

	"github.com/replbench/replbench/protocols"
	"github.com/replbench/replbench/protocols/standalone"
)

// BenchmarkCommitStandalone measures the standalone commit path: one autocommit one-row
// insert per transaction through protocols/standalone's provider, in-memory engine.
func BenchmarkCommitStandalone(b *testing.B) {
	for _, clients := range []int{1, 16} {
		b.Run(map[int]string{1: "clients=1", 16: "clients=16"}[clients], func(b *testing.B) {
			e := openT(b, "n1")
			mustTable(b, e, TableSchema{Name: "t", Columns: []Column{{Name: "id", Type: Int}, {Name: "k", Type: Int}, {Name: "c", Type: String}},
				PrimaryKey: []int{0}})
			p, err := standalone.New(protocols.Config{Node: "n1", Members: []string{"n1"}})
			if err != nil {
				b.Fatal(err)
			}
			e.SetReplicator(p)
			var next atomic.Int64
			pad := "0123456789-0123456789-0123456789-0123456789-0123456789-012345678"
			b.ReportAllocs()
			b.ResetTimer()
			var wg sync.WaitGroup
			for c := 0; c < clients; c++ {
				n := b.N / clients
				if c < b.N%clients {
					n++
				}
				wg.Add(1)
				go func() {
					defer wg.Done()
					for range n {
						id := next.Add(1)
						tx := e.Begin()
						tx.SetAutocommit(true)
						if _, err := tx.Insert(bg, "t", Row{id, id, pad}); err != nil {
							b.Error(err)
							return
						}
						if err := tx.Commit(bg); err != nil {
							b.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "commits/s")
		})
	}
}
