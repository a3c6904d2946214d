package galera

import (
	"context"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/replbench/replbench/protocols"
	"github.com/replbench/replbench/protocols/standalone"
	"github.com/replbench/replbench/protocols/transport"
	"github.com/replbench/replbench/storage"
)

func natsLAN(t testing.TB, n int) transport.Bus {
	t.Helper()
	inner, err := transport.NewNATSBus(transport.NATSOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var members []string
	for i := range n {
		members = append(members, fmt.Sprintf("n%d", i+1))
	}
	nw, err := transport.Preset("lan", members)
	if err != nil {
		t.Fatal(err)
	}
	if os.Getenv("GALERA_BENCH_RAW") != "" {
		return inner
	}
	return transport.NewEmulator(inner, nw, transport.EmulatorOptions{})
}

func insert(ctx context.Context, db *storage.Engine, node string) error {
	tx := db.Begin()
	tx.SetAutocommit(true)
	if _, err := tx.Insert(ctx, "events", storage.Row{nil, node}); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit(ctx)
}

// End to end over the embedded NATS bus with the lan preset: auto-increment inserts and a
// hot counter row from every node at once. Conflicts on the hot row show up as
// certification failures and brute-force aborts, in the errors and in the status
// variables; retried until they commit, every increment and insert lands exactly once and
// every node ends with the same data.
func TestEndToEndNATS(t *testing.T) {
	c := newDBCluster(t, 3, natsLAN(t, 3), nil)
	defer c.close()
	ctx := context.Background()
	var incs, inserts atomic.Int64
	causes := map[protocols.Cause]int{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i, db := range c.dbs {
		for range 3 {
			wg.Go(func() {
				for range 60 {
					for {
						err := increment(ctx, db)
						if err == nil {
							incs.Add(1)
							break
						}
						if !protocols.Retryable(err) {
							t.Errorf("increment on n%d: %v", i+1, err)
							return
						}
						mu.Lock()
						causes[protocols.Classify(err)]++
						mu.Unlock()
					}
					if err := insert(ctx, db, fmt.Sprintf("n%d", i+1)); err != nil {
						t.Errorf("insert on n%d: %v", i+1, err)
						return
					}
					inserts.Add(1)
				}
			})
		}
	}
	wg.Wait()
	c.converge(t)
	if got := counter(t, c.dbs[1]); got != incs.Load() {
		t.Fatalf("counter %d, want %d committed increments", got, incs.Load())
	}
	n := 0
	tx := c.dbs[2].Begin()
	if err := tx.Scan(ctx, "events", storage.ScanOptions{}, func(storage.Row) bool { n++; return true }); err != nil {
		t.Fatal(err)
	}
	tx.Rollback()
	if int64(n) != inserts.Load() {
		t.Fatalf("%d events on n3, want %d", n, inserts.Load())
	}
	var certFail, bf int
	for _, p := range c.ps {
		var cf, b int
		fmt.Sscan(status(p, "wsrep_local_cert_failures"), &cf)
		fmt.Sscan(status(p, "wsrep_local_bf_aborts"), &b)
		certFail += cf
		bf += b
	}
	t.Logf("aborts by cause %v; wsrep_local_cert_failures total %d, wsrep_local_bf_aborts total %d; n1 repl latency %s",
		causes, certFail, bf, status(c.ps[0], "wsrep_evs_repl_latency"))
	if causes[protocols.CauseCertification] == 0 || certFail != causes[protocols.CauseCertification] {
		t.Fatalf("certification failures: %d seen by clients, %d in status; want equal and > 0", causes[protocols.CauseCertification], certFail)
	}
	if causes[protocols.CauseBFAbort]+causes[protocols.CauseCertification] == 0 {
		t.Fatal("no conflicts on a row written from three nodes")
	}
}

// BenchmarkLANInsert reports commits/s of autocommit inserts on a 3-node galera cluster of
// real storage engines over embedded NATS with the lan preset, next to the standalone floor
// on the same engine, for 1 and 64 clients.
func BenchmarkLANInsert(b *testing.B) {
	for _, proto := range []string{"standalone", "galera"} {
		for _, clients := range []int{1, 64} {
			b.Run(fmt.Sprintf("%s/clients=%d", proto, clients), func(b *testing.B) {
				var dbs []*storage.Engine
				var closeAll func()
				if proto == "galera" {
					c := newDBCluster(b, 3, natsLAN(b, 3), nil)
					dbs, closeAll = c.dbs, c.close
				} else {
					db, err := storage.Open(storage.Options{Node: "n1"})
					if err != nil {
						b.Fatal(err)
					}
					if err := db.CreateTable(events); err != nil {
						b.Fatal(err)
					}
					pr, _ := standalone.New(protocols.Config{Node: "n1", Members: []string{"n1"}})
					db.SetReplicator(pr)
					dbs, closeAll = []*storage.Engine{db}, func() { db.Close() }
				}
				defer closeAll()
				var next atomic.Int64
				var wg sync.WaitGroup
				b.ResetTimer()
				start := time.Now()
				for range clients {
					wg.Go(func() {
						for next.Add(1) <= int64(b.N) {
							if err := insert(context.Background(), dbs[0], "n1"); err != nil {
								b.Error(err)
								return
							}
						}
					})
				}
				wg.Wait()
				el := time.Since(start)
				b.ReportMetric(float64(b.N)/el.Seconds(), "commits/s")
				b.ReportMetric(el.Seconds()*1000/float64(b.N)*float64(clients), "ms/commit")
			})
		}
	}
}
