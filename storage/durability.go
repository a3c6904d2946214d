package storage

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/replbench/replbench/protocols"
)

// This file is the engine's durability model: what survives a killed process and what
// survives a power loss, decided by innodb_flush_log_at_trx_commit and by Pebble's
// crash-testing filesystem rather than by a rule written here.
//
// An in-memory node runs on vfs.NewCrashableMem, a filesystem that remembers which bytes
// were fsynced. Kill clones it keeping every byte written to a file (the operating system
// outlives the process) and Crash clones it keeping only what was synced (the machine lost
// power); Reopen opens the clone, so Pebble's own WAL replay is the recovery. The modes:
//
//	1  every commit writes and fsyncs the WAL: nothing acknowledged is lost
//	2  every commit writes the WAL (to the OS), a background sync once a second:
//	   a kill loses nothing, a crash up to a second of commits
//	0  commits skip the WAL and the memtable is flushed (written and synced) once a
//	   second: a kill and a crash both lose up to a second of commits
//
// The trade-off is the real one: 1 pays an fsync per commit (group commit shares it), 0
// and 2 trade durability for that cost.

// LogFlush is innodb_flush_log_at_trx_commit.
type LogFlush uint8

// The modes. The zero value follows Options.Sync (1 when set, else 2), so callers that
// only set Sync keep their meaning.
const (
	LogFlushDefault LogFlush = iota
	LogFlushCommit           // 1: write and sync at every commit
	LogFlushOS               // 2: write at every commit, sync once a second
	LogFlushSecond           // 0: write and sync once a second
)

// flushInterval is InnoDB's once-a-second log flush (innodb_flush_log_at_timeout=1).
const flushInterval = time.Second

// posPrefix keys the replication positions committed with the rows (InnoDB keeps the
// wsrep XID / GTID in the same transaction as the rows, so the recovered position matches
// the recovered data). It sorts after every row and index key, outside Restore's range:
// an SST replaces the rows, the positions only move forward.
const posPrefix = 'z'

// binlogPrefix keys a source's binlog as written at its flush stage, before the engine
// commit (sync_binlog=1: synced before the events leave for the replicas).
const binlogPrefix = 'y'

// durable is the engine state of this file.
type durable struct {
	keepLog  atomic.Bool // KeepBinlog: positions carry their write-sets
	released atomic.Bool // Release closed the database of an engine taken Down
}

func (o Options) logFlush() LogFlush {
	if o.LogFlush != LogFlushDefault {
		return o.LogFlush
	}
	if o.Sync {
		return LogFlushCommit
	}
	return LogFlushOS
}

// openFS picks the node's filesystem: an on-disk directory, a recovered image, or a fresh
// crashable in-memory one.
func (o Options) openFS(po *pebble.Options) *vfs.MemFS {
	if o.Dir != "" {
		return nil
	}
	fs := o.FS
	if fs == nil {
		fs = vfs.NewCrashableMem()
	}
	po.FS = fs
	return fs
}

// startFlusher runs the once-a-second log flush of modes 0 and 2 until Close.
func (e *Engine) startFlusher() {
	mode := e.opts.logFlush()
	if mode == LogFlushCommit {
		return
	}
	e.flushStop = make(chan struct{})
	e.flushDone = make(chan struct{})
	go func() {
		defer close(e.flushDone)
		t := time.NewTicker(flushInterval)
		defer t.Stop()
		for {
			select {
			case <-e.flushStop:
				return
			case <-t.C:
			}
			if mode == LogFlushSecond {
				_, _ = e.db.AsyncFlush()
			} else {
				_ = e.db.LogData(nil, pebble.Sync)
			}
		}
	}()
}

func (e *Engine) stopFlusher() {
	if e.flushStop != nil {
		close(e.flushStop)
		<-e.flushDone
		e.flushStop = nil
	}
}

// Halt is how a node goes down.
type Halt uint8

// The ways down.
const (
	HaltStop  Halt = iota // clean shutdown: everything is flushed and synced first
	HaltKill              // kill -9: what was written to files survives, unsynced or not
	HaltCrash             // power loss: only what was fsynced survives
)

func (h Halt) String() string {
	switch h {
	case HaltKill:
		return "kill"
	case HaltCrash:
		return "crash"
	}
	return "stop"
}

// Down takes the engine down as h says and returns the filesystem image that survived, for
// Reopen. The engine is closed afterwards (its open transactions fail with ErrClosed). An
// on-disk engine (Options.Dir) cannot be crashed: it returns an error and stays open.
func (e *Engine) Down(h Halt, seed int64) (*vfs.MemFS, error) {
	if e.fs == nil {
		return nil, fmt.Errorf("storage: node %s is on disk (%s): node faults need in-memory nodes (no --data-dir)", e.opts.Node, e.opts.Dir)
	}
	if e.closed.Load() {
		return nil, ErrClosed
	}
	var img *vfs.MemFS
	switch h {
	case HaltStop:
		e.stopFlusher()
		if err := e.db.Flush(); err != nil {
			return nil, fmt.Errorf("storage: node %s: clean stop: %w", e.opts.Node, err)
		}
		img = e.fs.CrashClone(vfs.CrashCloneCfg{})
	case HaltKill:
		// Pebble's WAL writer buffers a record in the process before its flusher writes it
		// to the file, where InnoDB write()s the redo at every commit under modes 1 and 2:
		// that buffer stands for the page cache, so it reaches the file before the clone.
		// Mode 0 wrote nothing since the last flush and loses the memtable.
		if e.opts.logFlush() != LogFlushSecond {
			if err := e.db.LogData(nil, pebble.Sync); err != nil {
				return nil, fmt.Errorf("storage: node %s: kill: %w", e.opts.Node, err)
			}
		}
		img = e.fs.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: 100, RNG: rand.New(rand.NewPCG(uint64(seed), 1))})
	default:
		img = e.fs.CrashClone(vfs.CrashCloneCfg{})
	}
	// The engine refuses everything from now on, but the Pebble database stays open until
	// Release: goroutines of the dead node still inside a statement or an apply finish
	// against it (their effects are not in the image), instead of hitting a closed database.
	e.closed.Store(true)
	e.lm.failWaiters(ErrClosed)
	e.stopFlusher()
	return img, nil
}

// Release closes the database of an engine taken Down, once nothing of the dead node runs
// any more (its provider is closed); Close calls it too.
func (e *Engine) Release() error {
	if !e.closed.Load() || e.released.Swap(true) {
		return nil
	}
	e.snapMu.Lock()
	for t := range e.snaps {
		t.snap.Close()
		t.snap = nil
	}
	clear(e.snaps)
	e.snapMu.Unlock()
	return e.db.Close()
}

// Reopen opens an engine on a surviving image, with the same options: Pebble replays its
// WAL, the schemas and auto-increment counters are read back, and Position reports the
// replication position the surviving data carries.
func Reopen(opts Options, img *vfs.MemFS) (*Engine, error) {
	opts.FS = img
	opts.Dir = ""
	return Open(opts)
}

// Recovered opens a copy of a down engine's surviving image: exactly the data a restart
// of the node would recover (Pebble replays the WAL on the copy), without touching the
// image the real restart will open. The end-of-run checks read a node that is still down
// this way; the caller closes the engine.
func Recovered(opts Options, img *vfs.MemFS) (*Engine, error) {
	return Reopen(opts, img.CrashClone(vfs.CrashCloneCfg{})) // everything in an image counts as synced
}

// Halted reports whether the engine was taken Down (or closed): it refuses every read and
// write, and what the node kept is its surviving image, not this engine.
func (e *Engine) Halted() bool { return e.closed.Load() }

// Position is the newest replication position (seqno, binlog position) among the
// committed transactions that survived: the position a restarted node recovers (Galera's
// wsrep-recover, the GTIDs InnoDB holds). 0 for a fresh database.
func (e *Engine) Position() int64 {
	if e.closed.Load() {
		return 0
	}
	it, err := e.db.NewIter(&pebble.IterOptions{LowerBound: []byte{posPrefix}, UpperBound: []byte{posPrefix + 1}})
	if err != nil {
		return 0
	}
	defer it.Close()
	if it.Last() && len(it.Key()) == 9 {
		return int64(binary.BigEndian.Uint64(it.Key()[1:]))
	}
	return 0
}

// setPosition records seqno in the commit's batch (a key per position, so concurrent
// commits need no ordering among themselves; the newest key is the position), with the
// encoded write-set as its value when the binlog is kept.
func (e *Engine) setPosition(b *pebble.Batch, seqno int64, logged *protocols.WriteSet) error {
	if seqno <= 0 {
		return nil
	}
	var k [9]byte
	k[0] = posPrefix
	binary.BigEndian.PutUint64(k[1:], uint64(seqno))
	var v []byte
	if logged != nil && e.keepLog.Load() {
		v = protocols.EncodeWriteSet(logged)
	}
	return b.Set(k[:], v, nil)
}

// KeepBinlog makes every commit store its write-set with its position, in the same batch
// as the rows: a binlog (and, on a replica, log_replica_updates) that is exactly as durable
// as the data, from which a restarted or promoted source of a source/replica protocol
// serves its replicas. Off by default: the other protocols keep their own caches.
func (e *Engine) KeepBinlog() { e.keepLog.Store(true) }

// Binlog calls fn with every kept write-set after position after, in position order, until
// fn returns false. Positions committed before KeepBinlog have no write-set and are skipped.
func (e *Engine) Binlog(after int64, fn func(seqno int64, ws []byte) bool) error {
	return e.scanLog(posPrefix, after, fn)
}

func (e *Engine) scanLog(prefix byte, after int64, fn func(seqno int64, ws []byte) bool) error {
	if e.closed.Load() {
		return ErrClosed
	}
	var lo [9]byte
	lo[0] = prefix
	binary.BigEndian.PutUint64(lo[1:], uint64(after+1))
	it, err := e.db.NewIter(&pebble.IterOptions{LowerBound: lo[:], UpperBound: []byte{prefix + 1}})
	if err != nil {
		return err
	}
	defer it.Close()
	for ok := it.First(); ok; ok = it.Next() {
		if len(it.Key()) != 9 || len(it.Value()) == 0 {
			continue
		}
		if !fn(int64(binary.BigEndian.Uint64(it.Key()[1:])), slices.Clone(it.Value())) {
			break
		}
	}
	return it.Error()
}

// Checkpoint makes everything written so far durable (a memtable flush, synced): the
// provisioning of a node is done before its faults begin, as a real cluster's data files are.
func (e *Engine) Checkpoint() error {
	if e.closed.Load() {
		return ErrClosed
	}
	return e.db.Flush()
}

// FileSystem returns the filesystem and directory the engine keeps its files in, for a
// protocol's own files beside the data (Galera's galera.cache): on an in-memory node they
// are on the same crash-testing filesystem, so Down's clone keeps or loses them by the same
// written-versus-synced rule as the engine's.
func (e *Engine) FileSystem() (vfs.FS, string) {
	if e.fs != nil {
		return e.fs, ""
	}
	return vfs.Default, e.opts.Dir
}

// Crashable reports whether the engine runs on the crash-testing filesystem (in memory),
// which the node faults need.
func (e *Engine) Crashable() bool { return e.fs != nil }

// WriteBinlog stores, synced, the binlog events a source wrote at its flush stage (seqno
// first, then one write-set after another), ahead of their engine commits: what crash
// recovery finds in the binlog and commits (RecoverBinlog). sync_binlog=1.
func (e *Engine) WriteBinlog(first int64, events [][]byte) error {
	if e.closed.Load() {
		return ErrClosed
	}
	b := e.db.NewBatch()
	defer b.Close()
	var k [9]byte
	k[0] = binlogPrefix
	for i, ev := range events {
		binary.BigEndian.PutUint64(k[1:], uint64(first+int64(i)))
		if err := b.Set(k[:], ev, nil); err != nil {
			return err
		}
	}
	wo := pebble.Sync
	if e.opts.logFlush() == LogFlushSecond {
		wo = pebble.NoSync // the WAL is off: the next once-a-second flush makes it durable
	}
	return b.Commit(wo)
}

// WrittenBinlog calls fn with every binlog event WriteBinlog stored after position after,
// in order, until fn returns false.
func (e *Engine) WrittenBinlog(after int64, fn func(seqno int64, ws []byte) bool) error {
	return e.scanLog(binlogPrefix, after, fn)
}
