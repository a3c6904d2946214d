package semisync

import (
	"slices"
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

// Pipeline is whose binlog group commit the source runs: the two servers hold their
// semi-sync wait under different locks, which decides how many binlog groups can be on
// their way to the replicas at once.
type Pipeline uint8

const (
	// PipelineMySQL is MySQL 5.7/8.0's ordered_commit (sql/binlog.cc): a flush stage
	// (LOCK_log: the redo of the prepared transactions, then the binlog write), a sync
	// stage (LOCK_sync: the binlog fsync, after binlog_group_commit_sync_delay) and a
	// commit stage (LOCK_commit: the engine commits in binlog order). Each stage's leader
	// takes the whole queue of its stage, so the stages pipeline: while one group waits for
	// its ack in the commit stage (AFTER_SYNC calls the hook holding LOCK_commit), any number
	// of later groups flush and sync, their events already travel, and they all merge into
	// the next commit-stage group.
	PipelineMySQL Pipeline = iota
	// PipelineMariaDB is MariaDB's trx_group_commit_leader (sql/log.cc): the leader writes
	// (and with sync_binlog, syncs) its group under LOCK_log, lets the dump threads send,
	// then takes LOCK_after_binlog_sync before it releases LOCK_log and waits for the ack
	// under it, releasing it once it holds LOCK_commit_ordered. The next leader can write its
	// group but then blocks on LOCK_after_binlog_sync still holding LOCK_log, so a third
	// group cannot even write until the first group's ack has come: at most two groups are
	// on their way at once.
	PipelineMariaDB
)

func (p Pipeline) String() string {
	if p == PipelineMariaDB {
		return "mariadb"
	}
	return "mysql"
}

// StageClock prices the binlog stages on the node's own resources (the service-time
// model, protocols/servicetime): it says when a stage that becomes ready at a time ends,
// queued behind whatever else uses the node's CPU and log devices. It is arithmetic on a
// schedule, not a wait, so the machine stays pure: it keeps the end as a deadline and
// finishes the stage in Tick. nil makes every stage instantaneous (cost profile none).
type StageClock interface {
	// Flush is the flush stage of a group of txns transactions: the redo of the prepared
	// transactions where the flavour flushes it per group, the binlog writes and the group
	// commit leader's own work.
	Flush(start time.Time, txns int) time.Time
	// Sync is one binlog fsync (sync_binlog=1), shared by the whole group; with
	// sync_binlog=0 it returns start.
	Sync(start time.Time) time.Time
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
	// UnorderedCommits is binlog_order_commits=OFF. ON (false, MySQL's default): the
	// commit stage runs, and the AFTER_SYNC wait happens in it under LOCK_commit, so groups
	// do not overlap their ack waits. OFF skips the commit stage: the after-sync hook runs
	// once LOCK_sync is released, holding no stage mutex, and the next group flushes, syncs
	// and waits at once.
	UnorderedCommits bool
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
	// Pipeline is the flavour's group commit (MySQL's stages or MariaDB's leader).
	Pipeline Pipeline
	// Stages prices each group's flush and sync; nil: free. Group mode only: the
	// serialised mode writes and syncs one transaction at a time at no stage cost.
	Stages StageClock
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
	Refused     int64 // dump requests refused (the replica's I/O thread stopped with 1236)
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

// waiter is one commitTrx call blocked on an ack: a whole group's (AFTER_SYNC: grp set, it
// releases every member to commit) or one session's (AFTER_COMMIT: sess set, it ends that
// session's commit). It is data, so that what an ack, a timeout or a kill releases is
// decided in one place (releaseWait) rather than in a closure made where the wait began.
type waiter struct {
	pos      int64
	start    time.Time
	deadline time.Time
	grp      *group   // AFTER_SYNC: the group whose one wait this is
	sess     *session // AFTER_COMMIT: the session whose own wait this is
}

// covers reports whether the wait is on behalf of ss.
func (w *waiter) covers(ss *session) bool {
	if w.sess != nil {
		return w.sess == ss
	}
	return slices.Contains(w.grp.members, ss)
}

// killed reports whether a session the wait is for was killed (Interrupt) before it began.
func (w *waiter) killed() bool {
	if w.sess != nil {
		return w.sess.killed
	}
	return slices.ContainsFunc(w.grp.members, func(ss *session) bool { return ss.killed })
}

// Source is the source's state machine: the binlog, the commit pipeline with its
// commit-stage lock, the dump streams and the ack bookkeeping of ReplSemiSyncMaster. It is
// not safe for concurrent use; the driver serialises calls and sends Ready's output.
type Source struct {
	cfg  SourceConfig
	deps *depTracker

	binlog    []binlogEvent // position p at index p-1-base
	base      int64         // positions up to here are not in this binlog (driver_restart.go)
	commitPos int64         // newest position written (flushed)
	syncedPos int64         // newest position synced: what the dump streams may send

	flushQ   []*session // submitted, waiting for the flush stage (LOCK_log)
	flushing []*session // the group in the flush stage, until flushEnd
	flushEnd time.Time

	syncQueue    []*session // flushed, waiting for the sync stage (and its delay)
	syncDeadline time.Time  // end of the sync-stage leader's binlog_group_commit_sync_delay
	syncing      []*session // the group in the sync stage, until syncEnd
	syncEnd      time.Time

	on          bool
	replyPos    int64
	replyInited bool
	waitPos     int64
	waitInited  bool
	active      map[int64]bool // transaction-end positions written while ON and not yet acked

	dumps map[string]*dumpStream

	sessions map[uint64]*session
	queue    []*session // group mode: synced, waiting for the commit stage (MariaDB: for LOCK_after_binlog_sync); serialised: waiting for the lock
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

// resume makes a new source continue a binlog that ends at pos (a restart's recovered
// position, or a promoted replica's applied one): it writes from pos+1 on, into a new
// binlog file, so the dependency history starts there (depTracker.rotate). The events up
// to pos, if the node kept them, are filled in by the caller (driver_restart.go).
func (s *Source) resume(pos int64) {
	s.base, s.commitPos, s.syncedPos = pos, pos, pos
	s.deps.rotate(pos)
}

// Submit enters a local transaction into the commit pipeline (ws.Snapshot already set by
// the caller). In group mode it queues for the flush stage, which takes it at once when
// the stage is free (its leader takes the whole queue); in serialised mode it queues for
// the binlog lock.
func (s *Source) Submit(now time.Time, id uint64, ws *protocols.WriteSet) {
	ss := &session{id: id, ws: ws}
	s.sessions[id] = ss
	if s.cfg.Serialized {
		s.queue = append(s.queue, ss)
		s.advance(now)
		return
	}
	s.flushQ = append(s.flushQ, ss)
	s.pump(now)
}

// pump moves the group-mode pipeline as far as it goes at now: it ends the stages that
// are due and starts every stage whose lock is free and whose queue is not empty, until
// nothing changes. With no StageClock every stage ends the moment it starts.
func (s *Source) pump(now time.Time) {
	for {
		moved := false
		if s.flushing != nil && !now.Before(s.flushEnd) {
			s.endFlush(now)
			moved = true
		}
		if s.syncing != nil && !now.Before(s.syncEnd) {
			s.endSync(now)
			moved = true
		}
		if s.flushing == nil && len(s.flushQ) > 0 && s.logFree() {
			s.startFlush(now)
			moved = true
		}
		if s.cfg.Pipeline == PipelineMySQL && s.syncing == nil && len(s.syncQueue) > 0 && s.syncDue(now) {
			s.startSync(now)
			moved = true
		}
		if s.holder == nil && len(s.queue) > 0 {
			s.advance(now)
			moved = true
		}
		if !moved {
			return
		}
	}
}

// logFree reports whether the flush stage's lock (LOCK_log) is free. MySQL holds it for
// the flush only. MariaDB's leader holds it through the flush, the sync and the wait for
// LOCK_after_binlog_sync, which a group in s.queue is doing.
func (s *Source) logFree() bool {
	if s.cfg.Pipeline == PipelineMariaDB {
		return s.syncing == nil && len(s.queue) == 0
	}
	return true
}

// startFlush is the flush-stage leader taking the whole queue: each transaction gets its
// binlog position (after_flush) and its session learns it; the stage ends when the
// StageClock says.
func (s *Source) startFlush(now time.Time) {
	s.flushing, s.flushQ = s.flushQ, nil
	for _, ss := range s.flushing {
		s.write(now, ss)
	}
	s.flushEnd = now
	if s.cfg.Stages != nil {
		s.flushEnd = s.cfg.Stages.Flush(now, len(s.flushing))
	}
}

// endFlush passes the flushed group on: MySQL to the sync stage's queue; MariaDB's leader
// goes on to sync it itself, still under LOCK_log.
func (s *Source) endFlush(now time.Time) {
	g := s.flushing
	s.flushing = nil
	if s.cfg.Pipeline == PipelineMariaDB {
		s.beginSync(now, g)
		return
	}
	if len(s.syncQueue) == 0 && s.syncing == nil && s.cfg.SyncDelay > 0 {
		s.syncDeadline = now.Add(s.cfg.SyncDelay)
	}
	s.syncQueue = append(s.syncQueue, g...)
}

// syncDue reports whether the sync-stage leader may sync now: at once without
// binlog_group_commit_sync_delay, else once the delay has passed or
// binlog_group_commit_sync_no_delay_count transactions have queued.
func (s *Source) syncDue(now time.Time) bool {
	if s.cfg.SyncDelay <= 0 {
		return true
	}
	if s.syncDeadline.IsZero() {
		s.syncDeadline = now.Add(s.cfg.SyncDelay)
	}
	return !now.Before(s.syncDeadline) || (s.cfg.SyncNoDelayCount > 0 && len(s.syncQueue) >= s.cfg.SyncNoDelayCount)
}

// startSync is MySQL's sync-stage leader taking its whole queue.
func (s *Source) startSync(now time.Time) {
	g := s.syncQueue
	s.syncQueue = nil
	s.syncDeadline = time.Time{}
	s.beginSync(now, g)
}

func (s *Source) beginSync(now time.Time, g []*session) {
	s.syncing = g
	s.syncEnd = now
	if s.cfg.Stages != nil {
		s.syncEnd = s.cfg.Stages.Sync(now)
	}
}

// endSync makes the synced group visible to the dump threads (its events leave) and
// queues it for the commit stage (MariaDB: for LOCK_after_binlog_sync, still holding
// LOCK_log).
func (s *Source) endSync(now time.Time) {
	g := s.syncing
	s.syncing = nil
	s.syncTo(now, g[len(g)-1].pos)
	s.queue = append(s.queue, g...)
}

// sync makes everything written visible to the dump threads and sends it down every
// dump stream (serialised mode, which writes and syncs one transaction at a time).
func (s *Source) sync(now time.Time) { s.syncTo(now, s.commitPos) }

// syncTo makes the binlog up to pos visible to the dump threads and sends it down every
// dump stream.
func (s *Source) syncTo(now time.Time, pos int64) {
	if pos > s.syncedPos {
		s.syncedPos = pos
	}
	for _, name := range s.dumpNames() {
		d := s.dumps[name]
		for d.next <= s.syncedPos {
			s.sendEvent(now, name, d, d.next)
		}
	}
}

// Cancel withdraws a session that is still queued for the flush stage or the serialised
// binlog lock and
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
	if i := slices.Index(s.flushQ, ss); i >= 0 {
		s.flushQ = slices.Delete(s.flushQ, i, i+1)
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
	unlocked := !s.cfg.Serialized && s.cfg.Pipeline == PipelineMySQL && s.cfg.UnorderedCommits
	if s.cfg.SemiSync && s.cfg.WaitPoint == AfterSync {
		if unlocked {
			// binlog_order_commits=OFF: no commit stage; the after-sync hook holds no
			// stage mutex (release is a no-op for a group that no longer holds it).
			s.holder = nil
		}
		// after_sync hook: one commitTrx for the whole group, at its last position
		// (MariaDB waits member by member, which ends with the last one's ack too).
		s.commitTrx(now, &waiter{pos: g.members[len(g.members)-1].pos, grp: g})
		return
	}
	if unlocked {
		s.holder = nil
	}
	s.goGroup(g, false)
	if !s.cfg.Serialized && s.cfg.Pipeline == PipelineMariaDB {
		// No wait under LOCK_after_binlog_sync: it passes on as soon as the group holds
		// LOCK_commit_ordered (its engine commits stay in binlog order).
		s.release(now, g)
	}
}

// goGroup lets every member of g run its engine commit; acked says whether an ack covered
// the group's wait (AFTER_SYNC), which its members report when they finish.
func (s *Source) goGroup(g *group, acked bool) {
	g.acked = acked
	for _, m := range g.members {
		s.evs = append(s.evs, Event{Session: m.id, Kind: EvGo, Pos: m.pos})
	}
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
			s.commitTrx(now, &waiter{pos: m.pos, sess: m})
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

// release frees the commit-stage lock held by g (MariaDB: LOCK_after_binlog_sync) and
// lets the next group in.
func (s *Source) release(now time.Time, g *group) {
	if s.holder != g {
		return
	}
	s.holder = nil
	if s.cfg.Serialized {
		s.advance(now)
		return
	}
	s.pump(now)
}
