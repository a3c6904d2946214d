package semisync

// This file is the source machine's dump streams: what a replica's messages do, what each
// stream sends, and the machine's outputs and counters.

import (
	"fmt"
	"slices"
	"time"
)

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
//
// A start the binlog cannot serve is refused with an error, after which the replica's
// I/O thread stops (1236), as MySQL's dump thread refuses it: a start at or before the
// binlog's base (the positions are not in this binlog: purged, or lost by a crash that
// the engine survived, driver_restart.go), or a start beyond the newest position (the
// replica has transactions this source does not: its binlog was truncated by a crash
// with sync_binlog other than 1). A replica that asks from before the hole would
// otherwise silently miss transactions, one that asks from beyond it would later receive
// other transactions at positions it already holds.
func (s *Source) dump(now time.Time, from string, start int64) {
	if why := s.unservable(start); why != "" {
		if _, ok := s.dumps[from]; ok {
			delete(s.dumps, from)
			if s.cfg.SemiSync && s.on && !s.cfg.WaitNoSlave && len(s.dumps) < s.cfg.WaitCount {
				s.switchOff(now)
			}
		}
		s.st.Refused++
		s.msgs = append(s.msgs, Envelope{To: from, Payload: appendMessage(nil, message{Type: msgError, Pos: start, Text: why})})
		return
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

// unservable says why a dump from start cannot be served, or "" if it can. The texts
// are MySQL's reasons for error 1236, with the model's positions for its GTID sets.
func (s *Source) unservable(start int64) string {
	switch {
	case start <= s.base:
		return fmt.Sprintf("Cannot replicate because the source purged required binary logs: the replica asks from position %d, this source's binary log starts at %d (purged, or lost by a crash with sync_binlog other than 1 while the engine kept the transactions); provision the replica anew", start, s.base+1)
	case start > s.syncedPos+1:
		return fmt.Sprintf("Slave has more GTIDs than the master has: the replica asks from position %d, this source's binary log ends at %d (its end was truncated, e.g. after a power failure with sync_binlog other than 1); the replica holds transactions the source rolled back", start, s.syncedPos)
	}
	return ""
}

// sendEvent sends position pos on d, which must be d.next. The sync flag asks for an ack:
// while ON for every transaction still waiting for one; while OFF only for the newest
// position, whose ack is what switches semi-sync back on.
func (s *Source) sendEvent(now time.Time, to string, d *dumpStream, pos int64) {
	e := s.binlog[pos-1-s.base]
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

// Connected is how many replicas have an open dump stream (Rpl_semi_sync_master_clients):
// the driver reports the source ready once every replica is connected.
func (s *Source) Connected() int { return len(s.dumps) }

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
