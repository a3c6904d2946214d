// Package storage is the node-local database: a Pebble-backed engine with tables, primary
// and secondary indexes, auto-increment, row locks, repeatable-read snapshot reads, write-set
// extraction, and the applier side of the replication contract.
//
// Every protocol runs over this one engine, so a difference between two runs is a
// difference between the protocols, not between storage engines. Transactions execute
// optimistically and locally, as InnoDB does under Galera and Group Replication: writes take
// exclusive row locks and are buffered; reads see a snapshot taken at the first read; at
// COMMIT the write-set (typed certification keys plus row after-images) goes to the
// protocols.Replicator, and the engine commits in the order the protocol dictates.
//
// Remote write-sets come back through PrepareApply as brute-force appliers: an applier
// aborts a local lock holder that is not yet ordered before it (the victim gets 1213), and
// waits for one that is. A local transaction aborted after it had already been ordered is
// replayed from its write-set, as Galera replays.
package storage

// ColumnType is a column's type. The engine stores three: integers, floating-point numbers
// and strings; that is what the workloads' schemas need (money is kept in float64 the way
// DBT2's C driver does).
type ColumnType uint8

// Column types.
const (
	Int ColumnType = iota + 1
	Float
	String
)

// Column describes one column.
type Column struct {
	Name          string
	Type          ColumnType
	Size          int  // CHAR/VARCHAR length, informational
	AutoIncrement bool // at most one column, which must be the first primary-key column
	Nullable      bool
	// Decl is the type as a SQL client declared it ("varchar(120)", "decimal(12,2)"); the
	// engine stores only Type, the SQL layer reports Decl back (result metadata, SHOW CREATE
	// TABLE). Empty for tables created through the Go API.
	Decl string
	// Default is the value an INSERT that omits the column stores, when HasDefault is set
	// (the SQL layer applies it; the engine itself never fills columns in).
	Default    Value
	HasDefault bool
}

// Index is a secondary index over columns of the table (positions in Columns).
type Index struct {
	Name    string
	Columns []int
	Unique  bool
}

// TableSchema is a table's definition. A table must have a primary key: replication of
// a table without one is refused (PXC strict mode, Group Replication).
type TableSchema struct {
	Name       string
	Columns    []Column
	PrimaryKey []int // positions in Columns
	Indexes    []Index
}

// Value is one column value: int64, float64, string, or nil for NULL.
type Value = any

// Row is a table row, one Value per column in schema order.
type Row []Value
