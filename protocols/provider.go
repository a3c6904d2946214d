package protocols

import (
	"context"
	"io"

	"github.com/replbench/replbench/protocols/servicetime"
	"github.com/replbench/replbench/protocols/transport"
)

// Gate is what storage asks a provider before running statements, the way MySQL asks the
// wsrep provider or the GR plugin whether this node may serve the transaction at all.
type Gate interface {
	// BeforeRead runs before a transaction's first statement. A Galera node outside the
	// primary component returns ErrNotReady (1047); with wsrep_sync_wait it also blocks for
	// a causal read (SyncWait).
	BeforeRead(ctx context.Context) error
	// BeforeWrite runs before a transaction's first write. A GR secondary or a semi-sync
	// replica returns ErrReadOnly (1290).
	BeforeWrite(ctx context.Context) error
}

// Replicator is the part of a provider that storage's commit path calls.
type Replicator interface {
	Gate
	// Replicate hands a local transaction's write-set to the protocol at COMMIT and returns
	// once its fate is decided on this node: ordered and certified (Galera, GR), written to
	// the binlog (semi-sync), or immediately (standalone). The provider sets ws.Snapshot,
	// ws.Seqno and ws.DependsSeqno.
	//
	// A failed certification returns *Error with CauseCertification. If ctx is cancelled
	// because an applier brute-force aborted the transaction, a provider that has not sent
	// the write-set yet returns ErrBFAbort; one that has sent it must still wait for it to be
	// ordered (the slot is taken) and then certify it as usual: the storage engine replays a
	// transaction that passes after being aborted.
	Replicate(ctx context.Context, ws *WriteSet) (Commit, error)
}

// Commit is a decided local transaction waiting to be committed in the protocol's order.
type Commit interface {
	// GTID is the transaction's global id as the protocol prints it.
	GTID() GTID
	// Seqno is the transaction's position in the total order (the storage engine uses it
	// to decide brute-force priority against appliers).
	Seqno() int64
	// Apply runs engineCommit, the storage engine's commit, at the point the protocol
	// requires (Galera and GR: in total order after every earlier position; semi-sync
	// AFTER_SYNC: after the replica ack), then does whatever the protocol does after the
	// engine commit (semi-sync AFTER_COMMIT waits for the ack here) and returns the error a
	// client would see. Apply must be called exactly once, also when the client gave up:
	// the protocol's order must not keep a hole.
	Apply(ctx context.Context, engineCommit func() error) error
}

// Applier is implemented by storage: what a provider calls to apply remote write-sets and to
// move whole states between nodes.
type Applier interface {
	// PrepareApply takes the row locks of a certified remote write-set (ws.Seqno is set) as a
	// brute-force applier: it aborts local transactions that hold those locks and are not
	// yet ordered before ws.Seqno, and waits for those that are. It may run in parallel with
	// other PrepareApply calls whose write-sets do not depend on each other.
	PrepareApply(ctx context.Context, ws *WriteSet) (Applied, error)
	// SetAutoIncrement sets auto_increment_increment and auto_increment_offset, which
	// Galera (cluster size, index+1) and GR multi-primary (7, server id) control.
	SetAutoIncrement(increment, offset int)
	// Checksums returns a checksum per table over its rows in primary-key order.
	Checksums() (map[string]uint64, error)
	// Snapshot writes the whole database; Restore replaces the database with one. Together
	// they are state transfer (Galera SST, GR clone) and the provisioning of loaded data.
	Snapshot(w io.Writer) error
	Restore(r io.Reader) error
}

// Applied is a remote write-set whose locks are held, ready to be committed.
type Applied interface {
	// Commit writes the rows and releases the locks. Providers call it in commit order.
	Commit() error
	// Abort releases the locks without writing (the write-set was skipped).
	Abort()
}

// Provider is one node's replication protocol instance.
type Provider interface {
	Replicator
	// Start joins the group and returns when this node can serve clients (Galera SYNCED,
	// GR ONLINE with a primary elected, semi-sync source connected to its replicas), or
	// when ctx ends.
	Start(ctx context.Context) error
	// Close leaves the group and stops every goroutine the provider started.
	Close() error
	// SyncWait blocks until this node has committed everything the group had ordered when
	// it was called (wsrep_sync_wait, GR's BEFORE consistency).
	SyncWait(ctx context.Context) error
	// LastCommitted is the last position of the total order this node has committed, in the
	// protocol's own numbering. When the group is quiet every member reports the same value.
	LastCommitted() int64
	// Status returns the protocol's own status variables, by their real names
	// (wsrep_local_cert_failures, Rpl_semi_sync_master_yes_tx, ...), in display order.
	Status() []StatusVar
}

// Halter is implemented by a provider whose replication can stop on an error while the
// node goes on serving reads: a replica whose I/O thread the source refused (1236) or
// whose applier failed, as SHOW REPLICA STATUS shows. Halted returns that error, "" while
// it replicates. The convergence check reports such a node as stopped, with the error,
// instead of waiting for it to catch up.
type Halter interface {
	Halted() string
}

// Leaver is implemented by a provider whose clean shutdown first leaves the group, as
// Group Replication's STOP GROUP_REPLICATION does: the others install a view without this
// node at once, where a killed node is noticed only after the protocol's failure timeouts.
// The harness calls Leave before Close for a clean stop of one node, never at teardown
// (Close alone is the process going away, which is what every other fault and the end of
// a run are). Leave returns when the group has agreed on the smaller view, or ctx's error
// (no majority to agree it); the shutdown goes on either way.
type Leaver interface {
	Leave(ctx context.Context) error
}

// AutocommitRetrier is implemented by a provider whose server re-runs an autocommit
// statement that failed certification before the client sees the error: Galera's
// wsrep_retry_autocommit (default 1). The re-run is invisible to the application except in
// the statement's latency, so the harness re-runs it without counting an abort.
type AutocommitRetrier interface {
	RetryAutocommit() int
}

// StatusVar is one status variable, as SHOW GLOBAL STATUS prints it.
type StatusVar struct {
	Name  string
	Value string
}

// Config is what a provider gets from the harness to start one node.
type Config struct {
	Node     string             // this node's name, n1..nN
	Members  []string           // every member's name in index order; Members[i] is index i
	Endpoint transport.Endpoint // this node's connection to the (emulated) network
	Applier  Applier            // this node's storage engine
	// Settings are this node's resolved protocol settings (Protocol.Resolve), of the
	// protocol's own type; New type-asserts them. They are the only parameters a provider
	// gets: it never parses a parameter string itself.
	Settings Settings
	Seed     int64 // for any randomised choice the protocol makes
	// Rejoin is set when the node restarts after a stop, kill or crash while the rest of
	// the group runs on: the provider starts from Position, the replication position its
	// engine recovered (Applier's committed rows carry it), and joins the running group
	// as the protocol does (Galera IST/SST, a replica reconnecting from its relay log
	// position). A provider that cannot rejoin refuses in New.
	Rejoin   bool
	Position int64
	// Source, if set, names the source of a source/replica protocol in place of
	// Members[0] (after a promotion).
	Source string
	// Cost is this node's share of the service-time model (its cost profile, host CPU and
	// log devices): the provider charges its commit-path stages to it. nil (profile "none")
	// charges nothing; every servicetime.Node method is nil-safe.
	Cost *servicetime.Node
}

// Index returns the position of this node in Members, or -1.
func (c Config) Index() int {
	for i, m := range c.Members {
		if m == c.Node {
			return i
		}
	}
	return -1
}
