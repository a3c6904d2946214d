package elle

import (
	"fmt"
	"slices"

	"github.com/replbench/replbench/harness/checker"
	"github.com/replbench/replbench/harness/history"
)

// CheckListAppend checks a list-append history: transactions of `append k v` and `r k`
// micro-operations, where every value is appended to a key at most once. It returns an
// error, and no verdict, for a history that is not of that form.
func CheckListAppend(h []history.Op, opts Options) (checker.Verdict, error) {
	la, err := newListAppend(h, opts)
	if err != nil {
		return checker.Verdict{Checker: checker.ListAppendName}, err
	}
	la.infer()
	return la.verdict(), nil
}

// writeRef is where an appended value came from.
type writeRef struct {
	op    int  // history index
	final bool // the op's last append to this key
}

type kv struct {
	k int32
	v int64
}

// extRead is a transaction's external read of a key: its first read of the key, made
// before it appended to it, so what it saw came from other transactions.
type extRead struct {
	op   int
	k    int32
	list []int64
}

type listAppend struct {
	*analysis
	writer map[kv]writeRef
	order  [][]int64 // key -> inferred version order: the longest list read
	reads  []extRead
	// compatible[i] is false when reads[i] is not a prefix of its key's order.
	compatible []bool
}

func newListAppend(h []history.Op, opts Options) (*listAppend, error) {
	la := &listAppend{analysis: newAnalysis(checker.ListAppendName, h, opts), writer: map[kv]writeRef{}}
	la.explain = la.why
	for i := range h {
		o := &h[i]
		last := map[int32]int{} // key -> mop index of the last append
		for j, m := range o.Mops {
			switch m.F {
			case history.Append:
				last[la.key(m.Key)] = j
			case history.Read:
				if o.Outcome == history.OK && m.Result != history.ListResult {
					return nil, fmt.Errorf("elle: op %d reads %s but its result is not a list; list-append reads return lists", i, m.Key)
				}
				la.key(m.Key)
			default:
				return nil, fmt.Errorf("elle: op %d has %s, which list-append does not use (accepted: append, r)", i, m.F)
			}
		}
		for j, m := range o.Mops {
			if m.F != history.Append {
				continue
			}
			id := kv{la.key(m.Key), m.Value}
			if prev, dup := la.writer[id]; dup {
				return nil, fmt.Errorf("elle: value %d appended to %s by op %d and again by op %d; list-append needs unique values per key", m.Value, m.Key, prev.op, i)
			}
			la.writer[id] = writeRef{op: i, final: last[id.k] == j}
		}
	}
	la.order = make([][]int64, len(la.keys))
	return la, nil
}

// inGraph reports whether op i may have taken effect and wrote something others could see:
// ok operations, and info operations with appends.
func (la *listAppend) inGraph(i int) bool {
	o := &la.h[i]
	if o.Outcome == history.OK {
		return true
	}
	if o.Outcome == history.Info {
		for _, m := range o.Mops {
			if m.F == history.Append {
				return true
			}
		}
	}
	return false
}

func (la *listAppend) infer() {
	h := la.h
	ok := 0
	for i := range h {
		if la.inGraph(i) {
			la.g.add(i)
		}
		if h[i].Outcome != history.OK {
			continue
		}
		ok++
		la.checkInternal(i)
		appended := map[int32]bool{}
		seen := map[int32]bool{}
		for _, m := range h[i].Mops {
			k := la.keyID[m.Key]
			if m.F == history.Append {
				appended[k] = true
				continue
			}
			if dup := duplicate(m.List); dup != nil {
				la.flag("duplicate-elements", fmt.Sprintf("%s read %s with %d twice", opName(i), m.Key, *dup), i)
				continue
			}
			if len(m.List) > len(la.order[k]) {
				la.order[k] = m.List
			}
			if !seen[k] && !appended[k] {
				la.reads = append(la.reads, extRead{op: i, k: k, list: m.List})
			}
			seen[k] = true
		}
	}
	la.checked["ok"] = ok
	la.checkReads()
	la.edges()
	la.lostUpdates()
	if !la.opts.NoRealtime {
		la.staleReads()
	}
}

func opName(i int) string { return fmt.Sprintf("op %d", i) }

func duplicate(l []int64) *int64 {
	if len(l) < 2 {
		return nil
	}
	seen := make(map[int64]bool, len(l))
	for i := range l {
		if seen[l[i]] {
			return &l[i]
		}
		seen[l[i]] = true
	}
	return nil
}

// checkInternal checks that a committed transaction sees its own appends and its own earlier
// reads: a read after a read of the same key shows that read plus the appends between them,
// and a first read after appends ends with those appends.
func (la *listAppend) checkInternal(i int) {
	type state struct {
		read  []int64
		known bool
		since []int64
	}
	st := map[string]*state{}
	for _, m := range la.h[i].Mops {
		s := st[m.Key]
		if s == nil {
			s = &state{}
			st[m.Key] = s
		}
		if m.F == history.Append {
			s.since = append(s.since, m.Value)
			continue
		}
		var bad bool
		var want string
		n := len(s.since)
		ownLast := len(m.List) >= n && slices.Equal(m.List[len(m.List)-n:], s.since)
		form := checker.InternalOwnWriteMissing
		if s.known {
			exp := append(slices.Clone(s.read), s.since...)
			bad, want = !slices.Equal(m.List, exp), history.FormatList(exp)
			switch {
			case n > 0 && ownLast && len(m.List) > len(exp) && slices.Equal(m.List[:len(s.read)], s.read):
				form = checker.InternalNewerVersion
				want += fmt.Sprintf(" (it shows %d elements other transactions appended after its earlier read, then its own: its write went onto a newer version)", len(m.List)-len(exp))
			case ownLast:
				form = checker.InternalOther
			}
		} else if n > 0 {
			bad = !ownLast
			want = "a list ending in " + history.FormatList(s.since)
		}
		if bad {
			la.flagForm("internal", form, fmt.Sprintf("%s read %s = %s within its own transaction, expected %s", opName(i), m.Key, history.FormatList(m.List), want), i)
		}
		s.read, s.known, s.since = m.List, true, nil
	}
}

// checkReads reports reads of values nobody appended (garbage), of values appended by failed
// transactions (G1a), of values their writer appended to again later in the same transaction
// (G1b), and reads that are not a prefix of their key's order (incompatible-order).
func (la *listAppend) checkReads() {
	la.compatible = make([]bool, len(la.reads))
	reported := map[int32]bool{}
	for ri, r := range la.reads {
		ord := la.order[r.k]
		la.compatible[ri] = len(r.list) <= len(ord) && slices.Equal(ord[:len(r.list)], r.list)
		key := la.keys[r.k]
		if !la.compatible[ri] && !reported[r.k] {
			reported[r.k] = true
			longest := la.longestReader(r.k)
			la.flag("incompatible-order", fmt.Sprintf("%s read %s = %s, which is not a prefix of %s read by op %d: the two reads saw different histories of %s",
				opName(r.op), key, history.FormatList(r.list), history.FormatList(ord), longest, key), r.op, longest)
		}
		for _, v := range r.list {
			w, ok := la.writer[kv{r.k, v}]
			switch {
			case !ok:
				la.flag("garbage-read", fmt.Sprintf("%s read %d in %s, which no operation appended", opName(r.op), v, key), r.op)
			case la.h[w.op].Outcome == history.Fail:
				la.flag("G1a", fmt.Sprintf("%s read %d in %s, appended by op %d, which failed (aborted read)", opName(r.op), v, key, w.op), r.op, w.op)
			}
		}
		if n := len(r.list); n > 0 && la.intermediate(r) {
			if w := la.writer[kv{r.k, r.list[n-1]}]; la.h[w.op].Outcome != history.Fail {
				la.flag("G1b", fmt.Sprintf("%s read %s = %s, ending in %d, which op %d appended and then appended to again (intermediate read)",
					opName(r.op), key, history.FormatList(r.list), r.list[n-1], w.op), r.op, w.op)
			}
		}
	}
}

func (la *listAppend) longestReader(k int32) int {
	ord := la.order[k]
	for _, r := range la.reads {
		if r.k == k && len(r.list) == len(ord) && slices.Equal(r.list, ord) {
			return r.op
		}
	}
	for i := range la.h { // the longest read may be an internal one
		for _, m := range la.h[i].Mops {
			if m.F == history.Read && la.keyID[m.Key] == k && len(m.List) == len(ord) && slices.Equal(m.List, ord) {
				return i
			}
		}
	}
	return -1
}

// intermediate reports whether r ends in a value its writer appended to again (G1b): such a
// read saw a state that is no version of Adya's graph, so no edges come from it.
func (la *listAppend) intermediate(r extRead) bool {
	n := len(r.list)
	if n == 0 {
		return false
	}
	w, ok := la.writer[kv{r.k, r.list[n-1]}]
	return ok && !w.final && w.op != r.op
}

// node returns op i's graph node, or -1 for an operation that cannot have taken effect.
func (la *listAppend) node(i int) int32 {
	if n, ok := la.g.node[i]; ok {
		return n
	}
	return -1
}

func (la *listAppend) writerNode(k int32, v int64) int32 {
	w, ok := la.writer[kv{k, v}]
	if !ok {
		return -1
	}
	return la.node(w.op)
}

// edges derives ww edges from consecutive elements of each key's order, and wr and rw
// edges from every compatible external read: the writer of the last element read precedes
// the reader (wr), and the reader precedes the writer of the next element (rw).
func (la *listAppend) edges() {
	for k, ord := range la.order {
		for i := 0; i+1 < len(ord); i++ {
			a, b := la.writerNode(int32(k), ord[i]), la.writerNode(int32(k), ord[i+1])
			if a >= 0 && b >= 0 {
				la.g.link(a, b, WW, int32(k))
			}
		}
	}
	for ri, r := range la.reads {
		if !la.compatible[ri] || la.intermediate(r) {
			continue
		}
		t := la.node(r.op)
		ord := la.order[r.k]
		if n := len(r.list); n > 0 {
			if w := la.writerNode(r.k, r.list[n-1]); w >= 0 {
				la.g.link(w, t, WR, r.k)
			}
		}
		if n := len(r.list); n < len(ord) {
			if w := la.writerNode(r.k, ord[n]); w >= 0 {
				la.g.link(t, w, RW, r.k)
			}
		}
	}
}

// lostUpdates reports P4: two or more committed transactions that read the same version of
// a key (the same list) and then appended to it. In any serial order the second would have
// seen the first's append.
func (la *listAppend) lostUpdates() {
	type ver struct {
		k    int32
		last int64
		n    int
	}
	groups := map[ver][]int{}
	var order []ver
	for _, r := range la.reads {
		if !la.appendsTo(r.op, la.keys[r.k]) {
			continue
		}
		v := ver{k: r.k, n: len(r.list)}
		if v.n > 0 {
			v.last = r.list[v.n-1]
		}
		if len(groups[v]) == 0 {
			order = append(order, v)
		}
		groups[v] = append(groups[v], r.op)
	}
	for _, v := range order {
		if ops := groups[v]; len(ops) > 1 {
			seen := "[]"
			if v.n > 0 {
				seen = fmt.Sprintf("a list of %d ending in %d", v.n, v.last)
			}
			la.flag("lost-update", fmt.Sprintf("%d committed transactions read %s = %s and then appended to it; each should have seen the other's append",
				len(ops), la.keys[v.k], seen), ops...)
		}
	}
}

func (la *listAppend) appendsTo(i int, key string) bool {
	for _, m := range la.h[i].Mops {
		if m.F == history.Append && m.Key == key {
			return true
		}
	}
	return false
}

// staleReads reports external reads that missed an append acknowledged before the read was
// invoked: for each position of a key's order the earliest acknowledgement of any later
// element is kept, and a read of length n is stale if that time at n is before its start.
func (la *listAppend) staleReads() {
	type first struct {
		t  int64
		op int
	}
	suffix := make([][]first, len(la.order))
	for k, ord := range la.order {
		s := make([]first, len(ord)+1)
		s[len(ord)] = first{t: 1<<63 - 1, op: -1}
		for i := len(ord) - 1; i >= 0; i-- {
			s[i] = s[i+1]
			if w, ok := la.writer[kv{int32(k), ord[i]}]; ok && la.h[w.op].Outcome == history.OK && la.h[w.op].Complete < s[i].t {
				s[i] = first{t: la.h[w.op].Complete, op: w.op}
			}
		}
		suffix[k] = s
	}
	for ri, r := range la.reads {
		if !la.compatible[ri] {
			continue
		}
		f := suffix[r.k][len(r.list)]
		if f.op >= 0 && f.t < la.h[r.op].Invoke {
			la.flag("stale-read", fmt.Sprintf("%s read %s = %s at %s, but op %d's append to %s was acknowledged at %s, before the read began",
				opName(r.op), la.keys[r.k], history.FormatList(r.list), history.FormatNs(la.h[r.op].Invoke), f.op, la.keys[r.k], history.FormatNs(f.t)), r.op, f.op)
		}
	}
}

// why explains a data edge from op a to op b on key k, with $A and $B for their labels.
func (la *listAppend) why(a, b int, r Rel, k int32) string {
	key, ord := la.keys[k], la.order[k]
	switch r {
	case WW:
		for i := 0; i+1 < len(ord); i++ {
			wa, wb := la.writer[kv{k, ord[i]}], la.writer[kv{k, ord[i+1]}]
			if wa.op == a && wb.op == b {
				return fmt.Sprintf("$A appended %d to %s and $B appended %d right after it", ord[i], key, ord[i+1])
			}
		}
	case WR:
		if l := la.readOf(b, k); len(l) > 0 {
			return fmt.Sprintf("$B read %s = %s, whose last element %d $A appended", key, history.FormatList(l), l[len(l)-1])
		}
	case RW:
		if l := la.readOf(a, k); l != nil && len(l) < len(ord) {
			return fmt.Sprintf("$A read %s = %s, and $B appended %d, the next element", key, history.FormatList(l), ord[len(l)])
		}
	}
	return fmt.Sprintf("%s on %s", r, key)
}

func (la *listAppend) readOf(op int, k int32) []int64 {
	for _, r := range la.reads {
		if r.op == op && r.k == k {
			return r.list
		}
	}
	return nil
}
