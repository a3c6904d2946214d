package semisync

import (
	"context"
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
// applied, stores its write-set with its position in the same batch as the rows, so the
// binlog is as durable as the data (sync_binlog=1 with innodb_flush_log_at_trx_commit=1,
// and log_replica_updates=ON on a replica). A source that restarts, or a replica promoted
// to source, rebuilds its binlog from there and serves its replicas from their own
// positions. One departure: the real source fsyncs its binlog before the ack wait and its
// crash recovery commits what the binlog holds, while here a transaction a source had sent
// but not yet committed in its engine is lost with the crash; a replica that had it keeps
// it, and the old source gets it back when it rejoins as a replica of the promoted one.
// A replica further behind than a rebuilt binlog reaches (the engine held no binlog yet)
// is served from its start and shows as a divergence, where a real replica stops with
// error 1236.

// sourceOf is the source of the topology: Config.Source after a promotion, else Members[0].
func sourceOf(cfg protocols.Config) string {
	if cfg.Source != "" {
		return cfg.Source
	}
	return cfg.Members[0]
}

// newSourceFor builds the source machine: empty at a first start, continuing from
// cfg.Position when the node rejoins.
func newSourceFor(cfg protocols.Config, st *Settings) *Source {
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
	if cfg.Rejoin && cfg.Position > 0 {
		s.base, s.commitPos, s.syncedPos = cfg.Position, cfg.Position, cfg.Position
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
	if bs.WriteBinlog(p.saved+1, evs) == nil {
		p.saved = p.src.syncedPos
	}
}

// recoverSource is a restarted source's binlog crash recovery: every transaction its
// binlog holds beyond what its engine committed was prepared and is committed now (as
// InnoDB's recovery commits the XIDs the binlog has), so the source's data and binlog agree
// with what its replicas may already have received. It returns the recovered position.
func recoverSource(cfg protocols.Config) int64 {
	bs, ok := cfg.Applier.(binlogStore)
	if !ok {
		return cfg.Position
	}
	bs.KeepBinlog() // the recovered commits carry their write-sets like any other
	pos := cfg.Position
	_ = bs.WrittenBinlog(pos, func(seqno int64, b []byte) bool {
		if seqno != pos+1 {
			return false
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
