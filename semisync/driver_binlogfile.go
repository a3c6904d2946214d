package semisync

// This file is the source's binary log as a file of its own on the node's crash-testing
// filesystem (storage.Engine.LogFS), beside the engine's Pebble log, so that sync_binlog
// and innodb_flush_log_at_trx_commit decide separately what a crash keeps: with
// sync_binlog=1 every group's events are fsynced before they leave for the replicas; with
// 0 they are only written (a kill keeps them, a power loss drops what was not synced by
// a later fsync). A restart reads every binlog file, in order, and starts a new one, as
// a restarted server opens a new binlog file. A record is seqno (8 bytes), length (4) and
// the encoded write-set; a torn or short record ends the log.

import (
	"encoding/binary"
	"fmt"
	"io"
	"path"
	"slices"
	"strings"

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
	sync bool // sync_binlog=1
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
func openBinlog(applier any, syncBinlog bool) (b *binlogFile, evs []fileEvent, had bool, err error) {
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
	return &binlogFile{fs: fs, f: f, sync: syncBinlog, name: fmt.Sprintf("binlog.%06d", last+1)}, evs, had, nil
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

// append writes events first, first+1, ... and, with sync_binlog=1, fsyncs them.
func (b *binlogFile) append(first int64, evs [][]byte) error {
	var buf []byte
	for i, ev := range evs {
		buf = binary.BigEndian.AppendUint64(buf, uint64(first+int64(i)))
		buf = binary.BigEndian.AppendUint32(buf, uint32(len(ev)))
		buf = append(buf, ev...)
	}
	if _, err := b.f.Write(buf); err != nil {
		return err
	}
	if b.sync {
		return b.f.Sync()
	}
	return nil
}

func (b *binlogFile) close() {
	if b != nil {
		_ = b.f.Close()
	}
}
