package storage

import (
	"encoding/binary"
	"slices"

	"github.com/cockroachdb/pebble/v2"
)

// The agreed log: a group-communication layer's own persistent state (Group Replication's
// raft log in this model: its hard state, the snapshot point and the entries), kept in the
// node's database beside the rows so that it follows the same durability rules and survives
// a kill or a crash exactly as the engine's files do. It lives under its own prefix,
// outside the range Snapshot/Restore copy (a clone moves the rows, never a member's log)
// and outside the checksums.
//
// A write is one batch, synced as the binlog is (sync_binlog=1: every write in modes 1 and
// 2; under innodb_flush_log_at_trx_commit=0 the WAL is off and the once-a-second flush makes
// it durable, so a crash then loses up to a second of the log too). The caller writes
// before it sends anything that depends on it (raft's rule: persist, then send), so what a
// restarted member recovers is never behind what it told others.

// agreedPrefix keys the agreed log: agreedPrefix alone holds the state, agreedPrefix and
// an 8-byte big-endian index an entry.
const agreedPrefix = 'x'

// AgreedLogWrite is one durable step of an agreed log.
type AgreedLogWrite struct {
	// State replaces the stored state when non-nil (opaque to storage).
	State []byte
	// Entries are stored from index From on, replacing any stored at those indexes.
	From    uint64
	Entries [][]byte
	// OldLast is the last index stored before this write: when a log replaces its
	// uncommitted suffix with a shorter one, the entries after the new end up to OldLast
	// are dropped (point deletions: a range tombstone per write would make every later
	// read of the memtable fragment them all).
	OldLast uint64
	// DropThrough drops every stored entry at or below it (compaction, a snapshot); 0: none.
	DropThrough uint64
}

func agreedKey(index uint64) []byte {
	k := make([]byte, 9)
	k[0] = agreedPrefix
	binary.BigEndian.PutUint64(k[1:], index)
	return k
}

// WriteAgreedLog stores w in one batch.
func (e *Engine) WriteAgreedLog(w AgreedLogWrite) error {
	if e.closed.Load() {
		return ErrClosed
	}
	b := e.db.NewBatch()
	defer b.Close()
	if w.DropThrough > 0 {
		if err := b.DeleteRange(agreedKey(0), agreedKey(w.DropThrough+1), nil); err != nil {
			return err
		}
	}
	if len(w.Entries) > 0 {
		for i := w.From + uint64(len(w.Entries)); i <= w.OldLast; i++ {
			if err := b.Delete(agreedKey(i), nil); err != nil {
				return err
			}
		}
		for i, ent := range w.Entries {
			if err := b.Set(agreedKey(w.From+uint64(i)), ent, nil); err != nil {
				return err
			}
		}
	}
	if w.State != nil {
		if err := b.Set([]byte{agreedPrefix}, w.State, nil); err != nil {
			return err
		}
	}
	if b.Empty() {
		return nil
	}
	wo := pebble.Sync
	if e.opts.logFlush() == LogFlushSecond {
		wo = pebble.NoSync // the WAL is off: the next once-a-second flush makes it durable
	}
	return b.Commit(wo)
}

// ReadAgreedLog returns the stored state (nil: none) and calls fn with every stored entry
// in index order until fn returns false.
func (e *Engine) ReadAgreedLog(fn func(index uint64, data []byte) bool) (state []byte, err error) {
	if e.closed.Load() {
		return nil, ErrClosed
	}
	v, closer, err := e.db.Get([]byte{agreedPrefix})
	switch {
	case err == nil:
		state = slices.Clone(v)
		closer.Close()
	case err != pebble.ErrNotFound:
		return nil, err
	}
	it, err := e.db.NewIter(&pebble.IterOptions{LowerBound: agreedKey(0), UpperBound: []byte{agreedPrefix + 1}})
	if err != nil {
		return nil, err
	}
	defer it.Close()
	for ok := it.First(); ok; ok = it.Next() {
		if len(it.Key()) != 9 {
			continue
		}
		if !fn(binary.BigEndian.Uint64(it.Key()[1:]), slices.Clone(it.Value())) {
			break
		}
	}
	return state, it.Error()
}

// AgreedLogSynced reports whether WriteAgreedLog is durable when it returns (a crash keeps
// it): false under innodb_flush_log_at_trx_commit=0, whose WAL is off.
func (e *Engine) AgreedLogSynced() bool { return e.opts.logFlush() != LogFlushSecond }
