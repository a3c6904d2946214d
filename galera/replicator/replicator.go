// Package replicator is Galera's replicator as a pure state machine: the layer between the
// group communication (package gcs's EVS, which it owns) and the server. It takes what the
// network and the server hand a node (EVS messages, local write-sets at COMMIT, a client
// that gave up, an applier that took or finished a write-set, time in ticks, state-transfer
// messages) and returns what the node must do: messages to send, verdicts for waiting
// clients, certified remote write-sets to apply with their depends_seqno, positions to
// cancel in the apply and commit monitors, flow-control pauses, views, and state transfers
// to serve or restore.
//
// Everything Galera decides in total order is decided here, deterministically: the
// certification (package cert), the order bookkeeping (which position each write-set gets,
// which positions will do no work), flow control (gcs.FlowControl: a member's receive queue
// past the limit sends STOP and every member pauses its writers), views and the
// primary-component quorum (EVS), the state exchange after a primary view and the choice
// between IST and SST. Given the same inputs in the same order, every member reaches the
// same decisions, which is what lets the interaction tests (package galeratest) replay a
// cluster step by step.
//
// Like etcd's raft, the Machine has no goroutines, no clock, no locks and no transport:
// inputs are method calls, time is Tick, and Ready returns what the inputs produced. The
// provider (package galera) is the driver: one loop goroutine feeds the Machine, a ticker
// calls Tick, appliers and clients block on the monitors, and the bus carries the messages.
// The one thing the Machine reads from outside is the node's last committed position (the
// apply monitor's last_left), which the driver reports with SetLastCommitted before the
// inputs that need it: committing happens outside, in the appliers and clients.
package replicator

import (
	"encoding/binary"
	"maps"
	"slices"

	"github.com/replbench/replbench/galera/cert"
	"github.com/replbench/replbench/galera/gcs"
	"github.com/replbench/replbench/protocols"
)

// Config configures one member's replicator.
type Config struct {
	// EVS is the group communication's configuration: member index, group size, windows,
	// timers in ticks and pc.weight.
	EVS gcs.Config
	// Cert is the certifier's configuration (cert.max_length, cert.length_check,
	// cert.optimistic_pa).
	Cert cert.Config
	// FC is the flow-control configuration; its limits follow the view's size.
	FC gcs.FCParams
	// GCacheSize is gcache.size in bytes: how much recent history is kept for IST.
	GCacheSize int64
	// AutoIncControl is wsrep_auto_increment_control: each primary view sets
	// auto_increment_increment to its size and the offset to this member's rank.
	AutoIncControl bool
	// StateRetryTicks is how long a member whose state-transfer request found no donor
	// waits before asking again.
	StateRetryTicks int
}

// Machine is one member's replicator. It is not safe for concurrent use: the driver owns
// it from one goroutine, which is Galera's local monitor (certification is serial, in
// delivery order).
type Machine struct {
	cfg       Config
	self, n   int
	evs       *gcs.EVS
	cert      *cert.Certifier
	group     *gcs.Group
	fc        gcs.FlowControl
	paused    bool  // a STOP is in effect: writers are paused
	g         int64 // the last position of the total order known here
	committed int64 // the node's last committed position, as the driver last reported it
	left      bool  // Leave was called: nothing more is delivered

	pending map[uint64]*protocols.WriteSet // local write-sets waiting for their own delivery
	fence   []fenced
	lastRep []int64 // per member: last safe-to-discard reported (commit cut)
	cut     int64

	// membership and state transfer
	have        int64    // every write-set up to here is certified (and applied or queued) here
	gcache      []cached // gcache.size bytes of the newest ordered write-sets, for IST
	gcacheBytes int64
	joinQueue   []cached // live write-sets delivered while waiting for a state transfer
	awaiting    bool     // the exchange made this member ask for a transfer, not yet done (transferred)
	held        [][]byte // own write-set actions waiting for the state exchange
	holding     bool     // a primary view's state exchange is running: hold new proposals
	reqRetry    int      // ticks until a refused state-transfer request is repeated
	requested   bool     // this member's state-transfer request is in the total order
	early       *early   // a transfer that arrived before that request was delivered here
	restoring   *sstPending
	conf        int64
	restarted   bool // NewRestarted: the first IST replays with the group's verdicts (restart.go)
	recovery    RestartState
	needIndex   bool                   // restarted with no certification index to preload: ask for an IST even if up to date
	recovered   map[int]recoveredState // bootstrap.go: what each member reported in this view
	booted      bool                   // the recovery procedure ran (bootstrap.go)

	stats   counters
	effects []Effect
	spare   []Effect
}

// counters are the machine's cumulative figures (Status).
type counters struct {
	sendQueue, sendN        int64
	sendSum, recvSum        float64
	recvN                   int64
	received, receivedBytes int64
	withdrawn, detached     int64
	fencedConflicts         int64
	applyErrors             int64
	ist, sst                int64
	unordered               int64 // write-sets delivered outside a finished exchange (unordered)
	gaps                    int64 // state transfers that left a hole in the history (transferred)
}

// fenced is a detached write-set of this node (its client gave up after it was sent)
// that has not yet been applied here: until it is, its rows are fenced off (see fencedOut).
type fenced struct {
	id    uint64
	seqno int64    // 0 until delivered here
	keys  []uint64 // cert.HashKey of every row key
}

// New returns a member of a bootstrapped cluster: every configured member SYNCED in one
// primary component at seqno 0.
func New(cfg Config) *Machine {
	m := &Machine{cfg: cfg, self: cfg.EVS.Self, n: cfg.EVS.N, evs: gcs.New(cfg.EVS),
		cert: cert.New(cfg.Cert, 0), pending: map[uint64]*protocols.WriteSet{},
		lastRep: make([]int64, cfg.EVS.N), conf: 1}
	m.group = gcs.NewGroup(m.self, m.n, m.evs.CurrentView())
	m.fc.Lower, m.fc.Upper = cfg.FC.Limits(m.n)
	return m
}

func (m *Machine) emit(e Effect) { m.effects = append(m.effects, e) }

// request asks the group for a state transfer (GCS_ACT_STATE_REQ).
func (m *Machine) request() {
	m.requested = true
	m.evs.Propose([]byte{actStateReq})
}

// Serving reports whether a new local write-set may be ordered: this member is SYNCED (or
// DONOR) in a primary component. It is wsrep_ready, apart from the driver's own started
// and closed states.
func (m *Machine) Serving() bool {
	st := m.group.Own()
	return m.group.View.Primary && (st == gcs.NodeSynced || st == gcs.NodeDonor)
}

// SetLastCommitted reports the node's last committed position (the apply monitor's
// last_left). Certification's safe-to-discard and the fences of detached write-sets read
// it; the driver reports it before Propose, Committed and Ready.
func (m *Machine) SetLastCommitted(seqno int64) { m.committed = seqno }

// Announce proposes this member's state to the group: the bootstrap announcement that
// lets every member learn every pc.weight. The driver calls it once, at start.
func (m *Machine) Announce() { m.evs.Propose(m.stateAction()) }

// Step hands the machine an EVS message from a peer (Source set and checked by the codec).
func (m *Machine) Step(msg *gcs.Msg) { m.evs.Step(msg) }

// Tick advances time by one tick (replbench.evs_tick): EVS keepalives, retransmission and
// failure detection, and the retry of a refused state-transfer request.
func (m *Machine) Tick() {
	m.evs.Tick()
	if m.reqRetry > 0 {
		m.reqRetry--
		if m.reqRetry == 0 && m.group.Own() == gcs.NodePrim && !m.group.Exchanging() {
			m.request()
		}
	}
}

// Propose hands the machine a local write-set at COMMIT: id is the action id the driver
// chose, action the encoded write-set (EncodeWriteSet, done by the client's goroutine so
// that encoding runs in parallel). The verdict comes back as a Verdict effect: at once when
// the node cannot order it (NotReady) or it touches a fenced row (Fenced), otherwise once
// the write-set is delivered in total order and certified. ws.Snapshot must hold its
// last_seen; the machine sets ws.Seqno and ws.DependsSeqno.
func (m *Machine) Propose(id uint64, ws *protocols.WriteSet, action []byte) {
	if !m.Serving() {
		m.emit(Verdict{ID: id, Outcome: NotReady})
		return
	}
	if m.fencedOut(ws) {
		m.emit(Verdict{ID: id, Outcome: Fenced})
		return
	}
	m.pending[id] = ws
	m.stats.sendQueue++
	m.stats.sendSum += float64(m.stats.sendQueue)
	m.stats.sendN++
	if m.holding {
		m.held = append(m.held, action)
		return
	}
	m.evs.Propose(action)
}

// Causal asks for a causal-read token (wsrep_sync_wait): a CausalDone effect comes back
// once everything the group had ordered when it was asked is known here.
func (m *Machine) Causal(token uint64) { m.evs.Causal(token) }

// Committed reports that a write-set has committed or been discarded on this node (local:
// a client's, with last_seen lastSeen; otherwise an applier's), with its key count and
// size. Every so often certification then reports its safe-to-discard position to the group
// (GCS_MSG_LAST), from which every member purges its index below the group's commit cut.
func (m *Machine) Committed(local bool, lastSeen int64, keys, bytes int) {
	if v, ok := m.cert.Committed(local, lastSeen, keys, bytes, m.committed); ok {
		m.evs.Propose(binary.AppendVarint([]byte{actLast}, v))
	}
}

// Dequeued reports that an applier took a remote write-set off the receive queue: flow
// control sends CONT when the queue is back at its lower limit.
func (m *Machine) Dequeued() {
	if m.fc.Dequeued() {
		m.evs.Propose([]byte{actFlow, 0})
	}
}

// Leave departs gracefully (the quorum rule counts this member as w(left), not lost): the
// next Ready carries the LEAVE message, and nothing is delivered any more.
func (m *Machine) Leave() {
	m.evs.Leave()
	m.left = true
}

// Ready ends a step: it runs EVS's Ready, handles what EVS delivered in total order and
// returns the messages to send and the effects for the driver, in the order the driver
// must carry them out (messages first). The returned slices are valid until the next Ready.
func (m *Machine) Ready() Ready {
	rd := m.evs.Ready()
	if !m.left {
		m.deliver(rd.Deliveries)
	}
	out := Ready{Messages: rd.Messages, Effects: m.effects}
	clear(m.spare)
	m.effects, m.spare = m.spare[:0], m.effects
	return out
}

// HasReady reports whether Ready would return anything: the driver calls Ready until it is
// false, so that what one step's deliveries provoke (a STOP, a commit-cut report, the state
// exchange) leaves in the same step.
func (m *Machine) HasReady() bool { return len(m.effects) > 0 || m.evs.HasReady() }

// failPending fails every local write-set still waiting for its order: the client gets
// 1047, as a node that dropped out of the primary component answers. It also lifts every
// fence of detached write-sets (fencedOut): the node serves nothing more until a state
// transfer has brought it whatever the primary component committed, those write-sets
// included.
func (m *Machine) failPending() {
	m.fence = nil
	for _, id := range slices.Sorted(maps.Keys(m.pending)) {
		m.emit(Verdict{ID: id, Outcome: NotReady})
		delete(m.pending, id)
		m.stats.sendQueue--
	}
	m.stats.sendQueue = max(m.stats.sendQueue, 0)
}

// cancel fills position g in the monitors: it will do no work (failed certification, an
// unreadable write-set). Nothing above g has left, so last_left reaches g exactly when it
// stood at g-1.
func (m *Machine) cancel(g int64) {
	m.emit(Cancel{Seqno: g})
	if m.committed == g-1 {
		m.committed = g
	}
}
