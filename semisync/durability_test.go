package semisync

import (
	"context"
	"encoding/binary"
	"fmt"
	"testing"
	"time"

	"github.com/replbench/replbench/protocols"
	"github.com/replbench/replbench/storage"
)

// kvInsert is a write-set inserting row id into kv at binlog position pos.
func kvInsert(t *testing.T, id, pos int64) *protocols.WriteSet {
	t.Helper()
	pk, err := storage.EncodeKey(id)
	if err != nil {
		t.Fatal(err)
	}
	after, err := storage.EncodeRow(storage.Row{id, fmt.Sprintf("row-%d", id)})
	if err != nil {
		t.Fatal(err)
	}
	return &protocols.WriteSet{Source: "n1", Seqno: pos, Flags: protocols.FlagAutocommit,
		Keys: []protocols.Key{{Table: "kv", Row: pk, Type: protocols.KeyExclusive}},
		Rows: []protocols.RowChange{{Table: "kv", Op: protocols.OpInsert, Row: pk, After: after}}}
}

// Issue 16: the binlog has a durability of its own (sync_binlog) beside the engine's
// (innodb_flush_log_at_trx_commit), and a restarted source recovers by MySQL's XA rule:
// a transaction prepared in the engine commits if the binlog holds it and rolls back if
// not. The source here writes positions 1-3 through the whole pipeline (engine prepare,
// binlog file, engine commit) and position 4 up to the binlog only, then goes down.
func TestSourceRecoveryFollowsTheBinlog(t *testing.T) {
	for _, tc := range []struct {
		name       string
		flush      storage.LogFlush
		syncBinlog bool
		halt       storage.Halt
		wantPos    int64 // recovered position
		wantRows   int   // rows the source's engine holds after recovery
		wantBase   int64 // the binlog serves positions after this one
		wantEnd    int64 // and up to this one (where the source writes on from)
	}{
		// Both synced: 1-3 were committed, 4 is in the binlog and commits at recovery.
		{"sync_binlog=1/flush=1/crash", storage.LogFlushCommit, true, storage.HaltCrash, 4, 4, 0, 4},
		// sync_binlog=0: the crash drops the unsynced binlog. The engine keeps its synced
		// commits 1-3, which the binlog lost: a hole, so the binlog serves nothing before
		// 4 (a replica lacking any of 1-3 stops with 1236); 4, prepared but not in the
		// binlog, rolls back.
		{"sync_binlog=0/flush=1/crash", storage.LogFlushCommit, false, storage.HaltCrash, 3, 3, 3, 3},
		// A kill keeps what was written to the file: the same as synced.
		{"sync_binlog=0/flush=1/kill", storage.LogFlushCommit, false, storage.HaltKill, 4, 4, 0, 4},
		// innodb_flush_log_at_trx_commit=0: the engine lost every commit and prepare since
		// its last once-a-second flush; the binlog kept them, but nothing is prepared, so
		// nothing commits. The binlog keeps them (MySQL's gtid_executed does) and the
		// source writes on after them: replicas that received them keep them, the source
		// is the one that lost their rows.
		{"sync_binlog=1/flush=0/crash", storage.LogFlushSecond, true, storage.HaltCrash, 0, 0, 0, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db, err := storage.Open(storage.Options{Node: "n1", LogFlush: tc.flush, Sync: tc.flush == storage.LogFlushCommit})
			if err != nil {
				t.Fatal(err)
			}
			if err := db.CreateTable(kvSchema); err != nil {
				t.Fatal(err)
			}
			if err := db.Checkpoint(); err != nil {
				t.Fatal(err)
			}
			db.KeepBinlog()
			period := 0
			if tc.syncBinlog {
				period = 1
			}
			blog, _, had, err := openBinlog(db, period, osWriteback{}) // no OS writeback: the crash keeps only what was synced
			if err != nil || blog == nil || had {
				t.Fatalf("openBinlog: %v, %v, had=%v", blog, err, had)
			}
			// As the driver starts a fresh binlog (rewriteBinlog): the origin, synced.
			if err := blog.append(time.Time{}, 0, [][]byte{binary.BigEndian.AppendUint64(nil, 1)}); err != nil {
				t.Fatal(err)
			}
			if err := blog.sync(); err != nil {
				t.Fatal(err)
			}
			for pos := int64(1); pos <= 4; pos++ {
				ws := kvInsert(t, pos, pos)
				enc := protocols.EncodeWriteSet(ws)
				if err := db.WriteBinlog(pos, [][]byte{enc}); err != nil { // the engine's prepare
					t.Fatal(err)
				}
				if err := blog.append(time.Time{}, pos, [][]byte{enc}); err != nil {
					t.Fatal(err)
				}
				if pos == 4 {
					break // down between the binlog and the engine commit
				}
				a, err := db.PrepareApply(context.Background(), ws)
				if err != nil {
					t.Fatal(err)
				}
				if err := a.Commit(); err != nil {
					t.Fatal(err)
				}
			}
			img, err := db.Down(tc.halt, 1)
			if err != nil {
				t.Fatal(err)
			}
			blog.close()
			_ = db.Release()
			db2, err := storage.Reopen(storage.Options{Node: "n1", LogFlush: tc.flush, Sync: tc.flush == storage.LogFlushCommit}, img)
			if err != nil {
				t.Fatal(err)
			}
			defer db2.Close()
			blog2, evs, had, err := openBinlog(db2, period, osWriteback{})
			if err != nil || !had {
				t.Fatalf("reopened binlog: %v, had=%v", err, had)
			}
			defer blog2.close()
			cfg := protocols.Config{Node: "n1", Members: []string{"n1", "n2"}, Applier: db2, Position: db2.Position(), Rejoin: true}
			pos := recoverSource(cfg, evs, had)
			if pos != tc.wantPos {
				t.Errorf("recovered position %d, want %d (engine had %d, binlog file %d events)", pos, tc.wantPos, cfg.Position, len(evs))
			}
			rows := 0
			tx := db2.BeginLocal()
			for id := int64(1); id <= 4; id++ {
				if r, err := tx.Get(context.Background(), "kv", id); err == nil && r != nil {
					rows++
				}
			}
			tx.Rollback()
			if rows != tc.wantRows {
				t.Errorf("the source holds %d rows, want %d", rows, tc.wantRows)
			}
			cfg.Position = pos
			s := newSourceFor(cfg, DefaultSettings(true), evs, had)
			for i, e := range s.binlog {
				ws, _, err := protocols.DecodeWriteSet(e.ws)
				if err != nil || len(ws.Rows) == 0 {
					t.Fatalf("binlog event at %d: %v, %d rows: every event served carries its rows", s.base+1+int64(i), err, len(ws.Rows))
				}
			}
			if s.base != tc.wantBase || s.base+int64(len(s.binlog)) != tc.wantEnd || s.commitPos != tc.wantEnd {
				t.Errorf("binlog serves positions %d..%d and writes on after %d, want %d..%d", s.base+1, s.base+int64(len(s.binlog)), s.commitPos, tc.wantBase+1, tc.wantEnd)
			}
		})
	}
}

// sync_binlog=N and the OS's writeback decide what of the binlog file a power loss keeps.
// One group (one event) is written per second from t=1s to t=40s and the machine crashes
// at a known time; the flusher wakes every 5 s (vm.dirty_writeback_centisecs=500) and
// writes back a file dirty for 30 s (vm.dirty_expire_centisecs=3000), the Linux defaults.
func TestBinlogSyncPeriodAndWriteback(t *testing.T) {
	t0 := time.Unix(1000, 0)
	linux := osWriteback{Origin: t0, Expire: 30 * time.Second, Every: 5 * time.Second}
	for _, tc := range []struct {
		name    string
		period  int
		os      osWriteback
		crashAt int   // seconds: groups 1..crashAt were written
		want    int64 // the last event the crash kept
	}{
		// Every group fsynced: nothing written is lost.
		{"sync_binlog=1", 1, linux, 23, 23},
		// Every 4th group: groups 1-20 were synced by the 20th group's fsync; 21-23 not.
		{"sync_binlog=4", 4, linux, 23, 20},
		{"sync_binlog=4/at a sync", 4, linux, 24, 24},
		// Never fsynced, before the first writeback: the file first went dirty at 1 s
		// and expires at 31 s, so a crash at 30 s loses everything.
		{"sync_binlog=0/before writeback", 0, linux, 30, 0},
		// At 35 s the flusher's wake-up (the first at or after 31 s) has written the whole
		// file back, groups 1-35; the file goes dirty again at 36 s, expiring at 66 s.
		{"sync_binlog=0/after writeback", 0, linux, 40, 35},
		// No periodic writeback (vm.dirty_writeback_centisecs=0): every unsynced byte is lost.
		{"sync_binlog=0/no writeback", 0, osWriteback{Origin: t0, Expire: 30 * time.Second}, 40, 0},
		// sync_binlog=4: the 36th group's fsync covers 1-36; 37-39 are dirty for less than 30 s.
		{"sync_binlog=4/three groups after a sync", 4, linux, 39, 36},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db, err := storage.Open(storage.Options{Node: "n1", LogFlush: storage.LogFlushCommit, Sync: true})
			if err != nil {
				t.Fatal(err)
			}
			blog, _, _, err := openBinlog(db, tc.period, tc.os)
			if err != nil || blog == nil {
				t.Fatalf("openBinlog: %v", err)
			}
			for sec := 1; sec <= tc.crashAt; sec++ {
				now := t0.Add(time.Duration(sec) * time.Second)
				if err := blog.append(now, int64(sec), [][]byte{protocols.EncodeWriteSet(kvInsert(t, int64(sec), int64(sec)))}); err != nil {
					t.Fatal(err)
				}
				blog.writeback(now) // the driver calls it on every tick
			}
			img, err := db.Down(storage.HaltCrash, 1)
			if err != nil {
				t.Fatal(err)
			}
			blog.close()
			_ = db.Release()
			db2, err := storage.Reopen(storage.Options{Node: "n1", LogFlush: storage.LogFlushCommit, Sync: true}, img)
			if err != nil {
				t.Fatal(err)
			}
			defer db2.Close()
			blog2, evs, _, err := openBinlog(db2, tc.period, tc.os)
			if err != nil {
				t.Fatal(err)
			}
			defer blog2.close()
			last := int64(0)
			for i, e := range evs {
				if e.seqno != int64(i)+1 {
					t.Fatalf("record %d has position %d: the file kept a hole", i, e.seqno)
				}
				last = e.seqno
			}
			if last != tc.want {
				t.Errorf("crash at %ds kept the binlog up to %d, want %d", tc.crashAt, last, tc.want)
			}
		})
	}
}
