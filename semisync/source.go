package semisync

import (
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/replbench/replbench/protocols"
)

// WaitPoint is rpl_semi_sync_master_wait_point: where a commit waits for the ack.
type WaitPoint uint8

const (
	// AfterSync waits after the binlog write and before the engine commit, once per binlog
	// group, holding the commit-stage lock: nothing unacknowledged is visible, and later
	// groups queue behind the wait (MySQL 5.7.2+ default).
	AfterSync WaitPoint = iota
	// AfterCommit commits in the engine first and then waits, per session, outside the
	// lock: other sessions can read data no replica has yet ("phantom" reads if the source
	// crashes before the ack).
	AfterCommit
)

func (w WaitPoint) String() string {
	if w == AfterCommit {
		return "AFTER_COMMIT"
	}
	return "AFTER_SYNC"
}

// SourceConfig configures the source state machine.
type SourceConfig struct {
	Replicas    []string      // replica names; only these may open a dump stream
	SemiSync    bool          // false: plain async, commits never wait
	WaitPoint   WaitPoint     // rpl_semi_sync_master_wait_point
	WaitCount   int           // rpl_semi_sync_master_wait_for_slave_count
	Timeout     time.Duration // rpl_semi_sync_master_timeout
	WaitNoSlave bool          // rpl_semi_sync_master_wait_no_slave
	// Serialized holds the binlog lock from the binlog write through the ack wait, so
	// every commit waits alone (the 5.5/5.6 behaviour); false is modern group commit.
	Serialized bool
	// HeartbeatPeriod is how long a dump stream may stay silent before the source sends
	// a heartbeat carrying its newest position.
	HeartbeatPeriod time.Duration
	// HistorySize is binlog_transaction_dependency_history_size.
	HistorySize int
	// SyncDelay is binlog_group_commit_sync_delay: the sync-stage leader waits this long
	// (or until SyncNoDelayCount transactions have queued) before syncing the binlog, so
	// more transactions share one sync and one ack wait. Events reach the dump streams
	// only once synced (sync_binlog=1), so the delay adds to every commit's latency.
	// Group mode only.
	SyncDelay        time.Duration
	SyncNoDelayCount int // binlog_group_commit_sync_no_delay_count; 0: no limit
}

// EventKind says what a released session may do next.
type EventKind uint8

const (
	// EvWritten: the transaction is in the binlog at Pos (Replicate may return).
	EvWritten EventKind = iota + 1
	// EvGo: the engine commit may run now, in position order.
	EvGo
	// EvDone: the commit is over (Apply may return); Acked tells whether a semi-sync ack
	// covered it.
	EvDone
)

func (k EventKind) String() string {
	switch k {
	case EvWritten:
		return "written"
	case EvGo:
		return "go"
	case EvDone:
		return "done"
	}
	return "?"
}

// Event releases one session.
type Event struct {
	Session uint64
	Kind    EventKind
	Pos     int64
	Acked   bool
}

// Envelope is an encoded message for one node.
type Envelope struct {
	To      string
	Payload []byte
}

// SourceStatus are the source's counters, by what MySQL calls them.
type SourceStatus struct {
	On             bool  // Rpl_semi_sync_master_status
	Clients        int   // Rpl_semi_sync_master_clients
	YesTx          int64 // Rpl_semi_sync_master_yes_tx
	NoTx           int64 // Rpl_semi_sync_master_no_tx
	NoTimes        int64 // Rpl_semi_sync_master_no_times
	WaitTimeouts   int64 // Rpl_semi_sync_master_wait_timeouts (not exported by 8.0; kept for tests)
	WaitSessions   int   // Rpl_semi_sync_master_wait_sessions
	Backtraverse   int64 // Rpl_semi_sync_master_wait_pos_backtraverse
	TxWaitTime     int64 // Rpl_semi_sync_master_tx_wait_time, µs
	TxWaits        int64 // Rpl_semi_sync_master_tx_waits
	CommitPos      int64 // newest binlog position written
	ReplyPos       int64 // newest position acked by WaitCount replicas (0 if none since the last switch-off)
	Groups         int64 // binlog groups that went through the commit stage
	ReplicaAcked   map[string]int64
	ReplicaSending map[string]int64 // next position each dump stream will send

	Interrupted int64 // ack waits a killed session ended (Interrupt), also in NoTx; MySQL only logs them
}

type binlogEvent struct {
	ws []byte // encoded write-set
	ts int64  // commit timestamp, Unix ns
}

type dumpStream struct {
	next     int64 // next position to send
	acked    int64
	lastSend time.Time
}

type session struct {
	id     uint64
	ws     *protocols.WriteSet
	pos    int64 // 0 until written
	grp    *group
	killed bool // Interrupt: it no longer waits for an ack
}

// group is one binlog group going through the commit stage, holding its lock.
type group struct {
	members   []*session
	committed int
	waiting   int  // AFTER_COMMIT waits (serialised mode holds the lock across them)
	acked     bool // AFTER_SYNC: the group's one wait ended with an ack
}

// waiter is one commitTrx call blocked on an ack: a whole group's (AFTER_SYNC) or one
// session's (AFTER_COMMIT).
type waiter struct {
	pos      int64
	start    time.Time
	deadline time.Time
	release  func(now time.Time, acked bool)
	for_     []*session // the sessions whose wait this is
}

// Source is the source's state machine: the binlog, the commit pipeline with its
// commit-stage lock, the dump streams and the ack bookkeeping of ReplSemiSyncMaster. It is
// not safe for concurrent use; the driver serialises calls and sends Ready's output.
type Source struct {
	cfg  SourceConfig
	deps *depTracker

	binlog    []binlogEvent // position p at index p-1
	commitPos int64         // newest position written (flushed)
	syncedPos int64         // newest position synced: what the dump streams may send

	syncQueue    []*session // flushed, waiting for the sync stage's delay to end
	syncDeadline time.Time

	on          bool
	replyPos    int64
	replyInited bool
	waitPos     int64
	waitInited  bool
	active      map[int64]bool // transaction-end positions written while ON and not yet acked

	dumps map[string]*dumpStream

	sessions map[uint64]*session
	queue    []*session // group mode: written, waiting for the commit stage; serialised: waiting for the lock
	holder   *group
	waiters  []*waiter

	st   SourceStatus
	msgs []Envelope
	evs  []Event
}

// NewSource returns a source with an empty binlog. Semi-sync starts ON.
func NewSource(cfg SourceConfig) *Source {
	if cfg.WaitCount < 1 {
		cfg.WaitCount = 1
	}
	return &Source{
		cfg:      cfg,
		deps:     newDepTracker(cfg.HistorySize),
		on:       cfg.SemiSync,
		active:   make(map[int64]bool),
		dumps:    make(map[string]*dumpStream),
		sessions: make(map[uint64]*session),
	}
}

// Submit enters a local transaction into the commit pipeline (ws.Snapshot already set by
// the caller). In group mode it is written to the binlog at once (flush stage) and its
// event leaves for every replica; in serialised mode it first queues for the binlog lock.
func (s *Source) Submit(now time.Time, id uint64, ws *protocols.WriteSet) {
	ss := &session{id: id, ws: ws}
	s.sessions[id] = ss
	if s.cfg.Serialized {
		s.queue = append(s.queue, ss)
		s.advance(now)
		return
	}
	s.write(now, ss)
	if s.cfg.SyncDelay <= 0 {
		s.sync(now)
		s.queue = append(s.queue, ss)
		s.advance(now)
		return
	}
	if len(s.syncQueue) == 0 {
		s.syncDeadline = now.Add(s.cfg.SyncDelay)
	}
	s.syncQueue = append(s.syncQueue, ss)
	if s.cfg.SyncNoDelayCount > 0 && len(s.syncQueue) >= s.cfg.SyncNoDelayCount {
		s.syncStage(now)
	}
}

// syncStage ends the sync stage's wait: the binlog is synced, the batch's events leave
// for the replicas, and the batch joins the commit-stage queue.
func (s *Source) syncStage(now time.Time) {
	s.sync(now)
	s.queue = append(s.queue, s.syncQueue...)
	s.syncQueue = nil
	s.syncDeadline = time.Time{}
	s.advance(now)
}

// sync makes everything written visible to the dump threads and sends it down every
// dump stream.
func (s *Source) sync(now time.Time) {
	s.syncedPos = s.commitPos
	for _, name := range s.dumpNames() {
		d := s.dumps[name]
		for d.next <= s.syncedPos {
			s.sendEvent(now, name, d, d.next)
		}
	}
}

// Cancel withdraws a session that is still queued for the serialised binlog lock and
// reports whether it did; a written transaction cannot be withdrawn (it is in the binlog,
// and replicas will apply it), so the caller must go on to commit it.
func (s *Source) Cancel(id uint64) bool {
	ss := s.sessions[id]
	if ss == nil || ss.pos != 0 {
		return false
	}
	if i := slices.Index(s.queue, ss); i >= 0 {
		s.queue = slices.Delete(s.queue, i, i+1)
	}
	delete(s.sessions, id)
	return true
}

// write is the flush stage: assign the next binlog position, compute the dependency and
// append to the binlog (after_flush: commit_pos, and an active node if ON). Its event
// leaves when the binlog is synced.
func (s *Source) write(now time.Time, ss *session) {
	pos := s.commitPos + 1
	ws := ss.ws
	ws.Seqno = pos
	ws.DependsSeqno = s.deps.track(ws, pos)
	s.binlog = append(s.binlog, binlogEvent{ws: protocols.EncodeWriteSet(ws), ts: now.UnixNano()})
	s.commitPos = pos
	ss.pos = pos
	if s.cfg.SemiSync && s.on {
		s.active[pos] = true
	}
	s.evs = append(s.evs, Event{Session: ss.id, Kind: EvWritten, Pos: pos})
}

// advance moves the commit pipeline: when the commit-stage lock is free, the queued
// sessions become the next group (group mode: all of them; serialised: the first, which
// is written now) and the group's ack wait starts (AFTER_SYNC) or its members may commit.
func (s *Source) advance(now time.Time) {
	if s.holder != nil || len(s.queue) == 0 {
		return
	}
	g := &group{}
	if s.cfg.Serialized {
		ss := s.queue[0]
		s.queue = s.queue[1:]
		s.write(now, ss)
		s.sync(now)
		g.members = []*session{ss}
	} else {
		g.members = s.queue
		s.queue = nil
	}
	for _, m := range g.members {
		m.grp = g
	}
	s.holder = g
	s.st.Groups++
	goAll := func(_ time.Time, acked bool) {
		g.acked = acked
		for _, m := range g.members {
			s.evs = append(s.evs, Event{Session: m.id, Kind: EvGo, Pos: m.pos})
		}
	}
	if s.cfg.SemiSync && s.cfg.WaitPoint == AfterSync {
		// after_sync hook: one commitTrx for the whole group, at its last position.
		s.commitTrx(now, g.members[len(g.members)-1].pos, g.members, goAll)
		return
	}
	goAll(now, false)
}

// Committed reports that a session's engine commit has run. When the whole group has
// committed, the commit-stage lock passes to the next group and only then are the
// members released, as MySQL's leader commits the group and signals the followers after
// unlocking: a released client's next transaction cannot join the group that was already
// queued. Under AFTER_COMMIT each member then waits for its own ack (after_commit hook);
// in serialised mode the lock is held until that wait ends.
func (s *Source) Committed(now time.Time, id uint64) {
	ss := s.sessions[id]
	if ss == nil || ss.grp == nil {
		return
	}
	g := ss.grp
	g.committed++
	if g.committed < len(g.members) {
		return
	}
	if s.cfg.SemiSync && s.cfg.WaitPoint == AfterCommit {
		if !s.cfg.Serialized {
			s.release(now, g)
		}
		g.waiting = len(g.members)
		for _, m := range g.members {
			s.commitTrx(now, m.pos, []*session{m}, func(now time.Time, acked bool) {
				s.finish(m, acked)
				g.waiting--
				if s.cfg.Serialized && g.waiting == 0 {
					s.release(now, g)
				}
			})
		}
		return
	}
	s.release(now, g)
	for _, m := range g.members {
		s.finish(m, g.acked)
	}
}

func (s *Source) finish(ss *session, acked bool) {
	s.evs = append(s.evs, Event{Session: ss.id, Kind: EvDone, Pos: ss.pos, Acked: acked})
	delete(s.sessions, ss.id)
}

// release frees the commit-stage lock held by g and lets the next group in.
func (s *Source) release(now time.Time, g *group) {
	if s.holder != g {
		return
	}
	s.holder = nil
	s.advance(now)
}

// commitTrx is ReplSemiSyncMaster::commitTrx for position pos on behalf of the sessions
// in for_: return at once if async, if OFF, if pos is already acked or if one of them was
// killed; otherwise wait until an ack covers pos, the timeout switches semi-sync off, or
// one of them is killed (Interrupt). release runs exactly once, possibly now.
func (s *Source) commitTrx(now time.Time, pos int64, for_ []*session, release func(now time.Time, acked bool)) {
	switch {
	case !s.cfg.SemiSync:
		release(now, false)
		return
	case !s.on:
		s.st.NoTx++
		release(now, false)
		return
	case s.replyInited && s.replyPos >= pos:
		s.st.YesTx++
		release(now, true)
		return
	case !s.active[pos]:
		// Written while OFF: nothing will ask a replica to ack it; it is async.
		s.st.NoTx++
		release(now, false)
		return
	case slices.ContainsFunc(for_, func(ss *session) bool { return ss.killed }):
		// The waiting thread was killed before its wait began.
		s.st.NoTx++
		s.st.Interrupted++
		release(now, false)
		return
	}
	if !s.waitInited || pos < s.waitPos {
		if s.waitInited {
			s.st.Backtraverse++
		}
		s.waitPos, s.waitInited = pos, true
	}
	s.waiters = append(s.waiters, &waiter{pos: pos, start: now, deadline: now.Add(s.cfg.Timeout), release: release, for_: for_})
}

// Interrupt is the session id killed while it waits (KILL QUERY, or the client's deadline):
// commitTrx stops waiting for the ack, as MySQL's does when it sees the thread killed. The
// transaction is in the binlog, so it still commits in the engine, in binlog order; only
// the wait is cut short, and counts as no_tx. Under AFTER_SYNC the wait is the whole
// group's, done by one thread holding the commit-stage lock: the model lets any member's
// kill end it (MySQL lets only the leader's), so that every killed session returns
// promptly; the group then commits without the ack, the commit-stage lock passes on, and
// the source goes on serving the other sessions. A session still queued behind an
// earlier group's wait is marked: its own group will not wait for the ack, but it
// commits after that earlier group, whose wait ends with its ack, its timeout or a kill
// of its own. Interrupt reports whether it ended a wait now.
func (s *Source) Interrupt(now time.Time, id uint64) bool {
	ss := s.sessions[id]
	if ss == nil || ss.pos == 0 {
		return false // done already, or not written: Cancel withdraws those
	}
	ss.killed = true
	i := slices.IndexFunc(s.waiters, func(w *waiter) bool { return slices.Contains(w.for_, ss) })
	if i < 0 {
		return false
	}
	w := s.waiters[i]
	s.waiters = slices.Delete(s.waiters, i, i+1)
	s.waitInited = false
	for _, k := range s.waiters {
		if !s.waitInited || k.pos < s.waitPos {
			s.waitPos, s.waitInited = k.pos, true
		}
	}
	s.st.NoTx++
	s.st.Interrupted++
	w.release(now, false)
	return true
}

// Step handles a message from a replica.
func (s *Source) Step(now time.Time, from string, m message) {
	if !slices.Contains(s.cfg.Replicas, from) {
		return
	}
	switch m.Type {
	case msgDump:
		s.dump(now, from, m.Pos)
	case msgAck:
		s.ack(now, from, m.Pos)
	case msgQuit:
		if _, ok := s.dumps[from]; ok {
			delete(s.dumps, from)
			if s.cfg.SemiSync && s.on && !s.cfg.WaitNoSlave && len(s.dumps) < s.cfg.WaitCount {
				s.switchOff(now)
			}
		}
	}
}

// dump (re)starts the dump stream of a replica at position from: the backlog is sent at
// once, then new events as they are written. A replica that is up to date gets a
// heartbeat, so it knows it is connected.
func (s *Source) dump(now time.Time, from string, start int64) {
	if start < 1 {
		start = 1
	}
	if start > s.syncedPos+1 {
		start = s.syncedPos + 1
	}
	d := s.dumps[from]
	if d == nil {
		d = &dumpStream{}
		s.dumps[from] = d
	}
	d.next = start
	if start > s.syncedPos {
		s.sendHeartbeat(now, from, d)
		return
	}
	for d.next <= s.syncedPos {
		s.sendEvent(now, from, d, d.next)
	}
}

// sendEvent sends position pos on d, which must be d.next. The sync flag asks for an ack:
// while ON for every transaction still waiting for one; while OFF only for the newest
// position, whose ack is what switches semi-sync back on.
func (s *Source) sendEvent(now time.Time, to string, d *dumpStream, pos int64) {
	e := s.binlog[pos-1]
	sync := false
	if s.cfg.SemiSync {
		if s.on {
			sync = s.active[pos] && (!s.replyInited || pos > s.replyPos)
		} else {
			sync = pos >= s.commitPos
		}
	}
	s.msgs = append(s.msgs, Envelope{To: to, Payload: appendMessage(nil, message{Type: msgEvent, Pos: pos, Sync: sync, TS: e.ts, WS: e.ws})})
	d.next = pos + 1
	d.lastSend = now
}

// sendHeartbeat tells a replica the newest position. While a session waits for an ack, or
// while semi-sync is OFF, it also asks a caught-up replica to ack again, standing in for
// TCP's retransmission of an ack the emulator dropped.
func (s *Source) sendHeartbeat(now time.Time, to string, d *dumpStream) {
	sync := s.cfg.SemiSync && s.syncedPos > 0 && (len(s.waiters) > 0 || !s.on)
	s.msgs = append(s.msgs, Envelope{To: to, Payload: appendMessage(nil, message{Type: msgHeartbeat, Pos: s.syncedPos, Sync: sync})})
	d.lastSend = now
}

// ack is the ack receiver's handleAck: record the replica's position and, once
// WaitCount replicas have acked a position, move reply_pos forward, switch semi-sync back
// on if it reaches the newest written position, and release the waiters it covers.
func (s *Source) ack(now time.Time, from string, pos int64) {
	d := s.dumps[from]
	if d == nil || pos > s.syncedPos {
		return
	}
	if pos > d.acked {
		d.acked = pos
	}
	if !s.cfg.SemiSync {
		return
	}
	acks := make([]int64, 0, len(s.dumps))
	for _, x := range s.dumps {
		acks = append(acks, x.acked)
	}
	if len(acks) < s.cfg.WaitCount {
		return
	}
	sort.Slice(acks, func(i, j int) bool { return acks[i] > acks[j] })
	cand := acks[s.cfg.WaitCount-1]
	if cand == 0 || (s.replyInited && cand <= s.replyPos) {
		return
	}
	if !s.on {
		// try_switch_on: only an ack of the newest written position re-arms semi-sync.
		if cand < s.commitPos {
			return
		}
		s.on = true
	}
	s.replyPos, s.replyInited = cand, true
	for p := range s.active {
		if p <= cand {
			delete(s.active, p)
		}
	}
	if s.waitInited && s.replyPos >= s.waitPos {
		s.waitInited = false
	}
	kept := s.waiters[:0]
	var released []*waiter
	for _, w := range s.waiters {
		if w.pos <= cand {
			released = append(released, w)
		} else {
			kept = append(kept, w)
		}
	}
	s.waiters = kept
	for _, w := range kept {
		if !s.waitInited || w.pos < s.waitPos {
			s.waitPos, s.waitInited = w.pos, true
		}
	}
	for _, w := range released {
		s.st.YesTx++
		s.st.TxWaits++
		s.st.TxWaitTime += now.Sub(w.start).Microseconds()
		w.release(now, true)
	}
}

// switchOff is switch_off: state OFF, reply and wait positions forgotten, every waiter
// woken; they and all later commits count as no_tx until a replica catches up.
func (s *Source) switchOff(now time.Time) {
	s.on = false
	s.st.NoTimes++
	s.replyInited, s.waitInited = false, false
	clear(s.active)
	ws := s.waiters
	s.waiters = nil
	for _, w := range ws {
		s.st.NoTx++
		w.release(now, false)
	}
}

// Tick ends a sync-stage delay that is due, checks the waiters' deadlines (a timeout
// switches semi-sync off) and sends a
// heartbeat down every dump stream that has been silent for HeartbeatPeriod.
func (s *Source) Tick(now time.Time) {
	if len(s.syncQueue) > 0 && !now.Before(s.syncDeadline) {
		s.syncStage(now)
	}
	for _, w := range s.waiters {
		if !now.Before(w.deadline) {
			s.st.WaitTimeouts++
			s.switchOff(now)
			break
		}
	}
	if s.cfg.HeartbeatPeriod > 0 {
		for _, name := range s.dumpNames() {
			d := s.dumps[name]
			if now.Sub(d.lastSend) >= s.cfg.HeartbeatPeriod {
				s.sendHeartbeat(now, name, d)
			}
		}
	}
}

// NextDeadline is when Tick must run next: the earliest waiter deadline or the end of
// the sync stage's delay.
func (s *Source) NextDeadline() (time.Time, bool) {
	var t time.Time
	if len(s.syncQueue) > 0 {
		t = s.syncDeadline
	}
	for _, w := range s.waiters {
		if t.IsZero() || w.deadline.Before(t) {
			t = w.deadline
		}
	}
	return t, !t.IsZero()
}

// Ready returns and forgets the output produced since the last call: messages to send
// (in order: per-link FIFO matters) and sessions to release.
func (s *Source) Ready() ([]Envelope, []Event) {
	m, e := s.msgs, s.evs
	s.msgs, s.evs = nil, nil
	return m, e
}

// Status returns a copy of the counters.
func (s *Source) Status() SourceStatus {
	st := s.st
	st.On = s.on
	st.Clients = len(s.dumps)
	st.WaitSessions = len(s.waiters)
	st.CommitPos = s.commitPos
	if s.replyInited {
		st.ReplyPos = s.replyPos
	}
	st.ReplicaAcked = make(map[string]int64, len(s.dumps))
	st.ReplicaSending = make(map[string]int64, len(s.dumps))
	for n, d := range s.dumps {
		st.ReplicaAcked[n] = d.acked
		st.ReplicaSending[n] = d.next
	}
	return st
}

// CommitPos is the newest binlog position written.
func (s *Source) CommitPos() int64 { return s.commitPos }

func (s *Source) dumpNames() []string {
	names := make([]string, 0, len(s.dumps))
	for _, r := range s.cfg.Replicas {
		if _, ok := s.dumps[r]; ok {
			names = append(names, r)
		}
	}
	return names
}

func (s *Source) String() string {
	return fmt.Sprintf("source{on=%v commit=%d reply=%d queue=%d waiters=%d}", s.on, s.commitPos, s.replyPos, len(s.queue), len(s.waiters))
}
