package semisync

import (
	"bytes"
	"context"
	"encoding/binary"
	"slices"
	"time"

	"github.com/replbench/replbench/protocols"
)

// This file is what a restarted or promoted node needs (protocols.Config.Rejoin, Source).
//
// A replica restarts from the position its engine recovered, as relay_log_recovery=ON
// does: the relay log after the last applied transaction is discarded and the dump stream
// is requested again from there, so what a crash lost of the relay log is fetched again.
//
// Every node keeps its binlog in its storage engine (binlogStore): each commit, local or
// applied, stores its write-set with its position in the same batch as the rows
// (log_replica_updates=ON on a replica), and a source also stores each event at its sync
// stage, ahead of the engine commit: the engine's prepare record. A source writes its
// binlog besides to a file of its own on the node's crash-testing filesystem
// (driver_binlogfile.go), fsynced every sync_binlog-th group and written back by the OS,
// so the two logs survive a crash each by its own setting. A restarted source recovers by
// MySQL's XA rule (recoverSource): a prepared transaction commits if the binlog file holds
// it and rolls back if not; its binlog is then what the file kept, from after the last
// position the engine committed but the file lost. A replica promoted to source has no
// binlog file: it serves the binlog its engine kept. A replica further behind than a binlog reaches, or ahead of a binlog a
// crash truncated, is refused, and its I/O thread stops with error 1236.

// sourceOf is the source of the topology: Config.Source after a promotion, else Members[0].
func sourceOf(cfg protocols.Config) string {
	if cfg.Source != "" {
		return cfg.Source
	}
	return cfg.Members[0]
}

// newSourceFor builds the source machine: empty at a first start, continuing from
// cfg.Position when the node rejoins, with the binlog its binlog file kept (hadFile) or,
// for a replica promoted to source, the one its engine kept.
func newSourceFor(cfg protocols.Config, st *Settings, fileEvs []fileEvent, hadFile bool) *Source {
	src := sourceOf(cfg)
	var replicas []string
	for _, m := range cfg.Members {
		if m != src {
			replicas = append(replicas, m)
		}
	}
	sc := st.SourceConfig(slices.Clip(replicas))
	sc.Stages = newStageClock(cfg.Cost, st) // driver_cost.go
	s := NewSource(sc)
	if cfg.Rejoin && hadFile {
		binlogFromFile(s, fileEvs, cfg.Position, time.Now().UnixNano())
	} else if cfg.Rejoin && cfg.Position > 0 {
		s.resume(cfg.Position)
		if bs, ok := cfg.Applier.(binlogStore); ok {
			rebuildBinlog(s, bs, cfg.Position, time.Now().UnixNano())
		}
	}
	return s
}

// binlogStore is the storage engine's kept binlog: the write-sets committed with their
// positions (KeepBinlog, Binlog) and, on a source, the binlog as written at the flush stage
// ahead of the engine commit (WriteBinlog, WrittenBinlog).
type binlogStore interface {
	KeepBinlog()
	Binlog(after int64, fn func(seqno int64, ws []byte) bool) error
	WriteBinlog(first int64, events [][]byte) error
	WrittenBinlog(after int64, fn func(seqno int64, ws []byte) bool) error
}

// persistBinlogLocked stores the binlog events synced since the last call, before they
// leave for the replicas (sync_binlog=1), so a restarted source finds them.
func (p *Provider) persistBinlogLocked() {
	bs, ok := p.cfg.Applier.(binlogStore)
	if !ok || p.src.syncedPos <= p.saved {
		return
	}
	var evs [][]byte
	for pos := p.saved + 1; pos <= p.src.syncedPos; pos++ {
		evs = append(evs, p.src.binlog[pos-1-p.src.base].ws)
	}
	if bs.WriteBinlog(p.saved+1, evs) != nil {
		return
	}
	if p.blog != nil {
		// The binlog file, written (and fsynced as sync_binlog says) after the engine's
		// prepare, before the events leave; a failed write leaves the events unsent
		// until it succeeds.
		if p.blog.append(time.Now(), p.saved+1, evs) != nil {
			return
		}
	}
	p.saved = p.src.syncedPos
}

// rewriteBinlog starts a restarted source's new binlog file with the whole binlog the
// recovery settled on, synced, and purges the older files, so the next restart reads one
// consistent log whatever this one had to repair.
func (p *Provider) rewriteBinlog() error {
	if p.blog == nil {
		return nil
	}
	origin := binary.BigEndian.AppendUint64(nil, uint64(p.src.base+1))
	now := time.Now()
	if err := p.blog.append(now, 0, [][]byte{origin}); err != nil {
		return err
	}
	evs := make([][]byte, len(p.src.binlog))
	for i, e := range p.src.binlog {
		evs[i] = e.ws
	}
	if err := p.blog.append(now, p.src.base+1, evs); err != nil {
		return err
	}
	p.blog.counter = 0 // the restart's own fsync, not a group's
	if err := p.blog.sync(); err != nil {
		return err
	}
	p.blog.purgeOthers()
	return nil
}

// recoverSource is a restarted source's crash recovery, by MySQL's rule that the binlog
// is the source of truth for the transactions the engine holds prepared (XA recovery): a
// transaction prepared in the engine (the flush-stage record WriteBinlog stored) that
// the binlog file also holds, with the same event, is committed now; the first one the
// binlog lacks is rolled back, and so is everything prepared after it. Without a binlog
// file (a replica promoted to source, or an engine without a crash-testing filesystem)
// the engine's own prepared records stand for the binlog (sync_binlog=1 with the engine's
// durability). It returns the recovered position.
func recoverSource(cfg protocols.Config, fileEvs []fileEvent, hadFile bool) int64 {
	bs, ok := cfg.Applier.(binlogStore)
	if !ok {
		return cfg.Position
	}
	bs.KeepBinlog() // the recovered commits carry their write-sets like any other
	inBinlog := map[int64][]byte{}
	for _, e := range fileEvs {
		inBinlog[e.seqno] = e.ws // a later file's record of a position supersedes an earlier one
	}
	pos := cfg.Position
	_ = bs.WrittenBinlog(pos, func(seqno int64, b []byte) bool {
		if seqno != pos+1 {
			return false
		}
		if hadFile && !bytes.Equal(inBinlog[seqno], b) {
			return false // prepared, not in the binlog: rolled back
		}
		ws, _, err := protocols.DecodeWriteSet(b)
		if err != nil {
			return false
		}
		ws.Seqno = seqno
		a, err := cfg.Applier.PrepareApply(context.Background(), ws)
		if err != nil {
			return false
		}
		if a.Commit() != nil {
			return false
		}
		pos = seqno
		return true
	})
	return pos
}

// binlogFromFile is a restarted source's binlog from its binlog file: what the file kept,
// in order, through the recovered position pos and on past it while the file has the next
// position. Events past pos are transactions whose prepare the engine lost
// (innodb_flush_log_at_trx_commit 0 or 2) while the binlog kept them: MySQL's recovery
// leaves them in the binlog (and in gtid_executed) without their rows, so the source goes
// on writing after them, replicas that received them keep them, and the source's own data
// lacks them (the lost-acknowledged check finds them missing there). A position at or
// before pos whose event the file lost (the engine committed it, the binlog did not
// survive: sync_binlog other than 1 and a crash) is a hole: the binlog starts after the
// last one, as if the positions before it were purged, so a replica that lacks one is
// refused with 1236 rather than served past it. (Transactions recoverSource committed
// are in the file by its rule.)
func binlogFromFile(s *Source, fileEvs []fileEvent, pos int64, now int64) {
	ev := map[int64][]byte{}
	first := int64(0)
	for _, e := range fileEvs {
		if e.seqno == 0 && len(e.ws) == 8 {
			// The origin record: the binlog covers positions from there, even those whose
			// events the crash took.
			if o := int64(binary.BigEndian.Uint64(e.ws)); o > 0 && (first == 0 || o < first) {
				first = o
			}
			continue
		}
		ev[e.seqno] = e.ws
		if first == 0 || e.seqno < first {
			first = e.seqno
		}
	}
	end := pos
	for ev[end+1] != nil {
		end++
	}
	if first == 0 || first > pos+1 {
		first = pos + 1
	}
	for p := pos; p >= first; p-- {
		if ev[p] == nil {
			first = p + 1
			break
		}
	}
	s.resume(end)
	var out []binlogEvent
	for p := first; p <= end; p++ {
		out = append(out, binlogEvent{ws: ev[p], ts: now})
	}
	s.binlog, s.base = out, first-1
}

// rebuildBinlog fills a rejoining source's binlog from its engine: the contiguous run of
// kept write-sets that ends at the engine's position (after recoverSource).
func rebuildBinlog(s *Source, store binlogStore, pos int64, now int64) {
	var evs []binlogEvent
	first := int64(0)
	_ = store.Binlog(0, func(seqno int64, ws []byte) bool {
		if seqno > pos {
			return false
		}
		if first == 0 || seqno != first+int64(len(evs)) {
			first, evs = seqno, evs[:0] // a hole: keep only the run after it
		}
		evs = append(evs, binlogEvent{ws: ws, ts: now})
		return true
	})
	if len(evs) == 0 || first+int64(len(evs))-1 != pos {
		return
	}
	s.binlog, s.base = evs, first-1
}
