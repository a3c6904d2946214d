package storage

import (
	"context"
	"fmt"
	"time"

	"github.com/replbench/replbench/protocols"
)

// PrepareApply implements protocols.Applier. It takes the write-set's locks as a
// brute-force applier with priority ws.Seqno, in sorted order so that two appliers never
// deadlock each other, and returns once it holds them all.
//
// Providers call it after the write-set's DependsSeqno has committed (Galera's apply
// monitor): an applier waits for any holder that is an applier or ordered before it, so
// two conflicting appliers taking locks out of dependency order would wait on each other
// through the commit order.
func (e *Engine) PrepareApply(ctx context.Context, ws *protocols.WriteSet) (protocols.Applied, error) {
	if e.closed.Load() {
		return nil, ErrClosed
	}
	a := &applied{e: e, ws: ws}
	a.o.init(true, ws.Seqno)
	a.rows = make([]rowWrite, 0, len(ws.Rows))
	keys := make([]string, 0, len(ws.Keys)+len(ws.Rows))
	var buf []byte
	var k string
	for _, rc := range ws.Rows {
		tb, err := e.table(rc.Table)
		if err != nil {
			return nil, fmt.Errorf("storage: apply write-set %d from %s: %w", ws.Seqno, ws.Source, err)
		}
		w := rowWrite{t: tb, pk: rc.Row}
		if rc.Op != protocols.OpDelete {
			if w.row, err = DecodeRow(rc.After); err != nil {
				return nil, fmt.Errorf("storage: apply write-set %d from %s, table %s: %w", ws.Seqno, ws.Source, rc.Table, err)
			}
			if len(w.row) != len(tb.schema.Columns) {
				return nil, fmt.Errorf("storage: apply write-set %d from %s: table %s has %d columns here, the row has %d (schemas differ between nodes)", ws.Seqno, ws.Source, rc.Table, len(tb.schema.Columns), len(w.row))
			}
			w.enc = rc.After
		}
		a.rows = append(a.rows, w)
		buf, k = lockKey(buf, tb.id, 0, rc.Row)
		keys = append(keys, k)
	}
	for _, key := range ws.Keys {
		if len(key.Row) == 0 || key.Type == protocols.KeyShared || key.Type == protocols.KeyReference {
			continue // table-level and read keys take no row lock
		}
		tb, err := e.table(key.Table)
		if err != nil {
			return nil, fmt.Errorf("storage: apply write-set %d from %s: %w", ws.Seqno, ws.Source, err)
		}
		ix, err := tb.index(key.Index)
		if err != nil {
			return nil, err
		}
		var id byte
		if ix != nil {
			id = ix.id
		}
		buf, k = lockKey(buf, tb.id, id, key.Row)
		keys = append(keys, k)
	}
	keys = sortDedup(keys)
	for _, k := range keys {
		if err := e.lm.acquire(ctx, &a.o, k, 0); err != nil {
			e.lm.release(&a.o)
			return nil, err
		}
	}
	return a, nil
}

// applied is a remote write-set holding its locks.
type applied struct {
	e    *Engine
	ws   *protocols.WriteSet
	o    owner
	rows []rowWrite
	done bool
}

// Commit writes the after-images (secondary indexes and auto-increment counters follow),
// then releases the locks. replbench.apply_delay is spent here, holding the locks, as a
// slow applier would.
func (a *applied) Commit() error {
	if a.done {
		return fmt.Errorf("storage: write-set %d applied twice", a.ws.Seqno)
	}
	a.done = true
	if d := a.e.opts.ApplyDelay; d > 0 {
		time.Sleep(d)
	}
	err := a.e.write(a.rows, true, a.ws.Seqno, a.ws)
	a.e.lm.release(&a.o)
	if err == nil {
		a.e.stats.applied.Add(1)
	}
	return err
}

// Abort releases the locks without writing.
func (a *applied) Abort() {
	if a.done {
		return
	}
	a.done = true
	a.e.lm.release(&a.o)
}
