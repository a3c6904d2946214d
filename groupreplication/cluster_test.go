package groupreplication

import (
	"context"
	"fmt"
	"maps"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/replbench/replbench/protocols"
	"github.com/replbench/replbench/protocols/prototest"
	"github.com/replbench/replbench/protocols/servicetime"
	"github.com/replbench/replbench/protocols/transport"
	"github.com/replbench/replbench/storage"
)

// table is the one table the package's tests write: id primary key, one counter column.
var table = storage.TableSchema{
	Name:       "t",
	Columns:    []storage.Column{{Name: "id", Type: storage.Int}, {Name: "v", Type: storage.Int}},
	PrimaryKey: []int{0},
}

// cluster is a group of members, each a real storage engine and a provider, over a bus
// wrapped in the network emulator. Inside a synctest bubble it runs in virtual time.
type cluster struct {
	t     testing.TB
	bus   transport.Bus
	em    *transport.Emulator
	nodes []string
	dbs   []*storage.Engine
	provs []*Provider
	sets  []protocols.Settings // each member's settings, for a restart
	opts  []storage.Options    // each member's engine options, for a restart
}

// start builds and starts an n-member cluster.
func start(t testing.TB, n int, inner transport.Bus, nw transport.Network, virtual bool, params map[string]string, perNode map[string]map[string]string, opts ...func(node string, o *storage.Options)) *cluster {
	t.Helper()
	return startCost(t, n, inner, nw, virtual, params, perNode, nil, opts...)
}

// startCost is start with each member's service-time model from cost (nil: none).
func startCost(t testing.TB, n int, inner transport.Bus, nw transport.Network, virtual bool, params map[string]string, perNode map[string]map[string]string, cost func(node string) *servicetime.Node, opts ...func(node string, o *storage.Options)) *cluster {
	t.Helper()
	c := &cluster{t: t, nodes: prototest.Nodes(n)}
	c.em = transport.NewEmulator(inner, nw, transport.EmulatorOptions{Seed: 1, Virtual: virtual})
	for _, node := range c.nodes {
		user := maps.Clone(params)
		if user == nil {
			user = map[string]string{}
		}
		maps.Copy(user, perNode[node])
		set, err := protocols.ResolveSettings(Params, ParseSettings, user)
		if err != nil {
			t.Fatal(err)
		}
		ep, err := c.em.Attach(node)
		if err != nil {
			t.Fatal(err)
		}
		so := storage.Options{Node: node}
		for _, o := range opts {
			o(node, &so)
		}
		db, err := storage.Open(so)
		if err != nil {
			t.Fatal(err)
		}
		if err := db.CreateTable(table); err != nil {
			t.Fatal(err)
		}
		var cn *servicetime.Node
		if cost != nil {
			cn = cost(node)
		}
		p, err := newProvider(protocols.Config{Node: node, Members: c.nodes, Endpoint: ep, Applier: db, Settings: set, Seed: 1, Cost: cn})
		if err != nil {
			t.Fatal(err)
		}
		db.SetReplicator(p)
		c.sets, c.opts = append(c.sets, set), append(c.opts, so)
		c.dbs = append(c.dbs, db)
		c.provs = append(c.provs, p)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := prototest.StartAll(ctx, c.provs); err != nil {
		c.close()
		t.Fatal(err)
	}
	return c
}

func (c *cluster) close() {
	prototest.CloseAll(c.provs)
	c.em.Close()
	prototest.CloseAll(c.dbs)
}

// insertLoad starts clients that insert rows with distinct keys on member 0 until the
// returned stop is called; stop returns once they have all finished. Each commit adds one
// to committed when it is not nil. A failed insert is a test error and ends that client.
func (c *cluster) insertLoad(ctx context.Context, clients int, committed *atomic.Int64) (stop func()) {
	var done atomic.Bool
	var wg sync.WaitGroup
	for cl := range clients {
		wg.Go(func() {
			for i := int64(0); !done.Load(); i++ {
				if err := c.insert(ctx, 0, int64(cl)<<32|i); err != nil {
					c.t.Errorf("client %d: %v", cl, err)
					return
				}
				if committed != nil {
					committed.Add(1)
				}
			}
		})
	}
	return func() {
		done.Store(true)
		wg.Wait()
	}
}

// insert runs one autocommit INSERT on member i.
func (c *cluster) insert(ctx context.Context, i int, id int64) error {
	tx := c.dbs[i].Begin()
	tx.SetAutocommit(true)
	if _, err := tx.Insert(ctx, "t", storage.Row{id, int64(0)}); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit(ctx)
}

// increment runs UPDATE t SET v=v+1 WHERE id=? on member i: the hotspot transaction.
func (c *cluster) increment(ctx context.Context, i int, id int64) error {
	tx := c.dbs[i].Begin()
	r, err := tx.GetForUpdate(ctx, "t", id)
	if err != nil {
		tx.Rollback()
		return err
	}
	if r == nil {
		tx.Rollback()
		return fmt.Errorf("row %d missing on %s", id, c.nodes[i])
	}
	r[1] = r[1].(int64) + 1
	if err := tx.Update(ctx, "t", r); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit(ctx)
}

// quiesce waits until every member has committed the same position, then compares the
// tables' checksums: the harness's convergence check.
func (c *cluster) quiesce(ctx context.Context) (converged bool) {
	if err := prototest.Converge(time.Minute, time.Millisecond, c.provs[0].queueEmpty, c.provs, c.nodes, c.dbs); err != nil {
		c.t.Log(err)
		return false
	}
	return true
}

// status returns one status variable of member i.
func (c *cluster) status(i int, name string) string {
	v, ok := prototest.Status(c.provs[i], name)
	if !ok {
		c.t.Fatalf("no status variable %s", name)
	}
	return v
}
