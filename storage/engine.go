package storage

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/replbench/replbench/internal/codec"
	"github.com/replbench/replbench/protocols"
)

// Options configure one node's engine.
type Options struct {
	Node            string        // node name, for errors and write-set Source
	Dir             string        // "" keeps the database in memory (Pebble's vfs.NewMem)
	Sync            bool          // innodb_flush_log_at_trx_commit=1: fsync every commit
	LockWaitTimeout time.Duration // innodb_lock_wait_timeout; 0 means the default 50 s
	// ApplyDelay is added to every remote write-set's Applied.Commit (replbench.apply_delay):
	// a slow applier node, to show flow control making a cluster as slow as its slowest node.
	ApplyDelay time.Duration
	// LogFlush is innodb_flush_log_at_trx_commit for in-memory nodes (durability.go); the
	// zero value follows Sync.
	LogFlush LogFlush
	// FS is a surviving filesystem image to open (Reopen after a kill or crash); nil
	// starts a fresh crashable in-memory one. Ignored with Dir.
	FS *vfs.MemFS
}

// DefaultLockWaitTimeout is InnoDB's default innodb_lock_wait_timeout.
const DefaultLockWaitTimeout = 50 * time.Second

// ErrClosed is returned by operations on a closed engine.
var ErrClosed = errors.New("storage: engine is closed; open a new one")

// ErrRowNotFound is returned by Update for a row that does not exist.
var ErrRowNotFound = errors.New("storage: row not found (Update needs an existing row; use Insert)")

// Engine is one node's database.
type Engine struct {
	opts    Options
	db      *pebble.DB
	wo      *pebble.WriteOptions
	timeout time.Duration

	mu      sync.RWMutex // guards tables and nextID
	tables  map[string]*table
	nextID  uint32
	closed  atomic.Bool
	repl    atomic.Pointer[replBox]
	autoInc atomic.Int64
	autoOff atomic.Int64
	txnSeq  atomic.Uint64
	lm      lockManager
	stats   statCounters

	snapMu sync.Mutex
	snaps  map[*Txn]struct{} // transactions holding a Pebble snapshot, closed by Close

	durable
	fs                   *vfs.MemFS    // the in-memory filesystem (nil on disk)
	flushStop, flushDone chan struct{} // the once-a-second log flush (durability.go)
}

type replBox struct{ r protocols.Replicator }

// Stats are the engine's own statCounters (the replication statCounters live in the providers).
type Stats struct {
	Commits          uint64 // local transactions committed
	Rollbacks        uint64 // local transactions rolled back, for any reason
	LockWaits        uint64 // lock requests that had to wait
	Deadlocks        uint64 // local deadlock victims (1213)
	LockWaitTimeouts uint64 // lock waits that timed out (1205)
	BFAborts         uint64 // local transactions aborted by appliers (wsrep_local_bf_aborts)
	Replays          uint64 // ordered local transactions replayed after a BF abort (wsrep_local_replays)
	Applied          uint64 // remote write-sets applied
}

// ScanOptions select a range of rows. From and To are key prefixes: From is inclusive, To
// exclusive, nil means unbounded. With Index set the range is over that secondary index's
// columns and rows come back in index order.
//
// Bounds compare as tuples in which a prefix sorts before its extensions: To = (5) stops
// before every key starting with 5, so "all keys starting with 5" is From (5), To (6), or
// simply Prefix (5).
type ScanOptions struct {
	Index   string
	From    []Value
	To      []Value
	Limit   int // 0: no limit
	Reverse bool
	Prefix  []Value // only keys starting with these values (combined with From/To)
}

type quietLogger struct{}

func (quietLogger) Infof(string, ...any)      {}
func (quietLogger) Errorf(string, ...any)     {}
func (quietLogger) Fatalf(f string, a ...any) { panic(fmt.Sprintf("pebble: "+f, a...)) }

// blockCacheSize is Pebble's block cache per node: InnoDB's default
// innodb_buffer_pool_size (128 MiB), so a working set a real server holds in memory is in
// memory here too. Pebble's own default (8 MiB) made a sysbench table of 10,000 rows miss
// the cache: every point read re-read and decompressed its block. The cache fills on
// demand, so a small database costs only what it holds.
const blockCacheSize = 128 << 20

// Open opens (or creates) an engine. Pebble's background goroutines all end at Close, so an
// engine may live inside a testing/synctest bubble.
func Open(opts Options) (*Engine, error) {
	po := &pebble.Options{Logger: quietLogger{}, CacheSize: blockCacheSize}
	for i := range po.Levels {
		po.Levels[i].FilterPolicy = bloom.FilterPolicy(10)
	}
	dir := opts.Dir
	fs := opts.openFS(po)
	if fs != nil && opts.logFlush() == LogFlushSecond {
		po.DisableWAL = true
	}
	db, err := pebble.Open(dir, po)
	if err != nil {
		return nil, fmt.Errorf("storage: open node %s at %q: %w", opts.Node, opts.Dir, err)
	}
	e := &Engine{opts: opts, db: db, tables: map[string]*table{}, nextID: 1, snaps: map[*Txn]struct{}{}, fs: fs}
	e.wo = pebble.NoSync
	if opts.logFlush() == LogFlushCommit {
		e.wo = pebble.Sync
	}
	e.timeout = opts.LockWaitTimeout
	if e.timeout == 0 {
		e.timeout = DefaultLockWaitTimeout
	}
	e.autoInc.Store(1)
	e.autoOff.Store(1)
	e.lm.init(&e.stats)
	if err := e.loadTables(); err != nil {
		db.Close()
		return nil, err
	}
	e.startFlusher()
	return e, nil
}

// loadTables reads the schemas of an on-disk database and recovers the auto-increment
// statCounters from the largest primary key, as InnoDB 8 does at start-up.
func (e *Engine) loadTables() error {
	it, err := e.db.NewIter(&pebble.IterOptions{LowerBound: []byte{prefixMeta}, UpperBound: []byte{prefixMeta + 1}})
	if err != nil {
		return err
	}
	defer it.Close()
	for ok := it.First(); ok; ok = it.Next() {
		r := codec.NewReader(it.Value(), ErrCorruptKey)
		id := uint32(r.Uvarint())
		s := decodeSchema(&r)
		if err := r.Err(); err != nil {
			return fmt.Errorf("storage: node %s: corrupt schema of table %q: %w", e.opts.Node, it.Key()[1:], err)
		}
		t := newTable(id, s)
		e.tables[s.Name] = t
		if id >= e.nextID {
			e.nextID = id + 1
		}
		if err := e.recoverAuto(t); err != nil {
			return err
		}
	}
	return it.Error()
}

func (e *Engine) recoverAuto(t *table) error {
	if t.autoCol < 0 {
		return nil
	}
	it, err := e.db.NewIter(&pebble.IterOptions{LowerBound: t.rowPrefix, UpperBound: prefixEnd(t.rowPrefix)})
	if err != nil {
		return err
	}
	defer it.Close()
	if it.Last() {
		if v, _, err := decodeKeyValue(it.Key()[len(t.rowPrefix):]); err == nil {
			if x, ok := v.(int64); ok {
				t.seeAuto(x)
			}
		}
	}
	return it.Error()
}

// Close closes the engine; open transactions are rolled back (their next call fails with
// ErrClosed).
func (e *Engine) Close() error {
	if !e.closed.Swap(true) {
		e.stopFlusher()
	}
	return e.Release() // durability.go; a second Close does nothing
}

// Node returns the node name.
func (e *Engine) Node() string { return e.opts.Node }

// CreateTable creates a table. A table without a primary key is refused.
func (e *Engine) CreateTable(s TableSchema) error {
	s = cloneSchema(s) // validateSchema normalises defaults in place
	if err := validateSchema(&s); err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed.Load() {
		return ErrClosed
	}
	return e.createTableLocked(s)
}

func (e *Engine) createTableLocked(s TableSchema) error {
	if _, ok := e.tables[s.Name]; ok {
		return fmt.Errorf("storage: table %s already exists on node %s", s.Name, e.opts.Node)
	}
	t := newTable(e.nextID, s)
	meta := appendSchema(binary.AppendUvarint(nil, uint64(t.id)), &t.schema)
	if err := e.db.Set(append([]byte{prefixMeta}, s.Name...), meta, e.wo); err != nil {
		return fmt.Errorf("storage: create table %s: %w", s.Name, err)
	}
	e.nextID++
	e.tables[s.Name] = t
	return nil
}

// Schema returns a table's schema.
func (e *Engine) Schema(table string) (*TableSchema, bool) {
	e.mu.RLock()
	t := e.tables[table]
	e.mu.RUnlock()
	if t == nil {
		return nil, false
	}
	s := cloneSchema(t.schema)
	return &s, true
}

// Tables returns the table names, sorted.
func (e *Engine) Tables() []string {
	e.mu.RLock()
	names := make([]string, 0, len(e.tables))
	for n := range e.tables {
		names = append(names, n)
	}
	e.mu.RUnlock()
	sort.Strings(names)
	return names
}

func (e *Engine) table(name string) (*table, error) {
	e.mu.RLock()
	t := e.tables[name]
	e.mu.RUnlock()
	if t == nil {
		return nil, fmt.Errorf("storage: node %s has no table %q (create it with CreateTable first)", e.opts.Node, name)
	}
	return t, nil
}

// SetReplicator installs the provider the commit path hands write-sets to; nil commits
// locally with no replication (the standalone floor).
func (e *Engine) SetReplicator(r protocols.Replicator) {
	if r == nil {
		e.repl.Store(nil)
		return
	}
	e.repl.Store(&replBox{r})
}

func (e *Engine) replicator() protocols.Replicator {
	if b := e.repl.Load(); b != nil {
		return b.r
	}
	return nil
}

// Begin starts a transaction.
func (e *Engine) Begin() *Txn {
	t := &Txn{e: e, id: e.txnSeq.Add(1)}
	t.o.init(false, 0)
	return t
}

// Stats returns the engine's statCounters.
func (e *Engine) Stats() Stats {
	s := &e.stats
	return Stats{
		Commits: s.commits.Load(), Rollbacks: s.rollbacks.Load(), LockWaits: s.lockWaits.Load(),
		Deadlocks: s.deadlocks.Load(), LockWaitTimeouts: s.lockWaitTimeouts.Load(),
		BFAborts: s.bfAborts.Load(), Replays: s.replays.Load(), Applied: s.applied.Load(),
	}
}

// SetAutoIncrement implements protocols.Applier: auto_increment_increment and
// auto_increment_offset for every table.
func (e *Engine) SetAutoIncrement(increment, offset int) {
	if increment < 1 {
		increment = 1
	}
	if offset < 1 {
		offset = 1
	}
	e.autoInc.Store(int64(increment))
	e.autoOff.Store(int64(offset))
}

// AutoIncrement returns the current auto_increment_increment and auto_increment_offset.
func (e *Engine) AutoIncrement() (increment, offset int) {
	return int(e.autoInc.Load()), int(e.autoOff.Load())
}

// compile-time check that the engine is what providers call.
var _ protocols.Applier = (*Engine)(nil)
