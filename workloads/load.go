package workloads

import (
	"context"
	"fmt"

	"github.com/replbench/replbench/storage"
)

// LoadBatch is how many rows a Loader writes per transaction. Loading is done on one node
// with no replication in the way, so large transactions are cheap; they are bounded only to
// keep a write-set (and the engine's write buffer) to a few megabytes.
const LoadBatch = 2000

// Loader inserts rows in large transactions and reports progress after each one. It is how
// every workload loads: directly through the storage API on one node, after which the
// harness copies the state to the other nodes as a snapshot.
type Loader struct {
	ctx      context.Context
	db       DB
	tx       Tx
	inTx     int
	done     int64
	total    int64
	progress func(done, total int64)
}

// NewLoader starts loading total rows into db.
func NewLoader(ctx context.Context, db DB, total int64, progress func(done, total int64)) *Loader {
	return &Loader{ctx: ctx, db: db, total: total, progress: progress}
}

// Insert adds one row; every LoadBatch rows the transaction commits.
func (l *Loader) Insert(table string, row storage.Row) error {
	if l.tx == nil {
		if err := l.ctx.Err(); err != nil {
			return err
		}
		l.tx = l.db.Begin()
	}
	if _, err := l.tx.Insert(l.ctx, table, row); err != nil {
		l.tx.Rollback()
		l.tx = nil
		return fmt.Errorf("loading %s: %w", table, err)
	}
	l.inTx++
	if l.inTx >= LoadBatch {
		return l.flush()
	}
	return nil
}

func (l *Loader) flush() error {
	if l.tx == nil {
		return nil
	}
	err := l.tx.Commit(l.ctx)
	l.tx = nil
	if err != nil {
		return fmt.Errorf("loading: commit of %d rows failed: %w", l.inTx, err)
	}
	l.done += int64(l.inTx)
	l.inTx = 0
	if l.progress != nil {
		l.progress(l.done, max(l.total, l.done))
	}
	return nil
}

// Close commits what is left and reports completion (done = total = rows written, since
// total may have been an estimate). Call it once, also to learn the last commit's error.
func (l *Loader) Close() error {
	if err := l.flush(); err != nil {
		return err
	}
	if l.progress != nil {
		l.progress(l.done, l.done)
	}
	return nil
}

// Abort abandons the open transaction after an error elsewhere.
func (l *Loader) Abort() {
	if l.tx != nil {
		l.tx.Rollback()
		l.tx = nil
	}
}
