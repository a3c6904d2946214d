package storage

import (
	"bytes"
	"context"
	"errors"
	"sort"

	"github.com/replbench/replbench/protocols"
)

// Commit commits: an empty (read-only) transaction commits locally; otherwise the
// write-set goes through the replicator. The error is the one the client sees.
//
// With a replicator the transaction is REPLICATING while Replicate runs (an applier that
// needs its locks cancels Replicate's context), ORDERED once the provider returns a Commit,
// and its rows reach Pebble inside Commit.Apply, at the point the protocol's order allows.
// Locks are released after Apply returns, so no later transaction reads around the
// protocol's commit order.
func (t *Txn) Commit(ctx context.Context) error {
	if t.finished {
		return ErrTxnDone
	}
	if t.o.aborted.Load() {
		err := t.o.abortErr
		t.Rollback()
		return err
	}
	if t.e.closed.Load() {
		t.Rollback()
		return ErrClosed
	}
	ws := t.writeSet()
	t.ws = ws
	if ws == nil { // read-only
		t.finish()
		t.e.stats.commits.Add(1)
		return nil
	}
	r := t.e.replicator()
	if r == nil {
		err := t.write(t.changes(), false)
		t.end(err)
		return err
	}
	cctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	if err := t.e.lm.replicating(&t.o, cancel); err != nil {
		t.end(err)
		return err
	}
	c, err := r.Replicate(cctx, ws)
	if err != nil {
		if cause := context.Cause(cctx); errors.Is(err, context.Canceled) && protocols.Classify(cause) == protocols.CauseBFAbort {
			err = cause
		}
		if protocols.Classify(err) == protocols.CauseBFAbort {
			t.e.stats.bfAborts.Add(1)
		}
		if t.autocommit && protocols.Classify(err) == protocols.CauseCertification {
			err = &AutocommitConflict{Err: err}
		}
		t.end(err)
		return err
	}
	t.committed, t.commitSeq = c.GTID(), c.Seqno()
	t.e.lm.ordered(&t.o, c.Seqno())
	err = c.Apply(ctx, t.engineCommit)
	t.end(err)
	return err
}

func (t *Txn) end(err error) {
	t.finish()
	if err == nil {
		t.e.stats.commits.Add(1)
	} else {
		t.e.stats.rollbacks.Add(1)
	}
}

// engineCommit is what the provider runs in its commit order. A transaction that lost its
// locks to an earlier applier while ordered replays here: it re-acquires them as a BF
// applier with its own seqno before writing.
func (t *Txn) engineCommit() error {
	replay := t.e.lm.committing(&t.o)
	if replay {
		keys := t.lockKeys()
		for _, k := range keys {
			if err := t.e.lm.acquire(context.Background(), &t.o, k, 0); err != nil {
				return err
			}
		}
		t.e.stats.replays.Add(1)
	}
	return t.e.write(t.changes(), false, t.o.seqno, t.ws)
}

// rowWrite is one row to write: the after-image (nil row deletes).
type rowWrite struct {
	t   *table
	pk  []byte
	row Row
	enc []byte
}

func (t *Txn) changes() []rowWrite {
	out := make([]rowWrite, 0, len(t.writes))
	for _, p := range t.writes {
		if p.row == nil && p.before == nil {
			continue // inserted and deleted again: nothing to write
		}
		out = append(out, rowWrite{p.t, p.pk, p.row, p.enc})
	}
	return out
}

// write commits a set of row writes to Pebble in one batch, maintaining the secondary
// indexes from the current (before) images. The caller holds every row's lock, so the
// before-images cannot change underneath.
func (t *Txn) write(ws []rowWrite, remote bool) error { return t.e.write(ws, remote, 0, nil) }

// write commits the rows and, with seqno > 0, the replication position in the same batch
// (with the write-set itself when the binlog is kept: durability.go).
func (e *Engine) write(ws []rowWrite, remote bool, seqno int64, logged *protocols.WriteSet) error {
	if e.closed.Load() {
		return ErrClosed
	}
	b := e.db.NewBatch()
	defer b.Close()
	for _, w := range ws {
		key := w.t.rowKey(w.pk)
		if len(w.t.indexes) > 0 {
			old, err := e.latest(w.t, w.pk)
			if err != nil {
				return err
			}
			if old != nil {
				for _, ix := range w.t.indexes {
					if err := b.Delete(ix.entryKey(old, w.pk), nil); err != nil {
						return err
					}
				}
			}
			if w.row != nil {
				for _, ix := range w.t.indexes {
					if err := b.Set(ix.entryKey(w.row, w.pk), nil, nil); err != nil {
						return err
					}
				}
			}
		}
		var err error
		if w.row == nil {
			err = b.Delete(key, nil)
		} else {
			err = b.Set(key, w.enc, nil)
		}
		if err != nil {
			return err
		}
		if remote && w.row != nil && w.t.autoCol >= 0 {
			if v, ok := w.row[w.t.autoCol].(int64); ok {
				w.t.seeAuto(v)
			}
		}
	}
	if err := e.setPosition(b, seqno, logged); err != nil {
		return err
	}
	return b.Commit(e.wo)
}

// writeSet extracts the write-set: per changed row one exclusive key on its primary key
// and one per unique-index value it had or has, and the row's after-image. nil means the
// transaction changed nothing.
func (t *Txn) writeSet() *protocols.WriteSet {
	var ws *protocols.WriteSet
	for _, p := range t.writes {
		var op protocols.Op
		switch {
		case p.row == nil && p.before == nil:
			continue
		case p.row == nil:
			op = protocols.OpDelete
		case p.before == nil:
			op = protocols.OpInsert
		default:
			op = protocols.OpUpdate
		}
		if ws == nil {
			ws = &protocols.WriteSet{Source: t.e.opts.Node, TrxID: t.id,
				Keys: make([]protocols.Key, 0, len(t.writes)), Rows: make([]protocols.RowChange, 0, len(t.writes))}
			if t.autocommit {
				ws.Flags |= protocols.FlagAutocommit
			}
		}
		name := p.t.schema.Name
		ws.Rows = append(ws.Rows, protocols.RowChange{Table: name, Op: op, Row: p.pk, After: p.enc})
		ws.Keys = append(ws.Keys, protocols.Key{Table: name, Row: p.pk, Type: protocols.KeyExclusive})
		for _, ix := range p.t.indexes {
			if !ix.unique {
				continue
			}
			var bv []byte
			if p.before != nil {
				var null bool
				if bv, null = ix.values(p.before); !null {
					ws.Keys = append(ws.Keys, protocols.Key{Table: name, Index: ix.name, Row: bv, Type: protocols.KeyExclusive})
				}
			}
			if p.row != nil {
				if av, null := ix.values(p.row); !null && !bytes.Equal(av, bv) {
					ws.Keys = append(ws.Keys, protocols.Key{Table: name, Index: ix.name, Row: av, Type: protocols.KeyExclusive})
				}
			}
		}
	}
	return ws
}

// lockKeys are the sorted lock names of everything the transaction writes (a replay takes
// them in this deterministic order, like an applier).
func (t *Txn) lockKeys() []string {
	var keys []string
	var buf []byte
	var k string
	for _, p := range t.writes {
		buf, k = lockKey(buf, p.t.id, 0, p.pk)
		keys = append(keys, k)
		for _, ix := range p.t.indexes {
			if !ix.unique {
				continue
			}
			for _, r := range []Row{p.before, p.row} {
				if r != nil {
					if v, null := ix.values(r); !null {
						buf, k = lockKey(buf, p.t.id, ix.id, v)
						keys = append(keys, k)
					}
				}
			}
		}
	}
	return sortDedup(keys)
}

func sortDedup(keys []string) []string {
	sort.Strings(keys)
	out := keys[:0]
	for i, k := range keys {
		if i == 0 || k != keys[i-1] {
			out = append(out, k)
		}
	}
	return out
}

// AutocommitConflict wraps the certification failure of an autocommit transaction. A
// Galera server re-runs such a statement itself, up to wsrep_retry_autocommit times,
// before the client sees 1213 (protocols.AutocommitRetrier); the client loop, which holds
// the statement, does the re-running and uses this mark to know it may.
type AutocommitConflict struct{ Err error }

func (e *AutocommitConflict) Error() string { return e.Err.Error() }

// Unwrap returns the certification error, so protocols.Classify still sees its cause.
func (e *AutocommitConflict) Unwrap() error { return e.Err }

// IsAutocommitConflict reports whether err is an autocommit transaction's certification
// failure.
func IsAutocommitConflict(err error) bool {
	var ac *AutocommitConflict
	return errors.As(err, &ac)
}

// CommitID is the protocol's id of the transaction's commit (Galera's seqno, a GTID), once
// Commit has had it ordered; the zero GTID for a read-only transaction, one on an engine
// without a replicator, or one that did not commit. A history records it so that a lost
// acknowledged write is named by the commit a client was told about.
func (t *Txn) CommitID() protocols.GTID { return t.committed }

// CommitSeqno is the commit's position in the protocol's total order (0 as for CommitID).
// It is not always the GTID's number: Group Replication hands each member blocks of GNOs
// (group_replication_gtid_assignment_block_size), so GNOs of two members do not follow the
// order in which the group agreed their transactions.
func (t *Txn) CommitSeqno() int64 { return t.commitSeq }
