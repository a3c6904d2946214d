package semisync

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/replbench/replbench/protocols"
	"github.com/replbench/replbench/protocols/prototest"
	"github.com/replbench/replbench/protocols/transport"
	"github.com/replbench/replbench/storage"
)

var kvSchema = storage.TableSchema{
	Name:       "kv",
	Columns:    []storage.Column{{Name: "id", Type: storage.Int}, {Name: "v", Type: storage.String, Size: 32}},
	PrimaryKey: []int{0},
}

// rcluster is a real-time cluster: real storage engines over the emulator, on NATS or
// the in-memory bus.
type rcluster struct {
	t     testing.TB
	em    *transport.Emulator
	nodes []string
	dbs   []*storage.Engine
	provs []*Provider
}

func newRCluster(t testing.TB, proto string, n int, nats bool, nw func(nodes []string) transport.Network, user map[string]string) *rcluster {
	t.Helper()
	nodes := prototest.Nodes(n)
	var inner transport.Bus = transport.NewMemBus()
	if nats {
		b, err := transport.NewNATSBus(transport.NATSOptions{})
		if err != nil {
			t.Fatal(err)
		}
		inner = b
	}
	c := &rcluster{t: t, nodes: nodes, em: transport.NewEmulator(inner, nw(nodes), transport.EmulatorOptions{Seed: 7})}
	ps := resolve(t, proto, user)
	for _, node := range nodes {
		db, err := storage.Open(storage.Options{Node: node})
		if err != nil {
			t.Fatal(err)
		}
		if err := db.CreateTable(kvSchema); err != nil {
			t.Fatal(err)
		}
		ep, err := c.em.Attach(node)
		if err != nil {
			t.Fatal(err)
		}
		pv, err := New(protocols.Config{Node: node, Members: nodes, Endpoint: ep, Applier: db, Settings: ps, Seed: 7})
		if err != nil {
			t.Fatal(err)
		}
		db.SetReplicator(pv)
		c.dbs = append(c.dbs, db)
		c.provs = append(c.provs, pv.(*Provider))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := prototest.StartAll(ctx, c.provs); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.close)
	return c
}

func (c *rcluster) close() {
	prototest.CloseAll(c.provs)
	c.em.Close()
	prototest.CloseAll(c.dbs)
}

// insert commits one row on the source through the storage engine's commit path.
func (c *rcluster) insert(ctx context.Context, id int64) error {
	tx := c.dbs[0].Begin()
	defer tx.Rollback()
	if _, err := tx.Insert(ctx, "kv", storage.Row{id, fmt.Sprintf("row-%d", id)}); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

// load runs threads clients inserting perThread rows each and returns the slowest commit.
func (c *rcluster) load(threads, perThread int) time.Duration {
	c.t.Helper()
	var mu sync.Mutex
	var worst time.Duration
	var wg sync.WaitGroup
	for th := range threads {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perThread {
				start := time.Now()
				if err := c.insert(context.Background(), int64(th*1_000_000+i)); err != nil {
					c.t.Error(err)
					return
				}
				d := time.Since(start)
				mu.Lock()
				worst = max(worst, d)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return worst
}

// converge waits until every node reports the source's LastCommitted, then compares
// table checksums, as the harness does at the end of a run.
func (c *rcluster) converge(limit time.Duration) {
	c.t.Helper()
	if err := prototest.Converge(limit, 5*time.Millisecond, nil, c.provs, c.nodes, c.dbs); err != nil {
		c.t.Fatal(err)
	}
}

func lan(nodes []string) transport.Network {
	nw, err := transport.Preset("lan", nodes)
	if err != nil {
		panic(err)
	}
	return nw
}

// Both protocols over embedded NATS with real engines: rows written on n1 reach every
// replica, checksums match, and a replica refuses writes with 1290.
func TestEndToEndNATS(t *testing.T) {
	for _, proto := range []string{"async", "semisync"} {
		t.Run(proto, func(t *testing.T) {
			c := newRCluster(t, proto, 3, true, lan, nil)
			c.load(4, 50)
			c.converge(10 * time.Second)
			n, err := c.dbs[2].RowCount("kv")
			if err != nil || n != 200 {
				t.Fatalf("n3 has %d rows (%v), want 200", n, err)
			}
			tx := c.dbs[1].Begin()
			_, err = tx.Insert(context.Background(), "kv", storage.Row{int64(-1), "x"})
			if err == nil {
				err = tx.Commit(context.Background())
			}
			tx.Rollback()
			var me *protocols.Error
			if !errors.As(err, &me) || me.Code != protocols.ErOptionPreventsStatement {
				t.Fatalf("write on replica n2: %v, want ERROR 1290", err)
			}
			if proto == "semisync" {
				if got := status(c.provs[0], "Rpl_semi_sync_master_status"); got != "ON" {
					t.Errorf("semi-sync status %s after a clean run, want ON", got)
				}
			}
		})
	}
}

// Foundation acceptance check for async: 50 ms of egress delay on replica n2 never reaches
// a commit (any wait on n2 would cost at least 50 ms), and the replicas still converge.
func TestAsyncIgnoresReplicaEgressDelay(t *testing.T) {
	slowN2 := func(nodes []string) transport.Network {
		nw := lan(nodes)
		nw.SetEgress("n2", 50*time.Millisecond)
		return nw
	}
	c := newRCluster(t, "async", 3, false, slowN2, nil)
	if worst := c.load(4, 50); worst >= 50*time.Millisecond {
		t.Errorf("slowest async commit took %v: a commit waited for n2's 50 ms egress", worst)
	}
	c.converge(10 * time.Second)
}

// With real engines: under AFTER_COMMIT another session reads the new row on the source
// before any replica can have acked it; under AFTER_SYNC it cannot, until the ack.
// The replica is 150 ms away each way, so no ack can arrive before 300 ms (the emulator
// never delivers early).
func TestWaitPointVisibilityRealEngine(t *testing.T) {
	far := func(nodes []string) transport.Network {
		nw := lan(nodes)
		nw.SetLinkBoth("n1", "n2", 150*time.Millisecond)
		return nw
	}
	for _, point := range []string{"AFTER_SYNC", "AFTER_COMMIT"} {
		t.Run(point, func(t *testing.T) {
			c := newRCluster(t, "semisync", 2, false, far, map[string]string{ParamWaitPoint: point})
			ctx := context.Background()
			start := time.Now()
			done := make(chan error, 1)
			go func() { done <- c.insert(ctx, 42) }()
			seenEarly := false
			for time.Since(start) < 250*time.Millisecond {
				tx := c.dbs[0].Begin()
				row, err := tx.Get(ctx, "kv", int64(42))
				tx.Rollback()
				if err != nil {
					t.Fatal(err)
				}
				if row != nil && time.Since(start) < 250*time.Millisecond {
					seenEarly = true
					break
				}
				time.Sleep(2 * time.Millisecond)
			}
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			if el := time.Since(start); el < 300*time.Millisecond {
				t.Fatalf("commit returned after %v, before the ack could arrive", el)
			}
			if want := point == "AFTER_COMMIT"; seenEarly != want {
				t.Fatalf("row visible before the ack: %v, want %v", seenEarly, want)
			}
		})
	}
}
