package semisync

import "github.com/replbench/replbench/protocols"

// depTracker computes a transaction's dependency the way MySQL's WRITESET dependency
// tracking does (binlog_transaction_dependency_tracking=WRITESET): the last binlog position
// that wrote any of the same rows, bounded by the commit-order parent (the source's last
// committed position when the transaction committed: anything after it ran concurrently
// and so cannot conflict). A replica may apply a transaction in parallel with everything
// after its dependency, which is what makes parallel workers worth having.
//
// The history is capped at binlog_transaction_dependency_history_size rows; when it fills
// it is cleared and every later transaction depends at least on the position where it was
// cleared, which is MySQL's trade of parallelism for bounded memory.
type depTracker struct {
	hist  map[string]int64
	start int64 // positions up to start may have written rows the history forgot
	limit int
}

func newDepTracker(limit int) *depTracker {
	if limit < 1 {
		limit = 1
	}
	return &depTracker{hist: make(map[string]int64), limit: limit}
}

// rotate starts the history afresh at a new binlog file whose first position follows
// last: every later transaction depends at least on last. MySQL's logical clocks are
// relative to a binlog file (Writeset_trx_dependency_tracker::rotate sets the history
// start and clears the history), and a replica's coordinator applies a new file's
// Format_description event alone, after every earlier transaction has committed. So a
// restarted or promoted source, whose history is gone, never lets a replica run a new
// transaction beside one of the old binlog's that wrote the same rows.
func (d *depTracker) rotate(last int64) {
	d.hist = make(map[string]int64)
	d.start = last
}

// track returns the position pos depends on,
// and records its rows. Transactions flagged TOI or PA-unsafe depend on pos-1: they apply
// alone.
func (d *depTracker) track(ws *protocols.WriteSet, pos int64) int64 {
	if ws.Flags&(protocols.FlagTOI|protocols.FlagPAUnsafe) != 0 {
		d.hist = make(map[string]int64)
		d.start = pos
		return pos - 1
	}
	dep := d.start
	var kb []byte
	for _, k := range ws.Keys {
		if k.Type == protocols.KeyShared || len(k.Row) == 0 {
			continue // read and table-level keys order nothing on a single-writer replica
		}
		kb = append(kb[:0], k.Table...)
		kb = append(kb, 0)
		kb = append(kb, k.Index...)
		kb = append(kb, 0)
		kb = append(kb, k.Row...)
		if p, ok := d.hist[string(kb)]; ok && p > dep {
			dep = p
		}
	}
	if dep >= pos {
		dep = pos - 1
	}
	if len(d.hist)+len(ws.Keys) > d.limit {
		d.hist = make(map[string]int64)
		d.start = pos
	}
	for _, k := range ws.Keys {
		if k.Type == protocols.KeyShared || len(k.Row) == 0 {
			continue
		}
		kb = append(kb[:0], k.Table...)
		kb = append(kb, 0)
		kb = append(kb, k.Index...)
		kb = append(kb, 0)
		kb = append(kb, k.Row...)
		d.hist[string(kb)] = pos
	}
	return dep
}
