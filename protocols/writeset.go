package protocols

// KeyType is a certification key's type, Galera's wsrep_key_type. The type decides, through
// the 4x4 matrix in package galera's certifier, whether two write-sets touching the same key
// conflict or merely depend on each other. Group Replication only has one kind of key
// (every unique-index value of a changed row), which it treats as KeyExclusive.
type KeyType uint8

// The four key types, in Galera's numbering (SHARED=0 .. EXCLUSIVE=3).
const (
	KeyShared    KeyType = 0 // read dependency: the row must exist (e.g. a table-level branch key)
	KeyReference KeyType = 1 // foreign-key parent row of a changed child row
	KeyUpdate    KeyType = 2 // row updated in a way compatible with references
	KeyExclusive KeyType = 3 // row inserted, deleted or updated
)

func (t KeyType) String() string {
	switch t {
	case KeyShared:
		return "shared"
	case KeyReference:
		return "reference"
	case KeyUpdate:
		return "update"
	case KeyExclusive:
		return "exclusive"
	}
	return "invalid"
}

// Key is one certification key: a table and a row's encoded primary key (or unique-index
// value, Index naming which), with a type. An empty Row is a table-level key. Keys compare
// by value; Hash gives the 64-bit digest real systems store (FLAT8 / XXHASH64), which the
// certifiers may use as the index key so that collisions behave as they do in production.
type Key struct {
	Table string
	Index string // "" or "PRIMARY" for the primary key; otherwise a unique index name
	Row   []byte
	Type  KeyType
}

// Op is what a row change does.
type Op uint8

// Row operations.
const (
	OpInsert Op = 1
	OpUpdate Op = 2
	OpDelete Op = 3
)

func (o Op) String() string {
	switch o {
	case OpInsert:
		return "insert"
	case OpUpdate:
		return "update"
	case OpDelete:
		return "delete"
	}
	return "invalid"
}

// RowChange is one row's after-image (row-based replication). Row is the storage engine's
// encoded primary key, After its encoded row (nil for a delete). Appliers write After as is:
// replication never re-executes statements.
type RowChange struct {
	Table string
	Op    Op
	Row   []byte
	After []byte
}

// Flags carry write-set properties that change how a protocol orders or applies it.
type Flags uint16

// Write-set flags.
const (
	FlagAutocommit Flags = 1 << iota // a single autocommit statement (wsrep_retry_autocommit applies)
	FlagTOI                          // total-order isolation (DDL): serial, conflicts with everything
	FlagPAUnsafe                     // must not be applied in parallel with anything
)

// WriteSet is what one transaction changed, as the provider ships it.
//
// The originator fills Source, TrxID, Keys, Rows and Flags; the provider fills Snapshot (the
// position the transaction executed against, Galera's last_seen / GR's snapshot_version taken
// at commit time, both real systems stamp it at commit) and, once ordered, Seqno and
// DependsSeqno. Positions are in the protocol's own total order, starting at 1; 0 means none.
type WriteSet struct {
	Source       string // originating node name
	TrxID        uint64 // originator-local transaction id
	Snapshot     int64  // last position committed on the originator when it replicated
	Seqno        int64  // position in the total order, set when ordered
	DependsSeqno int64  // the highest earlier position this write-set must wait for to apply in parallel
	Flags        Flags
	Keys         []Key
	Rows         []RowChange
}

// Size is an estimate of the encoded size in bytes, for flow control and statistics.
func (ws *WriteSet) Size() int {
	n := 48
	for _, k := range ws.Keys {
		n += len(k.Table) + len(k.Index) + len(k.Row) + 8
	}
	for _, r := range ws.Rows {
		n += len(r.Table) + len(r.Row) + len(r.After) + 8
	}
	return n
}
