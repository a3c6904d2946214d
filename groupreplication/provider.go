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
// The package is the driver around pure state machines: agreement (raft), certifier and
// flowcontrol. Its goroutines are the raft loop, the certification pipeline, the applier
// coordinator and workers, and the broadcast loop; all of them end on Close.
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
	"github.com/replbench/replbench/groupreplication/flowcontrol"
	"github.com/replbench/replbench/groupreplication/group"
	"github.com/replbench/replbench/groupreplication/membership"
	"github.com/replbench/replbench/protocols"
	"github.com/replbench/replbench/protocols/monitor"
)

// Member states, as replication_group_members.MEMBER_STATE shows them.
const (
	stateOffline    = "OFFLINE"
	stateRecovering = "RECOVERING"
	stateOnline     = "ONLINE"
	stateError      = "ERROR"
)

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

	// raft loop inputs
	inMu      sync.Mutex
	inbox     [][]raftpb.Message
	proposals [][]byte
	wake      chan struct{}

	// certification pipeline input: committed entries not yet processed
	pipeMu    sync.Mutex
	pipeQ     []agreement.Entry
	pipeIndex atomic.Uint64 // raft index of the last entry the pipeline handled
	lostAt    uint64        // under pipeMu: raft index of the last snapshot received instead of entries
	pipeRun   sync.Mutex    // held by the pipeline while it handles entries, and by a clone
	pipeTxns  int64         // transaction messages among them (COUNT_TRANSACTIONS_IN_QUEUE)
	pipeWake  chan struct{}
	applyMu   sync.Mutex
	applyQ    []*remoteTxn
	applyWake chan struct{}
	work      chan *remoteTxn // applier coordinator -> workers

	// mu guards the state below, which the pipeline changes in delivery order.
	mu            sync.Mutex
	cert          *certifier.Certifier
	fc            *flowcontrol.Controller
	fcStep        chan struct{} // closed and replaced at every flow-control step
	state         string
	primary       int           // member index of the primary (-1 none); MP: -1
	primaryChange bool          // between NEW_PRIMARY and QUEUE_APPLIED
	changed       chan struct{} // closed and replaced when state/primary changes
	waiters       map[int64]chan certifier.Result
	syncs         map[int64]chan int64
	prepared      map[int64]*prepareState
	afterHeld     int           // AFTER transactions prepared here and not yet committed
	afterDone     chan struct{} // closed and replaced when afterHeld drops
	lead          int           // raft leader's member index, -1 unknown
	nextID        atomic.Int64

	// failure handling (failure.go), under mu unless noted
	view           *membership.View // the group view, changed in delivery order
	everPrimary    bool             // a primary has been set (bootstrap is over)
	unreachable    []bool           // the detector's last report
	majorityLost   bool
	paused         bool  // out of the group: the pipeline holds delivered entries
	joining        bool  // a rejoin is under way (RECOVERING)
	rejoinAttempts int   // in the current stay in ERROR (reset once ONLINE)
	rejoinTotal    int64 // over the member's life (gr_model_autorejoin_attempts)
	exitTaken      bool  // auto-rejoin used up: the exit action holds
	errorReason    string
	delivered      []deliveredIDs // transaction/sync ids delivered, by origin
	rejoinWake     chan struct{}
	lastCampaign   int // raft loop only: tick of the notifier's last campaign
	detMu          sync.Mutex
	det            *membership.Detector // under detMu
	pendMu         sync.Mutex
	pending        map[int64][]byte   // under pendMu: proposals a client waits on
	pendingCtl     map[msgKind][]byte // under pendMu: this member's undelivered control messages

	// counters
	localProposed, localRollback, remoteApplied, applierErrors atomic.Int64
	applyQueued                                                atomic.Int64
	corruptFrames                                              atomic.Int64
	lostLog                                                    atomic.Bool
	cachedBytes                                                atomic.Uint64 // the raft log held (XCom cache)

	clone cloneState // clone.go
	// verdicts is a running digest of every certification result, in order, for tests
	// that check all members decided alike.
	verdicts atomic.Uint64
}

type prepareState struct {
	from map[int]bool
	done chan struct{}
}

type remoteTxn struct {
	ws    *protocols.WriteSet
	level group.Consistency
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
	node, err := agreement.New(ac)
	if err != nil {
		return nil, err
	}
	p := &Provider{
		cfg:       cfg,
		set:       set,
		self:      self,
		group:     protocols.NameUUID("group-replication"),
		node:      node,
		commitMon: monitor.New(0),
		wake:      make(chan struct{}, 1),
		pipeWake:  make(chan struct{}, 1),
		applyWake: make(chan struct{}, 1),
		work:      make(chan *remoteTxn),
		cert:      certifier.New(set.GTIDBlockSize, !set.SinglePrimary),
		fc:        flowcontrol.New(set.FlowControl),
		fcStep:    make(chan struct{}),
		state:     stateOffline,
		primary:   -1,
		lead:      -1,
		changed:   make(chan struct{}),
		waiters:   map[int64]chan certifier.Result{},
		syncs:     map[int64]chan int64{},
		prepared:  map[int64]*prepareState{},
		afterDone: make(chan struct{}),

		unreachable: make([]bool, len(cfg.Members)),
		delivered:   make([]deliveredIDs, len(cfg.Members)),
		rejoinWake:  make(chan struct{}, 1),
		pending:     map[int64][]byte{},
		pendingCtl:  map[msgKind][]byte{},
	}
	uuids := make([]string, len(cfg.Members))
	for i, m := range cfg.Members {
		uuids[i] = memberUUID(m)
	}
	p.view = membership.NewView(uuids)
	p.det = membership.NewDetector(membership.DetectorConfig{Self: self, Members: len(cfg.Members),
		SuspectAfter: membership.DefaultSuspectAfter, ExpelTimeout: set.ExpelTimeout,
		UnreachableMajorityTimeout: set.UnreachableMajorityTimeout}, time.Now())
	p.ctx, p.cancel = context.WithCancel(context.Background())
	return p, nil
}

// Start joins the group: it starts the member's loops, has n1 campaign, and returns once
// this member is ONLINE with a primary elected (single-primary) or a leader known
// (multi-primary), or when ctx ends.
func (p *Provider) Start(ctx context.Context) error {
	if !p.set.SinglePrimary && p.set.AutoIncrementIncrement > 0 {
		// group_replication_auto_increment_increment, offset = server_id.
		p.cfg.Applier.SetAutoIncrement(int(p.set.AutoIncrementIncrement), p.self+1)
	}
	p.mu.Lock()
	p.state = stateRecovering
	p.mu.Unlock()
	p.cfg.Endpoint.SetHandler(p.receive)
	p.detMu.Lock()
	p.det.Reset(time.Now())
	p.detMu.Unlock()
	p.wg.Add(5 + p.set.ApplierWorkers)
	go p.rejoiner()
	go p.raftLoop()
	go p.pipeline()
	go p.applier()
	go p.broadcaster()
	p.startWorkers()
	p.proposeControl(&message{Kind: kindWeight, Origin: p.self, ID: int64(p.set.MemberWeight)})
	for {
		p.mu.Lock()
		ready := p.state == stateOnline && (!p.set.SinglePrimary || (p.primary >= 0 && !p.primaryChange))
		if p.state == stateError {
			p.mu.Unlock()
			return fmt.Errorf("group-replication: %s is in ERROR state", p.cfg.Node)
		}
		ch := p.changed
		p.mu.Unlock()
		if ready {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("group-replication: %s did not come ONLINE: %w (is a majority of members started and reachable?)", p.cfg.Node, ctx.Err())
		case <-p.ctx.Done():
			return errors.New("group-replication: closed during Start")
		}
	}
}

// Close leaves the group and stops every goroutine.
func (p *Provider) Close() error {
	p.cancel()
	p.wg.Wait()
	p.mu.Lock()
	p.state = stateOffline
	for id, ch := range p.waiters {
		close(ch)
		delete(p.waiters, id)
	}
	p.mu.Unlock()
	_ = p.cfg.Endpoint.Close()
	return nil
}

// notifyLocked wakes everyone waiting for a state or primary change. p.mu held.
func (p *Provider) notifyLocked() {
	close(p.changed)
	p.changed = make(chan struct{})
}

func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// propose queues data for the agreed log.
func (p *Provider) propose(data []byte) {
	p.inMu.Lock()
	p.proposals = append(p.proposals, data)
	p.inMu.Unlock()
	signal(p.wake)
}

// errNotOnline is what a member that is not ONLINE answers: the server's before_commit
// hook fails.
func errNotOnline(state string) *protocols.Error {
	return &protocols.Error{Code: 3100, SQLState: "HY000",
		Msg:   "Error on observer while running replication hook 'before_commit' (member is " + state + ", not ONLINE; wait for it to join the group)",
		Cause: protocols.CauseNotReady}
}

// errRolledBack is what a client waiting for its commit gets when the member leaves the
// group (expelled, unreachable_majority_timeout, or shut down) before the verdict: the
// server rolls back the pending transactions. If the group had already ordered it, it may
// still commit on the others (and here after a rejoin): the outcome is unknown to the
// client, as in the server.
func errRolledBack() *protocols.Error {
	return &protocols.Error{Code: 3100, SQLState: "HY000",
		Msg:   "Error on observer while running replication hook 'before_commit' (the member left the group before the transaction was decided; it was rolled back here, check whether the group committed it before retrying)",
		Cause: protocols.CauseNotReady}
}

// BeforeRead implements protocols.Gate: it applies the consistency levels that act before
// a transaction's first statement.
func (p *Provider) BeforeRead(ctx context.Context) error {
	for {
		p.mu.Lock()
		if p.state != stateOnline {
			// super_read_only still serves reads; consistency guarantees do not apply.
			err := p.readRefusalLocked()
			p.mu.Unlock()
			if err != nil {
				return err
			}
			return nil
		}
		var ch <-chan struct{}
		switch {
		case p.primaryChange && p.primary == p.self && p.set.Consistency >= group.BeforeOnPrimaryFailover:
			// BEFORE_ON_PRIMARY_FAILOVER and stronger: a new primary holds transactions
			// until it has applied its backlog.
			ch = p.changed
		case p.afterHeld > 0:
			// AFTER: new transactions wait while this member holds a prepared AFTER
			// transaction.
			ch = p.afterDone
		}
		p.mu.Unlock()
		if ch == nil {
			break
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return protocols.ErrInterrupted()
		case <-p.ctx.Done():
			return errNotOnline(stateOffline)
		}
	}
	if p.set.Consistency.HasBefore() {
		return p.SyncWait(ctx)
	}
	return nil
}

// BeforeWrite implements protocols.Gate: a single-primary secondary is super_read_only.
func (p *Provider) BeforeWrite(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.state != stateOnline {
		return p.refusalLocked()
	}
	if p.set.SinglePrimary && (p.primary != p.self || p.primaryChange) {
		return protocols.ErrReadOnly()
	}
	return nil
}

// SyncWait orders a sync message through the group and waits until this member has
// committed everything ordered before it: one ordering round plus the local applier's
// drain (consistency BEFORE).
func (p *Provider) SyncWait(ctx context.Context) error {
	id := p.nextID.Add(1)
	ch := make(chan int64, 1)
	p.mu.Lock()
	p.syncs[id] = ch
	p.mu.Unlock()
	data := appendMessage(nil, &message{Kind: kindSyncBefore, Origin: p.self, ID: id})
	p.trackPending(id, data)
	p.propose(data)
	var pos int64
	select {
	case v, ok := <-ch:
		if !ok {
			return errRolledBack()
		}
		pos = v
	case <-ctx.Done():
		p.mu.Lock()
		delete(p.syncs, id)
		p.mu.Unlock()
		p.untrackPending(id)
		return protocols.ErrInterrupted()
	case <-p.ctx.Done():
		return errNotOnline(stateOffline)
	}
	if err := p.commitMon.WaitFor(ctx, pos); err != nil {
		return protocols.ErrInterrupted()
	}
	return nil
}

// LastCommitted implements protocols.Provider: the last position of the agreed order of
// transaction messages below which every one has committed (or rolled back) here.
func (p *Provider) LastCommitted() int64 { return p.commitMon.LastLeft() }

// Replicate implements protocols.Replicator: it throttles on flow control, sends the
// transaction through the group, and returns once this member has certified it.
func (p *Provider) Replicate(ctx context.Context, ws *protocols.WriteSet) (protocols.Commit, error) {
	p.mu.Lock()
	if p.state != stateOnline {
		err := p.refusalLocked()
		p.mu.Unlock()
		return nil, err
	}
	if p.set.SinglePrimary && p.primary != p.self {
		p.mu.Unlock()
		return nil, protocols.ErrReadOnly()
	}
	p.mu.Unlock()
	if p.set.TransactionSizeLimit > 0 && int64(ws.Size()) > p.set.TransactionSizeLimit {
		p.localRollback.Add(1)
		return nil, &protocols.Error{Code: 3100, SQLState: "HY000",
			Msg:   fmt.Sprintf("Error on observer while running replication hook 'before_commit' (write-set of %d bytes exceeds group_replication_transaction_size_limit %d; split the transaction)", ws.Size(), p.set.TransactionSizeLimit),
			Cause: protocols.CauseOther}
	}
	// Flow control: do_wait before the send.
	if err := p.throttle(ctx); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		// Not sent yet: a brute-force abort (or the client's deadline) ends it here.
		if c := context.Cause(ctx); c != nil {
			var pe *protocols.Error
			if errors.As(c, &pe) {
				return nil, pe
			}
		}
		return nil, protocols.ErrInterrupted()
	}
	ws.Source = p.cfg.Node
	ws.Snapshot = p.commitMon.LastLeft()
	id := p.nextID.Add(1)
	ch := make(chan certifier.Result, 1)
	p.mu.Lock()
	p.waiters[id] = ch
	p.mu.Unlock()
	p.localProposed.Add(1)
	data := appendMessage(make([]byte, 0, ws.Size()+16), &message{Kind: kindTxn, Origin: p.self, ID: id, Level: p.set.Consistency, WS: ws})
	p.trackPending(id, data)
	p.propose(data)

	done := ctx.Done()
	for {
		select {
		case r, ok := <-ch:
			if !ok {
				p.localRollback.Add(1)
				return nil, errRolledBack()
			}
			ws.Seqno, ws.DependsSeqno = r.Seqno, r.DependsSeqno
			if !r.Positive {
				p.localRollback.Add(1)
				return nil, protocols.ErrGRRollback()
			}
			return &commit{p: p, gtid: protocols.GTID{UUID: p.group, Seqno: r.GNO}, seqno: r.Seqno, level: p.set.Consistency}, nil
		case <-done:
			var pe *protocols.Error
			if errors.As(context.Cause(ctx), &pe) && pe.Cause == protocols.CauseBFAbort {
				// Sent already: the slot is taken; wait for the verdict, which storage
				// turns into a replay if it is positive.
				done = nil
				continue
			}
			// The client gave up. The message may still be delivered: the pipeline then
			// applies it here as if it were remote, so the members stay identical.
			p.mu.Lock()
			if _, still := p.waiters[id]; still {
				delete(p.waiters, id)
				p.mu.Unlock()
				return nil, protocols.ErrInterrupted()
			}
			p.mu.Unlock()
			done = nil // the verdict is already on its way
		case <-p.ctx.Done():
			return nil, errNotOnline(stateOffline)
		}
	}
}

// throttle is Flow_control_module::do_wait: a transaction over this period's quota waits
// for the next flow-control step.
func (p *Provider) throttle(ctx context.Context) error {
	p.mu.Lock()
	ok := p.fc.Admit()
	ch := p.fcStep
	p.mu.Unlock()
	if ok {
		return nil
	}
	select {
	case <-ch:
	case <-ctx.Done():
	case <-p.ctx.Done():
		return errNotOnline(stateOffline)
	}
	return nil
}

// commit is a certified local transaction waiting for its turn to commit.
type commit struct {
	p     *Provider
	gtid  protocols.GTID
	seqno int64
	level group.Consistency
}

func (c *commit) GTID() protocols.GTID { return c.gtid }
func (c *commit) Seqno() int64         { return c.seqno }

// Apply commits in the agreed order. With consistency AFTER it first reports itself
// prepared through the group and waits until every member has prepared the transaction.
// The client's ctx is not a reason to skip the commit: the other members commit the
// transaction, so this one must too.
func (c *commit) Apply(ctx context.Context, engineCommit func() error) error {
	p := c.p
	if c.level.HasAfter() {
		p.holdAfter(+1)
		p.propose(appendMessage(nil, &message{Kind: kindPrepared, Origin: p.self, ID: c.seqno}))
		err := p.waitPrepared(c.seqno)
		p.holdAfter(-1)
		if err != nil {
			return err
		}
	}
	if err := p.commitMon.Enter(p.ctx, c.seqno); err != nil {
		return errNotOnline(stateOffline)
	}
	err := engineCommit()
	p.commitMon.Leave(c.seqno)
	return err
}

func (p *Provider) holdAfter(d int) {
	p.mu.Lock()
	p.afterHeld += d
	if d < 0 {
		close(p.afterDone)
		p.afterDone = make(chan struct{})
	}
	p.mu.Unlock()
}

// waitPrepared waits until every member has reported position seq prepared.
func (p *Provider) waitPrepared(seq int64) error {
	p.mu.Lock()
	ps := p.prepareStateLocked(seq)
	p.mu.Unlock()
	select {
	case <-ps.done:
		p.mu.Lock()
		delete(p.prepared, seq)
		p.mu.Unlock()
		return nil
	case <-p.ctx.Done():
		return errNotOnline(stateOffline)
	}
}

func (p *Provider) prepareStateLocked(seq int64) *prepareState {
	ps := p.prepared[seq]
	if ps == nil {
		ps = &prepareState{from: map[int]bool{}, done: make(chan struct{})}
		p.prepared[seq] = ps
	}
	return ps
}

var _ protocols.Provider = (*Provider)(nil)

// queueEmpty reports whether nothing delivered is waiting for certification or apply.
func (p *Provider) queueEmpty() bool {
	p.pipeMu.Lock()
	n := len(p.pipeQ)
	p.pipeMu.Unlock()
	return n == 0 && p.applyQueued.Load() == 0
}
