package harness

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/replbench/replbench/protocols"
	"github.com/replbench/replbench/storage"
)

// This file is the node lifecycle faults: kill, crash, stop, restart and promote. A node goes
// down in three steps, in this order, so that nothing the dead process does afterwards can
// reach what survives: its wire is cut (its endpoint closes: messages to it are dropped and
// it sends nothing more, no graceful leave for a kill or a crash), its engine is cloned as
// the storage's durability model says (storage.Engine.Down: a kill keeps every written byte,
// a crash only the fsynced ones), and then its provider's goroutines are stopped. Its
// clients fail at once with a lost connection (2013) and retry after the refusal backoff.
//
// A restart reopens the engine on the surviving image (Pebble's WAL replay is the crash
// recovery; Engine.Position is the replication position the surviving rows carry) and
// creates a new provider with protocols.Config.Rejoin and Position, which joins the running
// group as its protocol does. The node's clients are refused until the provider's Start
// returns (the node is serving again).

// nodeLifecycle is the part of a cluster the lifecycle faults drive.
type nodeLifecycle interface {
	Lifecycle(f FaultEvent)
	// Down lists the nodes down now (killed, crashed or stopped and not restarted).
	Down() []string
	// RestartAll restarts every node that is down and waits (bounded) for them to serve;
	// it returns one line per node restarted, for the result's fault record.
	RestartAll(timeout time.Duration) []string
	// Events returns, and forgets, what the lifecycle did that the timeline should
	// record besides the event itself (a restart that failed, a node that serves again).
	Events() []lifeEvent
}

// errLostConnection is what a client of a node that is down sees, as a client of a killed
// mysqld does (CR_SERVER_LOST); classed with the refusals so the client backs off.
func errLostConnection(node string) error {
	return &protocols.Error{Code: 2013, SQLState: "HY000", Msg: "Lost connection to MySQL server during query (node " + node + " is down)", Cause: protocols.CauseNotReady}
}

// rejoinTimeout bounds a restarted node's Start: a node that cannot rejoin in this time is
// reported and left down.
const rejoinTimeout = 60 * time.Second

// lifecycle is the restart state of a cluster.
type lifecycle struct {
	mu     sync.Mutex
	down   map[string]*downNode
	wg     sync.WaitGroup // restarts in flight
	events []lifeEvent
}

// lifeEvent is something a lifecycle fault did after the event itself fired.
type lifeEvent struct {
	at  time.Time
	msg string
}

// downNode is a node that went down: the image its engine left behind.
type downNode struct {
	how        storage.Halt
	img        *vfs.MemFS
	restarting bool
	// While restarting: cancel ends the rejoin's Start, done is closed when the rejoin
	// goroutine has finished, and interrupt (with interrupted) is the halt a kill, crash
	// or stop of the rejoining process asked for.
	cancel      context.CancelFunc
	done        chan struct{}
	interrupt   storage.Halt
	interrupted bool
}

func (t *clusterTarget) index(node string) int {
	for i, m := range t.c.members {
		if m == node {
			return i
		}
	}
	return -1
}

func (t *clusterTarget) targets(node string) []string {
	if node == AllNodes {
		return append([]string(nil), t.c.members...)
	}
	return []string{node}
}

// Lifecycle implements nodeLifecycle.
func (t *clusterTarget) Lifecycle(f FaultEvent) {
	switch f.Kind {
	case FaultKill, FaultCrash, FaultStop:
		how := map[FaultKind]storage.Halt{FaultKill: storage.HaltKill, FaultCrash: storage.HaltCrash, FaultStop: storage.HaltStop}[f.Kind]
		// A coordinated fault takes every image at one instant: first every wire is cut
		// and every image taken, then the providers stop. A clean stop of one node leaves
		// the group first (protocols.Leaver), as its shutdown does.
		var stopping []int
		for _, n := range t.targets(f.Node) {
			if f.Node == AllNodes && t.downIdle(n) {
				continue // kill=all takes down what runs; a node down already stays down
			}
			if f.Kind == FaultStop && f.Node != AllNodes {
				t.leave(n)
			}
			if i := t.down(n, how); i >= 0 {
				stopping = append(stopping, i)
			}
		}
		for _, i := range stopping {
			_ = t.c.providers[i].Close()
		}
	case FaultRestart:
		for _, n := range t.targets(f.Node) {
			t.restart(n)
		}
	case FaultPromote:
		t.promote(f.Node)
	}
}

// leaveTimeout bounds a clean stop's leave (protocols.Leaver): beyond it the node goes
// down without having left, and the group expels it as it would a killed one.
const leaveTimeout = 10 * time.Second

// leave has node's provider leave the group, if it does that on a clean stop
// (protocols.Leaver) and the node is serving; the outcome is recorded as an event.
func (t *clusterTarget) leave(node string) {
	i := t.index(node)
	if i < 0 {
		return
	}
	t.lc.mu.Lock()
	down := t.lc.down[node] != nil
	t.lc.mu.Unlock()
	l, ok := t.c.providers[i].(protocols.Leaver)
	if down || !ok {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), leaveTimeout)
	defer cancel()
	msg := fmt.Sprintf("stop %s: left the group", node)
	if err := l.Leave(ctx); err != nil {
		msg = fmt.Sprintf("stop %s: %v", node, err)
	}
	t.lc.mu.Lock()
	t.lc.events = append(t.lc.events, lifeEvent{time.Now(), msg})
	t.lc.mu.Unlock()
}

// down takes node down as how says; it returns the node's index, or -1 if it was down
// already or its engine could not be taken down (recorded as an event).
func (t *clusterTarget) down(node string, how storage.Halt) int {
	i := t.index(node)
	lc := &t.lc
	lc.mu.Lock()
	defer lc.mu.Unlock()
	if lc.down == nil {
		lc.down = map[string]*downNode{}
	}
	if i < 0 {
		return -1
	}
	if d := lc.down[node]; d != nil {
		if !d.restarting {
			lc.events = append(lc.events, lifeEvent{time.Now(), fmt.Sprintf("%s %s ignored: %s is down already (%s)", how, node, node, d.how)})
			return -1
		}
		// The node is a process in recovery or joining (a restart still under way): the
		// fault takes that process down. Its rejoin is cancelled and, when its Start has
		// returned, the rejoin goroutine takes the new engine down as asked (interrupt), so
		// the node stays down with what the interrupted process left.
		d.interrupt, d.interrupted = how, true
		cancel, done := d.cancel, d.done
		lc.mu.Unlock()
		cancel()
		<-done
		lc.mu.Lock()
		if lc.down[node] != nil {
			return -1 // down with the image the interrupted rejoin left (its event is recorded)
		}
		// The rejoin had finished before the cancel reached it: the node serves, and goes
		// down as any serving node does.
	}
	if !t.c.engines[i].Crashable() {
		lc.events = append(lc.events, lifeEvent{time.Now(), fmt.Sprintf("%s %s refused: node faults need in-memory nodes (no --data-dir)", how, node)})
		return -1
	}
	g := t.c.gate(node)
	g.mu.Lock()
	g.downErr = errLostConnection(node)
	g.downs.Add(1)
	g.mu.Unlock()
	t.mu.Lock()
	if t.paused[node] { // a dead process is not paused any more
		delete(t.paused, node)
		t.clogNode(node, false)
		g.resume()
	}
	t.mu.Unlock()
	if how == storage.HaltStop {
		// A clean shutdown: the provider leaves the group and its appliers finish before
		// the engine flushes and closes.
		_ = t.c.providers[i].Close()
	}
	_ = t.c.eps[i].Close() // a killed process says no goodbye
	img, err := t.c.engines[i].Down(how, int64(i)+1)
	if err != nil {
		lc.events = append(lc.events, lifeEvent{time.Now(), fmt.Sprintf("%s %s failed: %v", how, node, err)})
		return -1
	}
	lc.down[node] = &downNode{how: how, img: img}
	return i
}

// restart reopens node's engine from its image and starts a rejoining provider in the
// background; it reports whether it started one (false: the node is not down, or its
// restart is under way already).
func (t *clusterTarget) restart(node string) bool {
	lc := &t.lc
	lc.mu.Lock()
	d := lc.down[node]
	if d == nil || d.restarting {
		lc.mu.Unlock()
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), rejoinTimeout)
	d.restarting, d.interrupted = true, false
	d.cancel, d.done = cancel, make(chan struct{})
	done := d.done
	lc.wg.Add(1)
	lc.mu.Unlock()
	go func() {
		defer lc.wg.Done()
		defer close(done)
		defer cancel()
		err := t.rejoin(ctx, node, d)
		lc.mu.Lock()
		switch {
		case err != nil && d.interrupted:
			d.restarting = false
			lc.events = append(lc.events, lifeEvent{time.Now(), fmt.Sprintf("%s %s while it rejoined: it stays down with what the interrupted rejoin left", d.interrupt, node)})
		case err != nil:
			d.restarting = false
			lc.events = append(lc.events, lifeEvent{time.Now(), fmt.Sprintf("restart %s failed: %v", node, err)})
		default:
			delete(lc.down, node)
			lc.events = append(lc.events, lifeEvent{time.Now(), fmt.Sprintf("%s serving again after %s", node, d.how)})
		}
		lc.mu.Unlock()
	}()
	return true
}

// rejoin is the restart itself: recovery, a new provider, its Start, the gate opened. A
// Start that fails (its timeout, or a kill, crash or stop of the joining process, which
// cancels ctx) leaves the node down: the new provider is closed and the new engine taken
// down as the interrupting fault says (a kill if the process gave up on its own), so the
// next restart recovers from what this attempt left and never opens an image an engine
// still writes to.
func (t *clusterTarget) rejoin(ctx context.Context, node string, d *downNode) error {
	i := t.index(node)
	e, err := storage.Reopen(t.c.opts[i], d.img)
	if err != nil {
		return fmt.Errorf("recovery: %w", err)
	}
	t.c.retire(t.c.engines[i])
	t.c.engines[i] = e
	pos := e.Position()
	p, err := t.c.spawn(i, protocols.Config{Rejoin: true, Position: pos, Source: t.c.source})
	if err != nil {
		t.abandon(i, d, e, nil)
		return err
	}
	t.c.providers[i] = p
	if err := p.Start(ctx); err != nil {
		t.abandon(i, d, e, p)
		return fmt.Errorf("rejoin from position %d: %w", pos, err)
	}
	g := t.c.gate(node)
	g.eng.Store(e)
	g.mu.Lock()
	g.downErr = nil
	g.mu.Unlock()
	return nil
}

// abandon takes down a node whose rejoin did not finish: its wire is cut, its new engine
// taken down as the interrupting fault asked (HaltKill when the start failed on its own)
// and its provider, if it was created, closed. The image replaces the node's surviving
// image.
func (t *clusterTarget) abandon(i int, d *downNode, e *storage.Engine, p protocols.Provider) {
	if t.c.eps[i] != nil {
		_ = t.c.eps[i].Close()
	}
	t.lc.mu.Lock()
	how := storage.HaltKill
	if d.interrupted {
		how = d.interrupt
	}
	t.lc.mu.Unlock()
	img, err := e.Down(how, int64(i)+1)
	if p != nil {
		_ = p.Close()
	}
	if err != nil {
		// The engine could not give an image: the node keeps the one it had before this
		// attempt, which the new engine had opened but no longer writes to (it is down).
		return
	}
	t.lc.mu.Lock()
	d.img = img
	t.lc.mu.Unlock()
}

// promote makes node the source of a source/replica protocol: every live replica restarts
// its provider pointed at the new source, from the position its engine holds, and the old
// source, when it restarts, comes back as a replica of node. A node whose restart is still
// joining (recovering, or waiting for the old source's answer) was started against the old
// topology: it is stopped too (a clean shutdown of the joining process) and restarted as a
// replica of node, as an operator repoints a replica with CHANGE REPLICATION SOURCE during
// a failover. Left alone it would keep asking the old source, and rejoin it if that came
// back: two sources. The trade-off: the joining node's recovery starts over, which costs
// its restart time again.
func (t *clusterTarget) promote(node string) {
	lc := &t.lc
	i := t.index(node)
	lc.mu.Lock()
	if i < 0 || lc.down[node] != nil {
		lc.events = append(lc.events, lifeEvent{time.Now(), fmt.Sprintf("promote %s refused: the node is down", node)})
		lc.mu.Unlock()
		return
	}
	lc.mu.Unlock()
	old := t.c.source
	if old == "" {
		old = t.c.members[0] // the source a point starts with
	}
	t.c.source = node
	// Every live node stops cleanly (its engine keeps everything) and restarts under the
	// new topology; the promoted node starts as the source from its own position.
	var live []string
	for _, m := range t.c.members {
		lc.mu.Lock()
		d := lc.down[m]
		lc.mu.Unlock()
		if d == nil || d.restarting {
			live = append(live, m)
		}
		if d != nil && d.restarting {
			lc.mu.Lock()
			lc.events = append(lc.events, lifeEvent{time.Now(), fmt.Sprintf("promote %s: %s was still rejoining with %s as the source: stopped and restarted as a replica of %s", node, m, old, node)})
			lc.mu.Unlock()
		}
	}
	var stopping []int
	for _, m := range live {
		if k := t.down(m, storage.HaltStop); k >= 0 {
			stopping = append(stopping, k)
		}
	}
	for _, k := range stopping {
		_ = t.c.providers[k].Close()
	}
	// The source first: the replicas' Start waits for it.
	t.restart(node)
	for _, m := range live {
		if m != node {
			t.restart(m)
		}
	}
}

// downIdle reports whether node is down with no restart under way.
func (t *clusterTarget) downIdle(node string) bool {
	t.lc.mu.Lock()
	defer t.lc.mu.Unlock()
	d := t.lc.down[node]
	return d != nil && !d.restarting
}

// Down implements nodeLifecycle.
func (t *clusterTarget) Down() []string {
	t.lc.mu.Lock()
	defer t.lc.mu.Unlock()
	var out []string
	for _, m := range t.c.members {
		if t.lc.down[m] != nil {
			out = append(out, m)
		}
	}
	return out
}

// RestartAll implements nodeLifecycle. A node whose restart is under way already is waited
// for, not restarted again, and not listed.
func (t *clusterTarget) RestartAll(timeout time.Duration) []string {
	var out []string
	for _, n := range t.Down() {
		if t.restart(n) {
			out = append(out, n)
		}
	}
	done := make(chan struct{})
	go func() { t.lc.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(timeout):
	}
	return out
}

// Events implements nodeLifecycle.
func (t *clusterTarget) Events() []lifeEvent {
	t.lc.mu.Lock()
	defer t.lc.mu.Unlock()
	out := t.lc.events
	t.lc.events = nil
	return out
}

// retire keeps an engine taken down for the cluster's close: goroutines of the dead node may
// still be inside it, so its database is released only after every provider has stopped.
func (c *cluster) retire(e *storage.Engine) {
	c.gateMu.Lock()
	defer c.gateMu.Unlock()
	c.retired = append(c.retired, e)
}

// downImage is the surviving image of node if it is down now, else nil.
func (t *clusterTarget) downImage(node string) *vfs.MemFS {
	t.lc.mu.Lock()
	defer t.lc.mu.Unlock()
	if d := t.lc.down[node]; d != nil {
		return d.img
	}
	return nil
}
