package semisync

// This file is the source machine's ack side: commitTrx and its waits, the ack receiver,
// the timeout that switches semi-sync off, and Interrupt.

import (
	"slices"
	"sort"
	"time"
)

// commitTrx is ReplSemiSyncMaster::commitTrx for position w.pos on behalf of w's sessions:
// return at once if async, if OFF, if the position is already acked or if one of them was
// killed; otherwise wait until an ack covers it, the timeout switches semi-sync off, or one
// of them is killed (Interrupt). The wait is released exactly once, possibly now.
func (s *Source) commitTrx(now time.Time, w *waiter) {
	switch {
	case !s.cfg.SemiSync:
		s.releaseWait(now, w, false)
		return
	case !s.on:
		s.st.NoTx++
		s.releaseWait(now, w, false)
		return
	case s.replyInited && s.replyPos >= w.pos:
		s.st.YesTx++
		s.releaseWait(now, w, true)
		return
	case !s.active[w.pos]:
		// Written while OFF: nothing will ask a replica to ack it; it is async.
		s.st.NoTx++
		s.releaseWait(now, w, false)
		return
	case w.killed():
		// The waiting thread was killed before its wait began.
		s.st.NoTx++
		s.st.Interrupted++
		s.releaseWait(now, w, false)
		return
	}
	if !s.waitInited || w.pos < s.waitPos {
		if s.waitInited {
			s.st.Backtraverse++
		}
		s.waitPos, s.waitInited = w.pos, true
	}
	w.start, w.deadline = now, now.Add(s.cfg.Timeout)
	s.waiters = append(s.waiters, w)
}

// releaseWait ends a wait: a group's (AFTER_SYNC) lets its members commit; a session's
// (AFTER_COMMIT) finishes that session and, in serialised mode, frees the commit-stage lock
// once the group's last wait is over.
func (s *Source) releaseWait(now time.Time, w *waiter, acked bool) {
	if w.grp != nil {
		s.goGroup(w.grp, acked)
		if !s.cfg.Serialized && s.cfg.Pipeline == PipelineMariaDB {
			// MariaDB releases LOCK_after_binlog_sync once it holds LOCK_commit_ordered,
			// before the engine commits: the next group's wait may begin.
			s.release(now, w.grp)
		}
		return
	}
	m := w.sess
	g := m.grp
	s.finish(m, acked)
	g.waiting--
	if s.cfg.Serialized && g.waiting == 0 {
		s.release(now, g)
	}
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
	i := slices.IndexFunc(s.waiters, func(w *waiter) bool { return w.covers(ss) })
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
	s.releaseWait(now, w, false)
	return true
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
		s.releaseWait(now, w, true)
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
		s.releaseWait(now, w, false)
	}
}

// Tick ends the binlog stages and sync-stage delays that are due, checks the waiters' deadlines (a timeout
// switches semi-sync off) and sends a
// heartbeat down every dump stream that has been silent for HeartbeatPeriod.
func (s *Source) Tick(now time.Time) {
	if !s.cfg.Serialized {
		s.pump(now) // stages that are due end; sync-stage delays that are over sync
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

// NextDeadline is when Tick must run next: the earliest waiter deadline, the end of the
// sync stage's delay, or the end of a binlog stage in progress.
func (s *Source) NextDeadline() (time.Time, bool) {
	var t time.Time
	early := func(d time.Time) {
		if t.IsZero() || d.Before(t) {
			t = d
		}
	}
	if len(s.syncQueue) > 0 && s.syncing == nil && !s.syncDeadline.IsZero() {
		early(s.syncDeadline)
	}
	if s.flushing != nil {
		early(s.flushEnd)
	}
	if s.syncing != nil {
		early(s.syncEnd)
	}
	for _, w := range s.waiters {
		if t.IsZero() || w.deadline.Before(t) {
			t = w.deadline
		}
	}
	return t, !t.IsZero()
}
