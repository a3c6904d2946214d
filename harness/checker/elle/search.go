package elle

import (
	"fmt"
	"slices"
	"strings"
)

// rwRule says how a cycle may use anti-dependency (rw) edges.
type rwRule uint8

const (
	noRW          rwRule = iota // G0, G1c: only ww, wr (and process/realtime) edges
	singleRW                    // G-single: exactly one rw edge
	nonadjacentRW               // G-nonadjacent: two or more rw edges, never two in a row
	adjacentRW                  // G2-item: rw edges, at least two of them in a row
)

// spec is one cycle search: which edges a cycle may use and what it must contain. The class
// a found cycle is reported under is decided by classify from the edges it actually uses,
// so a search can only ever report a true cycle under its true name.
type spec struct {
	allowed Rel    // non-rw relations the cycle may use
	rw      rwRule // how it uses rw edges
	anchor  Rel    // noRW only: the relation of the edge the search starts from
	require Rel    // the cycle must use one of these (process or realtime), 0 for none
}

// specs are the searches, weakest anomalies first, then their process and realtime forms.
func specs() []spec {
	var out []spec
	for _, v := range []struct{ extra, require Rel }{{0, 0}, {Process, Process}, {Process | Realtime, Realtime}} {
		g0, g1 := WW, WW|WR
		a0, a1 := Rel(WW), Rel(WR)
		if v.require != 0 {
			a0, a1 = v.require, v.require
		}
		out = append(out,
			spec{allowed: g0 | v.extra, rw: noRW, anchor: a0, require: v.require},
			spec{allowed: g1 | v.extra, rw: noRW, anchor: a1, require: v.require},
			spec{allowed: g1 | v.extra, rw: singleRW, require: v.require},
			spec{allowed: g1 | v.extra, rw: nonadjacentRW, require: v.require},
			spec{allowed: g1 | v.extra, rw: adjacentRW, require: v.require},
		)
	}
	return out
}

// step is one edge of a found cycle and the relation the cycle uses it for.
type step struct {
	edge int32
	rel  Rel
}

// cycle is a witness cycle as found: steps[i] goes from node i to node i+1 (mod len).
type cycle struct {
	class string
	steps []step
}

// classify names a cycle from the relations it uses, after Adya and Elle: only ww is G0;
// ww and wr is G1c; one rw is G-single; several rw, never adjacent, is G-nonadjacent; any
// two adjacent is G2-item. A cycle that needs a realtime edge gets "-realtime", else one that
// needs a process edge gets "-process".
func classify(steps []step) string {
	var all Rel
	rws, adjacent := 0, false
	for i, s := range steps {
		all |= s.rel
		if s.rel == RW {
			rws++
			if steps[(i+1)%len(steps)].rel == RW {
				adjacent = true
			}
		}
	}
	var base string
	switch {
	case rws == 0 && all&WR == 0:
		base = "G0"
	case rws == 0:
		base = "G1c"
	case rws == 1:
		base = "G-single"
	case !adjacent:
		base = "G-nonadjacent"
	default:
		base = "G2-item"
	}
	switch {
	case all&Realtime != 0:
		return base + "-realtime"
	case all&Process != 0:
		return base + "-process"
	}
	return base
}

// searcher runs the cycle searches on one frozen graph under a budget of BFS state visits
// per search.
type searcher struct {
	g         *graph
	budget    int
	maxPerCls int
	found     map[string][]cycle
	count     map[string]int
	seen      map[string]bool // canonical cycles already reported
	cut       []string        // searches stopped by the budget
}

func newSearcher(g *graph, budget, maxPerClass int) *searcher {
	return &searcher{g: g, budget: budget, maxPerCls: maxPerClass,
		found: map[string][]cycle{}, count: map[string]int{}, seen: map[string]bool{}}
}

func (s *searcher) run() {
	// If the whole graph is acyclic there is nothing to find: the common, clean case costs
	// one Tarjan pass.
	if comps, _ := s.g.sccs(dataRels | Process | Realtime); len(comps) == 0 {
		return
	}
	for _, sp := range specs() {
		s.search(sp)
	}
}

// record files a found cycle under its class unless the same cycle was already reported.
func (s *searcher) record(steps []step) {
	key := s.canonical(steps)
	if s.seen[key] {
		return
	}
	s.seen[key] = true
	cls := classify(steps)
	s.count[cls]++
	if len(s.found[cls]) < s.maxPerCls {
		s.found[cls] = append(s.found[cls], cycle{class: cls, steps: steps})
	}
}

// canonical names a cycle by its node sequence rotated to start at the smallest node.
func (s *searcher) canonical(steps []step) string {
	nodes := make([]int32, len(steps))
	for i, st := range steps {
		nodes[i] = s.g.edges[st.edge].from
	}
	m := slices.Index(nodes, slices.Min(nodes))
	var b strings.Builder
	for i := range nodes {
		fmt.Fprintf(&b, "%d,", nodes[(m+i)%len(nodes)])
	}
	return b.String()
}

// search finds at most one cycle of sp per strongly connected component of the graph sp
// may use.
func (s *searcher) search(sp spec) {
	mask := sp.allowed
	if sp.rw != noRW {
		mask |= RW
	}
	comps, comp := s.g.sccs(mask)
	if len(comps) == 0 {
		return
	}
	b := newBFS(s.g, sp, comp)
	for ci, c := range comps {
		// Anchors: edges inside the component the cycle starts with.
		heads := map[int32][]int32{} // head node -> anchor edges into it
		var order []int32
		for _, v := range c {
			for _, ei := range s.g.out[v] {
				e := &s.g.edges[ei]
				if comp[e.to] != int32(ci) {
					continue
				}
				if sp.rw == noRW && e.rels&sp.anchor == 0 || sp.rw != noRW && e.rels&RW == 0 {
					continue
				}
				if len(heads[e.to]) == 0 {
					order = append(order, e.to)
				}
				heads[e.to] = append(heads[e.to], ei)
			}
		}
		b.reset(c)
		for _, v := range order {
			steps, ok := b.from(int32(ci), v, heads[v])
			if ok {
				// A product-state path can pass a node twice (in two states); such a walk
				// is split into the simple cycles it is made of, each classified on its own,
				// so that no class is claimed for a walk that no simple cycle has.
				for _, c := range simpleCycles(s.g, steps) {
					s.record(c)
				}
				break
			}
			if b.spent > s.budget {
				s.cut = append(s.cut, specName(sp))
				return
			}
		}
	}
}

func specName(sp spec) string {
	n := map[rwRule]string{noRW: "G0/G1c", singleRW: "G-single", nonadjacentRW: "G-nonadjacent", adjacentRW: "G2-item"}[sp.rw]
	switch sp.require {
	case Process:
		n += "-process"
	case Realtime:
		n += "-realtime"
	}
	return n
}

// simpleCycles splits a closed walk into simple cycles: each time the walk returns to a node
// it is on, the loop since then is cut out.
func simpleCycles(g *graph, steps []step) [][]step {
	var out [][]step
	var stack []step
	pos := map[int32]int{} // node -> index in stack of the step leaving it
	for _, st := range steps {
		from := g.edges[st.edge].from
		if p, ok := pos[from]; ok {
			loop := slices.Clone(stack[p:])
			for _, l := range loop {
				delete(pos, g.edges[l.edge].from)
			}
			stack = stack[:p]
			out = append(out, loop)
		}
		pos[from] = len(stack)
		stack = append(stack, st)
	}
	if len(stack) > 0 {
		out = append(out, stack)
	}
	return out
}

// bfs searches paths over product states (node, flags) where the flags track what the path
// has used so far, so "a cycle with exactly one rw edge that uses a realtime edge" is a plain
// reachability question. States are numbered within the component being searched; the
// arrays are kept across searches and cleared with a stamp.
type bfs struct {
	g     *graph
	sp    spec
	comp  []int32
	local []int32 // node -> index within the current component
	nodes []int32 // index within the component -> node
	stamp []uint32
	gen   uint32
	par   []int32 // parent state
	pedge []int32 // edge into this state
	prel  []Rel   // relation used on that edge
	queue []int32
	spent int
}

// flags of a product state.
const (
	fLastRW = 1 << iota // the last edge taken was rw
	fRWSeen             // the path (after the anchor) used an rw edge
	fAdj                // the path used two rw edges in a row
	fReq                // the path used a required edge
	nFlags  = 16
)

func newBFS(g *graph, sp spec, comp []int32) *bfs {
	return &bfs{g: g, sp: sp, comp: comp, local: make([]int32, len(g.op))}
}

// reset prepares the search of component c.
func (b *bfs) reset(c []int32) {
	b.nodes = c
	for i, v := range c {
		b.local[v] = int32(i)
	}
	if n := len(c) * nFlags; n > len(b.stamp) {
		b.stamp, b.par = make([]uint32, n), make([]int32, n)
		b.pedge, b.prel = make([]int32, n), make([]Rel, n)
		b.gen = 0
	}
}

// from searches from head v (the end of the anchor edges anchors) for a path back to the
// tail of one of them that closes a cycle of the spec, within component ci.
func (b *bfs) from(ci int32, v int32, anchors []int32) ([]step, bool) {
	sp := b.sp
	b.gen++
	tails := map[int32]int32{} // tail node -> anchor edge
	for _, ei := range anchors {
		tails[b.g.edges[ei].from] = ei
	}
	start := 0
	if sp.rw != noRW {
		start = fLastRW // the anchor itself is an rw edge
	} else if sp.require != 0 {
		start = fReq // the anchor is the required edge
	}
	s0 := b.local[v]*nFlags + int32(start)
	b.visit(s0, -1, -1, 0)
	b.queue = append(b.queue[:0], s0)
	for qi := 0; qi < len(b.queue); qi++ {
		st := b.queue[qi]
		x, f := b.nodes[st/nFlags], int(st%nFlags)
		if ei, ok := tails[x]; ok && b.accepts(f) {
			return b.path(st, ei), true
		}
		b.spent++
		for _, ei := range b.g.out[x] {
			e := &b.g.edges[ei]
			if b.comp[e.to] != ci {
				continue
			}
			// Use the edge as a non-rw dependency...
			if r := e.rels & sp.allowed; r != 0 {
				nf := f &^ fLastRW
				rel := pickRel(r, sp.require, f&fReq == 0)
				if rel&sp.require != 0 {
					nf |= fReq
				}
				b.push(e.to, nf, st, ei, rel)
			}
			// ...or as an anti-dependency, if the rule lets the path take one here.
			if e.rels&RW != 0 {
				switch sp.rw {
				case nonadjacentRW:
					if f&fLastRW == 0 {
						b.push(e.to, f|fLastRW|fRWSeen, st, ei, RW)
					}
				case adjacentRW:
					nf := f | fLastRW | fRWSeen
					if f&fLastRW != 0 {
						nf |= fAdj
					}
					b.push(e.to, nf, st, ei, RW)
				}
			}
		}
	}
	return nil, false
}

// accepts reports whether a path in state f that reaches an anchor's tail closes a cycle of
// the spec (the anchor edge closes it).
func (b *bfs) accepts(f int) bool {
	sp := b.sp
	if sp.require != 0 && f&fReq == 0 {
		return false
	}
	switch sp.rw {
	case singleRW:
		return f&fLastRW == 0 // no rw after the anchor (none can be taken), and not the anchor alone
	case nonadjacentRW:
		return f&fRWSeen != 0 && f&fLastRW == 0
	case adjacentRW:
		return f&fAdj != 0 || f&fLastRW != 0 // the last edge and the anchor are adjacent rw edges
	}
	return true
}

func (b *bfs) visit(st, par, edge int32, rel Rel) {
	b.stamp[st] = b.gen
	b.par[st], b.pedge[st], b.prel[st] = par, edge, rel
}

func (b *bfs) push(node int32, f int, par, edge int32, rel Rel) {
	st := b.local[node]*nFlags + int32(f)
	if b.stamp[st] == b.gen {
		return
	}
	b.visit(st, par, edge, rel)
	b.queue = append(b.queue, st)
}

// path rebuilds the cycle: the anchor edge, then the path from its head to state st.
func (b *bfs) path(st int32, anchor int32) []step {
	var rev []step
	for cur := st; b.pedge[cur] >= 0; cur = b.par[cur] {
		rev = append(rev, step{edge: b.pedge[cur], rel: b.prel[cur]})
	}
	ar := RW
	if b.sp.rw == noRW {
		ar = pickRel(b.g.edges[anchor].rels&b.sp.anchor, b.sp.anchor, true)
	}
	steps := []step{{edge: anchor, rel: ar}}
	for i := len(rev) - 1; i >= 0; i-- {
		steps = append(steps, rev[i])
	}
	return steps
}

// pickRel chooses which of an edge's relations a witness shows: a required one when the path
// still needs it, else the most informative data relation.
func pickRel(r, require Rel, need bool) Rel {
	if need && r&require != 0 {
		r &= require
	}
	for _, x := range []Rel{WW, WR, Process, Realtime} {
		if r&x != 0 {
			return x
		}
	}
	return r
}
