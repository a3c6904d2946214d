package elle

import (
	"fmt"

	"github.com/replbench/replbench/harness/checker"
	"github.com/replbench/replbench/harness/history"
)

// RegisterOptions bound a rw-register check.
type RegisterOptions struct {
	Options
	// WFR assumes writes follow reads within a transaction: a committed transaction that read
	// k = v1 and then wrote k = v2 installed v2 after v1. Every engine that commits a
	// transaction's writes after its reads (locking, MVCC, certification) satisfies it; it is
	// what gives registers a version order beyond "the initial state comes first", and
	// without it only rw and wr edges from reads are known. Default true: set NoWFR to drop it.
	NoWFR bool
}

// CheckRWRegister checks a rw-register history: transactions of `w k v` and `r k`, where
// every value is written to a key at most once. The version order of each key is inferred
// from the initial state (nil precedes every written value), from each transaction's own
// successive writes, and, unless NoWFR, from writes following reads.
func CheckRWRegister(h []history.Op, opts RegisterOptions) (checker.Verdict, error) {
	r, err := newRegister(h, opts)
	if err != nil {
		return checker.Verdict{Checker: checker.RWRegisterName}, err
	}
	r.infer()
	v := r.verdict()
	if opts.NoWFR {
		v.Note = joinNote(v.Note, "version order from the initial state only (writes-follow-reads not assumed)")
	}
	return v, nil
}

func joinNote(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}

// nilVersion stands for the initial state of a key in version graphs.
const nilVersion = int64(-1 << 63)

type regRead struct {
	op  int
	k   int32
	v   int64 // nilVersion for a read of the initial state
	wfr bool  // the transaction wrote the key after this read
}

type register struct {
	*analysis
	noWFR  bool
	writer map[kv]writeRef
	reads  []regRead
	// next[k][v] are the versions known to follow v directly; from[k] lists the v with
	// successors in the order they were first seen, so edges are built deterministically.
	next []map[int64][]int64
	from [][]int64
	// installed[k] are the values written to k by operations that did not fail, in history
	// order: the versions that may exist.
	installed [][]int64
}

func newRegister(h []history.Op, opts RegisterOptions) (*register, error) {
	r := &register{analysis: newAnalysis(checker.RWRegisterName, h, opts.Options), noWFR: opts.NoWFR, writer: map[kv]writeRef{}}
	r.explain = r.why
	for i := range h {
		o := &h[i]
		last := map[int32]int{}
		for j, m := range o.Mops {
			switch m.F {
			case history.Write:
				if m.Value == nilVersion {
					return nil, fmt.Errorf("elle: op %d writes %d to %s, a value reserved for the initial state", i, m.Value, m.Key)
				}
				last[r.key(m.Key)] = j
			case history.Read:
				if o.Outcome == history.OK && m.Result != history.ValueResult && m.Result != history.Nil {
					return nil, fmt.Errorf("elle: op %d reads %s but its result is not a register value or nil", i, m.Key)
				}
				r.key(m.Key)
			default:
				return nil, fmt.Errorf("elle: op %d has %s, which rw-register does not use (accepted: w, r)", i, m.F)
			}
		}
		for j, m := range o.Mops {
			if m.F != history.Write {
				continue
			}
			id := kv{r.key(m.Key), m.Value}
			if prev, dup := r.writer[id]; dup {
				return nil, fmt.Errorf("elle: value %d written to %s by op %d and again by op %d; rw-register needs unique values per key", m.Value, m.Key, prev.op, i)
			}
			r.writer[id] = writeRef{op: i, final: last[id.k] == j}
		}
	}
	r.installed = make([][]int64, len(r.keys))
	for i := range h {
		if h[i].Outcome == history.Fail {
			continue
		}
		for _, m := range h[i].Mops {
			if m.F == history.Write {
				k := r.keyID[m.Key]
				r.installed[k] = append(r.installed[k], m.Value)
			}
		}
	}
	r.from = make([][]int64, len(r.keys))
	r.next = make([]map[int64][]int64, len(r.keys))
	for k := range r.next {
		r.next[k] = map[int64][]int64{}
	}
	return r, nil
}

func (r *register) infer() {
	h := r.h
	ok := 0
	for i := range h {
		o := &h[i]
		hasWrite := false
		for _, m := range o.Mops {
			hasWrite = hasWrite || m.F == history.Write
		}
		if o.Outcome == history.OK || o.Outcome == history.Info && hasWrite {
			r.g.add(i)
		}
		if o.Outcome != history.OK {
			r.chainOwnWrites(i)
			continue
		}
		ok++
		r.scan(i)
	}
	r.checked["ok"] = ok
	r.versionGraph()
	r.edges()
	r.lostUpdates()
	if !r.opts.NoRealtime {
		r.staleReads()
	}
}

// chainOwnWrites orders a transaction's successive writes to a key (its intermediate
// versions precede its final one) for operations whose reads are unknown.
func (r *register) chainOwnWrites(i int) {
	prev := map[int32]int64{}
	for _, m := range r.h[i].Mops {
		if m.F != history.Write {
			continue
		}
		k := r.keyID[m.Key]
		if p, ok := prev[k]; ok {
			r.follows(k, p, m.Value)
		}
		prev[k] = m.Value
	}
}

// scan reads a committed transaction: its external reads, internal consistency, its own
// chain of writes, and writes-follow-reads.
func (r *register) scan(i int) {
	type state struct {
		val      int64
		known    bool
		wrote    bool
		extRead  int // index into r.reads, -1 if none
		extValue int64
	}
	st := map[int32]*state{}
	for _, m := range r.h[i].Mops {
		k := r.keyID[m.Key]
		s := st[k]
		if s == nil {
			s = &state{extRead: -1}
			st[k] = s
		}
		if m.F == history.Write {
			if s.wrote {
				r.follows(k, s.val, m.Value)
			} else if s.known && !r.noWFR {
				r.follows(k, s.extValue, m.Value)
				r.reads[s.extRead].wfr = true
			} else if s.extRead >= 0 {
				r.reads[s.extRead].wfr = true
			}
			s.val, s.known, s.wrote = m.Value, true, true
			continue
		}
		got := nilVersion
		if m.Result == history.ValueResult {
			got = m.Value
		}
		if s.known {
			if got != s.val {
				r.flag("internal", fmt.Sprintf("%s read %s = %s after it %s %s, within its own transaction",
					opName(i), m.Key, showVal(got), map[bool]string{true: "wrote", false: "read"}[s.wrote], showVal(s.val)), i)
			}
			continue
		}
		s.val, s.known, s.extValue, s.extRead = got, true, got, len(r.reads)
		r.reads = append(r.reads, regRead{op: i, k: k, v: got})
	}
}

func showVal(v int64) string {
	if v == nilVersion {
		return "nil"
	}
	return fmt.Sprint(v)
}

// follows records that version b of key k directly follows version a.
func (r *register) follows(k int32, a, b int64) {
	succ, seen := r.next[k][a]
	for _, x := range succ {
		if x == b {
			return
		}
	}
	if !seen {
		r.from[k] = append(r.from[k], a)
	}
	r.next[k][a] = append(succ, b)
}

// versionGraph roots every version nothing else is known to precede at the initial state,
// and reports a key whose known version order has a cycle.
func (r *register) versionGraph() {
	for k := range r.next {
		hasPred := map[int64]bool{}
		for _, bs := range r.next[k] {
			for _, b := range bs {
				hasPred[b] = true
			}
		}
		for _, v := range r.installed[k] {
			if !hasPred[v] {
				r.follows(int32(k), nilVersion, v)
			}
		}
		if c := versionCycle(r.next[k], r.from[k]); c != nil {
			var ops []int
			for _, v := range c {
				if w, ok := r.writer[kv{int32(k), v}]; ok {
					ops = append(ops, w.op)
				}
			}
			r.flag("cyclic-versions", fmt.Sprintf("the inferred version order of %s has a cycle: %v", r.keys[k], c), ops...)
		}
	}
}

// versionCycle returns the versions of one cycle in next, or nil; roots are the versions
// with successors, in a fixed order.
func versionCycle(next map[int64][]int64, roots []int64) []int64 {
	const (
		white = iota
		grey
		black
	)
	color := map[int64]int{}
	var path []int64
	var found []int64
	var dfs func(v int64) bool
	dfs = func(v int64) bool {
		color[v] = grey
		path = append(path, v)
		for _, w := range next[v] {
			switch color[w] {
			case grey:
				for i := range path {
					if path[i] == w {
						found = append([]int64(nil), path[i:]...)
					}
				}
				return true
			case white:
				if dfs(w) {
					return true
				}
			}
		}
		path = path[:len(path)-1]
		color[v] = black
		return false
	}
	for _, v := range roots {
		if color[v] == white && dfs(v) {
			return found
		}
	}
	return nil
}

func (r *register) writerNode(k int32, v int64) int32 {
	w, ok := r.writer[kv{k, v}]
	if !ok {
		return -1
	}
	if n, ok := r.g.node[w.op]; ok {
		return n
	}
	return -1
}

// edges: ww between writers of successive versions, wr from a version's writer to its
// readers, rw from a version's readers to the writers of the versions following it. Reads
// are also checked for garbage, aborted (G1a) and intermediate (G1b) values.
func (r *register) edges() {
	for k := range r.next {
		for _, a := range r.from[k] {
			wa := r.writerNode(int32(k), a)
			for _, b := range r.next[k][a] {
				if wb := r.writerNode(int32(k), b); wa >= 0 && wb >= 0 {
					r.g.link(wa, wb, WW, int32(k))
				}
			}
		}
	}
	for _, rd := range r.reads {
		t := r.g.node[rd.op]
		key := r.keys[rd.k]
		if rd.v != nilVersion {
			w, ok := r.writer[kv{rd.k, rd.v}]
			switch {
			case !ok:
				r.flag("garbage-read", fmt.Sprintf("%s read %s = %d, which no operation wrote", opName(rd.op), key, rd.v), rd.op)
				continue
			case r.h[w.op].Outcome == history.Fail:
				r.flag("G1a", fmt.Sprintf("%s read %s = %d, written by op %d, which failed (aborted read)", opName(rd.op), key, rd.v, w.op), rd.op, w.op)
				continue
			case !w.final:
				// An intermediate version is no version of Adya's graph: report the read,
				// derive no edges from it.
				r.flag("G1b", fmt.Sprintf("%s read %s = %d, which op %d wrote and then overwrote in the same transaction (intermediate read)", opName(rd.op), key, rd.v, w.op), rd.op, w.op)
				continue
			}
			if wn := r.writerNode(rd.k, rd.v); wn >= 0 {
				r.g.link(wn, t, WR, rd.k)
			}
		}
		for _, b := range r.next[rd.k][rd.v] {
			if wb := r.writerNode(rd.k, b); wb >= 0 {
				r.g.link(t, wb, RW, rd.k)
			}
		}
	}
}

// lostUpdates reports P4: committed transactions that read the same version of a key and
// then wrote it.
func (r *register) lostUpdates() {
	type ver struct {
		k int32
		v int64
	}
	groups := map[ver][]int{}
	var order []ver
	for _, rd := range r.reads {
		if !rd.wfr {
			continue
		}
		v := ver{rd.k, rd.v}
		if len(groups[v]) == 0 {
			order = append(order, v)
		}
		groups[v] = append(groups[v], rd.op)
	}
	for _, v := range order {
		if ops := groups[v]; len(ops) > 1 {
			r.flag("lost-update", fmt.Sprintf("%d committed transactions read %s = %s and then wrote it; each should have seen the other's write",
				len(ops), r.keys[v.k], showVal(v.v)), ops...)
		}
	}
}

// staleReads reports reads that missed a version written by a transaction acknowledged
// before the read began, where that version is known to follow the one read.
func (r *register) staleReads() {
	for _, rd := range r.reads {
		for _, b := range r.next[rd.k][rd.v] {
			w, ok := r.writer[kv{rd.k, b}]
			if !ok || w.op == rd.op || r.h[w.op].Outcome != history.OK || r.h[w.op].Complete >= r.h[rd.op].Invoke {
				continue
			}
			r.flag("stale-read", fmt.Sprintf("%s read %s = %s at %s, but op %d had written %d over it, acknowledged at %s, before the read began",
				opName(rd.op), r.keys[rd.k], showVal(rd.v), history.FormatNs(r.h[rd.op].Invoke), w.op, b, history.FormatNs(r.h[w.op].Complete)), rd.op, w.op)
			break
		}
	}
}

func (r *register) readOf(op int, k int32) (int64, bool) {
	for _, rd := range r.reads {
		if rd.op == op && rd.k == k {
			return rd.v, true
		}
	}
	return 0, false
}

func (r *register) finalWrite(op int, k int32) (int64, bool) {
	var v int64
	found := false
	for _, m := range r.h[op].Mops {
		if m.F == history.Write && r.keyID[m.Key] == k {
			v, found = m.Value, true
		}
	}
	return v, found
}

// why explains a data edge from op a to op b on key k.
func (r *register) why(a, b int, rel Rel, k int32) string {
	key := r.keys[k]
	switch rel {
	case WW:
		va, _ := r.finalWrite(a, k)
		vb, _ := r.finalWrite(b, k)
		return fmt.Sprintf("$A wrote %s = %d and $B's %d is known to follow it", key, va, vb)
	case WR:
		v, _ := r.readOf(b, k)
		return fmt.Sprintf("$B read %s = %s, which $A wrote", key, showVal(v))
	case RW:
		v, _ := r.readOf(a, k)
		vb, _ := r.finalWrite(b, k)
		return fmt.Sprintf("$A read %s = %s, and $B wrote %d, which follows it", key, showVal(v), vb)
	}
	return fmt.Sprintf("%s on %s", rel, key)
}
