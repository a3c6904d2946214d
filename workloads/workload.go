// Package workloads holds the transaction mixes the harness replays: the sysbench OLTP
// family, DBT2/TPC-C, Callaghan's hotspots and the 100%-insert load of mysqlslap.
//
// A workload only uses the transaction API of DB and Tx (reads, range scans, inserts,
// updates, deletes); it never knows which protocol, or which database, runs underneath.
// That is what makes a result comparable across protocols: the same statements, the same
// keys, the same seed.
package workloads

import (
	"context"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/replbench/replbench/harness/history"
	"github.com/replbench/replbench/internal/registry"
	"github.com/replbench/replbench/storage"
)

// Option documents one workload option (--table-size, --warehouses, ...).
type Option struct {
	Name    string
	Default string
	Help    string
	Choices []string
}

// Env is what a workload learns about the run it is part of.
type Env struct {
	Nodes   int      // cluster size
	Writers []string // nodes that run write clients
	Threads int      // clients in this point
	Seed    int64
	// Shard and Shards say that this workload object is one of Shards copies, each
	// serving the clients of one node process (replbench node), this one copy Shard
	// (0-based). Values a workload numbers itself for its clients (list-append's appended
	// values) must then be unique over every copy, not only within this one. Zero Shards
	// is one copy serving every client, as in one process.
	Shard, Shards int
}

// Workload is one configured workload, written against DB: the harness hands it each node
// as a DB, and so will any other back end (see DB).
type Workload interface {
	// Name is the workload's registered name.
	Name() string
	// Tables is the schema, created on every node before Load.
	Tables() []storage.TableSchema
	// Load fills the tables on one node, deterministically from the seed. The harness copies
	// the loaded state to the other nodes (a snapshot, as a real cluster is provisioned).
	// progress, if not nil, is called now and then with rows done and rows in total.
	Load(ctx context.Context, db DB, progress func(done, total int64)) error
	// NewClient returns client number id (0-based, over all writer nodes) with its own
	// random stream. A client is used by one goroutine.
	NewClient(id int, rng *rand.Rand) Client
	// Check runs the end-of-run consistency conditions (TPC-C's, a counter sum, ...) on the
	// given nodes, after replication has quiesced; each named check passes or fails.
	Check(ctx context.Context, dbs []DB) (map[string]bool, error)
}

// Client runs transactions of a workload.
type Client interface {
	// Next runs one transaction on db and returns its type ("insert", "new_order", ...) for
	// per-type latency, and the error the transaction ended with (nil if it committed). The
	// harness retries a Retryable error by calling Next again with retry set, which asks the
	// client to re-run the same transaction with the same parameters.
	Next(ctx context.Context, db DB, retry bool) (txType string, err error)
}

// Metricser is implemented by workloads that report their own headline figures, such as
// TPC-C's tpmC (NOTPM) and tpmTotal. The harness calls it once per point with the committed
// transactions per type and the measured elapsed time, and stores the result in the point's
// metrics. Optional: a workload without headline figures does not implement it.
type Metricser interface {
	Metrics(committedByType map[string]int64, elapsed time.Duration) map[string]float64
}

// Configured is implemented by workloads that can say which option values they run with,
// defaults included (sysbench's --rand-type, TPC-C's --scale), so that a result records the
// configuration that produced it and not only what the user typed.
type Configured interface {
	Settings() map[string]string
}

// Definition describes a registered workload.
type Definition struct {
	Name    string
	Summary string
	Options []Option
	New     func(opts map[string]string, env Env) (Workload, error)
}

// definitions is the table Register fills and Lookup reads.
var definitions = registry.New[Definition]("workloads", "workload")

// Register adds a workload definition; packages call it from init. A duplicate name
// panics.
func Register(d Definition) { definitions.Add(d.Name, nil, &d) }

// Lookup finds a workload by name; the error lists the accepted names.
func Lookup(name string) (*Definition, error) { return definitions.Lookup(name) }

// Names returns the registered workload names, sorted.
func Names() []string { return definitions.Names() }

// Constructor makes a package's New, which returns its concrete type (so that the
// package's tests reach the workload's own counters), the Definition.New the harness calls:
// a failed New gives a nil Workload, never a non-nil interface holding a nil pointer.
func Constructor[W Workload](newW func(opts map[string]string, env Env) (W, error)) func(opts map[string]string, env Env) (Workload, error) {
	return func(opts map[string]string, env Env) (Workload, error) {
		w, err := newW(opts, env)
		if err != nil {
			return nil, err
		}
		return w, nil
	}
}

// Tally counts a workload's acknowledged commits and its commits in doubt (see InDoubt),
// which is what an end-of-run check needs to compare the rows on each node with the work
// done: the count must lie between the two, never equal one exact number, because a
// commit whose answer was lost may or may not have happened. The zero value is ready;
// its methods are safe for concurrent clients.
type Tally struct {
	committed atomic.Int64
	inDoubt   atomic.Int64
}

// End finishes a transaction whose statements returned err: a statement error rolls tx
// back and is returned as is; otherwise tx commits and the outcome is counted (committed,
// or in doubt when the commit error leaves the outcome unknown).
func (t *Tally) End(ctx context.Context, tx Tx, err error) error {
	if err != nil {
		tx.Rollback()
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		if InDoubt(err) {
			t.inDoubt.Add(1)
		}
		return err
	}
	t.committed.Add(1)
	return nil
}

// Committed is the number of acknowledged commits.
func (t *Tally) Committed() int64 { return t.committed.Load() }

// Explains reports whether n, a count of effects found on a node after replication has
// quiesced, is what the tally allows: at least every acknowledged commit, at most those
// plus every commit in doubt.
func (t *Tally) Explains(n int64) bool {
	want := t.committed.Load()
	return n >= want && n <= want+t.inDoubt.Load()
}

// Counts are the tally's counters by name ("committed", "in_doubt"), for a Tallier.
func (t *Tally) Counts() map[string]int64 {
	return map[string]int64{"committed": t.committed.Load(), "in_doubt": t.inDoubt.Load()}
}

// SetCounts replaces the counters with c (the names of Counts), for a Tallier.
func (t *Tally) SetCounts(c map[string]int64) {
	t.committed.Store(c["committed"])
	t.inDoubt.Store(c["in_doubt"])
}

// Tallier is implemented by workloads whose end-of-run Check compares the data with
// counters their clients kept (a Tally, a row delta). When the clients run in several
// processes (replbench node), each process's workload counts its own clients' work: the
// harness sums every process's Tallies by name and sets the sum on each before Check, so
// that each node's data is judged against the whole cluster's work. Every counter must
// therefore add across processes (counts, deltas), never be a maximum or a ratio.
type Tallier interface {
	// Tallies are the counters by name.
	Tallies() map[string]int64
	// SetTallies replaces them (a map from Tallies, possibly summed over processes).
	SetTallies(map[string]int64)
}

// Historian is implemented by the checker workloads (workloads/jepsen): they record every
// client operation in a history, and the harness runs the named history checkers on it at
// the end of a point, reading each node's final data through State on the node's engine
// directly (not through the protocol's gate, so a node that refuses clients is still
// checked).
type Historian interface {
	// History is every operation recorded so far.
	History() []history.Op
	// Checkers names the checkers to run: CheckLost, CheckListAppend, ...
	Checkers() []string
	// State reads one node's final data.
	State(ctx context.Context, db DB) (NodeState, error)
}

// NodeState is a node's final data as the checkers read it (the method set of
// harness/checker.NodeState, which a workload cannot import).
type NodeState interface {
	Node() string
	Elements(key string) ([]int64, error)
	Value(key string) (int64, bool, error)
}

// Banker is implemented by the bank workload: every account's key and the total of the
// initial balances, for the bank checker.
type Banker interface {
	Accounts() (keys []string, total int64)
}

// Names of the history checkers a Historian asks for (harness/checker's stable names).
const (
	CheckLost         = "lost-acknowledged"
	CheckListAppend   = "elle-list-append"
	CheckRWRegister   = "elle-rw-register"
	CheckLinearizable = "linearizable"
	CheckBank         = "bank"
)
