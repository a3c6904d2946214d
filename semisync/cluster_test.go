package semisync

import (
	"context"
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"io"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/replbench/replbench/protocols"
	"github.com/replbench/replbench/protocols/prototest"
	"github.com/replbench/replbench/protocols/transport"
)

// fakeApplier is a table of rows keyed by primary key: enough to check that replicas end
// with the source's data, without the storage engine's goroutines in a synctest bubble.
type fakeApplier struct {
	mu      sync.Mutex
	rows    map[string]string
	applied int
	// work is how long PrepareApply takes: the applier's execution of the row changes,
	// which parallel workers overlap (the in-order commit after it is instant).
	work          time.Duration
	busy, maxBusy int                                     // concurrent PrepareApply calls now and at most
	workOf        func(*protocols.WriteSet) time.Duration // overrides work when set
	order         []int64                                 // positions in the order they committed
}

func newFakeApplier() *fakeApplier { return &fakeApplier{rows: map[string]string{}} }

func (f *fakeApplier) write(ws *protocols.WriteSet) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, r := range ws.Rows {
		if r.Op == protocols.OpDelete {
			delete(f.rows, string(r.Row))
		} else {
			f.rows[string(r.Row)] = string(r.After)
		}
	}
}

func (f *fakeApplier) PrepareApply(ctx context.Context, ws *protocols.WriteSet) (protocols.Applied, error) {
	work := f.work
	if f.workOf != nil {
		work = f.workOf(ws)
	}
	if work > 0 {
		f.mu.Lock()
		f.busy++
		f.maxBusy = max(f.maxBusy, f.busy)
		f.mu.Unlock()
		time.Sleep(work)
		f.mu.Lock()
		f.busy--
		f.mu.Unlock()
	}
	return &fakeApplied{f: f, ws: ws}, nil
}
func (f *fakeApplier) SetAutoIncrement(increment, offset int) {}
func (f *fakeApplier) Checksums() (map[string]uint64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	keys := make([]string, 0, len(f.rows))
	for k := range f.rows {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	h := fnv.New64a()
	for _, k := range keys {
		io.WriteString(h, k+"="+f.rows[k]+";")
	}
	return map[string]uint64{"t": h.Sum64()}, nil
}
func (f *fakeApplier) Snapshot(w io.Writer) error { return nil }
func (f *fakeApplier) Restore(r io.Reader) error  { return nil }

type fakeApplied struct {
	f  *fakeApplier
	ws *protocols.WriteSet
}

func (a *fakeApplied) Commit() error {
	a.f.write(a.ws)
	a.f.mu.Lock()
	a.f.order = append(a.f.order, a.ws.Seqno)
	a.f.applied++
	a.f.mu.Unlock()
	return nil
}
func (a *fakeApplied) Abort() {}

// vcluster is a source and replicas over the emulator on a MemBus, for use inside a
// synctest bubble.
type vcluster struct {
	t     *testing.T
	em    *transport.Emulator
	nodes []string
	provs []*Provider
	apps  []*fakeApplier
	trx   uint64
	mu    sync.Mutex
}

// resolve is the settings every node of a test cluster runs with, resolved as the harness
// resolves them (the protocol's parameter list, then its Parse).
func resolve(t testing.TB, proto string, user map[string]string) protocols.Settings {
	t.Helper()
	def, err := protocols.Lookup(proto)
	if err != nil {
		t.Fatal(err)
	}
	st, err := def.Resolve(user)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func newVCluster(t *testing.T, n int, nw transport.Network, proto string, user map[string]string) *vcluster {
	t.Helper()
	c := &vcluster{t: t, em: transport.NewEmulator(transport.NewMemBus(), nw, transport.EmulatorOptions{Seed: 1, Virtual: true})}
	c.nodes = prototest.Nodes(n)
	ps := resolve(t, proto, user)
	for _, node := range c.nodes {
		ep, err := c.em.Attach(node)
		if err != nil {
			t.Fatal(err)
		}
		app := newFakeApplier()
		pv, err := New(protocols.Config{Node: node, Members: c.nodes, Endpoint: ep, Applier: app, Settings: ps, Seed: 1})
		if err != nil {
			t.Fatal(err)
		}
		c.provs = append(c.provs, pv.(*Provider))
		c.apps = append(c.apps, app)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := prototest.StartAll(ctx, c.provs); err != nil {
		t.Fatal(err)
	}
	return c
}

func (c *vcluster) close() {
	prototest.CloseAll(c.provs)
	c.em.Close()
}

// commit runs one transaction on the source the way the storage engine does: Replicate,
// then Apply with the engine commit. visible is called when the engine commit runs.
func (c *vcluster) commit(ctx context.Context, key uint64, visible func()) error {
	c.mu.Lock()
	c.trx++
	id := c.trx
	c.mu.Unlock()
	row := binary.BigEndian.AppendUint64(nil, key)
	val := []byte(fmt.Sprintf("v%d", id))
	ws := &protocols.WriteSet{Source: "n1", TrxID: id, Flags: protocols.FlagAutocommit,
		Keys: []protocols.Key{{Table: "t", Row: row, Type: protocols.KeyExclusive}},
		Rows: []protocols.RowChange{{Table: "t", Op: protocols.OpUpdate, Row: row, After: val}}}
	cm, err := c.provs[0].Replicate(ctx, ws)
	if err != nil {
		return err
	}
	return cm.Apply(ctx, func() error {
		c.apps[0].write(ws)
		if visible != nil {
			visible()
		}
		return nil
	})
}

// converge waits (in virtual time) until every node has committed the source's last
// position, then checks that every replica holds the source's rows.
func (c *vcluster) converge(limit time.Duration) {
	c.t.Helper()
	if err := prototest.Converge(limit, 10*time.Millisecond, nil, c.provs, c.nodes, c.apps); err != nil {
		c.t.Fatal(err)
	}
}

func status(p *Provider, name string) string {
	if v, ok := prototest.Status(p, name); ok {
		return v
	}
	return "<missing " + name + ">"
}
