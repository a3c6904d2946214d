package storage

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/replbench/replbench/protocols"
)

// Txn is a transaction. A Txn is used by one goroutine at a time.
//
// Writes are buffered in the transaction and reach Pebble only at commit; every written row
// is locked exclusively until then. Plain reads come from a Pebble snapshot taken at the
// first read (repeatable read), overlaid with the transaction's own writes; locking reads
// and the existence checks of writes read the latest committed version under the lock, as
// InnoDB does, so read-modify-write through GetForUpdate never loses an update.
type Txn struct {
	e    *Engine
	id   uint64
	o    owner
	ws   *protocols.WriteSet // at commit: the write-set the provider ordered (its binlog entry)
	snap *pebble.Snapshot    // guarded by e.snapMu against Close; used by the owner goroutine

	hasSnap  bool
	readOnce bool // an autocommit transaction made its first read without a snapshot

	writes []*pending
	byKey  map[string]*pending // built once writes grows past a few rows

	autocommit bool
	readGate   bool // BeforeRead passed
	writeGate  bool // BeforeWrite passed
	finished   bool
	lockBuf    []byte
	timeout    time.Duration  // innodb_lock_wait_timeout of this transaction; 0: the engine's
	committed  protocols.GTID // the protocol's id of the commit, once Replicate ordered it
	commitSeq  int64          // its position in the protocol's total order

	// Statement rollback: stmtStart is len(writes) when the statement began, undo the
	// earlier pending images the statement overwrote (only kept while stmtOn).
	stmtOn    bool
	stmtStart int
	undo      []undoRec
}

// undoRec is a pending write's image before the current statement changed it.
type undoRec struct {
	p   *pending
	row Row
	enc []byte
}

// pending is one buffered row write.
type pending struct {
	t      *table
	pk     []byte
	row    Row    // after-image; nil for a delete
	enc    []byte // encoded row; nil for a delete
	before Row    // latest committed row when first locked; nil if absent
}

// ErrTxnDone is returned by statements on a transaction that already committed or rolled back.
var ErrTxnDone = errors.New("storage: transaction already committed or rolled back; Begin a new one")

// ID is the transaction's engine-local id.
func (t *Txn) ID() uint64 { return t.id }

// SetAutocommit marks a single-statement transaction (the write-set gets FlagAutocommit).
func (t *Txn) SetAutocommit(on bool) { t.autocommit = on }

// statement runs the checks every statement starts with: the transaction is alive, was not
// brute-force aborted, and the provider's gates let it read (and write).
func (t *Txn) statement(ctx context.Context, write bool) error {
	if t.finished {
		return ErrTxnDone
	}
	if t.e.closed.Load() {
		return ErrClosed
	}
	if t.o.aborted.Load() {
		return t.o.abortErr
	}
	if t.readGate && (!write || t.writeGate) {
		return nil
	}
	r := t.e.replicator()
	if !t.readGate {
		if r != nil {
			if err := r.BeforeRead(ctx); err != nil {
				return err
			}
		}
		t.readGate = true
	}
	if write && !t.writeGate {
		if r != nil {
			if err := r.BeforeWrite(ctx); err != nil {
				return err
			}
		}
		t.writeGate = true
	}
	return nil
}

func (t *Txn) snapshot() *pebble.Snapshot {
	if t.snap == nil {
		t.snap = t.e.db.NewSnapshot()
		t.hasSnap = true
		t.e.snapMu.Lock()
		t.e.snaps[t] = struct{}{}
		t.e.snapMu.Unlock()
	}
	return t.snap
}

func (t *Txn) closeSnapshot() {
	if !t.hasSnap {
		return
	}
	t.hasSnap = false
	t.e.snapMu.Lock()
	if t.snap != nil {
		t.snap.Close()
		t.snap = nil
	}
	delete(t.e.snaps, t)
	t.e.snapMu.Unlock()
}

// lockKey builds the lock name of a primary key (idx 0) or unique-index value.
func lockKey(buf []byte, tableID uint32, idx byte, enc []byte) ([]byte, string) {
	buf = binary.BigEndian.AppendUint32(buf[:0], tableID)
	buf = append(buf, idx)
	buf = append(buf, enc...)
	return buf, string(buf)
}

func (t *Txn) lock(ctx context.Context, tb *table, idx byte, enc []byte) error {
	var k string
	t.lockBuf, k = lockKey(t.lockBuf, tb.id, idx, enc)
	timeout := t.e.timeout
	if t.timeout > 0 {
		timeout = t.timeout
	}
	return t.e.lm.acquire(ctx, &t.o, k, timeout)
}

// SetLockWaitTimeout sets this transaction's innodb_lock_wait_timeout (a session variable
// in MySQL); 0 restores the engine's.
func (t *Txn) SetLockWaitTimeout(d time.Duration) { t.timeout = d }

// BeginStatement marks the start of a statement, so that RollbackStatement can undo what the
// statement changed and nothing before it: MySQL rolls back a failed statement (a duplicate
// key in the third row of a multi-row INSERT, a lock wait timeout), not its transaction.
// Locks the statement took stay held, as in InnoDB.
func (t *Txn) BeginStatement() {
	t.stmtOn, t.stmtStart, t.undo = true, len(t.writes), t.undo[:0]
}

// RollbackStatement undoes the writes of the statement begun by the last BeginStatement.
func (t *Txn) RollbackStatement() {
	if !t.stmtOn || t.finished {
		return
	}
	for i := len(t.undo) - 1; i >= 0; i-- {
		u := t.undo[i]
		u.p.row, u.p.enc = u.row, u.enc
	}
	for _, p := range t.writes[t.stmtStart:] {
		if t.byKey != nil {
			delete(t.byKey, pendingKey(p.t, p.pk))
		}
	}
	clear(t.writes[t.stmtStart:])
	t.writes = t.writes[:t.stmtStart]
	t.undo = t.undo[:0]
}

// overwrite replaces a pending write's image, remembering the old one for RollbackStatement
// when the write predates the statement.
func (t *Txn) overwrite(p *pending, row Row, enc []byte) {
	if t.stmtOn {
		t.undo = append(t.undo, undoRec{p, p.row, p.enc})
	}
	p.row, p.enc = row, enc
}

func (t *Txn) find(tb *table, pk []byte) *pending {
	if t.byKey != nil {
		return t.byKey[pendingKey(tb, pk)]
	}
	for _, p := range t.writes {
		if p.t == tb && bytes.Equal(p.pk, pk) {
			return p
		}
	}
	return nil
}

func pendingKey(tb *table, pk []byte) string {
	return string(binary.BigEndian.AppendUint32(nil, tb.id)) + string(pk)
}

func (t *Txn) add(p *pending) {
	t.writes = append(t.writes, p)
	if t.byKey == nil && len(t.writes) > 8 {
		t.byKey = make(map[string]*pending, 16)
		for _, q := range t.writes {
			t.byKey[pendingKey(q.t, q.pk)] = q
		}
	} else if t.byKey != nil {
		t.byKey[pendingKey(p.t, p.pk)] = p
	}
}

// latest reads the latest committed version of a row (the caller holds its lock).
func (e *Engine) latest(tb *table, pk []byte) (Row, error) {
	v, c, err := e.db.Get(tb.rowKey(pk))
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer c.Close()
	return DecodeRow(v)
}

func (e *Engine) exists(tb *table, pk []byte) (bool, error) {
	_, c, err := e.db.Get(tb.rowKey(pk))
	if errors.Is(err, pebble.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	c.Close()
	return true, nil
}

// Get reads a row by primary key from the transaction's snapshot (its own writes included);
// nil, nil when absent.
func (t *Txn) Get(ctx context.Context, table string, pk ...Value) (Row, error) {
	tb, k, err := t.keyedStatement(ctx, false, table, pk)
	if err != nil {
		return nil, err
	}
	if p := t.find(tb, k); p != nil {
		return cloneRow(p.row), nil
	}
	if t.autocommit && !t.hasSnap && !t.readOnce {
		// An autocommit statement's first read is a single point read in the common case
		// (sysbench's point select): the latest committed version is what a snapshot taken
		// now would show, without the cost of creating and closing a Pebble snapshot. A
		// later read of the same statement takes the snapshot as usual.
		t.readOnce = true
		return t.e.latest(tb, k)
	}
	v, c, err := t.snapshot().Get(tb.rowKey(k))
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer c.Close()
	return DecodeRow(v)
}

// tableStatement starts a statement on table name: it checks that the transaction may
// run it (see statement) and resolves the table.
func (t *Txn) tableStatement(ctx context.Context, write bool, name string) (*table, error) {
	if err := t.statement(ctx, write); err != nil {
		return nil, err
	}
	return t.e.table(name)
}

// keyedStatement starts a statement on the one row that pk names: it checks that the
// transaction may run it (see statement), resolves the table and encodes the key.
func (t *Txn) keyedStatement(ctx context.Context, write bool, name string, pk []Value) (*table, []byte, error) {
	tb, err := t.tableStatement(ctx, write, name)
	if err != nil {
		return nil, nil, err
	}
	k, err := tb.encodePK(pk)
	if err != nil {
		return nil, nil, err
	}
	return tb, k, nil
}

// rowStatement starts a write statement that carries a whole row (Insert, Update): it
// checks that the transaction may write, resolves the table and normalises the row to the
// table's columns. The primary key is checked later (checkPKNotNull), after Insert has
// filled an auto-increment column.
func (t *Txn) rowStatement(ctx context.Context, name string, row Row) (*table, Row, error) {
	tb, err := t.tableStatement(ctx, true, name)
	if err != nil {
		return nil, nil, err
	}
	vals, err := tb.normalizeRow(row)
	if err != nil {
		return nil, nil, err
	}
	return tb, vals, nil
}

// checkPKNotNull refuses a row whose primary key has a NULL column, naming the column.
func (tb *table) checkPKNotNull(vals Row) error {
	for _, c := range tb.schema.PrimaryKey {
		if vals[c] == nil {
			return fmt.Errorf("storage: table %s: primary-key column %s cannot be NULL", tb.schema.Name, tb.schema.Columns[c].Name)
		}
	}
	return nil
}

// lockCurrent locks a row exclusively and returns what the transaction sees of it as a
// writer: its own pending change (nil if it has none) and the current image, which is the
// pending one when there is a pending change (nil if this transaction deleted the row)
// and otherwise the latest committed version (nil if the row does not exist). Reading the
// latest version rather than the snapshot is what makes a locking read see what it locked.
func (t *Txn) lockCurrent(ctx context.Context, tb *table, k []byte) (*pending, Row, error) {
	if err := t.lock(ctx, tb, 0, k); err != nil {
		return nil, nil, err
	}
	if p := t.find(tb, k); p != nil {
		return p, p.row, nil
	}
	cur, err := t.e.latest(tb, k)
	if err != nil {
		return nil, nil, err
	}
	return nil, cur, nil
}

func cloneRow(r Row) Row {
	if r == nil {
		return nil
	}
	return append(Row(nil), r...)
}

// GetForUpdate locks a row exclusively (SELECT ... FOR UPDATE) and reads its latest
// committed version.
func (t *Txn) GetForUpdate(ctx context.Context, table string, pk ...Value) (Row, error) {
	tb, k, err := t.keyedStatement(ctx, false, table, pk)
	if err != nil {
		return nil, err
	}
	p, cur, err := t.lockCurrent(ctx, tb, k)
	if err != nil {
		return nil, err
	}
	if p != nil {
		return cloneRow(cur), nil // the caller must not alter the pending image
	}
	return cur, nil
}

// Insert inserts a row; an auto-increment column left nil or 0 gets the next value, which is
// returned. A duplicate primary or unique key is 1062.
func (t *Txn) Insert(ctx context.Context, table string, row Row) (int64, error) {
	tb, vals, err := t.rowStatement(ctx, table, row)
	if err != nil {
		return 0, err
	}
	var auto int64
	if tb.autoCol >= 0 {
		if v, _ := vals[tb.autoCol].(int64); v == 0 {
			auto = tb.allocAuto(t.e.autoInc.Load(), t.e.autoOff.Load())
			vals[tb.autoCol] = auto
		} else {
			auto = v
			tb.seeAuto(v)
		}
	}
	if err := tb.checkPKNotNull(vals); err != nil {
		return 0, err
	}
	pk := tb.rowPK(vals)
	if err := t.lock(ctx, tb, 0, pk); err != nil {
		return 0, err
	}
	p := t.find(tb, pk)
	if p != nil && p.row != nil {
		return 0, protocols.ErrDuplicateKey(formatEntry(tb.pkValues(vals)), "PRIMARY")
	}
	if p == nil {
		ok, err := t.e.exists(tb, pk)
		if err != nil {
			return 0, err
		}
		if ok {
			return 0, protocols.ErrDuplicateKey(formatEntry(tb.pkValues(vals)), "PRIMARY")
		}
	}
	if err := t.checkUnique(ctx, tb, pk, vals, nil); err != nil {
		return 0, err
	}
	enc, err := EncodeRow(vals)
	if err != nil {
		return 0, err
	}
	if p != nil { // deleted earlier in this transaction
		t.overwrite(p, vals, enc)
	} else {
		t.add(&pending{t: tb, pk: pk, row: vals, enc: enc})
	}
	return auto, nil
}

// checkUnique locks the unique-index values a write introduces (and those it removes, old)
// and refuses a value another row already has, committed or buffered in this transaction.
// The lock on the value makes a concurrent uncommitted insert of the same value wait, then
// fail with 1062 once it commits.
func (t *Txn) checkUnique(ctx context.Context, tb *table, pk []byte, row, old Row) error {
	for _, ix := range tb.indexes {
		if !ix.unique {
			continue
		}
		var ov []byte
		if old != nil {
			ov, _ = ix.values(old)
			if err := t.lock(ctx, tb, ix.id, ov); err != nil {
				return err
			}
		}
		if row == nil {
			continue
		}
		nv, null := ix.values(row)
		if null || (old != nil && bytes.Equal(nv, ov)) {
			continue
		}
		if err := t.lock(ctx, tb, ix.id, nv); err != nil {
			return err
		}
		dup := func() error {
			vals := make([]Value, len(ix.cols))
			for i, c := range ix.cols {
				vals[i] = row[c]
			}
			return protocols.ErrDuplicateKey(formatEntry(vals), ix.name)
		}
		for _, p := range t.writes {
			if p.t == tb && p.row != nil && !bytes.Equal(p.pk, pk) {
				if v, _ := ix.values(p.row); bytes.Equal(v, nv) {
					return dup()
				}
			}
		}
		lo := append(append([]byte(nil), ix.prefix...), nv...)
		it, err := t.e.db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: prefixEnd(lo)})
		if err != nil {
			return err
		}
		for ok := it.First(); ok; ok = it.Next() {
			other := it.Key()[len(lo):]
			if bytes.Equal(other, pk) {
				continue
			}
			if p := t.find(tb, other); p != nil {
				if p.row == nil {
					continue
				}
				if v, _ := ix.values(p.row); !bytes.Equal(v, nv) {
					continue
				}
			}
			it.Close()
			return dup()
		}
		if err := it.Close(); err != nil {
			return err
		}
	}
	return nil
}

// Update replaces the row with row's primary key, locking it; a missing row is an error.
func (t *Txn) Update(ctx context.Context, table string, row Row) error {
	tb, vals, err := t.rowStatement(ctx, table, row)
	if err != nil {
		return err
	}
	if err := tb.checkPKNotNull(vals); err != nil {
		return err
	}
	pk := tb.rowPK(vals)
	p, cur, err := t.lockCurrent(ctx, tb, pk)
	if err != nil {
		return err
	}
	if cur == nil {
		return fmt.Errorf("%w: table %s, key %s", ErrRowNotFound, tb.schema.Name, formatEntry(tb.pkValues(vals)))
	}
	if err := t.checkUnique(ctx, tb, pk, vals, cur); err != nil {
		return err
	}
	enc, err := EncodeRow(vals)
	if err != nil {
		return err
	}
	if tb.autoCol >= 0 {
		if v, ok := vals[tb.autoCol].(int64); ok {
			tb.seeAuto(v)
		}
	}
	if p != nil {
		t.overwrite(p, vals, enc)
	} else {
		t.add(&pending{t: tb, pk: pk, row: vals, enc: enc, before: cur})
	}
	return nil
}

// Delete deletes a row by primary key, locking it; deleting a missing row is a no-op
// that returns false.
func (t *Txn) Delete(ctx context.Context, table string, pk ...Value) (bool, error) {
	tb, k, err := t.keyedStatement(ctx, true, table, pk)
	if err != nil {
		return false, err
	}
	p, cur, err := t.lockCurrent(ctx, tb, k)
	if err != nil {
		return false, err
	}
	if cur == nil {
		return false, nil
	}
	if err := t.checkUnique(ctx, tb, k, nil, cur); err != nil {
		return false, err
	}
	if p != nil {
		t.overwrite(p, nil, nil)
	} else {
		t.add(&pending{t: tb, pk: k, before: cur})
	}
	return true, nil
}

// Rollback abandons the transaction and releases its locks. Safe after Commit.
func (t *Txn) Rollback() {
	if t.finished {
		return
	}
	t.finish()
	t.e.stats.rollbacks.Add(1)
}

// finish releases everything the transaction holds.
func (t *Txn) finish() {
	t.finished = true
	t.e.lm.release(&t.o)
	t.closeSnapshot()
	t.writes, t.byKey = nil, nil
}
