// Package jepsen holds the checker workloads: transactions whose every operation is recorded
// in a history (harness/history) so that the history checkers (harness/checker) can judge
// what clients saw, as Jepsen's Elle and Knossos workloads do.
//
//   - list-append: transactions of appends and reads over a small, sliding key space (Elle's
//     list-append); a list's order reveals every version before it.
//   - rw-register: transactions of reads and blind writes of unique values (Elle's
//     rw-register); weaker inference, but the form most applications use.
//   - register: single-key reads, writes and compare-and-set, for linearizability (porcupine).
//   - bank: transfers between accounts and reads of every balance; the total must hold.
//
// Reads are what applications write: a plain SELECT under REPEATABLE READ (the snapshot),
// then an UPDATE of the value computed from it (option read=plain, the default for
// list-append and rw-register). That is the form that loses updates on one InnoDB node and
// across Galera nodes, so it is the one a checker must see; read=for-update makes the read
// a locking read (SELECT ... FOR UPDATE) and closes that hole. The trade-off: a list stored
// as one row (a comma-separated string) is read and rewritten whole on each append, which
// keeps the SQL ordinary and the lists short (keys rotate after writes-per-key appends).
package jepsen

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/replbench/replbench/harness/history"
	"github.com/replbench/replbench/protocols"
	"github.com/replbench/replbench/storage"
	"github.com/replbench/replbench/workloads"
)

// Workload names.
const (
	ListAppend = "list-append"
	RWRegister = "rw-register"
	Register   = "register"
	Bank       = "bank"
)

// Read forms. plain and for-update are what applications write; locking is the check of
// the storage's locking itself: every read, also in a transaction that writes nothing, is a
// locking read, so on one node every transaction holds each row it touched until it ends
// (strict two-phase locking) and the history must be serializable. Its cost is that
// readers block writers, which no application's read path accepts.
const (
	ReadPlain     = "plain"
	ReadForUpdate = "for-update"
	ReadLocking   = "locking"
)

const (
	listTable = "lists"     // k, v: "1,5,9"
	regTable  = "registers" // k, v
	bankTable = "accounts"  // k, balance
	listSize  = 1 << 16
)

func opts(read string) []workloads.Option {
	return []workloads.Option{
		{Name: "keys", Default: "8", Help: "keys in use at a time (Elle's key space: small, so transactions collide)"},
		{Name: "writes-per-key", Default: "32", Help: "list-append, rw-register: writes a key receives on average before the clients move to fresh keys"},
		{Name: "max-ops", Default: "4", Help: "list-append, rw-register: micro-operations per transaction, 1 to this"},
		{Name: "read", Default: read, Help: "plain: SELECT then UPDATE under REPEATABLE READ, as applications write it (loses updates where the protocol allows); for-update: SELECT ... FOR UPDATE before each write (no write is then overwritten; reads that write nothing stay consistent reads of the snapshot, so Elle still sees REPEATABLE READ's G-single, G2-item and internal anomalies, even on one node); locking: every read is SELECT ... FOR UPDATE (strict two-phase locking: one node must then be serializable, Elle finds nothing; readers block writers)", Choices: []string{ReadPlain, ReadForUpdate, ReadLocking}},
		{Name: "balance", Default: "100", Help: "bank: each account's initial balance"},
	}
}

func init() {
	for _, d := range []struct{ name, summary, read string }{
		{ListAppend, "Elle list-append: transactions of appends and reads over a few keys, every operation recorded for the dependency-graph checker", ReadPlain},
		{RWRegister, "Elle rw-register: transactions of reads and writes of unique values over a few keys, checked by the dependency-graph checker", ReadPlain},
		{Register, "single-key reads, writes and compare-and-set, checked for linearizability with porcupine", ReadForUpdate},
		{Bank, "transfers between accounts and reads of every balance; the total must hold on every read and every node", ReadForUpdate},
	} {
		name := d.name
		workloads.Register(workloads.Definition{
			Name: name, Summary: d.summary, Options: opts(d.read),
			New: workloads.Constructor(func(o map[string]string, env workloads.Env) (*Workload, error) { return New(name, o, env) }),
		})
	}
}

// Workload is one configured checker workload; it records every client's operations.
type Workload struct {
	name      string
	settings  map[string]string
	keys      int64
	perKey    int64
	maxOps    int64
	forUpdate bool // appends and writes read FOR UPDATE
	lockAll   bool // every read is FOR UPDATE (read=locking)
	balance   int64
	seed      int64

	rec  *history.Recorder
	next atomic.Int64 // unique values written (list-append, rw-register), by this copy
	// shard and shards place this copy among the workload's copies in node processes
	// (workloads.Env): its values are shard+1, shard+1+shards, ..., so that no two copies
	// write the same value; one copy (shards 1) numbers 1, 2, 3, ...
	shard, shards int64
}

// New configures the workload name (one of ListAppend, RWRegister, Register, Bank).
func New(name string, given map[string]string, env workloads.Env) (*Workload, error) {
	read := ReadPlain
	if name == Register || name == Bank {
		read = ReadForUpdate
	}
	o, err := workloads.ResolveOptions(name, opts(read), given)
	if err != nil {
		return nil, err
	}
	w := &Workload{
		name: name, settings: o.Settings(), seed: env.Seed,
		keys:    o.Int("keys", 1, 1024),
		perKey:  o.Int("writes-per-key", 1, 1000),
		maxOps:  o.Int("max-ops", 1, 16),
		balance: o.Int("balance", 1, 1<<40),
	}
	w.forUpdate = o.String("read") != ReadPlain
	w.lockAll = o.String("read") == ReadLocking
	if err := o.Err(); err != nil {
		return nil, err
	}
	w.shard, w.shards = int64(env.Shard), max(int64(env.Shards), 1)
	w.rec = history.NewRecorder(nil)
	return w, nil
}

// value is the next unique value this copy writes.
func (w *Workload) value() int64 { return (w.next.Add(1)-1)*w.shards + w.shard + 1 }

// Name implements workloads.Workload.
func (w *Workload) Name() string { return w.name }

// Settings implements workloads.Configured.
func (w *Workload) Settings() map[string]string { return w.settings }

// History implements workloads.Historian: every operation recorded so far.
func (w *Workload) History() []history.Op { return w.rec.History() }

// Checkers implements workloads.Historian: the checkers this workload's history is for.
func (w *Workload) Checkers() []string {
	switch w.name {
	case ListAppend:
		return []string{workloads.CheckLost, workloads.CheckListAppend}
	case RWRegister:
		return []string{workloads.CheckLost, workloads.CheckRWRegister}
	case Register:
		return []string{workloads.CheckLost, workloads.CheckLinearizable}
	}
	return []string{workloads.CheckBank}
}

// Accounts implements workloads.Banker: every account's key and the total of the balances.
func (w *Workload) Accounts() ([]string, int64) {
	if w.name != Bank {
		return nil, 0
	}
	ks := make([]string, w.keys)
	for i := range ks {
		ks[i] = strconv.Itoa(i)
	}
	return ks, w.keys * w.balance
}

// Tables implements workloads.Workload.
func (w *Workload) Tables() []storage.TableSchema {
	switch w.name {
	case ListAppend:
		return []storage.TableSchema{{Name: listTable, Columns: []storage.Column{{Name: "k", Type: storage.Int}, {Name: "v", Type: storage.String, Size: listSize}}, PrimaryKey: []int{0}}}
	case Bank:
		return []storage.TableSchema{{Name: bankTable, Columns: []storage.Column{{Name: "k", Type: storage.Int}, {Name: "balance", Type: storage.Int}}, PrimaryKey: []int{0}}}
	}
	return []storage.TableSchema{{Name: regTable, Columns: []storage.Column{{Name: "k", Type: storage.Int}, {Name: "v", Type: storage.Int}}, PrimaryKey: []int{0}}}
}

// Load implements workloads.Workload: bank accounts start at balance; lists and registers
// start absent (an append or write inserts the row).
func (w *Workload) Load(ctx context.Context, db workloads.DB, progress func(done, total int64)) error {
	if w.name != Bank {
		return nil
	}
	l := workloads.NewLoader(ctx, db, w.keys, progress)
	for k := int64(0); k < w.keys; k++ {
		if err := l.Insert(bankTable, storage.Row{k, w.balance}); err != nil {
			return err
		}
	}
	return l.Close()
}

// Check implements workloads.Workload: the checker workloads are judged by the history
// checkers, not by end-of-run conditions.
func (w *Workload) Check(ctx context.Context, dbs []workloads.DB) (map[string]bool, error) {
	return nil, nil
}

// State implements workloads.Historian: a node's final lists, registers or balances, read
// from db in one transaction.
func (w *Workload) State(ctx context.Context, db workloads.DB) (workloads.NodeState, error) {
	s := &nodeState{name: db.Node(), lists: map[string][]int64{}, regs: map[string]int64{}}
	tx := db.Begin()
	defer tx.Rollback()
	table := regTable
	switch w.name {
	case ListAppend:
		table = listTable
	case Bank:
		table = bankTable
	}
	var perr error
	err := tx.Scan(ctx, table, storage.ScanOptions{}, func(r storage.Row) bool {
		k := strconv.FormatInt(r[0].(int64), 10)
		if table == listTable {
			l, err := parseList(r[1])
			if err != nil {
				perr = err
				return false
			}
			s.lists[k] = l
		} else {
			s.regs[k] = r[1].(int64)
		}
		return true
	})
	if err == nil {
		err = perr
	}
	if err != nil {
		return nil, fmt.Errorf("%s: reading the final state of %s: %w", w.name, db.Node(), err)
	}
	return s, nil
}

type nodeState struct {
	name  string
	lists map[string][]int64
	regs  map[string]int64
}

func (s *nodeState) Node() string                         { return s.name }
func (s *nodeState) Elements(key string) ([]int64, error) { return s.lists[key], nil }
func (s *nodeState) Value(key string) (int64, bool, error) {
	v, ok := s.regs[key]
	return v, ok, nil
}

func parseList(v storage.Value) ([]int64, error) {
	str, _ := v.(string)
	if str == "" {
		return []int64{}, nil
	}
	parts := strings.Split(str, ",")
	out := make([]int64, len(parts))
	for i, p := range parts {
		n, err := strconv.ParseInt(p, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("list %q: element %q is not an integer", str, p)
		}
		out[i] = n
	}
	return out, nil
}

func formatList(l []int64) string {
	var b strings.Builder
	for i, v := range l {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.FormatInt(v, 10))
	}
	return b.String()
}

// NewClient implements workloads.Workload.
func (w *Workload) NewClient(id int, rng *rand.Rand) workloads.Client {
	return &client{w: w, rng: rng, rec: w.rec.Client(id)}
}

type client struct {
	w   *Workload
	rng *rand.Rand
	rec *history.Client
	// readOnly is set once the node refused a write as read-only (a Group Replication
	// secondary in single-primary mode, a semi-sync replica): from then on the client only
	// reads there, as the "read on every node, write where the protocol allows".
	readOnly bool
}

// key picks a key of the window the next unique value falls in: keys rotate so that each
// receives about writes-per-key writes, and lists stay short.
func (c *client) key() int64 {
	w := c.w
	window := w.next.Load() * w.shards / (w.keys * w.perKey) // every copy's values, about
	return window*w.keys + c.rng.Int64N(w.keys)
}

// Next implements workloads.Client. Every call is a new transaction with fresh values, also
// on retry: a retried append must not reuse a value whose first attempt is in doubt.
func (c *client) Next(ctx context.Context, db workloads.DB, retry bool) (string, error) {
	var mops []history.Mop
	var txType string
	switch c.w.name {
	case ListAppend, RWRegister:
		n := 1 + c.rng.Int64N(c.w.maxOps)
		writes := 0
		for range n {
			k := strconv.FormatInt(c.key(), 10)
			if c.readOnly || c.rng.IntN(2) == 0 {
				mops = append(mops, history.ReadMop(k))
				continue
			}
			writes++
			v := c.w.value()
			if c.w.name == ListAppend {
				mops = append(mops, history.AppendMop(k, v))
			} else {
				mops = append(mops, history.WriteMop(k, v))
			}
		}
		txType = "read"
		if writes > 0 {
			txType = "write"
		}
	case Register:
		k := strconv.FormatInt(c.rng.Int64N(c.w.keys), 10)
		op := c.rng.IntN(3)
		if c.readOnly {
			op = 0
		}
		switch op {
		case 0:
			mops, txType = []history.Mop{history.ReadMop(k)}, "read"
		case 1:
			mops, txType = []history.Mop{history.WriteMop(k, c.rng.Int64N(5))}, "write"
		default:
			mops, txType = []history.Mop{history.CASMop(k, c.rng.Int64N(5), c.rng.Int64N(5))}, "cas"
		}
	case Bank:
		if c.readOnly || c.rng.IntN(2) == 0 {
			for a := range c.w.keys {
				mops = append(mops, history.ReadMop(strconv.FormatInt(a, 10)))
			}
			txType = "read"
		} else {
			from := c.rng.Int64N(c.w.keys)
			to := (from + 1 + c.rng.Int64N(max(c.w.keys-1, 1))) % c.w.keys
			mops = []history.Mop{history.TransferMop(strconv.FormatInt(from, 10), strconv.FormatInt(to, 10), 1+c.rng.Int64N(5))}
			txType = "transfer"
		}
	}
	c.rec.Invoke(db.Node(), mops)
	tx := db.Begin()
	tx.SetAutocommit(len(mops) == 1 && c.w.name == Register)
	out, err := c.run(ctx, tx, mops)
	if err != nil {
		tx.Rollback()
		c.rec.Fail(err)
		if protocols.Classify(err) == protocols.CauseReadOnly {
			c.readOnly = true
		}
		if err == errCASMismatch || err == errFunds {
			// The statement ran and changed nothing (0 rows matched): the client is told,
			// nothing aborted. The history has it as failed: it did not take effect.
			return txType + "-refused", nil
		}
		return txType, err
	}
	if err := tx.Commit(ctx); err != nil {
		if workloads.InDoubt(err) {
			c.rec.Info(err)
		} else {
			c.rec.Fail(err)
		}
		return txType, err
	}
	var id history.Commit
	if g, seq, ok := workloads.CommitID(tx); ok {
		id.Seqno = seq
		if g.UUID != "" {
			id.GTID = g.String()
		}
	}
	c.rec.OK(out, id)
	return txType, nil
}

// errCASMismatch is a compare-and-set whose comparison failed: it did not happen.
var errCASMismatch = fmt.Errorf("compare-and-set: the register does not hold the expected value")

// errFunds is a transfer from an account without the funds: rolled back.
var errFunds = fmt.Errorf("transfer: insufficient funds")

func (c *client) read(ctx context.Context, tx workloads.Tx, table string, k int64, lock bool) (storage.Row, error) {
	if lock {
		return tx.GetForUpdate(ctx, table, k)
	}
	return tx.Get(ctx, table, k)
}

// put writes row, inserting it when the earlier read found nothing.
func put(ctx context.Context, tx workloads.Tx, table string, existed bool, row storage.Row) error {
	if existed {
		return tx.Update(ctx, table, row)
	}
	_, err := tx.Insert(ctx, table, row)
	return err
}

func (c *client) run(ctx context.Context, tx workloads.Tx, mops []history.Mop) ([]history.Mop, error) {
	out := make([]history.Mop, len(mops))
	copy(out, mops)
	for i, m := range mops {
		k, _ := strconv.ParseInt(m.Key, 10, 64)
		switch {
		case c.w.name == ListAppend:
			r, err := c.read(ctx, tx, listTable, k, c.w.lockAll || m.F == history.Append && c.w.forUpdate)
			if err != nil {
				return nil, err
			}
			var l []int64
			if r != nil {
				if l, err = parseList(r[1]); err != nil {
					return nil, err
				}
			}
			if m.F == history.Read {
				out[i] = history.ReadListMop(m.Key, l)
				continue
			}
			if err := put(ctx, tx, listTable, r != nil, storage.Row{k, formatList(append(l, m.Value))}); err != nil {
				return nil, err
			}
		case c.w.name == Bank && m.F == history.Transfer:
			to, _ := strconv.ParseInt(m.To, 10, 64)
			a, err := c.read(ctx, tx, bankTable, k, c.w.forUpdate)
			if err != nil {
				return nil, err
			}
			b, err := c.read(ctx, tx, bankTable, to, c.w.forUpdate)
			if err != nil {
				return nil, err
			}
			if a == nil || b == nil {
				return nil, fmt.Errorf("bank: account %d or %d is missing; was the table loaded?", k, to)
			}
			if a[1].(int64) < m.Value {
				return nil, errFunds
			}
			if err := tx.Update(ctx, bankTable, storage.Row{k, a[1].(int64) - m.Value}); err != nil {
				return nil, err
			}
			if err := tx.Update(ctx, bankTable, storage.Row{to, b[1].(int64) + m.Value}); err != nil {
				return nil, err
			}
		default: // registers and bank reads
			table := regTable
			if c.w.name == Bank {
				table = bankTable
			}
			lock := c.w.lockAll || m.F == history.CAS || (m.F == history.Write && c.w.forUpdate)
			r, err := c.read(ctx, tx, table, k, lock)
			if err != nil {
				return nil, err
			}
			switch m.F {
			case history.Read:
				if r == nil {
					out[i] = history.ReadNilMop(m.Key)
				} else {
					out[i] = history.ReadValueMop(m.Key, r[1].(int64))
				}
			case history.Write:
				if err := put(ctx, tx, table, r != nil, storage.Row{k, m.Value}); err != nil {
					return nil, err
				}
			case history.CAS:
				if r == nil || r[1].(int64) != m.From {
					return nil, errCASMismatch
				}
				if err := tx.Update(ctx, table, storage.Row{k, m.Value}); err != nil {
					return nil, err
				}
			}
		}
	}
	return out, nil
}
