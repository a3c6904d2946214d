package groupreplication

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"go.etcd.io/raft/v3/raftpb"

	"github.com/replbench/replbench/groupreplication/agreement"
	"github.com/replbench/replbench/groupreplication/group"
	"github.com/replbench/replbench/protocols/monitor"
	"github.com/replbench/replbench/storage"
)

// Restart and recovery (protocols.Config.Rejoin).
//
// Every member keeps its agreed log (raft's hard state, entries and snapshot point) in its
// engine (logStore), written and synced before the raft loop sends anything that depends
// on it, so what survives a kill or a crash follows the node's durability settings like
// everything else on it. A restarted member:
//
//   - recovers its log (agreement.Restart) and its engine's position (the transactions
//     InnoDB kept, Config.Position);
//   - rebuilds its group state by having raft deliver the whole log again from the start:
//     certification info, view, primary and delivered ids come out exactly as every member
//     computed them, and the transactions at or below the recovered position are not
//     applied again (the engine has them); those above it, lost in the crash or never
//     committed here, are applied from the log like any remote transaction;
//   - joins as a new incarnation (group.Machine.Restart). If it came back before the
//     group expelled its previous incarnation (5 s of suspicion + member_expel_timeout:
//     the new incarnation's frames do not keep the old one alive), the join is refused and
//     it waits, RECOVERING and read-only (status gr_model_join_refused), until the
//     expulsion, which also elects a new primary if the old incarnation was the primary;
//     then it joins as a new member: RECOVERING while it applies what the group ordered
//     before its join, whatever the leader sends after the entries it kept (distributed
//     recovery, the leader's log standing for a donor's binlog), then ONLINE; flow control
//     and certification then run on the rebuilt state.
//
// A log compacted past its start (the member's own cache budget, or a snapshot it was
// sent) cannot be replayed: the member clones a donor's state instead (clone.go), as a
// server whose donors purged the binlogs it needs. Under innodb_flush_log_at_trx_commit=0
// the engine's WAL is off and the log would survive only up to the last once-a-second
// flush: raft cannot take back entries a member acknowledged and then lost, so such a
// restart is refused (New) rather than left to stall.

// logStore is the storage engine's agreed log (storage.Engine).
type logStore interface {
	WriteAgreedLog(w storage.AgreedLogWrite) error
	ReadAgreedLog(fn func(index uint64, data []byte) bool) ([]byte, error)
	AgreedLogSynced() bool
}

// persisted is what the raft loop last wrote of the log's state.
type persisted struct {
	hs                  raftpb.HardState
	snapIndex, snapTerm uint64
	last                uint64 // the last entry index stored (not part of the encoding)
}

func (s persisted) encode() []byte {
	hs, _ := s.hs.Marshal()
	b := binary.AppendUvarint(nil, uint64(len(hs)))
	b = append(b, hs...)
	b = binary.AppendUvarint(b, s.snapIndex)
	return binary.AppendUvarint(b, s.snapTerm)
}

var errCorruptLog = errors.New("corrupt agreed-log state")

func decodePersisted(b []byte) (s persisted, err error) {
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)-k) {
		return s, errCorruptLog
	}
	if err := s.hs.Unmarshal(b[k : k+int(n)]); err != nil {
		return s, errCorruptLog
	}
	b = b[k+int(n):]
	if s.snapIndex, k = binary.Uvarint(b); k <= 0 {
		return s, errCorruptLog
	}
	b = b[k:]
	if s.snapTerm, k = binary.Uvarint(b); k <= 0 || k != len(b) {
		return s, errCorruptLog
	}
	return s, nil
}

// persist writes one Ready's Persist; the raft loop sends nothing of that Ready if it
// fails (the engine is gone: the node is down).
func (p *Provider) persist(out agreement.Persist) error {
	if p.store == nil || out.Empty() {
		return nil
	}
	w := storage.AgreedLogWrite{}
	changed := false
	if out.HardState.Term != 0 || out.HardState.Commit != 0 || out.HardState.Vote != 0 {
		p.saved.hs, changed = out.HardState, true
	}
	if out.SnapIndex != 0 {
		p.saved.snapIndex, p.saved.snapTerm, changed = out.SnapIndex, out.SnapTerm, true
		w.DropThrough = out.SnapIndex
	}
	if changed {
		w.State = p.saved.encode()
	}
	if len(out.Entries) > 0 {
		w.From, w.OldLast = out.Entries[0].Index, p.saved.last
		p.saved.last = out.Entries[len(out.Entries)-1].Index
		w.Entries = make([][]byte, len(out.Entries))
		for i := range out.Entries {
			b, err := out.Entries[i].Marshal()
			if err != nil {
				return err
			}
			w.Entries[i] = b
		}
	}
	return p.store.WriteAgreedLog(w)
}

// recoverLog reads what the engine kept of this member's agreed log.
func recoverLog(st logStore) (agreement.Recovered, error) {
	var rec agreement.Recovered
	var bad error
	state, err := st.ReadAgreedLog(func(index uint64, data []byte) bool {
		var e raftpb.Entry
		if err := e.Unmarshal(data); err != nil || e.Index != index {
			bad = errCorruptLog
			return false
		}
		rec.Entries = append(rec.Entries, e)
		return true
	})
	if err == nil {
		err = bad
	}
	if err != nil {
		return rec, err
	}
	if state != nil {
		s, err := decodePersisted(state)
		if err != nil {
			return rec, err
		}
		rec.HardState, rec.SnapIndex, rec.SnapTerm = s.hs, s.snapIndex, s.snapTerm
	}
	return rec, nil
}

// restartNode builds a restarted member's agreement node and its recovery bookkeeping.
func (p *Provider) restartNode(ac agreement.Config) error {
	if p.store == nil {
		return errors.New("group-replication: a restart needs a storage engine that keeps the agreed log")
	}
	if !p.store.AgreedLogSynced() {
		return errors.New("group-replication: a restart needs the agreed log synced at every write; innodb_flush_log_at_trx_commit=0 keeps it only once a second (use 1 or 2)")
	}
	rec, err := recoverLog(p.store)
	if err != nil {
		return fmt.Errorf("group-replication: %s: recovery: %w", p.cfg.Node, err)
	}
	node, err := agreement.Restart(ac, rec)
	if err != nil {
		return fmt.Errorf("group-replication: %s: recovery: %w", p.cfg.Node, err)
	}
	p.node = node
	p.saved = persisted{hs: rec.HardState, snapIndex: max(rec.SnapIndex, 1), snapTerm: max(rec.SnapTerm, 1), last: max(rec.SnapIndex, 1)}
	if n := len(rec.Entries); n > 0 {
		p.saved.last = rec.Entries[n-1].Index
	}
	p.lostAt = 0
	if rec.SnapIndex > 1 {
		p.lostAt = rec.SnapIndex
	}
	p.recovered = p.cfg.Position
	p.commitMon = monitor.New(p.cfg.Position)
	// Proposal ids of this life start above any of the earlier ones (at most one per
	// nanosecond was ever taken), so delivery's dedup never mistakes a new transaction for
	// an old one.
	p.nextID.Store(p.incarnation)
	return nil
}

// startRestarted is Start's first step for a restarted member: RECOVERING and the join
// proposed, or, when its log cannot be replayed, out of the group for a clone.
func (p *Provider) startRestarted(now time.Time) group.Effects {
	eff := p.m.Restart(now)
	if p.lostAt > 0 {
		lost := p.m.LogLost(p.lostAt)
		eff.Rejoin = eff.Rejoin || lost.Rejoin
		eff.RolledBack = eff.RolledBack || lost.RolledBack
	}
	return eff
}
