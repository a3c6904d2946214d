// Package gen generates histories for the checkers' tests and benchmarks: simulated clients
// run random transactions against an in-memory store in virtual time. By default the store
// executes each transaction atomically at one instant inside its invocation interval, so
// every generated history is strict serializable (and each single-key register history
// linearizable), and a checker that flags one is wrong. Weak modes read from a snapshot
// taken at invocation, optionally lagging, to produce the anomalies of a database that
// certifies writes only (lost updates, read skew) or reads a lagging replica (stale reads).
package gen

import (
	"container/heap"
	"fmt"
	"math/rand/v2"
	"slices"

	"github.com/replbench/replbench/harness/history"
)

// Workload is the kind of transactions generated.
type Workload int

const (
	ListAppend Workload = iota // append k v, r k
	RWRegister                 // w k v, r k
	Register                   // one r, w or cas per operation
)

// Config shapes a generated history.
type Config struct {
	Workload Workload
	Seed     uint64
	Clients  int     // concurrent processes (default 5)
	Ops      int     // operations in total (default 100)
	Keys     int     // key space (default 5)
	MaxMops  int     // micro-operations per transaction, 1..MaxMops (default 4)
	Serial   bool    // one operation at a time
	PFail    float64 // probability an operation is rolled back and reported as failed
	PInfo    float64 // probability the client loses the outcome (the op still happens half the time)
	// Snapshot makes transactions read from the state as of their invocation minus Lag
	// (plus their own writes), while writes apply at execution without any conflict check.
	Snapshot bool
	Lag      int64 // ns
	// FirstCommitterWins, with Snapshot, aborts a transaction that writes a key someone else
	// wrote after its snapshot: snapshot isolation, which allows write skew (G2-item) and
	// nothing stronger.
	FirstCommitterWins bool
}

func (c Config) withDefaults() Config {
	if c.Clients <= 0 {
		c.Clients = 5
	}
	if c.Ops <= 0 {
		c.Ops = 100
	}
	if c.Keys <= 0 {
		c.Keys = 5
	}
	if c.MaxMops <= 0 {
		c.MaxMops = 4
	}
	if c.Serial {
		c.Clients = 1
	}
	return c
}

// Store is the final state of the simulated database: lists for list-append, values for
// registers.
type Store struct {
	Lists map[string][]int64
	Regs  map[string]int64
}

type stamp struct {
	t int64
	n int   // list length after the write
	v int64 // register value after the write
}

type store struct {
	lists map[string][]int64
	log   map[string][]stamp // per key, every write's time and resulting state
}

func (s *store) at(k string, t int64) (stamp, bool) {
	l := s.log[k]
	i, _ := slices.BinarySearchFunc(l, t, func(x stamp, t int64) int {
		if x.t <= t {
			return -1
		}
		return 1
	})
	if i == 0 {
		return stamp{}, false
	}
	return l[i-1], true
}

type client struct {
	p      int
	mops   []history.Mop
	invoke int64
	exec   int64
	done   int64
	out    history.Outcome
	apply  bool
}

type event struct {
	t    int64
	exec bool
	c    *client
	seq  int
}

type queue []event

func (q queue) Len() int { return len(q) }
func (q queue) Less(i, j int) bool {
	if q[i].t != q[j].t {
		return q[i].t < q[j].t
	}
	return q[i].seq < q[j].seq
}
func (q queue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *queue) Push(x any)   { *q = append(*q, x.(event)) }
func (q *queue) Pop() any {
	old := *q
	x := old[len(old)-1]
	*q = old[:len(old)-1]
	return x
}

// Generate runs the simulation and returns the history (valid per history.Validate) and
// the store's final state.
func Generate(cfg Config) ([]history.Op, Store) {
	cfg = cfg.withDefaults()
	rng := rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15))
	st := &store{lists: map[string][]int64{}, log: map[string][]stamp{}}
	next := map[string]int64{}
	var h []history.Op
	var q queue
	seq := 0
	push := func(e event) { e.seq = seq; seq++; heap.Push(&q, e) }
	started := 0
	start := func(c *client, t int64) {
		if started >= cfg.Ops {
			return
		}
		started++
		c.mops = newTxn(cfg, rng, next)
		c.invoke = t
		c.exec = t + 1 + rng.Int64N(1000)
		c.done = c.exec + 1 + rng.Int64N(1000)
		c.out, c.apply = history.OK, true
		switch r := rng.Float64(); {
		case r < cfg.PFail:
			c.out, c.apply = history.Fail, false
		case r < cfg.PFail+cfg.PInfo:
			c.out, c.apply = history.Info, rng.IntN(2) == 0
		}
		push(event{t: c.exec, exec: true, c: c})
	}
	for p := range cfg.Clients {
		start(&client{p: p}, int64(p))
	}
	for q.Len() > 0 {
		e := heap.Pop(&q).(event)
		c := e.c
		if e.exec {
			execute(cfg, st, c)
			push(event{t: c.done, c: c})
			continue
		}
		o := history.Op{Process: c.p, Node: fmt.Sprintf("n%d", 1+c.p%3), Outcome: c.out,
			Invoke: c.invoke, Complete: c.done, Mops: c.mops}
		if c.out != history.OK {
			for i := range o.Mops {
				if o.Mops[i].F == history.Read {
					o.Mops[i] = history.ReadMop(o.Mops[i].Key)
				}
			}
			if c.out == history.Fail {
				o.Error = "rolled back"
			} else {
				o.Error = "timeout"
			}
		} else {
			o.Seqno = int64(len(h) + 1)
		}
		h = append(h, o)
		start(c, c.done+rng.Int64N(500))
	}
	history.Order(h)
	final := Store{Lists: map[string][]int64{}, Regs: map[string]int64{}}
	for k, l := range st.lists {
		final.Lists[k] = slices.Clone(l)
	}
	for k, l := range st.log {
		if cfg.Workload != ListAppend && len(l) > 0 {
			final.Regs[k] = l[len(l)-1].v
		}
	}
	return h, final
}

func newTxn(cfg Config, rng *rand.Rand, next map[string]int64) []history.Mop {
	key := func() string { return fmt.Sprintf("k%d", rng.IntN(cfg.Keys)) }
	val := func(k string) int64 { next[k]++; return next[k] }
	if cfg.Workload == Register {
		k := key()
		switch rng.IntN(3) {
		case 0:
			return []history.Mop{history.ReadMop(k)}
		case 1:
			return []history.Mop{history.WriteMop(k, val(k))}
		}
		from := next[k] // most often the latest value issued, which may well be current
		if rng.IntN(3) == 0 {
			from = rng.Int64N(max(next[k], 1)) + 1
		}
		return []history.Mop{history.CASMop(k, from, val(k))}
	}
	n := 1 + rng.IntN(cfg.MaxMops)
	mops := make([]history.Mop, n)
	for i := range mops {
		k := key()
		switch {
		case rng.IntN(2) == 0:
			mops[i] = history.ReadMop(k)
		case cfg.Workload == ListAppend:
			mops[i] = history.AppendMop(k, val(k))
		default:
			mops[i] = history.WriteMop(k, val(k))
		}
	}
	return mops
}

// execute runs c's transaction at c.exec. In the default mode it reads and writes the
// current state, atomically; in Snapshot mode its reads see the state as of its invocation
// minus the lag, overlaid with its own writes.
func execute(cfg Config, st *store, c *client) {
	if cfg.Snapshot && cfg.FirstCommitterWins && c.apply {
		for _, m := range c.mops {
			if m.IsWrite() {
				if l := st.log[m.Key]; len(l) > 0 && l[len(l)-1].t > c.invoke-cfg.Lag {
					c.out, c.apply = history.Fail, false // a concurrent writer committed first
					break
				}
			}
		}
	}
	own := map[string][]int64{} // Snapshot mode: own appends / last own write per key
	for i := range c.mops {
		m := &c.mops[i]
		switch m.F {
		case history.Read:
			if !cfg.Snapshot {
				if cfg.Workload == ListAppend {
					*m = history.ReadListMop(m.Key, slices.Clone(st.lists[m.Key]))
				} else if s, ok := st.at(m.Key, c.exec); ok {
					*m = history.ReadValueMop(m.Key, s.v)
				} else {
					*m = history.ReadNilMop(m.Key)
				}
				continue
			}
			snap, ok := st.at(m.Key, c.invoke-cfg.Lag)
			if cfg.Workload == ListAppend {
				l := slices.Clone(st.lists[m.Key][:snap.n])
				*m = history.ReadListMop(m.Key, append(l, own[m.Key]...))
			} else if w := own[m.Key]; len(w) > 0 {
				*m = history.ReadValueMop(m.Key, w[len(w)-1])
			} else if ok {
				*m = history.ReadValueMop(m.Key, snap.v)
			} else {
				*m = history.ReadNilMop(m.Key)
			}
		case history.Append:
			own[m.Key] = append(own[m.Key], m.Value)
			if c.apply {
				st.lists[m.Key] = append(st.lists[m.Key], m.Value)
				st.log[m.Key] = append(st.log[m.Key], stamp{t: c.exec, n: len(st.lists[m.Key])})
			}
		case history.Write:
			own[m.Key] = append(own[m.Key], m.Value)
			if c.apply {
				st.log[m.Key] = append(st.log[m.Key], stamp{t: c.exec, v: m.Value})
			}
		case history.CAS:
			cur, ok := st.at(m.Key, c.exec)
			if !ok || cur.v != m.From {
				if c.out == history.OK {
					c.out = history.Fail // the comparison failed: the cas did not happen
				}
				continue
			}
			if c.apply {
				st.log[m.Key] = append(st.log[m.Key], stamp{t: c.exec, v: m.Value})
			}
		}
	}
}
