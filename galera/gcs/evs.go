// This file is a little over 600 lines on purpose: it is the whole EVS sending and delivery
// rule set (sequence, aru, fills, SAFE, send windows, retransmission), which is read as one
// algorithm; membership and views live in view.go, the wire form in codec.go.

// Package gcs is Galera's group communication as a pure state machine: EVS-style total
// order with SAFE delivery, the layer every write-set, flow-control event and commit-cut
// report travels through.
//
// Messages are ordered by (seq, node index). Every member numbers its own messages from the
// one sequence space; an idle member that sees a higher seq than its own answers at once
// with an empty "fill" message that occupies the gap and carries its aru (all messages up
// to aru received, from every sender). A message is delivered only when SAFE: every
// member's reported aru has passed it. So the originator of a write-set learns its order
// only after the longest path originator -> i -> j -> originator: at least one round trip
// to the farthest member, and a slow link between two other members slows it too. That is
// the price Galera pays for "every node has it" before anybody commits, and it is why the
// model does not shortcut to "wait for one ack per member", a cheaper and different
// protocol.
//
// Like etcd's raft, the EVS type has no goroutines and no clock. Inputs are Propose (an
// action from above), Step (a message from a peer), Tick (time passing) and Causal (a
// causal-read token); Ready returns what to send and what was delivered, and is also the
// step boundary at which acks and fills are decided, so that one batch of inputs produces
// one ack. Send windows (evs.user_send_window, evs.send_window) and aggregation of queued
// actions into one message bound what is in flight. Lost messages are recovered by
// retransmission requests and by the originator resending what is not yet safe.
//
// Membership (view.go) is part of the same machine: failure detection on ticks, the
// GATHER/INSTALL view change with virtual synchrony, and the primary-component quorum. A
// new view is delivered in total order (Delivery.View), after the old view's last
// messages. Every member starts in one primary view of all N configured members.
package gcs

import "slices"

// Config configures one member's EVS.
type Config struct {
	Self, N int // this member's index and the group size

	// UserSendWindow is evs.user_send_window (2): a fresh action is sent at once only if
	// its seq is within safe_seq + this window.
	UserSendWindow int
	// SendWindow is evs.send_window (4): queued actions are sent while within safe_seq +
	// this window.
	SendWindow int
	// Aggregate is evs.use_aggregate (true): queued actions share one message up to
	// MaxPacket bytes.
	Aggregate bool
	// MaxPacket bounds an aggregated message's payload bytes (gcs.max_packet_size).
	MaxPacket int
	// KeepaliveTicks is evs.keepalive_period in ticks: an idle member sends an empty
	// message after this many ticks without sending.
	KeepaliveTicks int
	// CausalKeepaliveTicks is evs.causal_keepalive_period in ticks: a causal token is
	// answered without a round trip only if this member sent a causal keepalive that
	// recently.
	CausalKeepaliveTicks int
	// RetransTicks is how many ticks without progress pass before a member resends its
	// unsafe messages and repeats its retransmission requests.
	RetransTicks int

	// SuspectTicks is evs.suspect_timeout in ticks: a view member silent this long is
	// suspected and a view change starts. 0 disables failure detection (static
	// membership).
	SuspectTicks int
	// JoinRetransTicks is evs.join_retrans_period in ticks: JOINs are repeated this often
	// while gathering.
	JoinRetransTicks int
	// InactiveTicks is evs.inactive_timeout in ticks: a gather without consensus this long
	// declares the peers whose JOIN disagrees or is missing inactive, unilaterally.
	InactiveTicks int
	// Weight is pc.weight, this member's weight in the quorum rule.
	Weight int
}

// DefaultConfig returns the source's defaults for a 100 ms tick: keepalive and causal
// keepalive PT1S, resend after a second without progress, suspect PT5S, join
// retransmission PT1S, inactive PT15S, weight 1.
func DefaultConfig(self, n int) Config {
	return Config{Self: self, N: n, UserSendWindow: 2, SendWindow: 4, Aggregate: true,
		MaxPacket: 64500, KeepaliveTicks: 10, CausalKeepaliveTicks: 10, RetransTicks: 10,
		SuspectTicks: 50, JoinRetransTicks: 10, InactiveTicks: 150, Weight: 1}
}

// MsgType is an EVS message type, numbered as evs_message2.hpp numbers them.
type MsgType uint8

// The message types this model uses.
const (
	MsgUser    MsgType = 1 // carries actions, or none (a fill / keepalive that occupies seqs)
	MsgGap     MsgType = 3 // carries the sender's aru, and optionally a retransmission request
	MsgJoin    MsgType = 4 // a view change proposal (Join)
	MsgInstall MsgType = 5 // the representative's agreed view (Install)
	MsgLeave   MsgType = 6 // a graceful leave
)

// Msg is one EVS message.
type Msg struct {
	Type   MsgType
	Source int    // sender's index (set by the receiver from the link, checked by Decode)
	View   ViewID // the view the sender is in
	Seq    int64  // first seq this message occupies (user)
	Range  int64  // the sender has nothing at Seq+1 .. Seq+Range (user)
	Aru    int64  // the sender's aru_seq when it sent the message
	// Retransmission request (gap): ask member ReqFrom to resend its user messages with
	// seq in [ReqLo, ReqHi]. ReqFrom < 0: no request.
	ReqFrom      int
	ReqLo, ReqHi int64
	Actions      [][]byte // user: the aggregated actions
	Join         *Join    // join
	Install      *Install // install
}

// Last is the highest seq the message occupies.
func (m *Msg) Last() int64 { return m.Seq + m.Range }

// Envelope is an outgoing message; To < 0 broadcasts to every other member.
type Envelope struct {
	To  int
	Msg *Msg
}

// Delivery is one action (or causal token) in total order.
type Delivery struct {
	Seq    int64
	Source int
	Action []byte
	// Causal is set (and Action nil) for a causal-read token this member asked for: every
	// action the group had ordered when it was asked has been delivered before it.
	Causal bool
	Token  uint64
	// View is set (and Action nil) when a new view is installed here.
	View *View
}

// Ready is what one step produced.
type Ready struct {
	Messages   []Envelope
	Deliveries []Delivery
}

// Stats are EVS counters.
type Stats struct {
	Sent, Retransmitted, Received, Delivered uint64
	Fills, Gaps                              uint64
	Joins, Views, Suspected                  uint64
	// Stale counts messages dropped as coming from a restarted incarnation of a member the
	// view still holds (is_msg_from_previous_view).
	Stale               uint64
	Queued              int // actions waiting for the send window
	LastSent, Aru, Safe int64
}

type causalWait struct {
	token  uint64
	target int64
}

// EVS is one member's total-order state machine.
type EVS struct {
	cfg Config

	lastSent int64            // own highest occupied seq
	maxHS    int64            // highest seq seen from anyone
	recv     []int64          // per member: every seq up to this received (own: lastSent)
	reported []int64          // per member: highest aru it reported (own: current aru)
	inputs   [][]*Msg         // per member: received user messages with actions, not delivered
	pending  []map[int64]*Msg // per member: received past a hole
	sentBuf  []*Msg           // own user messages not yet safe, ascending seq
	output   [][]byte         // actions waiting for the window
	outBytes int

	aru, safe       int64
	lastReportedAru int64
	delivered       int64 // highest seq delivered

	stepped        bool // a message or tick arrived since the last Ready
	heardUser      bool // a user or gap message was handled since the last Ready: the queue may go
	dupSeen        bool
	idleTicks      int
	noProgress     int
	lastSafeAtTick int64
	causalAge      int // ticks since the last causal keepalive
	causals        []causalWait

	out   []Envelope
	deliv []Delivery
	stats Stats

	// membership (view.go)
	state                State
	view                 ViewID
	members              []bool // in the current view
	primary              bool
	prim                 PrimView
	restored             bool    // prim came from gvwstate.dat; no primary view since (restart.go)
	bootstrapping        bool    // Bootstrap was called: JOINs count as from a primary component until a view installs
	now                  int64   // ticks
	lastHeard            []int64 // tick each peer was last heard
	left, foreign        []bool  // left gracefully; heard from outside our view
	excluded             []bool  // dropped at an install timeout
	joins                []*Join
	peerJoin             []*Join // each peer's latest JOIN, in any state (what it hears)
	peerJoinAt           []int64 // tick it arrived
	myJoin               *Join
	attempt              int64
	gatherAt, joinSentAt int64
	lastInstall          *Msg
}

// New returns a member with nothing sent or received.
func New(cfg Config) *EVS {
	if cfg.UserSendWindow <= 0 {
		cfg.UserSendWindow = 2
	}
	if cfg.SendWindow <= 0 {
		cfg.SendWindow = 4
	}
	if cfg.MaxPacket <= 0 {
		cfg.MaxPacket = 64500
	}
	if cfg.RetransTicks <= 0 {
		cfg.RetransTicks = 1
	}
	if cfg.JoinRetransTicks <= 0 {
		cfg.JoinRetransTicks = 1
	}
	e := &EVS{cfg: cfg, recv: make([]int64, cfg.N), reported: make([]int64, cfg.N),
		inputs: make([][]*Msg, cfg.N), pending: make([]map[int64]*Msg, cfg.N), causalAge: 1 << 30,
		members: make([]bool, cfg.N), lastHeard: make([]int64, cfg.N), left: make([]bool, cfg.N),
		foreign: make([]bool, cfg.N), excluded: make([]bool, cfg.N), primary: true,
		peerJoin: make([]*Join, cfg.N), peerJoinAt: make([]int64, cfg.N)}
	for i := range e.members {
		e.members[i] = true
	}
	// The bootstrap view is 1.0, so that a restarted process's own view (0.self, Restarted)
	// never equals a view the running members are in: a JOIN from it must not count as
	// coming from their view (the transitional cut and quorum of view.go).
	e.view = ViewID{Seq: 1}
	e.prim = e.BootstrapPrim()
	e.prim.ID = e.view
	return e
}

// Propose queues an action for total order. If nothing is queued and the user send window
// allows, it leaves at once; otherwise it waits for acks to open the window.
func (e *EVS) Propose(action []byte) {
	if e.state == StateOperational && len(e.output) == 0 && e.lastSent+1 <= e.safe+int64(e.cfg.UserSendWindow) {
		e.sendUser([][]byte{action})
		return
	}
	e.output = append(e.output, action)
	e.outBytes += len(action)
}

// Withdraw removes the first action still waiting for the send window for which match
// returns true, and reports whether there was one. Only a queued action can be taken back:
// it has no seq yet, so removing it leaves no hole in anybody's order. An action that has
// left occupies a seq that peers may already hold; it will be delivered, or handed back in
// the next view's Undelivered, and the caller must deal with it there.
func (e *EVS) Withdraw(match func(action []byte) bool) bool {
	i := slices.IndexFunc(e.output, match)
	if i < 0 {
		return false
	}
	e.outBytes -= len(e.output[i])
	e.output = slices.Delete(e.output, i, i+1)
	return true
}

// sendUser sends one user message with the given actions (none: a fill or keepalive).
// With nothing else queued the message also fills the sequence up to max_hs.
func (e *EVS) sendUser(actions [][]byte) {
	m := &Msg{Type: MsgUser, Source: e.cfg.Self, View: e.view, Seq: e.lastSent + 1, ReqFrom: -1, Actions: actions}
	if (len(actions) == 0 || len(e.output) == 0) && e.maxHS > m.Seq {
		m.Range = e.maxHS - m.Seq
	}
	e.lastSent = m.Last()
	e.maxHS = max(e.maxHS, e.lastSent)
	e.recv[e.cfg.Self] = e.lastSent
	if len(actions) > 0 {
		e.inputs[e.cfg.Self] = append(e.inputs[e.cfg.Self], m)
	} else {
		e.stats.Fills++
	}
	e.updateAru()
	m.Aru = e.aru
	e.lastReportedAru = e.aru
	e.sentBuf = append(e.sentBuf, m)
	e.out = append(e.out, Envelope{To: -1, Msg: m})
	e.stats.Sent++
	e.idleTicks = 0
}

func (e *EVS) sendGap(to, reqFrom int, lo, hi int64) {
	m := &Msg{Type: MsgGap, Source: e.cfg.Self, View: e.view, Aru: e.aru, ReqFrom: reqFrom, ReqLo: lo, ReqHi: hi}
	e.lastReportedAru = e.aru
	e.out = append(e.out, Envelope{To: to, Msg: m})
	e.stats.Gaps++
	e.idleTicks = 0
}

// flush sends queued actions while the send window allows, aggregating them.
func (e *EVS) flush() { e.flushWithin(e.safe) }

// provisionalSafe is the safe seq the messages handled in this step imply (the members'
// reported arus and our own receipt), before Ready delivers up to it: the base the send
// window is measured from while those messages are handled, as update_im_safe_seq moves
// it before send_user runs.
func (e *EVS) provisionalSafe() int64 {
	safe := e.minRecv()
	for i, r := range e.reported {
		if e.members[i] && i != e.cfg.Self {
			safe = min(safe, r)
		}
	}
	return safe
}

// flushWithin sends queued actions while seq stays within safe + evs.send_window.
func (e *EVS) flushWithin(safe int64) {
	for e.state == StateOperational && len(e.output) > 0 && e.lastSent+1 <= safe+int64(e.cfg.SendWindow) {
		n, size := 1, len(e.output[0])
		if e.cfg.Aggregate {
			for n < len(e.output) && size+len(e.output[n]) <= e.cfg.MaxPacket {
				size += len(e.output[n])
				n++
			}
		}
		batch := slices.Clone(e.output[:n])
		clear(e.output[:n])
		e.output = e.output[n:]
		e.outBytes -= size
		e.sendUser(batch)
	}
}

// Step handles a message from member m.Source.
func (e *EVS) Step(m *Msg) {
	src := m.Source
	if src < 0 || src >= e.cfg.N || src == e.cfg.Self || e.state == StateClosed {
		return
	}
	e.stepped = true
	e.stats.Received++
	if e.members[src] && m.View.Seq == 0 && e.view.Seq > 0 {
		// A restarted process (view 0.x, Restarted) that our view still holds in its old
		// incarnation: evs_proto's is_msg_from_previous_view drops a message from a current
		// member whose source view is older than ours ("stale message from unknown
		// origin"), and it refreshes nothing, so the old incarnation is suspected after
		// evs.suspect_timeout of silence and excluded; only then does the new one merge as
		// a node from outside the view. The cost is a rejoin no faster than the suspect
		// timeout after a quick restart, which is what the real provider does too.
		e.stats.Stale++
		return
	}
	switch m.Type {
	case MsgJoin:
		e.heard(m)
		e.stepJoin(m)
		return
	case MsgInstall:
		e.heard(m)
		e.stepInstall(m)
		return
	case MsgLeave:
		e.lastHeard[src] = e.now
		if e.members[src] && m.View == e.view {
			e.left[src] = true
			e.startGather()
		}
		return
	}
	if !e.heard(m) {
		return
	}
	if m.Aru > e.reported[src] {
		e.reported[src] = m.Aru
	}
	if m.Type == MsgUser || m.Type == MsgGap {
		e.heardUser = true
	}
	switch m.Type {
	case MsgGap:
		if m.ReqFrom == e.cfg.Self {
			e.retransmit(src, m.ReqLo, m.ReqHi)
		}
	case MsgUser:
		e.maxHS = max(e.maxHS, m.Last())
		switch {
		case m.Seq <= e.recv[src]:
			e.dupSeen = true
		case m.Seq == e.recv[src]+1:
			e.accept(src, m)
			for {
				next, ok := e.pending[src][e.recv[src]+1]
				if !ok {
					break
				}
				delete(e.pending[src], next.Seq)
				e.accept(src, next)
			}
		default:
			if e.pending[src] == nil {
				e.pending[src] = map[int64]*Msg{}
			}
			e.pending[src][m.Seq] = m
			e.sendGap(src, src, e.recv[src]+1, m.Seq-1)
		}
	}
}

func (e *EVS) accept(src int, m *Msg) {
	if len(m.Actions) > 0 {
		e.inputs[src] = append(e.inputs[src], m)
	}
	e.recv[src] = m.Last()
}

func (e *EVS) retransmit(to int, lo, hi int64) {
	for _, m := range e.sentBuf {
		if m.Last() >= lo && m.Seq <= hi {
			e.out = append(e.out, Envelope{To: to, Msg: m})
			e.stats.Retransmitted++
		}
	}
}

// Tick advances time by one tick: keepalives when idle, resends when stuck.
func (e *EVS) Tick() {
	if e.state == StateClosed {
		return
	}
	e.now++
	e.stepped = true
	e.membershipTick()
	if e.state != StateOperational {
		return
	}
	e.idleTicks++
	e.causalAge++
	if e.safe > e.lastSafeAtTick || (len(e.sentBuf) == 0 && e.recvComplete()) {
		e.noProgress = 0
	} else {
		e.noProgress++
	}
	e.lastSafeAtTick = e.safe
	if e.noProgress >= e.cfg.RetransTicks {
		e.noProgress = 0
		// Resend what is not yet safe to whoever has not reported it, ask for what we miss,
		// and repeat our aru in case a report was lost.
		for i := 0; i < e.cfg.N; i++ {
			if i == e.cfg.Self || !e.members[i] {
				continue
			}
			for _, m := range e.sentBuf {
				if m.Seq > e.reported[i] {
					e.out = append(e.out, Envelope{To: i, Msg: m})
					e.stats.Retransmitted++
				}
			}
			if e.recv[i] < e.maxHS {
				e.sendGap(i, i, e.recv[i]+1, e.maxHS)
			}
		}
		e.sendGap(-1, -1, 0, 0)
	}
	if e.idleTicks >= e.cfg.KeepaliveTicks && e.cfg.KeepaliveTicks > 0 {
		e.sendUser(nil)
	}
}

func (e *EVS) recvComplete() bool {
	for i := range e.recv {
		if !e.members[i] {
			continue
		}
		if e.recv[i] < e.maxHS || e.reported[i] < e.maxHS && i != e.cfg.Self {
			return false
		}
	}
	return true
}

// Causal asks for a causal-read token: it is delivered (Delivery.Causal) once everything
// the group had ordered when it was asked is delivered here. If this member sent a causal
// keepalive recently and everything is safe, the token is delivered at once; otherwise an
// empty message goes out and the token waits for it to become safe (about one RTT).
func (e *EVS) Causal(token uint64) {
	if e.state != StateOperational {
		// Answered in the next view, after the old view's last deliveries.
		e.causals = append(e.causals, causalWait{token, 0})
		return
	}
	if e.safe >= e.aru && e.causalAge < e.cfg.CausalKeepaliveTicks {
		e.causals = append(e.causals, causalWait{token, e.aru})
		return
	}
	e.sendUser(nil)
	e.causalAge = 0
	e.causals = append(e.causals, causalWait{token, e.lastSent})
}

func (e *EVS) updateAru() { e.aru = e.minRecv() }

// minRecv is the aru the next Ready computes: every seq up to it is received from every
// view member.
func (e *EVS) minRecv() int64 {
	a := e.recv[e.cfg.Self]
	for i, r := range e.recv {
		if e.members[i] {
			a = min(a, r)
		}
	}
	return a
}

// HasReady reports whether Ready would do anything now: send a message, deliver an action,
// a causal token or a view, or decide on inputs that arrived since the last Ready. A driver
// calls Ready until HasReady is false, because the deliveries of one Ready often make the
// layer above propose at once (flow control, commit-cut reports, the state exchange), and
// those must leave in the same step rather than wait for the next input or tick. Without new
// input it turns false after at most one Ready.
func (e *EVS) HasReady() bool {
	if len(e.out) > 0 || len(e.deliv) > 0 || e.stepped || e.dupSeen {
		return true
	}
	if e.state != StateOperational {
		return false
	}
	aru := e.minRecv()
	if e.maxHS > e.lastSent || aru > e.lastReportedAru {
		return true
	}
	safe := aru
	for i, r := range e.reported {
		if e.members[i] && i != e.cfg.Self {
			safe = min(safe, r)
		}
	}
	safe = max(safe, e.safe)
	for _, c := range e.causals {
		if c.target <= safe {
			return true
		}
	}
	return safe > e.safe
}

// Ready ends a step: it flushes queued actions if acks arrived, fills the sequence and
// reports the aru if this member has nothing else to send, delivers what became safe, and
// returns everything produced since the last call.
func (e *EVS) Ready() Ready {
	if e.state != StateOperational {
		if e.state == StateGather {
			e.gatherStep()
		}
		e.stepped, e.dupSeen = false, false
		rd := Ready{Messages: e.out, Deliveries: e.deliv}
		e.out, e.deliv = nil, nil
		return rd
	}
	// Queued write-sets leave only while a received user or gap message is handled
	// (evs_proto.cpp: handle_user/handle_gap call send_user(send_window_)), against the safe
	// seq that message has just updated; never from the retransmission timer, which sends
	// a keepalive. So a write-set queued behind a full window waits for the next incoming
	// message, on a quiet link the far member's ack. The one exception is a queue with
	// nothing of ours in flight (left over from a view change): no ack will come to carry
	// it, so a tick lets it go.
	if e.heardUser || (e.stepped && len(e.sentBuf) == 0) {
		e.flushWithin(max(e.safe, e.provisionalSafe()))
	}
	if e.maxHS > e.lastSent {
		e.sendUser(nil)
	}
	e.updateAru()
	if e.aru > e.lastReportedAru || e.dupSeen {
		e.sendGap(-1, -1, 0, 0)
	}
	e.stepped, e.dupSeen = false, false
	heard := e.heardUser
	e.heardUser = false
	e.reported[e.cfg.Self] = e.aru
	safe := e.aru
	for i, r := range e.reported {
		if e.members[i] {
			safe = min(safe, r)
		}
	}
	if safe > e.safe {
		e.safe = safe
		e.deliver()
		// Drop own messages that every member now has.
		i := 0
		for i < len(e.sentBuf) && e.sentBuf[i].Last() <= e.safe {
			i++
		}
		if i > 0 {
			n := copy(e.sentBuf, e.sentBuf[i:])
			clear(e.sentBuf[n:])
			e.sentBuf = e.sentBuf[:n]
		}
		// A wider window may let queued actions go (the handling of the message that
		// moved the safe seq; safe moves only on a received message).
		if len(e.output) > 0 && (heard || len(e.sentBuf) == 0) {
			e.flush()
		}
	}
	if len(e.causals) > 0 {
		kept := e.causals[:0]
		for _, c := range e.causals {
			if c.target <= e.safe {
				e.deliv = append(e.deliv, Delivery{Seq: c.target, Source: e.cfg.Self, Causal: true, Token: c.token})
			} else {
				kept = append(kept, c)
			}
		}
		e.causals = kept
	}
	rd := Ready{Messages: e.out, Deliveries: e.deliv}
	e.out, e.deliv = nil, nil
	return rd
}

// deliver pops, in (seq, index) order, every received message with actions at or below safe.
func (e *EVS) deliver() {
	for {
		best := -1
		for i := range e.inputs {
			if len(e.inputs[i]) == 0 || e.inputs[i][0].Seq > e.safe {
				continue
			}
			if best < 0 || e.inputs[i][0].Seq < e.inputs[best][0].Seq {
				best = i
			}
		}
		if best < 0 {
			break
		}
		m := e.inputs[best][0]
		e.inputs[best][0] = nil
		e.inputs[best] = e.inputs[best][1:]
		for _, a := range m.Actions {
			e.deliv = append(e.deliv, Delivery{Seq: m.Seq, Source: best, Action: a})
		}
		e.delivered = m.Seq
		e.stats.Delivered += uint64(len(m.Actions))
	}
}

// Stats returns counters and positions.
func (e *EVS) Stats() Stats {
	s := e.stats
	s.Queued = len(e.output)
	s.LastSent, s.Aru, s.Safe = e.lastSent, e.aru, e.safe
	return s
}

// QueuedBytes is the payload waiting for the send window.
func (e *EVS) QueuedBytes() int { return e.outBytes }
