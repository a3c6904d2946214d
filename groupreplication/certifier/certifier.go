// Package certifier is Group Replication's certifier: the deterministic function every
// member runs over the agreed order of transaction messages to decide which commit.
//
// The real certifier (plugin/group_replication/src/certifier.cc) keeps, per write-set key
// hash, the GTID set of the last writer's snapshot plus that writer's own GTID, and rejects a
// transaction when a stored set is not contained in the transaction's snapshot_version: the
// earlier writer had not committed where the transaction executed, so the first certified in
// the agreed order wins. Because every member certifies the same messages in the same order
// with the same state, they all reach the same verdict without talking to each other.
//
// This model numbers transaction messages by their position in the agreed order (1, 2, ...)
// and represents a GTID set by the position prefix it equals. That is exact here because
// every member commits in that order (replica_preserve_commit_order=ON for remote
// transactions, the commit monitor for local ones), so a member's gtid_executed is always
// "every positive transaction at positions <= LastCommitted". A stored entry is then the
// last writer's position w, and "not a subset of the snapshot S" becomes w > S. The GTIDs
// the client sees are still real group GTIDs, handed out in blocks (gtid.go).
//
// The certifier is a plain state machine: no goroutines, no clocks, no locks. The caller
// serialises calls, in delivery order.
package certifier

import (
	"encoding/binary"

	"github.com/cespare/xxhash/v2"

	"github.com/replbench/replbench/protocols"
)

// DefaultBlockSize is group_replication_gtid_assignment_block_size's default.
const DefaultBlockSize = 1_000_000

// Txn is one transaction message as certification sees it.
type Txn struct {
	Origin   int      // member index of the originator
	Snapshot int64    // snapshot_version: the originator's last committed position when it sent
	Keys     []uint64 // write-set key hashes (KeyHashes)
	// Barrier marks a write-set the parallel applier must run alone: DDL (TOI), a write-set
	// marked unsafe for parallel apply, or one without keys.
	Barrier bool
}

// Result is the certifier's verdict on one transaction, identical on every member.
type Result struct {
	Seqno    int64 // position in the agreed order of transaction messages
	Positive bool  // certified: it commits everywhere; negative: it rolls back everywhere (3101 on the originator)
	GNO      int64 // the GTID number assigned (positive only)
	// DependsSeqno is the position the transaction must wait for before it may be applied in
	// parallel: the latest earlier writer of any of its keys, floored at the last barrier
	// (the certifier's last_committed, in positions).
	DependsSeqno int64
}

// entry is what certification_info stores per key: the position of the last writer.
type entry struct {
	seqno int64
}

// Certifier is one member's certification state. Not safe for concurrent use.
type Certifier struct {
	info      map[uint64]entry // certification_info
	detection bool             // conflict_detection_enable
	gen       *gtidGenerator

	seqno          int64 // last position certified
	lastCommGlobal int64 // parallel_applier_last_committed_global, in positions

	// stable-set garbage collection
	executed   map[int]int64 // gtid_executed positions received in the current round, by member
	stable     int64         // last stable position
	stableGNOs Intervals     // GNOs of positive transactions at or below stable
	pending    []assigned    // positive transactions above stable, oldest first

	checked, conflicts int64
	lastConflictFree   int64 // GNO of the last positive transaction
	gcRuns             int64
}

type assigned struct{ seqno, gno int64 }

// New returns an empty certifier. detection is conflict_detection_enable: on in
// multi-primary mode, off in single-primary mode (only one member writes, so there is
// nothing to detect) except during a primary change.
func New(blockSize int64, detection bool) *Certifier {
	return &Certifier{
		info:      map[uint64]entry{},
		detection: detection,
		gen:       newGTIDGenerator(blockSize),
		executed:  map[int]int64{},
	}
}

// SetConflictDetection switches conflict detection, as the applier does on the NEW_PRIMARY
// (on) and QUEUE_APPLIED (off) packets of a single-primary primary change.
func (c *Certifier) SetConflictDetection(on bool) { c.detection = on }

// ConflictDetection reports whether conflict detection is on.
func (c *Certifier) ConflictDetection() bool { return c.detection }

// Certify decides one transaction. It must be called in delivery order on every member.
func (c *Certifier) Certify(t Txn) Result {
	c.seqno++
	c.checked++
	r := Result{Seqno: c.seqno}
	if c.detection {
		for _, k := range t.Keys {
			if e, ok := c.info[k]; ok && e.seqno > t.Snapshot {
				c.conflicts++
				r.DependsSeqno = c.seqno - 1
				return r
			}
		}
	}
	r.Positive = true
	r.GNO = c.gen.next(t.Origin)
	c.lastConflictFree = r.GNO
	c.pending = append(c.pending, assigned{c.seqno, r.GNO})
	lc := c.lastCommGlobal
	if t.Barrier || len(t.Keys) == 0 {
		lc = c.seqno - 1
		c.lastCommGlobal = c.seqno
	}
	for _, k := range t.Keys {
		if e, ok := c.info[k]; ok && e.seqno > lc {
			lc = e.seqno
		}
		c.info[k] = entry{seqno: c.seqno}
	}
	r.DependsSeqno = lc
	return r
}

// GTIDExecuted records one member's periodic gtid_executed broadcast (as a committed
// position). Once a message from every one of the online members has arrived, it computes
// the stable set (the intersection, here the minimum position), removes every
// certification_info entry that the stable set strictly contains, makes the next
// transaction a barrier for the parallel applier, and starts a new round. It returns true
// when that sweep ran.
func (c *Certifier) GTIDExecuted(member int, position int64, online int) bool {
	c.executed[member] = position
	if len(c.executed) < online {
		return false
	}
	stable := int64(-1)
	for _, p := range c.executed {
		if stable < 0 || p < stable {
			stable = p
		}
	}
	clear(c.executed)
	c.collect(stable)
	return true
}

// collect removes entries whose writer committed strictly inside the stable set.
func (c *Certifier) collect(stable int64) {
	if stable > c.stable {
		c.stable = stable
		i := 0
		for ; i < len(c.pending) && c.pending[i].seqno <= stable; i++ {
			c.stableGNOs.Add(c.pending[i].gno)
		}
		c.pending = append(c.pending[:0], c.pending[i:]...)
	}
	for k, e := range c.info {
		if e.seqno < stable {
			delete(c.info, k)
		}
	}
	c.lastCommGlobal = c.seqno
	c.gcRuns++
}

// Stats are the certifier's counters, as replication_group_member_stats shows them.
type Stats struct {
	Checked          int64  // COUNT_TRANSACTIONS_CHECKED
	Conflicts        int64  // COUNT_CONFLICTS_DETECTED
	RowsValidating   int64  // COUNT_TRANSACTIONS_ROWS_VALIDATING: entries in certification_info
	CommittedAll     string // TRANSACTIONS_COMMITTED_ALL_MEMBERS (GNO ranges of the stable set)
	LastConflictFree int64  // GNO of LAST_CONFLICT_FREE_TRANSACTION (0: none)
	Stable           int64  // the stable position of the last sweep
	GCRuns           int64  // sweeps so far
	Seqno            int64  // last position certified
}

// Stats returns the counters.
func (c *Certifier) Stats() Stats {
	return Stats{
		Checked:          c.checked,
		Conflicts:        c.conflicts,
		RowsValidating:   int64(len(c.info)),
		CommittedAll:     c.stableGNOs.String(),
		LastConflictFree: c.lastConflictFree,
		Stable:           c.stable,
		GCRuns:           c.gcRuns,
		Seqno:            c.seqno,
	}
}

// GTIDExecutedSet returns the GNO ranges every positive transaction so far was given:
// group_gtid_executed.
func (c *Certifier) GTIDExecutedSet() string { return c.gen.used.String() }

// KeyHash is the 64-bit digest of one write-set key, the model of GR's XXHASH64 over
// "index name, schema, table, key values" with their lengths. Keys of one table and index
// hash apart exactly when their encoded values differ (up to 64-bit collisions, which
// production shares).
func KeyHash(k protocols.Key) uint64 {
	idx := k.Index
	if idx == "" {
		idx = "PRIMARY"
	}
	var buf [256]byte
	b := buf[:0]
	b = append(b, idx...)
	b = binary.AppendUvarint(b, uint64(len(idx)))
	b = append(b, k.Table...)
	b = binary.AppendUvarint(b, uint64(len(k.Table)))
	b = append(b, k.Row...)
	b = binary.AppendUvarint(b, uint64(len(k.Row)))
	return xxhash.Sum64(b)
}

// KeyHashes returns the certification keys of a write-set. Group Replication has one kind
// of key: a value of a unique index of a changed row, plus the referenced parent key of a
// foreign key (which is why concurrent inserts of children of one parent conflict in
// multi-primary mode). Table-level keys (an empty Row), which only Galera uses, are skipped.
func KeyHashes(ws *protocols.WriteSet) []uint64 {
	out := make([]uint64, 0, len(ws.Keys))
	for _, k := range ws.Keys {
		if len(k.Row) == 0 {
			continue
		}
		out = append(out, KeyHash(k))
	}
	return out
}

// IsBarrier reports whether the parallel applier must apply ws alone.
func IsBarrier(ws *protocols.WriteSet) bool {
	return ws.Flags&(protocols.FlagTOI|protocols.FlagPAUnsafe) != 0
}
