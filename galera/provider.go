package galera

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/replbench/replbench/galera/cert"
	"github.com/replbench/replbench/galera/gcs"
	"github.com/replbench/replbench/protocols"
	"github.com/replbench/replbench/protocols/monitor"
	"github.com/replbench/replbench/protocols/transport"
)

// Action kinds: the GCS layer's messages inside EVS actions.
const (
	actWriteSet byte = 1 // uvarint action id, then the encoded write-set
	actFlow     byte = 2 // gcs_fc_event: one byte, 1 = STOP, 0 = CONT
	actLast     byte = 3 // GCS_MSG_LAST: varint safe-to-discard seqno
	actState    byte = 4 // GCS_MSG_STATE_MSG: varint seqno, state byte, uvarint weight
	actStateReq byte = 5 // GCS_ACT_STATE_REQ: this node asks for a state transfer
	actJoin     byte = 6 // GCS_MSG_JOIN: one byte, 1 = the transfer succeeded
	actSync     byte = 7 // GCS_MSG_SYNC: caught up

	// msgTransfer starts a point-to-point state-transfer message (IST or SST), outside
	// EVS; EVS message types are below it.
	msgTransfer byte = 0xF1
	xferIST     byte = 1
	xferSST     byte = 2
)

type eventKind uint8

const (
	evMsg eventKind = iota
	evPropose
	evCausal
	evCommitted
	evCont
	evTransfer
	evLeave
	evWithdraw
)

type event struct {
	kind    eventKind
	from    int
	payload []byte
	id      uint64
	p       *pending
	causal  chan int64
	local   bool
	seen    int64 // last_seen of a committed local write-set
	keys    int
	bytes   int
	done    chan struct{}
	reply   chan withdrawal // evWithdraw: the loop's answer
}

// withdrawal is what became of a local write-set whose client stopped waiting (evWithdraw).
type withdrawal uint8

const (
	// wdDecided: the verdict was already sent (or the node failed the write-set): read it.
	wdDecided withdrawal = iota
	// wdWithdrawn: it had not left (send window, flow control's queue, a state exchange):
	// it is gone, nobody will order it.
	wdWithdrawn
	// wdDetached: it had left, so it holds a place in the total order; the client is
	// released and the node will certify it and apply it like a remote write-set.
	wdDetached
	// wdSent: it had left and the client must keep waiting (a brute-force abort).
	wdSent
)

// pending is a local write-set waiting for its own delivery.
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

// fenced is a detached write-set of this node (its client gave up after it was sent)
// that has not yet been applied here: until it is, its rows are fenced off (see fencedOut).
type fenced struct {
	id    uint64
	seqno int64    // 0 until delivered here
	keys  []uint64 // cert.HashKey of every row key
}

// cached is one ordered write-set action kept in gcache (or queued by a joiner).
type cached struct {
	g      int64
	action []byte
}

// remote is a certified foreign write-set waiting for an applier.
type remote struct {
	ws    *protocols.WriteSet
	bytes int
}

// Provider is one Galera node.
type Provider struct {
	cfg     protocols.Config
	self, n int
	uuid    string
	ep      transport.Endpoint
	applier protocols.Applier
	index   map[string]int

	slaveThreads   int
	retryAuto      int
	syncWait       int64
	commitOrder    int64
	causalTimeout  time.Duration
	tick           time.Duration
	autoIncControl bool
	weight         int
	gcacheSize     int64
	fcLimit        int64
	fcFactor       float64
	fcSingle       bool
	stRetry        time.Duration

	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	ready   atomic.Bool // SYNCED (or DONOR) in a primary component: serving
	started atomic.Bool
	closed  atomic.Bool

	// inbox of the driver loop
	mu    sync.Mutex
	inbox []event
	spare []event
	wake  chan struct{}

	// owned by the driver loop
	evs       *gcs.EVS
	cert      *cert.Certifier
	certCfg   cert.Config
	g         int64
	nextAct   atomic.Uint64
	waiters   map[uint64]*pending
	causalCh  map[uint64]chan int64
	lastRep   []int64 // per member: last safe-to-discard reported (commit cut)
	cut       int64
	latMin    time.Duration
	latMax    time.Duration
	latSum    float64
	latSumSq  float64
	latN      int64
	recvSum   float64
	recvN     int64
	sendSum   float64
	sendN     int64
	sendQueue int64 // own write-sets proposed, not yet delivered
	fence     []fenced

	// membership, owned by the loop
	group       *gcs.Group
	have        int64    // every write-set up to here is certified (and applied or queued) here
	gcache      []cached // gcache.size bytes of the newest ordered write-sets, for IST
	gcacheBytes int64
	joinQueue   []cached // live write-sets delivered while waiting for a state transfer
	held        [][]byte // own write-set actions waiting for the state exchange
	holding     bool     // a primary view's state exchange is running: hold new proposals
	reqRetry    int      // ticks until a refused state-transfer request is repeated
	ist, sst    int64    // state transfers received
	lastXfer    string
	conf        atomic.Int64

	applyMon, commitMon *monitor.Monitor

	// receive queue for appliers
	qmu    sync.Mutex
	qcond  *sync.Cond
	queue  []remote
	qclose bool

	// flow control
	fcMu      sync.Mutex
	fc        gcs.FlowControl
	pauseCh   chan struct{} // non-nil while writers are paused; closed on resume
	pausedAt  time.Time
	pausedNs  time.Duration
	startedAt time.Time

	// counters
	replicated, replicatedBytes atomic.Int64
	received, receivedBytes     atomic.Int64
	localCommits, certFailures  atomic.Int64
	causalReads                 atomic.Int64
	withdrawn, detached         atomic.Int64
	fencedConflicts             atomic.Int64
	applyErrors                 atomic.Int64
	applyWinSum, commitWinSum   atomic.Int64
	applyWinN, commitWinN       atomic.Int64

	snapMu sync.Mutex
	snap   loopSnapshot
}

// loopSnapshot is what Status reads of the loop-owned state.
type loopSnapshot struct {
	cert             cert.Stats
	evs              gcs.Stats
	latMin, latMax   time.Duration
	latAvg, latSD    float64
	latN             int64
	recvAvg, sendAvg float64
	sendQueue        int64
	view             gcs.View
	own              gcs.NodeState
	evsState         gcs.State
	cachedDownto     int64
	weight           int
	ist, sst         int64
	lastXfer         string
}

// New creates one node's provider from the harness's configuration.
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
		cfg: cfg, self: self, n: n, ep: cfg.Endpoint, applier: cfg.Applier,
		uuid:           protocols.NameUUID("galera"),
		index:          map[string]int{},
		slaveThreads:   st.SlaveThreads,
		retryAuto:      st.RetryAutocommit,
		syncWait:       st.SyncWait,
		commitOrder:    int64(st.CommitOrder),
		causalTimeout:  st.CausalReadTimeout,
		tick:           st.Tick,
		autoIncControl: st.AutoIncControl,
		weight:         st.Weight,
		wake:           make(chan struct{}, 1),
		waiters:        map[uint64]*pending{},
		causalCh:       map[uint64]chan int64{},
		lastRep:        make([]int64, n),
		applyMon:       monitor.New(0),
		commitMon:      monitor.New(0),
	}
	for i, m := range cfg.Members {
		p.index[m] = i
	}
	p.evs = gcs.New(st.EVSConfig(self, n))
	p.group = gcs.NewGroup(self, n, p.evs.CurrentView())
	p.conf.Store(1)
	p.certCfg = st.CertConfig()
	p.cert = cert.New(p.certCfg, 0)
	p.gcacheSize = st.GCacheSize
	p.fcLimit, p.fcFactor, p.fcSingle = st.FC.Limit, st.FC.Factor, st.FC.SinglePrimary
	p.stRetry = time.Second
	p.fc.Lower, p.fc.Upper = st.FCLimits(n)
	p.qcond = sync.NewCond(&p.qmu)
	p.ctx, p.cancel = context.WithCancel(context.Background())
	p.snapshot()
	return p, nil
}

func ticks(d, tick time.Duration) int {
	if d <= 0 {
		return 0
	}
	return int(max(1, (d+tick-1)/tick))
}

// RetryAutocommit is wsrep_retry_autocommit: how many times the server should re-run an
// autocommit statement that failed certification before returning 1213.
func (p *Provider) RetryAutocommit() int { return p.retryAuto }

// FCLimits returns the flow-control interval [lower, upper] in force.
func (p *Provider) FCLimits() (lower, upper int64) { return p.fc.Lower, p.fc.Upper }

// Start implements protocols.Provider. Every node starts SYNCED in one primary component of
// all members (a bootstrapped cluster); the loop then runs a state exchange in total order
// so that every member learns every pc.weight.
func (p *Provider) Start(ctx context.Context) error {
	if p.autoIncControl {
		p.applier.SetAutoIncrement(p.n, p.self+1)
	}
	p.startedAt = time.Now()
	p.ep.SetHandler(p.handle)
	p.wg.Add(1 + p.slaveThreads)
	go p.loop()
	for range p.slaveThreads {
		go p.applierLoop()
	}
	p.started.Store(true)
	p.post(event{kind: evPropose, payload: p.stateAction()})
	p.refreshReady()
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
		p.post(event{kind: evLeave, done: done})
		select {
		case <-done:
		case <-time.After(time.Second):
		}
	}
	p.ready.Store(false)
	p.cancel()
	p.qmu.Lock()
	p.qclose = true
	p.qcond.Broadcast()
	p.qmu.Unlock()
	p.wg.Wait()
	return nil
}

func (p *Provider) handle(from string, payload []byte) {
	i, ok := p.index[from]
	if !ok {
		return
	}
	if len(payload) > 0 && payload[0] == msgTransfer {
		p.post(event{kind: evTransfer, from: i, payload: payload})
		return
	}
	p.post(event{kind: evMsg, from: i, payload: payload})
}

func (p *Provider) post(e event) {
	p.mu.Lock()
	p.inbox = append(p.inbox, e)
	p.mu.Unlock()
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// loop owns the EVS and the certifier: every input goes through it, in order.
func (p *Provider) loop() {
	defer p.wg.Done()
	t := time.NewTicker(p.tick)
	defer t.Stop()
	buf := make([]byte, 0, 4096)
	for {
		tick := false
		select {
		case <-p.ctx.Done():
			p.failWaiters()
			return
		case <-p.wake:
		case <-t.C:
			tick = true
		}
		p.mu.Lock()
		batch := p.inbox
		p.inbox = p.spare[:0]
		p.mu.Unlock()
		for i := range batch {
			p.handleEvent(&batch[i])
			batch[i] = event{}
		}
		p.spare = batch
		if tick {
			p.evs.Tick()
			p.membershipTick()
		}
		// Deliveries can produce actions (flow control, commit-cut reports, the state
		// exchange) that must leave now: run Ready until EVS has nothing left.
		for {
			rd := p.evs.Ready()
			buf = p.send(rd.Messages, buf)
			if len(rd.Deliveries) > 0 {
				p.deliver(rd.Deliveries)
			}
			if !p.evs.HasReady() {
				break
			}
		}
		p.snapshot()
	}
}

func (p *Provider) handleEvent(e *event) {
	switch e.kind {
	case evMsg:
		m, err := gcs.Decode(e.payload, p.n)
		if err != nil || m.Source != e.from {
			return // garbage from the network is dropped, as a checksum failure would be
		}
		p.evs.Step(m)
	case evPropose:
		if e.p == nil {
			p.evs.Propose(e.payload) // a GCS action of this node (state exchange)
			return
		}
		if !p.canReplicate() {
			e.p.done <- verdict{seqno: vNotReady}
			return
		}
		if p.fencedOut(e.p.ws) {
			e.p.done <- verdict{seqno: vFenced}
			return
		}
		p.waiters[e.id] = e.p
		p.sendQueue++
		p.sendSum += float64(p.sendQueue)
		p.sendN++
		if p.holding {
			p.held = append(p.held, e.payload)
			return
		}
		p.evs.Propose(e.payload)
	case evTransfer:
		p.receiveTransfer(e.from, e.payload)
	case evLeave:
		p.evs.Leave()
		p.send(p.evs.Ready().Messages, nil)
		close(e.done)
	case evCausal:
		p.causalCh[e.id] = e.causal
		p.evs.Causal(e.id)
	case evCommitted:
		if v, ok := p.cert.Committed(e.local, e.seen, e.keys, e.bytes, p.applyMon.LastLeft()); ok {
			p.evs.Propose(binary.AppendVarint([]byte{actLast}, v))
		}
	case evCont:
		p.evs.Propose([]byte{actFlow, 0})
	case evWithdraw:
		e.reply <- p.withdraw(e.id, e.local)
	}
}

// actionID is the action id of a write-set action (0 for any other action).
func actionID(a []byte) uint64 {
	if len(a) < 2 || a[0] != actWriteSet {
		return 0
	}
	id, n := binary.Uvarint(a[1:])
	if n <= 0 {
		return 0
	}
	return id
}

// withdraw handles a client that stopped waiting for its write-set id. A write-set that has
// not left (held for a state exchange, or queued behind the send window) is taken back: no
// member will ever see it. One that has left is detached when detach is set: every member
// that delivers it, this one included, certifies it deterministically, so this node must
// end up with the same outcome as the others; it gets it by forgetting the client and
// treating the write-set, when it comes, as a remote one (ordered decodes it, certifies it
// as the others do and hands it to an applier, whose PrepareApply takes the rows back from
// the client's transaction once storage has rolled it back). That is the path IST already
// takes for a write-set of this node whose client got 1047 in a view change. Cancelling
// the slot here instead would diverge: the others commit it.
func (p *Provider) withdraw(id uint64, detach bool) withdrawal {
	if _, ok := p.waiters[id]; !ok {
		return wdDecided
	}
	match := func(a []byte) bool { return actionID(a) == id }
	if i := slices.IndexFunc(p.held, match); i >= 0 {
		// Held actions of an old view were not delivered by anyone (the new primary view's
		// transitional delivery would have included them), so dropping them is safe too.
		p.held = slices.Delete(p.held, i, i+1)
	} else if !p.evs.Withdraw(match) {
		if !detach {
			return wdSent
		}
		f := fenced{id: id}
		for _, k := range p.waiters[id].ws.Keys {
			if len(k.Row) > 0 {
				f.keys = append(f.keys, cert.HashKey(k.Table, k.Index, k.Row))
			}
		}
		p.fence = append(p.fence, f)
		delete(p.waiters, id)
		p.sendQueue = max(p.sendQueue-1, 0)
		p.detached.Add(1)
		return wdDetached
	}
	delete(p.waiters, id)
	p.sendQueue = max(p.sendQueue-1, 0)
	p.withdrawn.Add(1)
	return wdWithdrawn
}

// fencedOut reports whether ws touches a row of a detached write-set that is not yet
// applied here. Its client may have read that row before the detached write-set's rows
// were written, because storage released the row locks when the detached client returned;
// and certification would let it through everywhere, since a write-set never conflicts
// with an earlier one from its own node (Galera leaves same-node conflicts to the row
// locks, which the detached client no longer holds). It is refused before it is sent,
// with 1213, the answer certification would give if the exemption did not apply; being
// unsent, no other node ever sees it. Once the detached write-set is applied (or
// cancelled) here the fence is lifted: a transaction that still held one of its rows then
// was brute-force aborted by the applier. A non-primary view lifts every fence, since the
// node serves nothing until a state transfer has brought it whatever the others committed.
func (p *Provider) fencedOut(ws *protocols.WriteSet) bool {
	if len(p.fence) == 0 {
		return false
	}
	done := p.applyMon.LastLeft()
	p.fence = slices.DeleteFunc(p.fence, func(f fenced) bool { return f.seqno > 0 && f.seqno <= done })
	for _, f := range p.fence {
		for _, k := range ws.Keys {
			if len(k.Row) > 0 && slices.Contains(f.keys, cert.HashKey(k.Table, k.Index, k.Row)) {
				p.fencedConflicts.Add(1)
				return true
			}
		}
	}
	return false
}

func (p *Provider) send(msgs []gcs.Envelope, buf []byte) []byte {
	for _, env := range msgs {
		buf = gcs.Encode(buf[:0], env.Msg)
		if env.To >= 0 {
			_ = p.ep.Send(p.cfg.Members[env.To], append([]byte(nil), buf...))
			continue
		}
		for i, m := range p.cfg.Members {
			if i != p.self {
				_ = p.ep.Send(m, append([]byte(nil), buf...))
			}
		}
	}
	return buf
}

func (p *Provider) deliver(ds []gcs.Delivery) {
	now := time.Now()
	for _, d := range ds {
		if d.View != nil {
			p.installView(*d.View)
			continue
		}
		if d.Causal {
			if ch, ok := p.causalCh[d.Token]; ok {
				delete(p.causalCh, d.Token)
				ch <- p.g
			}
			continue
		}
		if len(d.Action) == 0 {
			continue
		}
		switch d.Action[0] {
		case actWriteSet:
			p.deliverWriteSet(d, now)
		case actFlow:
			p.fcMu.Lock()
			pause, resume := p.fc.Delivered(len(d.Action) > 1 && d.Action[1] == 1)
			if pause {
				p.pauseCh = make(chan struct{})
				p.pausedAt = now
			}
			if resume && p.pauseCh != nil {
				close(p.pauseCh)
				p.pauseCh = nil
				p.pausedNs += now.Sub(p.pausedAt)
			}
			p.fcMu.Unlock()
		case actLast:
			v, n := binary.Varint(d.Action[1:])
			if n <= 0 || d.Source < 0 || d.Source >= p.n {
				continue
			}
			p.lastRep[d.Source] = max(p.lastRep[d.Source], v)
			cut := p.lastRep[d.Source]
			for _, m := range p.group.View.Members {
				cut = min(cut, p.lastRep[m])
			}
			if cut > p.cut {
				p.cut = cut
				p.cert.PurgeUpTo(min(cut, p.cert.SafeToDiscard(p.applyMon.LastLeft())))
			}
		case actState, actStateReq, actJoin, actSync:
			p.deliverGroupAction(d)
		}
	}
}

func (p *Provider) deliverWriteSet(d gcs.Delivery, now time.Time) {
	id, n := binary.Uvarint(d.Action[1:])
	if n <= 0 {
		return
	}
	if p.have < p.g {
		// Waiting for a state transfer: keep the live write-set, in order, for after it.
		p.g++
		p.joinQueue = append(p.joinQueue, cached{g: p.g, action: d.Action})
		return
	}
	var own *pending
	if d.Source == p.self {
		own = p.waiters[id]
		delete(p.waiters, id)
		if own == nil {
			for i := range p.fence {
				if p.fence[i].id == id {
					p.fence[i].seqno = p.g + 1
				}
			}
		}
		if own != nil {
			p.sendQueue--
			lat := now.Sub(own.sentAt)
			if p.latN == 0 || lat < p.latMin {
				p.latMin = lat
			}
			p.latMax = max(p.latMax, lat)
			p.latSum += lat.Seconds()
			p.latSumSq += lat.Seconds() * lat.Seconds()
			p.latN++
		}
	}
	p.g++
	p.ordered(p.g, d.Action, own)
}

// ordered certifies the write-set action at position g (own: this node's client waits
// for it) and hands it to the appliers, or cancels its slot. It also keeps it in gcache.
// A write-set of this node whose client is gone (failed by a view change, then ordered by
// the primary side's transitional delivery, or replayed by IST) is applied like a remote
// one.
func (p *Provider) ordered(g int64, action []byte, own *pending) {
	p.cacheAdd(g, action)
	p.have = g
	_, n := binary.Uvarint(action[1:])
	body := action[1+n:]
	var ws *protocols.WriteSet
	if own != nil {
		ws = own.ws
	} else {
		var err error
		ws, _, err = protocols.DecodeWriteSet(body)
		if err != nil {
			// Every member must keep the same seqno sequence, so a write-set this node
			// cannot read still takes its slot; it is counted as an apply error.
			p.applyErrors.Add(1)
			p.applyMon.Cancel(g)
			p.commitMon.Cancel(g)
			return
		}
		p.received.Add(1)
		p.receivedBytes.Add(int64(len(body)))
	}
	ws.Seqno = g
	if p.cert.Position() != g-1 {
		// Only after an SST whose certification preload ran short: start the index here.
		p.cert = cert.New(p.certCfg, g-1)
	}
	v := p.cert.Certify(ws, own != nil)
	if !v.OK {
		p.applyMon.Cancel(ws.Seqno)
		p.commitMon.Cancel(ws.Seqno)
		p.cert.Committed(own != nil, ws.Snapshot, 0, 0, p.applyMon.LastLeft())
		if own != nil {
			own.done <- verdict{seqno: ws.Seqno}
		}
		return
	}
	if own != nil {
		own.done <- verdict{seqno: ws.Seqno, ok: true}
		return
	}
	p.qmu.Lock()
	p.queue = append(p.queue, remote{ws: ws, bytes: len(body)})
	p.qcond.Signal()
	p.qmu.Unlock()
	p.fcMu.Lock()
	stop := p.fc.Pushed()
	p.recvSum += float64(p.fc.QueueLen)
	p.recvN++
	p.fcMu.Unlock()
	if stop {
		p.evs.Propose([]byte{actFlow, 1})
	}
}

func (p *Provider) failWaiters() {
	for id, w := range p.waiters {
		if w.done != nil {
			w.done <- verdict{seqno: vNotReady}
		}
		delete(p.waiters, id)
	}
	for tok, ch := range p.causalCh {
		ch <- -1
		delete(p.causalCh, tok)
	}
}

// applierLoop is one wsrep_slave_threads applier: it takes certified remote write-sets in
// order, waits in the apply monitor for its depends_seqno, applies, and commits in seqno
// order through the commit monitor.
func (p *Provider) applierLoop() {
	defer p.wg.Done()
	for {
		p.qmu.Lock()
		for len(p.queue) == 0 && !p.qclose {
			p.qcond.Wait()
		}
		if p.qclose {
			p.qmu.Unlock()
			return
		}
		r := p.queue[0]
		p.queue[0] = remote{}
		p.queue = p.queue[1:]
		p.qmu.Unlock()
		p.fcMu.Lock()
		cont := p.fc.Dequeued()
		p.fcMu.Unlock()
		if cont {
			p.post(event{kind: evCont})
		}
		if err := p.apply(r); err != nil {
			return
		}
	}
}

func (p *Provider) apply(r remote) error {
	ws := r.ws
	g := ws.Seqno
	if err := p.applyMon.WaitFor(p.ctx, ws.DependsSeqno); err != nil {
		return err
	}
	p.applyWinSum.Add(g - p.applyMon.LastLeft())
	p.applyWinN.Add(1)
	applied, err := p.applier.PrepareApply(p.ctx, ws)
	if err != nil {
		if p.ctx.Err() != nil {
			return p.ctx.Err()
		}
		// A certified write-set that does not apply is an inconsistency; the real node would
		// abort. The model counts it and keeps the order moving.
		p.applyErrors.Add(1)
	}
	if p.commitOrder == 3 || p.commitOrder == 2 {
		if err := p.commitMon.Enter(p.ctx, g); err != nil {
			if applied != nil {
				applied.Abort()
			}
			return err
		}
	}
	p.commitWinSum.Add(g - p.commitMon.LastLeft())
	p.commitWinN.Add(1)
	if applied != nil {
		if err := applied.Commit(); err != nil {
			p.applyErrors.Add(1)
		}
	}
	p.commitMon.Leave(g)
	p.applyMon.Leave(g)
	p.post(event{kind: evCommitted, keys: len(ws.Keys), bytes: r.bytes})
	return nil
}

// BeforeRead implements protocols.Gate: 1047 before Start, a causal wait with
// wsrep_sync_wait & 1.
func (p *Provider) BeforeRead(ctx context.Context) error {
	if !p.ready.Load() {
		return protocols.ErrNotReady()
	}
	if p.syncWait&1 != 0 {
		return p.SyncWait(ctx)
	}
	return nil
}

// BeforeWrite implements protocols.Gate: a causal wait with wsrep_sync_wait & (2|4).
func (p *Provider) BeforeWrite(ctx context.Context) error {
	if !p.ready.Load() {
		return protocols.ErrNotReady()
	}
	if p.syncWait&6 != 0 {
		return p.SyncWait(ctx)
	}
	return nil
}

// waitFlowControl blocks while a STOP is in effect anywhere in the cluster: the send
// monitor admits no new write-set (the client shows "wsrep in pre-commit").
func (p *Provider) waitFlowControl(ctx context.Context) error {
	for {
		p.fcMu.Lock()
		ch := p.pauseCh
		p.fcMu.Unlock()
		if ch == nil {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctxError(ctx)
		case <-p.ctx.Done():
			return protocols.ErrNotReady()
		}
	}
}

// ctxError is what a client whose ctx ended sees: the cause storage gave (a brute-force
// abort), or 1317 for its own deadline or cancellation.
func ctxError(ctx context.Context) error {
	var pe *protocols.Error
	if errors.As(context.Cause(ctx), &pe) {
		return pe
	}
	return protocols.ErrInterrupted()
}

// isBFAbort reports whether ctx was cancelled by storage for a brute-force abort.
func isBFAbort(ctx context.Context) bool {
	return protocols.Classify(context.Cause(ctx)) == protocols.CauseBFAbort
}

// Replicate implements protocols.Replicator: stamp last_seen, send the write-set in total
// order, wait for its own delivery and certify it.
//
// If ctx ends first, a write-set that has not left yet (paused by flow control, queued for
// the send window, held during a state exchange) is withdrawn and Replicate returns ctx's
// cause (ErrBFAbort from storage, else 1317). One that has left holds a place in the total
// order: after a brute-force abort Replicate waits for its verdict, as the contract says
// (storage replays it if it passes); for any other reason (the client's deadline, the end
// of a run) it returns 1317 at once, and the node certifies the write-set when it is
// delivered and, if it passes, applies it as a remote one (see withdraw), so the client
// cannot tell whether it committed, as with a killed COMMIT in MySQL.
func (p *Provider) Replicate(ctx context.Context, ws *protocols.WriteSet) (protocols.Commit, error) {
	if !p.ready.Load() {
		return nil, protocols.ErrNotReady()
	}
	if err := p.waitFlowControl(ctx); err != nil {
		return nil, err
	}
	if ctx.Err() != nil {
		return nil, ctxError(ctx)
	}
	ws.Source = p.cfg.Node
	ws.Snapshot = p.applyMon.LastLeft()
	id := p.nextAct.Add(1)
	payload := append(make([]byte, 0, 16+ws.Size()), actWriteSet)
	payload = binary.AppendUvarint(payload, id)
	payload = protocols.AppendWriteSet(payload, ws)
	pd := &pending{ws: ws, sentAt: time.Now(), done: make(chan verdict, 1)}
	p.replicated.Add(1)
	p.replicatedBytes.Add(int64(len(payload)))
	p.post(event{kind: evPropose, id: id, payload: payload, p: pd})
	var v verdict
	done := ctx.Done()
wait:
	for {
		select {
		case v = <-pd.done:
			break wait
		case <-done:
			done = nil
			reply := make(chan withdrawal, 1)
			p.post(event{kind: evWithdraw, id: id, local: !isBFAbort(ctx), reply: reply})
			var w withdrawal
			select {
			case w = <-reply:
			case <-p.ctx.Done():
				return nil, protocols.ErrNotReady()
			}
			switch w {
			case wdWithdrawn:
				return nil, ctxError(ctx)
			case wdDetached:
				return nil, protocols.ErrInterrupted()
			}
			// Decided already, or sent under a brute-force abort: wait for the verdict.
		case <-p.ctx.Done():
			return nil, protocols.ErrNotReady()
		}
	}
	switch v.seqno {
	case vNotReady:
		return nil, protocols.ErrNotReady()
	case vFenced:
		return nil, protocols.ErrCertification()
	}
	if !v.ok {
		p.certFailures.Add(1)
		return nil, protocols.ErrCertification()
	}
	return &commit{p: p, ws: ws, seqno: v.seqno, bytes: len(payload)}, nil
}

type commit struct {
	p     *Provider
	ws    *protocols.WriteSet
	seqno int64
	bytes int
}

func (c *commit) GTID() protocols.GTID { return protocols.GTID{UUID: c.p.uuid, Seqno: c.seqno} }
func (c *commit) Seqno() int64         { return c.seqno }

// Apply commits in seqno order (repl.commit_order=3): the local write-set already holds its
// locks, so it enters the apply monitor at once and waits only in the commit monitor. That
// wait is for earlier seqnos, which are already delivered here and are being applied by
// local appliers or committed by other local clients, never for the network, so ctx is
// not consulted: the seqno must be committed (or the order keeps a hole), whatever the
// client does.
func (c *commit) Apply(ctx context.Context, engineCommit func() error) error {
	p := c.p
	if p.commitOrder == 3 {
		if err := p.commitMon.Enter(p.ctx, c.seqno); err != nil {
			return protocols.ErrNotReady()
		}
	}
	p.commitWinSum.Add(c.seqno - p.commitMon.LastLeft())
	p.commitWinN.Add(1)
	err := engineCommit()
	p.commitMon.Leave(c.seqno)
	p.applyMon.Leave(c.seqno)
	if err == nil {
		p.localCommits.Add(1)
	}
	p.post(event{kind: evCommitted, local: true, seen: c.ws.Snapshot, keys: len(c.ws.Keys), bytes: c.bytes})
	return err
}

// SyncWait implements protocols.Provider (wsrep_sync_wait): a causal token through the
// total order, then a wait until everything ordered before it has committed here.
func (p *Provider) SyncWait(ctx context.Context) error {
	if !p.ready.Load() {
		return protocols.ErrNotReady()
	}
	ch := make(chan int64, 1)
	p.post(event{kind: evCausal, id: math.MaxUint64/2 + p.nextAct.Add(1), causal: ch})
	var target int64
	select {
	case target = <-ch:
	case <-p.ctx.Done():
		return protocols.ErrNotReady()
	case <-ctx.Done():
		return ctxError(ctx)
	}
	if target < 0 {
		return protocols.ErrNotReady()
	}
	wctx, cancel := context.WithTimeout(ctx, p.causalTimeout)
	defer cancel()
	if err := p.applyMon.WaitFor(wctx, target); err != nil {
		if ctx.Err() != nil {
			return ctxError(ctx)
		}
		return protocols.ErrLockWaitTimeout()
	}
	p.causalReads.Add(1)
	return nil
}

// LastCommitted implements protocols.Provider: wsrep_last_committed, the apply monitor's
// last_left.
func (p *Provider) LastCommitted() int64 { return p.applyMon.LastLeft() }

func (p *Provider) snapshot() {
	s := loopSnapshot{cert: p.cert.Stats(), evs: p.evs.Stats(), latMin: p.latMin, latMax: p.latMax, latN: p.latN, sendQueue: p.sendQueue,
		view: p.group.View, own: p.group.Own(), evsState: p.evs.EVSState(), cachedDownto: p.cachedDownto(),
		ist: p.ist, sst: p.sst, lastXfer: p.lastXfer}
	for _, m := range p.group.View.Members {
		s.weight += p.group.Weights[m]
	}
	if p.latN > 0 {
		s.latAvg = p.latSum / float64(p.latN)
		s.latSD = math.Sqrt(max(0, p.latSumSq/float64(p.latN)-s.latAvg*s.latAvg))
	}
	if p.sendN > 0 {
		s.sendAvg = p.sendSum / float64(p.sendN)
	}
	p.fcMu.Lock()
	if p.recvN > 0 {
		s.recvAvg = p.recvSum / float64(p.recvN)
	}
	p.fcMu.Unlock()
	p.snapMu.Lock()
	p.snap = s
	p.snapMu.Unlock()
}
