package galera

import (
	"context"
	"errors"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/replbench/replbench/protocols"
	"github.com/replbench/replbench/protocols/prototest"
	"github.com/replbench/replbench/protocols/transport"
	"github.com/replbench/replbench/storage"
)

var counters = storage.TableSchema{
	Name:       "counters",
	Columns:    []storage.Column{{Name: "id", Type: storage.Int}, {Name: "c", Type: storage.Int}},
	PrimaryKey: []int{0},
}

var events = storage.TableSchema{
	Name:       "events",
	Columns:    []storage.Column{{Name: "id", Type: storage.Int, AutoIncrement: true}, {Name: "node", Type: storage.String}},
	PrimaryKey: []int{0},
}

// dbCluster is n real storage engines with galera providers over bus.
type dbCluster struct {
	bus   transport.Bus
	nodes []string
	dbs   []*storage.Engine
	ps    []*Provider
}

func newDBCluster(t testing.TB, n int, bus transport.Bus, params map[string]string) *dbCluster {
	t.Helper()
	c := &dbCluster{bus: bus, nodes: prototest.Nodes(n)}
	members := c.nodes
	for _, m := range members {
		db, err := storage.Open(storage.Options{Node: m, LockWaitTimeout: 5 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range []storage.TableSchema{counters, events} {
			if err := db.CreateTable(s); err != nil {
				t.Fatal(err)
			}
		}
		tx := db.Begin()
		if _, err := tx.Insert(context.Background(), "counters", storage.Row{int64(1), int64(0)}); err != nil {
			t.Fatal(err)
		}
		if err := tx.Commit(context.Background()); err != nil {
			t.Fatal(err)
		}
		ep, err := bus.Attach(m)
		if err != nil {
			t.Fatal(err)
		}
		pr, err := New(protocols.Config{Node: m, Members: members, Endpoint: ep, Applier: db, Settings: testSettings(t, params)})
		if err != nil {
			t.Fatal(err)
		}
		db.SetReplicator(pr)
		c.dbs = append(c.dbs, db)
		c.ps = append(c.ps, pr.(*Provider))
	}
	for _, p := range c.ps {
		if err := p.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

func (c *dbCluster) close() {
	prototest.CloseAll(c.ps)
	c.bus.Close()
	prototest.CloseAll(c.dbs)
}

// converge waits until every node has committed the same last position, then compares
// checksums, as the harness does.
func (c *dbCluster) converge(t testing.TB) {
	t.Helper()
	if err := prototest.Converge(10*time.Second, time.Millisecond, nil, c.ps, c.nodes, c.dbs); err != nil {
		t.Fatal(err)
	}
}

func increment(ctx context.Context, db *storage.Engine) error {
	tx := db.Begin()
	r, err := tx.GetForUpdate(ctx, "counters", int64(1))
	if err != nil {
		tx.Rollback()
		return err
	}
	if err := tx.Update(ctx, "counters", storage.Row{int64(1), r[1].(int64) + 1}); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit(ctx)
}

func counter(t testing.TB, db *storage.Engine) int64 {
	tx := db.Begin()
	defer tx.Rollback()
	r, err := tx.Get(context.Background(), "counters", int64(1))
	if err != nil {
		t.Fatal(err)
	}
	return r[1].(int64)
}

func status(p *Provider, name string) string {
	for _, v := range p.Status() {
		if v.Name == name {
			return v.Value
		}
	}
	return ""
}

// Two nodes update one row at once: exactly one commits; the loser fails certification on
// its own node (1213, cause certification) and the cluster converges on the winner's value.
func TestTwoNodesOneRowExactlyOneCommits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		em := transport.NewEmulator(transport.NewMemBus(), transport.Network{Base: time.Millisecond}, transport.EmulatorOptions{Virtual: true})
		c := newDBCluster(t, 3, em, nil)
		defer c.close()
		ctx := context.Background()
		txs := make([]*storage.Txn, 2)
		for i := range txs {
			txs[i] = c.dbs[i].Begin()
			r, err := txs[i].GetForUpdate(ctx, "counters", int64(1))
			if err != nil {
				t.Fatal(err)
			}
			if err := txs[i].Update(ctx, "counters", storage.Row{int64(1), r[1].(int64) + int64(10*(i+1))}); err != nil {
				t.Fatal(err)
			}
		}
		errs := make([]error, 2)
		var wg sync.WaitGroup
		for i := range txs {
			wg.Go(func() { errs[i] = txs[i].Commit(ctx) })
		}
		wg.Wait()
		winners := 0
		for i, err := range errs {
			if err == nil {
				winners++
				continue
			}
			var me *protocols.Error
			if !errors.As(err, &me) || me.Code != protocols.ErLockDeadlock || me.Cause != protocols.CauseCertification {
				t.Fatalf("n%d's loser got %v, want 1213 with cause certification", i+1, err)
			}
			if got := status(c.ps[i], "wsrep_local_cert_failures"); got != "1" {
				t.Fatalf("loser n%d: wsrep_local_cert_failures=%s, want 1", i+1, got)
			}
		}
		if winners != 1 {
			t.Fatalf("%d of 2 conflicting transactions committed (%v), want exactly 1", winners, errs)
		}
		c.converge(t)
	})
}

// One writer, many threads, one row: the threads queue on the row lock (no certification
// failures, since same-node conflicts are settled by locks), and the row changes at most
// once per RTT: Callaghan's law.
func TestHotRowOneWriterOneCommitPerRTT(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const D = 10 * time.Millisecond
		nw := transport.Network{Links: links("n3", []string{"n1", "n2", "n3"}, D)}
		em := transport.NewEmulator(transport.NewMemBus(), nw, transport.EmulatorOptions{Virtual: true})
		c := newDBCluster(t, 3, em, nil)
		defer c.close()
		const dur = 2 * time.Second
		ctx, cancel := context.WithTimeout(context.Background(), dur)
		defer cancel()
		var mu sync.Mutex
		done, total := 0, 0
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				for ctx.Err() == nil {
					err := increment(context.Background(), c.dbs[0])
					if err != nil {
						t.Errorf("increment: %v", err)
						return
					}
					mu.Lock()
					total++
					if ctx.Err() == nil {
						done++
					}
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		bound := int(dur / (2 * D))
		t.Logf("%d commits in %v; Callaghan bound %d (one per RTT); lock waits %d", done, dur, bound, c.dbs[0].Stats().LockWaits)
		if done > bound+1 || done < bound*9/10 {
			t.Fatalf("%d commits, want at most (and close to) one per RTT: %d", done, bound)
		}
		if f := status(c.ps[0], "wsrep_local_cert_failures"); f != "0" {
			t.Fatalf("wsrep_local_cert_failures=%s, want 0 with one writer", f)
		}
		if c.dbs[0].Stats().LockWaits == 0 {
			t.Fatal("no lock waits among 8 threads on one row")
		}
		c.converge(t)
		if got := counter(t, c.dbs[2]); got != int64(total) {
			t.Fatalf("counter on n3 is %d, want %d", got, total)
		}
	})
}
