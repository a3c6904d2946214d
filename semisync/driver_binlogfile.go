package semisync

// This file is the source's binary log as a file of its own on the node's crash-testing
// filesystem (storage.Engine.LogFS), beside the engine's Pebble log, so that sync_binlog
// and innodb_flush_log_at_trx_commit decide separately what a crash keeps: with
// sync_binlog=1 every group's events are fsynced before they leave for the replicas; with
// N every N-th group's fsync makes it and the groups before it durable; with 0 they are
// only written. A kill keeps every written byte (the OS has them); a power loss keeps
// what was fsynced or what the OS wrote back: the kernel's flusher wakes every
// vm.dirty_writeback_centisecs and writes back a file whose dirty data is older than
// vm.dirty_expire_centisecs, the whole file (Linux expires a dirty inode by the time it
// first became dirty and then writes all its pages), which the model does with an fsync
// of its own at that wake-up (writeback). A restart reads every binlog file, in order, and starts a new one, as
// a restarted server opens a new binlog file. A record is seqno (8 bytes), length (4) and
// the encoded write-set; a torn or short record ends the log.

import (
	"encoding/binary"
	"fmt"
	"io"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
)

const binlogDir = "semisync-binlog"

// logFS is what the storage engine offers for the binary log file (storage.Engine.LogFS).
type logFS interface{ LogFS() vfs.FS }

// binlogFile is the open binlog file of a source.
type binlogFile struct {
	fs   vfs.FS
	f    vfs.File
	name string
	os   osWriteback

	period  int // sync_binlog: fsync after every period-th group; 0: never
	counter int // groups written since the last fsync (MySQL's sync_counter)
	dirty   time.Time
}

// osWriteback is the OS's writeback of unsynced bytes: its flusher wakes every Every
// from Origin and writes back data dirty for at least Expire. Every=0: never.
type osWriteback struct {
	Origin        time.Time
	Expire, Every time.Duration
}

// due reports whether a file dirty since dirty has been written back by now: at the
// first flusher wake-up at or after dirty+Expire.
func (w osWriteback) due(dirty, now time.Time) bool {
	if dirty.IsZero() || w.Every <= 0 {
		return false
	}
	expired := dirty.Add(w.Expire)
	if now.Before(expired) {
		return false
	}
	// The last wake-up at or before now.
	wake := w.Origin.Add(now.Sub(w.Origin) / w.Every * w.Every)
	return !wake.Before(expired)
}

// A record with seqno 0 is a file's origin: its payload is the first position the binlog
// covers (8 bytes), written and synced when the file is started, so that a crash that
// loses every event still tells recovery where the binlog began.

// fileEvent is one binlog record read back.
type fileEvent struct {
	seqno int64
	ws    []byte
}

// openBinlog reads the binlog files on fs (every record that survived, in order) and
// opens a new file for what comes next; had reports whether any binlog file existed (a
// node that was a replica until it was promoted has none: its binlog is what its engine
// kept). It returns nil for an applier without a crash-testing filesystem (an on-disk
// engine, a test's fake), where the binlog is what the engine keeps.
func openBinlog(applier any, period int, os osWriteback) (b *binlogFile, evs []fileEvent, had bool, err error) {
	lf, ok := applier.(logFS)
	if !ok || lf.LogFS() == nil {
		return nil, nil, false, nil
	}
	fs := lf.LogFS()
	if err := fs.MkdirAll(binlogDir, 0o755); err != nil {
		return nil, nil, false, err
	}
	syncDir(fs, "") // the directory itself survives a crash
	names, err := fs.List(binlogDir)
	if err != nil {
		return nil, nil, false, err
	}
	slices.Sort(names)
	last := 0
	for _, n := range names {
		var num int
		if _, err := fmt.Sscanf(n, "binlog.%06d", &num); err != nil || !strings.HasPrefix(n, "binlog.") {
			continue
		}
		last = max(last, num)
		had = true
		evs = append(evs, readBinlogFile(fs, path.Join(binlogDir, n))...)
	}
	f, err := fs.Create(path.Join(binlogDir, fmt.Sprintf("binlog.%06d", last+1)), vfs.WriteCategoryUnspecified)
	if err != nil {
		return nil, nil, false, err
	}
	// The new file's name is durable at once (a directory fsync), as a server's binlog
	// index is; its contents follow sync_binlog.
	syncDir(fs, binlogDir)
	return &binlogFile{fs: fs, f: f, period: period, os: os, name: fmt.Sprintf("binlog.%06d", last+1)}, evs, had, nil
}

// dropBinlog removes the binlog files of a node that starts as a replica: what it had
// as a source is superseded by the new source's history, and its own binlog is what its
// engine keeps (log_replica_updates).
func dropBinlog(applier any) {
	if lf, ok := applier.(logFS); ok && lf.LogFS() != nil {
		_ = lf.LogFS().RemoveAll(binlogDir)
	}
}

// purgeOthers removes every binlog file but the open one (after a restart has written the
// whole recovered binlog into it, synced), as PURGE BINARY LOGS would.
func (b *binlogFile) purgeOthers() {
	names, err := b.fs.List(binlogDir)
	if err != nil {
		return
	}
	for _, n := range names {
		if n != b.name {
			_ = b.fs.Remove(path.Join(binlogDir, n))
		}
	}
	syncDir(b.fs, binlogDir)
}

// syncDir fsyncs a directory, so the names in it survive a crash.
func syncDir(fs vfs.FS, dir string) {
	if d, err := fs.OpenDir(dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
}

// readBinlogFile returns the whole records of one file.
func readBinlogFile(fs vfs.FS, name string) []fileEvent {
	f, err := fs.Open(name)
	if err != nil {
		return nil
	}
	defer f.Close()
	data, err := io.ReadAll(f)
	if err != nil {
		return nil
	}
	var out []fileEvent
	for len(data) >= 12 {
		seq := int64(binary.BigEndian.Uint64(data))
		n := int(binary.BigEndian.Uint32(data[8:]))
		if len(data) < 12+n {
			break // torn by the crash
		}
		out = append(out, fileEvent{seqno: seq, ws: slices.Clone(data[12 : 12+n])})
		data = data[12+n:]
	}
	return out
}

// append writes one binlog group, events first, first+1, ..., at now, and fsyncs the
// file if it is the sync_binlog-th group since the last fsync.
func (b *binlogFile) append(now time.Time, first int64, evs [][]byte) error {
	var buf []byte
	for i, ev := range evs {
		buf = binary.BigEndian.AppendUint64(buf, uint64(first+int64(i)))
		buf = binary.BigEndian.AppendUint32(buf, uint32(len(ev)))
		buf = append(buf, ev...)
	}
	if _, err := b.f.Write(buf); err != nil {
		return err
	}
	if b.period > 0 {
		if b.counter++; b.counter >= b.period {
			b.counter = 0
			return b.sync()
		}
	}
	if b.dirty.IsZero() {
		b.dirty = now
	}
	return nil
}

// sync fsyncs the file: everything written so far survives a crash.
func (b *binlogFile) sync() error {
	if err := b.f.Sync(); err != nil {
		return err
	}
	b.dirty = time.Time{}
	return nil
}

// writeback is the OS's flusher at now: a file dirty for vm.dirty_expire_centisecs is
// written back at the flusher's wake-up (osWriteback.due). It leaves sync_binlog's count
// alone: that is the server's own.
func (b *binlogFile) writeback(now time.Time) {
	if b != nil && b.os.due(b.dirty, now) {
		_ = b.sync()
	}
}

func (b *binlogFile) close() {
	if b != nil {
		_ = b.f.Close()
	}
}
