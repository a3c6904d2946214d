package galera

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/replbench/replbench/galera/gcs"
	"github.com/replbench/replbench/galera/replicator"
	"github.com/replbench/replbench/internal/driver"
	"github.com/replbench/replbench/protocols"
	"github.com/replbench/replbench/protocols/monitor"
	"github.com/replbench/replbench/protocols/transport"
)

// This file and loop.go, client.go, appliers.go and status.go are the driver around the
// pure replicator machine (package replicator): the goroutines, the ticker, the bus, the
// monitors the appliers and clients block on, and the clients' wait for their own delivery.
// Nothing here decides anything Galera decides in total order.

// Provider is one Galera node.
type Provider struct {
	cfg     protocols.Config
	st      *Settings
	self, n int
	uuid    string
	ep      transport.Endpoint
	applier protocols.Applier
	index   map[string]int

	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	ready   atomic.Bool // SYNCED (or DONOR) in a primary component: serving
	started atomic.Bool
	closed  atomic.Bool

	inbox   *driver.Inbox[event]
	nextAct atomic.Uint64

	// owned by the loop goroutine
	m              *replicator.Machine
	waiters        map[uint64]*pending
	causalCh       map[uint64]chan int64
	lat            latency
	lastXfer       string
	gcache         *ringCache // galera.cache on the engine's filesystem (nil: none; gcache.go)
	recoveredCache string     // what a restart recovered from galera.cache (restart.go)
	recoveredState string     // the grastate.dat a restart found (restart.go)
	stateFS        vfs.FS     // the engine's filesystem and directory, for grastate.dat (nil: none)
	stateDir       string
	safe           bool          // safe_to_bootstrap: the last primary view had this node alone (loop-owned)
	savedView      *gcs.PrimView // the primary view gvwstate.dat restored at a restart (nil: none)
	recoveredView  string        // what a restart found of gvwstate.dat (restart.go)
	bootstrapped   string        // the bootstrap procedure's choice (replbench_bootstrap)

	applyMon, commitMon *monitor.Monitor
	queue               *driver.Queue[replicator.Apply] // the receive queue for the appliers

	// flow control's pause of this node's writers
	pauseMu   sync.Mutex
	pauseCh   chan struct{} // non-nil while writers are paused; closed on resume
	pausedAt  time.Time
	pausedNs  time.Duration
	startedAt time.Time

	// counters kept where they happen (clients, appliers)
	replicated, replicatedBytes atomic.Int64
	localCommits, certFailures  atomic.Int64
	causalReads                 atomic.Int64
	applyErrors                 atomic.Int64
	applyWinSum, commitWinSum   atomic.Int64
	applyWinN, commitWinN       atomic.Int64

	snapMu sync.Mutex
	snap   loopSnapshot
}

// pending is a local write-set whose client waits for its own delivery.
type pending struct {
	ws     *protocols.WriteSet
	sentAt time.Time
	done   chan verdict
}

type verdict struct {
	seqno int64
	ok    bool
}

// Verdict seqnos that are not positions.
const (
	vNotReady = -1 // the node cannot order it (1047)
	vFenced   = -2 // it overlaps a detached write-set of this node still in flight (1213)
)

// New creates one node's provider from the harness's configuration. It reads the node's
// resolved settings (cfg.Settings, a *Settings) and nothing else of the parameters.
func New(cfg protocols.Config) (protocols.Provider, error) {
	self := cfg.Index()
	if self < 0 {
		return nil, fmt.Errorf("galera: node %q is not among the members %v", cfg.Node, cfg.Members)
	}
	if cfg.Endpoint == nil || cfg.Applier == nil {
		return nil, errors.New("galera: the configuration needs an Endpoint and an Applier (the harness provides both)")
	}
	st, ok := cfg.Settings.(*Settings)
	if !ok || st == nil {
		return nil, fmt.Errorf("galera: the configuration needs *galera.Settings, got %T (resolve them with the protocol's Resolve or galera.ParseSettings)", cfg.Settings)
	}
	n := len(cfg.Members)
	p := &Provider{
		cfg: cfg, st: st, self: self, n: n, ep: cfg.Endpoint, applier: cfg.Applier,
		uuid:      protocols.NameUUID("galera"),
		index:     map[string]int{},
		inbox:     driver.NewInbox[event](),
		m:         replicator.New(st.ReplicatorConfig(self, n)),
		waiters:   map[uint64]*pending{},
		causalCh:  map[uint64]chan int64{},
		applyMon:  monitor.New(0),
		commitMon: monitor.New(0),
		queue:     driver.NewQueue[replicator.Apply](),
	}
	for i, m := range cfg.Members {
		p.index[m] = i
	}
	p.ctx, p.cancel = context.WithCancel(context.Background())
	p.snapshot()
	if err := p.openGCache(); err != nil { // restart.go
		return nil, err
	}
	return p, nil
}

// RetryAutocommit is wsrep_retry_autocommit: how many times the server should re-run an
// autocommit statement that failed certification before returning 1213.
func (p *Provider) RetryAutocommit() int { return p.st.RetryAutocommit }

// FCLimits returns the flow-control interval [lower, upper] in force.
func (p *Provider) FCLimits() (lower, upper int64) {
	p.snapMu.Lock()
	defer p.snapMu.Unlock()
	return p.snap.m.FC.Lower, p.snap.m.FC.Upper
}

// Start implements protocols.Provider. Every node starts SYNCED in one primary component of
// all members (a bootstrapped cluster); the loop then runs a state exchange in total order
// so that every member learns every pc.weight.
func (p *Provider) Start(ctx context.Context) error {
	if p.st.AutoIncControl {
		p.applier.SetAutoIncrement(p.n, p.self+1)
	}
	p.startedAt = time.Now()
	p.ep.SetHandler(p.handle)
	p.started.Store(true)
	p.saveState(-1) // running: the position is the engine's
	if !p.cfg.Rejoin && p.stateFS != nil && p.st.PCRecovery {
		// The bootstrapped cluster's primary view, as the first node writes it.
		v := p.m.Status().View
		_ = writeGvwstate(p.stateFS, p.stateDir, p.cfg.Node, p.cfg.Members,
			gcs.PrimView{ID: v.ID, ConfID: max(v.ConfID, 1), Members: v.Members, Weights: v.Weights})
	}
	p.refreshReady() // before the loop starts: from then on only the loop reads the machine
	if !p.cfg.Rejoin {
		p.inbox.Post(event{kind: evAnnounce})
	}
	p.wg.Add(1 + p.st.SlaveThreads)
	go p.loop()
	for range p.st.SlaveThreads {
		go p.applierLoop()
	}
	if p.cfg.Rejoin {
		return p.awaitSynced(ctx)
	}
	return nil
}

// Close implements protocols.Provider: it stops the loops and fails whatever still waits.
func (p *Provider) Close() error {
	if p.closed.Swap(true) {
		return nil
	}
	if p.started.Load() {
		// Leave gracefully, so the others count this node as w(left), not as lost.
		done := make(chan struct{})
		p.inbox.Post(event{kind: evLeave, done: done})
		select {
		case <-done:
		case <-time.After(time.Second):
		}
	}
	p.ready.Store(false)
	p.cancel()
	p.queue.Close()
	p.wg.Wait()
	p.gcache.close()
	// A clean shutdown records the last committed seqno and removes gvwstate.dat (a killed
	// node's image was taken before this, so for it grastate.dat still says -1 and
	// gvwstate.dat is still there).
	p.saveState(p.LastCommitted())
	if p.stateFS != nil {
		removeGvwstate(p.stateFS, p.stateDir)
	}
	return nil
}

// refreshReady is wsrep_ready: started, not closed, and serving. Only the loop calls it
// after Start, since only it reads the machine.
func (p *Provider) refreshReady() {
	p.ready.Store(p.started.Load() && !p.closed.Load() && p.m.Serving())
}
