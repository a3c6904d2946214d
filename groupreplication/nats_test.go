package groupreplication

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/replbench/replbench/protocols"
	"github.com/replbench/replbench/protocols/prototest"
	"github.com/replbench/replbench/protocols/transport"
)

// natsCluster starts n members over the embedded NATS bus with the lan preset, in real
// time: what `replbench run --protocol gr` runs.
func natsCluster(t testing.TB, n int, params map[string]string) *cluster {
	t.Helper()
	bus, err := transport.NewNATSBus(transport.NATSOptions{})
	if err != nil {
		t.Fatal(err)
	}
	nw, err := transport.Preset("lan", prototest.Nodes(n))
	if err != nil {
		t.Fatal(err)
	}
	return start(t, n, bus, nw, false, params, nil)
}

// End to end over NATS, single-primary: inserts on n1 from several clients commit, reach
// every member, and the members converge.
func TestNATS_SinglePrimaryInsert(t *testing.T) {
	c := natsCluster(t, 3, nil)
	defer c.close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const clients, each = 8, 100
	var wg sync.WaitGroup
	var failed atomic.Int64
	for k := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				if err := c.insert(ctx, 0, int64(k*each+i)); err != nil {
					failed.Add(1)
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if failed.Load() > 0 {
		t.FailNow()
	}
	if !c.quiesce(ctx) {
		t.Fatal("members did not converge")
	}
	for i := 1; i < 3; i++ {
		if got := c.status(i, "COUNT_TRANSACTIONS_REMOTE_APPLIED"); got != strconv.Itoa(clients*each) {
			t.Fatalf("%s applied %s remote transactions, want %d", c.nodes[i], got, clients*each)
		}
	}
}

// End to end over NATS, multi-primary hotspot from every member: conflicts are counted
// (3101 on the clients, COUNT_CONFLICTS_DETECTED on the members) and the members converge.
func TestNATS_MultiPrimaryHotspot(t *testing.T) {
	c := natsCluster(t, 3, map[string]string{pSinglePrimary: "OFF"})
	defer c.close()
	causes := hotspot(t, c, 4, 50, 4)
	t.Logf("errors by cause: %v", causes)
	if causes[protocols.CauseCertification] == 0 {
		t.Fatal("no certification conflicts on a hotspot written from every member")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if !c.quiesce(ctx) {
		t.Fatal("members did not converge")
	}
	if got := c.status(2, "COUNT_CONFLICTS_DETECTED"); got != strconv.Itoa(causes[protocols.CauseCertification]) {
		t.Fatalf("COUNT_CONFLICTS_DETECTED %s, clients saw %d", got, causes[protocols.CauseCertification])
	}
}

// BenchmarkNATSLANInsert is the performance aim: a 3-member group of real storage engines
// over embedded NATS with the lan preset, single-primary, inserts on n1 from 1 and 64
// clients. It reports commits/s.
func BenchmarkNATSLANInsert(b *testing.B) {
	for _, clients := range []int{1, 64} {
		b.Run(fmt.Sprintf("clients=%d", clients), func(b *testing.B) {
			c := natsCluster(b, 3, nil)
			defer c.close()
			ctx := context.Background()
			var next atomic.Int64
			var wg sync.WaitGroup
			b.ResetTimer()
			t0 := time.Now()
			for range clients {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						i := next.Add(1)
						if i > int64(b.N) {
							return
						}
						if err := c.insert(ctx, 0, i); err != nil {
							b.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
			el := time.Since(t0)
			b.StopTimer()
			b.ReportMetric(float64(b.N)/el.Seconds(), "commits/s")
		})
	}
}

// The clone over real components, in wall-clock time: with a 64 KiB message cache, n3 cut
// off for 600 ms while 4 clients insert on n1 misses more than the cache holds, leaves the
// group, clones n1's state over NATS (in 16 KiB chunks here, so the state travels in many
// frames) and converges.
func TestNATS_CutBeyondTheCacheRejoinsByClone(t *testing.T) {
	defer func(old int) { cloneChunk = old }(cloneChunk)
	cloneChunk = 16 << 10
	c := natsCluster(t, 3, map[string]string{pMessageCacheSize: strconv.Itoa(64 << 10)})
	defer c.close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	stop := c.insertLoad(ctx, 4, nil)
	time.Sleep(200 * time.Millisecond)
	c.em.Partition([]string{"n1", "n2"}, []string{"n3"})
	time.Sleep(600 * time.Millisecond)
	c.em.Heal()
	time.Sleep(200 * time.Millisecond)
	stop()
	t0 := time.Now()
	for c.status(2, "MEMBER_STATE") != "ONLINE" || c.status(2, "gr_model_clones_received") != "1" {
		if time.Since(t0) > 10*time.Second {
			t.Fatalf("n3 not back by clone: %s, clones %s, %q", c.status(2, "MEMBER_STATE"),
				c.status(2, "gr_model_clones_received"), c.status(2, "gr_model_error_reason"))
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("n3 %s; last clone %q; n1 committed %d", c.status(2, "MEMBER_STATE"), c.status(2, "gr_model_last_clone"), c.provs[0].LastCommitted())
	if !c.quiesce(ctx) {
		t.Fatal("members did not converge after the clone")
	}
}
