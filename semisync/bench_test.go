package semisync

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkLANInsert measures 3-node lan insert throughput through the real storage
// engines over embedded NATS, for 1 and 64 clients: b.N inserts split over the clients.
// It reports commits/s; ns/op is wall time per commit over all clients.
func BenchmarkLANInsert(b *testing.B) {
	for _, proto := range []string{"async", "semisync"} {
		for _, clients := range []int{1, 64} {
			b.Run(fmt.Sprintf("%s/clients=%d", proto, clients), func(b *testing.B) {
				c := newRCluster(b, proto, 3, true, lan, nil)
				var next atomic.Int64
				b.ResetTimer()
				start := time.Now()
				var wg sync.WaitGroup
				for range clients {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for {
							id := next.Add(1)
							if id > int64(b.N) {
								return
							}
							if err := c.insert(context.Background(), id); err != nil {
								b.Error(err)
								return
							}
						}
					}()
				}
				wg.Wait()
				el := time.Since(start)
				b.StopTimer()
				b.ReportMetric(float64(b.N)/el.Seconds(), "commits/s")
				c.converge(30 * time.Second)
			})
		}
	}
}
