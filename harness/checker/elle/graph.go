package elle

import (
	"slices"

	"github.com/replbench/replbench/harness/history"
)

// Rel is a set of dependency relations between two transactions, after Adya: T1 -ww-> T2
// when T2 overwrites (appends after) a version T1 installed, T1 -wr-> T2 when T2 reads a
// version T1 installed, T1 -rw-> T2 when T2 installs the version that follows the one T1
// read (an anti-dependency). Process and Realtime are Elle's additions: T1 -process-> T2
// when the same client ran T2 after T1, T1 -realtime-> T2 when T1 completed before T2 was
// invoked. A cycle that needs a process or realtime edge violates only the session or
// strict variant of a model.
type Rel uint8

const (
	WW Rel = 1 << iota
	WR
	RW
	Process
	Realtime

	dataRels = WW | WR | RW
)

func (r Rel) String() string {
	switch r {
	case WW:
		return "ww"
	case WR:
		return "wr"
	case RW:
		return "rw"
	case Process:
		return "process"
	case Realtime:
		return "realtime"
	}
	s := ""
	for _, x := range []Rel{WW, WR, RW, Process, Realtime} {
		if r&x != 0 {
			if s != "" {
				s += "+"
			}
			s += x.String()
		}
	}
	return s
}

// edge is one directed edge between graph nodes with every relation that holds on it and,
// for the data relations, one key that makes it hold (for the witness's text).
type edge struct {
	from, to int32
	rels     Rel
	keys     [3]int32 // key id for ww, wr, rw; -1 when that relation is absent
}

func (e *edge) key(r Rel) int32 {
	switch r {
	case WW:
		return e.keys[0]
	case WR:
		return e.keys[1]
	case RW:
		return e.keys[2]
	}
	return -1
}

// graph is the transaction dependency graph: nodes are operations that may have taken
// effect (ok ones, and info ones whose writes someone may have seen), numbered densely;
// op maps a node to its history index.
type graph struct {
	op    []int         // node -> history index
	node  map[int]int32 // history index -> node
	edges []edge        // deduplicated
	index map[uint64]int32
	out   [][]int32 // node -> edge indexes, built by freeze
}

func newGraph() *graph {
	return &graph{node: map[int]int32{}, index: map[uint64]int32{}}
}

// add makes history op i a node (idempotent) and returns its node number.
func (g *graph) add(i int) int32 {
	if n, ok := g.node[i]; ok {
		return n
	}
	n := int32(len(g.op))
	g.op = append(g.op, i)
	g.node[i] = n
	return n
}

// link adds relation r from node a to node b, keyed by key for data relations. Self edges
// are dropped: a transaction depending on itself is an internal matter, checked elsewhere.
func (g *graph) link(a, b int32, r Rel, key int32) {
	if a == b {
		return
	}
	id := uint64(uint32(a))<<32 | uint64(uint32(b))
	i, ok := g.index[id]
	if !ok {
		i = int32(len(g.edges))
		g.edges = append(g.edges, edge{from: a, to: b, keys: [3]int32{-1, -1, -1}})
		g.index[id] = i
	}
	e := &g.edges[i]
	e.rels |= r
	slot := -1
	switch r {
	case WW:
		slot = 0
	case WR:
		slot = 1
	case RW:
		slot = 2
	}
	if slot >= 0 && e.keys[slot] < 0 {
		e.keys[slot] = key
	}
}

// freeze builds the adjacency lists; no edges may be added after.
func (g *graph) freeze() {
	g.out = make([][]int32, len(g.op))
	for i := range g.edges {
		e := &g.edges[i]
		g.out[e.from] = append(g.out[e.from], int32(i))
	}
	g.index = nil
}

// addProcessEdges links each operation of a process to the next operation of that process
// in the graph, from ok operations only: an info operation may still take effect after the
// client moved on, so it orders nothing after it.
func (g *graph) addProcessEdges(h []history.Op) {
	lastOK := map[int]int32{}
	for i := range h { // h is in invocation order
		n, ok := g.node[i]
		if !ok {
			continue
		}
		p := h[i].Process
		if prev, ok := lastOK[p]; ok {
			g.link(prev, n, Process, -1)
		}
		if h[i].Outcome == history.OK {
			lastOK[p] = n
		}
	}
}

// addRealtimeEdges links T1 -> T2 when ok T1 completed strictly before T2 was invoked, keeping
// only the transitive reduction of that order: the completed operations not already covered
// by a later one form a frontier, each invocation gets an edge from every member, and a
// completion replaces the members it has edges from. Edges stay near n × concurrency instead
// of n². Info operations never complete, so they only receive edges.
func (g *graph) addRealtimeEdges(h []history.Op) {
	type event struct {
		t        int64
		complete bool
		n        int32
	}
	var evs []event
	for i, hi := range g.op {
		o := &h[hi]
		evs = append(evs, event{t: o.Invoke, n: int32(i)})
		if o.Outcome == history.OK {
			evs = append(evs, event{t: o.Complete, complete: true, n: int32(i)})
		}
	}
	// At equal times an invocation comes first: intervals are closed, and touching ones are
	// concurrent, as porcupine treats them.
	slices.SortFunc(evs, func(a, b event) int {
		if a.t != b.t {
			if a.t < b.t {
				return -1
			}
			return 1
		}
		if a.complete != b.complete {
			if !a.complete {
				return -1
			}
			return 1
		}
		return int(a.n - b.n)
	})
	var frontier []int32
	preds := make(map[int32][]int32)
	inFrontier := make([]bool, len(g.op))
	for _, ev := range evs {
		if !ev.complete {
			if len(frontier) > 0 {
				preds[ev.n] = slices.Clone(frontier)
				for _, p := range frontier {
					g.link(p, ev.n, Realtime, -1)
				}
			}
			continue
		}
		ps := preds[ev.n]
		delete(preds, ev.n)
		if len(ps) > 0 {
			for _, p := range ps {
				inFrontier[p] = false
			}
			frontier = slices.DeleteFunc(frontier, func(x int32) bool { return !inFrontier[x] })
		}
		frontier = append(frontier, ev.n)
		inFrontier[ev.n] = true
	}
}

// sccs returns the strongly connected components with more than one node of the subgraph
// whose edges carry a relation in mask (Tarjan's algorithm, iterative so that a long chain
// cannot overflow the stack). comp maps each node to its component's index in the result,
// or -1.
func (g *graph) sccs(mask Rel) (comps [][]int32, comp []int32) {
	n := len(g.op)
	index := make([]int32, n)
	low := make([]int32, n)
	onStack := make([]bool, n)
	for i := range index {
		index[i] = -1
	}
	comp = make([]int32, n)
	for i := range comp {
		comp[i] = -1
	}
	var stack []int32
	type frame struct {
		v  int32
		ei int
	}
	var call []frame
	next := int32(0)
	for s := int32(0); s < int32(n); s++ {
		if index[s] >= 0 {
			continue
		}
		call = append(call, frame{v: s})
		index[s], low[s] = next, next
		next++
		stack = append(stack, s)
		onStack[s] = true
		for len(call) > 0 {
			f := &call[len(call)-1]
			v := f.v
			if f.ei < len(g.out[v]) {
				e := &g.edges[g.out[v][f.ei]]
				f.ei++
				if e.rels&mask == 0 {
					continue
				}
				w := e.to
				if index[w] < 0 {
					index[w], low[w] = next, next
					next++
					stack = append(stack, w)
					onStack[w] = true
					call = append(call, frame{v: w})
				} else if onStack[w] && index[w] < low[v] {
					low[v] = index[w]
				}
				continue
			}
			call = call[:len(call)-1]
			if len(call) > 0 {
				if p := call[len(call)-1].v; low[v] < low[p] {
					low[p] = low[v]
				}
			}
			if low[v] == index[v] {
				var c []int32
				for {
					w := stack[len(stack)-1]
					stack = stack[:len(stack)-1]
					onStack[w] = false
					c = append(c, w)
					if w == v {
						break
					}
				}
				if len(c) > 1 {
					for _, w := range c {
						comp[w] = int32(len(comps))
					}
					comps = append(comps, c)
				}
			}
		}
	}
	return comps, comp
}
