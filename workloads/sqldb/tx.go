package sqldb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/replbench/replbench/protocols"
	"github.com/replbench/replbench/storage"
	"github.com/replbench/replbench/workloads"
)

// ErrTxnDone is returned by a statement on a Tx that has committed or rolled back.
var ErrTxnDone = errors.New("sqldb: transaction already committed or rolled back; Begin a new one")

// bulkRows is how many rows a Loader sends per INSERT (fewer for wide tables, so that a
// statement stays under MySQL's 65535 placeholders).
const bulkRows = 500

// Tx is a transaction on a Client's connection; it implements workloads.Tx.
type Tx struct {
	c        *Client
	auto     bool
	open     bool               // BEGIN was sent
	done     bool               // committed or rolled back
	deferred error              // an autocommit write's commit error, returned by Commit
	pending  map[string][][]any // a Loader's buffered rows per table
	npending int
}

var _ workloads.Tx = (*Tx)(nil)

// SetAutocommit implements workloads.Tx. Call it before the first statement.
func (t *Tx) SetAutocommit(on bool) { t.auto = on }

// start readies a statement: the connection (reconnecting a broken one), and BEGIN unless
// the statement runs in autocommit mode. A locking read in autocommit mode opens a
// transaction (see the package comment). It returns the phase errors are reported in.
func (t *Tx) start(ctx context.Context, write, locking bool) (phase, error) {
	if t.done {
		return phaseStatement, ErrTxnDone
	}
	if t.deferred != nil {
		return phaseStatement, t.deferred
	}
	if !t.open {
		if err := t.c.ready(ctx); err != nil {
			return phaseStatement, err
		}
		if !t.auto || locking {
			if err := t.c.plain(ctx, "BEGIN"); err != nil {
				return phaseStatement, t.fail(err, phaseStatement)
			}
			t.open = true
		}
	}
	if t.npending > 0 {
		if err := t.flush(ctx); err != nil {
			return phaseStatement, err
		}
	}
	if t.open || !write {
		return phaseStatement, nil
	}
	return phaseCommit, nil
}

// fail maps a driver error and marks a broken connection.
func (t *Tx) fail(err error, ph phase) error {
	e, broken := mapError(err, ph, t.c.n.cfg.Kind)
	if broken {
		t.c.broken = true
		t.open = false
	}
	return e
}

// finish reports a write's error: in autocommit mode the errors that belong to the commit
// wait for Commit (see the package comment); everything else is the statement's.
func (t *Tx) finish(err error, ph phase) error {
	if err == nil {
		return nil
	}
	e := t.fail(err, ph)
	if ph == phaseCommit {
		var pe *protocols.Error
		if errors.As(e, &pe) && (pe.Cause == protocols.CauseCertification || workloads.InDoubt(pe)) {
			t.deferred = e
			return nil
		}
	}
	return e
}

// Get implements workloads.Tx: the row in the transaction's snapshot, nil if absent.
func (t *Tx) Get(ctx context.Context, table string, pk ...storage.Value) (storage.Row, error) {
	return t.get(ctx, table, false, pk)
}

// GetForUpdate implements workloads.Tx: SELECT ... FOR UPDATE, the latest version, locked.
func (t *Tx) GetForUpdate(ctx context.Context, table string, pk ...storage.Value) (storage.Row, error) {
	return t.get(ctx, table, true, pk)
}

func (t *Tx) get(ctx context.Context, table string, forUpdate bool, pk []storage.Value) (storage.Row, error) {
	ts, err := t.c.n.table(table)
	if err != nil {
		return nil, err
	}
	if len(pk) != len(ts.schema.PrimaryKey) {
		return nil, fmt.Errorf("sqldb: table %s: primary key has %d columns, got %d values", table, len(ts.schema.PrimaryKey), len(pk))
	}
	ph, err := t.start(ctx, false, forUpdate)
	if err != nil {
		return nil, err
	}
	text := ts.get
	if forUpdate {
		text = ts.getForUpd
	}
	s, err := t.c.stmt(ctx, text)
	if err != nil {
		return nil, t.fail(err, ph)
	}
	dest := newDest(ts.schema)
	if err := s.QueryRowContext(ctx, pk...).Scan(dest.ptrs...); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, nil
		}
		return nil, t.fail(err, ph)
	}
	return dest.row(), nil
}

// Insert implements workloads.Tx. A nil or 0 auto-increment column is left to the server,
// whose id is returned; an explicit one is returned as given.
func (t *Tx) Insert(ctx context.Context, table string, row storage.Row) (int64, error) {
	ts, err := t.c.n.table(table)
	if err != nil {
		return 0, err
	}
	if len(row) != len(ts.schema.Columns) {
		return 0, fmt.Errorf("sqldb: table %s has %d columns, the row has %d values", table, len(ts.schema.Columns), len(row))
	}
	generate := ts.autoCol >= 0 && isZeroID(row[ts.autoCol])
	if t.c.bulk && !generate {
		return t.buffer(ctx, ts, row)
	}
	ph, err := t.start(ctx, true, false)
	if err != nil {
		return 0, err
	}
	args := t.c.args[:0]
	text := ts.insert
	if generate {
		text = ts.insertNoPK
		args = append(append(args, row[:ts.autoCol]...), row[ts.autoCol+1:]...)
	} else {
		args = append(args, row...)
	}
	res, err := t.c.exec(ctx, text, args...)
	clear(args)
	t.c.args = args
	if err != nil {
		return 0, t.finish(err, ph)
	}
	if ts.autoCol < 0 {
		return 0, nil
	}
	if !generate {
		return toInt64(row[ts.autoCol]), nil
	}
	return res.LastInsertId()
}

// Update implements workloads.Tx: the row with the same primary key gets row's values.
// No such row is storage.ErrRowNotFound, as in the engine.
func (t *Tx) Update(ctx context.Context, table string, row storage.Row) error {
	ts, err := t.c.n.table(table)
	if err != nil {
		return err
	}
	if len(row) != len(ts.schema.Columns) {
		return fmt.Errorf("sqldb: table %s has %d columns, the row has %d values", table, len(ts.schema.Columns), len(row))
	}
	ph, err := t.start(ctx, true, false)
	if err != nil {
		return err
	}
	args := t.c.args[:0]
	if !ts.pkIsAllCols {
		for i := range row {
			if !containsInt(ts.schema.PrimaryKey, i) {
				args = append(args, row[i])
			}
		}
	}
	for _, c := range ts.schema.PrimaryKey {
		args = append(args, row[c])
	}
	res, err := t.c.exec(ctx, ts.update, args...)
	clear(args)
	t.c.args = args
	if err != nil {
		return t.finish(err, ph)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		key := make([]storage.Value, len(ts.schema.PrimaryKey))
		for i, c := range ts.schema.PrimaryKey {
			key[i] = row[c]
		}
		return fmt.Errorf("%w: table %s, key %v", storage.ErrRowNotFound, table, key)
	}
	return nil
}

// Delete implements workloads.Tx; deleting a missing row returns false.
func (t *Tx) Delete(ctx context.Context, table string, pk ...storage.Value) (bool, error) {
	ts, err := t.c.n.table(table)
	if err != nil {
		return false, err
	}
	ph, err := t.start(ctx, true, false)
	if err != nil {
		return false, err
	}
	res, err := t.c.exec(ctx, ts.del, pk...)
	if err != nil {
		return false, t.finish(err, ph)
	}
	n, _ := res.RowsAffected()
	return n > 0, nil
}

// Commit implements workloads.Tx.
func (t *Tx) Commit(ctx context.Context) error {
	if t.done {
		return ErrTxnDone
	}
	if t.npending > 0 && t.deferred == nil {
		if _, err := t.start(ctx, true, false); err != nil {
			t.Rollback()
			return err
		}
	}
	t.done = true
	if t.deferred != nil {
		if t.open {
			t.c.plain(ctx, "ROLLBACK")
			t.open = false
		}
		return t.deferred
	}
	if !t.open {
		return nil
	}
	err := t.c.plain(ctx, "COMMIT")
	t.open = false
	if err != nil {
		return t.fail(err, phaseCommit)
	}
	return nil
}

// Rollback implements workloads.Tx; safe after Commit.
func (t *Tx) Rollback() {
	if t.done {
		return
	}
	t.done = true
	t.pending, t.npending = nil, 0
	if t.open && !t.c.broken {
		if err := t.c.plain(context.Background(), "ROLLBACK"); err != nil {
			t.fail(err, phaseStatement)
		}
	}
	t.open = false
}

// buffer queues a Loader's row; flush sends it.
func (t *Tx) buffer(ctx context.Context, ts *tableSQL, row storage.Row) (int64, error) {
	if t.done {
		return 0, ErrTxnDone
	}
	if t.pending == nil {
		t.pending = map[string][][]any{}
	}
	t.pending[ts.schema.Name] = append(t.pending[ts.schema.Name], append([]any(nil), row...))
	t.npending++
	var id int64
	if ts.autoCol >= 0 {
		id = toInt64(row[ts.autoCol])
	}
	if len(t.pending[ts.schema.Name]) >= ts.bulkBatch() {
		if _, err := t.start(ctx, true, false); err != nil {
			return 0, err
		}
	}
	return id, nil
}

func (ts *tableSQL) bulkBatch() int {
	return max(1, min(bulkRows, 60000/len(ts.schema.Columns)))
}

// flush sends the buffered rows as multi-row INSERTs (start calls it).
func (t *Tx) flush(ctx context.Context) error {
	pending := t.pending
	t.pending, t.npending = nil, 0
	for name, rows := range pending {
		ts := t.c.n.tables[name]
		for len(rows) > 0 {
			n := min(len(rows), ts.bulkBatch())
			args := make([]any, 0, n*len(ts.schema.Columns))
			for _, r := range rows[:n] {
				args = append(args, r...)
			}
			text := ts.bulkInsert(n)
			var err error
			if n == ts.bulkBatch() {
				_, err = t.c.exec(ctx, text, args...)
			} else { // a one-off size: do not keep it prepared
				_, err = t.c.conn.ExecContext(ctx, text, args...)
			}
			if err != nil {
				return t.fail(err, phaseStatement)
			}
			rows = rows[n:]
		}
	}
	return nil
}

func isZeroID(v storage.Value) bool {
	return v == nil || toInt64(v) == 0
}

func toInt64(v storage.Value) int64 {
	switch x := v.(type) {
	case int64:
		return x
	case int:
		return int64(x)
	case int32:
		return int64(x)
	case uint64:
		return int64(x)
	}
	return 0
}

// dest holds one row's scan targets, typed by the schema so that values come back as the
// engine's: int64, float64, string or nil.
type dest struct {
	schema storage.TableSchema
	ints   []sql.NullInt64
	floats []sql.NullFloat64
	strs   []sql.NullString
	ptrs   []any
}

func newDest(s storage.TableSchema) *dest {
	d := &dest{schema: s, ints: make([]sql.NullInt64, len(s.Columns)), floats: make([]sql.NullFloat64, len(s.Columns)),
		strs: make([]sql.NullString, len(s.Columns)), ptrs: make([]any, len(s.Columns))}
	for i, c := range s.Columns {
		switch c.Type {
		case storage.Int:
			d.ptrs[i] = &d.ints[i]
		case storage.Float:
			d.ptrs[i] = &d.floats[i]
		default:
			d.ptrs[i] = &d.strs[i]
		}
	}
	return d
}

func (d *dest) row() storage.Row {
	r := make(storage.Row, len(d.schema.Columns))
	for i, c := range d.schema.Columns {
		switch c.Type {
		case storage.Int:
			if d.ints[i].Valid {
				r[i] = d.ints[i].Int64
			}
		case storage.Float:
			if d.floats[i].Valid {
				r[i] = d.floats[i].Float64
			}
		default:
			if d.strs[i].Valid {
				r[i] = d.strs[i].String
			}
		}
	}
	return r
}
