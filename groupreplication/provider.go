// Package groupreplication is the MySQL Group Replication model: transaction messages are
// agreed by a majority (etcd raft standing in for XCom), every member certifies them in the
// agreed order with the same deterministic certifier, the originator commits or rolls back
// (3101) on its verdict, and the others apply positive ones with parallel workers.
//
// A commit in the default EVENTUAL consistency costs one round trip from the primary to
// the nearest majority of members, plus local certification and commit: it does not wait
// for remote members to apply, so a slow minority costs nothing until flow control (a
// 1-second quota loop fed by stats every member broadcasts) caps the writers at the
// laggard's pace. Stronger consistency levels buy read-your-writes guarantees with extra
// ordering rounds and waits, as in the server.
//
// Single-primary mode (the default) keeps the primary on the raft leader, n1: secondaries
// refuse writes with 1290 and certification skips conflict detection, since one writer
// cannot conflict with itself. Multi-primary mode lets every member write; concurrent
// writes to one row are decided by the agreed order and the loser's client gets 3101.
//
// A restarted server is a new incarnation, as in XCom, where the node address carries one:
// every message and every bus frame names its sender's incarnation, the group view holds
// each member as one incarnation, and only the view's incarnation counts (its messages
// are certified, its frames keep it alive in the failure detector). An old incarnation
// stays in the view, UNREACHABLE after 5 s of silence, until the notifier expels it after
// group_replication_member_expel_timeout (a new primary is elected if it was the
// primary); the new incarnation's join is refused until then and goes through after, as
// a new member; what the old one had in flight is dropped. How that maps onto raft is a
// trade-off: the raft peer stays the member's host (its id and its persisted log), not
// its incarnation, so raft's voter set never changes. Giving each incarnation a new raft
// id (conf change out for the old, in for the new) would make raft's majority follow the
// view, but the new peer would have to discard its durable log and be sent a snapshot,
// and the id-to-node mapping would have to be agreed and persisted. The cost of not
// doing it: between the restart and the expulsion raft counts the new incarnation's
// acknowledgements toward its majority, where XCom's configuration still holds a dead
// incarnation that acknowledges nothing. With 3 members that changes nothing unless one
// of the two others is also slow or gone (XCom then blocks until the expulsion; raft
// does not); ordering, certification and the view are XCom's either way.
//
// This package is the driver around pure state machines: agreement (raft), group (what
// an agreed message does: certifier, flow control, view, primary, member state) and the
// smaller ones below them. The driver owns everything that waits or runs: the goroutines,
// the tickers, the bus, the commit monitor, the appliers, and the channels clients wait
// on. Its files:
//
//   - provider.go: the Provider, its construction, Start and Close, and how the machine's
//     effects are carried out (step);
//   - driver_raft.go: the bus handler and the raft loop (ticks, raft I/O, proposals);
//   - driver_pipeline.go: the certification pipeline, the appliers, the broadcast loop;
//   - driver_client.go: what a client calls (the gate, Replicate, commit, SyncWait);
//   - driver_rejoin.go: auto-rejoin and manual rejoin;
//   - clone.go: distributed recovery by clone (donor and joiner);
//   - status.go, wire.go, settings.go, register.go: status variables, bus frames,
//     parameters, registration.
package groupreplication

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/raft/v3/raftpb"

	"github.com/replbench/replbench/groupreplication/agreement"
	"github.com/replbench/replbench/groupreplication/certifier"
	"github.com/replbench/replbench/groupreplication/group"
	"github.com/replbench/replbench/internal/driver"
	"github.com/replbench/replbench/protocols"
	"github.com/replbench/replbench/protocols/monitor"
)

// MemberRow is one row of performance_schema.replication_group_members (Provider.Members).
type MemberRow = group.MemberRow

// Provider is one member of the group.
type Provider struct {
	cfg   protocols.Config
	set   *Settings
	self  int // member index
	group string
	node  *agreement.Node // owned by the raft loop

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	commitMon *monitor.Monitor // commit order over positions of the agreed order

	// raft loop inputs: received raft messages and proposals
	inbox *driver.Inbox[raftInput]
	// heard holds, by member, when a frame last came from it since the last tick (time
	// since epoch plus 1ns; 0: nothing), for the failure detector.
	heard    []atomic.Int64
	heardInc []atomic.Int64 // by member, the incarnation of the last frame heard
	epoch    time.Time

	// certification pipeline input: committed entries not yet processed
	pipeMu    sync.Mutex
	pipeQ     []agreement.Entry // under pipeMu
	pipeTxns  atomic.Int64      // transaction messages among them (COUNT_TRANSACTIONS_IN_QUEUE)
	pipeIndex atomic.Uint64     // raft index of the last entry the pipeline handled
	// pipeRun is held (a token in a one-slot channel) by the pipeline while it handles
	// entries, and by a clone. A channel rather than a mutex: a clone holds it while it
	// waits for a donor, and a goroutine blocked on a channel is durably blocked, so
	// virtual time (testing/synctest) still advances; one blocked on a mutex would stop
	// the clock with the donor's answer still on the wire.
	pipeRun  chan struct{}
	pipeWake chan struct{}
	applyQ   *driver.Queue[group.Apply] // pipeline -> applier workers

	// mu guards the machine and the waits below, which follow its effects.
	mu         sync.Mutex
	m          *group.Machine
	changed    chan struct{} // closed and replaced when the machine reports a change
	fcStep     chan struct{} // closed and replaced at every flow-control step
	waiters    map[int64]chan certifier.Result
	syncs      map[int64]chan int64
	preparedCh map[int64]chan struct{} // AFTER positions a commit waits on
	afterHeld  int                     // AFTER transactions prepared here and not yet committed
	afterDone  chan struct{}           // closed and replaced when afterHeld drops
	nextID     atomic.Int64
	rejoinWake chan struct{}

	// counters
	localProposed, localRollback, remoteApplied, applierErrors atomic.Int64
	applyQueued                                                atomic.Int64
	corruptFrames                                              atomic.Int64
	cachedBytes                                                atomic.Uint64 // the raft log held (XCom cache)
	instancesMax                                               atomic.Int64  // most XCom instances in flight at once (driver_horizon.go)

	clone cloneState // clone.go

	// restart and recovery (driver_restart.go)
	store       logStore  // the engine's agreed log; nil: the log is in memory only
	saved       persisted // the log state last written, owned by the raft loop
	incarnation int64     // group.Config.Incarnation
	recovered   int64     // the engine's recovered position: not applied again
	lostAt      uint64    // a restart found its log compacted at this index: clone
}

// raftInput is one event for the raft loop: raft messages from a peer, or a proposal.
type raftInput struct {
	msgs []raftpb.Message
	prop []byte
}

// New creates one member. It does not talk to anyone until Start.
func New(cfg protocols.Config) (protocols.Provider, error) {
	return newProvider(cfg)
}

func newProvider(cfg protocols.Config) (*Provider, error) {
	self := cfg.Index()
	if self < 0 {
		return nil, fmt.Errorf("group-replication: node %q is not in members %v", cfg.Node, cfg.Members)
	}
	if len(cfg.Members) > 9 {
		return nil, fmt.Errorf("group-replication: %d members; a group has at most 9 (use --nodes 9 or fewer)", len(cfg.Members))
	}
	if cfg.Endpoint == nil || cfg.Applier == nil {
		return nil, errors.New("group-replication: Config needs an Endpoint and an Applier")
	}
	set, ok := cfg.Settings.(*Settings)
	if !ok {
		return nil, fmt.Errorf("group-replication: Config.Settings is %T, want *groupreplication.Settings (resolve the parameters with the protocol's Resolve or ParseSettings)", cfg.Settings)
	}
	peers := make([]uint64, len(cfg.Members))
	for i := range peers {
		peers[i] = uint64(i + 1)
	}
	ac := agreement.DefaultConfig(uint64(self+1), peers)
	ac.ElectionTick = set.RaftElectionTicks
	ac.CacheBytes = set.MessageCacheSize
	uuids := make([]string, len(cfg.Members))
	for i, m := range cfg.Members {
		uuids[i] = memberUUID(m)
	}
	now := time.Now()
	p := &Provider{
		cfg:       cfg,
		set:       set,
		self:      self,
		group:     protocols.NameUUID("group-replication"),
		commitMon: monitor.New(0),
		inbox:     driver.NewInbox[raftInput](),
		heard:     make([]atomic.Int64, len(cfg.Members)),
		heardInc:  make([]atomic.Int64, len(cfg.Members)),
		epoch:     now,
		pipeWake:  make(chan struct{}, 1),
		pipeRun:   make(chan struct{}, 1),
		applyQ:    driver.NewQueue[group.Apply](),

		changed:    make(chan struct{}),
		fcStep:     make(chan struct{}),
		waiters:    map[int64]chan certifier.Result{},
		syncs:      map[int64]chan int64{},
		preparedCh: map[int64]chan struct{}{},
		afterDone:  make(chan struct{}),
		rejoinWake: make(chan struct{}, 1),
	}
	p.store, _ = cfg.Applier.(logStore)
	if cfg.Rejoin {
		p.incarnation = now.UnixNano()
		if err := p.restartNode(ac); err != nil {
			return nil, err
		}
	} else {
		node, err := agreement.New(ac)
		if err != nil {
			return nil, err
		}
		p.node = node
	}
	mc := machineConfig(cfg, set, uuids)
	mc.Incarnation = p.incarnation
	p.m = group.New(mc, now)
	p.ctx, p.cancel = context.WithCancel(context.Background())
	return p, nil
}

// machineConfig is the part of the settings the group machine decides with.
func machineConfig(cfg protocols.Config, set *Settings, uuids []string) group.Config {
	return group.Config{
		Self: cfg.Index(), Members: cfg.Members, UUIDs: uuids,
		SinglePrimary: set.SinglePrimary, Consistency: set.Consistency,
		GTIDBlockSize: set.GTIDBlockSize, FlowControl: set.FlowControl,
		ExpelTimeout: set.ExpelTimeout, UnreachableMajorityTimeout: set.UnreachableMajorityTimeout,
		ExitAction: set.ExitAction, AutorejoinTries: set.AutorejoinTries, MemberWeight: set.MemberWeight,
		Tick: set.RaftTick,
	}
}

// Start joins the group: it starts the member's loops, has n1 campaign, and returns once
// this member is ONLINE with a primary elected (single-primary) or a leader known
// (multi-primary), or when ctx ends.
func (p *Provider) Start(ctx context.Context) error {
	if !p.set.SinglePrimary && p.set.AutoIncrementIncrement > 0 {
		// group_replication_auto_increment_increment, offset = server_id.
		p.cfg.Applier.SetAutoIncrement(int(p.set.AutoIncrementIncrement), p.self+1)
	}
	p.cfg.Endpoint.SetHandler(p.receive)
	p.mu.Lock()
	var eff group.Effects
	if p.cfg.Rejoin {
		eff = p.startRestarted(time.Now())
	} else {
		eff = p.m.Start(time.Now())
	}
	w := p.takeLocked(&eff)
	p.mu.Unlock()
	if eff.Campaign {
		// Before the raft loop runs, which owns the node from then on.
		_ = p.node.Campaign()
	}
	p.wg.Add(5 + p.set.ApplierWorkers)
	go p.rejoiner()
	go p.raftLoop()
	go p.pipeline()
	go p.broadcaster()
	p.startWorkers()
	p.carry(eff, w)
	for {
		p.mu.Lock()
		ready, failed := p.m.Ready()
		if p.cfg.Rejoin {
			// A restarted member in ERROR is still recovering while its auto-rejoin
			// (a clone, another join after an expulsion) has tries left.
			failed = failed && p.m.GaveUp()
		}
		ch := p.changed
		p.mu.Unlock()
		if failed {
			return fmt.Errorf("group-replication: %s is in ERROR state", p.cfg.Node)
		}
		if ready {
			return nil
		}
		if err := p.awaitChange(ctx, ch, "did not come ONLINE", "is a majority of members started and reachable?"); err != nil {
			return err
		}
	}
}

// awaitChange waits for ch (closed at the machine's next change), and returns an error
// saying what the member did not do (what, with hint on what to check) if ctx ends first,
// or if the provider is closed meanwhile.
func (p *Provider) awaitChange(ctx context.Context, ch <-chan struct{}, what, hint string) error {
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("group-replication: %s %s: %w (%s)", p.cfg.Node, what, ctx.Err(), hint)
	case <-p.ctx.Done():
		return fmt.Errorf("group-replication: %s was closed while it waited (%s)", p.cfg.Node, what)
	}
}

// Leave is STOP GROUP_REPLICATION, the first step of a clean shutdown (the harness's
// stop fault calls it before Close): the member proposes its own removal from the view
// and returns once it is delivered here, the member OFFLINE and out of every member's
// view, and, if it was the raft leader, once leadership has moved to the primary the
// others elected (so its raft peer's shutdown does not cost the group an election
// timeout). The others change their view at that point of the order at once, where a
// killed member is only expelled after the suspicion and expel timeouts. It returns
// ctx's error if that does not happen in time (no majority: the removal cannot be
// agreed); the shutdown then goes on, and the group expels the member as a killed one.
// Close alone (every run's teardown) does not leave: it is the process going away.
func (p *Provider) Leave(ctx context.Context) error {
	p.step((*group.Machine).Leave)
	for {
		p.mu.Lock()
		left, leaving, lead, ch := p.m.Left(), p.m.Leaving(), p.m.Lead(), p.changed
		p.mu.Unlock()
		if left && lead != p.self {
			return nil
		}
		if !left && !leaving {
			return nil // not in the group (OFFLINE, ERROR, or expelled meanwhile)
		}
		if err := p.awaitChange(ctx, ch, "could not leave the group", "is a majority of members reachable?"); err != nil {
			return err
		}
	}
}

// Close leaves the group and stops every goroutine.
func (p *Provider) Close() error {
	p.cancel()
	p.applyQ.Close()
	p.wg.Wait()
	p.step((*group.Machine).Stop)
	_ = p.cfg.Endpoint.Close()
	return nil
}

// step feeds the machine one input under p.mu and carries out the effects. in runs with
// p.mu held, so it may also update the driver's wait maps in the same critical section.
func (p *Provider) step(in func(*group.Machine) group.Effects) group.Effects {
	p.mu.Lock()
	eff := in(p.m)
	w := p.takeLocked(&eff)
	p.mu.Unlock()
	p.carry(eff, w)
	return eff
}

// wakeups are the channel sends step does once p.mu is released.
type wakeups struct {
	verdicts []answer[certifier.Result]
	syncs    []answer[int64]
}

// answer is one reply to a waiting client.
type answer[T any] struct {
	ch chan T
	v  T
}

// takeWaiter removes the client waiting under id; a dropped message closes its channel
// (the client gets ErrRolledBack), anything else is queued as an answer.
func takeWaiter[T any](waits map[int64]chan T, id int64, dropped bool, v T, out *[]answer[T]) {
	ch := waits[id]
	delete(waits, id)
	switch {
	case ch == nil:
	case dropped:
		close(ch)
	default:
		*out = append(*out, answer[T]{ch, v})
	}
}

// closeWaiters rolls back every waiting client of waits.
func closeWaiters[T any](waits map[int64]chan T) {
	for id, ch := range waits {
		close(ch)
		delete(waits, id)
	}
}

// takeLocked does the part of eff that touches the wait maps: it takes the channels of the
// answered clients, closes those of clients rolled back (which then get ErrRolledBack) and
// wakes whoever waits on a change, a flow-control step or an AFTER position. p.mu held.
func (p *Provider) takeLocked(eff *group.Effects) (w wakeups) {
	for _, v := range eff.Verdicts {
		takeWaiter(p.waiters, v.ID, v.Dropped, v.Result, &w.verdicts)
	}
	for _, s := range eff.Syncs {
		takeWaiter(p.syncs, s.ID, s.Dropped, s.Position, &w.syncs)
	}
	if eff.RolledBack {
		closeWaiters(p.waiters)
		closeWaiters(p.syncs)
	}
	for _, seq := range eff.Prepared {
		if ch := p.preparedCh[seq]; ch != nil {
			close(ch)
			delete(p.preparedCh, seq)
		}
	}
	if eff.FlowStep {
		close(p.fcStep)
		p.fcStep = make(chan struct{})
	}
	if eff.Changed {
		close(p.changed)
		p.changed = make(chan struct{})
	}
	return w
}

// carry does the rest of eff, without p.mu: fill the commit-order slots of negative
// verdicts, answer clients, queue applies, propose, start the deferred control messages
// and the auto-rejoin. The raft loop acts on Beacon, Campaign and Transfer itself.
func (p *Provider) carry(eff group.Effects, w wakeups) {
	for _, seq := range eff.Cancel {
		p.commitMon.Cancel(seq)
	}
	for _, a := range w.verdicts {
		a.ch <- a.v
	}
	for _, a := range w.syncs {
		a.ch <- a.v
	}
	for _, a := range eff.Applies {
		p.applyQueued.Add(1)
		p.applyQ.Push(a)
	}
	for _, d := range eff.Proposals {
		p.propose(d)
	}
	for _, a := range eff.Awaits {
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			if p.commitMon.WaitFor(p.ctx, a.Position) == nil {
				p.step(func(m *group.Machine) group.Effects { return m.ProposeControl(a.Then) })
			}
		}()
	}
	if eff.Rejoin {
		driver.Signal(p.rejoinWake)
	}
}

// propose queues data for the agreed log.
func (p *Provider) propose(data []byte) { p.inbox.Post(raftInput{prop: data}) }

// LastCommitted implements protocols.Provider: the last position of the agreed order of
// transaction messages below which every one has committed (or rolled back) here.
func (p *Provider) LastCommitted() int64 { return p.commitMon.LastLeft() }

var _ protocols.Provider = (*Provider)(nil)

// queueEmpty reports whether nothing delivered is waiting for certification or apply.
func (p *Provider) queueEmpty() bool {
	p.pipeMu.Lock()
	n := len(p.pipeQ)
	p.pipeMu.Unlock()
	return n == 0 && p.applyQueued.Load() == 0
}

// verdictDigest is the machine's digest of every certification result, for tests that
// check all members decided alike.
func (p *Provider) verdictDigest() uint64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.m.Verdicts()
}

// Members returns replication_group_members as this member sees it.
func (p *Provider) Members() []MemberRow {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.m.Members()
}
