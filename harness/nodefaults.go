package harness

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/replbench/replbench/protocols/servicetime"
	"github.com/replbench/replbench/protocols/transport"
	"github.com/replbench/replbench/storage"
	"github.com/replbench/replbench/workloads"
)

// nodeGate is the door between a node's clients and its engine. A paused node's clients
// block at the door (every statement waits until the node resumes or the client's context
// ends), as the connections of a SIGSTOPped mysqld hang: the socket is open, nothing answers.
// The gate sits in front of the engine rather than inside it because a paused process does
// not fail statements, it just does not run them.
type nodeGate struct {
	mu      sync.Mutex
	paused  bool
	resumed chan struct{} // closed on resume; replaced on pause
	downErr error         // the node is down (killed, crashed, stopped, restarting): fail at once
	downs   atomic.Uint64 // how many times the node went down

	eng atomic.Pointer[storage.Engine] // the node's engine now (a restart replaces it)
}

func newNodeGate() *nodeGate {
	ch := make(chan struct{})
	close(ch)
	return &nodeGate{resumed: ch}
}

// pause closes the door; it reports false if it was already closed.
func (g *nodeGate) pause() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.paused {
		return false
	}
	g.paused = true
	g.resumed = make(chan struct{})
	return true
}

// resume opens the door and wakes every blocked client; it reports false if it was open.
func (g *nodeGate) resume() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.paused {
		return false
	}
	g.paused = false
	close(g.resumed)
	return true
}

// wait blocks while the node is paused; it returns the context's error if the context ends
// first (the run's watchdog or the end of the phase), so a client never outlives its phase.
func (g *nodeGate) wait(ctx context.Context) error {
	g.mu.Lock()
	ch, down := g.resumed, g.downErr
	g.mu.Unlock()
	if down != nil {
		return down
	}
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// gatedDB is a node's engine seen through its gate.
type gatedDB struct {
	e *storage.Engine
	g *nodeGate
}

func (d gatedDB) Node() string { return d.e.Node() }
func (d gatedDB) Begin() workloads.Tx {
	e := d.e
	if cur := d.g.eng.Load(); cur != nil {
		e = cur
	}
	return gatedTx{inner: workloads.OnEngine(e).Begin(), g: d.g, node: e.Node()}
}

// gatedTx waits at the gate before every statement that takes a context; SetAutocommit and
// Rollback only touch client-side state or release locks, which a paused node's connection
// cannot do either, but blocking them without a context could hang the client for good.
type gatedTx struct {
	inner workloads.Tx
	g     *nodeGate
	node  string
}

func (t gatedTx) SetAutocommit(on bool) { t.inner.SetAutocommit(on) }
func (t gatedTx) Get(ctx context.Context, table string, pk ...storage.Value) (storage.Row, error) {
	if err := t.g.wait(ctx); err != nil {
		return nil, err
	}
	return t.inner.Get(ctx, table, pk...)
}
func (t gatedTx) GetForUpdate(ctx context.Context, table string, pk ...storage.Value) (storage.Row, error) {
	if err := t.g.wait(ctx); err != nil {
		return nil, err
	}
	return t.inner.GetForUpdate(ctx, table, pk...)
}
func (t gatedTx) Scan(ctx context.Context, table string, opt storage.ScanOptions, fn func(storage.Row) bool) error {
	if err := t.g.wait(ctx); err != nil {
		return err
	}
	return t.inner.Scan(ctx, table, opt, fn)
}
func (t gatedTx) Insert(ctx context.Context, table string, row storage.Row) (int64, error) {
	if err := t.g.wait(ctx); err != nil {
		return 0, err
	}
	return t.inner.Insert(ctx, table, row)
}
func (t gatedTx) Update(ctx context.Context, table string, row storage.Row) error {
	if err := t.g.wait(ctx); err != nil {
		return err
	}
	return t.inner.Update(ctx, table, row)
}
func (t gatedTx) Delete(ctx context.Context, table string, pk ...storage.Value) (bool, error) {
	if err := t.g.wait(ctx); err != nil {
		return false, err
	}
	return t.inner.Delete(ctx, table, pk...)
}
func (t gatedTx) Commit(ctx context.Context) error {
	if err := t.g.wait(ctx); err != nil {
		// The connection is gone (the node went down, or the client gave up on a frozen
		// one): the server rolls the session's transaction back, so its row locks do not
		// outlive it and block the next transaction, an applier's included.
		t.inner.Rollback()
		return err
	}
	before := t.g.downs.Load()
	err := t.inner.Commit(ctx)
	if t.g.downs.Load() != before {
		// The node went down while the commit ran: whatever the engine did, the client
		// never read the OK, so the outcome is unknown to it, as a client of a killed
		// server sees.
		return errLostConnection(t.node)
	}
	return err
}
func (t gatedTx) Rollback() { t.inner.Rollback() }

// nodeFaulter is the part of a cluster the node faults drive, next to the network faults of
// faultTarget. A target that does not implement it refuses node faults (CheckNodeFaults).
type nodeFaulter interface {
	// Pause freezes a node: its clients block and every message to or from it is held.
	Pause(node string)
	// Resume releases a paused node: its clients go on and the held messages are
	// delivered in order.
	Resume(node string)
	// Paused lists the nodes paused now.
	Paused() []string
}

// clusterTarget is a cluster as the fault timeline sees it: the emulator for the network
// faults and the cluster itself for the node faults.
//
// A pause is modelled at the node's edges: the emulator holds every message to and from the
// node (a clog both ways, released in order on resume, as a resumed process reads its
// socket backlog) and the node's clients block at its gate. The node's provider goroutines
// and timers keep running inside, so a protocol that acts on a timer alone (a raft
// election timeout) sees time pass during the pause, as a resumed process does when it
// reads the clock; everything such a timer sends is held until the resume. A heal does not
// end a pause: only resume does.
type clusterTarget struct {
	*transport.Emulator
	c *cluster

	mu     sync.Mutex
	paused map[string]bool

	lc lifecycle // kill, crash, stop, restart (nodefaults_restart.go)
}

func newClusterTarget(c *cluster) *clusterTarget {
	t := &clusterTarget{Emulator: c.emu, c: c, paused: map[string]bool{}}
	c.faults = t
	return t
}

func (t *clusterTarget) clogNode(node string, on bool) { clogNodeLinks(t, t.c.members, node, on) }

// Pause implements nodeFaulter. A node that is down and not restarting has no process to
// freeze: the pause is recorded as ignored (checkTimeline refuses such a timeline before the
// run; this covers a restart that failed at run time). A node whose restart is under way is
// paused in the middle of its rejoin, as SIGSTOP would freeze a joining mysqld.
func (t *clusterTarget) Pause(node string) {
	t.lc.mu.Lock()
	if d := t.lc.down[node]; d != nil && !d.restarting {
		t.lc.events = append(t.lc.events, lifeEvent{time.Now(), fmt.Sprintf("pause %s ignored: %s is down (%s), there is no process to freeze", node, node, d.how)})
		t.lc.mu.Unlock()
		return
	}
	t.lc.mu.Unlock()
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.paused[node] {
		return
	}
	t.paused[node] = true
	t.clogNode(node, true)
	t.c.gate(node).pause()
}

// Resume implements nodeFaulter.
func (t *clusterTarget) Resume(node string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.paused[node] {
		return
	}
	delete(t.paused, node)
	t.clogNode(node, false)
	t.c.gate(node).resume()
}

// Paused implements nodeFaulter.
func (t *clusterTarget) Paused() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []string
	for _, m := range t.c.members {
		if t.paused[m] {
			out = append(out, m)
		}
	}
	return out
}

// Heal ends every cut and clog but keeps paused nodes paused: their links are clogged again
// at once, so a heal in the middle of a pause does not wake the node.
func (t *clusterTarget) Heal() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.Emulator.Heal()
	for _, m := range t.c.members {
		if t.paused[m] {
			t.clogNode(m, true)
		}
	}
}

// gate returns the node's gate, creating the gates on first use.
func (c *cluster) gate(node string) *nodeGate {
	c.gateMu.Lock()
	defer c.gateMu.Unlock()
	if c.gates == nil {
		c.gates = map[string]*nodeGate{}
	}
	g, ok := c.gates[node]
	if !ok {
		g = newNodeGate()
		c.gates[node] = g
	}
	return g
}

// clientDB is the DB a client of node (engine index idx) uses: the engine behind the node's
// gate.
func (c *cluster) clientDB(node string, idx int) workloads.DB {
	var cost *servicetime.Node
	if idx < len(c.costs) {
		cost = c.costs[idx]
	}
	return withCosts(gatedDB{e: c.engines[idx], g: c.gate(node)}, cost)
}
